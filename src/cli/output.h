// How results reach the operator. Every verb prints through these few
// functions so that the five output formats behave the same everywhere:
// tables are aligned on visible width (colour codes and UTF-8 do not shift
// columns), quantities use human units that an operator reads at a glance
// (8Gi, 3.5, 2 GPU) while -o json and -o yaml carry the API's own exact
// strings, and colour appears only when it was asked for and stdout is a
// terminal. Nothing here talks to the broker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/types.h"

namespace lrb::cli {

// The -o formats of DESIGN.md section 9.
enum class Format { table, wide, json, yaml, name };

// Returns the names of the formats, in the order --help lists them.
const std::vector<std::string>& format_names();

// Parses a format name; throws Error(invalid_argument) naming `field`.
Format parse_format(std::string_view text, std::string_view field);

// Terminal colours used for phases, states and diagnostics.
enum class Color { none, red, green, yellow, bold, dim };

// Wraps `text` in the ANSI sequence for `color` when `enabled`.
std::string paint(std::string_view text, Color color, bool enabled);

// Returns the colour an operator expects for a phase or a cluster state
// (green for Active and Ready, red for Failed, ...).
Color color_of_phase(std::string_view phase);

// Returns the number of terminal columns `text` occupies: UTF-8 code
// points, not counting ANSI escape sequences.
std::size_t visible_width(std::string_view text);

// An aligned, kubectl-style table: upper-case headers, columns separated
// by three spaces, the last column not padded.
class Table {
public:
  // Starts a table with these headers.
  explicit Table(std::vector<std::string> headers);
  // Appends one row; missing trailing cells print empty.
  void add_row(std::vector<std::string> cells);
  // Sets the least width of each column, so that tables printed one
  // after another (--watch, --follow) line up.
  void set_min_widths(std::vector<std::size_t> widths);
  // Returns the column widths the last render used.
  const std::vector<std::size_t>& widths() const { return widths_; }
  // Returns the number of rows added.
  std::size_t size() const { return rows_.size(); }
  // Returns the table as text, one line per row, each ending in '\n';
  // without headers when `headers` is false (for --watch updates).
  std::string render(bool headers = true) const;

private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::size_t> min_widths_;
  mutable std::vector<std::size_t> widths_;
};

// Returns millicores as cores for people: 4000 -> "4", 3500 -> "3.5",
// 250 -> "0.25", 1 -> "0.001".
std::string human_cpu(std::int64_t milli);

// Returns bytes in the largest binary unit, one decimal at most:
// 8Gi -> "8Gi", 1.5Gi -> "1.5Gi", 1000 -> "1000".
std::string human_bytes(std::int64_t bytes);

// Returns a canonical resource value for people: cpu as cores, memory
// and storage as bytes, GPUs as "2 GPU", other counts as plain numbers.
std::string human_resource(std::string_view name, std::int64_t value);

// Returns "free/total" for a table cell, both in human units.
std::string human_pair(std::string_view name, std::int64_t part,
                       std::int64_t total);

// Returns a span of time kubectl-style: "45s", "3m20s", "5h", "3d".
std::string human_age(std::int64_t ms);

// Returns how long ago `then` was, seen from `now` ("5s"; "<unknown>"
// when `then` is zero).
std::string age_since(core::WallMs then, core::WallMs now);

// Returns a time for people: RFC 3339 and how far it is from now, such
// as "2026-12-04T15:00:00Z (5m ago)" or "... (in 2h)".
std::string human_time(core::WallMs t, core::WallMs now);

// Returns a price per hour for a table: "0.1618", "23.20"; "-" when
// absent.
std::string human_price(std::optional<double> per_hour);

// Returns a score in [0, 100] with one decimal: "72.4".
std::string human_score(double score);

// Returns the resources of `list` joined for one cell: "cpu=4
// memory=8Gi gpu=2".
std::string human_list(const core::ResourceList& list);

// Returns a decision as a ranked table, one row per cluster: rank,
// cluster, resource score, cost score, price per hour, final score, or
// the reason the cluster was left out.
std::string render_decision(const core::Decision& decision, bool color);

// Returns one line saying how a decision was taken and what it chose.
std::string decision_summary(const core::Decision& decision);

// Returns the reasons of the excluded rows as "rome: why; paris: why".
std::string exclusion_reasons(const core::Decision& decision);

// Returns `j` as YAML with the same types: strings that would read back
// as numbers, booleans or null are quoted, numbers keep JSON's
// shortest form.
std::string to_yaml(const core::Json& j);

// Returns `j` formatted as the JSON document printed by -o json.
std::string to_json_text(const core::Json& j);

// Writes `text` to stdout and flushes (so --watch lines appear at once).
void print_out(std::string_view text);

// Writes `j` to stdout as JSON or YAML according to `format`.
void print_document(const core::Json& j, Format format);

// Returns the format to print in, refusing with Error(invalid_argument)
// naming -o one that `verb` does not support.
Format output_format(const std::string& output, std::string_view verb,
                     const std::vector<Format>& supported);

// Returns whether file descriptor `fd` is a terminal.
bool is_terminal(int fd);

} // namespace lrb::cli
