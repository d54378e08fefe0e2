// What a simulation run reports: the outcome and why, times, bytes by kind, page and sync
// counts, throttling, one sample per dirty-bitmap sync and a per-window time series.
#ifndef RAMSTREAM_SIM_RESULT_H_
#define RAMSTREAM_SIM_RESULT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sim/engine/accounting.h"

namespace ramstream::sim {

enum class Outcome {
  kConverged,      // switched over: stop-and-copy done
  kTimeout,        // run.timeout of simulated pre-copy time passed
  kSyncLimit,      // run.max_dirty_syncs reached
  kTransferLimit,  // run.max_transferred bytes sent
};
// "converged", "timeout", "sync_limit", "transfer_limit".
std::string_view OutcomeName(Outcome outcome);

// One dirty-bitmap sync (QEMU's migration_bitmap_sync).
struct SyncSample {
  double t_s = 0;
  uint64_t sync_count = 0;   // dirty-sync-count after this sync
  uint64_t new_pages = 0;    // pages the log added to the migration bitmap
  uint64_t dirty_pages = 0;  // migration bitmap after the sync
  uint64_t pages_sent = 0;   // pages sent since the previous sync
};

// One rate window (QEMU 7.2: migration_update_counters, about every 100 ms).
struct WindowSample {
  double t_start_s = 0;
  double t_end_s = 0;
  uint64_t sent_bytes = 0;        // every byte written in the window
  uint64_t remaining_bytes = 0;   // migration bitmap x page size at the window's end
  double dirty_rate = 0;          // bytes/s, as the policy last measured it (QEMU: >= 1 s periods)
  double write_rate = 0;          // bytes/s of page writes the guest issues (after throttling)
  double bandwidth_estimate = 0;  // bytes/s, the policy's estimate
  double threshold_bytes = 0;     // the policy's switch-over threshold
  int throttle_pct = 0;
  uint64_t dirty_sync_count = 0;
};

struct SimResult {
  std::string scenario;
  std::string policy;
  uint64_t seed = 0;

  Outcome outcome = Outcome::kTimeout;
  bool converged() const { return outcome == Outcome::kConverged; }

  uint64_t ram_bytes = 0;
  double max_bandwidth = 0;  // bytes/s the policy used, 0 = unlimited
  double downtime_limit_s = 0;

  double setup_time_s = 0;    // until the first iteration could start
  double total_time_s = 0;    // until the destination runs (or until the run gave up)
  double downtime_s = 0;      // VM stopped -> destination runs; 0 if not converged
  double precopy_time_s = 0;  // setup end -> VM stopped (or gave up)

  uint64_t transferred_bytes = 0;      // every byte on the wire
  uint64_t ram_transferred_bytes = 0;  // the version's RAM counter (7.2: ram.transferred)
  StreamCounters bytes;
  uint64_t dirty_sync_count = 0;
  uint64_t iterations = 0;  // PART sections (QEMU: ram_save_iterate calls)
  // Given up: what a switch-over at that moment would still have to send (migration bitmap
  // plus the writes since the last sync). 0 after a switch-over.
  uint64_t remaining_bytes = 0;
  uint64_t downtime_bytes = 0;  // bytes sent while the VM was stopped

  int max_throttle_pct = 0;
  int final_throttle_pct = 0;

  std::vector<SyncSample> syncs;
  std::vector<WindowSample> series;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_RESULT_H_
