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

ChunkPlan::ChunkPlan(std::span<const std::byte> plan) {
  if (plan.empty()) {
    sizes_.assign(std::begin(kDefaultSizes), std::end(kDefaultSizes));
    return;
  }
  sizes_.reserve(plan.size());
  for (std::byte b : plan) sizes_.push_back(static_cast<uint32_t>(SizeForByte(uint8_t(b))));
}

ChunkPlan ChunkPlan::Whole() { return ChunkPlan(WholeTag{}); }

size_t ChunkPlan::SizeForByte(uint8_t b) {
  if (b < 0x80) return size_t{b} + 1;
  // 2^k + j, k in 0..14, j in 0..7: reaches page-sized chunks (4096..4103, one record's
  // payload and its header) without making every chunk large.
  const unsigned k = (b & 0x0f) % 15;
  const unsigned j = (b >> 4) & 0x07;
  return (size_t{1} << k) + j;
}

void ChunkPlan::Fit(size_t stream_size, size_t max_chunks) {
  bursts_ = 0;
  Reset();
  if (whole_) return;
  const size_t cycle_len = sizes_.size();
  size_t cycle_bytes = 0;
  for (uint32_t n : sizes_) cycle_bytes += n;
  // Chunks the plan needs as it is: whole cycles, then part of one.
  size_t chunks = stream_size / cycle_bytes * cycle_len;
  for (size_t i = 0, rest = stream_size % cycle_bytes; rest > 0; ++i) {
    rest -= std::min<size_t>(rest, sizes_[i]);
    ++chunks;
  }
  if (chunks <= max_chunks) return;
  const size_t cycles = (kMinBurstChunks + cycle_len - 1) / cycle_len;
  burst_chunks_ = cycles * cycle_len;
  burst_bytes_ = cycles * cycle_bytes;
  bursts_ = std::max<size_t>(1, max_chunks / (burst_chunks_ + 1));
  Reset();
}

size_t ChunkPlan::Next(size_t left) {
  size_t n;
  if (whole_) {
    n = left;
  } else if (bursts_ != 0 && in_burst_ == burst_chunks_) {
    // A burst is over: skip ahead so that the bursts left share the bytes left evenly
    // (the gaps adapt when a caller's chunks were longer than the plan's).
    in_burst_ = 0;
    next_ = 0;  // every burst starts the cycle anew
    if (--bursts_left_ == 0) {
      n = left;  // no burst left: the rest in one chunk
    } else {
      const size_t wanted = bursts_left_ * burst_bytes_;
      n = left > wanted ? (left - wanted) / bursts_left_ : 1;
    }
  } else {
    ++in_burst_;
    // Wrap by comparison, not %: this runs once per chunk, and a division per call showed
    // in profiles of byte-sized plans.
    n = sizes_[next_];
    if (++next_ == sizes_.size()) next_ = 0;
  }
  if (left > 0 && n > left) n = left;
  return n > 0 ? n : 1;
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
