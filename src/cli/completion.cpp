// `lrb completion bash|zsh|fish`. The tree `lrb` parses with is turned
// into a small model (commands, aliases, options, which options take a
// value and what that value is), and each shell's script is printed from
// the model. All three scripts work the same way: walk the words typed
// so far to find the command ("get clusters"), skipping option values,
// then offer that command's subcommands, options, or the values of the
// option just typed — files, the choices of a CLI::IsMember check, or
// cluster and reservation ids asked of the broker with `lrb get ... -o
// name` (passing on --broker and the TLS options typed on the line).
#include "cli/completion.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <set>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/app.h"
#include "cli/output.h"
#include "core/error.h"

namespace lrb::cli {

namespace {

// ----- the model ------------------------------------------------------

bool ends_with(std::string_view s, std::string_view tail) {
  return s.size() >= tail.size() && s.substr(s.size() - tail.size()) == tail;
}

// Options of verbs that do not set a FILE type name still complete files
// when their name says they hold a path.
bool file_by_name(std::string_view name) {
  return name == "--db" || name == "--config" || name == "--kubeconfig" ||
         name == "--snapshot" || ends_with(name, "-file") ||
         ends_with(name, "-dir");
}

std::vector<std::string> choices_of(const std::string& type_name) {
  const auto open = type_name.find(":{");
  const auto close = type_name.find('}', open);
  std::vector<std::string> out;
  if (open == std::string::npos || close == std::string::npos) {
    return out;
  }
  std::string list = type_name.substr(open + 2, close - open - 2);
  for (std::size_t start = 0; start <= list.size();) {
    const auto comma = std::min(list.find(',', start), list.size());
    if (comma > start) {
      out.push_back(list.substr(start, comma - start));
    }
    start = comma + 1;
  }
  return out;
}

Hint hint_of(const CLI::Option& opt, std::vector<std::string>& choices) {
  const std::string type = opt.get_type_name();
  choices = choices_of(type);
  if (!choices.empty()) {
    return Hint::choices;
  }
  const std::string base = type.substr(0, type.find(':'));
  if (base == k_type_file || base == "PATH") {
    return Hint::file;
  }
  if (base == k_type_cluster) {
    return Hint::cluster;
  }
  if (base == k_type_reservation) {
    return Hint::reservation;
  }
  for (const auto& name : opt.get_lnames()) {
    if (opt.get_expected_max() > 0 && file_by_name("--" + name)) {
      return Hint::file;
    }
  }
  return Hint::none;
}

OptionSpec describe_option(const CLI::Option& opt) {
  OptionSpec o;
  for (const auto& l : opt.get_lnames()) {
    o.names.push_back("--" + l);
  }
  for (const auto& s : opt.get_snames()) {
    o.names.push_back("-" + s);
  }
  o.takes_value = opt.get_expected_max() > 0;
  o.hint = o.takes_value ? hint_of(opt, o.choices) : Hint::none;
  o.help = opt.get_description();
  return o;
}

CommandSpec describe_app(const CLI::App& app, const std::string& path) {
  CommandSpec spec;
  spec.path = path;
  spec.names.push_back(app.get_name());
  for (const auto& alias : app.get_aliases()) {
    spec.names.push_back(alias);
  }
  spec.help = app.get_description();
  for (const CLI::Option* opt : app.get_options()) {
    if (!opt->get_positional()) {
      spec.options.push_back(describe_option(*opt));
    } else if (!spec.has_positional) {
      spec.has_positional = true;
      spec.positional_hint = hint_of(*opt, spec.positional_choices);
    }
  }
  for (const CLI::App* sub :
       app.get_subcommands([](const CLI::App*) { return true; })) {
    const std::string child =
        path.empty() ? sub->get_name() : path + " " + sub->get_name();
    spec.children.push_back(describe_app(*sub, child));
  }
  return spec;
}

// One command with everything the scripts need flattened in.
struct Node {
  const CommandSpec* spec;
  std::vector<OptionSpec> options; // own and inherited, without the root's
};

// Lists every command below the root (and the root first), each with the
// options of its ancestors below the root, as fallthrough allows them. A
// command's own option shadows an ancestor's of the same name, as CLI11
// matches the command's own first.
void flatten(const CommandSpec& c, const std::vector<OptionSpec>& inherited,
             std::vector<Node>& out, bool root) {
  std::vector<OptionSpec> options;
  std::set<std::string> names;
  if (!root) {
    for (const auto& o : c.options) {
      options.push_back(o);
      names.insert(o.names.begin(), o.names.end());
    }
  }
  for (const auto& o : inherited) {
    if (std::none_of(
            o.names.begin(), o.names.end(),
            [&names](const std::string& n) { return names.count(n) != 0; })) {
      options.push_back(o);
    }
  }
  out.push_back({&c, options});
  for (const auto& child : c.children) {
    flatten(child, options, out, false);
  }
}

std::vector<Node> nodes_of(const CommandSpec& root) {
  std::vector<Node> out;
  flatten(root, {}, out, true);
  return out;
}

// Returns the option names offered at a node: its own and inherited
// ones, then the root's, each once.
std::vector<std::string> option_words(const Node& n, const CommandSpec& root) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  auto add = [&](const std::vector<OptionSpec>& options) {
    for (const auto& o : options) {
      for (const auto& name : o.names) {
        if (seen.insert(name).second) {
          out.push_back(name);
        }
      }
    }
  };
  add(n.options);
  add(root.options);
  return out;
}

// Root options that carry the connection to the broker; completion
// passes them on when it asks the broker for ids.
bool forwarded(const OptionSpec& o) {
  const auto& name = o.names.front();
  return name != "--output" && name != "--log-level" && name != "--help" &&
         name != "--version" && name != "--no-color";
}

std::string join(const std::vector<std::string>& words, std::string_view sep) {
  return fmt::format("{}", fmt::join(words, sep));
}

std::string kind_of(Hint hint) {
  return hint == Hint::cluster ? "clusters" : "reservations";
}

// ----- bash -----------------------------------------------------------

std::string quoted(const std::string& s) {
  return "\"" + s + "\"";
}

// Returns `"path/name" | ...` for the names of an option at a path.
std::string bash_patterns(const std::string& path,
                          const std::vector<std::string>& names,
                          std::string_view sep) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    out.push_back(quoted(path + "/" + name));
  }
  return join(out, sep);
}

