// Shell completions generated from the CLI11 command tree that `lrb`
// itself parses with, so they cannot drift from the verbs and flags: a
// new flag is completed as soon as it exists. The checked-in files under
// completions/ are this generator's output, and a test holds them equal.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace lrb::cli {

// What the value of an option or positional completes to.
enum class Hint { none, file, cluster, reservation, choices };

// One option of a command, as the generators see it.
struct OptionSpec {
  std::vector<std::string> names; // "--output", "-o"
  bool takes_value = false;
  Hint hint = Hint::none;
  std::vector<std::string> choices;
  std::string help;
};

// One command (the root, a verb, or a kind under `get`) and its children.
struct CommandSpec {
  std::string path;               // "get clusters"; "" for the root
  std::vector<std::string> names; // name first, then aliases
  std::string help;
  std::vector<OptionSpec> options; // its own, without inherited ones
  bool has_positional = false;
  Hint positional_hint = Hint::none;
  std::vector<std::string> positional_choices;
  std::vector<CommandSpec> children;
};

// Returns the command tree of `app` in completion terms.
CommandSpec describe_commands(const CLI::App& app);

// Returns the completion script for `shell` ("bash", "zsh" or "fish");
// throws Error(invalid_argument) for another shell.
std::string completion_script(const CLI::App& app, std::string_view shell);

// Returns the shells completion_script knows.
const std::vector<std::string>& completion_shells();

} // namespace lrb::cli
