// Hook commands: the agent's way of making a grant usable without Liqo.
// A hook is an operator's shell command, so it is run the way cron or
// systemd would run one: /bin/sh -c, the reservation as JSON on stdin
// and its key facts in LRB_* variables, in its own process group so that
// a timeout kills whatever it started too. Its stderr is kept because
// its last line becomes the release reason an operator reads later.
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/resources.h"
#include "daemon/agent.h"

extern char** environ;

namespace lrb::daemon {

namespace {

// A hook's stderr beyond this is dropped: only its end is reported.
constexpr std::size_t k_max_stderr = 64 * 1024;

const core::ResourceList& held(const core::Reservation& r) {
  return r.granted.empty() ? r.request.requested : r.granted;
}

// Builds "NAME=value" strings: this process's environment, then `env`.
std::vector<std::string>
environment_with(const std::map<std::string, std::string>& env) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view entry(*e);
    auto name = std::string(entry.substr(0, entry.find('=')));
    if (env.count(name) == 0) {
      out.emplace_back(entry);
    }
  }
  for (const auto& [name, value] : env) {
    out.push_back(name + "=" + value);
  }
  return out;
}

// Runs in the child: wires the pipes and becomes /bin/sh -c command.
[[noreturn]] void exec_child(const std::string& command, int in_fd, int err_fd,
                             std::vector<std::string>& env) {
  setpgid(0, 0);
  dup2(in_fd, STDIN_FILENO);
  dup2(err_fd, STDERR_FILENO);
  std::vector<char*> envp;
  for (auto& e : env) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  execve("/bin/sh", const_cast<char**>(argv), envp.data());
  _exit(127);
}

// Feeds stdin, collects stderr and waits for the child or the deadline;
// returns whether the child was reaped (its wait status in `status`). A
// hook that leaves a background child holding stderr ends when it exits.
bool supervise(pid_t pid, int in_fd, int err_fd, const std::string& input,
               std::int64_t timeout_ms, HookResult& result, int& status) {
  bool reaped = false;
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::size_t written = 0;
  char buf[4096];
  while (err_fd >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      result.timed_out = true;
      break;
    }
    pollfd fds[2] = {{err_fd, POLLIN, 0}, {in_fd, POLLOUT, 0}};
    int nfds = in_fd >= 0 ? 2 : 1;
    if (poll(fds, nfds, static_cast<int>(std::min<std::int64_t>(left, 200))) <
        0) {
      continue;
    }
    if (in_fd >= 0 && (fds[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(in_fd, input.data() + written, input.size() - written);
      written += n > 0 ? static_cast<std::size_t>(n) : 0;
      if (n < 0 || written == input.size()) {
        close(in_fd);
        in_fd = -1;
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(err_fd, buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      if (result.stderr_text.size() < k_max_stderr) {
        result.stderr_text.append(buf, static_cast<std::size_t>(n));
      }
      continue; // drain before asking whether it exited
    }
    if (waitpid(pid, &status, WNOHANG) == pid) {
      reaped = true;
      break;
    }
  }
  if (in_fd >= 0) {
    close(in_fd);
  }
  if (result.timed_out) {
    kill(-pid, SIGKILL);
  }
  return reaped;
}

} // namespace

std::map<std::string, std::string>
hook_environment(const core::Reservation& r) {
  const core::ResourceList& amounts = held(r);
  return {
      {"LRB_RESERVATION_ID", r.id},
      {"LRB_PROVIDER", r.target_cluster_id},
      {"LRB_PROVIDER_ENDPOINT", r.target_endpoint},
      {"LRB_REQUESTER", r.request.requester_id},
      {"LRB_CPU", core::format_resource("cpu", amounts.get(core::Slot::cpu))},
      {"LRB_MEMORY",
       core::format_resource("memory", amounts.get(core::Slot::memory))},
      {"LRB_GPU", core::format_resource("gpu", amounts.get(core::Slot::gpu))}};
}

std::string HookResult::last_line() const {
  constexpr std::string_view k_space = " \t\r\n";
  std::string_view text(stderr_text);
  while (!text.empty()) {
    auto end = text.find_last_not_of(k_space);
    if (end == std::string_view::npos) {
      return "";
    }
    text = text.substr(0, end + 1);
    auto start = text.find_last_of('\n');
    std::string_view line =
        start == std::string_view::npos ? text : text.substr(start + 1);
    auto first = line.find_first_not_of(k_space);
    if (first != std::string_view::npos) {
      return std::string(line.substr(first));
    }
    text = text.substr(0, start == std::string_view::npos ? 0 : start);
  }
  return "";
}

HookResult run_hook(const std::string& command,
                    const std::map<std::string, std::string>& env,
                    const std::string& stdin_text, std::int64_t timeout_ms) {
  HookResult result;
  int in_pipe[2];
  int err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) {
    result.stderr_text = std::strerror(errno);
    return result;
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.stderr_text = std::strerror(errno);
    close(in_pipe[0]);
    close(in_pipe[1]);
    return result;
  }
  auto environment = environment_with(env);
  signal(SIGPIPE, SIG_IGN); // a hook that ignores stdin must not kill us
  pid_t pid = fork();
  if (pid == 0) {
    exec_child(command, in_pipe[0], err_pipe[1], environment);
  }
  close(in_pipe[0]);
  close(err_pipe[1]);
  if (pid < 0) {
    result.stderr_text = std::strerror(errno);
    close(in_pipe[1]);
    close(err_pipe[0]);
    return result;
  }
  int status = 0;
  bool reaped = supervise(pid, in_pipe[1], err_pipe[0], stdin_text, timeout_ms,
                          result, status);
  close(err_pipe[0]);
  while (!reaped && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!result.timed_out && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

} // namespace lrb::daemon
