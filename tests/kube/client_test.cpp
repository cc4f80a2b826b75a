// Tests of the Kubernetes client against the fake API server, run
// in-process on 127.0.0.1 (and ::1 for the in-cluster case): paging,
// Status errors, 410 restarts, retries and their backoff, 401
// re-authentication with rotating tokens and exec plugins, client
// certificates, and Liqo ResourceSlices.
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "fake_kube/fake_kube_server.h"
#include "kube/client.h"
#include "kube/test_support.h"

namespace lrb::kube {

using core::Code;
using core::Error;
using fake_kube::FakeKube;
using testing::Pki;
using testing::TempDir;

namespace {

const std::string k_slices =
    "/apis/authentication.liqo.io/v1beta1/namespaces/liqo-tenant/"
    "resourceslices";

// A List of 2 nodes and 7 pods: 4 in "apps", 3 in "batch".
Json snapshot() {
  Json items = Json::array();
  for (const char* node : {"node-b", "node-a"}) {
    items.push_back({{"kind", "Node"},
                     {"apiVersion", "v1"},
                     {"metadata", {{"name", node}}}});
  }
  for (const char* pod :
       {"apps/web-1", "apps/web-2", "apps/web-3", "apps/web-4", "batch/job-1",
        "batch/job-2", "batch/job-3"}) {
    std::string key = pod;
    auto slash = key.find('/');
    items.push_back({{"kind", "Pod"},
                     {"apiVersion", "v1"},
                     {"metadata",
                      {{"namespace", key.substr(0, slash)},
                       {"name", key.substr(slash + 1)}}}});
  }
  return {{"kind", "List"}, {"apiVersion", "v1"}, {"items", items}};
}

// A fake server with a fresh PKI, and a client config that trusts it.
struct Fixture {
  Pki pki = Pki::make();
  std::unique_ptr<FakeKube> fake;
  ClusterConfig config;
  std::vector<std::chrono::milliseconds> sleeps;

  explicit Fixture(fake_kube::Options options = {},
                   const std::string& host = "127.0.0.1") {
    options.host = host;
    options.cert_pem = pki.server.cert_pem;
    options.key_pem = pki.server.key_pem;
    if (options.snapshot.empty()) {
      options.snapshot = snapshot();
    }
    if (options.tokens.empty() && options.client_ca_pem.empty()) {
      options.tokens["t0ken"] = "alice";
    }
    fake = std::make_unique<FakeKube>(options);
    fake->start();
    config.server = fake->url();
    config.tls.ca_pem = pki.ca.cert_pem;
    config.token = "t0ken";
  }

  // Returns client options that record sleeps instead of sleeping.
  KubeClientOptions client_options(int max_attempts = 5) {
    KubeClientOptions o;
    o.retry.max_attempts = max_attempts;
    o.jitter_seed = 42;
    o.sleep = [this](std::chrono::milliseconds d) { sleeps.push_back(d); };
    return o;
  }
};

std::vector<std::string> names_of(const Json& items) {
  std::vector<std::string> out;
  for (const Json& item : items) {
    out.push_back(item["metadata"]["name"].get<std::string>());
  }
  return out;
}

// Returns the Error thrown by `fn`, failing the test when none is.
template <typename Fn>
Error error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  }
  FAIL("no error thrown");
  return Error(Code::internal, "unreachable");
}

} // namespace

