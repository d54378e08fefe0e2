// "qemu-7.2": QEMU 7.2's precopy migration thread (docs ram-stream-format.md section 5.3;
// migration.c migration_thread, migration_iteration_run, migration_rate_limit,
// migration_update_counters; ram.c ram_save_pending, ram_save_iterate, migration_bitmap_sync,
// migration_trigger_throttle, mig_throttle_guest_down).
//
// - Rate windows of >= 100 ms: a budget of max-bandwidth / 10 bytes per window; over budget
//   the thread sleeps to the window's end. At each window end: bandwidth = bytes written in the
//   window / ms, threshold = bandwidth x downtime-limit (0 until the first window ends).
// - Each loop: pending = dirty pages x 4096; only if pending < threshold is the bitmap synced
//   (then pending is re-read); if pending is 0 or < threshold, completion; otherwise one
//   ram_save_iterate: pages until the budget is spent, 50 ms pass (checked every 64 pages) or
//   none is left, then EOS (8 bytes added to ram.transferred).
// - dirty-sync-count: 1 at setup, +1 per sync above, +1 at completion.
// - Auto-converge at a sync more than 1 s after the period start: if bytes dirtied in the
//   period > throttle-trigger-threshold% of ram.transferred in the period, on the 2nd such
//   period throttle: initial, then +increment (tailslow: min(increment, cpu_now - cpu_ideal)),
//   capped at max-cpu-throttle.
// - Completion: VM stopped, final sync, everything left without rate limit (so the downtime
//   depends on the link, not on max-bandwidth), device state, EOF.
// - At each sync > 1 s after the period start, migration_update_rates also sets XBZRLE's
//   cache-miss-rate (misses / pages sent by iterations in the period) and encoding-rate (hit
//   pages x 4096 / their bytes, 0 without hits or bytes), unless the period sent no pages.
// - Postcopy (postcopy_start, ram_postcopy_send_discard_bitmap): once migrate-start-postcopy
//   is issued, the next loop with pending >= threshold stops the VM, syncs, and switches; the
//   budget becomes max-postcopy-bandwidth / 10 (unlimited if 0); iterations go on without
//   syncs until pending < threshold, then completion sends the rest unthrottled. The
//   destination's page requests are served by the engine (Engine::StartPostcopy).
#ifndef RAMSTREAM_SIM_POLICIES_QEMU_7_2_H_
#define RAMSTREAM_SIM_POLICIES_QEMU_7_2_H_

#include "sim/policies/policy.h"

namespace ramstream::sim {

class Qemu72Policy : public Policy {
 public:
  static constexpr double kDefaultMaxBandwidth = 128.0 * 1024 * 1024;  // 128 MiB/s (5.2+)
  static constexpr double kBufferDelay = 0.1;  // BUFFER_DELAY: rate window, 100 ms
  static constexpr double kXferLimitRatio = 10;
  static constexpr double kMaxWait = 0.05;  // ram_save_iterate's MAX_WAIT, 50 ms

  std::string_view name() const override { return "qemu-7.2"; }
  std::string_view summary() const override {
    return "QEMU 7.2: 100 ms rate windows, sync below threshold, auto-converge";
  }
  double default_max_bandwidth() const override { return kDefaultMaxBandwidth; }
  double default_downtime_limit() const override { return 0.3; }
  bool supports_auto_converge() const override { return true; }
  void Run(Engine& engine, const MigrationSpec& migration) const override;

 protected:
  // What later versions change in this loop (sim/policies/qemu_10.h).
  struct Differences {
    bool count_every_byte = false;  // ram.transferred and the throttle's xfer: every byte
    bool switchover_start = false;  // a SWITCHOVER_START command before END
    bool postcopy = true;           // modelled only for 7.2
  };
  virtual Differences differences() const { return {}; }
};

// mig_throttle_guest_down: the next throttle percentage after a trigger. Exposed for tests.
int NextThrottle(const AutoConvergeSpec& ac, int throttle_now, uint64_t bytes_dirty_period,
                 uint64_t bytes_dirty_threshold);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_POLICIES_QEMU_7_2_H_
