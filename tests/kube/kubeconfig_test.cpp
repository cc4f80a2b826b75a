// Tests of kubeconfig loading with kubectl's rules, on the real-shaped
// files of tests/data/kubeconfig/ and on files written per test.
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "core/error.h"
#include "kube/kubeconfig.h"
#include "kube/test_support.h"

namespace lrb::kube {

using core::Code;
using core::Error;
using testing::TempDir;

namespace {

const std::string k_data = std::string(LRB_TEST_DATA) + "/kubeconfig";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

KubeconfigFiles files_of(std::vector<std::string> paths) {
  KubeconfigFiles files;
  files.paths = std::move(paths);
  return files;
}

// Loads `yaml` written to a temporary file; the file's path is returned
// through `path` for message checks.
ClusterConfig load_text(const TempDir& dir, const std::string& yaml,
                        std::string* path = nullptr,
                        std::string_view context = {}) {
  std::string file = dir.write("config", yaml);
  if (path != nullptr) {
    *path = file;
  }
  return load_kubeconfig(files_of({file}), context);
}

// Sets or unsets an environment variable for one scope.
class ScopedEnv {
public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) {
      old_ = old;
    }
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
  const char* name_;
  std::optional<std::string> old_;
};

// A minimal kubeconfig around one cluster body and one user body.
std::string config_with(const std::string& cluster, const std::string& user) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
         "clusters:\n- name: k\n  cluster:\n" +
         cluster +
         "contexts:\n- name: c\n  context:\n    cluster: k\n    user: u\n"
         "users:\n- name: u\n  user:\n" +
         user;
}

} // namespace

TEST_CASE("kubeconfig_files follows --kubeconfig, KUBECONFIG, then HOME") {
  struct Row {
    const char* flag;
    const char* env;
    std::vector<std::string> paths;
    bool explicit_path;
  };
  const Row rows[] = {
      {"/etc/k.yaml", "/a:/b", {"/etc/k.yaml"}, true}, // the flag wins
      {"", "/a:/b", {"/a", "/b"}, false},
      {"", "/a::/b:/a:", {"/a", "/b"}, false}, // empties and repeats dropped
      {"", "", {"/home/op/.kube/config"}, false},
      {"", nullptr, {"/home/op/.kube/config"}, false},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.env ? row.env : "(unset)"));
    KubeconfigFiles files = kubeconfig_files(row.flag, row.env, "/home/op");
    CHECK(files.paths == row.paths);
    CHECK(files.explicit_path == row.explicit_path);
  }
}

TEST_CASE("several files merge: the first file to name a value wins") {
  KubeconfigFiles files =
      files_of({k_data + "/first/config", k_data + "/missing/config",
                k_data + "/second/config"});

  SUBCASE("current-context and its entries come from the first file") {
    ClusterConfig config = load_kubeconfig(files);
    CHECK(config.context == "rome-admin");
    CHECK(config.namespace_ == "lrb-system");
    // rome is taken whole from the first file: the second file's server
    // and tls-server-name for rome are not merged in.
    CHECK(config.server == "https://127.0.0.1:6443");
    CHECK(config.tls.server_name.empty());
    // Relative paths are read from beside the first file.
    CHECK(config.tls.ca_pem == slurp(k_data + "/first/pki/ca.crt"));
    CHECK(config.tls.cert_pem == slurp(k_data + "/first/pki/admin.crt"));
    CHECK(config.tls.key_pem == slurp(k_data + "/first/pki/admin.key"));
    // The second file's rome-admin user (a token) lost.
    CHECK(config.token.empty());
  }
  SUBCASE("--context picks an entry only the second file has") {
    ClusterConfig config = load_kubeconfig(files, "milan");
    CHECK(config.server == "https://[::1]:6443");
    CHECK(config.tls.server_name == "kube.milan.internal");
    CHECK(config.namespace_ == "default");
    // Relative to second/config, "../second-pki/ca.crt".
    CHECK(config.tls.ca_pem == slurp(k_data + "/second-pki/ca.crt"));
    CHECK(config.token_file == k_data + "/second/tokens/milan.token");
    CHECK(config.token == "milan-token-0001"); // newline trimmed
  }
  SUBCASE("a context of the second file still uses the first's cluster") {
    ClusterConfig config = load_kubeconfig(files, "shared");
    CHECK(config.server == "https://first.example:6443");
    CHECK(config.tls.insecure_skip_verify);
  }
}

