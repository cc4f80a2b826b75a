// The wire codecs of DESIGN.md section 4. Decoding is where hostile and
// merely sloppy input meets typed values, so it is built from a handful
// of readers that each check one JSON type and report the exact JSON path
// at fault; the per-type decoders are then short lists of "read this key
// with that reader". Text is checked for limits and UTF-8 before any tree
// is built, so a deep or huge document costs a linear scan, not memory.
//
// Variants accepted from the original prototype agent and from Go
// clients in general (Go writes nil maps and slices as null and empty
// strings for unset ids):
//   - null for any optional member means absent; "" for an optional id
//     (targetClusterID) means unset;
//   - a quantity may be a JSON number: integers are written as they are
//     ("4"), fractions in their shortest exact decimal form ("0.5"); a
//     quantity needing more digits than a double holds must be a string;
//   - a price may be a JSON number as well as a decimal string, and
//     `gpuPerHour` may be one price instead of a map (read as "default");
//   - `generation` and `timestamp` may be absent (0, unknown);
//   - `resources` may be a flat list ({"cpu": "8", "memory": "32Gi"}),
//     read as what the cluster offers: capacity, allocatable and
//     available all set to it, nothing allocated;
//   - without `available`, it is max(0, allocatable - allocated).
#include "core/json.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/duration.h"
#include "core/error.h"
#include "core/quoting.h"

namespace lrb::core {

namespace {

// ---------------------------------------------------------------------
// Text: limits, UTF-8 and the tree.

[[noreturn]] void malformed(std::size_t offset, std::string_view why) {
  throw Error(Code::invalid_argument,
              fmt::format("malformed JSON at byte offset {}: {}", offset, why),
              "", "MalformedJSON");
}

// Returns the length of the valid UTF-8 sequence at `i`, or 0 when the
// bytes there are not one (overlong forms and surrogates included).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    return 1;
  }
  std::size_t len = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC2 ? 2 : 0;
  if (len == 0 || b0 > 0xF4 || i + len > s.size()) {
    return 0;
  }
  // The second byte's range is narrowed for the lead bytes that would
  // otherwise allow overlong forms, surrogates or code points > U+10FFFF.
  const auto b1 = static_cast<unsigned char>(s[i + 1]);
  unsigned char lo = b0 == 0xE0 ? 0xA0 : b0 == 0xF0 ? 0x90 : 0x80;
  unsigned char hi = b0 == 0xED ? 0x9F : b0 == 0xF4 ? 0x8F : 0xBF;
  if (b1 < lo || b1 > hi) {
    return 0;
  }
  for (std::size_t k = 2; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < 0x80 || b > 0xBF) {
      return 0;
    }
  }
  return len;
}

// Returns the offset of the first invalid UTF-8 byte, or npos.
std::size_t invalid_utf8_at(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto len = utf8_sequence(s, i);
    if (len == 0) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// Enforces the limits on the raw text, before nlohmann builds anything:
// the nesting depth and the element count of every array (commas at the
// array's own level). Malformed structure is left to the parser.
void check_limits(std::string_view text, const JsonLimits& limits) {
  struct Frame {
    bool array;
    std::size_t commas;
  };
  std::vector<Frame> open;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      i += c == '\\' ? 1 : 0;
      in_string = c != '"';
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (open.size() >= limits.max_depth) {
        malformed(
            i, fmt::format("nested deeper than {} levels", limits.max_depth));
      }
      open.push_back({c == '[', 0});
    } else if ((c == ']' || c == '}') && !open.empty()) {
      open.pop_back();
    } else if (c == ',' && !open.empty() && open.back().array &&
               ++open.back().commas >= limits.max_array) {
      malformed(i,
                fmt::format("array longer than {} elements", limits.max_array));
    }
  }
}

// Returns nlohmann's explanation without its prefix and without the
// "last read" echo of the input.
std::string describe_parse_error(std::string_view what) {
  if (auto bracket = what.find("] "); bracket != std::string_view::npos) {
    what.remove_prefix(bracket + 2);
  }
  if (what.starts_with("parse error at line")) {
    if (auto colon = what.find(": "); colon != std::string_view::npos) {
      what.remove_prefix(colon + 2);
    }
  }
  return std::string(what.substr(0, what.find("; last read")));
}

// Builds the tree from nlohmann's SAX events. Written out rather than
// using Json::parse so that every parse error, the number overflow one
// included, arrives here with its byte position.
class TreeBuilder {
public:
  explicit TreeBuilder(Json& root) : root_(root) {}

