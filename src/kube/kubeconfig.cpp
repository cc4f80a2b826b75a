// Kubeconfig loading, faithful to kubectl because operators debug lrb
// with kubectl next to it: whatever context kubectl would use, lrb uses
// the same, from the same files. The files are parsed with yaml-cpp into
// an index of named entries, each remembering the file it came from (the
// first file that names an entry owns it, whole), and only the entries of
// the chosen context are then decoded. Decoding a key that is wrong
// throws an Error whose message starts with the file and whose field is
// the key's path, e.g. `users[alice].user.client-key`.
#include "kube/kubeconfig.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "core/error.h"

namespace lrb::kube {

using core::Code;
using core::Error;
namespace fs = std::filesystem;

namespace {

// A named entry (cluster, user or context) and the file that holds it.
struct Entry {
  YAML::Node body; // the value under "cluster", "user" or "context"
  std::string file;
};

// The merged view of several kubeconfig files.
struct Merged {
  std::string current_context;
  std::map<std::string, Entry> clusters;
  std::map<std::string, Entry> users;
  std::map<std::string, Entry> contexts;
  std::vector<std::string> files_read;
};

Error config_error(std::string_view file, std::string_view key,
                   std::string_view why) {
  return Error(Code::invalid_argument,
               fmt::format("kubeconfig \"{}\": {}: {}", file, key, why),
               std::string(key));
}

// Returns the value under `key` of a mapping, or a Null node when the key
// is absent or `node` is no mapping: yaml-cpp throws on type queries of
// an absent key and on subscripts of a scalar, and a kubeconfig may have
// either where a mapping belongs.
YAML::Node child(const YAML::Node& node, const char* key) {
  if (!node.IsDefined() || !node.IsMap()) {
    return YAML::Node(YAML::NodeType::Null);
  }
  YAML::Node value = node[key];
  return value.IsDefined() ? value : YAML::Node(YAML::NodeType::Null);
}

std::optional<std::string> read_if_exists(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trim(std::string text) {
  const char* space = " \t\r\n";
  text.erase(text.find_last_not_of(space) + 1);
  text.erase(0, text.find_first_not_of(space));
  return text;
}

// Reads the keys of one entry, naming file and key path in every error.
class EntryReader {
public:
  EntryReader(const Entry& entry, std::string path)
      : node_(entry.body), file_(entry.file), path_(std::move(path)) {}

  [[noreturn]] void fail(std::string_view key, std::string_view why) const {
    throw config_error(file_, key_path(key), why);
  }

  std::string key_path(std::string_view key) const {
    return key.empty() ? path_ : path_ + "." + std::string(key);
  }

  bool has(const char* key) const { return !child(node_, key).IsNull(); }

  std::string str(const char* key) const {
    YAML::Node value = child(node_, key);
    if (value.IsNull()) {
      return {};
    }
    if (!value.IsScalar()) {
      fail(key, "must be a string");
    }
    return value.Scalar();
  }

  bool boolean(const char* key) const {
    if (!has(key)) {
      return false;
    }
    try {
      return child(node_, key).as<bool>();
    } catch (const YAML::Exception&) {
      fail(key, "must be true or false");
    }
  }

  // Returns a path as written, made absolute against the entry's file.
  std::string path(const char* key) const {
    std::string value = str(key);
    if (value.empty() || fs::path(value).is_absolute()) {
      return value;
    }
    return (fs::path(file_).parent_path() / value).lexically_normal().string();
  }

  // Returns the content of the file named by `key`, or "" when unset.
  std::string file_content(const char* key) const {
    std::string name = path(key);
    if (name.empty()) {
      return {};
    }
    auto text = read_if_exists(name);
    if (!text) {
      fail(key, fmt::format("cannot read \"{}\"", name));
    }
    return *text;
  }

  // Returns the decoded "<key>-data", else the content of "<key>".
  std::string data_or_file(const char* key) const {
    std::string data_key = std::string(key) + "-data";
    std::string data = str(data_key.c_str());
    if (!data.empty()) {
      try {
        return decode_base64(data, key_path(data_key));
      } catch (const Error&) {
        fail(data_key, "is not valid base64");
      }
    }
    return file_content(key);
  }

  const YAML::Node& node() const { return node_; }
  const std::string& file() const { return file_; }

private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
};

YAML::Node parse_file(const std::string& file, const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(Code::invalid_argument,
                fmt::format("kubeconfig \"{}\": line {}: {}", file,
                            e.mark.line + 1, e.msg));
  }
}

// Adds the entries of one list ("clusters", "users", "contexts") of a
// file, keeping entries an earlier file already named.
void merge_list(const YAML::Node& root, const std::string& file,
                const char* list, const char* body_key,
                std::map<std::string, Entry>& into) {
  YAML::Node items = child(root, list);
  if (items.IsNull()) {
    return;
  }
  if (!items.IsSequence()) {
    throw config_error(file, list, "must be a list");
  }
  std::map<std::string, bool> seen_here;
  for (std::size_t i = 0; i < items.size(); ++i) {
    YAML::Node item = items[i];
    std::string where = fmt::format("{}[{}]", list, i);
    if (!child(item, "name").IsScalar()) {
      throw config_error(file, where, "needs a \"name\"");
    }
    std::string name = child(item, "name").Scalar();
    if (seen_here[name]) {
      throw config_error(file, fmt::format("{}[{}]", list, name),
                         "is named twice in this file");
    }
    seen_here[name] = true;
    YAML::Node body = child(item, body_key);
    if (!body.IsNull() && !body.IsMap()) {
      throw config_error(file, fmt::format("{}[{}].{}", list, name, body_key),
                         "must be a mapping");
    }
    into.try_emplace(name, Entry{body, file});
  }
}

void merge_file(const std::string& file, const std::string& text,
                Merged& merged) {
  YAML::Node root = parse_file(file, text);
  merged.files_read.push_back(file);
  if (root.IsNull()) {
    return; // an empty file is an empty config, as for kubectl
  }
  if (!root.IsMap()) {
    throw config_error(file, "(top level)", "must be a mapping");
  }
  YAML::Node current = child(root, "current-context");
  if (merged.current_context.empty() && current.IsScalar()) {
    merged.current_context = current.Scalar();
  }
  merge_list(root, file, "clusters", "cluster", merged.clusters);
  merge_list(root, file, "users", "user", merged.users);
  merge_list(root, file, "contexts", "context", merged.contexts);
}

Merged merge_files(const KubeconfigFiles& files) {
  Merged merged;
  for (const std::string& file : files.paths) {
    auto text = read_if_exists(file);
    if (!text) {
      if (files.explicit_path) {
        throw Error(Code::invalid_argument,
                    fmt::format("cannot read kubeconfig \"{}\"", file),
                    "kubeconfig");
      }
      continue; // kubectl skips missing files of a KUBECONFIG list
    }
    merge_file(file, *text, merged);
  }
  if (merged.files_read.empty()) {
    throw Error(Code::invalid_argument,
                fmt::format("no kubeconfig found (looked at {}); set "
                            "KUBECONFIG or pass --kubeconfig",
                            fmt::join(files.paths, ", ")),
                "kubeconfig");
  }
  return merged;
}

void decode_cluster(const EntryReader& r, ClusterConfig& out) {
  out.server = r.str("server");
  if (out.server.empty()) {
    r.fail("server", "is missing; set the API server URL");
  }
  if (r.has("proxy-url")) {
    r.fail("proxy-url", "is not supported; reach the server directly");
  }
  out.tls.insecure_skip_verify = r.boolean("insecure-skip-tls-verify");
  out.tls.server_name = r.str("tls-server-name");
  out.tls.ca_pem = r.data_or_file("certificate-authority");
  if (out.tls.insecure_skip_verify && !out.tls.ca_pem.empty()) {
    r.fail("", "insecure-skip-tls-verify and a certificate authority "
               "contradict each other; remove one of them");
  }
}

std::vector<std::string> decode_args(const EntryReader& r) {
  std::vector<std::string> args;
  YAML::Node node = child(r.node(), "args");
  if (node.IsNull()) {
    return args;
  }
  if (!node.IsSequence()) {
    r.fail("args", "must be a list of strings");
  }
  for (const auto& arg : node) {
    if (!arg.IsScalar()) {
      r.fail("args", "must be a list of strings");
    }
    args.push_back(arg.Scalar());
  }
  return args;
}

std::vector<std::pair<std::string, std::string>>
decode_env(const EntryReader& r) {
  std::vector<std::pair<std::string, std::string>> env;
  YAML::Node node = child(r.node(), "env");
  if (node.IsNull()) {
    return env;
  }
  if (!node.IsSequence()) {
    r.fail("env", "must be a list of {name, value}");
  }
  for (const auto& item : node) {
    YAML::Node name = child(item, "name");
    YAML::Node value = child(item, "value");
    if (!name.IsScalar() || !(value.IsNull() || value.IsScalar())) {
      r.fail("env", "must be a list of {name, value}");
    }
    env.emplace_back(name.Scalar(), value.IsScalar() ? value.Scalar() : "");
  }
  return env;
}

constexpr std::string_view k_exec_v1 = "client.authentication.k8s.io/v1";
constexpr std::string_view k_exec_v1beta1 =
    "client.authentication.k8s.io/v1beta1";

ExecConfig decode_exec(const EntryReader& r) {
  ExecConfig exec;
  exec.origin = fmt::format("kubeconfig \"{}\" {}", r.file(), r.key_path(""));
  exec.api_version = r.str("apiVersion");
  if (exec.api_version != k_exec_v1 && exec.api_version != k_exec_v1beta1) {
    r.fail("apiVersion",
           fmt::format("\"{}\" is not supported; use {} or {}",
                       exec.api_version, k_exec_v1, k_exec_v1beta1));
  }
  exec.command = r.str("command");
  if (exec.command.empty()) {
    r.fail("command", "is missing");
  }
  // Like kubectl, only a command with a '/' is a path; a bare name is
  // looked up in PATH.
  if (exec.command.find('/') != std::string::npos) {
    exec.command = r.path("command");
  }
  exec.args = decode_args(r);
  exec.env = decode_env(r);
  exec.interactive_mode = r.str("interactiveMode");
  if (exec.interactive_mode.empty()) {
    if (exec.api_version == k_exec_v1) {
      r.fail("interactiveMode", "is required by " + std::string(k_exec_v1) +
                                    " (Never, IfAvailable or Always)");
    }
    exec.interactive_mode = "IfAvailable";
  }
  if (exec.interactive_mode != "Never" &&
      exec.interactive_mode != "IfAvailable" &&
      exec.interactive_mode != "Always") {
    r.fail("interactiveMode", fmt::format("\"{}\" is not Never, IfAvailable "
                                          "or Always",
                                          exec.interactive_mode));
  }
  exec.provide_cluster_info = r.boolean("provideClusterInfo");
  exec.install_hint = r.str("installHint");
  return exec;
}

void decode_user(const EntryReader& r, const std::string& user_path,
                 ClusterConfig& out) {
  if (r.has("auth-provider")) {
    r.fail("auth-provider", "is not supported; use an exec credential "
                            "plugin instead");
  }
  if (r.has("username") || r.has("password")) {
    r.fail("username", "basic authentication is not supported; use a "
                       "token, a client certificate or an exec plugin");
  }
  out.token = r.str("token");
  out.token_file = r.path("tokenFile");
  if (!out.token_file.empty()) {
    out.token = trim(r.file_content("tokenFile"));
  }
  out.tls.cert_pem = r.data_or_file("client-certificate");
  out.tls.key_pem = r.data_or_file("client-key");
  if (out.tls.cert_pem.empty() != out.tls.key_pem.empty()) {
    r.fail(out.tls.cert_pem.empty() ? "client-certificate" : "client-key",
           "is missing: a client certificate needs its key and a key its "
           "certificate");
  }
  if (r.has("exec")) {
    Entry exec{child(r.node(), "exec"), r.file()};
    if (!exec.body.IsMap()) {
      r.fail("exec", "must be a mapping");
    }
    out.exec = decode_exec(EntryReader(exec, user_path + ".exec"));
  }
}

const Entry& find_entry(const std::map<std::string, Entry>& entries,
                        const std::string& name, std::string_view kind,
                        const Entry& context, const std::string& context_name) {
  auto it = entries.find(name);
  if (it == entries.end()) {
    throw config_error(
        context.file,
        fmt::format("contexts[{}].context.{}", context_name, kind),
        fmt::format("{} \"{}\" is not defined in any kubeconfig file", kind,
                    name));
  }
  return it->second;
}

std::string choose_context(const Merged& merged, std::string_view override) {
  std::string name =
      override.empty() ? merged.current_context : std::string(override);
  if (name.empty()) {
    throw Error(Code::invalid_argument,
                fmt::format("no context chosen: {} set no current-context; "
                            "pass --context",
                            fmt::join(merged.files_read, ", ")),
                "context");
  }
  if (merged.contexts.count(name) == 0) {
    throw Error(Code::invalid_argument,
                fmt::format("context \"{}\" is not defined in {}", name,
                            fmt::join(merged.files_read, ", ")),
                "context");
  }
  return name;
}

ClusterConfig resolve(const Merged& merged, std::string_view override) {
  ClusterConfig out;
  out.context = choose_context(merged, override);
  const Entry& context = merged.contexts.at(out.context);
  EntryReader ctx(context, fmt::format("contexts[{}].context", out.context));
  out.cluster = ctx.str("cluster");
  out.user = ctx.str("user");
  if (std::string ns = ctx.str("namespace"); !ns.empty()) {
    out.namespace_ = ns;
  }
  if (out.cluster.empty()) {
    ctx.fail("cluster", "is missing; name a cluster entry");
  }

  const Entry& cluster =
      find_entry(merged.clusters, out.cluster, "cluster", context, out.context);
  decode_cluster(
      EntryReader(cluster, fmt::format("clusters[{}].cluster", out.cluster)),
      out);
  // A context without a user talks to the server anonymously.
  if (!out.user.empty()) {
    const Entry& user =
        find_entry(merged.users, out.user, "user", context, out.context);
    std::string user_path = fmt::format("users[{}].user", out.user);
    decode_user(EntryReader(user, user_path), user_path, out);
  }
  return out;
}

std::string read_mounted(const std::string& path, std::string_view what) {
  auto text = read_if_exists(path);
  if (!text) {
    throw Error(Code::invalid_argument,
                fmt::format("in-cluster config: cannot read the service "
                            "account {} \"{}\"",
                            what, path),
                std::string(what));
  }
  return *text;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  return c == '+' ? 62 : c == '/' ? 63 : -1;
}

} // namespace

KubeconfigFiles kubeconfig_files(std::string_view flag_path,
                                 const char* kubeconfig_env, const char* home) {
  KubeconfigFiles files;
  if (!flag_path.empty()) {
    files.paths.emplace_back(flag_path);
    files.explicit_path = true;
    return files;
  }
  std::string_view list = kubeconfig_env ? kubeconfig_env : "";
  while (!list.empty()) {
    auto colon = list.find(':');
    std::string path(list.substr(0, colon));
    bool repeated = std::find(files.paths.begin(), files.paths.end(), path) !=
                    files.paths.end();
    if (!path.empty() && !repeated) {
      files.paths.push_back(path);
    }
    list = colon == std::string_view::npos ? "" : list.substr(colon + 1);
  }
  if (files.paths.empty()) {
    files.paths.push_back(
        (fs::path(home ? home : "") / ".kube" / "config").string());
  }
  return files;
}

KubeconfigFiles kubeconfig_files_from_env(std::string_view flag_path) {
  return kubeconfig_files(flag_path, std::getenv("KUBECONFIG"),
                          std::getenv("HOME"));
}

ClusterConfig load_kubeconfig(const KubeconfigFiles& files,
                              std::string_view context) {
  return resolve(merge_files(files), context);
}

ClusterConfig load_kubeconfig_text(std::string_view yaml,
                                   const std::string& origin,
                                   std::string_view context) {
  Merged merged;
  merge_file(origin, std::string(yaml), merged);
  return resolve(merged, context);
}

ClusterConfig load_in_cluster(const InClusterPaths& paths) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr || *host == '\0' || *port == '\0') {
    throw Error(Code::invalid_argument,
                "not running in a cluster: KUBERNETES_SERVICE_HOST and "
                "KUBERNETES_SERVICE_PORT are not set; pass --kubeconfig",
                "KUBERNETES_SERVICE_HOST");
  }
  ClusterConfig out;
  out.context = "in-cluster";
  bool v6 = std::string_view(host).find(':') != std::string_view::npos;
  out.server = fmt::format("https://{}{}{}:{}", v6 ? "[" : "", host,
                           v6 ? "]" : "", port);
  out.token_file = paths.token_file;
  out.token = trim(read_mounted(paths.token_file, "token"));
  out.tls.ca_pem = read_mounted(paths.ca_file, "ca.crt");
  if (auto ns = read_if_exists(paths.namespace_file);
      ns && !trim(*ns).empty()) {
    out.namespace_ = trim(*ns);
  }
  return out;
}

std::string decode_base64(std::string_view text, std::string_view field) {
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  std::size_t symbols = 0;
  std::size_t padding = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      continue;
    }
    ++symbols;
    int value = base64_value(c);
    if (c == '=' && padding < 2) {
      ++padding;
      continue;
    }
    if (value < 0 || padding > 0) {
      throw Error(
          Code::invalid_argument,
          fmt::format("{}: not valid base64 (unexpected '{}')", field, c),
          std::string(field));
    }
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  if (symbols % 4 != 0) {
    throw Error(Code::invalid_argument,
                fmt::format("{}: not valid base64 (length {} is not a "
                            "multiple of 4)",
                            field, symbols),
                std::string(field));
  }
  return out;
}

} // namespace lrb::kube
