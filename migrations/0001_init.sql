-- 0001_init: the broker's first schema.
--
-- Portable SQL: TEXT, INTEGER and BIGINT columns and plain indexes, so a
-- PostgreSQL migration set differs only in the events key (an identity
-- column there, AUTOINCREMENT here). Times are milliseconds since
-- the Unix epoch (broker wall time). Every mutable row carries `version`,
-- bumped by each UPDATE ... WHERE id = ? AND version = ?, which is how
-- optimistic locking detects a concurrent writer. Amounts the invariant
-- is checked on (reserved totals) are columns, not JSON.

-- One row per advertised cluster: the last accepted advertisement plus
-- the broker-owned fields.
CREATE TABLE clusters (
  id TEXT PRIMARY KEY,
  generation BIGINT NOT NULL,
  advertisement TEXT NOT NULL,
  reserved_cpu_milli BIGINT NOT NULL DEFAULT 0,
  reserved_memory_bytes BIGINT NOT NULL DEFAULT 0,
  reserved_gpu BIGINT NOT NULL DEFAULT 0,
  reserved_storage_bytes BIGINT NOT NULL DEFAULT 0,
  reserved_pods BIGINT NOT NULL DEFAULT 0,
  reserved_extended TEXT NOT NULL DEFAULT '{}',
  cordoned INTEGER NOT NULL DEFAULT 0,
  last_seen BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL
);

-- One row per reservation, failed ones included. The request and the
-- decision never change after creation; the lifecycle columns do.
CREATE TABLE reservations (
  id TEXT PRIMARY KEY,
  requester_id TEXT NOT NULL,
  target_cluster_id TEXT NOT NULL DEFAULT '',
  target_endpoint TEXT NOT NULL DEFAULT '',
  phase TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  request TEXT NOT NULL,
  decision TEXT NOT NULL,
  granted TEXT NOT NULL DEFAULT '{}',
  created_at BIGINT NOT NULL,
  reserved_at BIGINT,
  activated_at BIGINT,
  activation_deadline BIGINT,
  expires_at BIGINT,
  ended_at BIGINT,
  idempotency_key TEXT NOT NULL DEFAULT '',
  updated_at BIGINT NOT NULL,
  version BIGINT NOT NULL
);

-- Lists by provider and by requester, filtered by phase.
CREATE INDEX reservations_target_phase
  ON reservations (target_cluster_id, phase);
CREATE INDEX reservations_requester_phase
  ON reservations (requester_id, phase);
-- The sweeper's scans for leases and activation deadlines that ran out.
CREATE INDEX reservations_phase_expires
  ON reservations (phase, expires_at);
CREATE INDEX reservations_phase_deadline
  ON reservations (phase, activation_deadline);
CREATE INDEX reservations_created ON reservations (created_at, id);

-- Idempotency-Key per requester: the primary key is what makes a key
-- lock at most once, even when two brokers' requests race.
CREATE TABLE idempotency (
  requester_id TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  reservation_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (requester_id, idem_key)
);

-- The watch log. `seq` only grows (never reused after compaction).
-- cluster_id is the cluster the event is about (for reservation events,
-- the provider); requester_id lets a requester's agent see its own.
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time BIGINT NOT NULL,
  type TEXT NOT NULL,
  cluster_id TEXT NOT NULL DEFAULT '',
  requester_id TEXT NOT NULL DEFAULT '',
  reservation_id TEXT NOT NULL DEFAULT '',
  phase TEXT NOT NULL DEFAULT '',
  message TEXT NOT NULL DEFAULT '',
  reservation TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_time ON events (time);

-- Small key/value facts about the store itself, such as the highest
-- event sequence number removed by compaction.
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('events_compacted_through', '0');
