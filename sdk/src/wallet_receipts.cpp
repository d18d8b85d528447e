// WalletHandle::verify_receipts: anyone holding receipts can check who signed them.
#include <nlohmann/json.hpp>

#include "base/json_depth.hpp"
#include "perdiem/wallet.hpp"
#include "wallet/receipts.hpp"
#include "wallet_convert.hpp"

namespace perdiem {
namespace {

// An export of a long run may hold thousands of receipts of about 1 KiB each.
constexpr std::size_t kMaxReceiptsBytes = 64u << 20;
// An array of receipts nests three deep ([{"prices": {}}]); refuse much deeper input
// before building anything from it.
constexpr int kMaxDepth = 8;

Result<ReceiptInfo> check_one(std::string_view json, const std::optional<wallet::Address>& expected,
                              const std::string& which) {
  auto receipt = wallet::parse_receipt(json);
  if (!receipt) return make_error(receipt.error().kind, which + receipt.error().message);
  Status st = wallet::verify_receipt(*receipt);
  if (!st.ok()) return make_error(st.error().kind, which + st.error().message);
  if (expected && !(receipt->wallet == *expected))
    return make_error(ErrorKind::auth, which + "signed by " + receipt->wallet.to_string() +
                                           ", not by " + expected->to_string());
  return sdk::to_public(*receipt);
}

}  // namespace

Result<std::vector<ReceiptInfo>> WalletHandle::verify_receipts(std::string_view json,
                                                               std::string_view expected_wallet) {
  std::optional<wallet::Address> expected;
  if (!expected_wallet.empty()) {
    auto address = wallet::Address::parse(expected_wallet);
    if (!address)
      return make_error(ErrorKind::invalid_argument, "address: " + address.error().message);
    expected = *address;
  }
  std::size_t start = json.find_first_not_of(" \t\r\n");
  std::vector<ReceiptInfo> out;
  if (start == std::string_view::npos || json[start] != '[') {
    auto one = check_one(json, expected, "");
    if (!one) return one.error();
    out.push_back(std::move(*one));
    return out;
  }
  if (json.size() > kMaxReceiptsBytes)
    return make_error(ErrorKind::invalid_argument,
                      "receipts: larger than " + std::to_string(kMaxReceiptsBytes) + " bytes");
  if (base::json_nests_deeper_than(json, kMaxDepth))
    return make_error(ErrorKind::invalid_argument, "receipts: nested too deeply");
  nlohmann::json list = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (list.is_discarded() || !list.is_array())
    return make_error(ErrorKind::invalid_argument, "receipts: not a JSON array of receipts");
  if (list.empty()) return make_error(ErrorKind::invalid_argument, "receipts: the array is empty");
  for (std::size_t i = 0; i < list.size(); ++i) {
    std::string which =
        "receipt " + std::to_string(i + 1) + " of " + std::to_string(list.size()) + ": ";
    auto one = check_one(list[i].dump(), expected, which);
    if (!one) return one.error();
    out.push_back(std::move(*one));
  }
  return out;
}

}  // namespace perdiem
