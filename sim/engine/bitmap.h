// Word-level page bitmaps: uint64 words, popcount to count, ctz to walk, and a summary level
// (one bit per word) so that walking a sparse bitmap skips clean regions 4096 pages at a time.
#ifndef RAMSTREAM_SIM_ENGINE_BITMAP_H_
#define RAMSTREAM_SIM_ENGINE_BITMAP_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace ramstream::sim {

// Bits set in x. Without -mpopcnt (the x86-64 baseline) std::popcount becomes a call into
// libgcc, which showed up at 18% of a 1 TiB run; the inline SWAR form costs a few cycles.
inline int PopCount(uint64_t x) {
#if defined(__POPCNT__) || !defined(__x86_64__)
  return std::popcount(x);
#else
  x = x - ((x >> 1) & 0x5555555555555555ULL);
  x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
  return static_cast<int>((x * 0x0101010101010101ULL) >> 56);
#endif
}

// Allocator for large bitmaps: 2 MiB aligned and, on Linux, marked for transparent huge pages.
// Guest writes hit the bitmaps at random; with 4 KiB pages each such write was also a TLB miss.
template <typename T>
struct HugePageAllocator {
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: allocator conversion
  T* allocate(size_t n);
  void deallocate(T* p, size_t) { std::free(p); }
  bool operator==(const HugePageAllocator&) const { return true; }
};

class PageBitmap {
 public:
  static constexpr size_t kNone = ~size_t{0};

  explicit PageBitmap(uint64_t bits = 0);

  uint64_t bits() const { return bits_; }
  size_t num_words() const { return words_.size(); }
  // Number of set bits, maintained on every change.
  uint64_t count() const { return count_; }
  uint64_t word(size_t w) const { return words_[w]; }
  bool Test(uint64_t bit) const { return (words_[bit >> 6] >> (bit & 63)) & 1; }

  // Sets the bits of `mask` in word w; returns the bits that were newly set.
  uint64_t OrWord(size_t w, uint64_t mask) {
    const uint64_t added = mask & ~words_[w];
    if (added != 0) {
      words_[w] |= added;
      count_ += static_cast<uint64_t>(PopCount(added));
      summary_[w >> 6] |= uint64_t{1} << (w & 63);
    }
    return added;
  }
  // Clears the bits of `mask` in word w; returns the bits that were set before.
  uint64_t ClearWord(size_t w, uint64_t mask) {
    const uint64_t removed = mask & words_[w];
    if (removed != 0) {
      words_[w] &= ~removed;
      count_ -= static_cast<uint64_t>(PopCount(removed));
      if (words_[w] == 0) summary_[w >> 6] &= ~(uint64_t{1} << (w & 63));
    }
    return removed;
  }
  bool Set(uint64_t bit) { return OrWord(bit >> 6, uint64_t{1} << (bit & 63)) != 0; }
  bool Clear(uint64_t bit) { return ClearWord(bit >> 6, uint64_t{1} << (bit & 63)) != 0; }
  // Sets bits [first, first + n); returns how many were newly set.
  uint64_t SetRange(uint64_t first, uint64_t n);

  // The first word index >= w holding a set bit, or kNone.
  size_t NextNonzeroWord(size_t w) const;
  // Clears every bit (cost proportional to the set words, not the size).
  void ClearAll();

 private:
  uint64_t bits_;
  std::vector<uint64_t, HugePageAllocator<uint64_t>> words_;
  std::vector<uint64_t> summary_;  // bit w set iff words_[w] != 0
  uint64_t count_ = 0;
};

// Mask of bits [lo, hi) within one word, 0 <= lo <= hi <= 64.
constexpr uint64_t BitRangeMask(unsigned lo, unsigned hi) {
  const uint64_t upto_hi = hi >= 64 ? ~uint64_t{0} : (uint64_t{1} << hi) - 1;
  const uint64_t below_lo = lo >= 64 ? ~uint64_t{0} : (uint64_t{1} << lo) - 1;
  return upto_hi & ~below_lo;
}

void* AllocateHugePageAligned(size_t bytes);

template <typename T>
T* HugePageAllocator<T>::allocate(size_t n) {
  return static_cast<T*>(AllocateHugePageAligned(n * sizeof(T)));
}

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_ENGINE_BITMAP_H_
