// The request loop of the Kubernetes client. Every call goes through
// send(), which owns the three recoveries in one place so they compose:
// a fresh credential before each attempt (token files and exec plugins
// refresh themselves), one re-authentication after a 401, and bounded
// retries with jittered exponential backoff for what is worth retrying.
// Creates are retried only on 429 — the one answer that guarantees the
// server did nothing — because a create lost after the server acted
// would otherwise come back as a confusing AlreadyExists.
#include "kube/client.h"

#include <algorithm>
#include <cctype>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "core/log.h"

namespace lrb::kube {

using core::Code;
using core::Error;

namespace {

bool is_success(int status) {
  return status >= 200 && status < 300;
}

Code code_for(int status) {
  if (status == 429 || status == 502) {
    return Code::unavailable; // the server is busy or behind a broken hop
  }
  return core::code_for_http_status(status);
}

std::string snippet(std::string_view body) {
  constexpr std::size_t k_max = 200;
  if (body.empty()) {
    return "(empty body)";
  }
  std::string out(body.substr(0, k_max));
  if (body.size() > k_max) {
    out += "...";
  }
  return out;
}

Json parse_body(const HttpResponse& res, std::string_view path) {
  Json doc = Json::parse(res.body, nullptr, false);
  if (doc.is_discarded()) {
    throw Error(Code::unavailable,
                fmt::format("kubernetes API returned malformed JSON for {}: "
                            "{}",
                            path, snippet(res.body)));
  }
  return doc;
}

} // namespace

Error status_error(int http_status, std::string_view body) {
  Json status = Json::parse(body, nullptr, false);
  if (status.is_object() && status.value("kind", "") == "Status") {
    std::string reason = status.value("reason", "");
    std::string message = status.value("message", "");
    return Error(code_for(http_status),
                 fmt::format("kubernetes API {}{}{}: {}", http_status,
                             reason.empty() ? "" : " ", reason, message),
                 "", reason);
  }
  return Error(code_for(http_status), fmt::format("kubernetes API {}: {}",
                                                  http_status, snippet(body)));
}

struct KubeClient::Impl {
  ClusterConfig config;
  KubeClientOptions options;
  Credentials credentials;
  std::unique_ptr<HttpClient> http;
  Credential http_credential; // what `http` was built with
  std::mt19937_64 rng;

  Impl(ClusterConfig c, KubeClientOptions o)
      : config(std::move(c)), options(std::move(o)),
        credentials(config,
                    options.clock ? *options.clock : core::system_clock(),
                    options.credentials),
        rng(options.jitter_seed != 0 ? options.jitter_seed
                                     : std::random_device{}()) {}

