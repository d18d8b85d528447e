#include "wallet/stored_receipt.hpp"

#include <cstring>
#include <string_view>

#include "wallet/grants.hpp"
#include "wallet/receipt_batch.hpp"
#include "wallet/sqlite.hpp"

namespace perdiem::wallet {
namespace {

constexpr std::size_t kMaxProofHashes = 32;  // parse_receipt's cap, for a 2^32 batch

void append_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(value >> shift);
}

template <std::size_t N>
void append_bytes(std::string& out, const std::array<std::uint8_t, N>& bytes) {
  out.append(reinterpret_cast<const char*>(bytes.data()), N);
}

Error corrupt(std::string_view what) {
  return make_error(ErrorKind::storage, "the packed receipt " + std::string(what));
}

// Reads the packed form front to back; every read checks that the bytes are there.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  bool byte(std::uint8_t& out) {
    if (left() < 1) return false;
    out = bytes_[at_++];
    return true;
  }
  bool u32(std::uint32_t& out) {
    if (left() < 4) return false;
    out = 0;
    for (int i = 0; i < 4; ++i) out = (out << 8) | bytes_[at_++];
    return true;
  }
  bool i64(std::int64_t& out) {
    if (left() < 8) return false;
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | bytes_[at_++];
    out = static_cast<std::int64_t>(bits);
    return true;
  }
  bool text(std::string& out) {
    if (left() < 2) return false;
    const std::size_t size = (std::size_t{bytes_[at_]} << 8) | bytes_[at_ + 1];
    at_ += 2;
    if (left() < size) return false;
    out.assign(reinterpret_cast<const char*>(bytes_.data() + at_), size);
    at_ += size;
    return true;
  }
  template <std::size_t N>
  bool bytes(std::array<std::uint8_t, N>& out) {
    if (left() < N) return false;
    std::memcpy(out.data(), bytes_.data() + at_, N);
    at_ += N;
    return true;
  }
  std::size_t left() const { return bytes_.size() - at_; }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t at_ = 0;
};

// The fields append_receipt_leaf_bytes wrote, in its order; an error naming the first
// field that is cut short or not what a receipt may hold.
Status read_fields(Reader& in, Receipt& r) {
  std::uint8_t status = 0;
  if (!in.text(r.id) || !in.bytes(r.wallet.bytes) || !in.byte(status) || !in.text(r.run) ||
      !in.i64(r.step) || !in.text(r.provider) || !in.text(r.model))
    return corrupt("is cut short in its names");
  if (!valid_identifier(r.id)) return corrupt("has an id that is not an identifier");
  if (status > 1) return corrupt("has a status byte that is neither 0 nor 1");
  r.final = status == 1;
  if (!valid_receipt_text(r.run) || !valid_receipt_text(r.model) || !valid_receipt_text(r.provider))
    return corrupt("has a run, provider or model outside [A-Za-z0-9._:/@+-]");
  if (r.provider.empty()) return corrupt("names no provider");
  std::int64_t* const numbers[] = {&r.usage.input_tokens,
                                   &r.usage.output_tokens,
                                   &r.usage.cached_input_tokens,
                                   &r.prices.input_per_mtok,
                                   &r.prices.output_per_mtok,
                                   &r.prices.cached_input_per_mtok,
                                   &r.prices.per_request,
                                   &r.cost,
                                   &r.time_ms};
  for (std::int64_t* number : numbers)
    if (!in.i64(*number)) return corrupt("is cut short in its counts");
  if (r.step < 0) return corrupt("has a negative step");
  for (const std::int64_t* number : numbers)
    if (*number < 0) return corrupt("has a negative count, price or cost");
  if (r.usage.cached_input_tokens > r.usage.input_tokens)
    return corrupt("has more cached input tokens than input tokens");
  if (!in.bytes(r.request_hash) || !in.bytes(r.response_hash))
    return corrupt("is cut short in its hashes");
  return {};
}

Status read_batch(Reader& in, Receipt& r) {
  std::uint8_t version = 0;
  ReceiptBatch batch;
  std::uint8_t proof_size = 0;
  if (!in.byte(version) || !in.u32(batch.index) || !in.u32(batch.size) || !in.bytes(batch.root) ||
      !in.byte(proof_size))
    return corrupt("is cut short in its batch");
  if (version != static_cast<std::uint8_t>(BatchVersion::v2))
    return corrupt("has batch version " + std::to_string(version) + " (packed receipts are 2)");
  batch.version = BatchVersion::v2;
  if (batch.size == 0 || batch.index >= batch.size)
    return corrupt("has a batch index outside its batch");
  if (proof_size > kMaxProofHashes) return corrupt("has a proof of more than 32 hashes");
  batch.proof.resize(proof_size);
  for (Hash32& hash : batch.proof)
    if (!in.bytes(hash)) return corrupt("is cut short in its proof");
  if (!in.bytes(r.signature)) return corrupt("is cut short in its signature");
  r.batch = std::move(batch);
  return {};
}

}  // namespace

bool packable(const Receipt& receipt) {
  return receipt.batch && receipt.batch->version == BatchVersion::v2 &&
         receipt.batch->proof.size() <= kMaxProofHashes;
}

std::string pack_receipt(const Receipt& receipt) {
  const ReceiptBatch& batch = *receipt.batch;
  std::string out;
  out.reserve(288 + receipt.id.size() + receipt.run.size() + receipt.provider.size() +
              receipt.model.size() + 32 * batch.proof.size());
  out += static_cast<char>(kStoredReceiptFormat);
  append_receipt_leaf_bytes(out, receipt);
  out += static_cast<char>(batch.version);
  append_u32(out, batch.index);
  append_u32(out, batch.size);
  append_bytes(out, batch.root);
  out += static_cast<char>(batch.proof.size());
  for (const Hash32& hash : batch.proof) append_bytes(out, hash);
  append_bytes(out, receipt.signature);
  return out;
}

Result<Receipt> unpack_receipt(std::span<const std::uint8_t> bytes) {
  Reader in(bytes);
  std::uint8_t format = 0;
  if (!in.byte(format)) return corrupt("is empty");
  if (format != kStoredReceiptFormat)
    return corrupt("has format " + std::to_string(format) +
                   ", which this perdiem does not read (written by a newer perdiem, or damaged)");
  Receipt receipt;
  if (Status fields = read_fields(in, receipt); !fields.ok()) return fields.error();
  if (Status batch = read_batch(in, receipt); !batch.ok()) return batch.error();
  if (in.left() != 0)
    return corrupt("has " + std::to_string(in.left()) + " bytes after its signature");
  return receipt;
}

Result<Receipt> read_stored_receipt(const sql::Stmt& stmt, int column) {
  if (stmt.column_is_blob(column)) return unpack_receipt(stmt.column_blob(column));
  return parse_receipt(stmt.column_text(column));
}

}  // namespace perdiem::wallet
