// A small certificate authority for one fleet, so that securing it
// takes minutes and no openssl incantations: `lrb certs init` makes a CA
// and `lrb certs issue` signs the broker's server certificate, one
// client certificate per cluster (CN and DNS name = the cluster id, so
// the broker knows which cluster an agent speaks for) and one per person
// (CN = the name, organization "lrb:<role>" = what they may do).
//
// Keys are ECDSA P-256 and signatures SHA-256: small, fast and accepted
// by every TLS stack lrb meets. A key is written with O_CREAT|O_EXCL and
// mode 0600, so it is never readable by others, not even for an
// instant, and nothing is ever overwritten unless asked (`force`); every
// target is checked before the first file is written, so a refusal
// leaves no half-made pair behind. Client and server certificates carry
// the matching extended key usage, so a server certificate cannot be
// used to log in and a client certificate cannot serve.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/identity.h"

typedef struct x509_st X509;

namespace lrb::daemon {

// What `lrb certs init` makes.
struct CaOptions {
  std::string dir;
  std::string name = "lrb fleet CA"; // the CA's CN
  int days = 3650;
  bool force = false;
};

// What `lrb certs issue` makes: a client certificate when `server` is
// false (CN = `name`, DNS name = `name` for agents), else a server
// certificate for `hosts` and `ips` (CN = the first host).
struct IssueOptions {
  std::string dir;     // holds ca.crt and ca.key; receives the pair
  std::string name;    // CN of a client certificate
  std::string role;    // "" (an agent) or admin, operator, viewer
  bool server = false; // a server certificate
  std::vector<std::string> hosts;
  std::vector<std::string> ips;
  std::string file_stem; // output DIR/STEM.crt and .key; default below
  int days = 365;
  int backdate_days = 0; // validity starts this many days ago (tests)
  bool force = false;
};

// The paths of a written pair.
struct IssuedFiles {
  std::string certificate;
  std::string key;
};

// The parts of a certificate that lrb cares about.
struct CertificateInfo {
  std::string common_name;
  std::string issuer_common_name;
  std::vector<std::string> organizations;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::int64_t not_before = 0; // seconds since 1970
  std::int64_t not_after = 0;
  bool is_ca = false;
};

// Makes DIR/ca.crt and DIR/ca.key (0600); creates DIR (0700) when
// missing. Throws Error(conflict) when either exists and not `force`,
// Error(invalid_argument) for bad days.
IssuedFiles init_ca(const CaOptions& options);

// Signs a new key pair with the CA of `options.dir`. The default stem
// is "server" for a server certificate and the name otherwise. Throws
// Error(invalid_argument) naming the flag at fault (a name that is not
// a DNS label for an agent, an unknown role, a server without hosts, an
// IP that does not parse), Error(not_found) when the CA is missing,
// Error(conflict) when the output exists and not `force`.
IssuedFiles issue_certificate(const IssueOptions& options);

// Returns the interesting parts of the first certificate of PEM `pem`;
// throws Error(invalid_argument) when it is not a PEM certificate.
CertificateInfo read_certificate(const std::string& pem);

// Returns the interesting parts of `cert`.
CertificateInfo certificate_info(const X509* cert);

// Returns what the broker takes from a verified client certificate.
PeerCertificate peer_certificate(const X509* cert);

} // namespace lrb::daemon
