// `lrb bench`: the load generator of src/daemon/bench.h, from one
// command. It spawns its own broker (this same binary) on 127.0.0.1 with
// a scratch database unless --broker is given on the command line;
// LRB_BROKER and the config file are deliberately not consulted, so that
// a benchmark never lands on a production broker by accident. The table
// prints each figure beside its floor and the target of the project's
// performance issue, because a figure alone says nothing on a shared
// machine; -o json is what scripts and the test suite read.
#include "daemon/bench.h"

#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/output.h"
#include "core/duration.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

struct BenchFlags {
  daemon::BenchOptions options;
  std::string advertise_every = "5s";
  std::string duration = "10s";
  std::string db;
  bool is_short = false;
  CLI::App* cmd = nullptr;
};

// Sets `value` to `fallback` unless `flag` was given.
template <typename T>
void short_default(const BenchFlags& f, const char* flag, T& value,
                   T fallback) {
  if (f.cmd->get_option(flag)->count() == 0) {
    value = fallback;
  }
}

// --short: a few seconds over a small fleet, for the test suite.
void apply_short(BenchFlags& f) {
  auto& o = f.options;
  short_default(f, "--clusters", o.clusters, 200);
  short_default(f, "--clients", o.clients, 4);
  short_default(f, "--rate", o.rate, 50.0);
  short_default(f, "--watchers", o.watchers, 4);
  short_default(f, "--duration", f.duration, std::string("2s"));
  short_default(f, "--advertise-every", f.advertise_every, std::string("1s"));
  o.floor_ms = 300;
}

daemon::BenchOptions resolve(BenchFlags& f, const Globals& g) {
  if (f.is_short) {
    apply_short(f);
  }
  daemon::BenchOptions o = f.options;
  o.duration_ms = core::parse_duration_ms(f.duration, "--duration");
  o.advertise_every_ms =
      core::parse_duration_ms(f.advertise_every, "--advertise-every");
  if (g.broker_source == "--broker") {
    o.broker_url = g.broker;
    o.db_path = f.db;
  } else if (!f.db.empty()) {
    throw core::Error(core::Code::invalid_argument,
                      "--db names the database of a broker given with "
                      "--broker; without --broker the bench spawns its own",
                      "--db");
  }
  return o;
}

std::string ms(double v) {
  return fmt::format("{:.2f}", v);
}

std::string ratio(double a, double b) {
  return b > 0 ? fmt::format("{:.2f}", a / b) : "-";
}

// One line of the table: figure, value, floor, lrb/floor, target.
std::string row(std::string_view what, const std::string& value,
                const std::string& floor, const std::string& r,
                std::string_view target) {
  return fmt::format("{:<34} {:>12} {:>12} {:>8}  {}\n", what, value, floor, r,
                     target);
}

std::string latency_rows(const daemon::BenchReport& r) {
  const auto& f = r.floors;
  const auto& c = r.create_latency;
  const bool fl = f.measured;
  std::string out;
  out += row("create p50 (ms)", ms(c.p50), fl ? ms(f.http_latency.p50) : "-",
             fl ? ratio(c.p50, f.http_latency.p50) : "-", "");
  out += row("create p99 (ms)", ms(c.p99), fl ? ms(f.http_latency.p99) : "-",
             fl ? ratio(c.p99, f.http_latency.p99) : "-",
             "<= 5 at 200/s, 10,000 clusters");
  out += row("create p99.9 (ms)", ms(c.p999), "-", "-", "");
  out += row("notification p50 (ms)", ms(r.notify_latency.p50), "-", "-", "");
  out += row("notification p99 (ms)", ms(r.notify_latency.p99), "-", "-",
             "<= 100 with 1,000 watchers");
  if (fl) {
    out += row("decision p50 (us, in-process)", ms(f.decide_us.p50),
               ms(f.scan_us), ratio(f.decide_us.p50, f.scan_us), "");
    out += row("decision p99 (us, in-process)", ms(f.decide_us.p99), "-", "-",
               "<= 500 over 10,000 clusters");
  }
  return out;
}

std::string throughput_rows(const daemon::BenchReport& r) {
  const auto& f = r.floors;
  const bool fl = f.measured;
  const double target = r.options.rate;
  std::string out;
  out +=
      row("creates/s (target " +
              (target > 0 ? fmt::format("{:g}", target) : "closed loop") + ")",
          fmt::format("{:.0f}", r.creates_per_s),
          fl ? fmt::format("{:.0f}", f.sqlite_commits_per_s) : "-",
          fl ? ratio(r.creates_per_s, f.sqlite_commits_per_s) : "-",
          ">= 1,000 closed loop, 64 clients (floor: sqlite)");
  out += row("  http floor (req/s)", "",
             fl ? fmt::format("{:.0f}", f.http_requests_per_s) : "-",
             fl ? ratio(r.creates_per_s, f.http_requests_per_s) : "-", "");
  out += row("advertisement ingest/s", fmt::format("{:.0f}", r.ingest_per_s),
             "-", "-", ">= 2,000 (10,000 clusters every 5s)");
  out += row("  registering the fleet (ads/s)",
             fmt::format("{:.0f}", r.initial_ingest_per_s), "-", "-", "");
  return out;
}

