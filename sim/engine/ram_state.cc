#include "sim/engine/ram_state.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>

namespace ramstream::sim {
namespace {

// The spread layout repeats a pattern of this many pages (a multiple of 64, so it tiles whole
// words); its resolution for the non-zero fraction is 1/kTilePages.
constexpr uint64_t kTilePages = uint64_t{1} << 16;

uint64_t TotalBits(const std::vector<RamBlockSpec>& specs) {
  uint64_t bits = 0;
  for (const RamBlockSpec& s : specs) bits += (s.pages + 63) / 64 * 64;
  return bits;
}

}  // namespace

RamState::RamState(const std::vector<RamBlockSpec>& specs, ZeroLayout layout)
    : log_(TotalBits(specs)), dirty_(TotalBits(specs)), zero_(TotalBits(specs)) {
  assert(!specs.empty());
  uint64_t bit = 0;
  for (const RamBlockSpec& s : specs) {
    assert(s.pages > 0);
    blocks_.push_back(RamBlockLayout{s.name, s.pages, bit});
    bit += (s.pages + 63) / 64 * 64;
    total_pages_ += s.pages;
  }
  std::vector<uint64_t> tile(kTilePages / 64);
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const RamBlockLayout& blk = blocks_[b];
    if (specs[b].nonzero_pages) {
      zero_.SetRange(blk.first_bit, blk.pages);
      for (const PageRange& r : *specs[b].nonzero_pages) {
        for (uint64_t p = r.first; p < r.end; ++p) zero_.Clear(blk.first_bit + p);
      }
      continue;
    }
    const double f = std::clamp(specs[b].nonzero_fraction, 0.0, 1.0);
    if (layout == ZeroLayout::kFront) {
      const uint64_t nonzero =
          static_cast<uint64_t>(std::llround(f * static_cast<double>(blk.pages)));
      zero_.SetRange(blk.first_bit + nonzero, blk.pages - nonzero);
      continue;
    }
    // Bresenham spread: page j of a tile is non-zero iff floor((j+1)m/T) > floor(jm/T), which
    // gives exactly m non-zero pages per tile, evenly spaced.
    const uint64_t m = static_cast<uint64_t>(std::llround(f * static_cast<double>(kTilePages)));
    std::fill(tile.begin(), tile.end(), 0);
    for (uint64_t j = 0; j < kTilePages; ++j) {
      const bool nonzero = (j + 1) * m / kTilePages > j * m / kTilePages;
      if (!nonzero) tile[j >> 6] |= uint64_t{1} << (j & 63);
    }
    for (size_t w = blk.first_word(); w < blk.end_word(); ++w) {
      const uint64_t pattern = tile[(w - blk.first_word()) % tile.size()];
      zero_.OrWord(w, pattern & ValidMask(w));
    }
  }
}

size_t RamState::BlockOfWord(size_t w) const {
  // Blocks are few; the last block whose first word is <= w.
  auto it =
      std::upper_bound(blocks_.begin(), blocks_.end(), w,
                       [](size_t word, const RamBlockLayout& b) { return word < b.first_word(); });
  return static_cast<size_t>(it - blocks_.begin()) - 1;
}

uint64_t RamState::ValidMask(size_t w) const {
  const RamBlockLayout& b = blocks_[BlockOfWord(w)];
  const uint64_t end = b.first_bit + b.pages;
  const uint64_t word_first = static_cast<uint64_t>(w) << 6;
  if (word_first + 64 <= end) return ~uint64_t{0};
  if (word_first >= end) return 0;
  return BitRangeMask(0, static_cast<unsigned>(end - word_first));
}

void RamState::TouchRange(uint64_t first_bit, uint64_t n) {
  uint64_t bit = first_bit;
  const uint64_t end = first_bit + n;
  while (bit < end) {
    const unsigned lo = static_cast<unsigned>(bit & 63);
    const uint64_t in_word = std::min<uint64_t>(64 - lo, end - bit);
    TouchWord(static_cast<size_t>(bit >> 6), BitRangeMask(lo, lo + static_cast<unsigned>(in_word)));
    bit += in_word;
  }
}

void RamState::MarkAllDirty() {
  for (const RamBlockLayout& b : blocks_) dirty_.SetRange(b.first_bit, b.pages);
  pending_zero_ = zero_.count();
}

uint64_t RamState::DirtyPagesAfterSync() const {
  uint64_t extra = 0;
  for (size_t w = log_.NextNonzeroWord(0); w != PageBitmap::kNone;
       w = log_.NextNonzeroWord(w + 1)) {
    extra += static_cast<uint64_t>(PopCount(log_.word(w) & ~dirty_.word(w)));
  }
  return dirty_.count() + extra;
}

void RamState::TakeLoggedDirty(std::vector<uint64_t>* bits) {
  for (size_t w = log_.NextNonzeroWord(0); w != PageBitmap::kNone;
       w = log_.NextNonzeroWord(w + 1)) {
    for (uint64_t m = log_.word(w) & dirty_.word(w); m != 0; m &= m - 1) {
      bits->push_back((static_cast<uint64_t>(w) << 6) + static_cast<uint64_t>(std::countr_zero(m)));
    }
  }
  log_.ClearAll();
}

uint64_t RamState::SyncLog() {
  uint64_t added = 0;
  for (size_t w = log_.NextNonzeroWord(0); w != PageBitmap::kNone;
       w = log_.NextNonzeroWord(w + 1)) {
    added += static_cast<uint64_t>(PopCount(dirty_.OrWord(w, log_.word(w))));
  }
  log_.ClearAll();
  return added;
}

}  // namespace ramstream::sim
