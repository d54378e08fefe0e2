// The guest's RAM as the simulator sees it: the RAM blocks, which pages hold only zeros, the
// dirty log the guest's writes go to (KVM's), and the migration bitmap the sender walks.
//
// Bit space: each block starts on a 64-page boundary, so no bitmap word spans two blocks.
//
//   block 0 (100 pages)        pad  block 1 (64 pages)   ...
//   |word 0 ........|word 1 ...|xx| |word 2 ............|
//
// Padding bits are never set in any bitmap.
#ifndef RAMSTREAM_SIM_ENGINE_RAM_STATE_H_
#define RAMSTREAM_SIM_ENGINE_RAM_STATE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sim/engine/bitmap.h"

namespace ramstream::sim {

enum class ZeroLayout {
  kSpread,  // non-zero pages spread evenly through each block (default)
  kFront,   // non-zero pages first, zero pages at the end of each block
};

// Pages [first, end) of a block.
struct PageRange {
  uint64_t first = 0;
  uint64_t end = 0;
};

struct RamBlockSpec {
  std::string name;
  uint64_t pages = 0;
  double nonzero_fraction = 1.0;
  // If set, exactly these pages hold data at the start (the layout and nonzero_fraction are
  // ignored): a measured map, e.g. from a real guest's stream (scripts/qemu-grid).
  // REQUIRES: sorted, disjoint, inside the block.
  std::optional<std::vector<PageRange>> nonzero_pages = std::nullopt;
};

struct RamBlockLayout {
  std::string name;
  uint64_t pages = 0;
  uint64_t first_bit = 0;  // multiple of 64
  size_t first_word() const { return static_cast<size_t>(first_bit >> 6); }
  size_t end_word() const { return static_cast<size_t>((first_bit + pages + 63) >> 6); }
};

class RamState {
 public:
  // REQUIRES: at least one block, every block with pages > 0.
  RamState(const std::vector<RamBlockSpec>& blocks, ZeroLayout layout);

  const std::vector<RamBlockLayout>& blocks() const { return blocks_; }
  uint64_t total_pages() const { return total_pages_; }
  uint64_t num_bits() const { return dirty_.bits(); }
  size_t num_words() const { return dirty_.num_words(); }
  // Index of the block holding word w (or bit). REQUIRES: inside some block.
  size_t BlockOfWord(size_t w) const;
  // Valid (non-padding) bits of word w.
  uint64_t ValidMask(size_t w) const;

  // --- Guest side: a write marks the page in the dirty log and makes it non-zero.
  void Touch(uint64_t bit) { TouchWord(static_cast<size_t>(bit >> 6), uint64_t{1} << (bit & 63)); }
  void TouchWord(size_t w, uint64_t mask) {
    log_.OrWord(w, mask);
    if (frozen_) return;
    const uint64_t was_zero = zero_.ClearWord(w, mask);
    if (was_zero != 0) pending_zero_ -= static_cast<uint64_t>(PopCount(was_zero & dirty_.word(w)));
  }
  // REQUIRES: [first_bit, first_bit + n) inside one block.
  void TouchRange(uint64_t first_bit, uint64_t n);
  // Pages written since the last sync.
  uint64_t log_pages() const { return log_.count(); }
  // Postcopy: the guest now runs on the destination. Its writes still go to the log (to find
  // the pages it touches), but no longer change what the source sends.
  void FreezeContents() { frozen_ = true; }
  // Appends to `bits` the pages written since the last call (or sync) that are still in the
  // migration bitmap, in bit order, and clears the log.
  void TakeLoggedDirty(std::vector<uint64_t>* bits);

  // --- Migration side.
  // Puts every page of every block into the migration bitmap (setup).
  void MarkAllDirty();
  // Merges the dirty log into the migration bitmap and clears the log (a bitmap sync). Returns
  // the pages that were not already in the migration bitmap (QEMU's num_dirty_pages_period).
  uint64_t SyncLog();
  const PageBitmap& dirty() const { return dirty_; }
  uint64_t dirty_pages() const { return dirty_.count(); }
  // Pages a sync right now would leave in the migration bitmap (bitmap | log), without
  // syncing.
  uint64_t DirtyPagesAfterSync() const;
  // Removes `mask` of word w from the migration bitmap (the pages are being sent).
  void TakeDirty(size_t w, uint64_t mask) {
    dirty_.ClearWord(w, mask);
    pending_zero_ -= static_cast<uint64_t>(PopCount(mask & zero_.word(w)));
  }
  uint64_t ZeroMask(size_t w) const { return zero_.word(w); }
  uint64_t zero_pages() const { return zero_.count(); }
  // Zero pages still waiting in the migration bitmap. While this is non-zero the order of
  // writes and sends decides whether a page goes out as ZERO or PAGE.
  uint64_t pending_zero_pages() const { return pending_zero_; }

 private:
  std::vector<RamBlockLayout> blocks_;
  uint64_t total_pages_ = 0;
  PageBitmap log_;    // KVM dirty log: written since the last sync
  PageBitmap dirty_;  // migration bitmap: still to send
  PageBitmap zero_;   // page content is all zero
  uint64_t pending_zero_ = 0;
  bool frozen_ = false;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_ENGINE_RAM_STATE_H_
