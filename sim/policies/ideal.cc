#include "sim/policies/ideal.h"

#include <algorithm>

#include "protocol/wire_format.h"

namespace ramstream::sim {
namespace {

constexpr double kWindow = 0.1;  // series granularity only

}  // namespace

void IdealPolicy::Run(Engine& e, const MigrationSpec& m) const {
  const double cap = m.max_bandwidth.value_or(default_max_bandwidth());
  const double limit = m.downtime_limit_s.value_or(default_downtime_limit());
  e.DescribePolicy(std::string(name()), cap, limit);
  e.Setup(StreamLayout::Qemu72(m.machine_type), RamAccounting::kQemu72);
  e.EndSection(false);
  e.EndSetup();
  e.SetRateCap(cap);
  const auto rate = [&] { return cap > 0 ? std::min(cap, e.LinkRate()) : e.LinkRate(); };

  double window_end = e.now() + kWindow;
  double round_start = e.now();
  while (true) {
    const double threshold = SwitchoverThreshold(rate(), limit);
    if (static_cast<double>(e.dirty_bytes()) <= threshold) {
      e.CloseWindow(rate(), threshold);
      e.StopAndCopy(/*final_sync=*/false);  // the VM stops right at the round's sync
      return;
    }
    e.BeginIteration();
    while (e.dirty_pages() > 0) {
      if (auto why = e.LimitReached()) {
        e.CloseWindow(rate(), threshold);
        e.Abort(*why);
        return;
      }
      SendLimits limits;
      // Up to the window's end; at least one page, so time always moves.
      limits.max_bytes = std::max(0.0, e.link().Capacity(e.now(), window_end - e.now(), cap) - 1);
      e.SendPages(limits);
      if (e.now() >= window_end) {
        e.CloseWindow(rate(), threshold);
        window_end = e.now() + kWindow;
      }
    }
    e.EndSection(true);
    const uint64_t added = e.SyncDirtyLog();
    if (e.now() > round_start) {
      e.ReportDirtyRate(static_cast<double>(added * protocol::kPageSize) / (e.now() - round_start));
    }
    round_start = e.now();
  }
}

}  // namespace ramstream::sim