TEST_CASE("a list comes in pages with limit and continue") {
  Fixture f;
  KubeClient client(f.config, f.client_options());
  std::vector<std::string> names;
  std::vector<std::size_t> sizes;
  std::vector<std::optional<std::int64_t>> remaining;
  std::vector<std::string> versions;
  std::string rv = client.list("/api/v1/pods", 3, [&](const ListPage& page) {
    CHECK(page.index == static_cast<int>(sizes.size()));
    CHECK_FALSE(page.restarted);
    sizes.push_back(page.items.size());
    remaining.push_back(page.remaining);
    versions.push_back(page.resource_version);
    for (const auto& name : names_of(page.items)) {
      names.push_back(name);
    }
  });
  // 7 pods by 3: pages of 3, 3 and 1, with 7-3 = 4 and 7-6 = 1 left
  // after the first two; the last page sends no count.
  CHECK(sizes == std::vector<std::size_t>{3, 3, 1});
  CHECK(remaining ==
        std::vector<std::optional<std::int64_t>>{4, 1, std::nullopt});
  // Sorted by namespace/name, as the API server's storage orders them.
  CHECK(names == std::vector<std::string>{"web-1", "web-2", "web-3", "web-4",
                                          "job-1", "job-2", "job-3"});
  CHECK(versions == std::vector<std::string>{rv, rv, rv});
  CHECK_FALSE(rv.empty());
  CHECK(f.fake->request_count("/api/v1/pods") == 3);
}

TEST_CASE("a namespaced list and a list without a limit") {
  Fixture f;
  KubeClient client(f.config, f.client_options());
  std::vector<std::string> names;
  client.list("/api/v1/namespaces/batch/pods", 2, [&](const ListPage& page) {
    for (const auto& name : names_of(page.items)) {
      names.push_back(name);
    }
  });
  CHECK(names == std::vector<std::string>{"job-1", "job-2", "job-3"});
  CHECK(f.fake->request_count("/api/v1/namespaces/batch/pods") == 2);

  int pages = 0;
  client.list("/api/v1/nodes", 0, [&](const ListPage& page) {
    ++pages;
    CHECK(names_of(page.items) == std::vector<std::string>{"node-a", "node-b"});
  });
  CHECK(pages == 1);
}

TEST_CASE("an expired continue token restarts the list") {
  fake_kube::Options options;
  options.expire_continue = 1;
  Fixture f(options);
  KubeClient client(f.config, f.client_options());
  std::vector<std::string> names;
  std::vector<bool> restarted;
  client.list("/api/v1/pods", 3, [&](const ListPage& page) {
    restarted.push_back(page.restarted);
    if (page.restarted) {
      names.clear(); // what earlier pages gave is stale
    }
    for (const auto& name : names_of(page.items)) {
      names.push_back(name);
    }
  });
  // Page 0, then 410 on the first continue, then pages 0, 1, 2 again.
  CHECK(restarted == std::vector<bool>{false, true, false, false});
  CHECK(names.size() == 7);
  CHECK(f.fake->request_count("/api/v1/pods") == 5); // 1 + 1 + 3
}

TEST_CASE("a list that keeps expiring gives up with gone") {
  fake_kube::Options options;
  options.expire_continue = 100;
  Fixture f(options);
  KubeClientOptions o = f.client_options();
  o.max_list_restarts = 2;
  KubeClient client(f.config, o);
  Error e =
      error_of([&] { client.list("/api/v1/pods", 3, [](const ListPage&) {}); });
  CHECK(e.code() == Code::gone);
  CHECK(e.reason() == "Expired");
  CHECK(std::string(e.what()).find("expired 3 times") != std::string::npos);
}

TEST_CASE("Status errors carry the API server's reason and message") {
  fake_kube::Options options;
  options.tokens = {{"t0ken", "bob"}};
  options.forbidden_users = {"bob"};
  Fixture f(options);
  KubeClient client(f.config, f.client_options());
  Error e = error_of([&] { client.get("/api/v1/nodes?limit=10"); });
  CHECK(e.code() == Code::permission_denied);
  CHECK(e.reason() == "Forbidden");
  CHECK(std::string(e.what()) ==
        "kubernetes API 403 Forbidden: nodes is forbidden: User \"bob\" "
        "cannot list resource \"nodes\" in API group \"\" at the cluster "
        "scope");
  CHECK(f.fake->request_count("/api/v1/nodes") == 1); // 4xx: no retry
  CHECK(f.sleeps.empty());
}