  bool null() { return add(Json(nullptr)); }
  bool boolean(bool v) { return add(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return add(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return add(Json(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t&) {
    return add(Json(v));
  }
  bool string(Json::string_t& v) { return add(Json(std::move(v))); }
  bool binary(Json::binary_t& v) { return add(Json(std::move(v))); }
  bool start_object(std::size_t) { return open(Json::object()); }
  bool key(Json::string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(Json::array()); }
  bool end_array() { return close(); }

  bool parse_error(std::size_t position, const std::string&,
                   const Json::exception& ex) {
    malformed(position > 0 ? position - 1 : 0, describe_parse_error(ex.what()));
  }

private:
  // Places `v` in the open container (or as the root) and returns it.
  Json* place(Json&& v) {
    if (open_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    Json& top = *open_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    Json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }
  bool add(Json&& v) {
    place(std::move(v));
    return true;
  }
  bool open(Json&& v) {
    open_.push_back(place(std::move(v)));
    return true;
  }
  bool close() {
    open_.pop_back();
    return true;
  }

  Json& root_;
  std::vector<Json*> open_;
  Json::string_t key_;
};

// Returns `s` with every invalid UTF-8 byte replaced by U+FFFD, so that
// an error message quoting hostile input can always be serialized.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto len = utf8_sequence(s, i);
    out += len == 0 ? std::string_view("\xEF\xBF\xBD") : s.substr(i, len);
    i += len == 0 ? 1 : len;
  }
  return out;
}

// ---------------------------------------------------------------------
// Paths and typed readers.

// A JSON value being decoded, with the path that names it in errors.
struct Node {
  const Json& j;
  std::string path;
};

bool is_plain_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Returns the path of member `key` of `parent`: "a.b", or a["x.y/z"]
// for keys that would be ambiguous after a dot (quoted as error messages
// quote input, so an odd key cannot forge a line).
std::string child_path(std::string_view parent, std::string_view key) {
  if (is_plain_key(key)) {
    return parent.empty() ? std::string(key)
                          : fmt::format("{}.{}", parent, key);
  }
  return fmt::format("{}[{}]", parent, quote_input(key));
}

Node item(const Node& parent, std::size_t i, const Json& j) {
  return Node{j, fmt::format("{}[{}]", parent.path, i)};
}

std::string_view name_of(const Node& n) {
  return n.path.empty() ? std::string_view("the document")
                        : std::string_view(n.path);
}

[[noreturn]] void fail(const Node& n, std::string_view reason,
                       std::string message) {
  throw Error(Code::invalid_argument, std::move(message), n.path,
              std::string(reason));
}

[[noreturn]] void wrong_type(const Node& n, std::string_view want) {
  fail(n, "WrongType",
       fmt::format("{} must be {}, not {}", name_of(n), want, n.j.type_name()));
}

const Json::object_t& read_object(const Node& n) {
  if (!n.j.is_object()) {
    wrong_type(n, "an object");
  }
  return n.j.get_ref<const Json::object_t&>();
}

const Json::array_t& read_array(const Node& n) {
  if (!n.j.is_array()) {
    wrong_type(n, "an array");
  }
  return n.j.get_ref<const Json::array_t&>();
}

const std::string& read_string(const Node& n) {
  if (!n.j.is_string()) {
    wrong_type(n, "a string");
  }
  return n.j.get_ref<const std::string&>();
}

bool read_bool(const Node& n) {
  if (!n.j.is_boolean()) {
    wrong_type(n, "true or false");
  }
  return n.j.get<bool>();
}

std::string read_label(const Node& n) {
  const auto& id = read_string(n);
  check_dns_label(id, n.path);
  return id;
}

// Reads a finite JSON number (the parser never yields another, but a
// programmatically built tree may).
double read_number(const Node& n) {
  if (!n.j.is_number()) {
    wrong_type(n, "a number");
  }
  const auto v = n.j.get<double>();
  if (!std::isfinite(v)) {
    fail(n, "WrongType", fmt::format("{} must be finite", name_of(n)));
  }
  return v;
}

[[noreturn]] void out_of_range(const Node& n, std::string_view range) {
  fail(n, "OutOfRange",
       fmt::format("{} is out of range: use a whole number {}", name_of(n),
                   range));
}

// Returns a whole JSON number as an unsigned magnitude and a sign; a
// whole-valued float (1e3, 5.0) is accepted, a fraction is not.
std::pair<bool, std::uint64_t> read_whole(const Node& n,
                                          std::string_view range) {
  if (n.j.is_number_unsigned()) {
    return {false, n.j.get<std::uint64_t>()};
  }
  if (n.j.is_number_integer()) {
    const auto v = n.j.get<std::int64_t>();
    return {v < 0, v < 0 ? 0 - static_cast<std::uint64_t>(v)
                         : static_cast<std::uint64_t>(v)};
  }
  const double d = read_number(n);
  if (std::trunc(d) != d) {
    fail(n, "WrongType",
         fmt::format("{} must be a whole number, not {}", name_of(n), d));
  }
  if (std::fabs(d) >= 18446744073709551616.0) {
    out_of_range(n, range);
  }
  return {d < 0, static_cast<std::uint64_t>(std::fabs(d))};
}

// Reads a whole number in [min, max].
std::int64_t read_int(const Node& n, std::int64_t min, std::int64_t max) {
  const auto range = fmt::format("from {} to {}", min, max);
  const auto [negative, magnitude] = read_whole(n, range);
  if (negative) {
    // -magnitude fits int64 only down to its minimum, 2^63.
    const auto limit = static_cast<std::uint64_t>(-(min + 1)) + 1;
    if (min >= 0 || magnitude > limit) {
      out_of_range(n, range);
    }
    return magnitude == 0 ? 0 : -static_cast<std::int64_t>(magnitude - 1) - 1;
  }
  if (magnitude > static_cast<std::uint64_t>(max)) {
    out_of_range(n, range);
  }
  return static_cast<std::int64_t>(magnitude);
}

std::uint64_t read_uint64(const Node& n) {
  const auto [negative, magnitude] =
      read_whole(n, "from 0 to 18446744073709551615");
  if (negative && magnitude != 0) {
    out_of_range(n, "from 0 to 18446744073709551615");
  }
  return magnitude;
}

constexpr auto k_int64_max = std::numeric_limits<std::int64_t>::max();
constexpr auto k_int32_max = std::numeric_limits<std::int32_t>::max();
constexpr auto k_int32_min = std::numeric_limits<std::int32_t>::min();

// Returns the shortest decimal that reads back as `v`, without an
// exponent ("0.5", "1000", "0.0319"), for quantities and prices.
std::string plain_decimal(double v) {
  char buf[400];
  const auto res =
      std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, res.ptr);
}

// Parses a decimal string ("0.0319"): digits with an optional fraction.
std::optional<double> parse_decimal(std::string_view s) {
  const auto dot = s.find('.');
  const auto int_part = s.substr(0, dot);
  const auto frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  const auto digits = [](std::string_view d) {
    return !d.empty() && std::all_of(d.begin(), d.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
  };
  if (!digits(int_part) || (dot != std::string_view::npos && !digits(frac))) {
    return std::nullopt;
  }
  double v = 0;
  const auto res = std::from_chars(s.data(), s.data() + s.size(), v);
  if (res.ec != std::errc() || res.ptr != s.data() + s.size() ||
      !std::isfinite(v)) {
    return std::nullopt;
  }
  return v;
}

// Reads a price per hour: a decimal string ("0.0319") or a number, >= 0.
double read_price(const Node& n) {
  std::optional<double> v;
  if (n.j.is_string()) {
    v = parse_decimal(n.j.get_ref<const std::string&>());
  } else if (n.j.is_number()) {
    v = n.j.get<double>();
  } else {
    wrong_type(n, "a decimal string such as \"0.0319\"");
  }
  if (!v || !std::isfinite(*v) || *v < 0) {
    fail(n, "InvalidPrice",
         fmt::format("{} must be a non-negative decimal such as \"0.0319\"",
                     name_of(n)));
  }
  // -0 would be written "-0", which the decimal grammar refuses.
  return *v == 0 ? 0.0 : *v;
}

// Returns the text of a quantity given as a string or a JSON number.
std::string quantity_text(const Node& n) {
  if (n.j.is_string()) {
    return n.j.get<std::string>();
  }
  if (n.j.is_number_unsigned()) {
    return std::to_string(n.j.get<std::uint64_t>());
  }
  if (n.j.is_number_integer()) {
    return std::to_string(n.j.get<std::int64_t>());
  }
  if (n.j.is_number_float()) {
    return plain_decimal(read_number(n));
  }
  wrong_type(n, "a quantity string such as \"4\" or \"8Gi\"");
}

// RFC 3339 has four-digit years; a time that its offset pushes outside
// them (9999-12-31T23:59:59-01:00) could not be written back.
constexpr WallMs k_min_time = -62'167'219'200'000; // 0000-01-01T00:00:00Z
constexpr WallMs k_max_time = 253'402'300'799'999; // 9999-12-31T23:59:59.999Z

WallMs read_time(const Node& n) {
  const auto& text = read_string(n);
  WallMs t = 0;
  try {
    t = parse_rfc3339(text, n.path);
  } catch (const Error& e) {
    // parse_rfc3339 does not name the field in its message; every other
    // decoding error does.
    throw Error(e.code(), fmt::format("{}: {}", n.path, e.what()), e.field(),
                e.reason());
  }
  if (t < k_min_time || t > k_max_time) {
    fail(n, "InvalidTimestamp",
         fmt::format("{}: {} is outside the years 0000 to 9999 in UTC", n.path,
                     quote_input(text)));
  }
  return t;
}

std::map<std::string, std::string> read_string_map(const Node& n) {
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : read_object(n)) {
    out.emplace(key, read_string(Node{value, child_path(n.path, key)}));
  }
  return out;
}

std::vector<std::string> read_string_list(const Node& n) {
  std::vector<std::string> out;
  const auto& array = read_array(n);
  for (std::size_t i = 0; i < array.size(); ++i) {
    out.push_back(read_string(item(n, i, array[i])));
  }
  return out;
}

// The members of one JSON object being decoded.
class ObjectReader {
public:
  explicit ObjectReader(const Node& n)
      : path_(n.path), object_(read_object(n)) {}

  // Returns the member `key`, or nullopt when it is absent or null.
  std::optional<Node> get(std::string_view key) const {
    const auto it = object_.find(std::string(key));
    if (it == object_.end() || it->second.is_null()) {
      return std::nullopt;
    }
    return Node{it->second, child_path(path_, key)};
  }

  // Returns the member `key`; throws MissingField when absent or null.
  Node require(std::string_view key) const {
    if (auto n = get(key)) {
      return *n;
    }
    const auto path = child_path(path_, key);
    throw Error(Code::invalid_argument, fmt::format("{} is required", path),
                path, "MissingField");
  }

  // Throws UnknownField for the first member not in `known`; checked
  // before the members themselves, so that a misspelled key is reported
  // as such and not as the required key it fails to provide.
  void reject_unknown(std::initializer_list<std::string_view> known) const {
    for (const auto& [key, value] : object_) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        const auto path = child_path(path_, key);
        throw Error(Code::invalid_argument,
                    fmt::format("{} is not a known field here: use {}", path,
                                fmt::join(known, ", ")),
                    path, "UnknownField");
      }
    }
  }

