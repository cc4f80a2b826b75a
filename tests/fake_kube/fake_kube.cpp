// fake_kube: the fake Kubernetes API server as a program, for end-to-end
// tests that point kubectl or `lrb agent` at it. It serves until SIGTERM
// or SIGINT and writes its ephemeral port to --port-file (by a rename,
// so a reader never sees half a number).
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "fake_kube/fake_kube_server.h"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_port_file(const std::string& path, int port) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << port << "\n";
  std::filesystem::rename(tmp, path);
}

// Blocks until SIGTERM or SIGINT arrives.
void wait_for_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"fake_kube: a fake Kubernetes API server for lrb's tests"};
  std::string snapshot;
  std::string cert;
  std::string key;
  std::string client_ca;
  std::string port_file;
  std::vector<std::string> tokens;
  std::vector<std::string> forbidden;
  lrb::fake_kube::Options options;
  double auto_accept = -1;
  app.add_option("--snapshot", snapshot,
                 "kubectl get nodes,pods -A -o json output to serve");
  app.add_option("--tls-cert", cert, "server certificate (PEM)")->required();
  app.add_option("--tls-key", key, "server private key (PEM)")->required();
  app.add_option("--client-ca", client_ca,
                 "CA bundle that signs accepted client certificates");
  app.add_option("--token", tokens,
                 "accepted bearer token, TOKEN or TOKEN=USER (repeatable)");
  app.add_option("--forbid", forbidden, "user answered 403 (repeatable)");
  app.add_option("--expire-continue", options.expire_continue,
                 "answer 410 Expired to the first N continue tokens");
  app.add_option("--auto-accept", auto_accept,
                 "grant this share (0-1) of each new ResourceSlice")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--host", options.host, "127.0.0.1 (default) or ::1")
      ->check(CLI::IsMember({"127.0.0.1", "::1"}));
  app.add_option("--port-file", port_file, "where to write the port")
      ->required();
  CLI11_PARSE(app, argc, argv);

  // Block the stop signals before any thread starts, so sigwait gets them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  try {
    options.cert_pem = read_file(cert);
    options.key_pem = read_file(key);
    if (!client_ca.empty()) {
      options.client_ca_pem = read_file(client_ca);
    }
    for (const auto& token : tokens) {
      auto eq = token.find('=');
      options.tokens[token.substr(0, eq)] =
          eq == std::string::npos ? "token-user" : token.substr(eq + 1);
    }
    options.forbidden_users.insert(forbidden.begin(), forbidden.end());
    if (auto_accept >= 0) {
      options.auto_accept = auto_accept;
    }
    if (!snapshot.empty()) {
      options.snapshot = lrb::fake_kube::load_snapshot(snapshot);
    }
    lrb::fake_kube::FakeKube server(options);
    write_port_file(port_file, server.start());
    wait_for_signal();
    server.stop();
  } catch (const std::exception& e) {
    std::cerr << "fake_kube: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
