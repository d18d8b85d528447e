// MemoryStore: structured facts, JSON values by (namespace, key).
#include "runtime/memory/impl.hpp"

namespace perdiem::memory {
namespace {

Status check_key(std::string_view ns, std::string_view key) {
  if (ns.empty() || key.empty())
    return make_error(ErrorKind::invalid_argument, "a fact needs a namespace and a key");
  return {};
}

}  // namespace

Status MemoryStore::set_fact(std::string_view ns, std::string_view key,
                             const nlohmann::json& value) {
  Status st = check_key(ns, key);
  if (!st.ok()) return st;
  // null is a value like any other; delete_fact removes a fact.
  std::string stored = impl_->redact(value.dump());
  std::int64_t now = impl_->now_ms();
  return impl_->writer->call([&](sql::Db& db) -> Status {
    auto stmt = db.cached(
        "INSERT INTO facts(ns, key, value, updated_ms) VALUES(?1, ?2, ?3, ?4) "
        "ON CONFLICT(ns, key) DO UPDATE SET value = excluded.value, "
        "updated_ms = excluded.updated_ms");
    if (!stmt) return stmt.error();
    return (*stmt)->bind(1, ns).bind(2, key).bind(3, stored).bind(4, now).run();
  });
}

Result<std::optional<nlohmann::json>> MemoryStore::get_fact(std::string_view ns,
                                                            std::string_view key) {
  Status st = check_key(ns, key);
  if (!st.ok()) return st.error();
  auto lease = impl_->readers.acquire();
  if (!lease) return lease.error();
  auto stmt = lease->db().cached("SELECT value FROM facts WHERE ns = ?1 AND key = ?2");
  if (!stmt) return stmt.error();
  sql::ResetGuard guard(**stmt);
  (*stmt)->bind(1, ns).bind(2, key);
  auto row = (*stmt)->step();
  if (!row) return row.error();
  if (!*row) return std::optional<nlohmann::json>();
  return std::optional<nlohmann::json>(parse_stored_json(**stmt, 0));
}

Result<bool> MemoryStore::delete_fact(std::string_view ns, std::string_view key) {
  Status st = check_key(ns, key);
  if (!st.ok()) return st.error();
  bool deleted = false;
  st = impl_->writer->call([&](sql::Db& db) -> Status {
    auto stmt = db.cached("DELETE FROM facts WHERE ns = ?1 AND key = ?2");
    if (!stmt) return stmt.error();
    Status s = (*stmt)->bind(1, ns).bind(2, key).run();
    deleted = s.ok() && db.changes() > 0;
    return s;
  });
  if (!st.ok()) return st.error();
  return deleted;
}

}  // namespace perdiem::memory
