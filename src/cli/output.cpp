#include "cli/output.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "core/resources.h"

namespace lrb::cli {

namespace {

// Byte counts times ten overflow int64 near the top of its range.
__extension__ typedef __int128 Int128;

constexpr std::string_view k_reset = "\033[0m";
constexpr std::string_view k_column_gap = "   ";
constexpr std::int64_t k_second = 1000;
constexpr std::int64_t k_minute = 60 * k_second;
constexpr std::int64_t k_hour = 60 * k_minute;
constexpr std::int64_t k_day = 24 * k_hour;

// Returns `value` / `unit` as text with at most one decimal, rounded to
// the nearest tenth.
std::string tenths(Int128 value, Int128 unit) {
  const Int128 t = (value * 10 + unit / 2) / unit;
  const auto whole = static_cast<std::int64_t>(t / 10);
  const auto frac = static_cast<int>(t % 10);
  return frac == 0 ? fmt::format("{}", whole)
                   : fmt::format("{}.{}", whole, frac);
}

// Returns whether a plain YAML scalar `s` would be read back as something
// other than a string (number, boolean, null, timestamp), by YAML 1.1 or
// 1.2 readers alike.
bool yaml_needs_quotes(std::string_view s) {
  if (s.empty()) {
    return true;
  }
  static constexpr std::array<std::string_view, 14> k_words = {
      "true", "false", "yes", "no",   "on",    "off",  "y",
      "n",    "null",  "~",   ".inf", "-.inf", ".nan", "+.inf"};
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (std::find(k_words.begin(), k_words.end(), lower) != k_words.end()) {
    return true;
  }
  // Numbers in any base or notation, and sexagesimal "1:20".
  const bool numeric_start = std::isdigit(static_cast<unsigned char>(s[0])) ||
                             s[0] == '+' || s[0] == '-' || s[0] == '.';
  if (numeric_start &&
      lower.find_first_not_of("0123456789abcdefox.+-_:") == std::string::npos) {
    return true;
  }
  // Dates and timestamps ("2026-12-04", "2026-12-04T15:00:00Z").
  return s.size() >= 10 && std::isdigit(static_cast<unsigned char>(s[0])) &&
         s[4] == '-' && s[7] == '-';
}

void emit_yaml(YAML::Emitter& out, const core::Json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [key, value] : j.items()) {
      out << YAML::Key;
      if (yaml_needs_quotes(key)) {
        out << YAML::DoubleQuoted;
      }
      out << key << YAML::Value;
      emit_yaml(out, value);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& item : j) {
      emit_yaml(out, item);
    }
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (yaml_needs_quotes(s)) {
      out << YAML::DoubleQuoted;
    }
    out << s;
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    // Numbers and booleans: JSON's own text is valid YAML and keeps the
    // shortest round-tripping form of a double.
    out << j.dump();
  }
}

} // namespace

const std::vector<std::string>& format_names() {
  static const std::vector<std::string> k_names = {"table", "wide", "json",
                                                   "yaml", "name"};
  return k_names;
}

Format parse_format(std::string_view text, std::string_view field) {
  const auto& names = format_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (text == names[i]) {
      return static_cast<Format>(i);
    }
  }
  throw core::Error(core::Code::invalid_argument,
                    fmt::format("{}: unknown output format \"{}\": use "
                                "table, wide, json, yaml or name",
                                field, text),
                    std::string(field));
}

std::string paint(std::string_view text, Color color, bool enabled) {
  if (!enabled || color == Color::none) {
    return std::string(text);
  }
  std::string_view code;
  switch (color) {
  case Color::red:
    code = "\033[31m";
    break;
  case Color::green:
    code = "\033[32m";
    break;
  case Color::yellow:
    code = "\033[33m";
    break;
  case Color::bold:
    code = "\033[1m";
    break;
  default:
    code = "\033[2m";
    break;
  }
  return fmt::format("{}{}{}", code, text, k_reset);
}

Color color_of_phase(std::string_view phase) {
  if (phase == "Active" || phase == "Ready") {
    return Color::green;
  }
  if (phase == "Failed" || phase == "Expired" || phase == "Stale") {
    return Color::red;
  }
  if (phase == "Reserved" || phase == "Pending" || phase == "Cordoned") {
    return Color::yellow;
  }
  return phase == "Released" ? Color::dim : Color::none;
}

