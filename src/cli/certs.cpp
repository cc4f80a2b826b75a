// `lrb certs init` and `lrb certs issue`: a fleet's certificates in
// three commands (a CA, the broker's server certificate, one client
// certificate per cluster), so that running with mutual TLS is the easy
// path. The cryptography lives in daemon/certs.cpp; this file turns
// flags into its options and refuses ambiguous ones (a certificate is
// for a cluster, a person or a server, never two of them) before
// anything is written.
#include "daemon/certs.h"

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/output.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

using core::Code;
using core::Error;

struct InitFlags {
  std::string dir;
  std::string name = "lrb fleet CA";
  int days = 3650;
  bool force = false;
};

struct IssueFlags {
  std::string dir;
  std::string cluster;
  std::string name;
  std::string role;
  bool server = false;
  std::vector<std::string> hosts;
  std::vector<std::string> ips;
  std::string out;
  int days = 365;
  int backdate = 0;
  bool force = false;
};

Error usage(std::string message, std::string field) {
  return Error(Code::invalid_argument, std::move(message), std::move(field));
}

void print_written(const daemon::IssuedFiles& files) {
  print_out(fmt::format("wrote {}\nwrote {} (mode 0600)\n", files.certificate,
                        files.key));
}

int run_init(const InitFlags& f) {
  require_value(f.dir, "--dir", "name the CA's directory, e.g. --dir pki");
  print_written(daemon::init_ca({f.dir, f.name, f.days, f.force}));
  return 0;
}

// Checks that the flags describe exactly one kind of certificate.
void check_kind(const IssueFlags& f) {
  int kinds = (f.cluster.empty() ? 0 : 1) + (f.name.empty() ? 0 : 1) +
              (f.server ? 1 : 0);
  if (kinds != 1) {
    throw usage("say what the certificate is for, once: --cluster ID (an "
                "agent), --name NAME --role ROLE (a person or a script) or "
                "--server --host NAME (the broker)",
                "--cluster");
  }
  if (!f.role.empty() && f.name.empty()) {
    throw usage("--role goes with --name: a cluster's certificate is always "
                "an agent's, a server's has no role",
                "--role");
  }
  if (!f.name.empty() && f.role.empty()) {
    throw usage("--name needs --role admin, operator or viewer", "--role");
  }
  if ((!f.hosts.empty() || !f.ips.empty()) && !f.server) {
    throw usage("--host and --ip name a server: add --server", "--server");
  }
}

int run_issue(const IssueFlags& f) {
  require_value(f.dir, "--dir",
                "name the CA's directory (made by `lrb certs init`)");
  check_kind(f);
  daemon::IssueOptions o;
  o.dir = f.dir;
  o.name = f.cluster.empty() ? f.name : f.cluster;
  o.role = f.role;
  o.server = f.server;
  o.hosts = f.hosts;
  o.ips = f.ips;
  o.file_stem = f.out;
  o.days = f.days;
  o.backdate_days = f.backdate;
  o.force = f.force;
  print_written(daemon::issue_certificate(o));
  return 0;
}

void add_init(CLI::App* certs, Globals& g) {
  auto f = std::make_shared<InitFlags>();
  auto* cmd = certs->add_subcommand(
      "init", "Make a CA: DIR/ca.crt and DIR/ca.key (mode 0600)");
  cmd->add_option("--dir", f->dir, "Directory of the CA (created 0700)")
      ->type_name("DIR");
  cmd->add_option("--days", f->days, "Validity in days (default 3650)");
  cmd->add_option("--name", f->name, "The CA's common name");
  cmd->add_flag("--force", f->force, "Replace existing files");
  cmd->callback([f, &g] { g.action = [f] { return run_init(*f); }; });
}

void add_issue(CLI::App* certs, Globals& g) {
  auto f = std::make_shared<IssueFlags>();
  auto* cmd = certs->add_subcommand(
      "issue", "Sign a client certificate (a cluster's or a person's) or "
               "the broker's server certificate with the CA of --dir");
  cmd->add_option("--dir", f->dir, "Directory of the CA; receives the pair")
      ->type_name("DIR");
  cmd->add_option("--cluster", f->cluster,
                  "An agent's certificate: CN and DNS name = the cluster id")
      ->type_name(std::string(k_type_cluster));
  cmd->add_option("--name", f->name, "A person's or a script's certificate");
  cmd->add_option("--role", f->role,
                  "The role of --name: admin, operator or viewer")
      ->check(CLI::IsMember({"admin", "operator", "viewer"}));
  cmd->add_flag("--server", f->server, "The broker's server certificate");
  cmd->add_option("--host", f->hosts,
                  "A DNS name clients dial the server by (repeatable)");
  cmd->add_option("--ip", f->ips,
                  "An IP address clients dial the server at (repeatable)");
  cmd->add_option("--out", f->out,
                  "Write DIR/OUT.crt and DIR/OUT.key (default: the cluster, "
                  "the name, or server)");
  cmd->add_option("--days", f->days, "Validity in days (default 365)");
  cmd->add_option("--backdate", f->backdate,
                  "Start the validity this many days ago (--days 1 "
                  "--backdate 2 makes an expired certificate, for tests)");
  cmd->add_flag("--force", f->force, "Replace existing files");
  cmd->callback([f, &g] { g.action = [f] { return run_issue(*f); }; });
}

void setup(CLI::App& root, Globals& g) {
  auto* certs = root.add_subcommand(
      "certs", "Make a CA and sign the certificates of a fleet (mTLS)");
  certs->require_subcommand(1);
  add_init(certs, g);
  add_issue(certs, g);
}

const VerbRegistrar k_registrar({"certs", 750, setup});

} // namespace

} // namespace lrb::cli
