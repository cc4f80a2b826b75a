// Credential refresh, and the exec plugin protocol of kubectl
// (client.authentication.k8s.io v1 and v1beta1). The plugin is started
// with posix_spawn, which is safe in a threaded daemon where fork is
// not, with stdin on /dev/null because lrb never owns a terminal, and
// its output is read under a deadline so that a hung plugin cannot hang
// the agent.
#include "kube/credentials.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"

extern char** environ;

namespace lrb::kube {

using core::Code;
using core::Error;
using Json = nlohmann::json;

namespace {

// A plugin printing more than this is broken; stop reading.
constexpr std::size_t k_max_plugin_output = 1 << 20;

std::string base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string trim(std::string text) {
  const char* space = " \t\r\n";
  text.erase(text.find_last_not_of(space) + 1);
  text.erase(0, text.find_first_not_of(space));
  return text;
}

Error plugin_error(const ExecConfig& exec, std::string_view why) {
  std::string hint =
      exec.install_hint.empty() ? "" : "; " + trim(exec.install_hint);
  return Error(Code::unauthenticated,
               fmt::format("{}: plugin \"{}\" {}{}", exec.origin, exec.command,
                           why, hint));
}

// The ExecCredential written to KUBERNETES_EXEC_INFO.
std::string exec_info(const ExecConfig& exec, const ClusterConfig& cluster) {
  Json spec = {{"interactive", false}};
  if (exec.provide_cluster_info) {
    Json info = {{"server", cluster.server}};
    if (!cluster.tls.server_name.empty()) {
      info["tls-server-name"] = cluster.tls.server_name;
    }
    if (cluster.tls.insecure_skip_verify) {
      info["insecure-skip-tls-verify"] = true;
    }
    if (!cluster.tls.ca_pem.empty()) {
      info["certificate-authority-data"] = base64(cluster.tls.ca_pem);
    }
    spec["cluster"] = info;
  }
  Json doc = {{"apiVersion", exec.api_version},
              {"kind", "ExecCredential"},
              {"spec", spec}};
  return doc.dump();
}

// Builds "NAME=VALUE" strings: this process's environment, then the
// plugin's env entries, then KUBERNETES_EXEC_INFO, later ones winning.
std::vector<std::string> plugin_environment(const ExecConfig& exec,
                                            const std::string& info) {
  std::vector<std::pair<std::string, std::string>> extra = exec.env;
  extra.emplace_back("KUBERNETES_EXEC_INFO", info);
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool replaced = std::any_of(extra.begin(), extra.end(),
                                [&](auto& kv) { return kv.first == name; });
    if (!replaced) {
      env.emplace_back(entry);
    }
  }
  for (const auto& [name, value] : extra) {
    env.push_back(name + "=" + value);
  }
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

// A started plugin: its pid and the read ends of stdout and stderr.
struct Child {
  pid_t pid = -1;
  int out = -1;
  int err = -1;
};

Child spawn_plugin(const ExecConfig& exec, const std::string& info) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    throw plugin_error(exec, "cannot start: no pipe");
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw plugin_error(exec, "cannot start: no pipe");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::vector<std::string> argv_strings{exec.command};
  argv_strings.insert(argv_strings.end(), exec.args.begin(), exec.args.end());
  std::vector<std::string> env_strings = plugin_environment(exec, info);
  std::vector<char*> argv = c_strings(argv_strings);
  std::vector<char*> envp = c_strings(env_strings);

  Child child;
  int rc = posix_spawnp(&child.pid, exec.command.c_str(), &actions, nullptr,
                        argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    throw plugin_error(exec, fmt::format("cannot start: {}", strerror(rc)));
  }
  child.out = out_pipe[0];
  child.err = err_pipe[0];
  return child;
}

// Reads stdout and stderr until both close or the deadline passes;
// returns false on the deadline.
bool drain(Child& child, std::string& out, std::string& err,
           std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{child.out, POLLIN, 0}, {child.err, POLLIN, 0}};
  int* owned[2] = {&child.out, &child.err};
  std::string* sinks[2] = {&out, &err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      return false;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0 || sinks[i]->size() > k_max_plugin_output) {
        close(fds[i].fd);
        fds[i].fd = -1;
        *owned[i] = -1;
        --open_fds;
      } else {
        sinks[i]->append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  return true;
}

// Returns the plugin's stdout after it exited with status 0.
std::string run_to_completion(const ExecConfig& exec, const std::string& info,
                              std::chrono::milliseconds timeout) {
  Child child = spawn_plugin(exec, info);
  std::string out;
  std::string err;
  bool finished = drain(child, out, err, timeout);
  for (int fd : {child.out, child.err}) {
    if (fd >= 0) {
      close(fd);
    }
  }
  if (!finished) {
    kill(child.pid, SIGKILL);
  }
  int status = 0;
  while (waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!finished) {
    throw plugin_error(
        exec, fmt::format("did not finish within {} ms", timeout.count()));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::string tail = trim(err);
    if (tail.size() > 500) {
      tail = "..." + tail.substr(tail.size() - 500);
    }
    throw plugin_error(exec, fmt::format("exited with status {}{}{}", code,
                                         tail.empty() ? "" : ": ", tail));
  }
  return out;
}

Error credential_error(std::string_view origin, std::string_view why) {
  return Error(Code::unauthenticated,
               fmt::format("{}: the plugin's ExecCredential {}", origin, why));
}

std::string optional_string(const Json& status, const char* key,
                            std::string_view origin) {
  auto it = status.find(key);
  if (it == status.end() || it->is_null()) {
    return {};
  }
  if (!it->is_string()) {
    throw credential_error(origin,
                           fmt::format("status.{} is not a string", key));
  }
  return it->get<std::string>();
}

// Returns the document's top-level string `key` ("" when absent). A
// plugin that writes another type there gets an Error like any wrong
// value, never the JSON library's type_error.
std::string top_string(const Json& doc, const char* key,
                       std::string_view origin) {
  auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    return {};
  }
  if (!it->is_string()) {
    throw credential_error(origin, fmt::format("{} is not a string", key));
  }
  return it->get<std::string>();
}

} // namespace

