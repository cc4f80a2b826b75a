// The scoring core runs on every reservation the broker creates, over
// every cluster of the fleet, while the HTTP thread that asked waits. A
// Cluster is a large struct of which the filters need a few cache lines,
// so the core reads the fleet once and allocates per decision, never per
// cluster: one loop runs the filters as plain comparisons, cheapest
// first (a filter answers with an enum, not a string), and keeps a small
// record per candidate; a second loop over those records scores them.
// Only the rows a caller asks for are then ordered (one scan for the
// outcome alone, a bounded heap for the summary) and only their reasons
// are written out, by running the same filters again, in their
// documented order, for that one cluster.
//
// Choices DESIGN.md section 6 leaves open, fixed here:
// - K, the resources scored, is cpu and memory always, plus every other
//   requested resource with an amount above zero. A term whose
//   allocatable is zero or absent counts as 0: no headroom can be
//   measured against nothing.
// - A request naming `targetClusterID` may only go there: every other
//   cluster is excluded with "not the requested target", so `explain`
//   shows what `reserve` would do.
// - The GPU model filter compares the model's advertised count (from
//   allocatable) with the GPUs asked, while free GPUs are counted per
//   cluster, not per model. A cluster with free GPUs of one model and
//   busy GPUs of another can pass for the busy model; agents do not yet
//   report free GPUs per model, so this is the best the data allows.
// - The price of a cluster uses the constrained GPU model, else the
//   cluster's model when it advertises exactly one, else "default".
// - binpack scores the fullness 1 - R instead of R; every row carries the
//   resource term its policy used, so S = 100 (w_r * resource + w_c *
//   cost) holds for every row of every policy.
// - random ranks by the weighted score but chooses the candidate at
//   position splitmix64(seed) mod n in cluster id order (seed 0 when the
//   request gives none; the decision records the seed it used). The
//   modulo bias is at most n / 2^64.
// - Ties: the higher S wins; equal S goes to the lower price (no price
//   counts as +inf), then to the smaller cluster id. S, R, C and P are
//   computed by the same expressions for every cluster, so exact double
//   comparisons are stable and independent of the input order.
#include "core/scoring.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.h"
#include "core/log.h"
#include "core/scoring_detail.h"

namespace lrb::core {

namespace {

constexpr std::string_view k_policies[] = {"weighted", "resource", "cost",
                                           "random", "binpack"};
constexpr std::string_view k_slot_names[] = {"cpu", "memory", "gpu", "storage",
                                             "pods"};
// The fixed slots scored when asked; cpu and memory always are.
constexpr Slot k_optional_slots[] = {Slot::gpu, Slot::storage, Slot::pods};
constexpr double k_weight_tolerance = 1e-9;
constexpr double k_no_price = std::numeric_limits<double>::infinity();

// The filters in their documented order; the first that fails is the
// reason a cluster is left out.
enum class Filter {
  none,
  requester,
  target,
  state,
  cordoned,
  shortfall,
  gpu_model,
  region,
  label,
  no_price,
  price,
};

std::uint64_t load_big_endian(const char* bytes) {
  std::uint64_t word = 0;
  std::memcpy(&word, bytes, sizeof(word));
  if constexpr (std::endian::native == std::endian::little) {
    word = __builtin_bswap64(word);
  }
  return word;
}

// An id every cluster is compared with (the requester's, the target's).
// Fleet ids often share their length and their first bytes ("gke-prod-
// eu-7"), so the size and the last eight bytes settle most comparisons
// without a call to memcmp; ids of 8 to 16 bytes need nothing more.
class IdProbe {
public:
  explicit IdProbe(const std::string& id) : id_(id) {
    if (id.size() >= 8) {
      first_ = load_big_endian(id.data());
      last_ = load_big_endian(id.data() + id.size() - 8);
    }
  }

  bool matches(const std::string& other) const {
    if (other.size() != id_.size()) {
      return false;
    }
    if (id_.size() >= 8) {
      if (load_big_endian(other.data() + other.size() - 8) != last_ ||
          load_big_endian(other.data()) != first_) {
        return false;
      }
      if (id_.size() <= 16) {
        return true;
      }
    }
    return other == id_;
  }

private:
  const std::string& id_;
  std::uint64_t first_ = 0;
  std::uint64_t last_ = 0;
};

// The request digested once per decision, so that the loop over clusters
// reads fixed slots and precomputed amounts only.
struct Need {
  explicit Need(const ReservationRequest& r)
      : request(r), requester(r.requester_id), target(r.target_cluster_id) {}

