// Where lrb finds a Kubernetes API server and how it proves who it is:
// a kubeconfig (the files kubectl reads, merged by kubectl's rules) or
// the in-cluster service account. Both resolve to one ClusterConfig, so
// the client never cares which it came from. Files named by a kubeconfig
// (CA, client certificate and key) are read while loading, so a broken
// path is reported with the kubeconfig file and key that named it rather
// than at the first request.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube/http.h"

namespace lrb::kube {

// An exec credential plugin, as a kubeconfig user declares it.
struct ExecConfig {
  std::string api_version; // client.authentication.k8s.io/v1 or v1beta1
  std::string command;     // resolved against the kubeconfig's directory
                           // when it holds a '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string interactive_mode; // Never, IfAvailable or Always
  bool provide_cluster_info = false;
  std::string install_hint;
  std::string origin; // "kubeconfig FILE users[NAME].user.exec", for errors
};

// Everything needed to talk to one API server as one user.
struct ClusterConfig {
  std::string context; // context name, or "in-cluster"
  std::string cluster; // cluster entry name
  std::string user;    // user entry name
  std::string server;  // https://host:port[/prefix]
  std::string namespace_ = "default";
  TlsOptions tls;         // CA, client certificate and key, in memory
  std::string token;      // a static bearer token
  std::string token_file; // re-read periodically; wins over `token`
  std::optional<ExecConfig> exec;
};

// The kubeconfig files to read and whether a missing one is an error.
struct KubeconfigFiles {
  std::vector<std::string> paths;
  bool explicit_path = false; // --kubeconfig: the file must exist
};

// Returns the files kubectl would read: `flag_path` when set, else the
// colon-separated KUBECONFIG list from `kubeconfig_env`, else
// `home`/.kube/config.
KubeconfigFiles kubeconfig_files(std::string_view flag_path,
                                 const char* kubeconfig_env, const char* home);

// Returns kubeconfig_files() for this process's flag and environment.
KubeconfigFiles kubeconfig_files_from_env(std::string_view flag_path);

// Merges the files by kubectl's rules (the first file that sets a single
// value or a named entry wins; missing files in a list are skipped;
// relative paths are relative to the file naming them) and resolves
// `context` (or current-context). Throws Error(invalid_argument) naming
// the file and key at fault.
ClusterConfig load_kubeconfig(const KubeconfigFiles& files,
                              std::string_view context = {});

// Loads one kubeconfig given as text, as if read from the file `origin`
// (whose directory anchors relative paths); `lrb ... --kubeconfig -`
// and the fuzzer use it.
ClusterConfig load_kubeconfig_text(std::string_view yaml,
                                   const std::string& origin,
                                   std::string_view context = {});

// Where a pod finds its service account; overridable for tests.
struct InClusterPaths {
  std::string token_file =
      "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  std::string namespace_file =
      "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
};

// Builds the config of a pod from KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT (an IPv6 host is bracketed) and the mounted
// service account; throws Error(invalid_argument) when not in a cluster
// or when the token or CA cannot be read.
ClusterConfig load_in_cluster(const InClusterPaths& paths = {});

// Decodes standard base64 (line breaks allowed); throws
// Error(invalid_argument) naming `field` on a bad character or length.
std::string decode_base64(std::string_view text, std::string_view field);

} // namespace lrb::kube
