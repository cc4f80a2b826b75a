// A small HTTP(S) client used by every outbound call of lrb: the CLI and
// the agent talking to the broker, and the Kubernetes client talking to
// the API server. It wraps cpp-httplib's client so that TLS material
// (CA, client certificate and key, from files or in memory), bearer
// tokens, timeouts and error reporting are handled once. A transport
// failure becomes Error(unavailable) naming the URL and the cause.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace lrb::kube {

// TLS settings for an https:// endpoint.
struct TlsOptions {
  std::string ca_file;   // PEM bundle to verify the server
  std::string ca_pem;    // or the same in memory
  std::string cert_file; // client certificate (PEM)
  std::string cert_pem;
  std::string key_file; // client private key (PEM)
  std::string key_pem;
  bool insecure_skip_verify = false;
  std::string server_name; // SNI / name to verify, default: URL host
};

// Everything needed to reach one endpoint.
struct HttpOptions {
  std::string base_url; // scheme://host[:port][/prefix]
  TlsOptions tls;
  std::string bearer_token;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds read_timeout{30000};
  std::string user_agent = "lrb";
};

// One response: status, body and headers (names lower-cased).
struct HttpResponse {
  int status = 0;
  std::string body;
  std::multimap<std::string, std::string> headers;

  // Returns the first value of header `name` (lower-case), or "".
  std::string header(std::string_view name) const;
};

// A connection-reusing client for one endpoint. Not thread-safe: use one
// per thread.
class HttpClient {
public:
  // Parses the URL and prepares TLS; throws Error(invalid_argument)
  // naming the URL for a bad one, or for unreadable TLS files.
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends a request. `path` starts with '/' and may carry a query; the
  // URL prefix is prepended. Returns any HTTP status; throws
  // Error(unavailable) when no response arrived (refused, reset, TLS
  // failure, timeout), with the URL and the cause in the message.
  HttpResponse request(std::string_view method, std::string_view path,
                       std::string_view body = {},
                       const std::map<std::string, std::string>& headers = {},
                       std::string_view content_type = "application/json");

  // Sets a bearer token for later requests ("" removes it).
  void set_bearer_token(std::string token);

  // Returns the base URL as given.
  const std::string& base_url() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query parameter value.
std::string url_encode(std::string_view value);

} // namespace lrb::kube
