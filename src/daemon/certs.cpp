#include "daemon/certs.h"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/quoting.h"
#include "core/types.h"
#include "daemon/auth.h"

namespace lrb::daemon {

namespace {

using core::Code;
using core::Error;

constexpr int k_max_days = 36500;
// Validity starts this much before now, so that a machine whose clock is
// a little behind the issuer's accepts a certificate issued a moment ago.
constexpr long k_clock_skew_seconds = 300;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

// Returns OpenSSL's last error for a message, clearing the queue.
std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  return reason != nullptr ? reason : "unknown OpenSSL error";
}

[[noreturn]] void crypto_failure(std::string_view step) {
  throw Error(Code::internal, fmt::format("{}: {}", step, openssl_error()));
}

void check(int ok, std::string_view step) {
  if (ok != 1) {
    crypto_failure(step);
  }
}

// Returns a new P-256 key.
KeyPtr new_key() {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) {
    crypto_failure("generate a P-256 key");
  }
  return key;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (!in || !(text << in.rdbuf())) {
    throw Error(Code::not_found, fmt::format("cannot read {}", path), "--dir");
  }
  return text.str();
}

BioPtr memory_bio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string pem_of(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(bio.get(), cert), "encode the certificate");
  return bio_text(bio.get());
}

std::string pem_of(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                 nullptr),
        "encode the key");
  return bio_text(bio.get());
}

// Refuses to go on when `path` exists and overwriting was not asked for.
void check_absent(const std::string& path, bool force) {
  if (!force && std::filesystem::exists(path)) {
    throw Error(Code::conflict,
                fmt::format("{} exists: keep it, or pass --force to replace "
                            "it",
                            path),
                "--force", "AlreadyExists");
  }
}

// Writes `text` to a file that did not exist (removing it first when
// `force`), with `mode` from its creation on.
void write_new_file(const std::string& path, const std::string& text,
                    mode_t mode, bool force) {
  if (force) {
    ::unlink(path.c_str());
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    throw Error(Code::unavailable,
                fmt::format("cannot create {}: {}", path, std::strerror(errno)),
                "--dir");
  }
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      ::unlink(path.c_str());
      throw Error(Code::unavailable,
                  fmt::format("cannot write {}: {}", path, std::strerror(err)),
                  "--dir");
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    throw Error(Code::unavailable,
                fmt::format("cannot write {}: {}", path, std::strerror(errno)),
                "--dir");
  }
}

// Writes a certificate (0644) and its key (0600); a failure of the
// second removes the first.
IssuedFiles write_pair(const std::string& stem, X509* cert, EVP_PKEY* key,
                       bool force) {
  IssuedFiles files{stem + ".crt", stem + ".key"};
  check_absent(files.certificate, force);
  check_absent(files.key, force);
  std::string cert_pem = pem_of(cert);
  std::string key_pem = pem_of(key);
  write_new_file(files.key, key_pem, 0600, force);
  try {
    write_new_file(files.certificate, cert_pem, 0644, force);
  } catch (...) {
    ::unlink(files.key.c_str());
    throw;
  }
  return files;
}

void check_days(int days, int backdate) {
  if (days < 1 || days > k_max_days) {
    throw Error(
        Code::invalid_argument,
        fmt::format("--days must be from 1 to {}, not {}", k_max_days, days),
        "--days");
  }
  if (backdate < 0 || backdate > k_max_days) {
    throw Error(Code::invalid_argument,
                fmt::format("--backdate must be from 0 to {} days", k_max_days),
                "--backdate");
  }
}

void add_name(X509_NAME* name, const char* field, const std::string& value) {
  check(X509_NAME_add_entry_by_txt(
            name, field, MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0),
        fmt::format("set {}={}", field, value));
}

void add_extension(X509* cert, X509* issuer, int nid,
                   const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) {
    crypto_failure(fmt::format("add extension {}", value));
  }
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  check(ok, "add an extension");
}

// Returns a certificate with a random serial, the validity window and
// the subject set; the caller adds extensions and signs.
X509Ptr new_certificate(EVP_PKEY* key, int days, int backdate,
                        const std::string& common_name,
                        const std::string& organization) {
  X509Ptr cert(X509_new());
  check(X509_set_version(cert.get(), X509_VERSION_3), "set the version");
  BnPtr serial(BN_new());
  check(BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY),
        "draw a serial");
  if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ==
      nullptr) {
    crypto_failure("set the serial");
  }
  std::time_t now = std::time(nullptr);
  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), -backdate,
                       -k_clock_skew_seconds, &now) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days - backdate, 0,
                       &now) == nullptr) {
    crypto_failure("set the validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (!organization.empty()) {
    add_name(name, "O", organization);
  }
  add_name(name, "CN", common_name);
  check(X509_set_pubkey(cert.get(), key), "set the public key");
  return cert;
}

