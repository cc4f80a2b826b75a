// Parsing of the trace and price CSV files. Columns are found by their
// header name, not their position, so a file with extra or reordered
// columns still reads; every value is checked strictly (a whole,
// non-negative number where one is expected), because a silently
// mis-read row would skew every figure computed from the trace.
#include "core/trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "core/quoting.h"

namespace lrb::core {

namespace {

// One CSV record and the line it starts on (1-based).
struct CsvRow {
  int line = 0;
  std::vector<std::string> fields;
};

std::vector<CsvRow> split_rows(std::string_view text, std::string_view file) {
  std::vector<CsvRow> rows;
  CsvRow row{1, {}};
  std::string field;
  bool quoted = false;
  int line = 1;
  int quote_line = 0;
  auto end_row = [&] {
    row.fields.push_back(std::move(field));
    field.clear();
    bool blank = row.fields.size() == 1 && row.fields[0].empty();
    if (!blank) {
      rows.push_back(std::move(row));
    }
    row = CsvRow{line, {}};
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        line += c == '\n' ? 1 : 0;
        field += c;
      }
    } else if (c == '"' && field.empty()) {
      quoted = true;
      quote_line = line;
    } else if (c == ',') {
      row.fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      ++line;
      end_row();
    } else if (c != '\r') {
      field += c;
    }
  }
  if (quoted) {
    throw Error(Code::invalid_argument,
                fmt::format("{}:{}: a quoted field is never closed: add the "
                            "closing '\"'",
                            file, quote_line),
                "", "InvalidCSV");
  }
  end_row();
  return rows;
}

// A parsed file: its header's column positions and the data rows.
class Table {
public:
  Table(std::string_view text, std::string_view file) : file_(file) {
    rows_ = split_rows(text, file);
    if (rows_.empty()) {
      throw Error(
          Code::invalid_argument,
          fmt::format("{}: the file is empty: it needs a header line", file),
          "", "InvalidCSV");
    }
    header_ = rows_.front().fields;
    rows_.erase(rows_.begin());
  }

  // Returns the index of column `name`, or -1 when the header lacks it
  // and it is optional.
  int column(std::string_view name, bool required = true) const {
    auto it = std::find(header_.begin(), header_.end(), name);
    if (it != header_.end()) {
      return static_cast<int>(it - header_.begin());
    }
    if (required) {
      throw Error(Code::invalid_argument,
                  fmt::format("{}:1: the header has no column \"{}\": add it "
                              "(the header is {})",
                              file_, name, quote_input(join_header())),
                  std::string(name), "InvalidCSV");
    }
    return -1;
  }

  const std::vector<CsvRow>& rows() const { return rows_; }

  // Returns field `col` of `row`, checking the row is long enough.
  const std::string& at(const CsvRow& row, int col) const {
    if (row.fields.size() != header_.size()) {
      throw Error(Code::invalid_argument,
                  fmt::format("{}:{}: the row has {} fields but the header "
                              "has {}: quote fields that contain commas",
                              file_, row.line, row.fields.size(),
                              header_.size()),
                  "", "InvalidCSV");
    }
    return row.fields[static_cast<std::size_t>(col)];
  }

  // Throws the error for a bad value of column `col` in `row`.
  [[noreturn]] void bad(const CsvRow& row, int col,
                        std::string_view expected) const {
    const auto& name = header_[static_cast<std::size_t>(col)];
    throw Error(Code::invalid_argument,
                fmt::format("{}:{}: column {} ({}): {} is not {}", file_,
                            row.line, col + 1, name,
                            quote_input(row.fields[std::size_t(col)]),
                            expected),
                name, "InvalidCSV");
  }

  // Returns column `col` of `row` as a whole non-negative number.
  std::int64_t whole(const CsvRow& row, int col) const {
    const auto& text = at(row, col);
    std::int64_t value = 0;
    auto [end, ec] =
        std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
        value < 0) {
      bad(row, col, "a whole non-negative number: write digits only");
    }
    return value;
  }

  // Returns column `col` as a whole number, or nullopt when empty.
  std::optional<std::int64_t> optional_whole(const CsvRow& row, int col) const {
    if (col < 0 || at(row, col).empty()) {
      return std::nullopt;
    }
    return whole(row, col);
  }

  // Returns column `col` as a finite non-negative decimal number.
  double decimal(const CsvRow& row, int col) const {
    const auto& text = at(row, col);
    double value = 0;
    auto [end, ec] =
        std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() ||
        !std::isfinite(value) || value < 0) {
      bad(row, col, "a non-negative decimal number such as 0.0319");
    }
    return value;
  }

  // Returns column `col` as text ("" when the column is optional and
  // absent).
  std::string text(const CsvRow& row, int col) const {
    return col < 0 ? std::string() : at(row, col);
  }

  // Returns column `col` as a non-empty text.
  std::string name(const CsvRow& row, int col) const {
    const auto& value = at(row, col);
    if (value.empty()) {
      bad(row, col, "a name: the column must not be empty");
    }
    return value;
  }

private:
  std::string join_header() const {
    std::string out;
    for (const auto& h : header_) {
      out += (out.empty() ? "" : ",") + h;
    }
    return out;
  }

  std::string file_;
  std::vector<std::string> header_;
  std::vector<CsvRow> rows_;
};

} // namespace