TEST_CASE("status_error on a table of answers") {
  struct Row {
    int status;
    const char* body;
    Code code;
    const char* message;
  };
  const Row rows[] = {
      {404,
       R"({"kind":"Status","status":"Failure","reason":"NotFound",
           "message":"nodes \"x\" not found","code":404})",
       Code::not_found, "kubernetes API 404 NotFound: nodes \"x\" not found"},
      {409, R"({"kind":"Status","reason":"AlreadyExists","message":"m"})",
       Code::conflict, "kubernetes API 409 AlreadyExists: m"},
      {429, R"({"kind":"Status","reason":"TooManyRequests","message":"m"})",
       Code::unavailable, "kubernetes API 429 TooManyRequests: m"},
      {502, "<html>bad gateway</html>", Code::unavailable,
       "kubernetes API 502: <html>bad gateway</html>"},
      {500, "", Code::internal, "kubernetes API 500: (empty body)"},
  };
  for (const auto& row : rows) {
    INFO(row.status);
    Error e = status_error(row.status, row.body);
    CHECK(e.code() == row.code);
    CHECK(std::string(e.what()) == row.message);
  }
}

TEST_CASE("a missing object is not_found") {
  Fixture f;
  KubeClient client(f.config, f.client_options());
  Error e = error_of([&] { client.get("/api/v1/nodes/nope"); });
  CHECK(e.code() == Code::not_found);
  CHECK(std::string(e.what()) ==
        "kubernetes API 404 NotFound: nodes \"nope\" not found");
  CHECK(client.get("/api/v1/nodes/node-a")["kind"] == "Node");
}

TEST_CASE("retries back off with jitter, within bounds") {
  Fixture f;
  f.fake->fail_next(3, 503);
  KubeClient client(f.config, f.client_options());
  CHECK(client.get("/api/v1/nodes")["kind"] == "NodeList");
  CHECK(f.fake->request_count("/api/v1/nodes") == 4);
  // Attempt n waits half of 200 ms * 2^(n-1) plus up to the other half:
  // [100, 200], [200, 400], [400, 800].
  REQUIRE(f.sleeps.size() == 3);
  const std::int64_t low[] = {100, 200, 400};
  for (std::size_t i = 0; i < 3; ++i) {
    INFO(i);
    CHECK(f.sleeps[i].count() >= low[i]);
    CHECK(f.sleeps[i].count() <= 2 * low[i]);
  }
}

TEST_CASE("429 honours Retry-After up to the maximum backoff") {
  Fixture f;
  f.fake->fail_next(1, 429, 2);
  KubeClient client(f.config, f.client_options());
  client.get("/version");
  REQUIRE(f.sleeps.size() == 1);
  CHECK(f.sleeps[0] == std::chrono::seconds(2));

  f.sleeps.clear();
  f.fake->fail_next(1, 429, 60); // 60 s capped at max_backoff, 5 s
  client.get("/version");
  REQUIRE(f.sleeps.size() == 1);
  CHECK(f.sleeps[0] == std::chrono::seconds(5));
}

TEST_CASE("retries are bounded and the last answer is reported") {
  Fixture f;
  f.fake->fail_next(10, 500);
  KubeClient client(f.config, f.client_options(3));
  Error e = error_of([&] { client.get("/api/v1/nodes"); });
  CHECK(e.code() == Code::internal);
  CHECK(std::string(e.what()) ==
        "kubernetes API 500 InternalError: injected failure");
  CHECK(f.fake->request_count("/api/v1/nodes") == 3);
  CHECK(f.sleeps.size() == 2);
}

TEST_CASE("transport errors are retried, then unavailable") {
  ClusterConfig config;
  config.server = "https://127.0.0.1:" + std::to_string(testing::unused_port());
  std::vector<std::chrono::milliseconds> sleeps;
  KubeClientOptions o;
  o.retry.max_attempts = 3;
  o.sleep = [&](std::chrono::milliseconds d) { sleeps.push_back(d); };
  KubeClient client(config, o);
  Error e = error_of([&] { client.get("/version"); });
  CHECK(e.code() == Code::unavailable);
  std::string message = e.what();
  CHECK(message.starts_with("cannot reach " + config.server));
  CHECK(message.ends_with("(attempt 3 of 3)"));
  CHECK(sleeps.size() == 2);
}

