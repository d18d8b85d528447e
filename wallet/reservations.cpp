#include "wallet/reservations.hpp"

#include <charconv>

namespace perdiem::wallet {

std::string_view to_string(ReservationState state) {
  switch (state) {
    case ReservationState::open: return "open";
    case ReservationState::settled: return "settled";
    case ReservationState::unreconciled: return "unreconciled";
    case ReservationState::released: return "released";
  }
  return "open";
}

std::optional<ReservationState> reservation_state_from(std::string_view text) {
  for (auto s : {ReservationState::open, ReservationState::settled,
                 ReservationState::unreconciled, ReservationState::released})
    if (to_string(s) == text) return s;
  return std::nullopt;
}

std::string encode_funding(const Funding& funding) {
  std::string out;
  for (const auto& part : funding) {
    if (!out.empty()) out += ';';
    out += part.account;
    out += '=';
    out += std::to_string(part.held);
    out += '/';
    out += std::to_string(part.charged);
  }
  return out;
}

Result<Funding> decode_funding(std::string_view text) {
  Funding out;
  auto bad = [&] {
    return make_error(ErrorKind::storage, "corrupt reservation funding '" + std::string(text) + "'");
  };
  while (!text.empty()) {
    std::size_t end = text.find(';');
    std::string_view item = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    std::size_t eq = item.rfind('=');
    std::size_t slash = item.rfind('/');
    if (eq == std::string_view::npos || slash == std::string_view::npos || slash < eq) return bad();
    FundingPart part;
    part.account = std::string(item.substr(0, eq));
    std::string_view held = item.substr(eq + 1, slash - eq - 1);
    std::string_view charged = item.substr(slash + 1);
    if (std::from_chars(held.data(), held.data() + held.size(), part.held).ec != std::errc() ||
        std::from_chars(charged.data(), charged.data() + charged.size(), part.charged).ec !=
            std::errc())
      return bad();
    out.push_back(std::move(part));
  }
  return out;
}

Funding allocate_charge(Funding funding, Nanos cost) {
  Nanos left = cost;
  for (auto& part : funding) {
    part.charged = std::min(part.held, left);
    left -= part.charged;
  }
  if (left > 0) {
    FundingPart* usd = nullptr;
    for (auto& part : funding)
      if (part.account == "usd") usd = &part;
    if (!usd) {
      funding.push_back(FundingPart{"usd", 0, 0});
      usd = &funding.back();
    }
    usd->charged += left;
  }
  return funding;
}

}  // namespace perdiem::wallet