  // Returns whether any of `keys` is present.
  bool has_any(std::span<const std::string_view> keys) const {
    return std::any_of(keys.begin(), keys.end(), [this](auto key) {
      return object_.count(std::string(key)) > 0;
    });
  }

private:
  std::string path_;
  const Json::object_t& object_;
};

// ---------------------------------------------------------------------
// Resources and prices.

ResourceList read_resources(const Node& n) {
  ResourceList list;
  for (const auto& [key, value] : read_object(n)) {
    const Node member{value, child_path(n.path, key)};
    const auto name = canonical_resource_name(key, member.path);
    if (list.has(name)) {
      fail(member, "DuplicateField",
           fmt::format("{} gives resource {} again, already given under "
                       "another name: give each resource once",
                       member.path, name));
    }
    list.set(name, parse_resource(name, quantity_text(member), member.path));
  }
  return list;
}

std::map<std::string, double> read_gpu_prices(const Node& n) {
  if (!n.j.is_object()) {
    return {{"default", read_price(n)}};
  }
  std::map<std::string, double> out;
  for (const auto& [model, value] : read_object(n)) {
    out.emplace(model, read_price(Node{value, child_path(n.path, model)}));
  }
  return out;
}

Prices read_prices(const Node& n) {
  const ObjectReader r(n);
  Prices p;
  if (auto m = r.get("currency")) {
    p.currency = read_string(*m);
  }
  if (auto m = r.get("cpuPerHour")) {
    p.cpu_per_hour = read_price(*m);
  }
  if (auto m = r.get("memoryGiBPerHour")) {
    p.memory_gib_per_hour = read_price(*m);
  }
  if (auto m = r.get("storageGiBPerHour")) {
    p.storage_gib_per_hour = read_price(*m);
  }
  if (auto m = r.get("gpuPerHour")) {
    p.gpu_per_hour = read_gpu_prices(*m);
  }
  return p;
}

