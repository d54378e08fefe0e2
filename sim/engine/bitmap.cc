#include "sim/engine/bitmap.h"

#include <algorithm>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace ramstream::sim {

void* AllocateHugePageAligned(size_t bytes) {
  constexpr size_t kHuge = size_t{2} << 20;
  if (bytes < kHuge) {
    void* p = std::malloc(bytes == 0 ? 1 : bytes);
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  void* p = std::aligned_alloc(kHuge, rounded);
  if (p == nullptr) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  madvise(p, rounded, MADV_HUGEPAGE);  // a hint; failure only costs speed
#endif
  return p;
}

PageBitmap::PageBitmap(uint64_t bits)
    : bits_(bits), words_((bits + 63) / 64, 0), summary_((words_.size() + 63) / 64, 0) {}

uint64_t PageBitmap::SetRange(uint64_t first, uint64_t n) {
  uint64_t added = 0;
  uint64_t bit = first;
  const uint64_t end = first + n;
  while (bit < end) {
    const unsigned lo = static_cast<unsigned>(bit & 63);
    const uint64_t in_word = std::min<uint64_t>(64 - lo, end - bit);
    const uint64_t mask = BitRangeMask(lo, lo + static_cast<unsigned>(in_word));
    added += static_cast<uint64_t>(PopCount(OrWord(bit >> 6, mask)));
    bit += in_word;
  }
  return added;
}

size_t PageBitmap::NextNonzeroWord(size_t w) const {
  if (w >= words_.size()) return kNone;
  size_t s = w >> 6;
  uint64_t bits = summary_[s] & (~uint64_t{0} << (w & 63));
  while (bits == 0) {
    if (++s >= summary_.size()) return kNone;
    bits = summary_[s];
  }
  return (s << 6) + static_cast<size_t>(std::countr_zero(bits));
}

void PageBitmap::ClearAll() {
  for (size_t s = 0; s < summary_.size(); ++s) {
    uint64_t bits = summary_[s];
    while (bits != 0) {
      const size_t w = (s << 6) + static_cast<size_t>(std::countr_zero(bits));
      words_[w] = 0;
      bits &= bits - 1;
    }
    summary_[s] = 0;
  }
  count_ = 0;
}

}  // namespace ramstream::sim