TEST_CASE("the order of KUBECONFIG decides the winner") {
  ClusterConfig config = load_kubeconfig(
      files_of({k_data + "/second/config", k_data + "/first/config"}));
  CHECK(config.context == "milan");
  ClusterConfig rome = load_kubeconfig(
      files_of({k_data + "/second/config", k_data + "/first/config"}),
      "rome-admin");
  // The second file's rome-admin context now wins, with its own user.
  CHECK(rome.server == "https://second.example:6443");
  CHECK(rome.tls.server_name == "second-rome.internal");
  CHECK(rome.token == "milan-token-0001");
}

TEST_CASE("kubeconfig_files_from_env reads KUBECONFIG") {
  ScopedEnv env(
      "KUBECONFIG",
      (k_data + "/first/config:" + k_data + "/second/config").c_str());
  ClusterConfig config = load_kubeconfig(kubeconfig_files_from_env(""));
  CHECK(config.context == "rome-admin");
}

TEST_CASE("inline base64 data, as kind writes it") {
  ClusterConfig config = load_kubeconfig(files_of({k_data + "/kind.yaml"}));
  CHECK(config.context == "kind-lrb");
  CHECK(config.server == "https://127.0.0.1:40123");
  CHECK(config.tls.ca_pem == slurp(k_data + "/first/pki/ca.crt"));
  CHECK(config.tls.cert_pem == slurp(k_data + "/first/pki/admin.crt"));
  CHECK(config.tls.key_pem == slurp(k_data + "/first/pki/admin.key"));
  // The loaded material is usable as it is by the HTTP client.
  HttpOptions options;
  options.base_url = config.server;
  options.tls = config.tls;
  CHECK_NOTHROW(HttpClient client(options));
}

TEST_CASE("a CA together with insecure-skip-tls-verify is refused") {
  // contradiction.yaml names its CA relative to its own directory.
  try {
    load_kubeconfig(files_of({k_data + "/contradiction.yaml"}));
    FAIL("accepted");
  } catch (const Error& e) {
    std::string message = e.what();
    CHECK(e.code() == Code::invalid_argument);
    CHECK(e.field() == "clusters[paris].cluster");
    CHECK(message.find("contradiction.yaml") != std::string::npos);
    CHECK(message.find("insecure-skip-tls-verify") != std::string::npos);
  }
}

TEST_CASE("missing files: explicit is an error, in a list skipped") {
  TempDir dir;
  std::string missing = (dir.path() / "nope").string();
  KubeconfigFiles explicit_file = files_of({missing});
  explicit_file.explicit_path = true;
  CHECK_THROWS_WITH_AS(load_kubeconfig(explicit_file),
                       doctest::Contains(missing.c_str()), Error);
  CHECK_THROWS_WITH_AS(load_kubeconfig(files_of({missing, missing + "2"})),
                       doctest::Contains("no kubeconfig found"), Error);
}

TEST_CASE("an empty file is an empty config") {
  TempDir dir;
  std::string empty = dir.write("empty", "");
  ClusterConfig config =
      load_kubeconfig(files_of({empty, k_data + "/first/config"}));
  CHECK(config.context == "rome-admin");
  CHECK_THROWS_WITH_AS(load_kubeconfig(files_of({empty})),
                       doctest::Contains("no current-context"), Error);
}

TEST_CASE("errors name the file and the key") {
  TempDir dir;
  const std::string ok_cluster = "    server: https://127.0.0.1:6443\n";
  const std::string ok_user = "    token: t\n";
  struct Row {
    const char* name;
    std::string yaml;
    const char* field;
    const char* words;
  };
  const Row rows[] = {
      {"no server",
       config_with("    insecure-skip-tls-verify: true\n", ok_user),
       "clusters[k].cluster.server", "is missing"},
      {"insecure not a bool",
       config_with(ok_cluster + "    insecure-skip-tls-verify: maybe\n",
                   ok_user),
       "clusters[k].cluster.insecure-skip-tls-verify", "true or false"},
      {"bad CA base64",
       config_with(ok_cluster + "    certificate-authority-data: a$b=\n",
                   ok_user),
       "clusters[k].cluster.certificate-authority-data", "base64"},
      {"unreadable CA file",
       config_with(ok_cluster + "    certificate-authority: no/ca.crt\n",
                   ok_user),
       "clusters[k].cluster.certificate-authority", "no/ca.crt"},
      {"proxy",
       config_with(ok_cluster + "    proxy-url: http://p:3128\n", ok_user),
       "clusters[k].cluster.proxy-url", "not supported"},
      {"certificate without key",
       config_with(ok_cluster, "    client-certificate-data: eA==\n"),
       "users[u].user.client-key", "is missing"},
      {"auth-provider",
       config_with(ok_cluster, "    auth-provider:\n      name: gcp\n"),
       "users[u].user.auth-provider", "exec"},
      {"v1 exec without interactiveMode",
       config_with(ok_cluster,
                   "    exec:\n"
                   "      apiVersion: client.authentication.k8s.io/v1\n"
                   "      command: get-token\n"),
       "users[u].user.exec.interactiveMode", "required"},
      {"exec v1alpha1",
       config_with(ok_cluster,
                   "    exec:\n"
                   "      apiVersion: client.authentication.k8s.io/v1alpha1\n"
                   "      command: get-token\n"),
       "users[u].user.exec.apiVersion", "not supported"},
      {"exec args not a list",
       config_with(ok_cluster,
                   "    exec:\n"
                   "      apiVersion: client.authentication.k8s.io/v1beta1\n"
                   "      command: get-token\n"
                   "      args: --all\n"),
       "users[u].user.exec.args", "list"},
      {"clusters not a list", "clusters: {a: b}\n", "clusters", "list"},
      {"duplicate name",
       "clusters:\n- name: a\n  cluster: {}\n- name: a\n  cluster: {}\n",
       "clusters[a]", "twice"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.name));
    std::string path;
    try {
      load_text(dir, row.yaml, &path);
      FAIL("accepted");
    } catch (const Error& e) {
      std::string message = e.what();
      CHECK(e.code() == Code::invalid_argument);
      CHECK(e.field() == row.field);
      CHECK(message.find("kubeconfig \"" + path + "\"") != std::string::npos);
      CHECK(message.find(row.words) != std::string::npos);
    }
  }
}

