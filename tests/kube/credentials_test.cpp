// Tests of credential refresh: exec plugins (small shell scripts written
// per test, both API versions), their expiry cache on a manual clock,
// re-runs after a rejection, and token files that rotate or briefly
// disappear.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "kube/credentials.h"
#include "kube/test_support.h"

namespace lrb::kube {

using core::Code;
using core::Error;
using core::ManualClock;
using testing::TempDir;

namespace {

constexpr const char* k_v1 = "client.authentication.k8s.io/v1";
constexpr const char* k_v1beta1 = "client.authentication.k8s.io/v1beta1";

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes an executable plugin that counts its runs in `runs`, records its
// arguments and KUBERNETES_EXEC_INFO, and prints an ExecCredential whose
// token is "tok-<run>-<$FOO>" and whose expiry is the content of the
// file `expiry` (none when the file is empty or absent).
std::string write_token_plugin(const TempDir& dir, const std::string& api) {
  std::string script = R"(#!/bin/sh
d=$(dirname "$0")
n=$(( $(cat "$d/runs" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$d/runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$d/exec-info"
printf '%s\n' "$@" > "$d/args"
exp=$(cat "$d/expiry" 2>/dev/null)
if [ -n "$exp" ]; then exp=",\"expirationTimestamp\":\"$exp\""; fi
printf '{"apiVersion":"API","kind":"ExecCredential",'
printf '"status":{"token":"tok-%s-%s"%s}}\n' "$n" "$FOO" "$exp"
)";
  script.replace(script.find("API"), 3, api);
  std::string path = dir.write("plugin.sh", script);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

// Writes an executable script with the given body.
std::string write_script(const TempDir& dir, const std::string& name,
                         const std::string& body) {
  std::string path = dir.write(name, "#!/bin/sh\n" + body);
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

ClusterConfig exec_config(const std::string& command, const std::string& api) {
  ClusterConfig config;
  config.server = "https://127.0.0.1:6443";
  config.exec = ExecConfig{};
  config.exec->api_version = api;
  config.exec->command = command;
  config.exec->interactive_mode = "Never";
  config.exec->origin = "kubeconfig \"test\" users[u].user.exec";
  return config;
}

int runs_of(const TempDir& dir) {
  std::string text = slurp(dir.path() / "runs");
  return text.empty() ? 0 : std::stoi(text);
}

} // namespace

TEST_CASE("a v1 plugin gets its args, env and cluster info") {
  TempDir dir;
  ClusterConfig config = exec_config(write_token_plugin(dir, k_v1), k_v1);
  config.exec->args = {"get-token", "--cluster", "rome"};
  config.exec->env = {{"FOO", "bar"}};
  config.exec->provide_cluster_info = true;
  config.tls.ca_pem = "lrb"; // base64 "bHJi"
  config.tls.server_name = "kube.rome";

  ExecResult result =
      run_exec_plugin(*config.exec, config, std::chrono::seconds(10));
  CHECK(result.credential.token == "tok-1-bar");
  CHECK_FALSE(result.expires);
  CHECK(slurp(dir.path() / "args") == "get-token\n--cluster\nrome\n");

  auto info = nlohmann::json::parse(slurp(dir.path() / "exec-info"));
  CHECK(info["apiVersion"] == k_v1);
  CHECK(info["kind"] == "ExecCredential");
  CHECK(info["spec"]["interactive"] == false);
  CHECK(info["spec"]["cluster"]["server"] == "https://127.0.0.1:6443");
  CHECK(info["spec"]["cluster"]["certificate-authority-data"] == "bHJi");
  CHECK(info["spec"]["cluster"]["tls-server-name"] == "kube.rome");
}

TEST_CASE("a v1beta1 plugin from a kubeconfig with null args and env") {
  TempDir dir;
  write_token_plugin(dir, k_v1beta1);
  std::string kubeconfig = dir.write(
      "config", "current-context: c\n"
                "clusters:\n- name: k\n  cluster:\n"
                "    server: https://127.0.0.1:6443\n"
                "contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
                "users:\n- name: u\n  user:\n    exec:\n"
                "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                "      command: ./plugin.sh\n"
                "      args: null\n      env: null\n");
  KubeconfigFiles files;
  files.paths = {kubeconfig};
  Credentials credentials(load_kubeconfig(files));
  CHECK(credentials.current().token == "tok-1-");
  CHECK(slurp(dir.path() / "args") == "\n"); // no arguments at all
  auto info = nlohmann::json::parse(slurp(dir.path() / "exec-info"));
  CHECK(info["apiVersion"] == k_v1beta1);
  CHECK_FALSE(info["spec"].contains("cluster")); // not asked for
}

TEST_CASE("a plugin's token is cached until its expirationTimestamp") {
  TempDir dir;
  ManualClock clock;
  ClusterConfig config = exec_config(write_token_plugin(dir, k_v1), k_v1);
  // Valid for one minute from the clock's start.
  dir.write("expiry", core::format_rfc3339(clock.wall_ms() + 60'000));
  Credentials credentials(config, clock);

  CHECK(credentials.current().token == "tok-1-");
  CHECK(credentials.current().token == "tok-1-"); // cached: still 1 run
  clock.advance(59'999);
  CHECK(credentials.current().token == "tok-1-"); // 1 ms before expiry
  dir.write("expiry", core::format_rfc3339(clock.wall_ms() + 1 + 60'000));
  clock.advance(1);
  CHECK(credentials.current().token == "tok-2-"); // at expiry: re-run
  CHECK(credentials.exec_runs() == 2);
  CHECK(runs_of(dir) == 2);
}

TEST_CASE("a rejected plugin token is replaced by a re-run") {
  TempDir dir;
  ClusterConfig config = exec_config(write_token_plugin(dir, k_v1), k_v1);
  Credentials credentials(config);
  Credential first = credentials.current();
  CHECK(first.token == "tok-1-");

  CHECK(credentials.reject(first));
  CHECK(credentials.current().token == "tok-2-");
  // A second rejection of the old credential finds it already replaced.
  CHECK(credentials.reject(first));
  CHECK(runs_of(dir) == 2);
}

TEST_CASE("a plugin may answer with a client certificate") {
  TempDir dir;
  std::string plugin = write_script(
      dir, "cert.sh",
      "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
      "\"kind\":\"ExecCredential\",\"status\":{\"clientCertificateData\":"
      "\"CERT\",\"clientKeyData\":\"KEY\"}}'\n");
  Credentials credentials(exec_config(plugin, k_v1));
  Credential credential = credentials.current();
  CHECK(credential.token.empty());
  CHECK(credential.cert_pem == "CERT");
  CHECK(credential.key_pem == "KEY");
}

TEST_CASE("plugin failures are unauthenticated and say why") {
  TempDir dir;
  struct Row {
    const char* name;
    std::string body; // script body; "" means a command that is absent
    std::string interactive;
    const char* words;
  };
  const Row rows[] = {
      {"exit status and stderr", "echo 'please run: login' >&2\nexit 3\n",
       "Never", "exited with status 3: please run: login; see https://docs"},
      {"garbage on stdout", "echo hello\n", "Never", "not a JSON object"},
      {"absent command", "", "Never", "cannot start"},
      {"needs a terminal", "exit 0\n", "Always", "interactive terminal"},
      {"too slow", "exec sleep 10\n", "Never", "did not finish within 300 ms"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    std::string command = row.body.empty()
                              ? (dir.path() / "absent").string()
                              : write_script(dir, "fail.sh", row.body);
    ClusterConfig config = exec_config(command, k_v1);
    config.exec->interactive_mode = row.interactive;
    config.exec->install_hint = "see https://docs\n";
    Credentials::Options options;
    options.exec_timeout = std::chrono::milliseconds(300);
    Credentials credentials(config, core::system_clock(), options);
    try {
      credentials.current();
      FAIL("accepted");
    } catch (const Error& e) {
      std::string message = e.what();
      CHECK(e.code() == Code::unauthenticated);
      CHECK(message.find("users[u].user.exec") != std::string::npos);
      CHECK(message.find(row.words) != std::string::npos);
    }
  }
}

TEST_CASE("decode_exec_credential checks the answer's shape") {
  struct Row {
    const char* text;
    const char* words; // "" when valid
  };
  const Row rows[] = {
      {R"({"apiVersion":"client.authentication.k8s.io/v1",
           "kind":"ExecCredential","status":{"token":"t"}})",
       ""},
      {R"([1])", "not a JSON object"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1",
           "kind":"Secret","status":{"token":"t"}})",
       "kind \"Secret\""},
      {R"({"apiVersion":"client.authentication.k8s.io/v1beta1",
           "kind":"ExecCredential","status":{"token":"t"}})",
       "asks for \"client.authentication.k8s.io/v1\""},
      {R"({"apiVersion":"client.authentication.k8s.io/v1",
           "kind":"ExecCredential"})",
       "has no status"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1",
           "kind":"ExecCredential","status":{}})",
       "neither status.token"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1",
           "kind":"ExecCredential","status":{"clientKeyData":"k"}})",
       "both clientCertificateData"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1",
           "kind":"ExecCredential","status":{"token":7}})",
       "status.token is not a string"},
      {R"({"apiVersion":"client.authentication.k8s.io/v1",
           "kind":"ExecCredential",
           "status":{"token":"t","expirationTimestamp":"tomorrow"}})",
       "not RFC 3339"},
      // Found by fuzz/kubeconfig_fuzz.cpp (the input, re-wrapped, of
      // fuzz/corpus/kubeconfig/exec-kind-object after its selector
      // byte): a kind that is not a string escaped as nlohmann's
      // type_error instead of lrb's Error.
      {R"({"apiVersion":"client.authentication.k6s.io/v1","kind":{"token":
           "t","ken":"t"," xrtaiionpTimestamp":"2026-12-0Z"}})",
       "kind is not a string"},
      {R"({"apiVersion":["client.authentication.k8s.io/v1"],
           "kind":"ExecCredential","status":{"token":"t"}})",
       "apiVersion is not a string"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.text));
    if (std::string(row.words).empty()) {
      CHECK(decode_exec_credential(row.text, k_v1, "p").credential.token ==
            "t");
      continue;
    }
    CHECK_THROWS_WITH_AS(decode_exec_credential(row.text, k_v1, "p"),
                         doctest::Contains(row.words), Error);
  }
  ExecResult timed = decode_exec_credential(
      R"({"apiVersion":"client.authentication.k8s.io/v1",
          "kind":"ExecCredential",
          "status":{"token":"t","expirationTimestamp":"2026-12-04T15:00:00Z"}})",
      k_v1, "p");
  REQUIRE(timed.expires);
  CHECK(*timed.expires == core::parse_rfc3339("2026-12-04T15:00:00Z", "t"));
}

