#include <filesystem>
#include <fstream>
#include <map>

#include <doctest/doctest.h>

#include "cli/config.h"
#include "core/error.h"
#include "temp_dir.h"

namespace lrb::cli {

namespace {

namespace fs = std::filesystem;

// An environment made of a fixed map.
Environment env_of(std::map<std::string, std::string> vars) {
  return [vars](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

using testing::TempDir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("config files are key = value lines with comments") {
  const auto values = parse_config("# lrb settings\n"
                                   "broker = https://broker.example:7070\n"
                                   "\n"
                                   "  output=wide  \n"
                                   "requester = \" rome\"\n"
                                   "token-file = /run/lrb/token\n",
                                   "cfg");
  CHECK(values.size() == 4);
  CHECK(values.at("broker") == "https://broker.example:7070");
  CHECK(values.at("output") == "wide");
  CHECK(values.at("requester") == " rome"); // quotes keep the blank
  CHECK(values.at("token-file") == "/run/lrb/token");
}

TEST_CASE("config file mistakes name the file, the line and the fix") {
  struct Row {
    const char* text;
    const char* want;
  };
  const Row rows[] = {
      {"broker = x\nbrokr = y\n",
       "config file cfg line 2: unknown key \"brokr\": use one of broker, "
       "output, requester, ca, cert, key, token-file"},
      {"# only a comment\nbroker\n",
       "config file cfg line 2: expected `key = value`"},
      {"output = json\noutput = yaml\n",
       "config file cfg line 2: key \"output\" is set twice"},
      {"token = secret\n",
       "config file cfg line 1: unknown key \"token\": use one of broker, "
       "output, requester, ca, cert, key, token-file"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    CHECK(error_of([&] { parse_config(row.text, "cfg"); }) == row.want);
  }
}

TEST_CASE("the config path: --config, then XDG_CONFIG_HOME, then HOME") {
  CHECK(config_path("/etc/lrb.conf", env_of({{"HOME", "/home/op"}})) ==
        "/etc/lrb.conf");
  CHECK(config_path("", env_of({{"XDG_CONFIG_HOME", "/xdg"},
                                {"HOME", "/home/op"}})) == "/xdg/lrb/config");
  CHECK(config_path("", env_of({{"HOME", "/home/op"}})) ==
        "/home/op/.config/lrb/config");
  CHECK(config_path("", env_of({})).empty());
}

TEST_CASE("a missing default config is fine; a missing --config is not") {
  TempDir dir;
  const std::string missing = (dir.path() / "nope").string();
  CHECK(load_config(missing, false).empty());
  CHECK(error_of([&] { load_config(missing, true); }) ==
        "--config: cannot read config file \"" + missing +
            "\": check the path");
}

TEST_CASE("settings come from flags, then environment, then file") {
  TempDir dir;
  const std::string file =
      dir.write("lrb/config", "broker = http://file:1\noutput = yaml\n"
                              "requester = file-cluster\nca = certs/ca.pem\n");
  const auto env_all = env_of({{"XDG_CONFIG_HOME", dir.path().string()},
                               {"LRB_BROKER", "http://env:2"},
                               {"LRB_CLUSTER", "env-cluster"},
                               {"LRB_CA", "/env/ca.pem"}});
  const auto env_file_only = env_of({{"XDG_CONFIG_HOME", dir.path().string()}});

  SUBCASE("a flag wins over the environment and the file") {
    Globals g;
    g.broker = "http://flag:3";
    g.output = "json";
    g.ca = "/flag/ca.pem";
    resolve_globals(g, env_all);
    CHECK(g.broker == "http://flag:3");
    CHECK(g.broker_source == "--broker");
    CHECK(g.output == "json");
    CHECK(g.ca == "/flag/ca.pem");
  }
  SUBCASE("the environment wins over the file") {
    Globals g;
    resolve_globals(g, env_all);
    CHECK(g.broker == "http://env:2");
    CHECK(g.broker_source == "LRB_BROKER");
    CHECK(g.requester == "env-cluster");
    CHECK(g.ca == "/env/ca.pem");
    CHECK(g.output == "yaml"); // no environment variable for -o
  }
  SUBCASE("the file fills what nothing else set; its paths are its own") {
    Globals g;
    resolve_globals(g, env_file_only);
    CHECK(g.broker == "http://file:1");
    CHECK(g.broker_source == "broker (" + file + ")");
    CHECK(g.requester == "file-cluster");
    CHECK(g.ca == (dir.path() / "lrb" / "certs/ca.pem").string());
  }
  SUBCASE("with nothing set, the defaults apply") {
    Globals g;
    resolve_globals(g, env_of({}));
    CHECK(g.broker == "http://127.0.0.1:7070");
    CHECK(g.broker_source == "the default");
    CHECK(g.output == "table");
    CHECK(g.requester.empty());
  }
}

TEST_CASE("bad settings are refused naming where they came from") {
  TempDir dir;
  dir.write("lrb/config", "output = xml\n");
  Globals g;
  CHECK(
      error_of([&] {
        resolve_globals(g, env_of({{"XDG_CONFIG_HOME", dir.path().string()}}));
      }) == "output (" + (dir.path() / "lrb/config").string() +
                "): unknown output format \"xml\": use table, wide, json, "
                "yaml or name");
  Globals h;
  CHECK(error_of([&] {
          resolve_globals(h, env_of({{"LRB_BROKER", "127.0.0.1:7070"}}));
        }) == "LRB_BROKER: broker URL \"127.0.0.1:7070\" must start with "
              "http:// or https://, such as http://127.0.0.1:7070");
}

TEST_CASE("the token: given directly, else read from its file") {
  TempDir dir;
  const std::string file = dir.write("token", "  s3cret-token \nignored\n");
  CHECK(read_token("direct", file, "--token-file") == "direct");
  CHECK(read_token("", file, "--token-file") == "s3cret-token");
  CHECK(read_token("", "", "--token-file").empty());
  const std::string empty = dir.write("empty", "\n");
  CHECK(error_of([&] {
          read_token("", empty, "LRB_TOKEN_FILE");
        }).rfind("LRB_TOKEN_FILE: cannot read a token from", 0) == 0);

  SUBCASE("LRB_TOKEN_FILE is read when no flag names a token") {
    Globals g;
    resolve_globals(g, env_of({{"LRB_TOKEN_FILE", file}}));
    CHECK(g.token == "s3cret-token");
  }
  SUBCASE("--token beats LRB_TOKEN") {
    Globals g;
    g.token = "from-flag";
    resolve_globals(g, env_of({{"LRB_TOKEN", "from-env"}}));
    CHECK(g.token == "from-flag");
  }
}

TEST_CASE("NO_COLOR and --no-color turn colour off") {
  Globals g;
  resolve_globals(g, env_of({{"NO_COLOR", "1"}}));
  CHECK(g.no_color);
  CHECK_FALSE(g.color);
  CHECK_FALSE(g.color_stderr);
  Globals h;
  resolve_globals(h, env_of({{"NO_COLOR", ""}})); // empty does not count
  CHECK_FALSE(h.no_color);
}

} // namespace lrb::cli