ExecResult decode_exec_credential(std::string_view text,
                                  std::string_view api_version,
                                  std::string_view origin) {
  Json doc = Json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw credential_error(origin, "is not a JSON object");
  }
  const std::string kind = top_string(doc, "kind", origin);
  if (kind != "ExecCredential") {
    throw credential_error(origin,
                           "has kind \"" + kind + "\", not ExecCredential");
  }
  const std::string version = top_string(doc, "apiVersion", origin);
  if (version != api_version) {
    throw credential_error(
        origin, fmt::format("has apiVersion \"{}\" but the kubeconfig asks "
                            "for \"{}\"",
                            version, api_version));
  }
  auto status = doc.find("status");
  if (status == doc.end() || !status->is_object()) {
    throw credential_error(origin, "has no status");
  }

  ExecResult result;
  result.credential.token = optional_string(*status, "token", origin);
  result.credential.cert_pem =
      optional_string(*status, "clientCertificateData", origin);
  result.credential.key_pem = optional_string(*status, "clientKeyData", origin);
  if (result.credential.cert_pem.empty() != result.credential.key_pem.empty()) {
    throw credential_error(origin, "needs both clientCertificateData and "
                                   "clientKeyData, or neither");
  }
  if (result.credential.token.empty() && result.credential.cert_pem.empty()) {
    throw credential_error(origin, "has neither status.token nor a client "
                                   "certificate");
  }
  std::string expiry = optional_string(*status, "expirationTimestamp", origin);
  if (!expiry.empty()) {
    try {
      result.expires = core::parse_rfc3339(expiry, "expirationTimestamp");
    } catch (const Error&) {
      throw credential_error(origin, fmt::format("status.expirationTimestamp "
                                                 "\"{}\" is not RFC 3339",
                                                 expiry));
    }
  }
  return result;
}

ExecResult run_exec_plugin(const ExecConfig& exec, const ClusterConfig& cluster,
                           std::chrono::milliseconds timeout) {
  if (exec.interactive_mode == "Always") {
    throw plugin_error(exec, "needs an interactive terminal (interactiveMode "
                             "Always), and lrb runs plugins without one");
  }
  std::string out = run_to_completion(exec, exec_info(exec, cluster), timeout);
  return decode_exec_credential(out, exec.api_version, exec.origin);
}

Credentials::Credentials(ClusterConfig config, const core::Clock& clock)
    : Credentials(std::move(config), clock, Options{}) {}

Credentials::Credentials(ClusterConfig config, const core::Clock& clock,
                         Options options)
    : config_(std::move(config)), clock_(clock), options_(options) {
  cached_.token = config_.token;
  token_read_at_ = clock_.mono_ms();
}

Credential Credentials::current() {
  std::lock_guard lock(mutex_);
  return refresh_locked(false);
}

bool Credentials::reject(const Credential& used) {
  std::lock_guard lock(mutex_);
  if (cached_ != used) {
    return true; // another request already refreshed it
  }
  if (!config_.exec && config_.token_file.empty()) {
    return false;
  }
  refresh_locked(true);
  return cached_ != used;
}

int Credentials::exec_runs() const {
  std::lock_guard lock(mutex_);
  return exec_runs_;
}

Credential Credentials::refresh_locked(bool force) {
  if (config_.exec) {
    bool expired = exec_expires_ && clock_.wall_ms() >= *exec_expires_;
    if (force || !have_exec_result_ || expired) {
      ExecResult result =
          run_exec_plugin(*config_.exec, config_, options_.exec_timeout);
      ++exec_runs_;
      cached_ = result.credential;
      exec_expires_ = result.expires;
      have_exec_result_ = true;
      LRB_LOG(debug, "exec plugin ran", kv("command", config_.exec->command),
              core::kv_secret("token", cached_.token));
    }
  } else if (!config_.token_file.empty()) {
    bool stale =
        clock_.mono_ms() - token_read_at_ >= options_.token_file_period_ms;
    if (force || stale) {
      reread_token_file_locked();
    }
  }
  return cached_;
}

void Credentials::reread_token_file_locked() {
  token_read_at_ = clock_.mono_ms();
  std::ifstream in(config_.token_file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = trim(text.str());
  if (!in || token.empty()) {
    // The kubelet swaps the file by a rename; a moment without it is
    // normal, so the last good token stays in use.
    LRB_LOG(warn, "token file unreadable; keeping the last token",
            kv("path", config_.token_file));
    return;
  }
  cached_.token = token;
}

} // namespace lrb::kube
