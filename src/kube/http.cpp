// The outbound HTTP(S) client. cpp-httplib does the protocol; this file
// owns the trust decisions, which it hands to OpenSSL rather than to
// httplib: httplib 0.11's own host check reads past the end of an IPv4
// subjectAltName when it compares it with an IPv6 host, and it adds the
// system roots to any CA it is given. So httplib's verification is off,
// the SSL_CTX verifies the peer itself (SSL_VERIFY_PEER), a given CA is
// the only trust anchor (a certificate-verify callback), and OpenSSL
// checks the host name or IP, so a mismatch is reported in OpenSSL's
// words. A `tls-server-name` is honoured by naming the TLS peer after it
// while dialling the URL's host. Every transport failure becomes one
// Error(unavailable) that names the origin and the cause, which is what
// an operator needs to act on.
#include "kube/http.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <sstream>
#include <utility>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "core/error.h"

namespace lrb::kube {

using core::Code;
using core::Error;

namespace {

// The parts of a base URL.
struct Url {
  std::string scheme;
  std::string host; // without brackets
  int port = 0;
  std::string prefix; // "" or "/something" without a trailing '/'
};

Error bad_url(std::string_view url, std::string_view why) {
  return Error(Code::invalid_argument,
               fmt::format("invalid URL \"{}\": {}; expected "
                           "http(s)://host[:port][/prefix]",
                           url, why),
               "base_url");
}

int parse_port(std::string_view url, std::string_view text) {
  int port = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), port);
  if (ec != std::errc() || end != text.data() + text.size() || port < 1 ||
      port > 65535) {
    throw bad_url(url, fmt::format("port \"{}\" is not 1-65535", text));
  }
  return port;
}

// Splits "host[:port]" or "[v6]:port" into host and port.
void parse_authority(std::string_view url, std::string_view authority,
                     Url& out) {
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      throw bad_url(url, "unclosed '[' in the host");
    }
    out.host = std::string(authority.substr(1, close - 1));
    auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      throw bad_url(url, "unexpected text after ']'");
    }
    port_text = rest.empty() ? rest : rest.substr(1);
  } else {
    auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
  }
  if (out.host.empty()) {
    throw bad_url(url, "no host");
  }
  out.port = port_text.empty() ? (out.scheme == "https" ? 443 : 80)
                               : parse_port(url, port_text);
}

Url parse_url(std::string_view url) {
  Url out;
  auto sep = url.find("://");
  if (sep == std::string_view::npos) {
    throw bad_url(url, "no scheme");
  }
  out.scheme = std::string(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") {
    throw bad_url(
        url, fmt::format("scheme \"{}\" is not http or https", out.scheme));
  }
  auto rest = url.substr(sep + 3);
  if (rest.find_first_of("?#") != std::string_view::npos) {
    throw bad_url(url, "a base URL takes no query or fragment");
  }
  auto slash = rest.find('/');
  parse_authority(url, rest.substr(0, slash), out);
  if (slash != std::string_view::npos) {
    out.prefix = std::string(rest.substr(slash));
    while (!out.prefix.empty() && out.prefix.back() == '/') {
      out.prefix.pop_back();
    }
  }
  return out;
}

// Returns "https://host:port" with IPv6 hosts in brackets.
std::string origin_of(const Url& url) {
  bool v6 = url.host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", url.scheme, v6 ? "[" : "", url.host,
                     v6 ? "]" : "", url.port);
}

std::string read_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    throw Error(Code::invalid_argument,
                fmt::format("cannot read {} file \"{}\"", what, path),
                std::string(what));
  }
  return text.str();
}

// Returns the in-memory PEM, or the file's content when only a file is
// named, or "" when neither is set.
std::string pem_of(const std::string& pem, const std::string& file,
                   std::string_view what) {
  return pem.empty() && !file.empty() ? read_file(file, what) : pem;
}

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;

BioPtr memory_bio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                &BIO_free);
}

Error bad_pem(std::string_view what) {
  ERR_clear_error();
  return Error(Code::invalid_argument,
               fmt::format("{} is not a PEM {}", what,
                           what == "tls.key" ? "private key" : "certificate"),
               std::string(what));
}

// Reads every certificate of a PEM bundle; at least one is required.
STACK_OF(X509) * read_certificates(const std::string& pem) {
  auto bio = memory_bio(pem);
  STACK_OF(X509)* certs = sk_X509_new_null();
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(certs, cert);
  }
  ERR_clear_error(); // the loop ends on an expected "no start line"
  if (sk_X509_num(certs) == 0) {
    sk_X509_free(certs);
    throw bad_pem("tls.ca");
  }
  return certs;
}

