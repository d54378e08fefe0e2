// The sending side of pre-copy: walks the migration bitmap the way QEMU's
// ram_find_and_save_block does and accounts every page record byte for byte.
//
// - The walk is circular and its position persists across calls and across bitmap syncs (QEMU
//   keeps last_seen_block / last_page); only Reset() (setup) moves it back to the start.
// - CONTINUE is decided against the last block sent, which also persists across calls and is
//   reset only at setup, so the first page after a block change names its block.
// - A page is a ZERO record if its content is zero when it is sent, else a PAGE record, or,
//   with an XBZRLE cache, after the first complete pass (QEMU 7.2's xbzrle_enabled), an XBZRLE
//   record when the page is in the cache (see EnableXbzrle).
//
// Whole bitmap words are accounted with popcounts when no limit can stop the walk inside them;
// otherwise, and whenever an observer is attached, pages are sent one by one.
#ifndef RAMSTREAM_SIM_ENGINE_SENDER_H_
#define RAMSTREAM_SIM_ENGINE_SENDER_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "sim/engine/accounting.h"
#include "sim/engine/ram_state.h"

namespace ramstream::sim {

// Sees every page record, in stream order (tests replay them through protocol::Encoder).
class SendObserver {
 public:
  virtual ~SendObserver() = default;
  virtual void OnSetup(const RamState& ram) = 0;  // MEM_SIZE written, last block forgotten
  virtual void OnPage(size_t block, uint64_t page, bool zero, bool named) = 0;
  virtual void OnEos() = 0;
  // An XBZRLE record with a delta of `encoded` bytes (only with an XBZRLE cache).
  virtual void OnXbzrlePage(size_t /*block*/, uint64_t /*page*/, uint64_t /*encoded*/,
                            bool /*named*/) {}
};

struct SendLimits {
  static constexpr double kNoLimit = std::numeric_limits<double>::infinity();
  // Rate budget: a page is sent only while the bytes sent so far in this call are <= max_bytes
  // (QEMU checks qemu_file_rate_limit before each page, so the last page may overshoot).
  double max_bytes = kNoLimit;
  // Time budget as bytes (QEMU 7.2's 50 ms MAX_WAIT): after the 1st, 65th, 129th ... page,
  // stop once the bytes sent, plus checkpoint_page_bytes per page, exceed this.
  double checkpoint_bytes = kNoLimit;
  // The sender's own time per page (Engine's page cost) in link bytes. QEMU's check is on
  // wall time, so a CPU-bound sender ends its 50 ms on fewer bytes than the link could carry.
  double checkpoint_page_bytes = 0;
  uint64_t max_pages = std::numeric_limits<uint64_t>::max();
};

struct SendResult {
  uint64_t bytes = 0;  // page record bytes written
  uint64_t pages = 0;
  uint64_t zero_pages = 0;
  uint64_t normal_pages = 0;
  bool exhausted = false;  // the migration bitmap is empty
};

class PageSender {
 public:
  // `ram` and `counters` must outlive the sender; `observer` may be null.
  PageSender(RamState* ram, StreamCounters* counters, SendObserver* observer);

  // Setup: the walk starts again at the first block and the next page names its block.
  void Reset();
  // QEMU 7.2's XBZRLE page cache (migration/page_cache.c), from the end of the first complete
  // pass over RAM: direct-mapped, bit_floor(cache_bytes / 4096) slots indexed by page number
  // (the simulator's bit space stands for ram_addr), a hit refreshes the slot's age, an insert
  // does not evict another page's slot younger than 2 generations (dirty-bitmap syncs). A
  // miss inserts the page (except in the last stage) and sends PAGE; a ZERO page is inserted
  // too; a hit sends an XBZRLE delta of `encoded_bytes` (pages carry no content in the
  // simulator: every rewrite changes the same amount), none at all if 0 (unchanged), or PAGE
  // if it exceeds a page (overflow).
  void EnableXbzrle(uint64_t cache_bytes, uint64_t encoded_bytes);
  // QEMU 7.2's multifd with `channels` channels (no compression): a page that is not zero is
  // queued for a packet (multifd_queue_page), which is sent, header and pages, once it holds
  // kMultifdPacketPages pages or a page of another block comes; zero pages stay ZERO records in
  // the main stream, and only those set last_sent_block. A packet's bytes count when it is
  // sent, as QEMU accounts them. The observer sees the main stream only.
  void EnableMultifd(uint32_t channels) { multifd_channels_ = channels; }
  bool multifd() const { return multifd_channels_ > 0; }
  // multifd_send_sync_main: the queued packet, if any, then a sync packet per channel.
  // Returns the bytes sent.
  uint64_t MultifdSync();
  // The cache's clock: the dirty-sync count.
  void SetGeneration(uint64_t generation) { generation_ = generation; }
  // Completion (QEMU's last_stage): misses no longer insert.
  void SetLastStage() { last_stage_ = true; }
  // Postcopy (QEMU 7.2 ram_postcopy_send_discard_bitmap, ram_save_page): the walk starts again
  // at the first block, the next page names its block, and XBZRLE is no longer used (the
  // destination's postcopy loader rejects it).
  void StartPostcopy();
  SendResult Send(const SendLimits& limits);
  // Sends page `bit` now if it is still in the migration bitmap (a postcopy page request); the
  // walk continues after it, as QEMU 7.2's ram_find_and_save_block does after a queued page.
  SendResult SendPage(uint64_t bit);
  // The next bit the walk looks at.
  uint64_t position() const { return pos_; }

 private:
  // Sends the pages of `mask` (a subset of word w's dirty bits) in block b. Returns false if a
  // limit stopped it; the pages before the stop are sent.
  bool SendWord(size_t w, size_t b, uint64_t mask, const SendLimits& limits, SendResult* r);
  bool xbzrle_active() const { return !cache_page_.empty() && first_pass_done_ && !postcopy_; }
  uint64_t SendMultifdPacket();  // the queued pages; returns the bytes
  // ram_save_iterate's time check after the 1st, 65th, 129th ... page.
  static bool CheckpointReached(const SendLimits& limits, const SendResult& r);
  bool CacheHit(uint64_t bit);
  void CacheInsert(uint64_t bit);

  RamState* ram_;
  StreamCounters* counters_;
  SendObserver* observer_;
  std::vector<uint64_t> idstr_bytes_;  // per block: 1 + len(idstr)
  uint64_t pos_ = 0;                   // next bit the walk looks at
  int64_t last_block_ = -1;            // QEMU's last_sent_block
  // XBZRLE: per slot the page cached (kNoPage: none) and its age.
  static constexpr uint64_t kNoPage = ~uint64_t{0};
  std::vector<uint64_t> cache_page_;
  std::vector<uint64_t> cache_age_;
  uint64_t encoded_bytes_ = 0;
  bool first_pass_done_ = false;
  bool last_stage_ = false;
  bool postcopy_ = false;
  uint64_t generation_ = 0;
  uint32_t multifd_channels_ = 0;
  int64_t multifd_block_ = -1;  // block of the queued pages
  uint64_t multifd_queued_ = 0;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_ENGINE_SENDER_H_