  HttpClient& http_for(const Credential& credential);
  HttpResponse send(std::string_view method, std::string_view path,
                    std::string_view body, bool idempotent);
  std::optional<HttpResponse> attempt(std::string_view method,
                                      std::string_view path,
                                      std::string_view body,
                                      const Credential& credential);
  std::chrono::milliseconds backoff(int attempt, const HttpResponse* res);
  void pause(std::chrono::milliseconds delay);
};

// Returns the HTTP client, rebuilt when an exec plugin handed out a new
// client certificate, with the current token set.
HttpClient& KubeClient::Impl::http_for(const Credential& credential) {
  bool new_cert = credential.cert_pem != http_credential.cert_pem ||
                  credential.key_pem != http_credential.key_pem;
  if (!http || new_cert) {
    HttpOptions o;
    o.base_url = config.server;
    o.tls = config.tls;
    if (!credential.cert_pem.empty()) {
      o.tls.cert_pem = credential.cert_pem;
      o.tls.key_pem = credential.key_pem;
      o.tls.cert_file.clear();
      o.tls.key_file.clear();
    }
    o.connect_timeout = options.connect_timeout;
    o.read_timeout = options.read_timeout;
    o.user_agent = options.user_agent;
    http = std::make_unique<HttpClient>(std::move(o));
    http_credential = credential;
  }
  http->set_bearer_token(credential.token);
  return *http;
}

// Returns the delay before attempt `attempt + 1`: the server's
// Retry-After when it sent one, else half the exponential step plus a
// random share of the other half; never more than max_backoff.
std::chrono::milliseconds KubeClient::Impl::backoff(int attempt,
                                                    const HttpResponse* res) {
  const RetryPolicy& p = options.retry;
  if (res != nullptr) {
    std::string after = res->header("retry-after");
    if (!after.empty() &&
        std::all_of(after.begin(), after.end(),
                    [](unsigned char c) { return std::isdigit(c) != 0; }) &&
        after.size() < 6) {
      return std::min<std::chrono::milliseconds>(
          std::chrono::seconds(std::stoi(after)), p.max_backoff);
    }
  }
  std::int64_t step = p.initial_backoff.count();
  for (int i = 1; i < attempt && step < p.max_backoff.count(); ++i) {
    step *= 2;
  }
  step = std::min<std::int64_t>(step, p.max_backoff.count());
  std::uniform_int_distribution<std::int64_t> jitter(0, step / 2);
  return std::chrono::milliseconds(step - step / 2 + jitter(rng));
}

void KubeClient::Impl::pause(std::chrono::milliseconds delay) {
  if (options.sleep) {
    options.sleep(delay);
  } else {
    std::this_thread::sleep_for(delay);
  }
}

HttpResponse KubeClient::Impl::send(std::string_view method,
                                    std::string_view path,
                                    std::string_view body, bool idempotent) {
  bool reauthenticated = false;
  int attempt = 1;
  while (true) {
    Credential credential = credentials.current();
    std::optional<HttpResponse> res;
    try {
      res = http_for(credential).request(method, path, body);
    } catch (const Error& e) {
      if (e.code() != Code::unavailable || !idempotent ||
          attempt >= options.retry.max_attempts) {
        throw Error(e.code(), fmt::format("{} (attempt {} of {})", e.what(),
                                          attempt, options.retry.max_attempts));
      }
      auto delay = backoff(attempt, nullptr);
      LRB_LOG(warn, "kube request failed; retrying", kv("path", path),
              kv("error", e.what()), kv("attempt", attempt),
              kv("delay_ms", delay.count()));
      pause(delay);
      ++attempt;
      continue;
    }

    // One re-authentication, which does not count as an attempt.
    if (res->status == 401 && !reauthenticated) {
      reauthenticated = true;
      if (credentials.reject(credential)) {
        LRB_LOG(info, "kube credential rejected; re-authenticating",
                kv("path", path));
        continue;
      }
    }
    bool retryable = res->status == 429 || (idempotent && res->status >= 500);
    if (!retryable || attempt >= options.retry.max_attempts) {
      LRB_LOG(debug, "kube request", kv("method", method), kv("path", path),
              kv("status", res->status), kv("attempt", attempt));
      return std::move(*res);
    }
    auto delay = backoff(attempt, &*res);
    LRB_LOG(warn, "kube request failed; retrying", kv("path", path),
            kv("status", res->status), kv("attempt", attempt),
            kv("delay_ms", delay.count()));
    pause(delay);
    ++attempt;
  }
}

KubeClient::KubeClient(ClusterConfig config, KubeClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {
  // Build the connection now so that bad TLS material fails here, not at
  // the first request; an exec plugin runs only when first needed.
  if (!impl_->config.exec) {
    impl_->http_for(impl_->credentials.current());
  }
}

KubeClient::~KubeClient() = default;

Json KubeClient::get(std::string_view path) {
  HttpResponse res = impl_->send("GET", path, {}, true);
  if (!is_success(res.status)) {
    throw status_error(res.status, res.body);
  }
  return parse_body(res, path);
}

std::string
KubeClient::list(std::string_view path, std::int64_t limit,
                 const std::function<void(const ListPage&)>& on_page) {
  std::string continue_token;
  int restarts = 0;
  int index = 0;
  bool restarted = false;
  while (true) {
    std::optional<Json> page =
        fetch_page(path, limit, continue_token, restarts);
    if (!page) {
      continue_token.clear(); // expired: start over
      index = 0;
      restarted = true;
      continue;
    }
    const Json& meta = (*page)["metadata"];
    std::string rv = meta.value("resourceVersion", "");
    std::optional<std::int64_t> remaining;
    if (meta.contains("remainingItemCount") &&
        meta["remainingItemCount"].is_number_integer()) {
      remaining = meta["remainingItemCount"].get<std::int64_t>();
    }
    on_page(ListPage{(*page)["items"], rv, remaining, index++, restarted});
    restarted = false;
    continue_token = meta.value("continue", "");
    if (continue_token.empty()) {
      return rv;
    }
  }
}

// Returns one page, or nullopt when its continue token expired and the
// list may start over; gives up with Error(gone) after too many.
std::optional<Json> KubeClient::fetch_page(std::string_view path,
                                           std::int64_t limit,
                                           const std::string& continue_token,
                                           int& restarts) {
  char sep = path.find('?') == std::string_view::npos ? '?' : '&';
  std::string url = fmt::format("{}{}limit={}", path, sep, limit);
  if (!continue_token.empty()) {
    url += "&continue=" + url_encode(continue_token);
  }
  Json page;
  try {
    page = get(url);
  } catch (const Error& e) {
    if (e.code() != Code::gone || continue_token.empty()) {
      throw;
    }
    if (++restarts > impl_->options.max_list_restarts) {
      throw Error(Code::gone,
                  fmt::format("list {}: the continue token expired {} times; "
                              "giving up: {}",
                              path, restarts, e.what()),
                  "", e.reason());
    }
    LRB_LOG(info, "kube list expired; starting over", kv("path", path),
            kv("restart", restarts));
    return std::nullopt;
  }
  if (!page.is_object() || !page["items"].is_array() ||
      !page["metadata"].is_object()) {
    throw Error(Code::unavailable,
                fmt::format("kubernetes API answered {} without a list", path));
  }
  return page;
}

Json KubeClient::create(std::string_view path, const Json& object) {
  HttpResponse res = impl_->send("POST", path, object.dump(), false);
  if (!is_success(res.status)) {
    throw status_error(res.status, res.body);
  }
  return parse_body(res, path);
}

void KubeClient::remove(std::string_view path) {
  HttpResponse res = impl_->send("DELETE", path, {}, true);
  if (!is_success(res.status)) {
    throw status_error(res.status, res.body);
  }
}

const ClusterConfig& KubeClient::config() const {
  return impl_->config;
}

} // namespace lrb::kube