TEST_CASE("hostile shapes are errors, never crashes") {
  // Each document puts the wrong kind of node where a mapping, list or
  // scalar belongs; the fuzzer found the env case first.
  const char* docs[] = {
      "- a\n- b\n",
      "clusters: [just-a-string]\n",
      "clusters:\n- name: [a]\n",
      "clusters:\n- name: k\n  cluster: scalar\n",
      "current-context: c\ncontexts:\n- name: c\n  context: 7\n",
      "current-context: c\nclusters:\n- name: k\n  cluster:\n"
      "    server: {a: b}\ncontexts:\n- name: c\n  context:\n"
      "    cluster: k\n",
      "current-context: c\nclusters:\n- name: k\n  cluster:\n"
      "    server: https://h\ncontexts:\n- name: c\n  context:\n"
      "    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n"
      "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
      "      command: x\n      env: [{name: A, value: [b]}]\n",
      "current-context: c\nclusters:\n- name: k\n  cluster:\n"
      "    server: https://h\ncontexts:\n- name: c\n  context:\n"
      "    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n"
      "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
      "      command: x\n      env: [{value: b}]\n",
      "current-context: c\nclusters:\n- name: k\n  cluster:\n"
      "    server: https://h\ncontexts:\n- name: c\n  context:\n"
      "    cluster: k\n    user: u\nusers:\n- name: u\n  user:\n"
      "    exec: [1, 2]\n",
  };
  for (const char* doc : docs) {
    INFO(std::string(doc));
    CHECK_THROWS_AS(load_kubeconfig_text(doc, "/nonexistent/config"), Error);
  }
}

TEST_CASE("load_kubeconfig_text resolves paths against the origin") {
  std::string yaml = "current-context: c\nclusters:\n- name: k\n"
                     "  cluster:\n    server: https://127.0.0.1:6443\n"
                     "    certificate-authority: pki/ca.crt\n"
                     "contexts:\n- name: c\n  context: {cluster: k}\n";
  ClusterConfig config = load_kubeconfig_text(yaml, k_data + "/first/stdin");
  CHECK(config.tls.ca_pem == slurp(k_data + "/first/pki/ca.crt"));
  CHECK(config.user.empty()); // no user: anonymous
}

TEST_CASE("context errors name the context") {
  TempDir dir;
  std::string yaml = "current-context: c\n"
                     "contexts:\n- name: c\n  context:\n    cluster: gone\n";
  CHECK_THROWS_WITH_AS(load_text(dir, yaml),
                       doctest::Contains("cluster \"gone\" is not defined"),
                       Error);
  CHECK_THROWS_WITH_AS(load_text(dir, yaml, nullptr, "other"),
                       doctest::Contains("context \"other\" is not defined"),
                       Error);
}

TEST_CASE("YAML syntax errors give the file and line") {
  TempDir dir;
  std::string path;
  // Line 3 opens a flow sequence that never closes.
  std::string yaml = "apiVersion: v1\nkind: Config\nclusters: [\n";
  CHECK_THROWS_WITH_AS(load_text(dir, yaml, &path), doctest::Contains("line"),
                       Error);
}