Json encode_price(double v) {
  return plain_decimal(v);
}

// ---------------------------------------------------------------------
// Advertisements and clusters.

// The keys that mark `resources` as a summary rather than a flat list.
constexpr std::string_view k_summary_keys[] = {
    "capacity", "allocatable", "allocated", "available", "largestNodeAvailable",
    "reserved", "free"};

ResourceSummary read_summary(const Node& n) {
  const ObjectReader r(n);
  if (!r.has_any(k_summary_keys)) {
    const auto flat = read_resources(n);
    return ResourceSummary{flat, flat, {}, flat, {}};
  }
  ResourceSummary s;
  const auto list = [&r](std::string_view key) {
    auto m = r.get(key);
    return m ? read_resources(*m) : ResourceList{};
  };
  s.capacity = list("capacity");
  s.allocatable = list("allocatable");
  s.allocated = list("allocated");
  s.largest_node_available = list("largestNodeAvailable");
  s.available = r.get("available")
                    ? list("available")
                    : subtract_clamped(s.allocatable, s.allocated);
  return s;
}

std::map<std::string, std::int64_t> read_gpu_models(const Node& n) {
  std::map<std::string, std::int64_t> out;
  for (const auto& [model, value] : read_object(n)) {
    out.emplace(model, read_int(Node{value, child_path(n.path, model)}, 0,
                                k_int64_max));
  }
  return out;
}

