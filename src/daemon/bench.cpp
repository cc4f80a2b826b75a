// The load of `lrb bench` (see bench.h for why it is open-loop and why
// every figure has a floor). One run is: floors; spawn (or reach) the
// broker; register every simulated cluster; then, for the timed window,
// three kinds of threads at once — creators on the request schedule,
// advertisers on the heartbeat schedule, watchers parked on the events
// endpoint — each keeping its samples to itself so that measuring adds
// no lock; then scrape /metrics and /proc, check the invariant on the
// database, and time a restart after SIGKILL.
//
// The spawned broker is a child process of this one, never a thread:
// its CPU time, RSS and crash recovery are then the real daemon's, and
// it can be pinned to its own CPU. Every wait on it is bounded, and it
// is stopped (SIGTERM, then SIGKILL) before run_bench returns or throws.
#include "daemon/bench.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "daemon/bench_fleet.h"
#include "daemon/doctor.h"
#include "daemon/sqlite_store.h"
#include "kube/http.h"

namespace lrb::daemon {

namespace {

using core::Code;
using core::Error;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr auto k_start_timeout = std::chrono::seconds(60);
constexpr auto k_stop_timeout = std::chrono::seconds(15);
// Advertising connections: one per 500 clusters, 2 to 16. Agents each
// have their own connection; a handful must not become the bottleneck
// of ingest by waiting on each answer in turn.
// Never more advertisers than clusters: one with nothing to send would
// spin until the run ends.
int advertisers_for(std::size_t clusters) {
  return std::min(std::clamp(static_cast<int>(clusters / 500), 2, 16),
                  static_cast<int>(clusters));
}
constexpr int k_watch_timeout_s = 2;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double wall_ms_now() {
  using namespace std::chrono;
  return duration<double, std::milli>(system_clock::now().time_since_epoch())
      .count();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --- the broker child process ---

class BrokerProcess {
public:
  BrokerProcess(std::string exe, fs::path dir, int max_watchers)
      : exe_(std::move(exe)), dir_(std::move(dir)),
        max_watchers_(max_watchers) {}
  ~BrokerProcess() { stop(); }
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  // Starts the broker and waits until /readyz answers 200; returns the
  // milliseconds that took.
  double start();
  // Stops it with SIGTERM (SIGKILL after k_stop_timeout).
  void stop();
  // Kills it with SIGKILL and reaps it.
  void kill_hard();

  pid_t pid() const { return pid_; }
  const std::string& url() const { return url_; }
  std::string db() const { return (dir_ / "lrb.db").string(); }

private:
  void spawn();
  int wait_port(Clock::time_point deadline);
  void wait_ready(Clock::time_point deadline);
  [[noreturn]] void fail(const std::string& why);

  std::string exe_;
  fs::path dir_;
  int max_watchers_;
  pid_t pid_ = -1;
  std::string url_;
};

void BrokerProcess::spawn() {
  const std::string port_file = (dir_ / "port").string();
  fs::remove(port_file);
  const std::string log = (dir_ / "broker.log").string();
  const std::string watchers = std::to_string(max_watchers_);
  const std::string db_path = db();
  std::vector<const char*> argv = {
      exe_.c_str(),     "broker",          "--listen",      "127.0.0.1:0",
      "--port-file",    port_file.c_str(), "--db",          db_path.c_str(),
      "--max-watchers", watchers.c_str(),  "--stale-after", "10m",
      nullptr};
  pid_ = ::fork();
  if (pid_ < 0) {
    throw Error(Code::unavailable, "cannot fork to start the broker");
  }
  if (pid_ == 0) {
    // Only async-signal-safe calls between fork and exec. The broker
    // is stopped with the bench even when the bench is killed (the
    // forking thread is the main one, which lives as long as the bench).
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    ::sched_setaffinity(0, sizeof(set), &set);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(exe_.c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
}

void BrokerProcess::fail(const std::string& why) {
  std::string log = read_text((dir_ / "broker.log").string());
  if (log.size() > 2000) {
    log = log.substr(log.size() - 2000);
  }
  kill_hard();
  throw Error(
      Code::unavailable,
      fmt::format("the spawned broker {}; its log ends:\n{}", why, log));
}

int BrokerProcess::wait_port(Clock::time_point deadline) {
  const std::string port_file = (dir_ / "port").string();
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      fail("exited before it listened");
    }
    if (const std::string text = read_text(port_file); !text.empty()) {
      return std::atoi(text.c_str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  fail("wrote no port file within 60s");
}

void BrokerProcess::wait_ready(Clock::time_point deadline) {
  kube::HttpClient client(bench::http_options(url_));
  while (Clock::now() < deadline) {
    try {
      if (client.request("GET", "/readyz").status == 200) {
        return;
      }
    } catch (const Error&) {
      // Not accepting yet: try again.
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  fail("did not become ready within 60s");
}

double BrokerProcess::start() {
  const auto begin = Clock::now();
  spawn();
  const int port = wait_port(begin + k_start_timeout);
  url_ = fmt::format("http://127.0.0.1:{}", port);
  wait_ready(begin + k_start_timeout);
  return seconds_between(begin, Clock::now()) * 1000;
}

void BrokerProcess::kill_hard() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

void BrokerProcess::stop() {
  if (pid_ <= 0) {
    return;
  }
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + k_stop_timeout;
  while (Clock::now() < deadline) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_hard();
}

// Returns what the kernel lets `pid` run on, as "0", "1", "0-1"...
std::string affinity_of(pid_t pid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(pid, sizeof(set), &set) != 0) {
    return "?";
  }
  std::string cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) {
      cpus += (cpus.empty() ? "" : ",") + std::to_string(cpu);
    }
  }
  return cpus;
}

// --- the samples each thread keeps ---

struct Samples {
  std::vector<double> create_ms;
  std::vector<double> notify_ms;
  std::int64_t creates = 0, reserved = 0, failed = 0, releases = 0;
  std::int64_t advertisements = 0;
  std::int64_t attempts = 0; // creates sent (open loop)
  std::int64_t ad_attempts = 0;
  std::map<std::string, std::int64_t> errors;
  Clock::time_point last_done{};

  void error(int status) { ++errors[std::to_string(status)]; }
  void merge(const Samples& o);
};

void Samples::merge(const Samples& o) {
  create_ms.insert(create_ms.end(), o.create_ms.begin(), o.create_ms.end());
  notify_ms.insert(notify_ms.end(), o.notify_ms.begin(), o.notify_ms.end());
  creates += o.creates;
  reserved += o.reserved;
  failed += o.failed;
  releases += o.releases;
  advertisements += o.advertisements;
  attempts += o.attempts;
  ad_attempts += o.ad_attempts;
  for (const auto& [k, v] : o.errors) {
    errors[k] += v;
  }
  last_done = std::max(last_done, o.last_done);
}

// Sends one request, counting a transport failure or an unexpected
// status as an error; returns the response (status 0 on failure).
kube::HttpResponse send_counted(kube::HttpClient& client, Samples& s,
                                std::string_view method,
                                const std::string& path, std::string_view body,
                                int expected) {
  kube::HttpResponse res;
  try {
    res = client.request(method, path, body);
  } catch (const Error&) {
    ++s.errors["transport"];
    return {};
  }
  if (res.status != expected) {
    s.error(res.status);
  }
  return res;
}

// --- the timed run ---

struct Run {
  const BenchOptions& options;
  const std::vector<bench::FleetMember>& fleet;
  std::string url;
  Clock::time_point start;
  Clock::time_point end;
  double start_wall_ms = 0;
  std::int64_t generation_base = 0;
  std::atomic<std::int64_t> next_create{0};
};

std::string create_body(const Run& run, std::int64_t index,
                        std::mt19937_64& rng) {
  const int watchers =
      std::min<int>(run.options.watchers, static_cast<int>(run.fleet.size()));
  const std::string requester =
      watchers > 0 ? run.fleet[static_cast<std::size_t>(index % watchers)].id
                   : "bench-requester";
  return fmt::format(R"({{"requesterID":"{}","requestedResources":)"
                     R"({{"cpu":"{}","memory":"{}Gi"}}}})",
                     requester, 1 + rng() % 4, 1 + rng() % 8);
}

// Creates one reservation (and releases it) and records the outcome;
// latency counts from `due`, the scheduled time.
void create_one(Run& run, kube::HttpClient& client, Samples& s,
                std::int64_t index, Clock::time_point due,
                std::mt19937_64& rng) {
  const auto res = send_counted(client, s, "POST", "/api/v1/reservations",
                                create_body(run, index, rng), 201);
  const auto done = Clock::now();
  s.last_done = done;
  if (res.status != 201) {
    return;
  }
  s.create_ms.push_back(seconds_between(due, done) * 1000);
  ++s.creates;
  const auto j = core::Json::parse(res.body, nullptr, false);
  const bool reserved = j.is_object() && j.contains("status") &&
                        j["status"].value("phase", "") == "Reserved";
  ++(reserved ? s.reserved : s.failed);
  if (reserved && run.options.release) {
    const auto id = j.value("id", std::string());
    if (send_counted(client, s, "POST",
                     "/api/v1/reservations/" + id + "/release", "{}", 200)
            .status == 200) {
      ++s.releases;
    }
  }
}

void creator(Run& run, int number, Samples& s) {
  kube::HttpClient client(bench::http_options(run.url));
  std::mt19937_64 rng(run.options.seed * 1000 + static_cast<unsigned>(number));
  if (run.options.rate <= 0) { // closed loop: as fast as answers come
    for (std::int64_t i = number; Clock::now() < run.end;
         i += run.options.clients) {
      create_one(run, client, s, i, Clock::now(), rng);
    }
    return;
  }
  for (;;) {
    const std::int64_t i = run.next_create.fetch_add(1);
    const auto due =
        run.start + std::chrono::nanoseconds(scheduled_ns(i, run.options.rate));
    // A request due in the window but not sent by its end is counted as
    // unsent rather than sent late: a broker that fell behind shows as
    // fewer creates per second, and the backlog does not outlive the run.
    if (due >= run.end || Clock::now() >= run.end) {
      return;
    }
    std::this_thread::sleep_until(due);
    ++s.attempts;
    create_one(run, client, s, i, due, rng);
  }
}

void advertiser(Run& run, int number, Samples& s) {
  kube::HttpClient client(bench::http_options(run.url));
  const std::int64_t period_ns = run.options.advertise_every_ms * 1'000'000;
  const auto n = static_cast<std::int64_t>(run.fleet.size());
  for (std::int64_t round = 0; number < n; ++round) {
    for (std::int64_t j = number; j < n;
         j += advertisers_for(run.fleet.size())) {
      const auto due = run.start + std::chrono::nanoseconds(
                                       advertise_offset_ns(j, n, period_ns) +
                                       round * period_ns);
      if (due >= run.end || Clock::now() >= run.end) {
        return;
      }
      std::this_thread::sleep_until(due);
      ++s.ad_attempts;
      const auto& member = run.fleet[static_cast<std::size_t>(j)];
      const auto body =
          bench::advertisement_json(member, run.generation_base + 1 + round);
      const int status =
          send_counted(client, s, "POST", "/api/v1/advertisements", body, 200)
              .status;
      s.advertisements += status == 200 ? 1 : 0;
    }
  }
}

// Records the latency of every reservation event of `page` stamped
// after the run started.
std::int64_t take_events(const Run& run, const std::string& body, Samples& s) {
  const double now = wall_ms_now();
  const auto j = core::Json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("events")) {
    ++s.errors["bad watch page"];
    return -1;
  }
  for (const auto& e : j["events"]) {
    const auto type = e.value("type", std::string());
    if (type.rfind("Reservation", 0) != 0) {
      continue;
    }
    const auto at = static_cast<double>(
        core::parse_rfc3339(e.value("time", std::string()), "time"));
    if (at >= run.start_wall_ms) {
      s.notify_ms.push_back(now - at);
    }
  }
  return j.value("lastSeq", std::int64_t{-1});
}

void watcher(Run& run, int number, std::int64_t since, Samples& s) {
  kube::HttpClient client(
      bench::http_options(run.url, std::chrono::seconds(30)));
  const auto& id = run.fleet[static_cast<std::size_t>(number)].id;
  while (Clock::now() < run.end) {
    const auto res = send_counted(
        client, s, "GET",
        fmt::format("/api/v1/events?since={}&clusterID={}&timeout={}s", since,
                    id, k_watch_timeout_s),
        {}, 200);
    if (res.status != 200) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    since = std::max(since, take_events(run, res.body, s));
  }
}

// Returns the watch log's last seq, following pages until it settles.
std::int64_t last_seq(const std::string& url) {
  kube::HttpClient client(bench::http_options(url));
  std::int64_t since = 0;
  for (int page = 0; page < 1000; ++page) {
    const auto res = client.request(
        "GET", fmt::format("/api/v1/events?since={}&clusterID=bench-probe"
                           "&timeout=0s",
                           since));
    const auto j = core::Json::parse(res.body, nullptr, false);
    const auto next = j.is_object() ? j.value("lastSeq", since) : since;
    if (res.status != 200 || next == since) {
      return since;
    }
    since = next;
  }
  return since;
}

// Registers every cluster once, from a few connections; returns the
// advertisements per second.
double register_fleet(Run& run, Samples& total) {
  const int threads = std::clamp(run.options.clients, 2, 8);
  std::vector<Samples> samples(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  const auto begin = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      kube::HttpClient client(bench::http_options(run.url));
      auto& s = samples[static_cast<std::size_t>(t)];
      for (std::size_t j = static_cast<std::size_t>(t); j < run.fleet.size();
           j += static_cast<std::size_t>(threads)) {
        send_counted(
            client, s, "POST", "/api/v1/advertisements",
            bench::advertisement_json(run.fleet[j], run.generation_base), 200);
      }
    });
  }
  for (auto& t : pool) {
    t.join();
  }
  for (const auto& s : samples) {
    total.merge(s);
  }
  return static_cast<double>(run.fleet.size()) /
         seconds_between(begin, Clock::now());
}

// Runs `fn(samples)` on a thread that records an escaping
// error instead of ending the process.
template <typename Fn>
std::thread guarded(Samples& s, Fn fn) {
  return std::thread([&s, fn] {
    try {
      fn(s);
    } catch (const std::exception& e) {
      ++s.errors[std::string("exception: ") + e.what()];
    }
  });
}

// Runs creators, advertisers and watchers for the timed window.
Samples timed_run(Run& run) {
  const BenchOptions& o = run.options;
  const int watchers =
      std::min<int>(o.watchers, static_cast<int>(run.fleet.size()));
  const std::int64_t since = watchers > 0 ? last_seq(run.url) : 0;
  const int advertisers = advertisers_for(run.fleet.size());
  std::vector<Samples> samples(
      static_cast<std::size_t>(o.clients + advertisers + watchers));
  std::vector<std::thread> pool;
  run.start_wall_ms = wall_ms_now();
  run.start = Clock::now() + std::chrono::milliseconds(50);
  run.end = run.start + std::chrono::milliseconds(o.duration_ms);
  std::size_t slot = 0;
  for (int w = 0; w < watchers; ++w) {
    pool.push_back(guarded(samples[slot++], [&run, w, since](Samples& s) {
      watcher(run, w, since, s);
    }));
  }
  for (int a = 0; a < advertisers; ++a) {
    pool.push_back(guarded(samples[slot++],
                           [&run, a](Samples& s) { advertiser(run, a, s); }));
  }
  for (int c = 0; c < o.clients; ++c) {
    pool.push_back(guarded(samples[slot++],
                           [&run, c](Samples& s) { creator(run, c, s); }));
  }
  for (auto& t : pool) {
    t.join();
  }
  Samples total;
  for (const auto& s : samples) {
    total.merge(s);
  }
  return total;
}

// --- what the broker says about itself ---

double lock_conflicts(const std::string& url) {
  kube::HttpClient client(bench::http_options(url));
  const auto res = client.request("GET", "/metrics");
  return metric_value(res.body, "broker_resource_lock_conflicts_total")
      .value_or(0);
}

double cpu_seconds(pid_t pid) {
  const auto ticks =
      proc_cpu_ticks(read_text(fmt::format("/proc/{}/stat", pid)));
  return static_cast<double>(ticks) /
         static_cast<double>(::sysconf(_SC_CLK_TCK));
}

void read_memory(pid_t pid, BenchReport& r) {
  const std::string status = read_text(fmt::format("/proc/{}/status", pid));
  r.broker_rss_mib =
      static_cast<double>(proc_status_kib(status, "VmRSS").value_or(0)) / 1024;
  r.broker_peak_rss_mib =
      static_cast<double>(proc_status_kib(status, "VmHWM").value_or(0)) / 1024;
}

// Runs the invariant check on the database, beside the live broker.
void check_invariant(const std::string& db, BenchReport& r) {
  auto store = open_sqlite_store(
      {.path = db, .read_only = true, .migrate = false, .readers = 1});
  const DoctorReport report = check_store(*store);
  r.doctor_holding = report.holding;
  r.checked = true;
  r.double_bookings = 0;
  for (const auto& f : report.findings) {
    // With fixed capacities an overcommit can only be a double booking.
    const bool booked_twice =
        f.error || f.message.rfind("overcommitted", 0) == 0;
    r.double_bookings += booked_twice ? 1 : 0;
    if (r.doctor_findings.size() < 20) {
      r.doctor_findings.push_back(f.object + ": " + f.message);
    }
  }
}

void fill_samples(const Run& run, Samples s, BenchReport& r) {
  const auto stop = std::max(run.end, s.last_done);
  r.elapsed_s = seconds_between(run.start, stop);
  r.creates = s.creates;
  r.reserved = s.reserved;
  r.failed = s.failed;
  r.releases = s.releases;
  r.creates_per_s = static_cast<double>(s.creates) / r.elapsed_s;
  r.create_latency = summarize(std::move(s.create_ms));
  r.notify_latency = summarize(std::move(s.notify_ms));
  r.advertisements = s.advertisements;
  if (run.options.rate > 0 && run.options.clients > 0) {
    const auto due = static_cast<std::int64_t>(
        std::ceil(run.options.rate *
                  static_cast<double>(run.options.duration_ms) / 1000));
    r.unsent = std::max<std::int64_t>(0, due - s.attempts);
  }
  const std::int64_t ads_due =
      advertisements_due(static_cast<std::int64_t>(run.fleet.size()),
                         run.options.advertise_every_ms * 1'000'000,
                         run.options.duration_ms * 1'000'000);
  r.ads_unsent = std::max<std::int64_t>(0, ads_due - s.ad_attempts);
  r.ingest_per_s = static_cast<double>(s.advertisements) /
                   seconds_between(run.start, run.end);
  for (const auto& [k, v] : s.errors) {
    r.errors[k] += v;
  }
}

void check_options(const BenchOptions& o) {
  auto bad = [](const char* flag, const char* how) {
    throw Error(Code::invalid_argument, fmt::format("{} {}", flag, how), flag);
  };
  if (o.clusters < 1) {
    bad("--clusters", "must be at least 1");
  }
  if (o.clients < 0 || o.watchers < 0) {
    bad(o.clients < 0 ? "--clients" : "--watchers", "must not be negative");
  }
  if (o.rate < 0) {
    bad("--rate", "must be 0 (closed loop) or a positive rate per second");
  }
  if (o.duration_ms <= 0 || o.advertise_every_ms <= 0) {
    bad(o.duration_ms <= 0 ? "--duration" : "--advertise-every",
        "must be above zero, such as 10s");
  }
}

// Measures against `url` (and `broker` when spawned) into `r`.
void measure(const BenchOptions& o, const std::string& url,
             BrokerProcess* broker, BenchReport& r) {
  const auto fleet = bench::make_fleet(o.clusters, o.seed);
  Run run{o, fleet, url, {}, {}, 0, core::system_clock().wall_ms() * 1000, {}};
  Samples registration;
  r.initial_ingest_per_s = register_fleet(run, registration);
  for (const auto& [k, v] : registration.errors) {
    r.errors[k] += v;
  }
  const double conflicts = lock_conflicts(url);
  const double cpu = broker ? cpu_seconds(broker->pid()) : 0;
  fill_samples(run, timed_run(run), r);
  r.lock_conflicts = static_cast<std::int64_t>(lock_conflicts(url) - conflicts);
  if (broker) {
    r.broker_cpu_s = cpu_seconds(broker->pid()) - cpu;
    read_memory(broker->pid(), r);
  }
}

std::string pin_self(pid_t broker) {
  const bool self = bench::pin_thread(0);
  if (!self) {
    return "not pinned: sched_setaffinity refused CPU 0 for the bench "
           "(or the machine has one CPU)";
  }
  return fmt::format("bench on CPU {}, broker on CPU {}", affinity_of(0),
                     affinity_of(broker));
}

} // namespace

BenchReport run_bench(const BenchOptions& options) {
  check_options(options);
  BenchReport r;
  r.options = options;
  if (options.floors) {
    r.floors = measure_floors(std::max(options.clients, 1), options.clusters,
                              options.seed, options.floor_ms);
  }
  if (!options.broker_url.empty()) {
    r.pinning = "not pinned: the broker was given with --broker";
    measure(options, options.broker_url, nullptr, r);
    if (!options.db_path.empty()) {
      check_invariant(options.db_path, r);
    }
    return r;
  }

  const fs::path dir =
      fs::temp_directory_path() / fmt::format("lrb-bench-{}-{}", ::getpid(),
                                              core::system_clock().wall_ms());
  fs::create_directories(dir);
  try {
    BrokerProcess broker(options.self_exe, dir,
                         std::max(512, options.watchers + 16));
    broker.start();
    r.spawned = true;
    r.pinning = pin_self(broker.pid());
    measure(options, broker.url(), &broker, r);
    check_invariant(broker.db(), r);
    if (options.restart_check) {
      broker.kill_hard();
      r.restart_ready_ms = broker.start();
    }
    broker.stop();
  } catch (...) {
    fs::remove_all(dir);
    throw;
  }
  fs::remove_all(dir);
  return r;
}

} // namespace lrb::daemon