TEST_CASE("exec settings: null args and env, relative command") {
  TempDir dir;
  std::string yaml = config_with("    server: https://127.0.0.1:6443\n",
                                 "    exec:\n"
                                 "      apiVersion: "
                                 "client.authentication.k8s.io/v1beta1\n"
                                 "      command: ./bin/get-token\n"
                                 "      args: null\n"
                                 "      env: null\n");
  std::string path;
  ClusterConfig config = load_text(dir, yaml, &path);
  REQUIRE(config.exec);
  CHECK(config.exec->command == (dir.path() / "bin/get-token").string());
  CHECK(config.exec->args.empty());
  CHECK(config.exec->env.empty());
  CHECK(config.exec->interactive_mode == "IfAvailable"); // v1beta1 default

  std::string v1 =
      config_with("    server: https://127.0.0.1:6443\n",
                  "    exec:\n"
                  "      apiVersion: client.authentication.k8s.io/v1\n"
                  "      command: aws\n"
                  "      args: [eks, get-token]\n"
                  "      env:\n      - name: AWS_PROFILE\n"
                  "        value: lrb\n"
                  "      interactiveMode: Never\n"
                  "      provideClusterInfo: true\n");
  config = load_text(dir, v1);
  REQUIRE(config.exec);
  CHECK(config.exec->command == "aws"); // a bare name stays a PATH lookup
  CHECK(config.exec->args == std::vector<std::string>{"eks", "get-token"});
  CHECK(config.exec->env.size() == 1);
  CHECK(config.exec->env[0].first == "AWS_PROFILE");
  CHECK(config.exec->env[0].second == "lrb");
  CHECK(config.exec->provide_cluster_info);
}

TEST_CASE("decode_base64 on a table") {
  struct Row {
    const char* in;
    const char* out;
  };
  const Row rows[] = {
      {"", ""},
      {"bHJi", "lrb"},              // 3 bytes -> 4 symbols, no padding
      {"bHI=", "lr"},               // 2 bytes -> one '='
      {"bA==", "l"},                // 1 byte -> two '='
      {"bHJi\nYnJv\r\n", "lrbbro"}, // line breaks are skipped
  };
  for (const auto& row : rows) {
    INFO(std::string(row.in));
    CHECK(decode_base64(row.in, "f") == row.out);
  }
  for (const char* bad : {"bHJ", "bH=i", "b*Ji", "bA==bA==", "===="}) {
    INFO(std::string(bad));
    CHECK_THROWS_AS(decode_base64(bad, "f"), Error);
  }
}

TEST_CASE("in-cluster config from the environment and the mounted files") {
  TempDir dir;
  InClusterPaths paths;
  paths.token_file = dir.write("token", "sa-token-1\n");
  paths.ca_file = dir.write("ca.crt", "CA PEM");
  paths.namespace_file = dir.write("namespace", "lrb-system");

  struct Row {
    const char* host;
    const char* port;
    const char* server;
  };
  const Row rows[] = {
      {"10.96.0.1", "443", "https://10.96.0.1:443"},
      {"::1", "6443", "https://[::1]:6443"}, // IPv6 in brackets
      {"fd00:10:96::1", "443", "https://[fd00:10:96::1]:443"},
  };
  for (const auto& row : rows) {
    INFO(std::string(row.host));
    ScopedEnv host("KUBERNETES_SERVICE_HOST", row.host);
    ScopedEnv port("KUBERNETES_SERVICE_PORT", row.port);
    ClusterConfig config = load_in_cluster(paths);
    CHECK(config.server == row.server);
    CHECK(config.token == "sa-token-1");
    CHECK(config.token_file == paths.token_file);
    CHECK(config.tls.ca_pem == "CA PEM");
    CHECK(config.namespace_ == "lrb-system");
  }
}

TEST_CASE("in-cluster errors") {
  TempDir dir;
  InClusterPaths paths;
  paths.token_file = (dir.path() / "token").string();
  paths.ca_file = dir.write("ca.crt", "CA PEM");
  {
    ScopedEnv host("KUBERNETES_SERVICE_HOST", nullptr);
    ScopedEnv port("KUBERNETES_SERVICE_PORT", nullptr);
    CHECK_THROWS_WITH_AS(load_in_cluster(paths),
                         doctest::Contains("not running in a cluster"), Error);
  }
  ScopedEnv host("KUBERNETES_SERVICE_HOST", "127.0.0.1");
  ScopedEnv port("KUBERNETES_SERVICE_PORT", "6443");
  CHECK_THROWS_WITH_AS(load_in_cluster(paths),
                       doctest::Contains(paths.token_file.c_str()), Error);
}

} // namespace lrb::kube