std::size_t visible_width(std::string_view text) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0x1b && i + 1 < text.size() && text[i + 1] == '[') {
      // Skip a CSI sequence up to its final byte (0x40..0x7e).
      i += 2;
      while (i < text.size() && (text[i] < 0x40 || text[i] > 0x7e)) {
        ++i;
      }
      continue;
    }
    if ((c & 0xC0) != 0x80) {
      ++width;
    }
  }
  return width;
}

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

void Table::add_row(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

void Table::set_min_widths(std::vector<std::size_t> widths) {
  min_widths_ = std::move(widths);
}

std::string Table::render(bool headers) const {
  std::vector<std::size_t> widths(headers_.size(), 0);
  for (std::size_t c = 0; c < widths.size() && c < min_widths_.size(); ++c) {
    widths[c] = min_widths_[c];
  }
  auto measure = [&widths](const std::vector<std::string>& row) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], visible_width(row[c]));
    }
  };
  measure(headers_);
  for (const auto& row : rows_) {
    measure(row);
  }

  std::string out;
  auto write = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) {
        line.append(widths[c] - visible_width(row[c]), ' ');
        line += k_column_gap;
      }
    }
    // The last cells may be empty: never leave trailing blanks.
    line.erase(line.find_last_not_of(' ') + 1);
    out += line;
    out += '\n';
  };
  widths_ = widths;
  if (headers) {
    write(headers_);
  }
  for (const auto& row : rows_) {
    write(row);
  }
  return out;
}

std::string human_cpu(std::int64_t milli) {
  const std::string sign = milli < 0 ? "-" : "";
  const std::int64_t m = milli < 0 ? -milli : milli;
  std::string frac = fmt::format("{:03}", m % 1000);
  frac.erase(frac.find_last_not_of('0') + 1);
  if (frac.empty()) {
    return fmt::format("{}{}", sign, m / 1000);
  }
  return fmt::format("{}{}.{}", sign, m / 1000, frac);
}

namespace {

std::string human_bytes_magnitude(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 6> k_units = {"Ki", "Mi", "Gi",
                                                              "Ti", "Pi", "Ei"};
  if (bytes < 1024) {
    return fmt::format("{}", bytes);
  }
  // Pick the largest unit that the value reaches, moving up when rounding
  // to a tenth lands on 1024 of a unit ("1023.96Mi" is "1Gi").
  std::size_t u = 0;
  Int128 unit = 1024;
  while (u + 1 < k_units.size() &&
         (static_cast<Int128>(bytes) * 10 + unit / 2) / unit >= 10240) {
    unit *= 1024;
    ++u;
  }
  return tenths(bytes, unit) + std::string(k_units[u]);
}

} // namespace

std::string human_bytes(std::int64_t bytes) {
  if (bytes < 0) {
    // Negate in unsigned arithmetic so INT64_MIN does not overflow.
    std::string out =
        human_bytes_magnitude(0 - static_cast<std::uint64_t>(bytes));
    out.insert(out.begin(), '-');
    return out;
  }
  return human_bytes_magnitude(static_cast<std::uint64_t>(bytes));
}

std::string human_resource(std::string_view name, std::int64_t value) {
  switch (core::resource_kind(name)) {
  case core::ResourceKind::milli:
    return human_cpu(value);
  case core::ResourceKind::bytes:
    return human_bytes(value);
  default:
    return name == "gpu" ? fmt::format("{} GPU", value)
                         : fmt::format("{}", value);
  }
}

std::string human_pair(std::string_view name, std::int64_t part,
                       std::int64_t total) {
  if (name == "gpu") {
    return fmt::format("{}/{} GPU", part, total);
  }
  return human_resource(name, part) + "/" + human_resource(name, total);
}

std::string human_age(std::int64_t ms) {
  if (ms < 0) {
    ms = 0;
  }
  const std::int64_t s = ms / k_second;
  const std::int64_t m = ms / k_minute;
  const std::int64_t h = ms / k_hour;
  const std::int64_t d = ms / k_day;
  auto pair = [](std::int64_t big, char bu, std::int64_t small, char su) {
    return small == 0 ? fmt::format("{}{}", big, bu)
                      : fmt::format("{}{}{}{}", big, bu, small, su);
  };
  // The precision shrinks as the span grows, as kubectl's ages do.
  if (ms < 2 * k_minute) {
    return fmt::format("{}s", s);
  }
  if (ms < 10 * k_minute) {
    return pair(m, 'm', s % 60, 's');
  }
  if (ms < 3 * k_hour) {
    return fmt::format("{}m", m);
  }
  if (ms < 8 * k_hour) {
    return pair(h, 'h', m % 60, 'm');
  }
  if (ms < 2 * k_day) {
    return fmt::format("{}h", h);
  }
  if (ms < 8 * k_day) {
    return pair(d, 'd', h % 24, 'h');
  }
  return fmt::format("{}d", d);
}

