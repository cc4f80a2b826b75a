// A fake Kubernetes API server for tests: HTTPS on a loopback address,
// serving discovery, Nodes and Pods from a kubectl-shaped snapshot with
// the real API's paging (limit, continue, remainingItemCount), Liqo
// ResourceSlices kept in memory, and the real `Status` error bodies.
// It is faithful enough that kubectl itself works against it, which is
// how its fidelity is checked. It is used in-process by the unit tests
// and as the `fake_kube` program by the end-to-end tests.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

namespace lrb::fake_kube {

using Json = nlohmann::json;

// How the fake server behaves.
struct Options {
  std::string host = "127.0.0.1"; // loopback only: 127.0.0.1 or ::1
  std::string cert_pem;           // server certificate and key (PEM)
  std::string key_pem;
  std::string client_ca_pem; // verify client certificates against it
  std::map<std::string, std::string> tokens; // bearer token -> user
  std::set<std::string> forbidden_users;     // authenticated, but 403
  int expire_continue = 0;           // the first N continue tokens get 410
  std::optional<double> auto_accept; // grant this share of new slices
  Json snapshot = Json::object();    // a List of Nodes and Pods
};

// The server; its methods are thread-safe.
class FakeKube {
public:
  explicit FakeKube(Options options);
  ~FakeKube();
  FakeKube(const FakeKube&) = delete;
  FakeKube& operator=(const FakeKube&) = delete;

  // Binds an ephemeral port and serves on a thread; returns the port.
  // Throws std::runtime_error when the TLS material or the bind fails.
  int start();

  // Stops serving and joins the thread (also done by the destructor).
  void stop();

  // Returns "https://host:port" (IPv6 in brackets).
  std::string url() const;

  // Makes the next `count` API requests fail with `status` (429, 500,
  // 503...), with a Retry-After of `retry_after_s` when positive.
  void fail_next(int count, int status, int retry_after_s = 0);

  // Replaces the accepted bearer tokens (token -> user).
  void set_tokens(std::map<std::string, std::string> tokens);

  // Returns how many requests reached `path` (query excluded).
  int request_count(const std::string& path) const;

  // Returns every Authorization header seen, in order.
  std::vector<std::string> authorizations() const;

  // Returns the stored ResourceSlice, if any.
  std::optional<Json> slice(const std::string& ns,
                            const std::string& name) const;

private:
  struct State;
  std::unique_ptr<State> state_;
};

// Reads a snapshot file (a kubectl List, or a NodeList / PodList).
Json load_snapshot(const std::string& path);

} // namespace lrb::fake_kube