  const ReservationRequest& request;
  IdProbe requester;
  IdProbe target;
  std::int64_t cpu = 0;
  std::int64_t memory = 0;
  // K beyond cpu and memory: fixed slots, then extended resources.
  std::array<Slot, std::size(k_optional_slots)> slots{};
  std::array<std::int64_t, std::size(k_optional_slots)> amounts{};
  int slot_count = 0;
  std::vector<std::pair<std::string_view, std::int64_t>> extended;
  bool more = false;           // whether K has more than cpu and memory
  std::int64_t model_gpus = 0; // GPUs the model constraint asks for
  bool gpus_asked = false;
  detail::PriceTerms price_terms;
  bool constrained = false; // a GPU model, region or label constraint
  double term_weight = 0;   // 1 / |K|, so each mean is a multiplication
};

// One candidate's terms; `resource` is the term its policy scores.
struct Scored {
  double resource = 0;
  double price = k_no_price;
  double cost = 0;
  double score = 0;
  std::uint32_t index = 0;
};

// A cluster keyed for ordering by id without chasing pointers: the
// first sixteen bytes of the id, big-endian and zero padded, order as
// the ids do wherever they differ; equal keys fall back to the ids.
// `slot` is the cluster's position among the candidates when it is one.
struct IdKey {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  std::uint32_t index = 0;
  std::uint32_t slot = 0;
};

bool is_slot_name(std::string_view name) {
  return std::find(std::begin(k_slot_names), std::end(k_slot_names), name) !=
         std::end(k_slot_names);
}

Need digest(const ReservationRequest& request) {
  Need need(request);
  const ResourceList& asked = request.requested;
  need.cpu = asked.get(Slot::cpu);
  need.memory = asked.get(Slot::memory);
  for (const Slot slot : k_optional_slots) {
    if (asked.get(slot) > 0) {
      need.slots[need.slot_count] = slot;
      need.amounts[need.slot_count] = asked.get(slot);
      ++need.slot_count;
    }
  }
  asked.for_each([&](std::string_view name, std::int64_t value) {
    if (value > 0 && !is_slot_name(name)) {
      need.extended.emplace_back(name, value);
    }
  });
  need.model_gpus = std::max<std::int64_t>(1, asked.get(Slot::gpu));
  need.gpus_asked = asked.get(Slot::gpu) > 0;
  need.price_terms = detail::price_terms(asked);
  const Constraints& constraints = request.constraints;
  need.constrained = !constraints.gpu_model.empty() ||
                     !constraints.regions.empty() ||
                     !constraints.labels.empty();
  need.more = need.slot_count > 0 || !need.extended.empty();
  need.term_weight = 1.0 / static_cast<double>(2 + need.slot_count +
                                               std::ssize(need.extended));
  return need;
}

bool fits_more(const Need& need, const ResourceList& free) {
  for (int i = 0; i < need.slot_count; ++i) {
    if (free.get(need.slots[i]) < need.amounts[i]) {
      return false;
    }
  }
  for (const auto& [name, amount] : need.extended) {
    if (free.get(name) < amount) {
      return false;
    }
  }
  return true;
}

// Returns whether `free` covers every resource in K; cpu and memory are
// read directly, as they are all most requests ask for.
[[gnu::always_inline]] inline bool fits(const Need& need,
                                        const ResourceList& free) {
  return free.get(Slot::cpu) >= need.cpu &&
         free.get(Slot::memory) >= need.memory &&
         (!need.more || fits_more(need, free));
}

std::int64_t model_count(const Cluster& cluster, const std::string& model) {
  const auto it = cluster.ad.gpu_models.find(model);
  return it == cluster.ad.gpu_models.end() ? 0 : it->second;
}

bool region_allowed(const Constraints& constraints, const Cluster& cluster) {
  const auto& regions = constraints.regions;
  return regions.empty() || std::find(regions.begin(), regions.end(),
                                      cluster.ad.region) != regions.end();
}

// Returns the first constrained label the cluster does not carry, or
// end() when all match.
auto unmatched_label(const Constraints& constraints, const Cluster& cluster) {
  return std::find_if(constraints.labels.begin(), constraints.labels.end(),
                      [&](const auto& label) {
                        const auto it = cluster.ad.labels.find(label.first);
                        return it == cluster.ad.labels.end() ||
                               it->second != label.second;
                      });
}

// Returns the cluster's price per hour for the request, or k_no_price.
[[gnu::always_inline]] inline double cluster_price(const Need& need,
                                                   const Cluster& cluster) {
  if (!cluster.ad.prices) {
    return k_no_price;
  }
  // Without GPUs asked the model does not change the price.
  static const std::string k_default_model;
  const std::string* model = &need.request.constraints.gpu_model;
  if (!need.gpus_asked) {
    model = &k_default_model;
  } else if (model->empty()) {
    const auto& models = cluster.ad.gpu_models;
    model = models.size() == 1 ? &models.begin()->first : &k_default_model;
  }
  return detail::price_of(need.price_terms, *cluster.ad.prices, *model)
      .value_or(k_no_price);
}

// Not Ready comes before cordoned, so a stale cordoned cluster reads
// "state Stale": being unheard from is the more urgent news.
Filter state_filter(const Cluster& cluster) {
  if (cluster.state != ClusterState::ready &&
      cluster.state != ClusterState::cordoned) {
    return Filter::state;
  }
  if (cluster.state == ClusterState::cordoned || cluster.cordoned) {
    return Filter::cordoned;
  }
  return Filter::none;
}

Filter constraint_filter(const Need& need, const Cluster& cluster) {
  const Constraints& constraints = need.request.constraints;
  if (!constraints.gpu_model.empty() &&
      model_count(cluster, constraints.gpu_model) < need.model_gpus) {
    return Filter::gpu_model;
  }
  if (!region_allowed(constraints, cluster)) {
    return Filter::region;
  }
  if (unmatched_label(constraints, cluster) != constraints.labels.end()) {
    return Filter::label;
  }
  return Filter::none;
}

Filter identity_filter(const Need& need, const Cluster& cluster) {
  const std::string& id = cluster.ad.cluster_id;
  if (need.requester.matches(id)) {
    return Filter::requester;
  }
  if (!need.request.target_cluster_id.empty() && !need.target.matches(id)) {
    return Filter::target;
  }
  return Filter::none;
}

// Sets `price` and checks it against the maximum, if any.
[[gnu::always_inline]] inline Filter
price_filter(const Need& need, const Cluster& cluster, double& price) {
  price = cluster_price(need, cluster);
  const auto& max_price = need.request.constraints.max_price_per_hour;
  if (!max_price) {
    return Filter::none;
  }
  if (price == k_no_price) {
    return Filter::no_price;
  }
  return price > *max_price ? Filter::price : Filter::none;
}

// Runs the filters in their documented order and returns the first that
// fails; this order decides every reason shown.
Filter first_failure(const Need& need, const Cluster& cluster, double& price) {
  if (const Filter f = identity_filter(need, cluster); f != Filter::none) {
    return f;
  }
  if (const Filter f = state_filter(cluster); f != Filter::none) {
    return f;
  }
  if (!fits(need, cluster.free)) {
    return Filter::shortfall;
  }
  if (const Filter f = constraint_filter(need, cluster); f != Filter::none) {
    return f;
  }
  return price_filter(need, cluster, price);
}

// Returns whether the cluster passes every filter, as first_failure
// would, but runs the same filters cheapest first: the state and the free
// amounts share the struct's last cache lines, so most exclusions never
// touch the rest. Inlined: it is the body of the loop over the fleet.
[[gnu::always_inline]] inline bool
passes(const Need& need, const Cluster& cluster, double& price) {
  if (state_filter(cluster) != Filter::none || !fits(need, cluster.free) ||
      identity_filter(need, cluster) != Filter::none) {
    return false;
  }
  if (need.constrained && constraint_filter(need, cluster) != Filter::none) {
    return false;
  }
  return price_filter(need, cluster, price) == Filter::none;
}

void describe_shortfall(std::string& out, std::string_view name,
                        std::int64_t free, std::int64_t amount) {
  if (free >= amount) {
    return;
  }
  if (!out.empty()) {
    out += "; ";
  }
  out +=
      fmt::format("insufficient {}: free {}, need {}", name,
                  format_resource(name, free), format_resource(name, amount));
}

std::string shortfall_reason(const Need& need, const ResourceList& free) {
  std::string out;
  describe_shortfall(out, "cpu", free.get(Slot::cpu), need.cpu);
  describe_shortfall(out, "memory", free.get(Slot::memory), need.memory);
  for (int i = 0; i < need.slot_count; ++i) {
    const auto name = k_slot_names[static_cast<int>(need.slots[i])];
    describe_shortfall(out, name, free.get(need.slots[i]), need.amounts[i]);
  }
  for (const auto& [name, amount] : need.extended) {
    describe_shortfall(out, name, free.get(name), amount);
  }
  return out;
}

std::string gpu_model_reason(const Need& need, const Cluster& cluster) {
  const std::string& model = need.request.constraints.gpu_model;
  const std::int64_t count = model_count(cluster, model);
  if (count <= 0) {
    return fmt::format("no GPU model {}", model);
  }
  return fmt::format("only {} GPUs of model {}, need {}", count, model,
                     need.model_gpus);
}

// Formats a price and its maximum with the fewest decimals, from two to
// six, that tell them apart ("3.10/h above max 2.50/h").
std::string price_reason(double price, double max_price) {
  int decimals = 2;
  while (decimals < 6 && fmt::format("{:.{}f}", price, decimals) ==
                             fmt::format("{:.{}f}", max_price, decimals)) {
    ++decimals;
  }
  return fmt::format("price {:.{}f}/h above max {:.{}f}/h", price, decimals,
                     max_price, decimals);
}

std::string region_reason(const Need& need, const Cluster& cluster) {
  const auto& region = cluster.ad.region;
  return fmt::format("region {} not in [{}]",
                     region.empty() ? "(unset)" : region,
                     fmt::join(need.request.constraints.regions, ", "));
}

std::string label_reason(const Need& need, const Cluster& cluster) {
  const auto& label = *unmatched_label(need.request.constraints, cluster);
  return fmt::format("label {}={} not matched", label.first, label.second);
}

// Writes the reason for a filter that failed; `price` is what
// first_failure computed.
std::string describe(Filter filter, const Need& need, const Cluster& cluster,
                     double price) {
  switch (filter) {
  case Filter::none:
    return {};
  case Filter::requester:
    return "is the requester";
  case Filter::target:
    return fmt::format("not the requested target {}",
                       need.request.target_cluster_id);
  case Filter::state:
    return fmt::format("state {}", cluster_state_name(cluster.state));
  case Filter::cordoned:
    return "cordoned";
  case Filter::shortfall:
    return shortfall_reason(need, cluster.free);
  case Filter::gpu_model:
    return gpu_model_reason(need, cluster);
  case Filter::region:
    return region_reason(need, cluster);
  case Filter::label:
    return label_reason(need, cluster);
  case Filter::no_price:
    return "no price";
  case Filter::price:
    return price_reason(price, *need.request.constraints.max_price_per_hour);
  }
  return {};
}

// Returns (free - need) / allocatable in [0, 1]; 0 when nothing is
// allocatable.
double headroom_term(std::int64_t free, std::int64_t amount,
                     std::int64_t allocatable) {
  if (allocatable <= 0) {
    return 0;
  }
  const double term =
      static_cast<double>(free - amount) / static_cast<double>(allocatable);
  return std::clamp(term, 0.0, 1.0);
}

// Returns R, the mean headroom over K that the request leaves.
[[gnu::always_inline]] inline double headroom(const Need& need,
                                              const Cluster& cluster) {
  const ResourceList& allocatable = cluster.ad.resources.allocatable;
  const ResourceList& free = cluster.free;
  double sum =
      headroom_term(free.get(Slot::cpu), need.cpu, allocatable.get(Slot::cpu)) +
      headroom_term(free.get(Slot::memory), need.memory,
                    allocatable.get(Slot::memory));
  if (!need.more) {
    return sum * need.term_weight;
  }
  for (int i = 0; i < need.slot_count; ++i) {
    const Slot slot = need.slots[i];
    sum +=
        headroom_term(free.get(slot), need.amounts[i], allocatable.get(slot));
  }
  for (const auto& [name, amount] : need.extended) {
    sum += headroom_term(free.get(name), amount, allocatable.get(name));
  }
  return sum * need.term_weight;
}

// Returns the eight bytes of `id` from `offset` as a big-endian integer,
// zero padded past the end. Ids of eight bytes or more are read a word
// at a time: keys are built for every excluded cluster.
std::uint64_t id_word(const std::string& id, std::size_t offset) {
  const std::size_t left = id.size() > offset ? id.size() - offset : 0;
  if (left >= 8) {
    return load_big_endian(id.data() + offset);
  }
  if (left == 0) {
    return 0;
  }
  if (id.size() >= 8) {
    return load_big_endian(id.data() + id.size() - 8) << (8 * (8 - left));
  }
  std::uint64_t word = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    const std::size_t at = offset + i;
    word = (word << 8) |
           (at < id.size() ? static_cast<unsigned char>(id[at]) : 0U);
  }
  return word;
}

IdKey id_key(const std::string& id, std::uint32_t index,
             std::uint32_t slot = 0) {
  return {id_word(id, 0), id_word(id, 8), index, slot};
}

// The two passes' results over one snapshot.
struct Pass {
  std::vector<Scored> candidates;
  std::vector<IdKey> excluded; // filled only when rows are wanted
};

Pass filter_all(const Need& need, std::span<const Cluster> clusters,
                bool keep_excluded) {
  Pass pass;
  pass.candidates.reserve(clusters.size());
  if (keep_excluded) {
    pass.excluded.reserve(clusters.size());
  }
  for (std::uint32_t i = 0; i < clusters.size(); ++i) {
    double price = k_no_price;
    if (!passes(need, clusters[i], price)) {
      if (keep_excluded) {
        pass.excluded.push_back(id_key(clusters[i].ad.cluster_id, i));
      }
      continue;
    }
    const double resource = headroom(need, clusters[i]);
    pass.candidates.push_back({resource, price, 0, 0, i});
  }
  return pass;
}

// Fills each candidate's cost term and score; binpack scores fullness.
void score_all(std::vector<Scored>& candidates, const Decision& decision) {
  double min_price = k_no_price;
  for (const Scored& s : candidates) {
    min_price = std::min(min_price, s.price);
  }
  const bool binpack = decision.policy == "binpack";
  for (Scored& s : candidates) {
    if (binpack) {
      s.resource = 1.0 - s.resource;
    }
    if (s.price == k_no_price) {
      s.cost = 0;
    } else {
      s.cost = s.price == 0 ? 1.0 : std::clamp(min_price / s.price, 0.0, 1.0);
    }
    s.score = 100.0 * (decision.resource_weight * s.resource +
                       decision.cost_weight * s.cost);
  }
}

// Returns whether cluster `a`'s id sorts before `b`'s; kept out of line
// because ranking reaches it only on exact ties.
[[gnu::noinline]] bool id_less(const Cluster& a, const Cluster& b) {
  return a.ad.cluster_id < b.ad.cluster_id;
}

// Orders candidates best first: higher score, lower price, smaller id.
struct Ranker {
  std::span<const Cluster> clusters;
  bool operator()(const Scored& a, const Scored& b) const {
    if (a.score != b.score) {
      return a.score > b.score;
    }
    if (a.price != b.price) {
      return a.price < b.price;
    }
    return id_less(clusters[a.index], clusters[b.index]);
  }
};

// Returns the best candidate of [first, last), which is not empty. Unlike
// std::min_element it keeps the best score in a register, so the loop
// over thousands of candidates is one predictable compare each.
std::vector<Scored>::iterator best_of(std::vector<Scored>::iterator first,
                                      std::vector<Scored>::iterator last,
                                      const Ranker& ranker) {
  auto best = first;
  double best_score = first->score;
  for (auto it = first + 1; it != last; ++it) {
    if (it->score >= best_score && ranker(*it, *best)) {
      best = it;
      best_score = it->score;
    }
  }
  return best;
}

// Moves the best `middle - first` candidates of [first, last) to the
// front, best first: std::partial_sort, but with the worst kept score in
// a register so that most candidates cost one compare.
void best_first(std::vector<Scored>::iterator first,
                std::vector<Scored>::iterator middle,
                std::vector<Scored>::iterator last, const Ranker& ranker) {
  // A heap ordered by the ranker keeps the worst of the best at its top.
  std::make_heap(first, middle, ranker);
  double worst_score = first->score;
  for (auto it = middle; it != last; ++it) {
    if (it->score >= worst_score && ranker(*it, *first)) {
      std::pop_heap(first, middle, ranker);
      std::iter_swap(middle - 1, it);
      std::push_heap(first, middle, ranker);
      worst_score = first->score;
    }
  }
  std::sort_heap(first, middle, ranker);
}

// Orders clusters by id, using their keys first.
struct ById {
  std::span<const Cluster> clusters;
  bool operator()(const IdKey& a, const IdKey& b) const {
    if (a.high != b.high) {
      return a.high < b.high;
    }
    if (a.low != b.low) {
      return a.low < b.low;
    }
    return id_less(clusters[a.index], clusters[b.index]);
  }
};

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Moves the randomly chosen candidate to the front: the one at position
// splitmix64(seed) mod n when the candidates are ordered by id.
void pick_random(std::vector<Scored>& candidates, std::uint64_t seed,
                 std::span<const Cluster> clusters) {
  std::vector<IdKey> by_id;
  by_id.reserve(candidates.size());
  for (std::uint32_t i = 0; i < candidates.size(); ++i) {
    const std::uint32_t index = candidates[i].index;
    by_id.push_back(id_key(clusters[index].ad.cluster_id, index, i));
  }
  const auto nth = by_id.begin() + static_cast<std::ptrdiff_t>(
                                       splitmix64(seed) % candidates.size());
  std::nth_element(by_id.begin(), nth, by_id.end(), ById{clusters});
  std::swap(candidates.front(), candidates[nth->slot]);
}

// Puts the chosen candidate first and the next `rows - 1` after it in
// rank order.
void rank(std::vector<Scored>& candidates, const Decision& decision,
          std::span<const Cluster> clusters, std::size_t rows) {
  if (candidates.empty()) {
    return;
  }
  auto first = candidates.begin();
  if (decision.policy == "random") {
    pick_random(candidates, decision.seed.value_or(0), clusters);
    ++first;
    rows = rows == 0 ? 0 : rows - 1;
  }
  const Ranker ranker{clusters};
  const auto count = std::min<std::size_t>(rows, candidates.end() - first);
  if (count == 1) {
    std::iter_swap(first, best_of(first, candidates.end(), ranker));
  } else if (first + count == candidates.end()) {
    std::sort(first, candidates.end(), ranker);
  } else if (count > 1) {
    best_first(first, first + static_cast<std::ptrdiff_t>(count),
               candidates.end(), ranker);
  }
}

DecisionRow candidate_row(const Scored& s, const Cluster& cluster, int rank) {
  DecisionRow row;
  row.cluster_id = cluster.ad.cluster_id;
  row.candidate = true;
  row.resource_score = s.resource;
  row.cost_score = s.cost;
  if (s.price != k_no_price) {
    row.price_per_hour = s.price;
  }
  row.score = s.score;
  row.rank = rank;
  return row;
}

DecisionRow excluded_row(const Need& need, const Cluster& cluster) {
  double price = k_no_price;
  const Filter filter = first_failure(need, cluster, price);
  DecisionRow row;
  row.cluster_id = cluster.ad.cluster_id;
  row.reason = describe(filter, need, cluster, price);
  return row;
}

std::size_t row_limit(Detail detail, std::size_t available) {
  switch (detail) {
  case Detail::full:
    return available;
  case Detail::summary:
    return std::min<std::size_t>(available, k_summary_rows);
  case Detail::none:
    return std::min<std::size_t>(available, 1);
  }
  return available;
}

void add_exclusions(Decision& decision, const Need& need, Pass& pass,
                    std::span<const Cluster> clusters, Detail detail) {
  auto& excluded = pass.excluded;
  const auto count = row_limit(detail, excluded.size());
  const auto end = excluded.begin() + static_cast<std::ptrdiff_t>(count);
  std::partial_sort(excluded.begin(), end, excluded.end(), ById{clusters});
  for (auto it = excluded.begin(); it != end; ++it) {
    decision.rows.push_back(excluded_row(need, clusters[it->index]));
  }
}

void check_weight(const std::optional<double>& weight, std::string_view field) {
  if (weight && !(std::isfinite(*weight) && *weight >= 0 && *weight <= 1)) {
    throw Error(
        Code::invalid_argument,
        fmt::format("{} must be a number from 0 to 1, got {}", field, *weight),
        std::string(field));
  }
}

// Throws unless the weights sum to 1; `origin` says whose they are.
void check_sum(double resource_weight, double cost_weight,
               std::string_view origin) {
  if (std::abs(resource_weight + cost_weight - 1.0) > k_weight_tolerance) {
    throw Error(Code::invalid_argument,
                fmt::format("{}policy.resourceWeight {} and policy.costWeight "
                            "{} must sum to 1, such as 0.7 and 0.3",
                            origin, resource_weight, cost_weight),
                "policy.resourceWeight");
  }
}

// Sets the weights from the request, else from the broker's defaults;
// one weight alone implies its complement.
void resolve_weights(Decision& decision, const PolicySpec& spec,
                     const ScoringConfig& config) {
  check_weight(spec.resource_weight, "policy.resourceWeight");
  check_weight(spec.cost_weight, "policy.costWeight");
  if (!spec.resource_weight && !spec.cost_weight) {
    check_weight(config.resource_weight, "policy.resourceWeight");
    check_weight(config.cost_weight, "policy.costWeight");
    check_sum(config.resource_weight, config.cost_weight,
              "the broker's default ");
    decision.resource_weight = config.resource_weight;
    decision.cost_weight = config.cost_weight;
    return;
  }
  decision.resource_weight =
      spec.resource_weight.value_or(1.0 - spec.cost_weight.value_or(0));
  decision.cost_weight =
      spec.cost_weight.value_or(1.0 - decision.resource_weight);
  check_sum(decision.resource_weight, decision.cost_weight, "");
}

} // namespace