void sign(X509* cert, EVP_PKEY* issuer_key) {
  if (X509_sign(cert, issuer_key, EVP_sha256()) <= 0) {
    crypto_failure("sign the certificate");
  }
}

// The CA of a directory.
struct Ca {
  X509Ptr cert;
  KeyPtr key;
};

Ca load_ca(const std::string& dir) {
  std::string crt = dir + "/ca.crt";
  std::string key = dir + "/ca.key";
  if (!std::filesystem::exists(crt) || !std::filesystem::exists(key)) {
    throw Error(Code::not_found,
                fmt::format("no CA in {} (ca.crt and ca.key): run `lrb certs "
                            "init --dir {}` first",
                            dir, dir),
                "--dir", "NoCA");
  }
  Ca ca;
  ca.cert.reset(PEM_read_bio_X509(memory_bio(read_text(crt)).get(), nullptr,
                                  nullptr, nullptr));
  ca.key.reset(PEM_read_bio_PrivateKey(memory_bio(read_text(key)).get(),
                                       nullptr, nullptr, nullptr));
  if (!ca.cert || !ca.key ||
      X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    ERR_clear_error();
    throw Error(Code::invalid_argument,
                fmt::format("{} and {} are not a PEM certificate and its "
                            "key",
                            crt, key),
                "--dir", "InvalidCA");
  }
  return ca;
}

// Returns "DNS:a,DNS:b,IP:1.2.3.4" after checking every entry.
std::string alt_names(const std::vector<std::string>& hosts,
                      const std::vector<std::string>& ips) {
  std::string out;
  for (const auto& h : hosts) {
    bool ok = !h.empty() && h.size() <= 253 &&
              h.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-*") ==
                  std::string::npos;
    if (!ok) {
      throw Error(
          Code::invalid_argument,
          fmt::format("--host {} is not a DNS name", core::quote_input(h)),
          "--host");
    }
    out += (out.empty() ? "DNS:" : ",DNS:") + h;
  }
  for (const auto& ip : ips) {
    in6_addr addr{};
    if (inet_pton(AF_INET, ip.c_str(), &addr) != 1 &&
        inet_pton(AF_INET6, ip.c_str(), &addr) != 1) {
      throw Error(Code::invalid_argument,
                  fmt::format("--ip {} is not an IPv4 or IPv6 address",
                              core::quote_input(ip)),
                  "--ip");
    }
    out += (out.empty() ? "IP:" : ",IP:") + ip;
  }
  return out;
}

// Checks a client certificate's name and role; returns the organization
// that carries the role.
std::string client_organization(const IssueOptions& o) {
  if (o.name.empty()) {
    throw Error(Code::invalid_argument,
                "a client certificate needs a name: --cluster ID for an "
                "agent, --name NAME --role ROLE for a person",
                "--name");
  }
  Identity id;
  id.subject = o.name;
  apply_role(id, o.role.empty() ? "agent" : o.role,
             o.role.empty() ? "--cluster" : "--role");
  if (id.role == Role::agent && id.cluster_id != o.name) {
    throw Error(Code::invalid_argument,
                "an agent's certificate is named after its cluster: use "
                "--cluster ID",
                "--role");
  }
  return fmt::format("{}{}", k_role_organization_prefix, role_name(id.role));
}

