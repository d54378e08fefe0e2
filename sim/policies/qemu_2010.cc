#include "sim/policies/qemu_2010.h"

#include <algorithm>

#include "protocol/wire_format.h"

namespace ramstream::sim {

void Qemu2010Policy::Run(Engine& e, const MigrationSpec& m) const {
  const double max_bw = m.max_bandwidth.value_or(default_max_bandwidth());
  const double limit_s = m.downtime_limit_s.value_or(default_downtime_limit());
  e.DescribePolicy(std::string(name()), max_bw, limit_s);
  // Stage 1 syncs, marks everything dirty and writes MEM_SIZE (Setup), then sends pages.
  e.Setup(StreamLayout::Qemu2010(), RamAccounting::kPayloadOnly);
  e.EndSetup();

  const double budget = max_bw > 0 ? max_bw / 10 : SendLimits::kNoLimit;
  double tick_end = e.now() + kTick;
  uint64_t tick_bytes = e.wire_bytes();
  bool stage1 = true;
  while (true) {
    if (auto why = e.LimitReached()) {
      e.CloseWindow(0, 0);
      e.Abort(*why);
      return;
    }
    if (!stage1) {
      const uint64_t added = e.SyncDirtyLog();
      e.ReportDirtyRate(static_cast<double>(added * protocol::kPageSize) / kTick);
      e.BeginIteration();
    }
    const double t0 = e.now();
    const uint64_t payload0 = e.ram_transferred();
    SendLimits limits;
    // The tick's budget, and no more than the link carries before the next tick.
    limits.max_bytes =
        std::max(0.0, std::min(budget - static_cast<double>(e.wire_bytes() - tick_bytes),
                               e.link().Capacity(e.now(), tick_end - e.now()) - 1));
    e.SendPages(limits);
    const uint64_t payload = e.ram_transferred() - payload0;
    const double ns = (e.now() - t0) * 1e9;
    // bytes per ns; 1e-6 when nothing went out, as in ram_save_live.
    const double bwidth = payload == 0 || ns <= 0 ? 1e-6 : static_cast<double>(payload) / ns;
    e.WriteEos(false);
    const double expected_ns = static_cast<double>(e.dirty_pages() * protocol::kPageSize) / bwidth;
    if (!stage1 && expected_ns <= limit_s * 1e9) {
      e.CloseWindow(bwidth * 1e9, SwitchoverThreshold(bwidth * 1e9, limit_s));
      e.StopAndCopy(/*final_sync=*/true);
      return;
    }
    stage1 = false;
    e.IdleUntil(tick_end);
    e.CloseWindow(bwidth * 1e9, SwitchoverThreshold(bwidth * 1e9, limit_s));
    tick_end = std::max(tick_end, e.now()) + kTick;
    tick_bytes = e.wire_bytes();
  }
}

}  // namespace ramstream::sim
