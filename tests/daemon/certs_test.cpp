#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include "daemon/certs.h"
#include "daemon_support.h"

namespace lrb::daemon {

namespace {

using testing::TempDir;

constexpr std::int64_t k_day = 86400;
constexpr std::int64_t k_skew = 300; // validity starts 5 minutes early

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

core::Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e;
  }
  return core::Error(core::Code::internal, "did not throw");
}

// Returns OpenSSL's verdict on `cert_pem` against the CA `ca_pem` for a
// TLS client (or server) at `now`.
int verify(const std::string& ca_pem, const std::string& cert_pem, bool server,
           std::time_t now) {
  auto read = [](const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
    BIO_free(bio);
    return x;
  };
  X509* ca = read(ca_pem);
  X509* cert = read(cert_pem);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  X509_STORE_CTX_set_purpose(ctx, server ? X509_PURPOSE_SSL_SERVER
                                         : X509_PURPOSE_SSL_CLIENT);
  X509_STORE_CTX_set_time(ctx, 0, now);
  int result =
      X509_verify_cert(ctx) == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  X509_free(cert);
  X509_free(ca);
  return result;
}

} // namespace

TEST_CASE("certs init makes a CA with a private key") {
  TempDir tmp;
  auto dir = tmp.file("pki");
  std::time_t before = std::time(nullptr);
  auto files = init_ca({dir, "test CA", 30, false});
  CHECK(files.certificate == dir + "/ca.crt");
  CHECK(mode_of(files.key) == 0600);
  CHECK(mode_of(files.certificate) == 0644);
  CHECK(mode_of(dir) == 0700);
  auto ca = read_certificate(slurp(files.certificate));
  CHECK(ca.common_name == "test CA");
  CHECK(ca.issuer_common_name == "test CA");
  CHECK(ca.is_ca);
  // 30 days = 30 x 86400 s = 2,592,000 s from now, valid from 300 s ago.
  CHECK(ca.not_after - ca.not_before == 30 * k_day + k_skew);
  CHECK(ca.not_before >= before - k_skew - 1);
  CHECK(ca.not_before <= std::time(nullptr) - k_skew + 1);
  CHECK(slurp(files.key).find("PRIVATE KEY") != std::string::npos);

  // Never overwritten without force; the old CA stays as it was.
  auto e = error_of([&] { init_ca({dir, "other", 30, false}); });
  CHECK(e.code() == core::Code::conflict);
  CHECK(e.field() == "--force");
  CHECK(read_certificate(slurp(files.certificate)).common_name == "test CA");
  init_ca({dir, "other", 30, true});
  CHECK(read_certificate(slurp(files.certificate)).common_name == "other");
  CHECK(mode_of(files.key) == 0600);
}

