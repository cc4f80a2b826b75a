// Helpers shared by the kube tests: a scratch directory removed on exit,
// a throw-away PKI made with OpenSSL in memory (a CA, a server
// certificate for 127.0.0.1, ::1 and localhost, and client
// certificates), and an HTTP(S) server on an ephemeral 127.0.0.1 port
// run on its own thread. Header-only because only *_test.cpp files join
// the test binary.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include "temp_dir.h"

namespace lrb::kube::testing {

using TempDir = lrb::testing::TempDir;

// A PEM certificate and its PEM private key.
struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

namespace detail {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) {
    throw std::runtime_error("test pki: bad extension");
  }
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

inline std::string pem_of(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()),
                                                &BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

inline std::string pem_of(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()),
                                                &BIO_free);
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                           nullptr);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

// Builds a certificate for `cn` (organization `org` when set) signed by
// `issuer` (self-signed when null) with the given extensions.
inline KeyPair make_cert(const std::string& cn, const std::string& org,
                         const KeyPair* issuer, bool is_ca,
                         const std::string& san) {
  static long serial = 1000;
  KeyPtr key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  CertPtr cert(X509_new(), &X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!org.empty()) {
    X509_NAME_add_entry_by_txt(
        name, "O", MBSTRING_ASC,
        reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()),
                             -1, -1, 0);

  // The signer: the issuer's key and name, or this certificate's own.
  KeyPtr signer(nullptr, &EVP_PKEY_free);
  CertPtr issuer_cert(nullptr, &X509_free);
  if (issuer != nullptr) {
    std::unique_ptr<BIO, decltype(&BIO_free)> kb(
        BIO_new_mem_buf(issuer->key_pem.data(),
                        static_cast<int>(issuer->key_pem.size())),
        &BIO_free);
    signer.reset(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
    std::unique_ptr<BIO, decltype(&BIO_free)> cb(
        BIO_new_mem_buf(issuer->cert_pem.data(),
                        static_cast<int>(issuer->cert_pem.size())),
        &BIO_free);
    issuer_cert.reset(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  }
  X509* issuer_x = issuer_cert ? issuer_cert.get() : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_x));

  add_ext(cert.get(), issuer_x, NID_basic_constraints,
          is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_ext(cert.get(), issuer_x, NID_key_usage,
          is_ca ? "critical,keyCertSign,cRLSign"
                : "critical,digitalSignature,keyEncipherment");
  add_ext(cert.get(), issuer_x, NID_subject_key_identifier, "hash");
  if (!san.empty()) {
    add_ext(cert.get(), issuer_x, NID_subject_alt_name, san.c_str());
  }
  X509_sign(cert.get(), signer ? signer.get() : key.get(), EVP_sha256());
  return KeyPair{pem_of(cert.get()), pem_of(key.get())};
}

} // namespace detail

// A CA with a server certificate and a client certificate it signed.
struct Pki {
  KeyPair ca;
  KeyPair server; // 127.0.0.1, ::1, localhost
  KeyPair client; // CN=alice, O=lrb:agents

  // Makes a fresh PKI; `server_san` overrides the server's names.
  static Pki
  make(const std::string& server_san = "IP:127.0.0.1,IP:::1,DNS:localhost") {
    // Each CA gets its own name, as distinct real CAs have.
    static int generation = 0;
    Pki pki;
    pki.ca = detail::make_cert("lrb-test-ca-" + std::to_string(++generation),
                               "", nullptr, true, "");
    pki.server =
        detail::make_cert("kube-apiserver", "", &pki.ca, false, server_san);
    pki.client = detail::make_cert("alice", "lrb:agents", &pki.ca, false, "");
    return pki;
  }
};

// Returns an SSL server presenting `server`; when `client_ca_pem` is set
// it also asks for a client certificate and, if `require_client` is
// set, refuses a handshake without one.
inline std::unique_ptr<httplib::SSLServer>
make_tls_server(const KeyPair& server, const std::string& client_ca_pem = {},
                bool require_client = true) {
  return std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    std::unique_ptr<BIO, decltype(&BIO_free)> cb(
        BIO_new_mem_buf(server.cert_pem.data(),
                        static_cast<int>(server.cert_pem.size())),
        &BIO_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> kb(
        BIO_new_mem_buf(server.key_pem.data(),
                        static_cast<int>(server.key_pem.size())),
        &BIO_free);
    detail::CertPtr cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr),
                         &X509_free);
    detail::KeyPtr key(
        PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr),
        &EVP_PKEY_free);
    if (!cert || !key || SSL_CTX_use_certificate(&ctx, cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(&ctx, key.get()) != 1) {
      return false;
    }
    if (!client_ca_pem.empty()) {
      std::unique_ptr<BIO, decltype(&BIO_free)> ab(
          BIO_new_mem_buf(client_ca_pem.data(),
                          static_cast<int>(client_ca_pem.size())),
          &BIO_free);
      detail::CertPtr ca(PEM_read_bio_X509(ab.get(), nullptr, nullptr, nullptr),
                         &X509_free);
      X509_STORE_add_cert(SSL_CTX_get_cert_store(&ctx), ca.get());
      SSL_CTX_set_verify(
          &ctx,
          SSL_VERIFY_PEER |
              (require_client ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
          nullptr);
    }
    return true;
  });
}

// Returns the common name of the client certificate of a request, or "".
inline std::string peer_common_name(const httplib::Request& req) {
  if (req.ssl == nullptr) {
    return {};
  }
  X509* cert = SSL_get1_peer_certificate(req.ssl);
  if (cert == nullptr) {
    return {};
  }
  char name[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, name,
                            sizeof(name));
  X509_free(cert);
  return name;
}

// Returns a 127.0.0.1 port that was free a moment ago (bound, never
// listened on, then closed), for tests of refused connections.
inline int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Runs an httplib server on a thread; stops and joins on destruction.
class ServerThread {
public:
  // Binds `server` to an ephemeral port of `host` and starts serving.
  explicit ServerThread(httplib::Server& server,
                        const std::string& host = "127.0.0.1")
      : server_(server) {
    port_ = server_.bind_to_any_port(host);
    if (port_ <= 0) {
      return;
    }
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~ServerThread() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  // Returns the bound port, or a value <= 0 when binding failed.
  int port() const { return port_; }

private:
  httplib::Server& server_;
  std::thread thread_;
  int port_ = 0;
};

} // namespace lrb::kube::testing
