// MemoryStore: conversation threads (append_message, history).
#include <algorithm>

#include "runtime/memory/impl.hpp"

namespace perdiem::memory {

std::int64_t estimate_tokens(std::string_view content) {
  return 4 + static_cast<std::int64_t>((content.size() + 3) / 4);
}

Result<Message> MemoryStore::append_message(std::string_view thread, std::string_view role,
                                            std::string_view content) {
  if (thread.empty()) return make_error(ErrorKind::invalid_argument, "a thread needs a name");
  if (role.empty()) return make_error(ErrorKind::invalid_argument, "a message needs a role");
  Message message;
  message.role = std::string(role);
  message.content = impl_->redact(content);
  message.tokens = estimate_tokens(message.content);
  message.ts_ms = impl_->now_ms();
  const std::string name(thread);
  Status st = impl_->writer->call([&](sql::Db& db) -> Status {
    auto upsert = db.cached(
        "INSERT INTO threads(name, created_ms) VALUES(?1, ?2) ON CONFLICT(name) DO NOTHING");
    if (!upsert) return upsert.error();
    Status s = (*upsert)->bind(1, name).bind(2, message.ts_ms).run();
    if (!s.ok()) return s;
    auto insert = db.cached(
        "INSERT INTO messages(thread_id, role, content, tokens, ts_ms) "
        "SELECT id, ?2, ?3, ?4, ?5 FROM threads WHERE name = ?1");
    if (!insert) return insert.error();
    s = (*insert)
            ->bind(1, name)
            .bind(2, message.role)
            .bind(3, message.content)
            .bind(4, message.tokens)
            .bind(5, message.ts_ms)
            .run();
    if (!s.ok()) return s;
    message.id = db.last_insert_rowid();
    return {};
  });
  if (!st.ok()) return st.error();
  return message;
}

namespace {

Message read_message(const sql::Stmt& s) {
  return Message{s.column_int(0), s.column_text(1), s.column_text(2), s.column_int(3),
                 s.column_int(4)};
}

}  // namespace

Result<std::vector<Message>> MemoryStore::history(std::string_view thread,
                                                  std::int64_t max_tokens) {
  if (max_tokens < 0) return make_error(ErrorKind::invalid_argument, "max_tokens is negative");
  auto lease = impl_->readers.acquire();
  if (!lease) return lease.error();
  sql::Db& db = lease->db();
  // One snapshot, so a message appended meanwhile cannot appear in one list only.
  auto tx = sql::Transaction::begin(db, false);
  if (!tx) return tx.error();

  std::vector<Message> out;
  auto system = db.cached(
      "SELECT m.id, m.role, m.content, m.tokens, m.ts_ms FROM messages m "
      "JOIN threads t ON t.id = m.thread_id WHERE t.name = ?1 AND m.role = 'system' "
      "ORDER BY m.id");
  if (!system) return system.error();
  {
    sql::ResetGuard guard(**system);
    (*system)->bind(1, thread);
    for (;;) {
      auto row = (*system)->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(read_message(**system));
    }
  }
  std::int64_t budget = max_tokens;
  for (const Message& m : out) budget -= m.tokens;

  // Newest first, stopping at the first message that does not fit: the window stays
  // contiguous, so the model never sees a conversation with a hole in it.
  auto recent = db.cached(
      "SELECT m.id, m.role, m.content, m.tokens, m.ts_ms FROM messages m "
      "JOIN threads t ON t.id = m.thread_id WHERE t.name = ?1 AND m.role != 'system' "
      "ORDER BY m.id DESC");
  if (!recent) return recent.error();
  {
    sql::ResetGuard guard(**recent);
    (*recent)->bind(1, thread);
    for (;;) {
      auto row = (*recent)->step();
      if (!row) return row.error();
      if (!*row) break;
      std::int64_t tokens = (*recent)->column_int(3);
      if (tokens > budget) break;
      budget -= tokens;
      out.push_back(read_message(**recent));
    }
  }
  std::sort(out.begin(), out.end(), [](const Message& a, const Message& b) { return a.id < b.id; });
  Status st = (*tx)->commit();
  if (!st.ok()) return st.error();
  return out;
}

}  // namespace perdiem::memory