std::string broker_rows(const daemon::BenchReport& r) {
  std::string out;
  const double pct = r.elapsed_s > 0 ? r.broker_cpu_s / r.elapsed_s * 100 : 0;
  out += row("broker CPU (s, % of one core)",
             fmt::format("{:.2f} {:.1f}%", r.broker_cpu_s, pct), "-", "-",
             "< 1% idle with 50 clusters every 10s");
  out +=
      row("broker RSS / peak (MiB)",
          fmt::format("{:.1f}/{:.1f}", r.broker_rss_mib, r.broker_peak_rss_mib),
          "-", "-", "<= 64 at 10,000 clusters, 100,000 reservations");
  out += row("restart after SIGKILL (ms)",
             r.restart_ready_ms ? ms(*r.restart_ready_ms) : "-", "-", "-",
             "<= 500");
  return out;
}

std::string render_table(const daemon::BenchReport& r) {
  std::string out = fmt::format(
      "{} clusters, {} clients, {} watchers, {:.1f}s; {}\n"
      "creates {} (reserved {}, failed {}, released {}, unsent {}), "
      "advertisements unsent {}, lock conflicts {}, errors {}, "
      "double bookings {}\n\n",
      r.options.clusters, r.options.clients, r.options.watchers, r.elapsed_s,
      r.pinning, r.creates, r.reserved, r.failed, r.releases, r.unsent,
      r.ads_unsent, r.lock_conflicts, r.error_count(),
      r.checked ? std::to_string(r.double_bookings) : "not checked");
  out += row("figure", "lrb", "floor", "ratio", "target");
  out += throughput_rows(r) + latency_rows(r) + broker_rows(r);
  for (const auto& [status, count] : r.errors) {
    out += fmt::format("errors with status {}: {}\n", status, count);
  }
  for (const auto& finding : r.doctor_findings) {
    out += fmt::format("doctor: {}\n", finding);
  }
  return out;
}

int run_bench(BenchFlags& f, const Globals& g) {
  const Format format =
      output_format(g.output, "bench", {Format::table, Format::json});
  const auto report = daemon::run_bench(resolve(f, g));
  if (format == Format::json) {
    print_out(to_json_text(daemon::encode_bench_report(report)));
  } else {
    print_out(render_table(report));
  }
  const bool clean = !report.checked || report.double_bookings == 0;
  return clean ? 0 : 1;
}

void add_flags(CLI::App* cmd, BenchFlags& f) {
  auto& o = f.options;
  cmd->add_option("--clusters", o.clusters,
                  "Simulated clusters advertising over HTTP (default 10000)");
  cmd->add_option("--advertise-every", f.advertise_every,
                  "Advertisement period of each cluster (default 5s)")
      ->type_name("DURATION");
  cmd->add_option("--clients", o.clients,
                  "HTTP connections creating reservations (default 64)");
  cmd->add_option("--rate", o.rate,
                  "Creates per second on a fixed schedule; 0 runs closed "
                  "loop, as fast as answers come (default 200)");
  cmd->add_option("--duration", f.duration, "Timed window (default 10s)")
      ->type_name("DURATION");
  cmd->add_flag("--release,!--no-release", o.release,
                "Release each reservation after it is created (default on)");
  cmd->add_option("--watchers", o.watchers,
                  "Agents parked on the events endpoint (default 0)");
  cmd->add_option("--seed", o.seed, "Seed of the fleet and requests");
  cmd->add_flag("--floors,!--no-floors", o.floors,
                "Measure the floors in the same run (default on)");
  cmd->add_flag("--restart-check,!--no-restart-check", o.restart_check,
                "SIGKILL the spawned broker at the end and time its "
                "restart (default on)");
  cmd->add_flag("--short", f.is_short,
                "A run of a few seconds over 200 clusters (the test suite)");
  cmd->add_option("--db", f.db,
                  "With --broker: its database, for the invariant check")
      ->type_name(std::string(k_type_file));
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "bench", "Drive a broker with simulated clusters, clients and "
               "watchers; print figures beside their floors");
  auto f = std::make_shared<BenchFlags>();
  f->cmd = cmd;
  add_flags(cmd, *f);
  cmd->callback([f, &globals] {
    globals.action = [f, &globals] { return run_bench(*f, globals); };
  });
}

const VerbRegistrar k_registrar({"bench", 850, setup});

} // namespace

} // namespace lrb::cli