std::string age_since(core::WallMs then, core::WallMs now) {
  return then == 0 ? "<unknown>" : human_age(now - then);
}

std::string human_time(core::WallMs t, core::WallMs now) {
  const std::string when = core::format_rfc3339(t);
  if (t > now) {
    return fmt::format("{} (in {})", when, human_age(t - now));
  }
  return fmt::format("{} ({} ago)", when, human_age(now - t));
}

std::string human_price(std::optional<double> per_hour) {
  if (!per_hour) {
    return "-";
  }
  return *per_hour >= 1 ? fmt::format("{:.2f}", *per_hour)
                        : fmt::format("{:.4f}", *per_hour);
}

std::string human_score(double score) {
  return fmt::format("{:.1f}", score);
}

std::string human_list(const core::ResourceList& list) {
  std::string out;
  list.for_each([&out](std::string_view name, std::int64_t value) {
    if (!out.empty()) {
      out += ' ';
    }
    const bool counted = core::resource_kind(name) == core::ResourceKind::count;
    out += fmt::format("{}={}", name,
                       counted ? fmt::format("{}", value)
                               : human_resource(name, value));
  });
  return out.empty() ? "-" : out;
}

std::string render_decision(const core::Decision& decision, bool color) {
  Table table(
      {"RANK", "CLUSTER", "RESOURCE", "COST", "PRICE/H", "SCORE", "REASON"});
  for (const auto& row : decision.rows) {
    const bool chosen = row.cluster_id == decision.chosen;
    if (!row.candidate) {
      table.add_row({"-", row.cluster_id, "-", "-",
                     human_price(row.price_per_hour), "-",
                     paint(row.reason, Color::dim, color)});
      continue;
    }
    table.add_row(
        {fmt::format("{}", row.rank),
         paint(row.cluster_id, chosen ? Color::bold : Color::none, color),
         fmt::format("{:.3f}", row.resource_score),
         fmt::format("{:.3f}", row.cost_score), human_price(row.price_per_hour),
         human_score(row.score), chosen ? "chosen" : ""});
  }
  return table.render();
}

std::string decision_summary(const core::Decision& d) {
  const std::string how =
      fmt::format("policy {} (resource weight {}, cost weight {})",
                  d.policy.empty() ? "default" : d.policy,
                  fmt::format("{:g}", d.resource_weight),
                  fmt::format("{:g}", d.cost_weight));
  if (d.chosen.empty()) {
    return fmt::format("{}: no cluster fits ({} considered)", how, d.clusters);
  }
  return fmt::format("{}: chose {} ({} of {} clusters fit)", how, d.chosen,
                     d.candidates, d.clusters);
}

std::string exclusion_reasons(const core::Decision& decision) {
  std::string out;
  for (const auto& row : decision.rows) {
    if (row.candidate) {
      continue;
    }
    out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", row.cluster_id,
                       row.reason);
  }
  return out.empty() ? "no cluster is known to the broker" : out;
}

std::string to_yaml(const core::Json& j) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit_yaml(out, j);
  std::string text = out.c_str();
  text += '\n';
  return text;
}

std::string to_json_text(const core::Json& j) {
  return j.dump(2, ' ', false, core::Json::error_handler_t::replace) + "\n";
}

void print_out(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

void print_document(const core::Json& j, Format format) {
  print_out(format == Format::yaml ? to_yaml(j) : to_json_text(j));
}

Format output_format(const std::string& output, std::string_view verb,
                     const std::vector<Format>& supported) {
  const Format format = parse_format(output, "-o");
  if (std::find(supported.begin(), supported.end(), format) !=
      supported.end()) {
    return format;
  }
  std::vector<std::string> names;
  for (Format f : supported) {
    names.push_back(format_names()[static_cast<std::size_t>(f)]);
  }
  throw core::Error(core::Code::invalid_argument,
                    fmt::format("-o {}: `lrb {}` does not print that "
                                "format; use {}",
                                output, verb, fmt::join(names, ", ")),
                    "-o");
}

bool is_terminal(int fd) {
  return ::isatty(fd) == 1;
}

} // namespace lrb::cli