std::string global_patterns(const OptionSpec& o, std::string_view sep) {
  std::vector<std::string> out;
  for (const auto& name : o.names) {
    out.push_back("*/" + name);
  }
  return join(out, sep);
}

// The root's option names as the scripts' case arms need them.
struct RootWords {
  std::vector<std::string> values;           // options taking a value
  std::vector<std::string> forwarded_values; // forwarded, with a value
  std::vector<std::string> forwarded_flags;  // forwarded, without one
};

// Returns the names of the options in `options` that take a value.
std::vector<std::string> value_names(const std::vector<OptionSpec>& options) {
  std::vector<std::string> names;
  for (const auto& o : options) {
    if (o.takes_value) {
      names.insert(names.end(), o.names.begin(), o.names.end());
    }
  }
  return names;
}

// Returns `root`'s option names sorted into the three lists.
RootWords root_words(const CommandSpec& root) {
  RootWords w;
  w.values = value_names(root.options);
  for (const auto& o : root.options) {
    if (forwarded(o)) {
      auto& list = o.takes_value ? w.forwarded_values : w.forwarded_flags;
      list.insert(list.end(), o.names.begin(), o.names.end());
    }
  }
  return w;
}

// The shell-independent tables shared by bash and zsh: they use the same
// case syntax, with `sep` between alternatives.
struct CaseTables {
  std::string takes_value; // case arms of _lrb_takes_value (path/opt)
  std::string root_values; // pattern of the root's value options
  std::string forward;     // case arms collecting forwarded options
  std::string transitions; // case arms moving into a subcommand
};

CaseTables case_tables(const CommandSpec& root, const std::vector<Node>& nodes,
                       std::string_view sep, std::string_view indent) {
  CaseTables t;
  const RootWords w = root_words(root);
  t.root_values = join(w.values, sep);
  std::string arms;
  for (const auto& n : nodes) {
    const std::vector<std::string> names = value_names(n.options);
    if (!names.empty()) {
      arms += fmt::format("{}{}) return 0 ;;\n", indent,
                          bash_patterns(n.spec->path, names, sep));
    }
    for (const auto& child : n.spec->children) {
      t.transitions += fmt::format(
          "{}  {}) command={} ;;\n", indent,
          bash_patterns(n.spec->path, child.names, sep), quoted(child.path));
    }
  }
  t.takes_value = arms;
  t.forward = fmt::format(
      "{}  {}) _lrb_forward+=(\"$word\" \"${{COMP_WORDS[i + 1]}}\") ;;\n"
      "{}  {}) _lrb_forward+=(\"$word\") ;;\n",
      indent, join(w.forwarded_values, sep), indent,
      join(w.forwarded_flags, sep));
  return t;
}

