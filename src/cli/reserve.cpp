// `lrb reserve` and `lrb explain`: ask the broker for capacity, or ask it
// where capacity would go. Both read the same flags through
// build_request, so an operator can try a request with explain (or
// reserve --dry-run) and then run it unchanged. A reservation that cannot
// be placed is not an error of the CLI but an answer: it is printed with
// every cluster's reason and the exit code is 3, which scripts test.
#include "cli/reserve.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/broker_client.h"
#include "cli/output.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/json.h"
#include "core/lifecycle.h"
#include "core/resources.h"
#include "core/scoring.h"

namespace lrb::cli {

namespace {

using core::Code;
using core::Error;

[[noreturn]] void bad_flag(std::string_view flag, const std::string& why) {
  throw Error(Code::invalid_argument, fmt::format("{}: {}", flag, why),
              std::string(flag));
}

// Splits "key=value" at the first '='; both sides must be non-empty.
std::pair<std::string, std::string> split_pair(const std::string& text,
                                               std::string_view flag,
                                               std::string_view example) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == text.size()) {
    bad_flag(flag, fmt::format("\"{}\" is not NAME=VALUE, such as {}", text,
                               example));
  }
  return {text.substr(0, eq), text.substr(eq + 1)};
}

// Parses a whole decimal text as a double; nullopt when it is not one.
std::optional<double> to_double(std::string_view text) {
  double value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// Sets `name` in the request from `text`, refusing it twice.
void set_resource(core::ResourceList& list, const std::string& name,
                  const std::string& text, std::string_view flag) {
  if (list.has(name)) {
    bad_flag(flag, fmt::format("{} is set twice: give each resource once "
                               "(--cpu, --mem, --gpu and --storage set "
                               "theirs)",
                               name));
  }
  list.set(name, core::parse_resource(name, text, flag));
}

void add_resources(const RequestFlags& f, core::ResourceList& list) {
  struct Fixed {
    const std::string& text;
    const char* name;
    const char* flag;
  };
  const Fixed fixed[] = {{f.cpu, "cpu", "--cpu"},
                         {f.memory, "memory", "--mem"},
                         {f.gpu, "gpu", "--gpu"},
                         {f.storage, "storage", "--storage"}};
  for (const auto& [text, name, flag] : fixed) {
    if (!text.empty()) {
      set_resource(list, name, text, flag);
    }
  }
  for (const auto& text : f.resources) {
    auto [name, quantity] = split_pair(text, "--resource", "hugepages-2Mi=1Gi");
    const std::string flag = fmt::format("--resource {}", text);
    set_resource(list, core::canonical_resource_name(name, flag), quantity,
                 flag);
  }
}

std::string requester_of(const RequestFlags& f, const std::string& fallback) {
  const std::string& id = f.requester.empty() ? fallback : f.requester;
  if (id.empty()) {
    throw Error(Code::invalid_argument,
                "--requester: no requester cluster given: pass --requester "
                "CLUSTER, set LRB_CLUSTER, or add `requester = CLUSTER` to "
                "the config file",
                "--requester");
  }
  core::check_dns_label(id, "--requester");
  return id;
}

void add_constraints(const RequestFlags& f, core::Constraints& c) {
  c.gpu_model = f.gpu_model;
  c.regions = f.regions;
  for (const auto& text : f.labels) {
    auto [key, value] = split_pair(text, "--label", "cloud=gcp");
    if (!c.labels.emplace(key, value).second) {
      bad_flag("--label", fmt::format("label \"{}\" is given twice", key));
    }
  }
  if (!f.max_price.empty()) {
    auto price = to_double(f.max_price);
    if (!price || *price < 0) {
      bad_flag("--max-price",
               fmt::format("\"{}\" is not a price per hour: give a "
                           "non-negative number, such as 2.50",
                           f.max_price));
    }
    c.max_price_per_hour = price;
  }
}

void add_policy(const RequestFlags& f, core::PolicySpec& p) {
  p.name = f.policy;
  if (!f.weights.empty()) {
    auto [resource, cost] = parse_weights(f.weights);
    p.resource_weight = resource;
    p.cost_weight = cost;
  }
  if (!f.seed.empty()) {
    std::uint64_t seed = 0;
    const auto* end = f.seed.data() + f.seed.size();
    auto [ptr, ec] = std::from_chars(f.seed.data(), end, seed);
    if (ec != std::errc() || ptr != end) {
      bad_flag("--seed", fmt::format("\"{}\" is not a whole number from 0 to "
                                     "18446744073709551615",
                                     f.seed));
    }
    p.seed = seed;
  }
}

} // namespace