std::map<std::string, ResourceList> read_consumed(const Node& n) {
  std::map<std::string, ResourceList> out;
  for (const auto& [id, value] : read_object(n)) {
    out.emplace(id, read_resources(Node{value, child_path(n.path, id)}));
  }
  return out;
}

// Reads the identity and placement members of an advertisement.
void read_identity(const ObjectReader& r, Advertisement& ad) {
  ad.cluster_id = read_label(r.require("clusterID"));
  if (auto m = r.get("clusterName")) {
    ad.cluster_name = read_string(*m);
  }
  if (auto m = r.get("generation")) {
    ad.generation = read_int(*m, 0, k_int64_max);
  }
  if (auto m = r.get("timestamp")) {
    ad.timestamp = read_time(*m);
  }
  if (auto m = r.get("endpoint")) {
    ad.endpoint = read_string(*m);
  }
  if (auto m = r.get("region")) {
    ad.region = read_string(*m);
  }
  if (auto m = r.get("labels")) {
    ad.labels = read_string_map(*m);
  }
}

Advertisement read_advertisement(const ObjectReader& r) {
  Advertisement ad;
  read_identity(r, ad);
  if (auto m = r.get("resources")) {
    ad.resources = read_summary(*m);
  }
  if (auto m = r.get("gpuModels")) {
    ad.gpu_models = read_gpu_models(*m);
  }
  if (auto m = r.get("prices")) {
    ad.prices = read_prices(*m);
  }
  if (auto m = r.get("consumed")) {
    ad.consumed = read_consumed(*m);
  }
  return ad;
}

Json encode_summary(const ResourceSummary& s) {
  return Json{
      {"capacity", encode_resources(s.capacity)},
      {"allocatable", encode_resources(s.allocatable)},
      {"allocated", encode_resources(s.allocated)},
      {"available", encode_resources(s.available)},
      {"largestNodeAvailable", encode_resources(s.largest_node_available)}};
}

Json encode_consumed(const std::map<std::string, ResourceList>& consumed) {
  Json out = Json::object();
  for (const auto& [id, list] : consumed) {
    out[id] = encode_resources(list);
  }
  return out;
}

// ---------------------------------------------------------------------
// Requests.

// Reads requestedResources: cpu and memory are required and positive.
ResourceList read_requested(const Node& n) {
  auto list = read_resources(n);
  for (const auto* name : {"cpu", "memory"}) {
    const auto path = child_path(n.path, name);
    if (!list.has(name)) {
      throw Error(Code::invalid_argument,
                  fmt::format("{} is required: every request asks for cpu "
                              "and memory",
                              path),
                  path, "MissingField");
    }
    if (list.get(name) <= 0) {
      throw Error(Code::invalid_argument,
                  fmt::format("{} must be greater than zero", path), path,
                  "InvalidQuantity");
    }
  }
  return list;
}

Constraints read_constraints(const Node& n, bool strict) {
  const ObjectReader r(n);
  if (strict) {
    r.reject_unknown({"gpuModel", "regions", "labels", "maxPricePerHour"});
  }
  Constraints c;
  if (auto m = r.get("gpuModel")) {
    c.gpu_model = read_string(*m);
  }
  if (auto m = r.get("regions")) {
    c.regions = read_string_list(*m);
  }
  if (auto m = r.get("labels")) {
    c.labels = read_string_map(*m);
  }
  if (auto m = r.get("maxPricePerHour")) {
    c.max_price_per_hour = read_price(*m);
  }
  return c;
}

PolicySpec read_policy(const Node& n, bool strict) {
  const ObjectReader r(n);
  if (strict) {
    r.reject_unknown({"name", "resourceWeight", "costWeight", "seed"});
  }
  PolicySpec p;
  if (auto m = r.get("name")) {
    p.name = read_string(*m);
  }
  if (auto m = r.get("resourceWeight")) {
    p.resource_weight = read_number(*m);
  }
  if (auto m = r.get("costWeight")) {
    p.cost_weight = read_number(*m);
  }
  if (auto m = r.get("seed")) {
    p.seed = read_uint64(*m);
  }
  return p;
}