// Replaces the store's lookups by the given anchors. Partial chains are
// allowed because a kubeconfig CA may be an intermediate, and clients of
// the API server treat every certificate of the bundle as an anchor.
int verify_with_anchors(X509_STORE_CTX* ctx, void* anchors) {
  X509_STORE_CTX_set0_trusted_stack(ctx, static_cast<STACK_OF(X509)*>(anchors));
  X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
  return X509_verify_cert(ctx);
}

// The verification failure of the last handshake on this thread. A
// handshake runs on the thread that sends the request, and an HttpClient
// is used by one thread at a time, so this is the request's own.
thread_local long t_verify_error = X509_V_OK;

// Records why OpenSSL refused the peer, for the error message.
int record_verify_error(int ok, X509_STORE_CTX* ctx) {
  if (ok == 0) {
    t_verify_error = X509_STORE_CTX_get_error(ctx);
  }
  return ok;
}

// Makes OpenSSL check the peer's name (a DNS name or an IP address).
void expect_peer_name(SSL_CTX* ctx, const std::string& name) {
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  in6_addr ip{};
  bool is_ip = inet_pton(AF_INET6, name.c_str(), &ip) == 1 ||
               inet_pton(AF_INET, name.c_str(), &ip) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size());
  }
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

} // namespace

std::string HttpResponse::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

struct HttpClient::Impl {
  HttpOptions options;
  Url url;
  std::string origin;
  // Trust anchors; declared before `client` so they outlive its SSL_CTX.
  STACK_OF(X509) * anchors = nullptr;
  std::unique_ptr<httplib::ClientImpl> client;
  httplib::SSLClient* tls = nullptr; // `client` when https

  ~Impl() {
    client.reset();
    if (anchors != nullptr) {
      sk_X509_pop_free(anchors, X509_free);
    }
  }

  void make_tls_client();
  void apply_trust(const std::string& peer);
  void apply_settings();
  [[noreturn]] void fail(httplib::Error error) const;
};

// Builds the TLS client with the client certificate and key, if any.
void HttpClient::Impl::make_tls_client() {
  const TlsOptions& t = options.tls;
  std::string cert_pem = pem_of(t.cert_pem, t.cert_file, "tls.cert");
  std::string key_pem = pem_of(t.key_pem, t.key_file, "tls.key");
  if (cert_pem.empty() != key_pem.empty()) {
    throw Error(Code::invalid_argument,
                "a client certificate needs its key and a key its "
                "certificate; set both or neither",
                cert_pem.empty() ? "tls.cert" : "tls.key");
  }

  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  if (!cert_pem.empty()) {
    cert = PEM_read_bio_X509(memory_bio(cert_pem).get(), nullptr, nullptr,
                             nullptr);
    if (cert == nullptr) {
      throw bad_pem("tls.cert");
    }
    key = PEM_read_bio_PrivateKey(memory_bio(key_pem).get(), nullptr, nullptr,
                                  nullptr);
    if (key == nullptr) {
      X509_free(cert);
      throw bad_pem("tls.key");
    }
  }

  // The TLS peer is named after tls-server-name when one is set, and
  // dialled at the URL's host through httplib's address map.
  const std::string& peer = t.server_name.empty() ? url.host : t.server_name;
  auto ssl = std::make_unique<httplib::SSLClient>(peer, url.port, cert, key);
  X509_free(cert); // the SSL_CTX holds its own references
  EVP_PKEY_free(key);
  if (!ssl->is_valid()) {
    ERR_clear_error();
    throw Error(Code::invalid_argument,
                "the client certificate and key do not match", "tls.key");
  }
  if (peer != url.host) {
    ssl->set_hostname_addr_map({{peer, url.host}});
  }
  tls = ssl.get();
  client = std::move(ssl);
  apply_trust(peer);
}

// Sets what the server certificate is checked against.
void HttpClient::Impl::apply_trust(const std::string& peer) {
  const TlsOptions& t = options.tls;
  SSL_CTX* ctx = tls->ssl_context();
  tls->enable_server_certificate_verification(false); // see the top
  if (t.insecure_skip_verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, record_verify_error);
  expect_peer_name(ctx, peer);
  std::string ca_pem = pem_of(t.ca_pem, t.ca_file, "tls.ca");
  if (ca_pem.empty()) {
    SSL_CTX_set_default_verify_paths(ctx);
    return;
  }
  anchors = read_certificates(ca_pem);
  SSL_CTX_set_cert_verify_callback(ctx, verify_with_anchors, anchors);
}