// Returns the case arms completing an option's value with `files`,
// `ids(kind)` and `words(list)` written in the shell's terms.
std::string
value_arms(const CommandSpec& root, const std::vector<Node>& nodes,
           std::string_view sep, std::string_view indent,
           const std::function<std::string(const OptionSpec&)>& act) {
  // A verb's own option comes first: it wins over a root option of the
  // same name (`lrb broker --config` is the broker's config file).
  std::string out;
  for (const auto& n : nodes) {
    for (const auto& o : n.options) {
      if (o.takes_value && o.hint != Hint::none) {
        out += fmt::format("{}{}) {} ;;\n", indent,
                           bash_patterns(n.spec->path, o.names, sep), act(o));
      }
    }
  }
  for (const auto& o : root.options) {
    if (o.takes_value && o.hint != Hint::none) {
      out +=
          fmt::format("{}{}) {} ;;\n", indent, global_patterns(o, sep), act(o));
    }
  }
  return out;
}

// Returns the body of _lrb_takes_value, the same in bash and zsh:
// whether option $2 takes a value in command $1.
std::string takes_value_body(const CaseTables& t) {
  return "  case \"$2\" in\n  " + t.root_values +
         ") return 0 ;;\n  esac\n  case \"$1/$2\" in\n" + t.takes_value +
         "  esac\n  return 1\n";
}

std::string bash_value_action(const OptionSpec& o) {
  switch (o.hint) {
  case Hint::file:
    return "_lrb_files \"$cur\"";
  case Hint::choices:
    return fmt::format("_lrb_words \"$cur\" \"{}\"", join(o.choices, " "));
  default:
    return fmt::format("_lrb_ids \"$cur\" {}", kind_of(o.hint));
  }
}

// The arms completing a word that is not an option: subcommands, or the
// command's positional argument.
std::string bash_word_arms(const std::vector<Node>& nodes) {
  std::string out;
  for (const auto& n : nodes) {
    const auto& c = *n.spec;
    std::string action;
    if (!c.children.empty()) {
      std::vector<std::string> words;
      for (const auto& child : c.children) {
        words.insert(words.end(), child.names.begin(), child.names.end());
      }
      action = fmt::format("_lrb_words \"$cur\" \"{}\"", join(words, " "));
    } else if (c.has_positional && c.positional_hint != Hint::none) {
      OptionSpec o;
      o.hint = c.positional_hint;
      o.choices = c.positional_choices;
      action = bash_value_action(o);
    }
    if (!action.empty()) {
      out += fmt::format("  {}) {} ;;\n", quoted(c.path), action);
    }
  }
  return out;
}

std::string bash_script(const CommandSpec& root) {
  const auto nodes = nodes_of(root);
  const auto t = case_tables(root, nodes, " | ", "  ");
  std::string option_arms;
  for (const auto& n : nodes) {
    option_arms +=
        fmt::format("    {}) _lrb_words \"$cur\" \"{}\" ;;\n",
                    quoted(n.spec->path), join(option_words(n, root), " "));
  }
  std::string s = R"SH(# bash completion for lrb
# Generated by `lrb completion bash` from lrb's command tree; do not edit.
# Install: copy to /usr/share/bash-completion/completions/lrb, or run
#   source <(lrb completion bash)
# shellcheck shell=bash

# Sets COMPREPLY to the words of $2 that start with $1.
_lrb_words() {
  mapfile -t COMPREPLY < <(compgen -W "$2" -- "$1")
}

# Sets COMPREPLY to the files that start with $1.
_lrb_files() {
  compopt -o filenames 2>/dev/null
  mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

# Sets COMPREPLY to the ids of kind $2 (clusters or reservations) that
# start with $1, asking the broker named on the command line.
_lrb_ids() {
  local ids
  ids=$("${COMP_WORDS[0]}" "${_lrb_forward[@]}" get "$2" -o name 2>/dev/null)
  mapfile -t COMPREPLY < <(compgen -W "$ids" -- "$1")
}

# Succeeds when option $2 takes a value in command $1.
_lrb_takes_value() {
)SH" + takes_value_body(t) +
                  R"SH(}

_lrb() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  local command="" word i skip=0
  _lrb_forward=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if ((skip)); then
      skip=0
      continue
    fi
    case "$word" in
)SH" + t.forward + R"SH(    esac
    case "$command/$word" in
)SH" + t.transitions +
                  R"SH(    *) _lrb_takes_value "$command" "$word" && skip=1 ;;
    esac
  done

  if _lrb_takes_value "$command" "$prev"; then
    case "$command/$prev" in
)SH" + value_arms(root, nodes, " | ", "    ", bash_value_action) +
                  R"SH(    *) COMPREPLY=() ;;
    esac
    return 0
  fi
  if [[ $cur == -* ]]; then
    case "$command" in
)SH" + option_arms +
                  R"SH(    esac
    return 0
  fi
  case "$command" in
)SH" + bash_word_arms(nodes) +
                  R"SH(  *) COMPREPLY=() ;;
  esac
  return 0
}

