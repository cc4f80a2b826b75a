#include "daemon/auth.h"

#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/quoting.h"
#include "core/types.h"

namespace lrb::daemon {

namespace {

using core::Code;
using core::Error;

using Digest = std::array<unsigned char, 32>;

Digest sha256(std::string_view text) {
  Digest out{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), out.data(), &size, EVP_sha256(),
                 nullptr) != 1 ||
      size != out.size()) {
    throw Error(Code::internal, "SHA-256 is not available from OpenSSL");
  }
  return out;
}

// Splits a line into blank-separated words.
std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) {
    out.push_back(w);
  }
  return out;
}

[[noreturn]] void bad_line(std::string_view path, int line,
                           std::string_view why) {
  throw Error(Code::invalid_argument,
              fmt::format("--tokens-file {} line {}: {}", path, line, why),
              "--tokens-file", "InvalidTokensFile");
}

bool printable(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x21 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

Error unauthenticated(std::string message) {
  return Error(Code::unauthenticated, std::move(message), "Authorization",
               "Unauthenticated");
}

// Returns the role named by a certificate's organizations ("lrb:<role>"),
// or "" when none names one.
std::string role_organization(const PeerCertificate& peer) {
  for (const auto& o : peer.organizations) {
    if (o.starts_with(k_role_organization_prefix)) {
      return o.substr(k_role_organization_prefix.size());
    }
  }
  return {};
}

} // namespace

void apply_role(Identity& identity, std::string_view role,
                std::string_view field) {
  identity.cluster_id.clear();
  if (role == "admin") {
    identity.role = Role::admin;
  } else if (role == "operator") {
    identity.role = Role::operator_;
  } else if (role == "viewer") {
    identity.role = Role::viewer;
  } else if (role == "agent" || role.starts_with("agent:")) {
    identity.role = Role::agent;
    identity.cluster_id =
        role == "agent" ? identity.subject : std::string(role.substr(6));
    if (!core::is_dns_label(identity.cluster_id)) {
      throw Error(Code::invalid_argument,
                  fmt::format("an agent's cluster must be a DNS label "
                              "([a-z0-9-], at most 63), not {}: write "
                              "agent:CLUSTER",
                              core::quote_input(identity.cluster_id)),
                  std::string(field), "InvalidRole");
    }
  } else {
    throw Error(Code::invalid_argument,
                fmt::format("unknown role {}: use admin, operator, viewer, "
                            "agent or agent:CLUSTER",
                            core::quote_input(role)),
                std::string(field), "InvalidRole");
  }
}

std::vector<TokenEntry> parse_tokens(std::string_view text,
                                     std::string_view path) {
  std::vector<TokenEntry> out;
  std::istringstream in{std::string(text)};
  std::string raw;
  for (int line = 1; std::getline(in, raw); ++line) {
    auto w = words(raw.substr(0, raw.find('#')));
    if (w.empty()) {
      continue;
    }
    if (w.size() != 3) {
      bad_line(path, line,
               fmt::format("expected `TOKEN IDENTITY ROLE`, found {} "
                           "word{}",
                           w.size(), w.size() == 1 ? "" : "s"));
    }
    if (w[0].size() < k_min_token_length || !printable(w[0])) {
      bad_line(path, line,
               fmt::format("the token must be at least {} printable "
                           "characters (try `openssl rand -hex 32`)",
                           k_min_token_length));
    }
    TokenEntry entry;
    entry.digest = sha256(w[0]);
    entry.identity.subject = w[1];
    entry.line = line;
    try {
      apply_role(entry.identity, w[2], "--tokens-file");
    } catch (const Error& e) {
      bad_line(path, line, e.what());
    }
    for (const auto& earlier : out) {
      if (earlier.digest == entry.digest) {
        bad_line(path, line,
                 fmt::format("the same token is on line {}: give every "
                             "identity its own token",
                             earlier.line));
      }
    }
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<TokenEntry> load_tokens_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw Error(
        Code::invalid_argument,
        fmt::format("--tokens-file: cannot read {}: check the path", path),
        "--tokens-file", "InvalidTokensFile");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw Error(Code::invalid_argument,
                fmt::format("--tokens-file: {} is readable by group or "
                            "others (mode {:04o}): run `chmod 600 {}`",
                            path, st.st_mode & 07777, path),
                "--tokens-file", "InsecureTokensFile");
  }
  std::ifstream in(path);
  std::string text{std::istreambuf_iterator<char>(in),
                   std::istreambuf_iterator<char>()};
  if (!in) {
    throw Error(Code::invalid_argument,
                fmt::format("--tokens-file: cannot read {}", path),
                "--tokens-file", "InvalidTokensFile");
  }
  return parse_tokens(text, path);
}

Identity certificate_identity(const PeerCertificate& peer) {
  Identity id;
  id.subject = peer.common_name.empty() ? peer.dns_name : peer.common_name;
  if (id.subject.empty()) {
    throw Error(Code::permission_denied,
                "the client certificate names no subject (no CN and no DNS "
                "name): issue it with `lrb certs issue`",
                "", "PermissionDenied");
  }
  std::string role = role_organization(peer);
  try {
    apply_role(id, role.empty() ? "agent" : role, "certificate");
  } catch (const Error& e) {
    throw Error(Code::permission_denied,
                fmt::format("client certificate {}: {}",
                            core::quote_input(id.subject), e.what()),
                "", "PermissionDenied");
  }
  return id;
}

Authenticator::Authenticator(AuthOptions options)
    : tokens_(std::move(options.tokens)),
      enabled_(!tokens_.empty() || options.client_certificates),
      protect_metrics_(options.protect_metrics) {}

Identity
Authenticator::authenticate(std::string_view authorization,
                            const std::optional<PeerCertificate>& peer) const {
  if (!enabled_) {
    return Identity{};
  }
  if (authorization.empty()) {
    if (peer) {
      return certificate_identity(*peer);
    }
    throw unauthenticated("this endpoint needs credentials: a client "
                          "certificate or an `Authorization: Bearer` token");
  }
  constexpr std::string_view k_scheme = "Bearer ";
  if (authorization.size() <= k_scheme.size() ||
      !std::equal(k_scheme.begin(), k_scheme.end(), authorization.begin(),
                  [](char a, char b) {
                    return std::tolower(static_cast<unsigned char>(a)) ==
                           std::tolower(static_cast<unsigned char>(b));
                  })) {
    throw unauthenticated("the Authorization header must be `Bearer TOKEN`");
  }
  Digest digest = sha256(authorization.substr(k_scheme.size()));
  const TokenEntry* match = nullptr;
  for (const auto& t : tokens_) {
    // Every entry is compared, so the time taken says nothing of which.
    if (CRYPTO_memcmp(t.digest.data(), digest.data(), digest.size()) == 0) {
      match = &t;
    }
  }
  if (match == nullptr) {
    throw unauthenticated("the bearer token is not valid");
  }
  return match->identity;
}

} // namespace lrb::daemon
