#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include "cli/output.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

constexpr std::int64_t k_ki = 1024;
constexpr std::int64_t k_mi = 1024 * k_ki;
constexpr std::int64_t k_gi = 1024 * k_mi;
constexpr std::int64_t k_second = 1000;
constexpr std::int64_t k_minute = 60 * k_second;
constexpr std::int64_t k_hour = 60 * k_minute;
constexpr std::int64_t k_day = 24 * k_hour;

} // namespace

TEST_CASE("cpu prints as cores with at most three decimals") {
  struct Row {
    std::int64_t milli;
    const char* want;
  };
  const Row rows[] = {
      {4000, "4"},       // 4000 m = 4 cores
      {3500, "3.5"},     // 3500 m = 3.5, trailing zeros dropped
      {250, "0.25"},     // 250 m = 0.25
      {1, "0.001"},      // the smallest unit
      {0, "0"},          // nothing
      {12345, "12.345"}, // 12 cores and 345 m
      {-1500, "-1.5"},   // a negative difference keeps its sign
  };
  for (const auto& row : rows) {
    CAPTURE(row.milli);
    CHECK(human_cpu(row.milli) == row.want);
  }
}

TEST_CASE("bytes print in the largest binary unit, rounded to a tenth") {
  struct Row {
    std::int64_t bytes;
    const char* want;
  };
  const Row rows[] = {
      {0, "0"},
      {1023, "1023"},             // below 1Ki: plain bytes
      {k_ki, "1Ki"},              // exactly 1Ki
      {1536, "1.5Ki"},            // 1536 / 1024 = 1.5
      {8 * k_gi, "8Gi"},          // exact
      {k_gi + k_gi / 2, "1.5Gi"}, // 1.5Gi
      {k_gi + k_gi / 4, "1.3Gi"}, // 1.25 rounds half up to 1.3
      {1000 * k_mi, "1000Mi"},    // 10000 tenths of Mi < 10240: stays Mi
      {k_gi - 1, "1Gi"},          // 1023.99..Mi rounds to 1024Mi: 1Gi
      {100 * k_mi, "100Mi"},      // exact
      {INT64_MAX, "8Ei"},         // 2^63 - 1 bytes = 8Ei less a byte
  };
  for (const auto& row : rows) {
    CAPTURE(row.bytes);
    CHECK(human_bytes(row.bytes) == row.want);
  }
}

TEST_CASE("resources print in the unit of their kind") {
  CHECK(human_resource("cpu", 2500) == "2.5");
  CHECK(human_resource("memory", 8 * k_gi) == "8Gi");
  CHECK(human_resource("storage", 100 * k_gi) == "100Gi");
  CHECK(human_resource("gpu", 2) == "2 GPU");
  CHECK(human_resource("pods", 110) == "110");
  CHECK(human_pair("gpu", 6, 8) == "6/8 GPU");
  CHECK(human_pair("memory", 4 * k_gi, 16 * k_gi) == "4Gi/16Gi");
}

TEST_CASE("a resource list prints on one line, counts without units") {
  core::ResourceList list;
  list.set("cpu", 4000);
  list.set("memory", 8 * k_gi);
  list.set("gpu", 2);
  CHECK(human_list(list) == "cpu=4 memory=8Gi gpu=2");
  CHECK(human_list(core::ResourceList()) == "-");
}

TEST_CASE("ages lose precision as they grow, as kubectl's do") {
  struct Row {
    std::int64_t ms;
    const char* want;
  };
  const Row rows[] = {
      {0, "0s"},
      {-5000, "0s"},                           // clock skew
      {59 * k_second, "59s"},                  // seconds
      {119 * k_second, "119s"},                // < 2m: seconds
      {3 * k_minute + 20 * k_second, "3m20s"}, // < 10m: m and s
      {5 * k_minute, "5m"},                    // no "0s"
      {45 * k_minute + 59 * k_second, "45m"},  // < 3h: minutes
      {5 * k_hour + 7 * k_minute, "5h7m"},     // < 8h: h and m
      {26 * k_hour + 59 * k_minute, "26h"},    // < 2d: hours
      {3 * k_day + 4 * k_hour, "3d4h"},        // < 8d: d and h
      {40 * k_day + 23 * k_hour, "40d"},       // days
  };
  for (const auto& row : rows) {
    CAPTURE(row.ms);
    CHECK(human_age(row.ms) == row.want);
  }
  CHECK(age_since(0, 1000) == "<unknown>");
  CHECK(age_since(1000, 6000) == "5s");
}

TEST_CASE("times show their distance from now in both directions") {
  // 1764000000000 ms is 2025-11-24T16:00:00Z.
  const core::WallMs t = 1'764'000'000'000;
  CHECK(human_time(t, t + 5 * k_minute) == "2025-11-24T16:00:00Z (5m ago)");
  // 4h ahead: past 3h the age is in hours.
  CHECK(human_time(t, t - 4 * k_hour) == "2025-11-24T16:00:00Z (in 4h)");
}

TEST_CASE("prices and scores have fixed decimals") {
  CHECK(human_price(std::nullopt) == "-");
  CHECK(human_price(0.161816) == "0.1618"); // below 1: four decimals
  CHECK(human_price(23.2) == "23.20");      // from 1 up: two
  CHECK(human_price(0) == "0.0000");
  CHECK(human_score(72.44) == "72.4");
  CHECK(human_score(100) == "100.0");
}

TEST_CASE("visible width ignores colour codes and counts code points") {
  CHECK(visible_width("abc") == 3);
  CHECK(visible_width(paint("Ready", Color::green, true)) == 5);
  CHECK(visible_width("caf\xc3\xa9") == 4);  // é is two bytes
  CHECK(visible_width("\xe2\x80\x94") == 1); // an em dash, three bytes
}

