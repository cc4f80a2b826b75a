// Who is calling the broker, and what they may do. The transport builds
// one RequestContext per request (with the client certificate it
// verified, if any); the Api turns its credentials into an Identity
// (daemon/auth.h) and checks every endpoint against the one table of
// identity.cpp before a handler runs. The Broker service checks again
// where a decision needs the stored row (an agent releasing a
// reservation it did not request), so that a caller of the service that
// is not the Api cannot skip the rules either.
//
// The rules: an admin may do everything; an operator reserves for any
// requester, runs any lifecycle step and cordons; an agent speaks only
// for its own cluster (publishes its advertisement, reserves as itself,
// sees and acts on reservations where its cluster is requester or
// provider, watches its own events); a viewer only reads. When no
// authentication is configured every caller is an anonymous admin.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace lrb::daemon {

// What a caller may do, from least to most.
enum class Role { viewer, agent, operator_, admin };

// The authenticated caller.
struct Identity {
  std::string subject = "anonymous";
  Role role = Role::admin;
  std::string cluster_id; // for agents: the cluster they speak for
};

// What the transport learnt from a client certificate it verified
// against the client CA.
struct PeerCertificate {
  std::string common_name;
  std::string dns_name; // the first DNS subjectAltName, or ""
  std::vector<std::string> organizations;
};

// Everything a handler knows about the request besides its body.
struct RequestContext {
  Identity identity;
  std::string remote_addr;
  std::string request_id;
  std::optional<PeerCertificate> peer; // set only over verified mTLS
};

// The kinds of request an endpoint makes, as the authorization table
// knows them.
enum class Permission {
  read,      // clusters, reservations, explain
  advertise, // publish a cluster's advertisement
  reserve,   // create a reservation for a requester
  lifecycle, // activate, renew or release a reservation
  cordon,    // cordon or uncordon a cluster
  watch,     // follow the events
  metrics,   // scrape /metrics when it is protected
};

// Returns the role's name as tokens files and messages spell it
// ("operator", "agent", ...).
std::string_view role_name(Role role);

// Returns the permission's name for messages ("reserve", "cordon", ...).
std::string_view permission_name(Permission action);

// Returns the identity as messages show it: "alice (operator)" or
// "rome (agent:rome)".
std::string describe(const Identity& identity);

// Returns why `identity` may not do `action` on behalf of `cluster_id`
// ("" when it may, or when no cluster is concerned yet).
std::string denial(const Identity& identity, Permission action,
                   std::string_view cluster_id = {});

// Throws Error(permission_denied) with the reason of denial() unless
// `identity` may do `action` on behalf of `cluster_id`.
void check_allowed(const Identity& identity, Permission action,
                   std::string_view cluster_id = {});

// Returns whether `identity` may see a reservation of `requester_id`
// placed on `provider_id`.
bool may_see(const Identity& identity, std::string_view requester_id,
             std::string_view provider_id);

// Throws Error(permission_denied) unless `identity` may act on behalf of
// `cluster_id`: agents only for their own cluster, viewers never.
void authorize(const Identity& identity, std::string_view cluster_id);

// Throws Error(permission_denied) naming `action` unless `identity` is an
// operator or an admin.
void require_operator(const Identity& identity, std::string_view action);

} // namespace lrb::daemon