TEST_CASE("creates are retried on 429 only") {
  Fixture f;
  KubeClient client(f.config, f.client_options());
  Json slice = {{"apiVersion", "authentication.liqo.io/v1beta1"},
                {"kind", "ResourceSlice"},
                {"metadata", {{"name", "s1"}}},
                {"spec", {{"resources", {{"cpu", "1"}}}}}};
  f.fake->fail_next(1, 503);
  CHECK(error_of([&] { client.create(k_slices, slice); }).code() ==
        Code::unavailable);
  CHECK_FALSE(f.fake->slice("liqo-tenant", "s1"));

  f.fake->fail_next(1, 429);
  CHECK(client.create(k_slices, slice)["metadata"]["name"] == "s1");
  CHECK(f.fake->request_count(k_slices) == 3); // 503, 429, 201
}

TEST_CASE("a 401 re-reads a rotated token file once") {
  TempDir dir;
  Fixture f;
  f.fake->set_tokens({{"token-new", "alice"}});
  f.config.token_file = dir.write("token", "token-old");
  f.config.token = "token-old";
  KubeClient client(f.config, f.client_options());

  // The file still holds the rejected token: one re-read, then the 401.
  Error e = error_of([&] { client.get("/api/v1/nodes"); });
  CHECK(e.code() == Code::unauthenticated);
  CHECK(e.reason() == "Unauthorized");

  dir.write("token", "token-new");
  CHECK(client.get("/api/v1/nodes")["kind"] == "NodeList");
  std::vector<std::string> auths = f.fake->authorizations();
  CHECK(auths == std::vector<std::string>{"Bearer token-old",
                                          "Bearer token-old",
                                          "Bearer token-new"});
}

TEST_CASE("a 401 re-runs the exec plugin once") {
  TempDir dir;
  Fixture f;
  f.fake->set_tokens({{"tok-2", "alice"}});
  // Prints tok-1, tok-2, ... one more on every run.
  std::string plugin = dir.write(
      "plugin.sh",
      "#!/bin/sh\nd=$(dirname \"$0\")\n"
      "n=$(( $(cat \"$d/runs\" 2>/dev/null || echo 0) + 1 ))\n"
      "echo \"$n\" > \"$d/runs\"\n"
      "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\","
      "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"tok-%s\"}}' "
      "\"$n\"\n");
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  f.config.token.clear();
  f.config.exec = ExecConfig{};
  f.config.exec->api_version = "client.authentication.k8s.io/v1";
  f.config.exec->command = plugin;
  f.config.exec->interactive_mode = "Never";
  KubeClient client(f.config, f.client_options());
  CHECK(client.get("/api/v1/nodes")["kind"] == "NodeList");
  CHECK(f.fake->authorizations() ==
        std::vector<std::string>{"Bearer tok-1", "Bearer tok-2"});
}

TEST_CASE("client certificates identify the user") {
  fake_kube::Options options;
  Pki pki = Pki::make();
  options.client_ca_pem = pki.ca.cert_pem;
  options.forbidden_users = {"alice"}; // the client certificate's CN
  Fixture f(options);
  f.config.token.clear();

  KubeClient anonymous(f.config, f.client_options());
  CHECK(error_of([&] { anonymous.get("/api/v1/nodes"); }).code() ==
        Code::unauthenticated);

  f.config.tls.cert_pem = pki.client.cert_pem;
  f.config.tls.key_pem = pki.client.key_pem;
  KubeClient client(f.config, f.client_options());
  Error e = error_of([&] { client.get("/api/v1/nodes"); });
  CHECK(std::string(e.what()).find("User \"alice\"") != std::string::npos);
  CHECK(client.get("/version")["gitVersion"] == "v1.30.0-lrb-fake");
}