std::span<const std::string_view> policy_names() {
  return k_policies;
}

Decision resolve_policy(const PolicySpec& spec, const ScoringConfig& config) {
  Decision decision;
  decision.policy = spec.name.empty() ? config.policy : spec.name;
  if (std::find(std::begin(k_policies), std::end(k_policies),
                decision.policy) == std::end(k_policies)) {
    throw Error(Code::invalid_argument,
                fmt::format("{}policy.name \"{}\" is not a policy: use one "
                            "of {}",
                            spec.name.empty() ? "the broker's default " : "",
                            decision.policy, fmt::join(k_policies, ", ")),
                "policy.name");
  }

  resolve_weights(decision, spec, config);
  if (decision.policy == "resource") {
    decision.resource_weight = 1;
    decision.cost_weight = 0;
  } else if (decision.policy == "cost") {
    decision.resource_weight = 0;
    decision.cost_weight = 1;
  }
  decision.seed = spec.seed;
  if (decision.policy == "random" && !decision.seed) {
    decision.seed = 0;
  }
  return decision;
}

std::optional<std::string> exclusion_reason(const ReservationRequest& request,
                                            const Cluster& cluster) {
  const Need need = digest(request);
  double price = k_no_price;
  const Filter filter = first_failure(need, cluster, price);
  if (filter == Filter::none) {
    return std::nullopt;
  }
  return describe(filter, need, cluster, price);
}

