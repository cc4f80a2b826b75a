// Tests of the agent's decisions, which are pure so that they can be
// checked without a broker or an API server: generations that only grow
// (also across a restart), which reservation offloaded pods are charged
// to, the ResourceSlice it creates, the hook environment and the hook
// runner, and the table that maps the broker's phase and the slice's
// existence to one action. The loops around them are exercised by the
// end-to-end suites tests/e2e/agent_*_test.sh.
#include <doctest/doctest.h>

#include "daemon/agent.h"
#include "daemon/daemon_support.h"

namespace lrb::daemon {

namespace {

using core::Phase;
using testing::k_gi;

core::ResourceList list(std::int64_t cpu_milli, std::int64_t mem_bytes,
                        std::int64_t gpus = -1) {
  core::ResourceList l;
  l.set("cpu", cpu_milli);
  l.set("memory", mem_bytes);
  if (gpus >= 0) {
    l.set("gpu", gpus);
  }
  return l;
}

core::Reservation reservation(const std::string& id,
                              const std::string& requester,
                              const core::ResourceList& granted) {
  core::Reservation r;
  r.id = id;
  r.request.requester_id = requester;
  r.request.requested = granted;
  r.granted = granted;
  r.target_cluster_id = "paris";
  r.target_endpoint = "https://paris.example:6443";
  r.status.phase = Phase::reserved;
  return r;
}

} // namespace

TEST_CASE("generations only grow, also across a restart") {
  testing::TempDir dir;
  {
    GenerationStore store(dir.file("state"));
    CHECK(store.advance(1000) == 1000); // max(0 + 1, 1000)
    CHECK(store.advance(500) == 1001);  // clock stepped back: 1000 + 1
    CHECK(store.advance(1001) == 1002); // same ms again: 1001 + 1
  }
  GenerationStore restarted(dir.file("state"));
  CHECK(restarted.advance(900) == 1003);  // persisted 1002 + 1
  CHECK(restarted.advance(5000) == 5000); // wall clock ahead again

  GenerationStore forgetful("");
  CHECK(forgetful.advance(7) == 7);
  CHECK(forgetful.advance(7) == 8);
}

TEST_CASE("offloaded pods are charged to holding reservations in id order") {
  // rome offloaded 5 cores and 10Gi here; its reservations r-a (2 cores,
  // 4Gi) and r-b (4 cores, 8Gi) hold capacity on this cluster.
  std::map<std::string, core::ResourceList> offloaded = {
      {"rome", list(5000, 10 * k_gi)}, {"berlin", list(1000, 1 * k_gi)}};
  std::vector<core::Reservation> provided = {
      reservation("r-b", "rome", list(4000, 8 * k_gi)),
      reservation("r-a", "rome", list(2000, 4 * k_gi)),
      reservation("r-c", "madrid", list(1000, 1 * k_gi))};

  auto consumed = attribute_consumed(offloaded, provided);
  REQUIRE(consumed.size() == 2); // berlin holds nothing; madrid runs nothing
  // r-a first: min(5000, 2000) = 2000m, min(10Gi, 4Gi) = 4Gi.
  CHECK(consumed["r-a"] == list(2000, 4 * k_gi));
  // r-b: what is left, 5000 - 2000 = 3000m, 10Gi - 4Gi = 6Gi (under 4/8).
  CHECK(consumed["r-b"] == list(3000, 6 * k_gi));
}

TEST_CASE("offloaded pods beyond every grant are not attributed") {
  // 9 cores offloaded, one reservation of 4: capped at 4000m; a GPU the
  // grant does not name is not charged either.
  std::map<std::string, core::ResourceList> offloaded = {
      {"rome", list(9000, 2 * k_gi, 1)}};
  auto consumed = attribute_consumed(
      offloaded, {reservation("r-1", "rome", list(4000, 8 * k_gi))});
  CHECK(consumed["r-1"] == list(4000, 2 * k_gi));
}

TEST_CASE("the ResourceSlice asks the provider for the granted amounts") {
  auto r = reservation("r-7", "rome", list(2500, 4 * k_gi, 1));
  std::string ns = tenant_namespace("liqo-tenant-{cluster}", "paris");
  CHECK(ns == "liqo-tenant-paris");
  core::Json s = slice_object(r, ns);
  CHECK(s["apiVersion"] == "authentication.liqo.io/v1beta1");
  CHECK(s["kind"] == "ResourceSlice");
  CHECK(s["metadata"]["name"] == "r-7");
  CHECK(s["metadata"]["namespace"] == "liqo-tenant-paris");
  CHECK(s["metadata"]["labels"]["lrb.io/reservation-id"] == "r-7");
  CHECK(s["metadata"]["labels"]["liqo.io/remote-cluster-id"] == "paris");
  CHECK(s["spec"]["class"] == "default");
  CHECK(s["spec"]["providerClusterID"] == "paris");
  CHECK(s["spec"]["resources"] == core::Json{{"cpu", "2500m"},
                                             {"memory", "4Gi"},
                                             {"nvidia.com/gpu", "1"}});
  CHECK(slice_path("liqo-tenant-paris") ==
        "/apis/authentication.liqo.io/v1beta1/namespaces/liqo-tenant-paris/"
        "resourceslices");
}

TEST_CASE("the provider's answer is read from the Resources condition") {
  auto with = [](core::Json condition) {
    return core::Json{{"status", {{"conditions", {condition}}}}};
  };
  CHECK(slice_answer(core::Json::object()) == SliceAnswer::none);
  CHECK(slice_answer(with({{"type", "Resources"}, {"status", "Accepted"}})) ==
        SliceAnswer::accepted);
  CHECK(slice_answer(with({{"type", "Resources"}, {"status", "Denied"}})) ==
        SliceAnswer::denied);
  CHECK(slice_answer(with({{"type", "Authentication"},
                           {"status", "Accepted"}})) == SliceAnswer::none);
  CHECK(slice_answer(
            with({{"type", "Resources"}, {"reason", "ResourcesDenied"}})) ==
        SliceAnswer::denied);
}

TEST_CASE("reconciliation: broker phase x slice state -> one action") {
  using A = Action;
  using S = SliceAnswer;
  struct Row {
    Phase phase;
    bool liqo;
    bool exists;
    S answer;
    A want;
  };
  const Row rows[] = {
      {Phase::reserved, true, false, S::none, A::create_slice},
      {Phase::reserved, true, true, S::none, A::wait},
      {Phase::reserved, true, true, S::accepted, A::activate},
      {Phase::reserved, true, true, S::denied, A::release},
      // Active: activated already (maybe before a restart): never again.
      {Phase::active, true, true, S::accepted, A::none},
      {Phase::active, true, false, S::none, A::none},
      {Phase::released, true, true, S::accepted, A::delete_slice},
      {Phase::expired, true, true, S::none, A::delete_slice},
      {Phase::failed, true, true, S::none, A::delete_slice},
      {Phase::released, true, false, S::none, A::none},
      {Phase::pending, true, false, S::none, A::none},
      {Phase::reserved, false, false, S::none, A::run_hook},
      {Phase::active, false, false, S::none, A::none},
      {Phase::released, false, false, S::none, A::none},
  };
  for (const auto& row : rows) {
    CAPTURE(core::phase_name(row.phase));
    CAPTURE(row.exists);
    CHECK(action_name(decide(row.phase, row.liqo, row.exists, row.answer)) ==
          action_name(row.want));
  }
}

TEST_CASE("the hook environment names the reservation and its amounts") {
  auto r = reservation("r-9", "rome", list(1500, 3 * k_gi / 2, 2));
  auto env = hook_environment(r);
  CHECK(env["LRB_RESERVATION_ID"] == "r-9");
  CHECK(env["LRB_PROVIDER"] == "paris");
  CHECK(env["LRB_PROVIDER_ENDPOINT"] == "https://paris.example:6443");
  CHECK(env["LRB_REQUESTER"] == "rome");
  CHECK(env["LRB_CPU"] == "1500m");
  CHECK(env["LRB_MEMORY"] == "1536Mi"); // 1.5 Gi = 1536 Mi
  CHECK(env["LRB_GPU"] == "2");
  CHECK(env.size() == 7);
}

TEST_CASE("hooks get stdin and the environment; stderr's last line is kept") {
  auto ok = run_hook("read line; test \"$line\" = hello && "
                     "test \"$LRB_X\" = 42",
                     {{"LRB_X", "42"}}, "hello\n", 10'000);
  CHECK(ok.exit_code == 0);
  CHECK_FALSE(ok.timed_out);

  auto bad = run_hook("echo first >&2; printf '  no room here  \\n\\n' >&2; "
                      "exit 3",
                      {}, "", 10'000);
  CHECK(bad.exit_code == 3);
  CHECK(bad.last_line() == "no room here");

  auto slow = run_hook("sleep 5", {}, "", 200);
  CHECK(slow.timed_out);
  CHECK(slow.exit_code == -1);
}

} // namespace lrb::daemon
