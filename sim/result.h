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
  kPostcopy,       // switched to postcopy and completed: every page reached the destination
};
// "converged", "timeout", "sync_limit", "transfer_limit", "postcopy".
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

// QEMU 7.2's query-migrate `xbzrle-cache` (migration/ram.c save_xbzrle_page,
// migration_update_rates): only with an XBZRLE cache.
struct XbzrleStats {
  bool enabled = false;
  uint64_t cache_size = 0;  // xbzrle-cache-size, bytes
  // Delta records less their 8-byte page header (idstr, encoding byte, be16 length, delta),
  // plus 4096 per overflow.
  uint64_t bytes = 0;
  uint64_t pages = 0;       // cache hits: delta records, unchanged pages and overflows
  uint64_t cache_miss = 0;  // misses after the first pass, the last stage included
  uint64_t overflow = 0;    // hits whose delta would exceed a page (sent as PAGE)
  // Of the last >= 1 s dirty-sync period that sent pages (in iterations): misses / pages sent,
  // and hit pages x 4096 / bytes (0 if no hit or no bytes). 0 until such a period ends.
  double cache_miss_rate = 0;
  double encoding_rate = 0;
};

// QEMU 7.2's multifd (query-migrate ram.multifd-bytes), only with the capability.
struct MultifdStats {
  bool enabled = false;
  uint32_t channels = 0;
  uint64_t bytes = 0;         // ram.multifd-bytes: packet headers and pages, sync packets
  uint64_t pages = 0;         // pages sent in packets (part of pages_normal)
  uint64_t packets = 0;       // packets with pages
  uint64_t sync_packets = 0;  // one per channel per multifd_send_sync_main
};

// The postcopy switch (QEMU 7.2 postcopy_start) and what followed.
struct PostcopyStats {
  bool enabled = false;        // the postcopy-ram capability
  bool requested = false;      // migrate-start-postcopy was issued
  double requested_s = 0;      // when
  bool started = false;        // postcopy_start ran
  double start_s = 0;          // the source VM stopped for the switch
  double resume_s = 0;         // the destination runs the guest (package received, restarted)
  double end_s = 0;            // the destination has every page
  double time_s = 0;           // end_s - resume_s: the guest runs degraded, faulting on pages
  uint64_t requests = 0;       // postcopy-requests: pages the destination asked for
  uint64_t pages = 0;          // page records sent after the switch
  uint64_t discard_bytes = 0;  // POSTCOPY_RAM_DISCARD commands
  uint64_t package_bytes = 0;  // the PACKAGED command (LISTEN, device state, PING, RUN)
  double guest_speed = 1;      // the destination guest's average speed while degraded (0..1)
};

struct SimResult {
  std::string scenario;
  std::string policy;
  uint64_t seed = 0;

  Outcome outcome = Outcome::kTimeout;
  bool converged() const { return outcome == Outcome::kConverged; }
  // Every page reached the destination (converged, or completed in postcopy).
  bool completed() const { return converged() || outcome == Outcome::kPostcopy; }

  uint64_t ram_bytes = 0;
  double max_bandwidth = 0;  // bytes/s the policy used, 0 = unlimited
  double downtime_limit_s = 0;

  double setup_time_s = 0;  // until the first iteration could start
  double total_time_s = 0;  // until the destination runs (or until the run gave up)
  // VM stopped -> destination runs; 0 if not completed. Postcopy: as QEMU 7.2 measures it
  // (postcopy_start: VM stopped -> PACKAGED written; the guest runs at postcopy.resume_s).
  double downtime_s = 0;
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
  // QEMU 7.2's precopy-bytes, downtime-bytes, postcopy-bytes: each ram.transferred byte by run
  // state when sent (running, stopped, postcopy). They add up to ram_transferred_bytes.
  uint64_t ram_precopy_bytes = 0;
  uint64_t ram_downtime_bytes = 0;
  uint64_t ram_postcopy_bytes = 0;

  int max_throttle_pct = 0;
  int final_throttle_pct = 0;

  XbzrleStats xbzrle;
  MultifdStats multifd;
  PostcopyStats postcopy;

  std::vector<SyncSample> syncs;
  std::vector<WindowSample> series;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_RESULT_H_
