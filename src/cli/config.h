// Where the CLI's shared settings come from. An operator sets them once
// in a small `key = value` file, overrides them per shell with LRB_*
// variables and per command with flags; the order of precedence is
// always flag, then environment, then file, then the built-in default.
// The environment is passed in as a function so the precedence rules are
// tested without touching the real process environment.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "cli/app.h"

namespace lrb::cli {

// The broker URL used when nothing else names one.
inline constexpr std::string_view k_default_broker = "http://127.0.0.1:7070";

// Looks up an environment variable; nullopt when unset.
using Environment =
    std::function<std::optional<std::string>(std::string_view name)>;

// Returns a lookup into the real process environment.
Environment process_environment();

// The keys a config file may set, in the order the man page lists them.
const std::vector<std::string>& config_keys();

// Parses config file text: `key = value` lines, '#' comments and blank
// lines; values may be quoted with "...". Throws Error(invalid_argument)
// naming `path` and the line for an unknown key, a line without '=', or
// a key given twice.
std::map<std::string, std::string> parse_config(std::string_view text,
                                                std::string_view path);

// Returns the config file path: `explicit_path` when given, else
// $XDG_CONFIG_HOME/lrb/config, else $HOME/.config/lrb/config, else "".
std::string config_path(const std::string& explicit_path,
                        const Environment& env);

// Reads and parses the config file at `path`. A missing file is an
// empty config unless `required` (it was named by --config), in which
// case it is Error(invalid_argument) naming --config.
std::map<std::string, std::string> load_config(const std::string& path,
                                               bool required);

// Fills every option of `globals` left unset by flags from the
// environment, then the config file, then the defaults; decides colour;
// reads the token file. Throws Error(invalid_argument) naming the
// setting at fault.
void resolve_globals(Globals& globals, const Environment& env);

// Returns the bearer token: `token`, else the first line of
// `token_file` with surrounding blanks removed, else "". Throws
// Error(invalid_argument) naming `field` when the file cannot be read or
// is empty.
std::string read_token(const std::string& token, const std::string& token_file,
                       std::string_view field);

} // namespace lrb::cli
