// How a request proves who it is, kept fresh. Service-account tokens are
// rotated by the kubelet and exec plugins hand out short-lived tokens,
// so a credential is not a value but a source: a token file is re-read
// every minute (keeping the last good token while the file is briefly
// missing, as it is during a kubelet swap), an exec plugin's answer is
// cached until its expirationTimestamp, and either is refreshed at once
// after the API server answers 401. A static token or certificate never
// changes.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "kube/kubeconfig.h"

namespace lrb::kube {

// What one request presents: a bearer token and/or a client certificate.
struct Credential {
  std::string token;
  std::string cert_pem;
  std::string key_pem;

  // Returns whether both credentials are equal.
  bool operator==(const Credential&) const = default;
};

// The output of an exec plugin, decoded.
struct ExecResult {
  Credential credential;
  std::optional<core::WallMs> expires; // absent: valid until rejected
};

// Runs an exec credential plugin with KUBERNETES_EXEC_INFO set, waits at
// most `timeout` and decodes its ExecCredential. The cluster's server,
// CA and TLS settings are passed when the plugin asks for them. Throws
// Error(unauthenticated) naming the plugin and the cause.
ExecResult run_exec_plugin(const ExecConfig& exec, const ClusterConfig& cluster,
                           std::chrono::milliseconds timeout);

// Decodes an ExecCredential printed by a plugin of `api_version`; throws
// Error(unauthenticated) naming `origin` when it is malformed.
ExecResult decode_exec_credential(std::string_view text,
                                  std::string_view api_version,
                                  std::string_view origin);

// A thread-safe source of the current credential for one ClusterConfig.
class Credentials {
public:
  // Tunables, overridable in tests.
  struct Options {
    std::int64_t token_file_period_ms = 60'000;
    std::chrono::milliseconds exec_timeout{60'000};
  };

  // Keeps `config` and `clock` (which must outlive this object).
  explicit Credentials(ClusterConfig config,
                       const core::Clock& clock = core::system_clock());
  // Same, with tunables other than the defaults.
  Credentials(ClusterConfig config, const core::Clock& clock, Options options);

  // Returns the credential to present now, refreshing a stale one. Throws
  // Error(unauthenticated) when an exec plugin fails.
  Credential current();

  // Records that the server rejected `used` (401) and refreshes it;
  // returns whether a retry can present something new.
  bool reject(const Credential& used);

  // Returns how many times the exec plugin has run (for tests and logs).
  int exec_runs() const;

private:
  // Returns the cached credential, refreshed first when stale or forced;
  // REQUIRES: mutex_ held.
  Credential refresh_locked(bool force);
  // Re-reads token_file, keeping the last token if it cannot be read;
  // REQUIRES: mutex_ held.
  void reread_token_file_locked();

  ClusterConfig config_;
  const core::Clock& clock_;
  Options options_;
  mutable std::mutex mutex_;
  Credential cached_;
  bool have_exec_result_ = false;
  std::optional<core::WallMs> exec_expires_;
  core::MonoMs token_read_at_ = 0;
  int exec_runs_ = 0;
};

} // namespace lrb::kube