std::int64_t read_duration(const Node& n) {
  if (!n.j.is_string()) {
    wrong_type(n, "a Go duration string such as \"1h30m\"");
  }
  return parse_duration_ms(n.j.get_ref<const std::string&>(), n.path);
}

// Reads the request members other than the target, which a reservation
// keeps under another key.
void read_request_body(const ObjectReader& r, ReservationRequest& req,
                       bool strict) {
  req.requester_id = read_label(r.require("requesterID"));
  req.requested = read_requested(r.require("requestedResources"));
  if (auto m = r.get("duration")) {
    req.duration_ms = read_duration(*m);
  }
  if (auto m = r.get("priority")) {
    req.priority =
        static_cast<std::int32_t>(read_int(*m, k_int32_min, k_int32_max));
  }
  if (auto m = r.get("constraints")) {
    req.constraints = read_constraints(*m, strict);
  }
  if (auto m = r.get("policy")) {
    req.policy = read_policy(*m, strict);
  }
}

// Reads an optional cluster id where "" means unset.
std::string read_optional_label(const ObjectReader& r, std::string_view key) {
  auto m = r.get(key);
  if (!m || (m->j.is_string() && m->j.get_ref<const std::string&>().empty())) {
    return {};
  }
  return read_label(*m);
}

Json encode_constraints(const Constraints& c) {
  Json out = Json::object();
  if (!c.gpu_model.empty()) {
    out["gpuModel"] = c.gpu_model;
  }
  if (!c.regions.empty()) {
    out["regions"] = c.regions;
  }
  if (!c.labels.empty()) {
    out["labels"] = c.labels;
  }
  if (c.max_price_per_hour) {
    out["maxPricePerHour"] = encode_price(*c.max_price_per_hour);
  }
  return out;
}

Json encode_policy(const PolicySpec& p) {
  Json out = Json::object();
  if (!p.name.empty()) {
    out["name"] = p.name;
  }
  if (p.resource_weight) {
    out["resourceWeight"] = *p.resource_weight;
  }
  if (p.cost_weight) {
    out["costWeight"] = *p.cost_weight;
  }
  if (p.seed) {
    out["seed"] = *p.seed;
  }
  return out;
}

// Writes the request members other than the target into `out`.
void encode_request_body(const ReservationRequest& req, Json& out) {
  out["requesterID"] = req.requester_id;
  out["requestedResources"] = encode_resources(req.requested);
  if (req.duration_ms) {
    out["duration"] = format_duration(*req.duration_ms);
  }
  out["priority"] = req.priority;
  if (auto c = encode_constraints(req.constraints); !c.empty()) {
    out["constraints"] = std::move(c);
  }
  if (auto p = encode_policy(req.policy); !p.empty()) {
    out["policy"] = std::move(p);
  }
}

// ---------------------------------------------------------------------
// Decisions and reservations.

DecisionRow read_row(const Node& n) {
  const ObjectReader r(n);
  DecisionRow row;
  row.cluster_id = read_string(r.require("clusterID"));
  if (auto m = r.get("candidate")) {
    row.candidate = read_bool(*m);
  }
  if (auto m = r.get("resourceScore")) {
    row.resource_score = read_number(*m);
  }
  if (auto m = r.get("costScore")) {
    row.cost_score = read_number(*m);
  }
  if (auto m = r.get("pricePerHour")) {
    row.price_per_hour = read_price(*m);
  }
  if (auto m = r.get("score")) {
    row.score = read_number(*m);
  }
  if (auto m = r.get("rank")) {
    row.rank = static_cast<int>(read_int(*m, 0, k_int32_max));
  }
  if (auto m = r.get("reason")) {
    row.reason = read_string(*m);
  }
  return row;
}

Json encode_row(const DecisionRow& row) {
  Json out{{"clusterID", row.cluster_id},
           {"candidate", row.candidate},
           {"resourceScore", row.resource_score},
           {"costScore", row.cost_score},
           {"score", row.score},
           {"rank", row.rank},
           {"reason", row.reason}};
  if (row.price_per_hour) {
    out["pricePerHour"] = *row.price_per_hour;
  }
  return out;
}

Decision read_decision(const Node& n) {
  const ObjectReader r(n);
  Decision d;
  if (auto m = r.get("policy")) {
    d.policy = read_string(*m);
  }
  if (auto m = r.get("resourceWeight")) {
    d.resource_weight = read_number(*m);
  }
  if (auto m = r.get("costWeight")) {
    d.cost_weight = read_number(*m);
  }
  if (auto m = r.get("seed")) {
    d.seed = read_uint64(*m);
  }
  if (auto m = r.get("chosen")) {
    d.chosen = read_string(*m);
  }
  if (auto m = r.get("clusters")) {
    d.clusters = static_cast<int>(read_int(*m, 0, k_int32_max));
  }
  if (auto m = r.get("candidates")) {
    d.candidates = static_cast<int>(read_int(*m, 0, k_int32_max));
  }
  if (auto m = r.get("rows")) {
    const auto& rows = read_array(*m);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      d.rows.push_back(read_row(item(*m, i, rows[i])));
    }
  }
  return d;
}

