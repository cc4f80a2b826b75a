// SQLite store: maps the core types onto the tables of
// migrations/0001_init.sql. Request, decision, advertisement and granted
// amounts travel as the same JSON the API speaks (one codec, so the
// stored form cannot drift from the wire form); lifecycle fields,
// reserved totals and versions are columns so that SQL can filter on
// them and the doctor can check them.
#include "daemon/sqlite_store.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/error.h"
#include "core/json.h"
#include "core/log.h"
#include "daemon/schema.h"
#include "daemon/sqlite.h"

namespace lrb::daemon {

namespace {

using core::Cluster;
using core::Reservation;

// ---- clusters ----

constexpr const char* k_cluster_columns =
    "id, generation, advertisement, reserved_cpu_milli, "
    "reserved_memory_bytes, reserved_gpu, reserved_storage_bytes, "
    "reserved_pods, reserved_extended, cordoned, last_seen, version";

// The fixed-slot reserved columns, in k_cluster_columns order from 3.
constexpr core::Slot k_reserved_slots[] = {core::Slot::cpu, core::Slot::memory,
                                           core::Slot::gpu, core::Slot::storage,
                                           core::Slot::pods};

core::ResourceList read_reserved(const SqliteStmt& row) {
  core::ResourceList reserved;
  int column = 3;
  for (auto slot : k_reserved_slots) {
    if (std::int64_t v = row.int64(column++); v != 0) {
      reserved.set(slot, v);
    }
  }
  auto extended = core::decode_resources(core::parse_json(row.text(8)),
                                         "reserved_extended");
  extended.for_each(
      [&](std::string_view name, std::int64_t v) { reserved.set(name, v); });
  return reserved;
}

Cluster read_cluster(const SqliteStmt& row) {
  Cluster c;
  c.ad = core::decode_advertisement(core::parse_json(row.text(2)));
  c.reserved = read_reserved(row);
  c.free = core::subtract_clamped(c.ad.resources.available, c.reserved);
  c.cordoned = row.int64(9) != 0;
  c.state =
      c.cordoned ? core::ClusterState::cordoned : core::ClusterState::ready;
  c.last_seen = row.int64(10);
  c.version = row.int64(11);
  return c;
}

// Returns the extended (non-slot) part of a reserved list as JSON.
std::string extended_json(const core::ResourceList& reserved) {
  core::ResourceList extended = reserved;
  for (auto name : {"cpu", "memory", "gpu", "storage", "pods"}) {
    extended.erase(name);
  }
  return core::encode_resources(extended).dump();
}

// Binds the columns shared by INSERT and UPDATE, parameters 1..11 in
// the order of k_cluster_columns minus id.
void bind_cluster(SqliteStmt& stmt, const Cluster& c, core::WallMs now) {
  stmt.bind(1, c.ad.generation)
      .bind(2, core::encode_advertisement(c.ad).dump());
  int param = 3;
  for (auto slot : k_reserved_slots) {
    stmt.bind(param++, c.reserved.get(slot));
  }
  stmt.bind(8, extended_json(c.reserved))
      .bind(9, std::int64_t{c.cordoned ? 1 : 0})
      .bind(10, c.last_seen)
      .bind(11, c.version)
      .bind(12, now);
}

// ---- reservations ----

constexpr const char* k_reservation_columns =
    "id, requester_id, target_cluster_id, target_endpoint, phase, reason, "
    "message, request, decision, granted, created_at, reserved_at, "
    "activated_at, activation_deadline, expires_at, ended_at, "
    "idempotency_key, version";

Reservation read_reservation(const SqliteStmt& row) {
  Reservation r;
  r.id = row.text(0);
  r.request = core::decode_request(core::parse_json(row.text(7)));
  r.target_cluster_id = row.text(2);
  r.target_endpoint = row.text(3);
  r.status.phase = core::parse_phase(row.text(4), "phase");
  r.status.reason = row.text(5);
  r.status.message = row.text(6);
  r.decision = core::decode_decision(core::parse_json(row.text(8)), "decision");
  r.granted =
      core::decode_resources(core::parse_json(row.text(9)), "grantedResources");
  r.created_at = row.int64(10);
  r.status.reserved_at = row.optional_int64(11);
  r.status.activated_at = row.optional_int64(12);
  r.status.activation_deadline = row.optional_int64(13);
  r.status.expires_at = row.optional_int64(14);
  r.status.ended_at = row.optional_int64(15);
  r.idempotency_key = row.text(16);
  r.version = row.int64(17);
  return r;
}

// Binds every column but id (parameters 1..17, then updated_at as 18).
void bind_reservation(SqliteStmt& stmt, const Reservation& r,
                      core::WallMs now) {
  stmt.bind(1, r.request.requester_id)
      .bind(2, r.target_cluster_id)
      .bind(3, r.target_endpoint)
      .bind(4, core::phase_name(r.status.phase))
      .bind(5, r.status.reason)
      .bind(6, r.status.message)
      .bind(7, core::encode_request(r.request).dump())
      .bind(8, core::encode_decision(r.decision).dump())
      .bind(9, core::encode_resources(r.granted).dump())
      .bind(10, r.created_at)
      .bind(11, r.status.reserved_at)
      .bind(12, r.status.activated_at)
      .bind(13, r.status.activation_deadline)
      .bind(14, r.status.expires_at)
      .bind(15, r.status.ended_at)
      .bind(16, r.idempotency_key)
      .bind(17, r.version)
      .bind(18, now);
}

std::vector<Reservation> read_reservations(SqliteStmt& stmt) {
  std::vector<Reservation> out;
  while (stmt.step()) {
    out.push_back(read_reservation(stmt));
  }
  return out;
}

// ---- events ----

StoredEvent read_event(const SqliteStmt& row) {
  StoredEvent e;
  e.seq = row.int64(0);
  e.time = row.int64(1);
  e.type = row.text(2);
  e.cluster_id = row.text(3);
  e.requester_id = row.text(4);
  e.reservation_id = row.text(5);
  e.phase = row.text(6);
  e.message = row.text(7);
  e.reservation = row.text(8);
  return e;
}

core::WallMs wall_now() {
  return core::system_clock().wall_ms();
}

// The transaction API over one connection.
class SqliteTx : public StoreTx {
public:
  explicit SqliteTx(SqliteDb& db) : db_(db) {}