void HttpClient::Impl::apply_settings() {
  client->set_connection_timeout(options.connect_timeout);
  client->set_read_timeout(options.read_timeout);
  client->set_write_timeout(options.read_timeout);
  client->set_keep_alive(true);
  // httplib writes a request's headers and body separately: without
  // TCP_NODELAY the body waits for the ACK of the headers, which the
  // server delays by up to 40 ms, so every POST would take that long.
  client->set_tcp_nodelay(true);
  // Callers encode their queries with url_encode; httplib's own pass
  // would re-encode ',' and '+' in label selectors.
  client->set_url_encode(false);
  client->set_bearer_token_auth(options.bearer_token);
  client->set_default_headers({{"User-Agent", options.user_agent}});
}

// Returns httplib's failure in words an operator can act on, with
// OpenSSL's reason for a failed handshake when it left one.
static std::string describe(httplib::Error error) {
  switch (error) {
  case httplib::Error::Connection:
    return "connection failed (refused, or no route to the host)";
  case httplib::Error::ConnectionTimeout:
    return "connection timed out";
  case httplib::Error::Read:
    return "no answer (connection closed, or read timed out)";
  case httplib::Error::Write:
    return "could not send the request (connection closed)";
  case httplib::Error::SSLConnection: {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
    return reason != nullptr ? fmt::format("TLS handshake failed: {}", reason)
                             : "TLS handshake failed";
  }
  case httplib::Error::SSLLoadingCerts:
    return "cannot load the CA certificates";
  default:
    return httplib::to_string(error);
  }
}

// Throws the transport failure in the operator's terms.
void HttpClient::Impl::fail(httplib::Error error) const {
  std::string cause =
      t_verify_error != X509_V_OK
          ? fmt::format("certificate verify failed: {}",
                        X509_verify_cert_error_string(t_verify_error))
          : describe(error);
  ERR_clear_error();
  throw Error(Code::unavailable,
              fmt::format("cannot reach {}: {}", origin, cause));
}

HttpClient::HttpClient(HttpOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->url = parse_url(impl_->options.base_url);
  impl_->origin = origin_of(impl_->url);
  if (impl_->url.scheme == "https") {
    impl_->make_tls_client();
  } else {
    impl_->client =
        std::make_unique<httplib::ClientImpl>(impl_->url.host, impl_->url.port);
  }
  impl_->apply_settings();
}

HttpClient::~HttpClient() = default;

HttpResponse
HttpClient::request(std::string_view method, std::string_view path,
                    std::string_view body,
                    const std::map<std::string, std::string>& headers,
                    std::string_view content_type) {
  httplib::Request req;
  req.method = std::string(method);
  req.path = impl_->url.prefix + std::string(path);
  for (const auto& [name, value] : headers) {
    req.headers.emplace(name, value);
  }
  if (!body.empty() || method == "POST" || method == "PUT" ||
      method == "PATCH") {
    req.body = std::string(body);
    req.headers.emplace("Content-Type", std::string(content_type));
  }
  // With a tls-server-name the peer differs from the URL host; the Host
  // header still names the URL, as the API server expects.
  if (impl_->tls != nullptr && !impl_->options.tls.server_name.empty() &&
      !req.has_header("Host")) {
    req.headers.emplace("Host",
                        impl_->origin.substr(impl_->origin.find("://") + 3));
  }

  t_verify_error = X509_V_OK;
  httplib::Result result = impl_->client->send(req);
  if (!result) {
    impl_->fail(result.error());
  }
  HttpResponse out;
  out.status = result->status;
  out.body = std::move(result->body);
  for (const auto& [name, value] : result->headers) {
    out.headers.emplace(lower(name), value);
  }
  return out;
}

void HttpClient::set_bearer_token(std::string token) {
  impl_->options.bearer_token = std::move(token);
  impl_->client->set_bearer_token_auth(impl_->options.bearer_token);
}

const std::string& HttpClient::base_url() const {
  return impl_->options.base_url;
}

std::string url_encode(std::string_view value) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += k_hex[c >> 4];
      out += k_hex[c & 0x0F];
    }
  }
  return out;
}

} // namespace lrb::kube
