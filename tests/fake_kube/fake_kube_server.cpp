// The fake API server. Requests are routed by splitting the path the way
// the API server does (/api/v1/..., /apis/GROUP/VERSION/...,
// namespaces/NS/...) rather than by one regex per route, so that every
// resource gets the same list, get, paging and error behaviour. Lists
// are served from sorted vectors with continue tokens shaped like the
// real ones (base64 of {"v","rv","start"}), so a client that gets paging
// right here gets it right against a real cluster.
#include "fake_kube/fake_kube_server.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/clock.h"
#include "core/quantity.h"

namespace lrb::fake_kube {

namespace {

constexpr const char* k_liqo_group = "authentication.liqo.io";
constexpr const char* k_liqo_version = "v1beta1";

// A kind the fake knows, so that kubectl can map a manifest to its
// resource, but holds no object of: for these it is an empty cluster,
// which is what `kubectl apply --dry-run=client` of lrb's manifests
// (deploy/) meets before their first apply.
struct EmptyKind {
  const char* group; // "" for the core group
  const char* version;
  const char* resource;
  const char* singular;
  const char* kind;
  bool namespaced;
};

constexpr EmptyKind k_empty_kinds[] = {
    {"", "v1", "configmaps", "configmap", "ConfigMap", true},
    {"", "v1", "secrets", "secret", "Secret", true},
    {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true},
    {"apps", "v1", "deployments", "deployment", "Deployment", true},
    {"rbac.authorization.k8s.io", "v1", "clusterrolebindings",
     "clusterrolebinding", "ClusterRoleBinding", false},
    {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole",
     "ClusterRole", false},
};

// The API groups of k_empty_kinds besides the core one.
constexpr const char* k_empty_groups[] = {"apps", "rbac.authorization.k8s.io"};

// What a resource path names.
struct Target {
  std::string group; // "" for the core group
  std::string version;
  std::string ns;
  std::string resource;
  std::string name;
};

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream in(path);
  std::string part;
  while (std::getline(in, part, '/')) {
    if (!part.empty()) {
      parts.push_back(part);
    }
  }
  return parts;
}

// Parses /api/v1/[namespaces/NS/]RES[/NAME] and the /apis/G/V form.
std::optional<Target> parse_target(const std::string& path) {
  auto parts = split_path(path);
  Target t;
  std::size_t i = 0;
  if (parts.size() >= 3 && parts[0] == "api") {
    t.version = parts[1];
    i = 2;
  } else if (parts.size() >= 4 && parts[0] == "apis") {
    t.group = parts[1];
    t.version = parts[2];
    i = 3;
  } else {
    return std::nullopt;
  }
  std::size_t rest = parts.size() - i;
  if (parts[i] == "namespaces" && rest >= 3) {
    t.ns = parts[i + 1];
    i += 2;
    rest -= 2;
  }
  if (rest > 2) {
    return std::nullopt;
  }
  t.resource = parts[i];
  t.name = rest == 2 ? parts[i + 1] : "";
  return t;
}

std::string reason_for(int code) {
  switch (code) {
  case 400:
    return "BadRequest";
  case 401:
    return "Unauthorized";
  case 403:
    return "Forbidden";
  case 404:
    return "NotFound";
  case 405:
    return "MethodNotAllowed";
  case 409:
    return "AlreadyExists";
  case 410:
    return "Expired";
  case 429:
    return "TooManyRequests";
  case 503:
    return "ServiceUnavailable";
  default:
    return "InternalError";
  }
}

void reply(httplib::Response& res, int code, const Json& body) {
  res.status = code;
  res.set_content(body.dump(), "application/json");
}

// Answers with a Status object shaped as the API server writes it.
void reply_status(httplib::Response& res, int code, const std::string& message,
                  const Json& details = nullptr,
                  const std::string& reason = "") {
  Json status = {{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"metadata", Json::object()},
                 {"status", "Failure"},
                 {"message", message},
                 {"reason", reason.empty() ? reason_for(code) : reason},
                 {"code", code}};
  if (!details.is_null()) {
    status["details"] = details;
  }
  reply(res, code, status);
}

void reply_not_found(httplib::Response& res) {
  reply_status(
      res, 404, "the server could not find the requested resource",
      Json{{"causes", Json::array({{{"reason", "UnexpectedServerResponse"},
                                    {"message", "404 page not found"}}})}});
}

std::string base64(const std::string& data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(data.data()),
                          static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> unbase64(const std::string& text) {
  if (text.empty() || text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  std::size_t padding =
      static_cast<std::size_t>(std::count(text.end() - 2, text.end(), '='));
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

// The key a list is ordered by: name, or namespace/name.
std::string key_of(const Json& object) {
  const Json& meta = object["metadata"];
  std::string name = meta.value("name", "");
  std::string ns = meta.value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

std::string now_rfc3339() {
  core::WallMs now = core::system_clock().wall_ms();
  return core::format_rfc3339(now - now % 1000);
}

std::string random_uid() {
  static std::mt19937_64 rng{std::random_device{}()};
  std::uint64_t a = rng();
  std::uint64_t b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                     static_cast<std::uint32_t>(a >> 32), (a >> 16) & 0xFFFF,
                     a & 0xFFF, (b >> 48) & 0xFFF, b & 0xFFFFFFFFFFFFULL);
}

// Returns `share` of a quantity, rounded down, in canonical units.
std::string scale_quantity(const std::string& name, const std::string& value,
                           double share) {
  core::Quantity q = core::Quantity::parse(value);
  auto part = [&](std::int64_t whole) {
    return static_cast<std::int64_t>(
        std::floor(static_cast<long double>(whole) * share));
  };
  if (name == "cpu") {
    return core::format_milli(part(q.milli_ceil()));
  }
  if (name == "memory" || name == "ephemeral-storage" || name == "storage" ||
      name.starts_with("hugepages-")) {
    return core::format_bytes(part(q.units_ceil()));
  }
  return core::format_count(part(q.units_ceil()));
}

Json discovery_resource(const std::string& name, const std::string& singular,
                        bool namespaced, const std::string& kind,
                        const Json& verbs, const Json& short_names) {
  Json r = {{"name", name},
            {"singularName", singular},
            {"namespaced", namespaced},
            {"kind", kind},
            {"verbs", verbs}};
  if (!short_names.empty()) {
    r["shortNames"] = short_names;
  }
  return r;
}

// Returns the discovery entries of the empty kinds of group/version.
Json empty_kind_resources(std::string_view group, std::string_view version) {
  Json out = Json::array();
  for (const auto& k : k_empty_kinds) {
    if (k.group == group && k.version == version) {
      out.push_back(discovery_resource(k.resource, k.singular, k.namespaced,
                                       k.kind, {"get", "list"}, Json::array()));
    }
  }
  return out;
}

// Returns the empty kind `t` names, or nullptr.
const EmptyKind* empty_kind(const Target& t) {
  for (const auto& k : k_empty_kinds) {
    if (t.group == k.group && t.version == k.version &&
        t.resource == k.resource && (k.namespaced || t.ns.empty())) {
      return &k;
    }
  }
  return nullptr;
}

} // namespace

struct FakeKube::State {
  Options options;
  std::unique_ptr<httplib::SSLServer> server;
  std::thread thread;
  int port = 0;

  mutable std::mutex mutex;
  std::vector<Json> nodes; // sorted by key_of
  std::vector<Json> pods;
  std::map<std::string, Json> slices; // by namespace/name
  std::int64_t resource_version = 1000;
  int continues_to_expire = 0;
  int fail_count = 0;
  int fail_status = 0;
  int fail_retry_after = 0;
  std::map<std::string, int> counts;
  std::vector<std::string> authorizations;

  void load(const Json& snapshot);
  bool admit(const httplib::Request& req, httplib::Response& res);
  std::optional<std::string> identify(const httplib::Request& req) const;
  bool inject_failure(httplib::Response& res);

  void get(const httplib::Request& req, httplib::Response& res);
  void post(const httplib::Request& req, httplib::Response& res);
  void del(const httplib::Request& req, httplib::Response& res);
  bool discovery(const std::string& path, httplib::Response& res) const;
  void list(const Target& t, const std::vector<const Json*>& items,
            const std::string& kind, const std::string& api_version,
            const httplib::Request& req, httplib::Response& res);
  std::vector<Json> namespaces() const;
  void create_slice(const Target& t, const httplib::Request& req,
                    httplib::Response& res);
  void control(const httplib::Request& req, httplib::Response& res);
  Json accept(const Json& slice, double share) const;
};

void FakeKube::State::load(const Json& snapshot) {
  const Json& items =
      snapshot.contains("items") ? snapshot["items"] : Json::array();
  std::string list_kind = snapshot.value("kind", "List");
  for (Json item : items) {
    std::string kind = item.value("kind", "");
    if (kind.empty() && list_kind.ends_with("List")) {
      kind = list_kind.substr(0, list_kind.size() - 4);
    }
    // Items of a real list carry no kind or apiVersion of their own.
    item.erase("kind");
    item.erase("apiVersion");
    if (kind == "Node") {
      nodes.push_back(item);
    } else if (kind == "Pod") {
      pods.push_back(item);
    }
  }
  auto by_key = [](const Json& a, const Json& b) {
    return key_of(a) < key_of(b);
  };
  std::sort(nodes.begin(), nodes.end(), by_key);
  std::sort(pods.begin(), pods.end(), by_key);
}

std::optional<std::string>
FakeKube::State::identify(const httplib::Request& req) const {
  std::string auth = req.get_header_value("Authorization");
  if (auth.starts_with("Bearer ")) {
    auto it = options.tokens.find(auth.substr(7));
    if (it == options.tokens.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  if (!options.client_ca_pem.empty() && req.ssl != nullptr &&
      SSL_get_verify_result(req.ssl) == X509_V_OK) {
    if (X509* cert = SSL_get1_peer_certificate(req.ssl)) {
      char cn[256] = {};
      X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
                                sizeof(cn));
      X509_free(cert);
      return std::string(cn);
    }
  }
  if (options.tokens.empty() && options.client_ca_pem.empty()) {
    return std::string("system:anonymous");
  }
  return std::nullopt;
}

// Authenticates and authorizes one API request; answers when refused.
bool FakeKube::State::admit(const httplib::Request& req,
                            httplib::Response& res) {
  auto user = identify(req);
  if (!user) {
    reply_status(res, 401, "Unauthorized");
    return false;
  }
  auto target = parse_target(req.path);
  if (target && options.forbidden_users.count(*user) > 0) {
    std::string verb = req.method == "POST"     ? "create"
                       : req.method == "DELETE" ? "delete"
                       : target->name.empty()   ? "list"
                                                : "get";
    std::string scope = target->ns.empty()
                            ? "at the cluster scope"
                            : "in the namespace \"" + target->ns + "\"";
    reply_status(res, 403,
                 fmt::format("{}{} is forbidden: User \"{}\" cannot {} "
                             "resource \"{}\" in API group \"{}\" {}",
                             target->resource,
                             target->group.empty() ? "" : "." + target->group,
                             *user, verb, target->resource, target->group,
                             scope),
                 Json{{"kind", target->resource}});
    return false;
  }
  return true;
}

bool FakeKube::State::inject_failure(httplib::Response& res) {
  if (fail_count <= 0) {
    return false;
  }
  --fail_count;
  if (fail_retry_after > 0) {
    res.set_header("Retry-After", std::to_string(fail_retry_after));
  }
  reply_status(res, fail_status,
               fail_status == 429 ? "Too many requests, please try again later."
                                  : "injected failure");
  return true;
}

bool FakeKube::State::discovery(const std::string& path,
                                httplib::Response& res) const {
  Json list_verbs = {"get", "list"};
  if (path == "/version") {
    reply(res, 200,
          {{"major", "1"},
           {"minor", "30"},
           {"gitVersion", "v1.30.0-lrb-fake"},
           {"gitCommit", "0000000000000000000000000000000000000000"},
           {"gitTreeState", "clean"},
           {"buildDate", "2026-01-01T00:00:00Z"},
           {"goVersion", "go1.22.0"},
           {"compiler", "gc"},
           {"platform", "linux/amd64"}});
  } else if (path == "/api") {
    reply(res, 200,
          {{"kind", "APIVersions"},
           {"versions", {"v1"}},
           {"serverAddressByClientCIDRs",
            {{{"clientCIDR", "0.0.0.0/0"},
              {"serverAddress", fmt::format("{}:{}", options.host, port)}}}}});
  } else if (path == "/apis") {
    auto group = [](const std::string& name, const std::string& v) {
      Json version = {{"groupVersion", name + "/" + v}, {"version", v}};
      return Json{{"name", name},
                  {"versions", {version}},
                  {"preferredVersion", version}};
    };
    Json groups = Json::array();
    groups.push_back(group(k_liqo_group, k_liqo_version));
    for (const char* name : k_empty_groups) {
      groups.push_back(group(name, "v1"));
    }
    reply(res, 200,
          {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}});
  } else if (path == "/api/v1") {
    Json resources = {
        discovery_resource("nodes", "node", false, "Node", list_verbs, {"no"}),
        discovery_resource("pods", "pod", true, "Pod", list_verbs, {"po"}),
        discovery_resource("namespaces", "namespace", false, "Namespace",
                           list_verbs, {"ns"})};
    for (const Json& r : empty_kind_resources("", "v1")) {
      resources.push_back(r);
    }
    reply(res, 200,
          {{"kind", "APIResourceList"},
           {"groupVersion", "v1"},
           {"resources", resources}});
  } else if (path ==
             std::string("/apis/") + k_liqo_group + "/" + k_liqo_version) {
    reply(res, 200,
          {{"kind", "APIResourceList"},
           {"apiVersion", "v1"},
           {"groupVersion", std::string(k_liqo_group) + "/" + k_liqo_version},
           {"resources",
            {discovery_resource(
                "resourceslices", "resourceslice", true, "ResourceSlice",
                {"create", "delete", "get", "list"}, Json::array())}}});
  } else if (auto parts = split_path(path);
             parts.size() == 3 && parts[0] == "apis" &&
             std::find(std::begin(k_empty_groups), std::end(k_empty_groups),
                       parts[1]) != std::end(k_empty_groups) &&
             parts[2] == "v1") {
    reply(res, 200,
          {{"kind", "APIResourceList"},
           {"apiVersion", "v1"},
           {"groupVersion", parts[1] + "/v1"},
           {"resources", empty_kind_resources(parts[1], "v1")}});
  } else {
    return false;
  }
  return true;
}

// Serves one page of `items` (sorted by key) the way the API server
// pages: `limit` items from the `continue` position, with the next
// position and the count still to come.
void FakeKube::State::list(const Target& t,
                           const std::vector<const Json*>& items,
                           const std::string& kind,
                           const std::string& api_version,
                           const httplib::Request& req,
                           httplib::Response& res) {
  std::int64_t limit = 0;
  if (req.has_param("limit")) {
    try {
      limit = std::stoll(req.get_param_value("limit"));
    } catch (const std::exception&) {
      reply_status(res, 400, "invalid limit");
      return;
    }
  }
  std::int64_t rv = resource_version;
  std::string start;
  if (req.has_param("continue")) {
    auto decoded = unbase64(req.get_param_value("continue"));
    Json token = decoded ? Json::parse(*decoded, nullptr, false) : Json();
    if (!token.is_object() || token.value("v", "") != "meta.k8s.io/v1" ||
        !token.contains("rv") || !token["start"].is_string()) {
      reply_status(res, 400,
                   "continue key is not valid: incorrect encoded "
                   "start resourceVersion (version meta.k8s.io/v1)");
      return;
    }
    if (continues_to_expire > 0) {
      --continues_to_expire;
      reply_status(
          res, 410,
          "The provided continue parameter is too old to display a "
          "consistent list result. You can start a new list without the "
          "continue parameter, or use the continue token in this response "
          "to retrieve the remainder of the results. Continuing with the "
          "provided token results in an inconsistent list - objects that "
          "were created, modified, or deleted between the time the first "
          "chunk was returned and now may show up in the list.");
      return;
    }
    rv = token["rv"].get<std::int64_t>();
    start = token["start"].get<std::string>();
  }

  // Skip to the start key, then take one page.
  std::vector<const Json*> selected;
  for (const Json* item : items) {
    if (t.ns.empty() || (*item)["metadata"].value("namespace", "") == t.ns) {
      selected.push_back(item);
    }
  }
  auto first =
      std::find_if(selected.begin(), selected.end(),
                   [&](const Json* item) { return key_of(*item) >= start; });
  std::size_t from = static_cast<std::size_t>(first - selected.begin());
  std::size_t count = selected.size() - from;
  if (limit > 0) {
    count = std::min(count, static_cast<std::size_t>(limit));
  }
  Json out = {{"kind", kind + "List"},
              {"apiVersion", api_version},
              {"metadata", {{"resourceVersion", std::to_string(rv)}}},
              {"items", Json::array()}};
  for (std::size_t i = from; i < from + count; ++i) {
    out["items"].push_back(*selected[i]);
  }
  std::size_t remaining = selected.size() - from - count;
  if (remaining > 0) {
    Json next = {
        {"v", "meta.k8s.io/v1"},
        {"rv", rv},
        {"start", key_of(*selected[from + count - 1]) + std::string(1, '\0')}};
    out["metadata"]["continue"] = base64(next.dump());
    out["metadata"]["remainingItemCount"] = remaining;
  }
  reply(res, 200, out);
}

std::vector<Json> FakeKube::State::namespaces() const {
  std::set<std::string> names = {"default"};
  for (const Json& pod : pods) {
    names.insert(pod["metadata"].value("namespace", "default"));
  }
  std::vector<Json> out;
  for (const auto& name : names) {
    out.push_back({{"metadata",
                    {{"name", name},
                     {"resourceVersion", "1"},
                     {"labels", {{"kubernetes.io/metadata.name", name}}}}},
                   {"spec", {{"finalizers", {"kubernetes"}}}},
                   {"status", {{"phase", "Active"}}}});
  }
  return out;
}

void FakeKube::State::get(const httplib::Request& req, httplib::Response& res) {
  if (discovery(req.path, res)) {
    return;
  }
  auto t = parse_target(req.path);
  if (!t) {
    reply_not_found(res);
    return;
  }
  if (req.has_param("watch")) {
    reply_status(res, 405, "watch is not supported by this fake server");
    return;
  }

  // Find the collection the path names.
  std::vector<Json> ns_objects;
  const std::vector<Json>* core = nullptr;
  std::string kind;
  std::string api_version = "v1";
  bool namespaced = true;
  if (t->group.empty() && t->version == "v1" && t->resource == "nodes" &&
      t->ns.empty()) {
    core = &nodes;
    kind = "Node";
    namespaced = false;
  } else if (t->group.empty() && t->version == "v1" && t->resource == "pods") {
    core = &pods;
    kind = "Pod";
  } else if (t->group.empty() && t->version == "v1" &&
             t->resource == "namespaces" && t->ns.empty()) {
    ns_objects = namespaces();
    core = &ns_objects;
    kind = "Namespace";
    namespaced = false;
  } else if (t->group == k_liqo_group && t->version == k_liqo_version &&
             t->resource == "resourceslices") {
    kind = "ResourceSlice";
    api_version = std::string(k_liqo_group) + "/" + k_liqo_version;
  } else if (const EmptyKind* e = empty_kind(*t)) {
    core = &ns_objects; // left empty: none of these exist
    kind = e->kind;
    api_version = t->group.empty() ? t->version : t->group + "/" + t->version;
    namespaced = e->namespaced;
  } else {
    reply_not_found(res);
    return;
  }

  std::vector<const Json*> items;
  if (core != nullptr) {
    for (const Json& item : *core) {
      items.push_back(&item);
    }
  } else {
    for (const auto& [key, slice] : slices) {
      items.push_back(&slice);
    }
  }
  if (t->name.empty()) {
    list(*t, items, kind, api_version, req, res);
    return;
  }

  std::string key = namespaced ? t->ns + "/" + t->name : t->name;
  for (const Json* item : items) {
    if (key_of(*item) == key) {
      Json object = *item;
      object["kind"] = kind;
      object["apiVersion"] = api_version;
      reply(res, 200, object);
      return;
    }
  }
  std::string group_suffix = t->group.empty() ? "" : "." + t->group;
  reply_status(
      res, 404,
      fmt::format("{}{} \"{}\" not found", t->resource, group_suffix, t->name),
      Json{{"name", t->name}, {"group", t->group}, {"kind", t->resource}});
}

// Grants `share` of every requested resource of a slice.
Json FakeKube::State::accept(const Json& slice, double share) const {
  Json granted = Json::object();
  Json requested =
      slice.value("spec", Json::object()).value("resources", Json::object());
  for (const auto& [name, value] : requested.items()) {
    granted[name] = scale_quantity(name, value.get<std::string>(), share);
  }
  bool accepted = share > 0;
  return {{"conditions",
           {{{"type", "Resources"},
             {"status", accepted ? "Accepted" : "Denied"},
             {"reason", accepted ? "ResourcesAccepted" : "ResourcesDenied"},
             {"message", fmt::format("fake provider granted {:.0f}% of the "
                                     "request",
                                     share * 100)},
             {"lastTransitionTime", now_rfc3339()}}}},
          {"resources", accepted ? granted : Json::object()}};
}

void FakeKube::State::create_slice(const Target& t, const httplib::Request& req,
                                   httplib::Response& res) {
  Json object = Json::parse(req.body, nullptr, false);
  if (!object.is_object() || !object["metadata"].is_object()) {
    reply_status(res, 400, "the body of the request was in an unknown format");
    return;
  }
  Json& meta = object["metadata"];
  std::string name = meta.value("name", "");
  if (name.empty() && meta.contains("generateName")) {
    name = meta.value("generateName", "") + random_uid().substr(0, 5);
  }
  if (name.empty()) {
    reply_status(res, 422,
                 "ResourceSlice.authentication.liqo.io \"\" is invalid: "
                 "metadata.name: Required value: name or generateName is "
                 "required",
                 nullptr, "Invalid");
    return;
  }
  if (meta.value("namespace", t.ns) != t.ns) {
    reply_status(res, 400,
                 "the namespace of the provided object does not "
                 "match the namespace sent on the request");
    return;
  }
  std::string key = t.ns + "/" + name;
  if (slices.count(key) > 0) {
    reply_status(res, 409,
                 fmt::format("resourceslices.{} \"{}\" already exists",
                             k_liqo_group, name),
                 Json{{"name", name},
                      {"group", k_liqo_group},
                      {"kind", "resourceslices"}});
    return;
  }
  meta["name"] = name;
  meta["namespace"] = t.ns;
  meta["uid"] = random_uid();
  meta["resourceVersion"] = std::to_string(++resource_version);
  meta["creationTimestamp"] = now_rfc3339();
  meta["generation"] = 1;
  object["kind"] = "ResourceSlice";
  object["apiVersion"] = std::string(k_liqo_group) + "/" + k_liqo_version;
  if (options.auto_accept) {
    object["status"] = accept(object, *options.auto_accept);
  }
  slices[key] = object;
  reply(res, 201, object);
}

// POST /fake/resourceslices/NS/NAME/status and POST /fake/fail.
void FakeKube::State::control(const httplib::Request& req,
                              httplib::Response& res) {
  auto parts = split_path(req.path);
  Json body = Json::parse(req.body, nullptr, false);
  if (parts.size() == 2 && parts[1] == "fail" && body.is_object()) {
    fail_count = body.value("count", 1);
    fail_status = body.value("status", 503);
    fail_retry_after = body.value("retryAfter", 0);
    reply(res, 200, body);
    return;
  }
  if (parts.size() != 5 || parts[1] != "resourceslices" ||
      parts[4] != "status" || !body.is_object()) {
    reply_status(res, 400,
                 "expected POST /fake/resourceslices/NS/NAME/status "
                 "with a JSON status, or POST /fake/fail");
    return;
  }
  auto it = slices.find(parts[2] + "/" + parts[3]);
  if (it == slices.end()) {
    reply_status(res, 404, "no such resourceslice");
    return;
  }
  it->second["status"] = body;
  it->second["metadata"]["resourceVersion"] =
      std::to_string(++resource_version);
  reply(res, 200, it->second);
}

void FakeKube::State::post(const httplib::Request& req,
                           httplib::Response& res) {
  auto t = parse_target(req.path);
  if (t && t->group == k_liqo_group && t->resource == "resourceslices" &&
      !t->ns.empty() && t->name.empty()) {
    create_slice(*t, req, res);
    return;
  }
  reply_status(res, 405,
               "the server does not allow this method on the "
               "requested resource");
}

void FakeKube::State::del(const httplib::Request& req, httplib::Response& res) {
  auto t = parse_target(req.path);
  if (!t || t->group != k_liqo_group || t->resource != "resourceslices" ||
      t->ns.empty() || t->name.empty()) {
    reply_status(res, 405,
                 "the server does not allow this method on the "
                 "requested resource");
    return;
  }
  auto it = slices.find(t->ns + "/" + t->name);
  if (it == slices.end()) {
    reply_status(res, 404,
                 fmt::format("resourceslices.{} \"{}\" not found", k_liqo_group,
                             t->name),
                 Json{{"name", t->name},
                      {"group", k_liqo_group},
                      {"kind", "resourceslices"}});
    return;
  }
  Json object = it->second;
  slices.erase(it);
  reply(res, 200, object);
}

FakeKube::FakeKube(Options options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->continues_to_expire = state_->options.expire_continue;
  state_->load(state_->options.snapshot);
}

FakeKube::~FakeKube() {
  stop();
}

namespace {

// Sets up the server certificate and, when a client CA is given, asks
// for (but does not require) a client certificate.
bool setup_tls(SSL_CTX& ctx, const Options& options) {
  BIO* cert_bio = BIO_new_mem_buf(options.cert_pem.data(),
                                  static_cast<int>(options.cert_pem.size()));
  BIO* key_bio = BIO_new_mem_buf(options.key_pem.data(),
                                 static_cast<int>(options.key_pem.size()));
  X509* cert = PEM_read_bio_X509(cert_bio, nullptr, nullptr, nullptr);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
  bool ok = cert != nullptr && key != nullptr &&
            SSL_CTX_use_certificate(&ctx, cert) == 1 &&
            SSL_CTX_use_PrivateKey(&ctx, key) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  BIO_free(cert_bio);
  BIO_free(key_bio);
  if (ok && !options.client_ca_pem.empty()) {
    BIO* ca_bio =
        BIO_new_mem_buf(options.client_ca_pem.data(),
                        static_cast<int>(options.client_ca_pem.size()));
    while (X509* ca = PEM_read_bio_X509(ca_bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(&ctx), ca);
      X509_free(ca);
    }
    BIO_free(ca_bio);
    // Verify a presented certificate, but let token clients in too.
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER,
                       [](int, X509_STORE_CTX*) { return 1; });
  }
  return ok;
}

} // namespace

int FakeKube::start() {
  State& s = *state_;
  if (s.options.host != "127.0.0.1" && s.options.host != "::1") {
    throw std::runtime_error("fake_kube serves on 127.0.0.1 or ::1 only");
  }
  const Options& options = s.options;
  s.server = std::make_unique<httplib::SSLServer>(
      [&options](SSL_CTX& ctx) { return setup_tls(ctx, options); });
  if (!s.server->is_valid()) {
    throw std::runtime_error("fake_kube: bad server certificate or key");
  }

  auto guarded = [&s](auto method) {
    return [&s, method](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(s.mutex);
      s.counts[req.path]++;
      s.authorizations.push_back(req.get_header_value("Authorization"));
      if (req.path.starts_with("/fake/")) {
        s.control(req, res);
        return;
      }
      if (s.admit(req, res) && !s.inject_failure(res)) {
        (s.*method)(req, res);
      }
    };
  };
  s.server->Get(".*", guarded(&State::get));
  s.server->Post(".*", guarded(&State::post));
  s.server->Delete(".*", guarded(&State::del));

  s.port = s.server->bind_to_any_port(s.options.host);
  if (s.port <= 0) {
    throw std::runtime_error("fake_kube: cannot bind " + s.options.host);
  }
  s.thread = std::thread([&s] { s.server->listen_after_bind(); });
  return s.port;
}

void FakeKube::stop() {
  if (state_ && state_->thread.joinable()) {
    state_->server->stop();
    state_->thread.join();
  }
}

std::string FakeKube::url() const {
  bool v6 = state_->options.host.find(':') != std::string::npos;
  return fmt::format("https://{}{}{}:{}", v6 ? "[" : "", state_->options.host,
                     v6 ? "]" : "", state_->port);
}

void FakeKube::fail_next(int count, int status, int retry_after_s) {
  std::lock_guard lock(state_->mutex);
  state_->fail_count = count;
  state_->fail_status = status;
  state_->fail_retry_after = retry_after_s;
}

void FakeKube::set_tokens(std::map<std::string, std::string> tokens) {
  std::lock_guard lock(state_->mutex);
  state_->options.tokens = std::move(tokens);
}

int FakeKube::request_count(const std::string& path) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->counts.find(path);
  return it == state_->counts.end() ? 0 : it->second;
}

std::vector<std::string> FakeKube::authorizations() const {
  std::lock_guard lock(state_->mutex);
  return state_->authorizations;
}

std::optional<Json> FakeKube::slice(const std::string& ns,
                                    const std::string& name) const {
  std::lock_guard lock(state_->mutex);
  auto it = state_->slices.find(ns + "/" + name);
  if (it == state_->slices.end()) {
    return std::nullopt;
  }
  return it->second;
}

Json load_snapshot(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error("cannot read snapshot " + path);
  }
  Json snapshot = Json::parse(in, nullptr, false);
  if (!snapshot.is_object() || !snapshot["items"].is_array()) {
    throw std::runtime_error("snapshot " + path + " is not a List with items");
  }
  return snapshot;
}

} // namespace lrb::fake_kube
