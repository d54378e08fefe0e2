#include "sim/policies/qemu_7_2.h"

#include <algorithm>
#include <cstdint>

#include "protocol/wire_format.h"

namespace ramstream::sim {
namespace {

constexpr int kThrottlePctMin = 1;   // CPU_THROTTLE_PCT_MIN
constexpr int kThrottlePctMax = 99;  // CPU_THROTTLE_PCT_MAX

// The period state of migration_bitmap_sync and the two-strike trigger.
struct SyncPeriod {
  double start = 0;             // time_last_bitmap_sync
  uint64_t dirty_pages = 0;     // num_dirty_pages_period
  uint64_t xfer_prev = 0;       // bytes_xfer_prev (ram.transferred)
  int dirty_rate_high_cnt = 0;  // dirty_rate_high_cnt
};

void Sync(Engine& e, const AutoConvergeSpec& ac, SyncPeriod& period) {
  period.dirty_pages += e.SyncDirtyLog();
  const double now = e.now();
  if (!(now > period.start + 1.0)) return;
  if (ac.enabled) {
    const uint64_t xfer = e.ram_transferred() - period.xfer_prev;
    const uint64_t dirty = period.dirty_pages * protocol::kPageSize;
    const uint64_t threshold = xfer * static_cast<uint64_t>(ac.trigger_threshold_pct) / 100;
    if (dirty > threshold && ++period.dirty_rate_high_cnt >= 2) {
      period.dirty_rate_high_cnt = 0;
      e.SetThrottle(NextThrottle(ac, e.throttle(), dirty, threshold));
    }
  }
  // migration_update_rates: dirty-pages-rate over the period.
  e.ReportDirtyRate(static_cast<double>(period.dirty_pages * protocol::kPageSize) /
                    (now - period.start));
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
  e.Setup(StreamLayout::Qemu72(m.machine_type), RamAccounting::kQemu72);
  e.EndSection(false);  // the setup section's EOS is not in ram.transferred
  e.EndSetup();

  // qemu_file_rate_limit: bytes written since the last reset, against max-bandwidth / 10.
  const double budget = max_bw > 0 ? max_bw / kXferLimitRatio : SendLimits::kNoLimit;
  uint64_t used_base = e.wire_bytes();
  const auto used = [&] { return static_cast<double>(e.wire_bytes() - used_base); };
  // migration_update_counters' window.
  double window_start = e.now();
  double window_end = window_start + kBufferDelay;
  uint64_t window_bytes = e.wire_bytes();
  double bandwidth = 0;  // bytes per second (QEMU keeps bytes/ms)
  double threshold = 0;  // bytes; 0 until the first window ends
  SyncPeriod period{e.now(), 0, e.ram_transferred(), 0};

  while (true) {
    if (auto why = e.LimitReached()) {
      e.CloseWindow(bandwidth, threshold);
      e.Abort(*why);
      return;
    }
    if (used() <= budget) {
      // migration_iteration_run: ram_save_pending syncs only below the threshold.
      uint64_t pending = e.dirty_bytes();
      if (static_cast<double>(pending) < threshold) {
        Sync(e, ac, period);
        pending = e.dirty_bytes();
      }
      if (pending == 0 || static_cast<double>(pending) < threshold) {
        e.CloseWindow(bandwidth, threshold);
        e.StopAndCopy(/*final_sync=*/true);
        return;
      }
      // ram_save_iterate.
      e.BeginIteration();
      SendLimits limits;
      limits.max_bytes = budget - used();
      limits.checkpoint_bytes = e.link().Capacity(e.now(), kMaxWait);
      e.SendPages(limits);
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