Decision decide(const ReservationRequest& request,
                std::span<const Cluster> clusters, const ScoringConfig& config,
                Detail detail) {
  Decision decision = resolve_policy(request.policy, config);
  const Need need = digest(request);
  Pass pass = filter_all(need, clusters, detail != Detail::none);
  decision.clusters = static_cast<int>(clusters.size());
  decision.candidates = static_cast<int>(pass.candidates.size());

  // Score, then order only as many candidates as there will be rows.
  score_all(pass.candidates, decision);
  const auto ranked = row_limit(detail, pass.candidates.size());
  rank(pass.candidates, decision, clusters, ranked);
  decision.rows.reserve(ranked + row_limit(detail, pass.excluded.size()));
  for (std::size_t i = 0; i < ranked; ++i) {
    const Scored& s = pass.candidates[i];
    decision.rows.push_back(
        candidate_row(s, clusters[s.index], static_cast<int>(i + 1)));
  }
  if (!pass.candidates.empty()) {
    decision.chosen = clusters[pass.candidates.front().index].ad.cluster_id;
  }
  if (detail != Detail::none) {
    add_exclusions(decision, need, pass, clusters, detail);
  }

  LRB_LOG(debug, "decided", kv("policy", decision.policy),
          kv("chosen", decision.chosen), kv("clusters", decision.clusters),
          kv("candidates", decision.candidates));
  return decision;
}

} // namespace lrb::core