TEST_CASE("paint adds colour only when enabled") {
  CHECK(paint("Failed", Color::red, false) == "Failed");
  CHECK(paint("Failed", Color::red, true) == "\033[31mFailed\033[0m");
  CHECK(paint("x", Color::none, true) == "x");
  CHECK(color_of_phase("Active") == Color::green);
  CHECK(color_of_phase("Failed") == Color::red);
  CHECK(color_of_phase("Cordoned") == Color::yellow);
}

TEST_CASE("tables align on visible width and never end lines in blanks") {
  Table t({"NAME", "STATE", "NOTE"});
  t.add_row({"rome", paint("Ready", Color::green, true), ""});
  t.add_row({"berlin", "Stale", "unheard"});
  const std::string want = "NAME     STATE   NOTE\n"
                           "rome     \033[32mReady\033[0m\n"
                           "berlin   Stale   unheard\n";
  CHECK(t.render() == want);
  CHECK(t.render(false) == "rome     \033[32mReady\033[0m\n"
                           "berlin   Stale   unheard\n");
  // NAME is 4 wide and "berlin" 6; STATE 5; the last column unpadded.
  CHECK(t.widths() == std::vector<std::size_t>{6, 5, 7});
}

TEST_CASE("minimum widths keep tables printed one after another aligned") {
  Table t({"A", "B"});
  t.set_min_widths({5, 0});
  t.add_row({"x", "y"});
  CHECK(t.render() == "A       B\nx       y\n"); // 5 wide + 3 blanks
}

TEST_CASE("formats parse by name and verbs refuse the ones they lack") {
  CHECK(parse_format("json", "-o") == Format::json);
  CHECK(parse_format("name", "-o") == Format::name);
  CHECK_THROWS_WITH_AS(parse_format("xml", "-o"),
                       doctest::Contains("-o: unknown output format \"xml\""),
                       core::Error);
  CHECK(output_format("yaml", "events", {Format::table, Format::yaml}) ==
        Format::yaml);
  try {
    output_format("name", "events", {Format::table, Format::json});
    FAIL("name must be refused");
  } catch (const core::Error& e) {
    CHECK(e.code() == core::Code::invalid_argument);
    CHECK(e.field() == "-o");
    CHECK(std::string(e.what()) ==
          "-o name: `lrb events` does not print that format; use table, "
          "json");
  }
}

TEST_CASE("YAML keeps JSON's types: look-alike strings are quoted") {
  const core::Json j = {{"cpu", "4"},
                        {"flag", "true"},
                        {"empty", ""},
                        {"memory", "8Gi"},
                        {"count", 4},
                        {"ratio", 0.1},
                        {"on", true},
                        {"none", nullptr},
                        {"when", "2026-12-04T15:00:00Z"},
                        {"list", {"a", "1e3"}},
                        {"nested", {{"no", "no"}}}};
  const std::string text = to_yaml(j);
  const YAML::Node node = YAML::Load(text);
  // A quoted scalar carries the non-specific tag "!"; a plain one "?".
  CHECK(node["cpu"].Tag() == "!");
  CHECK(node["cpu"].as<std::string>() == "4");
  CHECK(node["flag"].Tag() == "!");
  CHECK(node["empty"].as<std::string>() == "");
  CHECK(node["when"].Tag() == "!");
  CHECK(node["list"][1].Tag() == "!");
  CHECK(node["nested"]["no"].Tag() == "!");
  CHECK(node["memory"].Tag() == "?"); // "8Gi" reads back as a string
  CHECK(node["count"].Tag() == "?");
  CHECK(node["count"].as<int>() == 4);
  CHECK(node["ratio"].as<std::string>() == "0.1"); // shortest form
  CHECK(node["on"].as<bool>());
  CHECK(node["none"].IsNull());
}

TEST_CASE("JSON text is the document, indented, with a final newline") {
  CHECK(to_json_text(core::Json{{"a", 1}}) == "{\n  \"a\": 1\n}\n");
}

TEST_CASE("a decision prints ranked rows, then exclusions with reasons") {
  core::Decision d;
  d.policy = "weighted";
  d.chosen = "paris";
  d.clusters = 3;
  d.candidates = 2;
  core::DecisionRow paris{"paris", true, 0.625, 1.0, 0.1618, 73.75, 1, ""};
  core::DecisionRow rome{"rome", true, 0.5, 0.8, 0.2, 59.0, 2, ""};
  core::DecisionRow berlin{"berlin",     false, 0, 0,
                           std::nullopt, 0,     0, "cpu: 2 free, 4 requested"};
  d.rows = {paris, rome, berlin};
  const std::string table = render_decision(d, false);
  CHECK(table ==
        "RANK   CLUSTER   RESOURCE   COST    PRICE/H   SCORE   REASON\n"
        "1      paris     0.625      1.000   0.1618    73.8    chosen\n"
        "2      rome      0.500      0.800   0.2000    59.0\n"
        "-      berlin    -          -       -         -       cpu: 2 free, "
        "4 requested\n");
  CHECK(decision_summary(d) == "policy weighted (resource weight 0.7, cost "
                               "weight 0.3): chose paris (2 of 3 clusters "
                               "fit)");
  CHECK(exclusion_reasons(d) == "berlin: cpu: 2 free, 4 requested");
  d.chosen.clear();
  CHECK(decision_summary(d) == "policy weighted (resource weight 0.7, cost "
                               "weight 0.3): no cluster fits (3 considered)");
}

} // namespace lrb::cli
