#include "fuzz/fuzz_input.h"

#include <algorithm>
#include <iterator>

namespace ramstream::fuzz {

uint8_t TailReader::U8() {
  if (data_.empty()) return 0;
  const auto v = static_cast<uint8_t>(data_.back());
  data_ = data_.first(data_.size() - 1);
  return v;
}

uint16_t TailReader::Be16() {
  const uint16_t low = U8();
  const uint16_t high = U8();
  return static_cast<uint16_t>(high << 8 | low);
}

std::span<const std::byte> TailReader::Take(size_t n) {
  n = std::min(n, data_.size());
  std::span<const std::byte> out = data_.last(n);
  data_ = data_.first(data_.size() - n);
  return out;
}

ChunkPlan ChunkPlan::Whole() {
  ChunkPlan p;
  p.whole_ = true;
  return p;
}

size_t ChunkPlan::SizeForByte(uint8_t b) {
  if (b < 0x80) return size_t{b} + 1;
  // 2^k + j, k in 0..14, j in 0..7: reaches page-sized chunks (4096..4103, one record's
  // payload and its header) without making every chunk large.
  const unsigned k = (b & 0x0f) % 15;
  const unsigned j = (b >> 4) & 0x07;
  return (size_t{1} << k) + j;
}

size_t ChunkPlan::Next(size_t left) {
  size_t n = 1;
  if (whole_) {
    n = left;
  } else if (!plan_.empty()) {
    // Wrap by comparison, not %: this runs once per chunk, and a division per call showed
    // in profiles of byte-sized plans.
    n = SizeForByte(static_cast<uint8_t>(plan_[next_]));
    if (++next_ == plan_.size()) next_ = 0;
  } else {
    n = kDefaultSizes[next_];
    if (++next_ == std::size(kDefaultSizes)) next_ = 0;
  }
  if (left > 0) n = std::min(n, left);
  return std::max<size_t>(n, 1);
}

FuzzInput SplitInput(std::span<const std::byte> data) {
  TailReader tail(data);
  FuzzInput in;
  const size_t n = tail.U8() & 0x1f;
  in.plan = tail.Take(n);
  in.config = tail.Be16();
  in.stream = tail.rest();
  return in;
}

std::vector<std::byte> JoinInput(std::span<const std::byte> stream, uint16_t config,
                                 std::span<const std::byte> plan) {
  plan = plan.first(std::min<size_t>(plan.size(), 31));
  std::vector<std::byte> out(stream.begin(), stream.end());
  out.push_back(static_cast<std::byte>(config >> 8));
  out.push_back(static_cast<std::byte>(config & 0xff));
  out.insert(out.end(), plan.begin(), plan.end());
  out.push_back(static_cast<std::byte>(plan.size()));
  return out;
}

}  // namespace ramstream::fuzz
