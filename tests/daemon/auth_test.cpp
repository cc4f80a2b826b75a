#include <fstream>
#include <functional>
#include <string>

#include <doctest/doctest.h>
#include <sys/stat.h>

#include "daemon/auth.h"
#include "daemon_support.h"

namespace lrb::daemon {

namespace {

using testing::TempDir;

const std::string k_alice = "alice-token-0123456789";
const std::string k_rome = "rome-token-0123456789";
const std::string k_graf = "grafana-token-012345";

const std::string k_tokens = "# token identity role\n"
                             "\n" +
                             k_alice + " alice operator\n" + k_rome +
                             "   rome-agent  agent:rome   # rome's agent\n" +
                             k_graf + "\tgrafana\tviewer\n" +
                             "root-token-0123456789 root admin\n"
                             "paris-token-012345678 paris agent\n";

core::Error error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const core::Error& e) {
    return e;
  }
  return core::Error(core::Code::internal, "did not throw");
}

void write_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

Authenticator with_tokens(bool certificates = false) {
  return Authenticator({parse_tokens(k_tokens, "tokens"), certificates});
}

} // namespace

TEST_CASE("a tokens file maps each token to an identity and a role") {
  auto tokens = parse_tokens(k_tokens, "tokens");
  REQUIRE(tokens.size() == 5);
  struct Row {
    const char* subject;
    Role role;
    const char* cluster;
    int line;
  };
  const Row rows[] = {
      {"alice", Role::operator_, "", 3},
      {"rome-agent", Role::agent, "rome", 4},
      {"grafana", Role::viewer, "", 5},
      {"root", Role::admin, "", 6},
      // A bare "agent" speaks for the cluster its identity names.
      {"paris", Role::agent, "paris", 7},
  };
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    CAPTURE(i);
    CHECK(tokens[i].identity.subject == rows[i].subject);
    CHECK(tokens[i].identity.role == rows[i].role);
    CHECK(tokens[i].identity.cluster_id == rows[i].cluster);
    CHECK(tokens[i].line == rows[i].line);
  }
}