TEST_CASE("certs issue signs cluster, person and server certificates") {
  TempDir tmp;
  auto dir = tmp.file("pki");
  init_ca({dir, "fleet CA", 3650, false});
  auto ca_pem = slurp(dir + "/ca.crt");
  std::time_t now = std::time(nullptr);

  IssueOptions rome;
  rome.dir = dir;
  rome.name = "rome";
  auto files = issue_certificate(rome);
  CHECK(files.certificate == dir + "/rome.crt");
  CHECK(mode_of(files.key) == 0600);
  auto info = read_certificate(slurp(files.certificate));
  CHECK(info.common_name == "rome");
  CHECK(info.dns_names == std::vector<std::string>{"rome"});
  CHECK(info.organizations == std::vector<std::string>{"lrb:agent"});
  CHECK(info.issuer_common_name == "fleet CA");
  CHECK_FALSE(info.is_ca);
  // The default 365 days: 365 x 86400 = 31,536,000 s, plus the 300 s
  // before now.
  CHECK(info.not_after - info.not_before == 365 * k_day + k_skew);
  auto cert_pem = slurp(files.certificate);
  CHECK(verify(ca_pem, cert_pem, false, now) == X509_V_OK);
  // A client certificate cannot serve (extended key usage clientAuth).
  CHECK(verify(ca_pem, cert_pem, true, now) == X509_V_ERR_INVALID_PURPOSE);

  IssueOptions alice;
  alice.dir = dir;
  alice.name = "alice";
  alice.role = "operator";
  info = read_certificate(slurp(issue_certificate(alice).certificate));
  CHECK(info.organizations == std::vector<std::string>{"lrb:operator"});
  CHECK(info.common_name == "alice");

  IssueOptions server;
  server.dir = dir;
  server.server = true;
  server.hosts = {"broker.example", "localhost"};
  server.ips = {"127.0.0.1", "::1"};
  server.days = 10;
  files = issue_certificate(server);
  CHECK(files.key == dir + "/server.key");
  info = read_certificate(slurp(files.certificate));
  CHECK(info.common_name == "broker.example");
  CHECK(info.dns_names ==
        std::vector<std::string>{"broker.example", "localhost"});
  CHECK(info.ip_addresses == std::vector<std::string>{"127.0.0.1", "::1"});
  CHECK(info.organizations.empty());
  CHECK(verify(ca_pem, slurp(files.certificate), true, now) == X509_V_OK);
  CHECK(verify(ca_pem, slurp(files.certificate), false, now) ==
        X509_V_ERR_INVALID_PURPOSE);
  // 10 days after issue it has expired: 10 x 86400 s + 1 h.
  CHECK(verify(ca_pem, slurp(files.certificate), true,
               now + 10 * k_day + 3600) == X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_CASE("a backdated certificate is already expired") {
  TempDir tmp;
  auto dir = tmp.file("pki");
  init_ca({dir, "fleet CA", 3650, false});
  IssueOptions old;
  old.dir = dir;
  old.name = "rome";
  old.days = 1;
  old.backdate_days = 2;
  auto files = issue_certificate(old);
  auto info = read_certificate(slurp(files.certificate));
  std::time_t now = std::time(nullptr);
  // Valid from 2 days ago for 1 day: it ended about 1 day (86400 s) ago.
  CHECK(info.not_after <= now - k_day + 5);
  CHECK(info.not_after >= now - k_day - 5);
  CHECK(verify(slurp(dir + "/ca.crt"), slurp(files.certificate), false, now) ==
        X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST_CASE("certs issue refuses what it cannot do well") {
  TempDir tmp;
  auto dir = tmp.file("pki");
  struct Row {
    IssueOptions options;
    core::Code code;
    const char* field;
  };
  auto opts = [&](std::string name, std::string role, bool server,
                  std::vector<std::string> hosts, std::vector<std::string> ips,
                  int days) {
    IssueOptions o;
    o.dir = dir;
    o.name = std::move(name);
    o.role = std::move(role);
    o.server = server;
    o.hosts = std::move(hosts);
    o.ips = std::move(ips);
    o.days = days;
    return o;
  };
  // No CA yet: not found, naming --dir.
  CHECK(error_of([&] {
          issue_certificate(opts("rome", "", false, {}, {}, 1));
        }).field() == "--dir");
  init_ca({dir, "fleet CA", 3650, false});
  const Row rows[] = {
      {opts("Rome", "", false, {}, {}, 365), core::Code::invalid_argument,
       "--cluster"},
      {opts("alice", "root", false, {}, {}, 365), core::Code::invalid_argument,
       "--role"},
      {opts("", "", false, {}, {}, 365), core::Code::invalid_argument,
       "--name"},
      {opts("", "", true, {}, {}, 365), core::Code::invalid_argument, "--host"},
      {opts("", "", true, {"bad host"}, {}, 365), core::Code::invalid_argument,
       "--host"},
      {opts("", "", true, {}, {"300.1.1.1"}, 365), core::Code::invalid_argument,
       "--ip"},
      {opts("rome", "", false, {}, {}, 0), core::Code::invalid_argument,
       "--days"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.field);
    auto e = error_of([&] { issue_certificate(row.options); });
    CHECK(e.code() == row.code);
    CHECK(e.field() == row.field);
  }
  // A refused issue leaves nothing behind; an existing pair is kept.
  CHECK_FALSE(std::filesystem::exists(dir + "/Rome.key"));
  issue_certificate(opts("rome", "", false, {}, {}, 365));
  auto before = slurp(dir + "/rome.crt");
  CHECK(error_of([&] {
          issue_certificate(opts("rome", "", false, {}, {}, 5));
        }).code() == core::Code::conflict);
  CHECK(slurp(dir + "/rome.crt") == before);
}

} // namespace lrb::daemon
