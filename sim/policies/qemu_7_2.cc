#include "sim/policies/qemu_7_2.h"

#include <algorithm>
#include <cstdint>

#include "protocol/wire_format.h"

namespace ramstream::sim {
namespace {

constexpr uint64_t kPage = protocol::kPageSize;
constexpr int kThrottlePctMin = 1;   // CPU_THROTTLE_PCT_MIN
constexpr int kThrottlePctMax = 99;  // CPU_THROTTLE_PCT_MAX

// The period state of migration_bitmap_sync, the two-strike trigger and
// migration_update_rates.
struct SyncPeriod {
  double start = 0;             // time_last_bitmap_sync
  uint64_t dirty_pages = 0;     // num_dirty_pages_period
  uint64_t xfer_prev = 0;       // bytes_xfer_prev (ram.transferred)
  int dirty_rate_high_cnt = 0;  // dirty_rate_high_cnt
  uint64_t target_pages = 0;    // target_page_count: pages sent by ram_save_iterate
  uint64_t target_pages_prev = 0;
  uint64_t xbzrle_miss_prev = 0;
  uint64_t xbzrle_pages_prev = 0;
  uint64_t xbzrle_bytes_prev = 0;
};

// migration_update_rates' XBZRLE part: miss rate and encoding rate of the period, kept until a
// later period sends pages.
void UpdateXbzrleRates(Engine& e, SyncPeriod& period) {
  const uint64_t page_count = period.target_pages - period.target_pages_prev;
  if (page_count == 0) return;
  const StreamCounters& c = e.counters();
  const uint64_t pages = c.xbzrle_pages + c.xbzrle_unchanged + c.xbzrle_overflow;
  const double miss_rate =
      static_cast<double>(c.xbzrle_cache_miss - period.xbzrle_miss_prev) / page_count;
  const double unencoded = static_cast<double>((pages - period.xbzrle_pages_prev) * kPage);
  const double encoded = static_cast<double>(c.xbzrle_counted_bytes - period.xbzrle_bytes_prev);
  const double encoding_rate =
      pages == period.xbzrle_pages_prev || encoded == 0 ? 0 : unencoded / encoded;
  e.ReportXbzrleRates(miss_rate, encoding_rate);
  period.xbzrle_miss_prev = c.xbzrle_cache_miss;
  period.xbzrle_pages_prev = pages;
  period.xbzrle_bytes_prev = c.xbzrle_counted_bytes;
}

// migration_bitmap_sync. `vm_stopped`: the sync of a switch-over (completion or
// postcopy_start); the throttle is not changed then (the VM is stopped, and QEMU drops the
// throttle when the migration ends).
void Sync(Engine& e, const AutoConvergeSpec& ac, SyncPeriod& period, bool vm_stopped = false) {
  period.dirty_pages += e.SyncDirtyLog();
  const double now = e.now();
  if (!(now > period.start + 1.0)) return;
  if (ac.enabled && !vm_stopped) {
    const uint64_t xfer = e.ram_transferred() - period.xfer_prev;
    const uint64_t dirty = period.dirty_pages * protocol::kPageSize;
    const uint64_t threshold = xfer * static_cast<uint64_t>(ac.trigger_threshold_pct) / 100;
    if (dirty > threshold && ++period.dirty_rate_high_cnt >= 2) {
      period.dirty_rate_high_cnt = 0;
      e.SetThrottle(NextThrottle(ac, e.throttle(), dirty, threshold));
    }
  }
  // migration_update_rates: dirty-pages-rate over the period, XBZRLE rates.
  e.ReportDirtyRate(static_cast<double>(period.dirty_pages * protocol::kPageSize) /
                    (now - period.start));
  UpdateXbzrleRates(e, period);
  period.target_pages_prev = period.target_pages;
  period.start = now;
  period.dirty_pages = 0;
  period.xfer_prev = e.ram_transferred();
}

}  // namespace

int NextThrottle(const AutoConvergeSpec& ac, int throttle_now, uint64_t bytes_dirty_period,
                 uint64_t bytes_dirty_threshold) {
  int next;
  if (throttle_now == 0) {
    next = ac.initial_pct;
  } else {
    uint64_t inc = static_cast<uint64_t>(ac.increment_pct);
    if (ac.tailslow) {
      // The CPU share at which the dirty rate would meet the threshold; step at most that far.
      const uint64_t cpu_now = static_cast<uint64_t>(100 - throttle_now);
      const uint64_t cpu_ideal = static_cast<uint64_t>(
          static_cast<double>(cpu_now) *
          (static_cast<double>(bytes_dirty_threshold) / static_cast<double>(bytes_dirty_period)));
      inc = std::min(cpu_now - cpu_ideal, inc);
    }
    next = std::min(throttle_now + static_cast<int>(inc), ac.max_pct);
  }
  return std::clamp(next, kThrottlePctMin, kThrottlePctMax);
}

void Qemu72Policy::Run(Engine& e, const MigrationSpec& m) const {
  const double max_bw = m.max_bandwidth.value_or(default_max_bandwidth());
  const double limit_s = m.downtime_limit_s.value_or(default_downtime_limit());
  const AutoConvergeSpec& ac = m.auto_converge;
  e.DescribePolicy(std::string(name()), max_bw, limit_s);
  const Differences d = differences();
  e.Setup(StreamLayout::Qemu72(m.machine_type),
          d.count_every_byte ? RamAccounting::kEveryByte : RamAccounting::kQemu72);
  e.EndSection(false);  // the setup section's EOS is not in ram.transferred
  e.EndSetup();

  // qemu_file_rate_limit: bytes written since the last reset, against max-bandwidth / 10.
  double budget = max_bw > 0 ? max_bw / kXferLimitRatio : SendLimits::kNoLimit;
  uint64_t used_base = e.wire_bytes();
  const auto used = [&] { return static_cast<double>(e.wire_bytes() - used_base); };
  // migration_update_counters' window.
  double window_start = e.now();
  double window_end = window_start + kBufferDelay;
  uint64_t window_bytes = e.wire_bytes();
  double bandwidth = 0;  // bytes per second (QEMU keeps bytes/ms)
  double threshold = 0;  // bytes; 0 until the first window ends
  SyncPeriod period;
  period.start = e.now();
  period.xfer_prev = e.ram_transferred();
  // migrate-start-postcopy, as the operator issues it.
  const PostcopySpec& pc = m.postcopy;
  const auto postcopy_requested = [&] {
    return d.postcopy && pc.enabled &&
           ((pc.start_after_s && e.now() >= *pc.start_after_s) ||
            (pc.start_after_syncs > 0 && e.dirty_sync_count() >= pc.start_after_syncs));
  };

  while (true) {
    // The run's limits also end a postcopy phase (which QEMU cannot abandon), so that every
    // simulation ends.
    if (auto why = e.LimitReached()) {
      e.CloseWindow(bandwidth, threshold);
      e.Abort(*why);
      return;
    }
    if (!e.in_postcopy() && postcopy_requested()) e.NotePostcopyRequest();
    if (used() <= budget) {
      // migration_iteration_run: ram_save_pending syncs only below the threshold, and never in
      // postcopy.
      uint64_t pending = e.dirty_bytes();
      if (!e.in_postcopy() && static_cast<double>(pending) < threshold) {
        Sync(e, ac, period);
        pending = e.dirty_bytes();
      }
      if (pending == 0 || static_cast<double>(pending) < threshold) {
        e.CloseWindow(bandwidth, threshold);
        if (e.in_postcopy()) {
          e.CompletePostcopy();
          return;
        }
        e.StopGuest();
        Sync(e, ac, period, /*vm_stopped=*/true);
        if (d.switchover_start) e.WriteFraming(kCommandHeaderBytes);
        e.StopAndCopy(/*final_sync=*/false);
        return;
      }
      // With postcopy-ram, RAM is postcopiable: the precopy-only part of pending is 0, never
      // above the threshold, so a requested switch happens at the first check.
      if (!e.in_postcopy() && postcopy_requested()) {
        // postcopy_start: stop, last sync (ram_postcopy_send_discard_bitmap), package; then
        // max-postcopy-bandwidth replaces max-bandwidth (0: unlimited).
        e.NotePostcopyRequest();  // (if the sync just above is what made it due)
        e.StopGuest();
        Sync(e, ac, period, /*vm_stopped=*/true);
        e.StartPostcopy();
        budget = pc.max_postcopy_bandwidth > 0 ? pc.max_postcopy_bandwidth / kXferLimitRatio
                                               : SendLimits::kNoLimit;
        continue;  // MIG_ITERATE_SKIP: straight to the next iteration
      }
      // ram_save_iterate.
      e.BeginIteration();
      SendLimits limits;
      limits.max_bytes = budget - used();
      limits.checkpoint_bytes = e.link().Capacity(e.now(), kMaxWait);
      // With multifd the scan overlaps the channels' writes (Engine::Transmit): the check
      // sees the link time only, which is late where the scan is the bottleneck.
      if (!e.multifd()) limits.checkpoint_page_bytes = e.page_cost_s() * e.LinkRate();
      period.target_pages += e.SendPages(limits).pages;
      e.EndSection(/*counted_eos=*/true);
    }
    // migration_rate_limit: close the window once 100 ms have passed, then sleep to the end
    // of the window if the budget is spent.
    if (e.now() >= window_end) {
      const double elapsed = e.now() - window_start;
      bandwidth = static_cast<double>(e.wire_bytes() - window_bytes) / elapsed;
      threshold = SwitchoverThreshold(bandwidth, limit_s);
      e.CloseWindow(bandwidth, threshold);
      window_start = e.now();
      window_end = window_start + kBufferDelay;
      window_bytes = e.wire_bytes();
      used_base = e.wire_bytes();
    }
    if (used() > budget) e.IdleUntil(window_end);
  }
}

}  // namespace ramstream::sim