TEST_CASE("tokens-file errors name the line and never the token") {
  struct Row {
    std::string text;
    const char* fragment; // expected in the message
  };
  const std::string good = "abcdefghijklmnop";
  const Row rows[] = {
      {good + " alice\n", "line 1: expected `TOKEN IDENTITY ROLE`, found 2"},
      {"\n" + good + " alice operator extra\n", "line 2: expected"},
      {"short-token alice operator\n", "line 1: the token must be at least 16"},
      {good + " alice root\n", "line 1: unknown role \"root\""},
      {good + " alice agent:Rome\n", "line 1: an agent's cluster must be"},
      {good + " Rome_1 agent\n", "an agent's cluster must be"},
      {good + " alice operator\n" + good + " bob viewer\n",
       "line 2: the same token is on line 1"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    auto e = error_of([&] { parse_tokens(row.text, "tokens"); });
    CHECK(e.code() == core::Code::invalid_argument);
    CHECK(e.field() == "--tokens-file");
    std::string message = e.what();
    CHECK(message.find(row.fragment) != std::string::npos);
    CHECK(message.find(good) == std::string::npos);
  }
}

TEST_CASE("a tokens file readable by group or others is refused") {
  TempDir dir;
  auto path = dir.file("tokens");
  write_file(path, k_tokens, 0600);
  CHECK(load_tokens_file(path).size() == 5);
  for (mode_t mode : {0640, 0604, 0660, 0644}) {
    CAPTURE(mode);
    ::chmod(path.c_str(), mode);
    auto e = error_of([&] { load_tokens_file(path); });
    CHECK(e.code() == core::Code::invalid_argument);
    CHECK(std::string(e.what()).find("chmod 600") != std::string::npos);
  }
  auto missing = error_of([&] { load_tokens_file(dir.file("nope")); });
  CHECK(missing.field() == "--tokens-file");
}

TEST_CASE("a bearer token authenticates as its identity") {
  auto auth = with_tokens();
  CHECK(auth.enabled());
  auto alice = auth.authenticate("Bearer " + k_alice, std::nullopt);
  CHECK(alice.subject == "alice");
  CHECK(alice.role == Role::operator_);
  // The scheme is case-insensitive (RFC 7235).
  CHECK(auth.authenticate("bearer " + k_rome, std::nullopt).cluster_id ==
        "rome");

  struct Row {
    std::string header;
  };
  const Row bad[] = {{""},
                     {"Bearer"},
                     {"Bearer "},
                     {"Basic YWxpY2U6cHc="},
                     {"Bearer " + k_alice + "x"},
                     {k_alice}};
  for (const auto& row : bad) {
    CAPTURE(row.header);
    auto e = error_of([&] { auth.authenticate(row.header, std::nullopt); });
    CHECK(e.code() == core::Code::unauthenticated);
    CHECK(std::string(e.what()).find(k_alice) == std::string::npos);
  }
}

TEST_CASE("a verified certificate authenticates when no token is sent") {
  auto auth = with_tokens(true);
  PeerCertificate rome{"rome", "rome", {"lrb:agent"}};
  auto id = auth.authenticate("", rome);
  CHECK(id.role == Role::agent);
  CHECK(id.cluster_id == "rome");
  // A token, when sent, decides, even over a certificate.
  CHECK(auth.authenticate("Bearer " + k_graf, rome).role == Role::viewer);
  CHECK(error_of([&] {
          auth.authenticate("Bearer wrong-but-long", rome);
        }).code() == core::Code::unauthenticated);
}

TEST_CASE("a certificate's role comes from its lrb: organization") {
  struct Row {
    PeerCertificate peer;
    const char* subject;
    Role role;
    const char* cluster;
  };
  const Row rows[] = {
      {{"rome", "rome", {"lrb:agent"}}, "rome", Role::agent, "rome"},
      // No role organization: an agent for the cluster it names.
      {{"paris", "", {}}, "paris", Role::agent, "paris"},
      // No CN: the first DNS name.
      {{"", "berlin", {}}, "berlin", Role::agent, "berlin"},
      {{"alice", "", {"Acme", "lrb:operator"}}, "alice", Role::operator_, ""},
      {{"grafana", "", {"lrb:viewer"}}, "grafana", Role::viewer, ""},
      {{"root", "", {"lrb:admin"}}, "root", Role::admin, ""},
  };
  for (const auto& row : rows) {
    CAPTURE(row.subject);
    auto id = certificate_identity(row.peer);
    CHECK(id.subject == row.subject);
    CHECK(id.role == row.role);
    CHECK(id.cluster_id == row.cluster);
  }
  // A person's name is not a cluster id, and without a role it would be
  // one: refused rather than guessed.
  auto e = error_of([] { certificate_identity({"Alice Smith", "", {}}); });
  CHECK(e.code() == core::Code::permission_denied);
  CHECK(error_of([] {
          certificate_identity({"", "", {}});
        }).code() == core::Code::permission_denied);
  CHECK(error_of([] {
          certificate_identity({"bob", "", {"lrb:superuser"}});
        }).code() == core::Code::permission_denied);
}

TEST_CASE("without authentication every caller is an anonymous admin") {
  Authenticator open;
  CHECK_FALSE(open.enabled());
  CHECK_FALSE(open.protects_metrics());
  auto id = open.authenticate("", std::nullopt);
  CHECK(id.role == Role::admin);
  CHECK(id.subject == "anonymous");
  // Enabled by client certificates alone, and /metrics only on request.
  Authenticator certs({{}, true, false});
  CHECK(certs.enabled());
  CHECK_FALSE(certs.protects_metrics());
  CHECK(error_of([&] { certs.authenticate("", std::nullopt); }).code() ==
        core::Code::unauthenticated);
  CHECK(Authenticator({{}, true, true}).protects_metrics());
}

} // namespace lrb::daemon