complete -F _lrb lrb
)SH";
  return s;
}

// ----- zsh ------------------------------------------------------------

// Quotes `s` for a single-quoted zsh or fish word.
std::string single_quoted(const std::string& s, bool fish) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += fish ? "\\'" : "'\\''";
    } else if (c == '\\' && fish) {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Returns "name:help" items for _describe, colons in names escaped.
std::string
describe_items(const std::vector<std::pair<std::string, std::string>>& items) {
  std::vector<std::string> out;
  for (const auto& [name, help] : items) {
    std::string escaped;
    for (char c : name) {
      escaped += c == ':' ? std::string("\\:") : std::string(1, c);
    }
    std::string first_line = help.substr(0, help.find('\n'));
    out.push_back(single_quoted(escaped + ":" + first_line, false));
  }
  return join(out, " ");
}

std::string zsh_value_action(const OptionSpec& o) {
  switch (o.hint) {
  case Hint::file:
    return "_files";
  case Hint::choices:
    return "compadd -- " + join(o.choices, " ");
  default:
    return "_lrb_ids " + kind_of(o.hint);
  }
}

std::string zsh_option_arms(const std::vector<Node>& nodes,
                            const CommandSpec& root) {
  std::string out;
  for (const auto& n : nodes) {
    std::vector<std::pair<std::string, std::string>> items;
    std::set<std::string> seen;
    for (const auto* list : {&n.options, &root.options}) {
      for (const auto& o : *list) {
        for (const auto& name : o.names) {
          if (seen.insert(name).second) {
            items.emplace_back(name, o.help);
          }
        }
      }
    }
    out += fmt::format("    {}) items=({}) ;;\n", quoted(n.spec->path),
                       describe_items(items));
  }
  return out;
}

std::string zsh_word_arms(const std::vector<Node>& nodes) {
  std::string out;
  for (const auto& n : nodes) {
    const auto& c = *n.spec;
    if (!c.children.empty()) {
      std::vector<std::pair<std::string, std::string>> items;
      for (const auto& child : c.children) {
        for (const auto& name : child.names) {
          items.emplace_back(name, child.help);
        }
      }
      out += fmt::format("  {})\n    items=({})\n"
                         "    _describe -t commands command items\n    ;;\n",
                         quoted(c.path), describe_items(items));
    } else if (c.has_positional && c.positional_hint != Hint::none) {
      OptionSpec o;
      o.hint = c.positional_hint;
      o.choices = c.positional_choices;
      out += fmt::format("  {}) {} ;;\n", quoted(c.path), zsh_value_action(o));
    }
  }
  return out;
}

std::string zsh_script(const CommandSpec& root) {
  const auto nodes = nodes_of(root);
  const auto t = case_tables(root, nodes, "|", "  ");
  std::string forward = t.forward;
  // zsh's words array starts at 1 and is named `words`.
  const std::string from = "${COMP_WORDS[i + 1]}";
  forward.replace(forward.find(from), from.size(), "${words[i + 1]}");
  return R"SH(#compdef lrb
# zsh completion for lrb
# Generated by `lrb completion zsh` from lrb's command tree; do not edit.
# Install: copy to a directory of $fpath as _lrb, or run
#   source <(lrb completion zsh)

# Offers the ids of kind $1 (clusters or reservations), asking the broker
# named on the command line.
_lrb_ids() {
  local -a ids
  ids=(${(f)"$(${words[1]} "${_lrb_forward[@]}" get $1 -o name 2>/dev/null)"})
  compadd -a ids
}

# Succeeds when option $2 takes a value in command $1.
_lrb_takes_value() {
)SH" + takes_value_body(t) +
         R"SH(}

_lrb() {
  local cur=${words[CURRENT]} prev=${words[CURRENT-1]}
  local command="" word i skip=0
  local -a items
  _lrb_forward=()
  for ((i = 2; i < CURRENT; i++)); do
    word=${words[i]}
    if ((skip)); then
      skip=0
      continue
    fi
    case "$word" in
)SH" + forward +
         R"SH(    esac
    case "$command/$word" in
)SH" + t.transitions +
         R"SH(    *) _lrb_takes_value "$command" "$word" && skip=1 ;;
    esac
  done

  if _lrb_takes_value "$command" "$prev"; then
    case "$command/$prev" in
)SH" + value_arms(root, nodes, "|", "    ", zsh_value_action) +
         R"SH(    esac
    return
  fi
  if [[ $cur == -* ]]; then
    case "$command" in
)SH" + zsh_option_arms(nodes, root) +
         R"SH(    esac
    _describe -t options option items
    return
  fi
  case "$command" in
)SH" + zsh_word_arms(nodes) +
         R"SH(  esac
}