TEST_CASE("a token file is re-read every period and survives a gap") {
  TempDir dir;
  ManualClock clock;
  ClusterConfig config;
  config.token_file = dir.write("token", "token-a\n");
  config.token = "token-a"; // as the loader read it
  Credentials::Options options;
  options.token_file_period_ms = 60'000;
  Credentials credentials(config, clock, options);

  // The kubelet replaces the file by a rename.
  std::string next = dir.write("token.next", "token-b");
  std::filesystem::rename(next, config.token_file);
  CHECK(credentials.current().token == "token-a"); // period not over
  clock.advance(60'000);
  CHECK(credentials.current().token == "token-b");

  // Briefly missing: the last good token stays.
  std::filesystem::remove(config.token_file);
  clock.advance(60'000);
  CHECK(credentials.current().token == "token-b");
  // A rejection re-reads at once; with no file there is nothing new.
  CHECK_FALSE(credentials.reject(credentials.current()));

  dir.write("token", "token-c");
  CHECK(credentials.reject(credentials.current()));
  CHECK(credentials.current().token == "token-c");
}

TEST_CASE("a static token cannot be refreshed") {
  ClusterConfig config;
  config.token = "static";
  Credentials credentials(config);
  CHECK(credentials.current().token == "static");
  CHECK_FALSE(credentials.reject(credentials.current()));
}

} // namespace lrb::kube