TEST_CASE("ResourceSlices: create, get, status, delete") {
  fake_kube::Options options;
  options.auto_accept = 0.5;
  Fixture f(options);
  KubeClient client(f.config, f.client_options());
  Json slice = {
      {"apiVersion", "authentication.liqo.io/v1beta1"},
      {"kind", "ResourceSlice"},
      {"metadata", {{"name", "r-42"}}},
      {"spec",
       {{"class", "default"},
        {"providerClusterID", "milan"},
        {"resources", {{"cpu", "3"}, {"memory", "8Gi"}, {"pods", "11"}}}}}};

  Json created = client.create(k_slices, slice);
  CHECK(created["metadata"]["namespace"] == "liqo-tenant");
  CHECK_FALSE(created["metadata"]["uid"].get<std::string>().empty());
  CHECK_FALSE(
      created["metadata"]["resourceVersion"].get<std::string>().empty());
  CHECK(created["metadata"].contains("creationTimestamp"));
  // Half of each, rounded down: 3 -> 1500m, 8Gi -> 4Gi, 11 -> 5.
  CHECK(created["status"]["resources"] ==
        Json{{"cpu", "1500m"}, {"memory", "4Gi"}, {"pods", "5"}});
  CHECK(created["status"]["conditions"][0]["type"] == "Resources");
  CHECK(created["status"]["conditions"][0]["status"] == "Accepted");

  Error dup = error_of([&] { client.create(k_slices, slice); });
  CHECK(dup.code() == Code::conflict);
  CHECK(dup.reason() == "AlreadyExists");

  // The control endpoint sets the status a provider would.
  HttpOptions control;
  control.base_url = f.fake->url();
  control.tls.ca_pem = f.pki.ca.cert_pem;
  Json denied = {
      {"conditions", {{{"type", "Resources"}, {"status", "Denied"}}}}};
  HttpClient(control).request(
      "POST", "/fake/resourceslices/liqo-tenant/r-42/status", denied.dump());
  Json got = client.get(k_slices + "/r-42");
  CHECK(got["status"] == denied);
  CHECK(got["metadata"]["resourceVersion"] !=
        created["metadata"]["resourceVersion"]);

  int listed = 0;
  client.list(k_slices, 10, [&](const ListPage& page) {
    listed += static_cast<int>(page.items.size());
  });
  CHECK(listed == 1);

  client.remove(k_slices + "/r-42");
  CHECK(error_of([&] { client.get(k_slices + "/r-42"); }).code() ==
        Code::not_found);
  CHECK(error_of([&] { client.remove(k_slices + "/r-42"); }).code() ==
        Code::not_found);
}

TEST_CASE("in-cluster over IPv6 with a rotating service-account token") {
  fake_kube::Options options;
  options.tokens = {{"sa-1", "system:serviceaccount:lrb:agent"}};
  std::unique_ptr<Fixture> f;
  try {
    f = std::make_unique<Fixture>(options, "::1");
  } catch (const std::exception&) {
    MESSAGE("::1 is not available here; skipping");
    return;
  }
  TempDir dir;
  InClusterPaths paths;
  paths.token_file = dir.write("token", "sa-1");
  paths.ca_file = dir.write("ca.crt", f->pki.ca.cert_pem);
  paths.namespace_file = (dir.path() / "namespace").string();
  std::string port = f->config.server.substr(f->config.server.rfind(':') + 1);
  setenv("KUBERNETES_SERVICE_HOST", "::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", port.c_str(), 1);
  ClusterConfig config = load_in_cluster(paths);
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  CHECK(config.server == "https://[::1]:" + port);

  KubeClient client(config, f->client_options());
  CHECK(client.get("/api/v1/nodes")["kind"] == "NodeList");

  // The kubelet rotates the token; the server stops taking the old one.
  std::string next = dir.write("token.new", "sa-2");
  std::filesystem::rename(next, paths.token_file);
  f->fake->set_tokens({{"sa-2", "system:serviceaccount:lrb:agent"}});
  CHECK(client.get("/api/v1/nodes")["kind"] == "NodeList");
  CHECK(f->fake->authorizations().back() == "Bearer sa-2");
}

} // namespace lrb::kube
