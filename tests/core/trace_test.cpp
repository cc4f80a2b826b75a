// Tests of the trace and price CSV parsers: good files (with the
// whole-GPU arithmetic), and bad ones, whose errors must name the file,
// the line and the column.
#include <string>

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/trace.h"

namespace lrb::core {

namespace {

constexpr const char* k_pod_header =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,"
    "creation_time,deletion_time,scheduled_time\n";

// Returns the message of the Error that `fn` throws ("" when none).
template <typename F>
Error caught(F fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error was thrown");
  return Error(Code::internal, "");
}

} // namespace

TEST_CASE("nodes parse by header name, CPU-only nodes have no model") {
  auto nodes = parse_trace_nodes("model,sn,cpu_milli,memory_mib,gpu\n"
                                 ",n0,32000,262144,0\n"
                                 "V100M32,n1,96000,786432,8\n",
                                 "nodes.csv");
  REQUIRE(nodes.size() == 2);
  CHECK(nodes[0].name == "n0");
  CHECK(nodes[0].model.empty());
  CHECK(nodes[1].cpu_milli == 96000);
  CHECK(nodes[1].memory_mib == 786432);
  CHECK(nodes[1].gpus == 8);
  CHECK(nodes[1].model == "V100M32");
}

TEST_CASE("pods: whole GPUs, optional deletion") {
  auto pods = parse_trace_pods(std::string(k_pod_header) +
                                   "p0,6000,12288,1,460,,LS,Running,5,,5\n"
                                   "p1,12000,24576,1,1000,,LS,Running,7,9,7\n"
                                   "p2,88000,327680,8,1000,,BE,Failed,1,4,\n"
                                   "p3,4000,8192,0,0,,BE,Pending,2,3,\n",
                               "pods.csv");
  REQUIRE(pods.size() == 4);
  struct Row {
    std::int64_t gpus;
  };
  // p0 shares a GPU (460 milli-GPU): lrb reserves the whole device, 1.
  // p1 asks 1 x 1000 milli-GPU = 1 GPU.
  // p2 asks 8 x 1000 milli-GPU = 8 GPUs.
  // p3 asks none: 0.
  const Row expected[] = {{1}, {1}, {8}, {0}};
  for (std::size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(whole_gpus(pods[i]) == expected[i].gpus);
  }
  CHECK_FALSE(pods[0].deletion_time.has_value());
  CHECK(pods[1].deletion_time == 9);
  CHECK_FALSE(pods[2].scheduled_time.has_value());
  CHECK(pods[0].qos == "LS");
  CHECK(pods[2].phase == "Failed");
}

TEST_CASE("bad trace values name file, line, column and field") {
  struct Case {
    const char* row;
    const char* where; // expected "file:line: column N (name)"
    const char* field;
  };
  const Case cases[] = {
      {"p0,6x,12288,1,460,,LS,Running,5,,5", "pods.csv:2: column 2 (cpu_milli)",
       "cpu_milli"},
      {"p0,6000,-1,1,460,,LS,Running,5,,5", "pods.csv:2: column 3 (memory_mib)",
       "memory_mib"},
      {"p0,6000,1,1,1460,,LS,Running,5,,5", "pods.csv:2: column 5 (gpu_milli)",
       "gpu_milli"},
      {"p0,6000,1,1,460,,LS,Running,5,4,5",
       "pods.csv:2: column 10 (deletion_time)", "deletion_time"},
      {",6000,1,1,460,,LS,Running,5,,5", "pods.csv:2: column 1 (name)", "name"},
      {"p0,6000,1,1,460,,LS,Running,5.5,,5",
       "pods.csv:2: column 9 (creation_time)", "creation_time"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.row);
    auto e = caught([&] {
      parse_trace_pods(std::string(k_pod_header) + c.row + "\n", "pods.csv");
    });
    CHECK(e.code() == Code::invalid_argument);
    CHECK(std::string(e.what()).find(c.where) != std::string::npos);
    CHECK(e.field() == c.field);
  }
}

TEST_CASE("structural CSV errors") {
  auto missing = caught([] {
    parse_trace_nodes("sn,cpu_milli,memory_mib,gpu\nn0,1,1,0\n", "n.csv");
  });
  CHECK(missing.field() == "model");
  CHECK(std::string(missing.what()).find("n.csv:1:") != std::string::npos);

  auto short_row = caught([] {
    parse_trace_nodes("sn,cpu_milli,memory_mib,gpu,model\n"
                      "n0,1,1,0,\nn1,1,1\n",
                      "n.csv");
  });
  CHECK(std::string(short_row.what()).find("n.csv:3:") != std::string::npos);

  auto no_model = caught([] {
    parse_trace_nodes("sn,cpu_milli,memory_mib,gpu,model\nn0,1,1,2,\n",
                      "n.csv");
  });
  CHECK(no_model.field() == "model");

  auto open_quote = caught([] { parse_csv("a,b\n\"x,y\n", "q.csv"); });
  CHECK(std::string(open_quote.what()).find("q.csv:2") != std::string::npos);
  CHECK_THROWS_AS(parse_trace_nodes("", "empty.csv"), Error);
}

TEST_CASE("quoted CSV fields keep commas, quotes and line numbers") {
  auto rows = parse_csv("a,b\r\n\"x, \"\"y\"\"\",2\n\n3,4\n", "q.csv");
  REQUIRE(rows.size() == 3);
  CHECK(rows[1][0] == "x, \"y\"");
  CHECK(rows[2][1] == "4");
}

TEST_CASE("prices: GPU price or the median of the same cloud") {
  auto prices = parse_region_prices(
      "cloud,region,cpu_per_hour_usd,mem_gib_per_hour_usd,gpu_model,"
      "gpu_per_hour_usd,source\n"
      "gcp,a,0.03,0.004,T4,0.35,\"s, with comma\"\n"
      "gcp,b,0.03,0.004,T4,0.41,s\n"
      "gcp,c,0.03,0.004,T4,0.37,s\n"
      "gcp,d,0.0319,0.00428,,,s\n"
      "aws,d,0.04,0.005,,,s\n",
      "prices.csv");
  REQUIRE(prices.size() == 5);
  CHECK(prices[0].source == "s, with comma");
  CHECK(prices[3].cpu_per_hour == doctest::Approx(0.0319));
  // Listed: its own price.
  CHECK(gpu_price_or_fallback(prices[1], prices) == doctest::Approx(0.41));
  // gcp/d lists none: median of 0.35, 0.37, 0.41 is 0.37.
  CHECK(gpu_price_or_fallback(prices[3], prices) == doctest::Approx(0.37));
  // aws lists no GPU price at all: no fallback.
  CHECK_FALSE(gpu_price_or_fallback(prices[4], prices).has_value());

  CHECK(find_region(prices, "gcp/d", "--regions").cloud == "gcp");
  CHECK(find_region(prices, "b", "--regions").region == "b");
  auto ambiguous = caught([&] { find_region(prices, "d", "--regions"); });
  CHECK(ambiguous.field() == "--regions");
  CHECK_THROWS_AS(find_region(prices, "gcp/zz", "--regions"), Error);
  CHECK_THROWS_AS(parse_region_prices("cloud,region,cpu_per_hour_usd,"
                                      "mem_gib_per_hour_usd,gpu_model,"
                                      "gpu_per_hour_usd\ngcp,a,x,1,,\n",
                                      "p.csv"),
                  Error);
}

} // namespace lrb::core