  std::vector<Cluster> load_clusters() override {
    auto stmt = db_.prepare(
        fmt::format("SELECT {} FROM clusters ORDER BY id", k_cluster_columns));
    std::vector<Cluster> out;
    while (stmt.step()) {
      out.push_back(read_cluster(stmt));
    }
    return out;
  }

  std::optional<Cluster> find_cluster(std::string_view id) override {
    auto stmt = db_.prepare(
        fmt::format("SELECT {} FROM clusters WHERE id = ?", k_cluster_columns));
    stmt.bind(1, id);
    if (!stmt.step()) {
      return std::nullopt;
    }
    return read_cluster(stmt);
  }

  void insert_cluster(const Cluster& c) override {
    auto stmt =
        db_.prepare("INSERT INTO clusters (generation, advertisement, "
                    "reserved_cpu_milli, reserved_memory_bytes, reserved_gpu, "
                    "reserved_storage_bytes, reserved_pods, reserved_extended, "
                    "cordoned, last_seen, version, updated_at, created_at, id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    auto now = wall_now();
    bind_cluster(stmt, c, now);
    stmt.bind(13, now).bind(14, c.ad.cluster_id);
    stmt.run();
  }

  bool update_cluster(const Cluster& c,
                      std::int64_t expected_version) override {
    auto stmt = db_.prepare(
        "UPDATE clusters SET generation = ?, advertisement = ?, "
        "reserved_cpu_milli = ?, reserved_memory_bytes = ?, "
        "reserved_gpu = ?, reserved_storage_bytes = ?, reserved_pods = ?, "
        "reserved_extended = ?, cordoned = ?, last_seen = ?, version = ?, "
        "updated_at = ? WHERE id = ? AND version = ?");
    bind_cluster(stmt, c, wall_now());
    stmt.bind(13, c.ad.cluster_id).bind(14, expected_version);
    return stmt.run() == 1;
  }

  std::optional<Reservation> find_reservation(std::string_view id) override {
    auto stmt = db_.prepare(fmt::format(
        "SELECT {} FROM reservations WHERE id = ?", k_reservation_columns));
    stmt.bind(1, id);
    if (!stmt.step()) {
      return std::nullopt;
    }
    return read_reservation(stmt);
  }

  std::vector<Reservation>
  list_reservations(const ReservationFilter& filter) override {
    std::string where = "1 = 1";
    if (!filter.requester_id.empty()) {
      where += " AND requester_id = ?";
    }
    if (!filter.target_cluster_id.empty()) {
      where += " AND target_cluster_id = ?";
    }
    if (!filter.either_cluster_id.empty()) {
      where += " AND (requester_id = ? OR target_cluster_id = ?)";
    }
    if (!filter.phases.empty()) {
      where += " AND phase IN (?";
      for (size_t i = 1; i < filter.phases.size(); ++i) {
        where += ", ?";
      }
      where += ")";
    }
    auto stmt = db_.prepare(fmt::format(
        "SELECT {} FROM reservations WHERE {} ORDER BY created_at, id "
        "LIMIT ?",
        k_reservation_columns, where));
    int param = 1;
    for (const auto* value :
         {&filter.requester_id, &filter.target_cluster_id}) {
      if (!value->empty()) {
        stmt.bind(param++, *value);
      }
    }
    if (!filter.either_cluster_id.empty()) {
      stmt.bind(param++, filter.either_cluster_id);
      stmt.bind(param++, filter.either_cluster_id);
    }
    for (auto phase : filter.phases) {
      stmt.bind(param++, core::phase_name(phase));
    }
    stmt.bind(param, std::int64_t{filter.limit});
    return read_reservations(stmt);
  }

  std::vector<Reservation>
  holding_reservations(std::string_view cluster_id) override {
    auto stmt = db_.prepare(fmt::format(
        "SELECT {} FROM reservations WHERE target_cluster_id = ? AND "
        "phase IN ('Reserved', 'Active') ORDER BY id",
        k_reservation_columns));
    stmt.bind(1, cluster_id);
    return read_reservations(stmt);
  }

  std::vector<Reservation> all_holding_reservations() override {
    auto stmt = db_.prepare(fmt::format(
        "SELECT {} FROM reservations WHERE phase IN ('Reserved', 'Active') "
        "ORDER BY id",
        k_reservation_columns));
    return read_reservations(stmt);
  }

  std::vector<Reservation> due_reservations(core::WallMs now,
                                            int limit) override {
    auto stmt = db_.prepare(
        fmt::format("SELECT {} FROM reservations WHERE "
                    "(phase IN ('Reserved', 'Active') AND expires_at <= ?) OR "
                    "(phase = 'Reserved' AND activation_deadline <= ?) "
                    "ORDER BY id LIMIT ?",
                    k_reservation_columns));
    stmt.bind(1, now).bind(2, now).bind(3, std::int64_t{limit});
    return read_reservations(stmt);
  }

  void insert_reservation(const Reservation& r) override {
    auto stmt = db_.prepare(
        "INSERT INTO reservations (requester_id, target_cluster_id, "
        "target_endpoint, phase, reason, message, request, decision, "
        "granted, created_at, reserved_at, activated_at, "
        "activation_deadline, expires_at, ended_at, idempotency_key, "
        "version, updated_at, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?, ?)");
    bind_reservation(stmt, r, wall_now());
    stmt.bind(19, r.id);
    stmt.run();
  }

  bool update_reservation(const Reservation& r,
                          std::int64_t expected_version) override {
    auto stmt = db_.prepare(
        "UPDATE reservations SET requester_id = ?, target_cluster_id = ?, "
        "target_endpoint = ?, phase = ?, reason = ?, message = ?, "
        "request = ?, decision = ?, granted = ?, created_at = ?, "
        "reserved_at = ?, activated_at = ?, activation_deadline = ?, "
        "expires_at = ?, ended_at = ?, idempotency_key = ?, version = ?, "
        "updated_at = ? WHERE id = ? AND version = ?");
    bind_reservation(stmt, r, wall_now());
    stmt.bind(19, r.id).bind(20, expected_version);
    return stmt.run() == 1;
  }

  std::int64_t count_reservations() override {
    return db_.query_int("SELECT COUNT(*) FROM reservations");
  }

  std::vector<std::pair<std::string, std::string>> dangling_targets() override {
    auto stmt = db_.prepare(
        "SELECT id, target_cluster_id FROM reservations r WHERE "
        "target_cluster_id <> '' AND NOT EXISTS (SELECT 1 FROM clusters c "
        "WHERE c.id = r.target_cluster_id) ORDER BY id");
    std::vector<std::pair<std::string, std::string>> out;
    while (stmt.step()) {
      out.emplace_back(stmt.text(0), stmt.text(1));
    }
    return out;
  }

  std::optional<std::string> find_idempotency(std::string_view requester_id,
                                              std::string_view key) override {
    auto stmt = db_.prepare("SELECT reservation_id FROM idempotency WHERE "
                            "requester_id = ? AND idem_key = ?");
    stmt.bind(1, requester_id).bind(2, key);
    if (!stmt.step()) {
      return std::nullopt;
    }
    return stmt.text(0);
  }

  bool insert_idempotency(std::string_view requester_id, std::string_view key,
                          std::string_view reservation_id,
                          core::WallMs now) override {
    auto stmt = db_.prepare(
        "INSERT INTO idempotency (requester_id, idem_key, reservation_id, "
        "created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING");
    stmt.bind(1, requester_id).bind(2, key).bind(3, reservation_id);
    stmt.bind(4, now);
    return stmt.run() == 1;
  }

  std::vector<std::array<std::string, 3>> list_idempotency() override {
    auto stmt = db_.prepare("SELECT requester_id, idem_key, reservation_id "
                            "FROM idempotency ORDER BY 1, 2");
    std::vector<std::array<std::string, 3>> out;
    while (stmt.step()) {
      out.push_back({stmt.text(0), stmt.text(1), stmt.text(2)});
    }
    return out;
  }

  std::int64_t append_event(const StoredEvent& e) override {
    auto stmt =
        db_.prepare("INSERT INTO events (time, type, cluster_id, requester_id, "
                    "reservation_id, phase, message, reservation) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    stmt.bind(1, e.time).bind(2, e.type).bind(3, e.cluster_id);
    stmt.bind(4, e.requester_id).bind(5, e.reservation_id).bind(6, e.phase);
    stmt.bind(7, e.message).bind(8, e.reservation);
    stmt.run();
    return db_.last_insert_rowid();
  }

  std::vector<StoredEvent> events_after(std::int64_t after,
                                        int limit) override {
    auto stmt = db_.prepare(
        "SELECT seq, time, type, cluster_id, requester_id, reservation_id, "
        "phase, message, reservation FROM events WHERE seq > ? "
        "ORDER BY seq LIMIT ?");
    stmt.bind(1, after).bind(2, std::int64_t{limit});
    std::vector<StoredEvent> out;
    while (stmt.step()) {
      out.push_back(read_event(stmt));
    }
    return out;
  }

  EventBounds event_bounds() override {
    // sqlite_sequence keeps the highest seq even when every event has
    // been compacted away.
    EventBounds b;
    b.last_seq =
        db_.query_int("SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE "
                      "name = 'events'), 0)");
    b.compacted_through =
        db_.query_int("SELECT CAST(value AS INTEGER) FROM meta WHERE "
                      "key = 'events_compacted_through'");
    return b;
  }

  std::int64_t compact_events(core::WallMs before) override {
    auto last = db_.prepare("SELECT COALESCE(MAX(seq), 0) FROM events "
                            "WHERE time < ?");
    last.bind(1, before);
    std::int64_t through = last.step() ? last.int64(0) : 0;
    if (through == 0) {
      return 0;
    }
    auto del = db_.prepare("DELETE FROM events WHERE seq <= ?");
    del.bind(1, through);
    int removed = del.run();
    auto mark = db_.prepare(
        "UPDATE meta SET value = CAST(? AS TEXT) WHERE "
        "key = 'events_compacted_through' AND CAST(value AS INTEGER) < ?");
    mark.bind(1, through).bind(2, through);
    mark.run();
    return removed;
  }

private:
  SqliteDb& db_;
};

// The store: one writer, a pool of readers.
class SqliteStore : public Store {
public:
  explicit SqliteStore(const SqliteStoreOptions& options) : options_(options) {
    if (!options.read_only) {
      writer_ = open_writer();
    }
    check_schema(options.read_only ? *open_reader() : *writer_);
    for (int i = 0; i < std::max(1, options.readers); ++i) {
      readers_.push_back(open_reader());
    }
  }

  void transact(TxMode mode, const std::function<void(StoreTx&)>& fn) override {
    if (mode == TxMode::read) {
      ReaderLease lease(*this);
      run_attempts(*lease.db, "BEGIN", fn);
      return;
    }
    if (!writer_) {
      throw core::Error(core::Code::internal, "the store was opened read-only");
    }
    std::lock_guard lock(write_mu_);
    set_durability(mode == TxMode::durable_write);
    run_attempts(*writer_, "BEGIN IMMEDIATE", fn);
  }

  int schema_version() override {
    ReaderLease lease(*this);
    return read_schema_version(*lease.db);
  }

  bool healthy() override {
    try {
      return schema_version() == latest_schema_version();
    } catch (const std::exception&) {
      return false;
    }
  }

  std::string describe() const override { return options_.path; }

private:
  // A reader connection borrowed from the pool for one scope.
  struct ReaderLease {
    explicit ReaderLease(SqliteStore& owner)
        : store(owner), db(owner.acquire_reader()) {}
    ~ReaderLease() { store.release_reader(std::move(db)); }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    SqliteStore& store;
    std::unique_ptr<SqliteDb> db;
  };

  std::unique_ptr<SqliteDb> open_writer() {
    auto db = std::make_unique<SqliteDb>(options_.path, false,
                                         options_.busy_timeout_ms);
    db->exec("PRAGMA journal_mode = WAL");
    db->exec("PRAGMA synchronous = NORMAL");
    return db;
  }

  std::unique_ptr<SqliteDb> open_reader() {
    return std::make_unique<SqliteDb>(options_.path, options_.read_only,
                                      options_.busy_timeout_ms);
  }

  void check_schema(SqliteDb& db) {
    if (options_.migrate && !options_.read_only) {
      for (const auto& step : migrate(db, options_.path, false)) {
        LRB_LOG(info, "migrated", kv("db", options_.path),
                kv("version", step.version), kv("name", step.name));
      }
      return;
    }
    check_not_newer(db, options_.path);
    int found = read_schema_version(db);
    if (found < latest_schema_version()) {
      throw core::Error(core::Code::unprocessable,
                        fmt::format("database {} has schema version {}, this "
                                    "lrb needs {}: run 'lrb migrate --db {}'",
                                    options_.path, found,
                                    latest_schema_version(), options_.path),
                        "db", "SchemaTooOld");
    }
  }

  void set_durability(bool full) {
    if (full != synchronous_full_) {
      writer_->exec(full ? "PRAGMA synchronous = FULL"
                         : "PRAGMA synchronous = NORMAL");
      synchronous_full_ = full;
    }
  }

  void run_attempts(SqliteDb& db, const char* begin,
                    const std::function<void(StoreTx&)>& fn) {
    for (int attempt = 1;; ++attempt) {
      try {
        db.exec(begin);
        SqliteTx tx(db);
        fn(tx);
        db.exec("COMMIT");
        return;
      } catch (const SqliteBusy& busy) {
        db.rollback_quietly();
        if (attempt >= options_.max_attempts) {
          throw core::Error(core::Code::unavailable,
                            fmt::format("database busy after {} attempts: {}",
                                        attempt, busy.what()));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(attempt));
      } catch (...) {
        db.rollback_quietly();
        throw;
      }
    }
  }

  std::unique_ptr<SqliteDb> acquire_reader() {
    std::unique_lock lock(readers_mu_);
    readers_cv_.wait(lock, [&] { return !readers_.empty(); });
    auto db = std::move(readers_.back());
    readers_.pop_back();
    return db;
  }

  void release_reader(std::unique_ptr<SqliteDb> db) {
    {
      std::lock_guard lock(readers_mu_);
      readers_.push_back(std::move(db));
    }
    readers_cv_.notify_one();
  }

  SqliteStoreOptions options_;
  std::mutex write_mu_;
  std::unique_ptr<SqliteDb> writer_;
  bool synchronous_full_ = false;
  std::mutex readers_mu_;
  std::condition_variable readers_cv_;
  std::vector<std::unique_ptr<SqliteDb>> readers_;
};

} // namespace

std::unique_ptr<Store> open_sqlite_store(const SqliteStoreOptions& options) {
  return std::make_unique<SqliteStore>(options);
}

std::string default_database_path() {
  const char* state = std::getenv("XDG_STATE_HOME");
  if (state != nullptr && *state != '\0') {
    return (std::filesystem::path(state) / "lrb" / "lrb.db").string();
  }
  const char* home = std::getenv("HOME");
  if (home != nullptr && *home != '\0') {
    return (std::filesystem::path(home) / ".local" / "state" / "lrb" / "lrb.db")
        .string();
  }
  return "lrb.db";
}

void ensure_parent_directory(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) {
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    throw core::Error(core::Code::unavailable,
                      fmt::format("cannot create the database directory {}: "
                                  "{}",
                                  dir.string(), ec.message()),
                      "db");
  }
}

} // namespace lrb::daemon
