// Authentication: turning a request's credentials into an Identity.
// Two kinds are accepted, so that machines and people each use what
// suits them: a client certificate the transport verified against the
// broker's client CA (agents, and people who have one), and a bearer
// token listed in the broker's tokens file (people, scripts, a
// Prometheus scraper).
//
// A certificate names its subject by its CN (else its first DNS
// subjectAltName) and its role by an organization "lrb:<role>", which
// the CA signed along with the name; a certificate without one is an
// agent for the cluster it names. A bearer token, when sent, decides on
// its own: a wrong token is refused even over a good certificate, so a
// client never acts as someone it did not mean to be.
//
// The tokens file holds one token a line, `TOKEN IDENTITY ROLE`, with
// ROLE one of admin, operator, viewer, agent (an agent for the cluster
// named IDENTITY) or agent:CLUSTER; '#' starts a comment. It must not
// be readable by group or others. Tokens are kept as SHA-256 digests
// and compared in constant time; messages name a token by its line,
// never by its text.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/identity.h"

namespace lrb::daemon {

// The organization prefix naming a role in a client certificate.
inline constexpr std::string_view k_role_organization_prefix = "lrb:";

// The shortest bearer token accepted in a tokens file.
inline constexpr std::size_t k_min_token_length = 16;

// One line of a tokens file.
struct TokenEntry {
  std::array<unsigned char, 32> digest{}; // SHA-256 of the token
  Identity identity;
  int line = 0;
};

// Parses tokens-file text. Throws Error(invalid_argument) naming `path`
// and the line for a line that is not `TOKEN IDENTITY ROLE`, an unknown
// role, an agent cluster that is not a DNS label, a token shorter than
// k_min_token_length, or a token listed twice.
std::vector<TokenEntry> parse_tokens(std::string_view text,
                                     std::string_view path);

// Reads and parses a tokens file; throws Error(invalid_argument) naming
// --tokens-file when it cannot be read or is readable by group or
// others (with the chmod that fixes it).
std::vector<TokenEntry> load_tokens_file(const std::string& path);

// Parses a role as written in a tokens file or a certificate ("admin",
// "operator", "viewer", "agent", "agent:rome") into `identity`, whose
// subject is already set. Throws Error(invalid_argument) naming `field`.
void apply_role(Identity& identity, std::string_view role,
                std::string_view field);

// Returns the identity a verified client certificate stands for; throws
// Error(permission_denied) when it names no subject, or names an agent
// whose cluster is not a DNS label.
Identity certificate_identity(const PeerCertificate& peer);

// What the broker was told about authentication.
struct AuthOptions {
  std::vector<TokenEntry> tokens;
  bool client_certificates = false; // a client CA is configured
  bool protect_metrics = false;     // /metrics needs credentials
};

// Decides who a request comes from. Immutable after construction, so
// every HTTP worker may call it at once.
class Authenticator {
public:
  // Accepts everyone as an anonymous admin (no authentication).
  Authenticator() = default;
  // Accepts the tokens and certificates of `options`.
  explicit Authenticator(AuthOptions options);

  // Returns whether any credential is checked at all.
  bool enabled() const { return enabled_; }
  // Returns whether /metrics needs credentials.
  bool protects_metrics() const { return enabled_ && protect_metrics_; }

  // Returns the identity for a request: from the bearer token in
  // `authorization` (the header's value) when there is one, else from
  // the verified client certificate. Throws Error(unauthenticated) when
  // authentication is enabled and neither is there, or the token is
  // unknown or malformed.
  Identity authenticate(std::string_view authorization,
                        const std::optional<PeerCertificate>& peer) const;

private:
  std::vector<TokenEntry> tokens_;
  bool enabled_ = false;
  bool protect_metrics_ = false;
};

} // namespace lrb::daemon