// The optional instants of a status, by wire key.
constexpr std::pair<std::string_view,
                    std::optional<WallMs> ReservationStatus::*>
    k_status_times[] = {
        {"reservedAt", &ReservationStatus::reserved_at},
        {"activatedAt", &ReservationStatus::activated_at},
        {"activationDeadline", &ReservationStatus::activation_deadline},
        {"expiresAt", &ReservationStatus::expires_at},
        {"endedAt", &ReservationStatus::ended_at},
};

ReservationStatus read_status(const Node& n) {
  const ObjectReader r(n);
  ReservationStatus s;
  const auto phase = r.require("phase");
  s.phase = parse_phase(read_string(phase), phase.path);
  if (auto m = r.get("reason")) {
    s.reason = read_string(*m);
  }
  if (auto m = r.get("message")) {
    s.message = read_string(*m);
  }
  for (const auto& [key, member] : k_status_times) {
    if (auto m = r.get(key)) {
      s.*member = read_time(*m);
    }
  }
  return s;
}

Json encode_status(const ReservationStatus& s) {
  Json out{{"phase", phase_name(s.phase)},
           {"reason", s.reason},
           {"message", s.message}};
  for (const auto& [key, member] : k_status_times) {
    if (s.*member) {
      out[std::string(key)] = format_rfc3339(*(s.*member));
    }
  }
  return out;
}

// Reads the reservation members around the request.
void read_reservation_meta(const ObjectReader& r, Reservation& res) {
  res.id = read_string(r.require("id"));
  if (res.id.empty()) {
    fail(r.require("id"), "InvalidID", "id must not be empty");
  }
  res.target_cluster_id = read_optional_label(r, "targetClusterID");
  if (auto m = r.get("targetClusterEndpoint")) {
    res.target_endpoint = read_string(*m);
  }
  if (auto m = r.get("grantedResources")) {
    res.granted = read_resources(*m);
  }
  if (auto m = r.get("createdAt")) {
    res.created_at = read_time(*m);
  }
  if (auto m = r.get("version")) {
    res.version = read_int(*m, 0, k_int64_max);
  }
  if (auto m = r.get("idempotencyKey")) {
    res.idempotency_key = read_string(*m);
  }
}

} // namespace

// ---------------------------------------------------------------------
// The public codecs.

Json parse_json(std::string_view text, const JsonLimits& limits) {
  if (const auto bad = invalid_utf8_at(text); bad != std::string_view::npos) {
    malformed(bad, "invalid UTF-8: send the body as UTF-8 text");
  }
  check_limits(text, limits);
  Json root;
  TreeBuilder builder(root);
  Json::sax_parse(text, &builder);
  return root;
}

Json encode_resources(const ResourceList& list) {
  Json out = Json::object();
  list.for_each([&out](std::string_view name, std::int64_t value) {
    out[std::string(name)] = format_resource(name, value);
  });
  return out;
}

ResourceList decode_resources(const Json& j, std::string_view field) {
  return read_resources(Node{j, std::string(field)});
}

Json encode_prices(const Prices& prices) {
  Json gpu = Json::object();
  for (const auto& [model, price] : prices.gpu_per_hour) {
    gpu[model] = encode_price(price);
  }
  return Json{{"currency", prices.currency},
              {"cpuPerHour", encode_price(prices.cpu_per_hour)},
              {"memoryGiBPerHour", encode_price(prices.memory_gib_per_hour)},
              {"storageGiBPerHour", encode_price(prices.storage_gib_per_hour)},
              {"gpuPerHour", std::move(gpu)}};
}

Prices decode_prices(const Json& j, std::string_view field) {
  return read_prices(Node{j, std::string(field)});
}

Json encode_advertisement(const Advertisement& ad) {
  Json out{{"clusterID", ad.cluster_id},
           {"clusterName", ad.cluster_name},
           {"generation", ad.generation},
           {"endpoint", ad.endpoint},
           {"region", ad.region},
           {"labels", ad.labels},
           {"resources", encode_summary(ad.resources)},
           {"gpuModels", ad.gpu_models},
           {"consumed", encode_consumed(ad.consumed)}};
  // 0 is "not sent" (the prototype's agents omit it).
  if (ad.timestamp != 0) {
    out["timestamp"] = format_rfc3339(ad.timestamp);
  }
  if (ad.prices) {
    out["prices"] = encode_prices(*ad.prices);
  }
  return out;
}