if [[ ${funcstack[1]} == _lrb ]]; then
  _lrb "$@"
else
  compdef _lrb lrb
fi
)SH";
}

// ----- fish -----------------------------------------------------------

std::string fish_names(const OptionSpec& o) {
  std::string out;
  for (const auto& name : o.names) {
    out += name.rfind("--", 0) == 0 ? " -l " + name.substr(2)
                                    : " -s " + name.substr(1);
  }
  return out;
}

// Returns what a value completes to: files, choices or ids.
std::string fish_args(Hint hint, const std::vector<std::string>& choices) {
  switch (hint) {
  case Hint::file:
    return " -F";
  case Hint::choices:
    return " -a " + single_quoted(join(choices, " "), true);
  case Hint::cluster:
  case Hint::reservation:
    return " -a " + single_quoted("(__lrb_ids " + kind_of(hint) + ")", true);
  default:
    return "";
  }
}

// Returns the flags of an option taking a value: -r (files allowed) or
// -x (no files), then what the value completes to.
std::string fish_value(Hint hint, const std::vector<std::string>& choices) {
  return (hint == Hint::file ? " -r" : " -x") + fish_args(hint, choices);
}

std::string fish_option(const OptionSpec& o, const std::string& condition) {
  std::string line = "complete -c lrb";
  if (!condition.empty()) {
    line += " -n " + single_quoted(condition, true);
  }
  line += fish_names(o);
  if (o.takes_value) {
    line += fish_value(o.hint, o.choices);
  }
  return line + " -d " + single_quoted(o.help, true) + "\n";
}

std::string fish_patterns(const std::string& path,
                          const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    out.push_back(single_quoted(path + "/" + name, true));
  }
  return join(out, " ");
}

std::string fish_tables(const CommandSpec& root, const std::vector<Node>& nodes,
                        std::string& takes_value, std::string& forward) {
  const RootWords w = root_words(root);
  std::string transitions;
  for (const auto& n : nodes) {
    const std::vector<std::string> names = value_names(n.options);
    if (!names.empty()) {
      takes_value += "        case " + fish_patterns(n.spec->path, names) +
                     "\n            return 0\n";
    }
    for (const auto& child : n.spec->children) {
      transitions += "            case " +
                     fish_patterns(n.spec->path, child.names) +
                     "\n                set command " +
                     single_quoted(child.path, true) + "\n";
    }
  }
  forward = "            case " + join(w.forwarded_values, " ") +
            "\n                set -a forward $tokens[$i] "
            "$tokens[(math $i + 1)]\n                set i (math $i + 1)\n"
            "            case " +
            join(w.forwarded_flags, " ") +
            "\n                set -a forward $tokens[$i]\n";
  takes_value =
      "        case " + join(w.values, " ") +
      "\n            return 0\n    end\n    switch \"$argv[1]/$argv[2]\"\n" +
      takes_value;
  return transitions;
}

