// The sending side of pre-copy: walks the migration bitmap the way QEMU's
// ram_find_and_save_block does and accounts every page record byte for byte.
//
// - The walk is circular and its position persists across calls and across bitmap syncs (QEMU
//   keeps last_seen_block / last_page); only Reset() (setup) moves it back to the start.
// - CONTINUE is decided against the last block sent, which also persists across calls and is
//   reset only at setup, so the first page after a block change names its block.
// - A page is a ZERO record if its content is zero when it is sent, else a PAGE record.
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
};

struct SendLimits {
  static constexpr double kNoLimit = std::numeric_limits<double>::infinity();
  // Rate budget: a page is sent only while the bytes sent so far in this call are <= max_bytes
  // (QEMU checks qemu_file_rate_limit before each page, so the last page may overshoot).
  double max_bytes = kNoLimit;
  // Time budget as bytes (QEMU 7.2's 50 ms MAX_WAIT): after the 1st, 65th, 129th ... page,
  // stop once the bytes sent exceed this.
  double checkpoint_bytes = kNoLimit;
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
  SendResult Send(const SendLimits& limits);
  // The next bit the walk looks at.
  uint64_t position() const { return pos_; }

 private:
  // Sends the pages of `mask` (a subset of word w's dirty bits) in block b. Returns false if a
  // limit stopped it; the pages before the stop are sent.
  bool SendWord(size_t w, size_t b, uint64_t mask, const SendLimits& limits, SendResult* r);

  RamState* ram_;
  StreamCounters* counters_;
  SendObserver* observer_;
  std::vector<uint64_t> idstr_bytes_;  // per block: 1 + len(idstr)
  uint64_t pos_ = 0;                   // next bit the walk looks at
  int64_t last_block_ = -1;            // QEMU's last_sent_block
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_ENGINE_SENDER_H_