std::string entry_text(const X509_NAME_ENTRY* entry) {
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(
      &utf8, X509_NAME_ENTRY_get_data(const_cast<X509_NAME_ENTRY*>(entry)));
  if (n < 0) {
    ERR_clear_error();
    return {};
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::vector<std::string> name_entries(const X509_NAME* name, int nid) {
  std::vector<std::string> out;
  for (int i = X509_NAME_get_index_by_NID(name, nid, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(name, nid, i)) {
    out.push_back(entry_text(X509_NAME_get_entry(name, i)));
  }
  return out;
}

std::int64_t epoch_of(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    return 0;
  }
  return static_cast<std::int64_t>(timegm(&tm));
}

void read_alt_names(const X509* cert, CertificateInfo& info) {
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) {
    return;
  }
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      const ASN1_STRING* s = n->d.dNSName;
      info.dns_names.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (n->type == GEN_IPADD) {
      const ASN1_STRING* s = n->d.iPAddress;
      char text[INET6_ADDRSTRLEN] = {};
      int family = ASN1_STRING_length(s) == 4 ? AF_INET : AF_INET6;
      if (inet_ntop(family, ASN1_STRING_get0_data(s), text, sizeof text)) {
        info.ip_addresses.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
}

} // namespace

IssuedFiles init_ca(const CaOptions& o) {
  check_days(o.days, 0);
  std::error_code ec;
  bool created = std::filesystem::create_directories(o.dir, ec);
  if (ec) {
    throw Error(Code::unavailable,
                fmt::format("cannot create {}: {}", o.dir, ec.message()),
                "--dir");
  }
  if (created) {
    ::chmod(o.dir.c_str(), 0700); // an existing directory keeps its mode
  }
  KeyPtr key = new_key();
  X509Ptr cert = new_certificate(key.get(), o.days, 0, o.name, "");
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get())),
        "set the issuer");
  add_extension(cert.get(), cert.get(), NID_basic_constraints,
                "critical,CA:TRUE,pathlen:0");
  add_extension(cert.get(), cert.get(), NID_key_usage,
                "critical,keyCertSign,cRLSign");
  add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  sign(cert.get(), key.get());
  return write_pair(o.dir + "/ca", cert.get(), key.get(), o.force);
}

IssuedFiles issue_certificate(const IssueOptions& o) {
  check_days(o.days, o.backdate_days);
  std::string organization, common_name, sans, usage;
  if (o.server) {
    if (o.hosts.empty() && o.ips.empty()) {
      throw Error(Code::invalid_argument,
                  "a server certificate needs the names clients dial: "
                  "--host NAME (repeatable) and/or --ip ADDRESS",
                  "--host");
    }
    sans = alt_names(o.hosts, o.ips);
    common_name = o.hosts.empty() ? o.ips.front() : o.hosts.front();
    usage = "serverAuth";
  } else {
    organization = client_organization(o);
    common_name = o.name;
    if (core::is_dns_label(o.name)) {
      sans = "DNS:" + o.name;
    }
    usage = "clientAuth";
  }
  std::string stem =
      o.file_stem.empty() ? (o.server ? "server" : o.name) : o.file_stem;
  std::string base = o.dir + "/" + stem;
  check_absent(base + ".crt", o.force);
  check_absent(base + ".key", o.force);

  Ca ca = load_ca(o.dir);
  KeyPtr key = new_key();
  X509Ptr cert = new_certificate(key.get(), o.days, o.backdate_days,
                                 common_name, organization);
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.cert.get())),
        "set the issuer");
  add_extension(cert.get(), ca.cert.get(), NID_basic_constraints,
                "critical,CA:FALSE");
  add_extension(cert.get(), ca.cert.get(), NID_key_usage,
                "critical,digitalSignature");
  add_extension(cert.get(), ca.cert.get(), NID_ext_key_usage, usage);
  add_extension(cert.get(), ca.cert.get(), NID_authority_key_identifier,
                "keyid:always");
  if (!sans.empty()) {
    add_extension(cert.get(), ca.cert.get(), NID_subject_alt_name, sans);
  }
  sign(cert.get(), ca.key.get());
  return write_pair(base, cert.get(), key.get(), o.force);
}

CertificateInfo read_certificate(const std::string& pem) {
  X509Ptr cert(
      PEM_read_bio_X509(memory_bio(pem).get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    throw Error(Code::invalid_argument, "not a PEM certificate");
  }
  return certificate_info(cert.get());
}

CertificateInfo certificate_info(const X509* cert) {
  CertificateInfo info;
  const X509_NAME* subject = X509_get_subject_name(cert);
  auto cn = name_entries(subject, NID_commonName);
  info.common_name = cn.empty() ? "" : cn.front();
  info.organizations = name_entries(subject, NID_organizationName);
  auto issuer = name_entries(X509_get_issuer_name(cert), NID_commonName);
  info.issuer_common_name = issuer.empty() ? "" : issuer.front();
  read_alt_names(cert, info);
  info.not_before = epoch_of(X509_get0_notBefore(cert));
  info.not_after = epoch_of(X509_get0_notAfter(cert));
  info.is_ca = X509_check_ca(const_cast<X509*>(cert)) > 0;
  return info;
}

PeerCertificate peer_certificate(const X509* cert) {
  CertificateInfo info = certificate_info(cert);
  PeerCertificate peer;
  peer.common_name = info.common_name;
  peer.dns_name = info.dns_names.empty() ? "" : info.dns_names.front();
  peer.organizations = info.organizations;
  return peer;
}

} // namespace lrb::daemon