std::string fish_completions(const CommandSpec& root,
                             const std::vector<Node>& nodes) {
  std::string out = "complete -c lrb -f\n";
  for (const auto& o : root.options) {
    out += fish_option(o, "");
  }
  for (const auto& n : nodes) {
    const auto& c = *n.spec;
    const std::string at = "__lrb_at \"" + c.path + "\"";
    for (const auto& child : c.children) {
      for (const auto& name : child.names) {
        out += fmt::format("complete -c lrb -n {} -a {} -d {}\n",
                           single_quoted(at, true), name,
                           single_quoted(child.help, true));
      }
    }
    if (c.children.empty() && c.has_positional &&
        c.positional_hint != Hint::none) {
      out += "complete -c lrb -n " + single_quoted(at, true) +
             fish_args(c.positional_hint, c.positional_choices) + "\n";
    }
    if (c.path.empty()) {
      continue;
    }
    for (const auto& o : c.options) {
      if (o.names.front() != "--help") {
        out += fish_option(o, at);
      }
    }
  }
  return out;
}

std::string fish_script(const CommandSpec& root) {
  const auto nodes = nodes_of(root);
  std::string takes_value;
  std::string forward;
  const std::string transitions =
      fish_tables(root, nodes, takes_value, forward);
  return R"SH(# fish completion for lrb
# Generated by `lrb completion fish` from lrb's command tree; do not edit.
# Install: copy to ~/.config/fish/completions/lrb.fish, or run
#   lrb completion fish | source

# Succeeds when option $argv[2] takes a value in command $argv[1].
function __lrb_takes_value
    switch $argv[2]
)SH" + takes_value +
         R"SH(    end
    return 1
end

# Prints the command the line is in ("get clusters"; "" at the top).
function __lrb_command
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l command ''
    set -l skip 0
    for word in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch "$command/$word"
)SH" + transitions +
         R"SH(            case '*'
                if __lrb_takes_value "$command" "$word"
                    set skip 1
                end
        end
    end
    echo $command
end

# Succeeds when the line is in command $argv[1].
function __lrb_at
    set -l command (__lrb_command)
    test "$command" = "$argv[1]"
end

# Prints the ids of kind $argv[1] (clusters or reservations), asking the
# broker named on the command line.
function __lrb_ids
    set -l tokens (commandline -opc)
    set -l lrb $tokens[1]
    set -e tokens[1]
    set -l forward
    set -l i 1
    while test $i -le (count $tokens)
        switch $tokens[$i]
)SH" + forward +
         R"SH(        end
        set i (math $i + 1)
    end
    $lrb $forward get $argv[1] -o name 2>/dev/null
end

)SH" + fish_completions(root, nodes);
}

// ----- the verb -------------------------------------------------------

int run_completion(const CLI::App& root, const std::string& shell) {
  require_value(shell, "SHELL", "usage: lrb completion bash|zsh|fish");
  print_out(completion_script(root, shell));
  return 0;
}

void setup(CLI::App& root, Globals& globals) {
  auto* cmd = root.add_subcommand(
      "completion", "Print the shell completion script for bash, zsh or fish");
  auto shell = std::make_shared<std::string>();
  cmd->add_option("shell", *shell, "The shell")
      ->type_name("SHELL")
      ->check(CLI::IsMember(completion_shells()));
  const CLI::App* app = &root;
  cmd->callback([shell, app, &globals] {
    globals.action = [shell, app] { return run_completion(*app, *shell); };
  });
}

const VerbRegistrar k_registrar({"completion", 910, setup});

} // namespace

const std::vector<std::string>& completion_shells() {
  static const std::vector<std::string> k_shells = {"bash", "zsh", "fish"};
  return k_shells;
}

CommandSpec describe_commands(const CLI::App& app) {
  return describe_app(app, "");
}

std::string completion_script(const CLI::App& app, std::string_view shell) {
  const CommandSpec root = describe_commands(app);
  if (shell == "bash") {
    return bash_script(root);
  }
  if (shell == "zsh") {
    return zsh_script(root);
  }
  if (shell == "fish") {
    return fish_script(root);
  }
  throw core::Error(
      core::Code::invalid_argument,
      fmt::format("unknown shell \"{}\": use bash, zsh or fish", shell),
      "shell");
}

} // namespace lrb::cli