Advertisement decode_advertisement(const Json& j) {
  return read_advertisement(ObjectReader(Node{j, ""}));
}

Json encode_cluster(const Cluster& cluster) {
  Json out = encode_advertisement(cluster.ad);
  out["resources"]["reserved"] = encode_resources(cluster.reserved);
  out["resources"]["free"] = encode_resources(cluster.free);
  out["state"] = cluster_state_name(cluster.state);
  out["cordoned"] = cluster.cordoned;
  out["lastSeen"] = format_rfc3339(cluster.last_seen);
  out["version"] = cluster.version;
  return out;
}

Cluster decode_cluster(const Json& j) {
  const ObjectReader r(Node{j, ""});
  Cluster c;
  c.ad = read_advertisement(r);
  if (auto res = r.get("resources"); res && res->j.is_object()) {
    const ObjectReader rr(*res);
    if (auto m = rr.get("reserved")) {
      c.reserved = read_resources(*m);
    }
    if (auto m = rr.get("free")) {
      c.free = read_resources(*m);
    }
  }
  if (auto m = r.get("state")) {
    c.state = parse_cluster_state(read_string(*m), m->path);
  }
  if (auto m = r.get("cordoned")) {
    c.cordoned = read_bool(*m);
  }
  if (auto m = r.get("lastSeen")) {
    c.last_seen = read_time(*m);
  }
  if (auto m = r.get("version")) {
    c.version = read_int(*m, 0, k_int64_max);
  }
  return c;
}

Json encode_request(const ReservationRequest& request) {
  Json out = Json::object();
  encode_request_body(request, out);
  if (!request.target_cluster_id.empty()) {
    out["targetClusterID"] = request.target_cluster_id;
  }
  return out;
}

ReservationRequest decode_request(const Json& j) {
  const ObjectReader r(Node{j, ""});
  r.reject_unknown({"requesterID", "requestedResources", "targetClusterID",
                    "duration", "priority", "constraints", "policy"});
  ReservationRequest req;
  read_request_body(r, req, true);
  req.target_cluster_id = read_optional_label(r, "targetClusterID");
  return req;
}

Json encode_decision(const Decision& decision) {
  Json rows = Json::array();
  for (const auto& row : decision.rows) {
    rows.push_back(encode_row(row));
  }
  Json out{{"policy", decision.policy},
           {"resourceWeight", decision.resource_weight},
           {"costWeight", decision.cost_weight},
           {"chosen", decision.chosen},
           {"clusters", decision.clusters},
           {"candidates", decision.candidates},
           {"rows", std::move(rows)}};
  if (decision.seed) {
    out["seed"] = *decision.seed;
  }
  return out;
}

Decision decode_decision(const Json& j, std::string_view field) {
  return read_decision(Node{j, std::string(field)});
}

Json encode_reservation(const Reservation& reservation) {
  Json out = Json::object();
  encode_request_body(reservation.request, out);
  // The top-level targetClusterID is where the reservation went; the
  // cluster the requester pinned, if any, keeps its own key.
  if (!reservation.request.target_cluster_id.empty()) {
    out["requestedTargetClusterID"] = reservation.request.target_cluster_id;
  }
  out["id"] = reservation.id;
  out["targetClusterID"] = reservation.target_cluster_id;
  out["targetClusterEndpoint"] = reservation.target_endpoint;
  out["grantedResources"] = encode_resources(reservation.granted);
  out["status"] = encode_status(reservation.status);
  out["decision"] = encode_decision(reservation.decision);
  out["createdAt"] = format_rfc3339(reservation.created_at);
  out["version"] = reservation.version;
  if (!reservation.idempotency_key.empty()) {
    out["idempotencyKey"] = reservation.idempotency_key;
  }
  return out;
}

Reservation decode_reservation(const Json& j) {
  const ObjectReader r(Node{j, ""});
  Reservation res;
  read_request_body(r, res.request, false);
  res.request.target_cluster_id =
      read_optional_label(r, "requestedTargetClusterID");
  read_reservation_meta(r, res);
  res.status = read_status(r.require("status"));
  if (auto m = r.get("decision")) {
    res.decision = read_decision(*m);
  }
  return res;
}

Json encode_error(const Error& error) {
  Json body{{"code", valid_utf8(error.reason())},
            {"message", valid_utf8(error.what())}};
  if (!error.field().empty()) {
    body["field"] = valid_utf8(error.field());
  }
  return Json{{"error", std::move(body)}};
}

} // namespace lrb::core