std::pair<double, double> parse_weights(const std::string& text) {
  const auto comma = text.find(',');
  std::optional<double> resource;
  std::optional<double> cost;
  if (comma != std::string::npos) {
    resource = to_double(std::string_view(text).substr(0, comma));
    cost = to_double(std::string_view(text).substr(comma + 1));
  }
  const bool in_range = resource && cost && *resource >= 0 && *resource <= 1 &&
                        *cost >= 0 && *cost <= 1;
  if (!in_range || std::fabs(*resource + *cost - 1) > 1e-9) {
    bad_flag("--weights",
             fmt::format("\"{}\" is not a resource,cost pair of weights in "
                         "[0, 1] summing to 1, such as 0.7,0.3",
                         text));
  }
  return {*resource, *cost};
}

CLI::Validator quantity_check(std::string resource) {
  return CLI::Validator(
      [resource](std::string& text) -> std::string {
        try {
          core::parse_resource(resource, text, "");
          return {};
        } catch (const Error& e) {
          return e.what();
        }
      },
      "");
}

CLI::Validator duration_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        try {
          core::parse_duration_ms(text, "");
          return {};
        } catch (const Error& e) {
          return e.what();
        }
      },
      "");
}

void add_request_flags(CLI::App& cmd, RequestFlags& f) {
  cmd.add_option("--cpu", f.cpu, "CPU cores to reserve (4, 500m; required)")
      ->type_name("QUANTITY")
      ->check(quantity_check("cpu"));
  cmd.add_option("--mem,--memory", f.memory,
                 "Memory to reserve (8Gi; required)")
      ->type_name("QUANTITY")
      ->check(quantity_check("memory"));
  cmd.add_option("--gpu", f.gpu, "GPUs to reserve (whole number)")
      ->type_name("COUNT")
      ->check(quantity_check("gpu"));
  cmd.add_option("--gpu-model", f.gpu_model,
                 "Only clusters with this GPU model (A100-SXM4-80GB)")
      ->type_name("MODEL");
  cmd.add_option("--storage", f.storage, "Ephemeral storage (100Gi)")
      ->type_name("QUANTITY")
      ->check(quantity_check("storage"));
  cmd.add_option("--resource", f.resources,
                 "Another resource, NAME=QTY (repeatable)")
      ->type_name("NAME=QTY")
      ->allow_extra_args(false);
  cmd.add_option("--requester", f.requester,
                 "Requesting cluster (LRB_CLUSTER; config requester)")
      ->type_name(std::string(k_type_cluster));
  cmd.add_option("--target", f.target,
                 "Place on this cluster only (still filtered)")
      ->type_name(std::string(k_type_cluster));
  cmd.add_option("--duration", f.duration,
                 "Lease length (2h; default: the "
                 "broker's)")
      ->type_name("DURATION")
      ->check(duration_check());
  cmd.add_option("--priority", f.priority, "Priority (integer)")
      ->type_name("INT");
  std::vector<std::string> policies;
  for (auto name : core::policy_names()) {
    policies.emplace_back(name);
  }
  cmd.add_option("--policy", f.policy, "Scoring policy")
      ->type_name("POLICY")
      ->check(CLI::IsMember(policies));
  cmd.add_option("--weights", f.weights,
                 "Resource and cost weights, such as 0.7,0.3")
      ->type_name("R,C");
  cmd.add_option("--seed", f.seed, "Seed of the random policy")->type_name("N");
  // Repeatable flags take one value each time, so that a positional
  // argument after them is never swallowed.
  cmd.add_option("--region", f.regions, "Only this region (repeatable)")
      ->type_name("REGION")
      ->allow_extra_args(false);
  cmd.add_option("--label", f.labels,
                 "Only clusters with label K=V (repeatable)")
      ->type_name("K=V")
      ->allow_extra_args(false);
  cmd.add_option("--max-price", f.max_price,
                 "Highest acceptable price per hour (2.50)")
      ->type_name("PRICE");
}

core::ReservationRequest build_request(const RequestFlags& f,
                                       const std::string& default_requester) {
  require_value(f.cpu, "--cpu", "give the CPU to reserve, such as --cpu 4");
  require_value(f.memory, "--mem",
                "give the memory to reserve, such as --mem 8Gi");
  core::ReservationRequest request;
  request.requester_id = requester_of(f, default_requester);
  add_resources(f, request.requested);
  if (!f.target.empty()) {
    core::check_dns_label(f.target, "--target");
    request.target_cluster_id = f.target;
  }
  if (!f.duration.empty()) {
    request.duration_ms = core::parse_duration_ms(f.duration, "--duration");
  }
  request.priority = f.priority;
  add_constraints(f, request.constraints);
  add_policy(f, request.policy);
  return request;
}

