// An in-memory Store for the simulator: the same transactions, versioned
// updates and event log as the SQLite store, without a file, so that
// `lrb sim` replays a trace through the real broker service at memory
// speed. A transaction applies its writes at once and keeps an undo
// journal; when the transaction's function throws (a version conflict,
// a bad transition) the journal is played backwards, so a rolled-back
// transaction leaves nothing behind, exactly as with SQLite. Nothing
// survives the process: it is not a backend for a real broker.
#pragma once

#include <memory>

#include "daemon/store.h"

namespace lrb::daemon {

// Returns an empty in-memory store (thread-safe; one transaction at a
// time).
std::unique_ptr<Store> open_memory_store();

} // namespace lrb::daemon