std::int64_t whole_gpus(const TracePod& pod) {
  // gpu_milli is per GPU, so a shared GPU (460) and a full one (1000)
  // both occupy one whole device each.
  return pod.num_gpu;
}

std::vector<std::vector<std::string>> parse_csv(std::string_view text,
                                                std::string_view file) {
  std::vector<std::vector<std::string>> out;
  for (auto& row : split_rows(text, file)) {
    out.push_back(std::move(row.fields));
  }
  return out;
}

std::vector<TraceNode> parse_trace_nodes(std::string_view text,
                                         std::string_view file) {
  Table t(text, file);
  int sn = t.column("sn");
  int cpu = t.column("cpu_milli");
  int mem = t.column("memory_mib");
  int gpu = t.column("gpu");
  int model = t.column("model");
  std::vector<TraceNode> nodes;
  nodes.reserve(t.rows().size());
  for (const auto& row : t.rows()) {
    TraceNode n{t.name(row, sn), t.whole(row, cpu), t.whole(row, mem),
                t.whole(row, gpu), t.text(row, model)};
    if (n.gpus > 0 && n.model.empty()) {
      t.bad(row, model, "a GPU model: a node with GPUs must name it");
    }
    nodes.push_back(std::move(n));
  }
  return nodes;
}

std::vector<TracePod> parse_trace_pods(std::string_view text,
                                       std::string_view file) {
  Table t(text, file);
  int name = t.column("name");
  int cpu = t.column("cpu_milli");
  int mem = t.column("memory_mib");
  int num_gpu = t.column("num_gpu");
  int gpu_milli = t.column("gpu_milli");
  int created = t.column("creation_time");
  int deleted = t.column("deletion_time");
  int spec = t.column("gpu_spec", false);
  int qos = t.column("qos", false);
  int phase = t.column("pod_phase", false);
  int scheduled = t.column("scheduled_time", false);
  std::vector<TracePod> pods;
  pods.reserve(t.rows().size());
  for (const auto& row : t.rows()) {
    TracePod p;
    p.name = t.name(row, name);
    p.cpu_milli = t.whole(row, cpu);
    p.memory_mib = t.whole(row, mem);
    p.num_gpu = t.whole(row, num_gpu);
    p.gpu_milli = t.whole(row, gpu_milli);
    if (p.gpu_milli > 1000) {
      t.bad(row, gpu_milli, "a share of one GPU: write 0 to 1000");
    }
    p.gpu_spec = t.text(row, spec);
    p.qos = t.text(row, qos);
    p.phase = t.text(row, phase);
    p.creation_time = t.whole(row, created);
    p.deletion_time = t.optional_whole(row, deleted);
    if (p.deletion_time && *p.deletion_time < p.creation_time) {
      t.bad(row, deleted, "at or after creation_time");
    }
    p.scheduled_time = t.optional_whole(row, scheduled);
    pods.push_back(std::move(p));
  }
  return pods;
}

std::vector<RegionPrice> parse_region_prices(std::string_view text,
                                             std::string_view file) {
  Table t(text, file);
  int cloud = t.column("cloud");
  int region = t.column("region");
  int cpu = t.column("cpu_per_hour_usd");
  int mem = t.column("mem_gib_per_hour_usd");
  int model = t.column("gpu_model");
  int gpu = t.column("gpu_per_hour_usd");
  int source = t.column("source", false);
  std::vector<RegionPrice> out;
  for (const auto& row : t.rows()) {
    RegionPrice r;
    r.cloud = t.name(row, cloud);
    r.region = t.name(row, region);
    r.cpu_per_hour = t.decimal(row, cpu);
    r.memory_gib_per_hour = t.decimal(row, mem);
    r.gpu_model = t.text(row, model);
    if (!t.at(row, gpu).empty()) {
      r.gpu_per_hour = t.decimal(row, gpu);
    }
    r.source = t.text(row, source);
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<double>
gpu_price_or_fallback(const RegionPrice& region,
                      const std::vector<RegionPrice>& all) {
  if (region.gpu_per_hour) {
    return region.gpu_per_hour;
  }
  std::vector<double> listed;
  for (const auto& r : all) {
    if (r.cloud == region.cloud && r.gpu_per_hour) {
      listed.push_back(*r.gpu_per_hour);
    }
  }
  if (listed.empty()) {
    return std::nullopt;
  }
  std::sort(listed.begin(), listed.end());
  auto mid = listed.size() / 2;
  return listed.size() % 2 == 1 ? listed[mid]
                                : (listed[mid - 1] + listed[mid]) / 2;
}

const RegionPrice& find_region(const std::vector<RegionPrice>& all,
                               std::string_view name, std::string_view field) {
  auto slash = name.find('/');
  const RegionPrice* found = nullptr;
  int matches = 0;
  for (const auto& r : all) {
    bool match = slash == std::string_view::npos
                     ? r.region == name
                     : r.cloud == name.substr(0, slash) &&
                           r.region == name.substr(slash + 1);
    if (match) {
      found = found ? found : &r;
      ++matches;
    }
  }
  if (matches != 1) {
    throw Error(Code::invalid_argument,
                fmt::format("region {} {}: write cloud/region as in the "
                            "prices file, such as gcp/europe-west8",
                            quote_input(name),
                            matches == 0 ? "is not in the prices file"
                                         : "is ambiguous"),
                std::string(field), "UnknownRegion");
  }
  return *found;
}

} // namespace lrb::core