core::ResourceList parse_granted(const std::vector<std::string>& values) {
  core::ResourceList granted;
  for (const auto& value : values) {
    std::size_t start = 0;
    while (start <= value.size()) {
      const auto comma = value.find(',', start);
      const std::string item = value.substr(start, comma - start);
      const auto eq = item.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
        throw core::Error(core::Code::invalid_argument,
                          fmt::format("--granted: \"{}\" is not NAME=QTY, "
                                      "such as cpu=2,memory=4Gi",
                                      item),
                          "--granted");
      }
      const std::string name =
          core::canonical_resource_name(item.substr(0, eq), "--granted");
      if (granted.has(name)) {
        throw core::Error(core::Code::invalid_argument,
                          fmt::format("--granted: {} is given twice", name),
                          "--granted");
      }
      granted.set(name,
                  core::parse_resource(name, item.substr(eq + 1), "--granted"));
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  return granted;
}

namespace {

// The reserve-only flags.
struct ReserveFlags {
  RequestFlags request;
  std::string idempotency_key;
  bool dry_run = false;
  bool wait = false;
  std::string timeout = "10m";
};

constexpr std::string_view k_spinner[] = {"|", "/", "-", "\\"};
constexpr std::int64_t k_poll_first_ms = 200;
constexpr std::int64_t k_poll_max_ms = 1000;

const core::DecisionRow* chosen_row(const core::Decision& d) {
  for (const auto& row : d.rows) {
    if (row.cluster_id == d.chosen) {
      return &row;
    }
  }
  return nullptr;
}

// Prints the reservation in the chosen format: the table names the id,
// the chosen cluster, its score and its price per hour.
void print_reservation(const core::Json& j, Format format, bool color) {
  const core::Reservation r = core::decode_reservation(j);
  if (format == Format::json || format == Format::yaml) {
    print_document(j, format);
    return;
  }
  if (format == Format::name) {
    print_out(r.id + "\n");
    return;
  }
  const auto* row = chosen_row(r.decision);
  const std::string phase(core::phase_name(r.status.phase));
  const auto now = core::system_clock().wall_ms();
  std::vector<std::string> headers = {"ID",    "CLUSTER", "PHASE",
                                      "SCORE", "PRICE/H", "EXPIRES"};
  std::vector<std::string> cells = {
      r.id,
      r.target_cluster_id.empty() ? "-" : r.target_cluster_id,
      paint(phase, color_of_phase(phase), color),
      row != nullptr ? human_score(row->score) : "-",
      human_price(row != nullptr ? row->price_per_hour : std::nullopt),
      r.status.expires_at ? "in " + human_age(*r.status.expires_at - now)
                          : "-"};
  if (format == Format::wide) {
    headers.insert(headers.end(), {"REQUESTED", "ENDPOINT", "POLICY"});
    cells.insert(cells.end(),
                 {human_list(r.request.requested),
                  r.target_endpoint.empty() ? "-" : r.target_endpoint,
                  r.decision.policy});
  }
  Table table(headers);
  table.add_row(cells);
  print_out(table.render());
}

// Draws one frame of the progress spinner on stderr.
void spin(std::size_t frame, const std::string& id, std::string_view phase,
          std::int64_t waited_ms) {
  std::fprintf(stderr, "\r%s waiting for %s to become Active (%.*s, %s)\033[K",
               std::string(k_spinner[frame % std::size(k_spinner)]).c_str(),
               id.c_str(), static_cast<int>(phase.size()), phase.data(),
               human_age(waited_ms).c_str());
  std::fflush(stderr);
}

void clear_spinner() {
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

// Polls the reservation until it is Active or final, or the timeout
// passes; returns the last state seen and whether the wait timed out.
std::pair<core::Json, bool> wait_active(BrokerClient& client, core::Json j,
                                        std::int64_t timeout_ms) {
  const bool spinner = is_terminal(2);
  const auto& clock = core::system_clock();
  const auto start = clock.mono_ms();
  std::int64_t pause = k_poll_first_ms;
  for (std::size_t frame = 0;; ++frame) {
    const auto phase = core::decode_reservation(j).status.phase;
    if (phase == core::Phase::active || core::is_final(phase)) {
      break;
    }
    const auto waited = clock.mono_ms() - start;
    if (waited >= timeout_ms) {
      if (spinner) {
        clear_spinner();
      }
      return {j, true};
    }
    if (spinner) {
      spin(frame, j.value("id", ""), core::phase_name(phase), waited);
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::min(pause, timeout_ms - waited)));
    pause = std::min(pause * 2, k_poll_max_ms);
    j = client.reservation(j.value("id", ""));
  }
  if (spinner) {
    clear_spinner();
  }
  return {j, false};
}

// Returns the error that exits 3 when no cluster fits: every cluster's
// reason, after the id of the Failed reservation when one was stored.
Error no_fit(std::string_view action, const core::Decision& decision,
             const std::string& id = "") {
  const std::string failed =
      id.empty() ? "" : fmt::format(" ({} is Failed)", id);
  return Error(Code::no_capacity,
               fmt::format("{}: no cluster fits the request{}: {}", action,
                           failed, exclusion_reasons(decision)),
               "", "NoCapacity");
}

// Prints a decision (explain, reserve --dry-run); exits 3 if nothing fits.
int print_decision(const core::Json& j, const Globals& g,
                   std::string_view verb) {
  const Format format = output_format(
      g.output, verb,
      {Format::table, Format::wide, Format::json, Format::yaml, Format::name});
  const core::Decision decision = core::decode_decision(j, "");
  if (format == Format::json || format == Format::yaml) {
    print_document(j, format);
  } else if (format == Format::name) {
    print_out(decision.chosen.empty() ? "" : decision.chosen + "\n");
  } else {
    print_out(render_decision(decision, g.color));
    print_out(decision_summary(decision) + "\n");
  }
  if (decision.chosen.empty()) {
    throw no_fit(verb, decision);
  }
  return 0;
}

int run_explain(const RequestFlags& flags, const Globals& g) {
  const auto request = build_request(flags, g.requester);
  BrokerClient client(g);
  return print_decision(client.explain(core::encode_request(request)), g,
                        "explain");
}

int finish_wait(BrokerClient& client, core::Json j, const ReserveFlags& f,
                Format format, const Globals& g) {
  const auto timeout = core::parse_duration_ms(f.timeout, "--timeout");
  auto [last, timed_out] = wait_active(client, std::move(j), timeout);
  print_reservation(last, format, g.color);
  const auto r = core::decode_reservation(last);
  if (timed_out) {
    throw Error(Code::timeout,
                fmt::format("reserve: {} is still {} after {}; it keeps its "
                            "lock until its activation deadline (see `lrb "
                            "describe reservation {}`)",
                            r.id, core::phase_name(r.status.phase), f.timeout,
                            r.id));
  }
  if (r.status.phase != core::Phase::active) {
    throw Error(Code::no_capacity,
                fmt::format("reserve: {} ended {} before becoming Active: {}",
                            r.id, core::phase_name(r.status.phase),
                            r.status.message.empty() ? r.status.reason
                                                     : r.status.message));
  }
  return 0;
}

int run_reserve(const ReserveFlags& f, const Globals& g) {
  if (f.dry_run) {
    return run_explain(f.request, g);
  }
  const Format format = output_format(
      g.output, "reserve",
      {Format::table, Format::wide, Format::json, Format::yaml, Format::name});
  if (f.wait) {
    core::parse_duration_ms(f.timeout, "--timeout");
  }
  const auto request = build_request(f.request, g.requester);
  BrokerClient client(g);
  core::Json j =
      client.create(core::encode_request(request), f.idempotency_key);
  const auto created = core::decode_reservation(j);
  if (created.status.phase == core::Phase::failed) {
    if (format == Format::table || format == Format::wide) {
      print_out(render_decision(created.decision, g.color));
    } else {
      print_reservation(j, format, g.color);
    }
    throw no_fit("reserve", created.decision, created.id);
  }
  if (f.wait) {
    return finish_wait(client, std::move(j), f, format, g);
  }
  print_reservation(j, format, g.color);
  return 0;
}

void setup_reserve(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand("reserve",
                                  "Reserve capacity on the best other cluster");
  auto flags = std::make_shared<ReserveFlags>();
  add_request_flags(*cmd, flags->request);
  cmd->add_option("--idempotency-key", flags->idempotency_key,
                  "Retry-safe key: the same key returns the same "
                  "reservation")
      ->type_name("KEY");
  cmd->add_flag("--dry-run", flags->dry_run,
                "Print the decision without locking (as explain)");
  cmd->add_flag("--wait", flags->wait,
                "Wait until the reservation is Active or ended");
  cmd->add_option("--timeout", flags->timeout,
                  "How long --wait waits (default 10m)")
      ->type_name("DURATION")
      ->check(duration_check());
  cmd->callback([flags, &globals] {
    globals.action = [flags, &globals] { return run_reserve(*flags, globals); };
  });
}

void setup_explain(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "explain", "Show where a request would go, and why, without locking");
  auto flags = std::make_shared<RequestFlags>();
  add_request_flags(*cmd, *flags);
  cmd->callback([flags, &globals] {
    globals.action = [flags, &globals] { return run_explain(*flags, globals); };
  });
}

const VerbRegistrar k_reserve({"reserve", 100, setup_reserve});
const VerbRegistrar k_explain({"explain", 110, setup_explain});

} // namespace

} // namespace lrb::cli
