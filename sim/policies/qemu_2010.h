// "qemu-2010": the migration loop of the a55bbe31 era (docs ram-stream-format.md section 5.1;
// arch_init.c ram_save_live, buffered_file.c, migration.c).
//
// - A 100 ms tick refills a budget of max-bandwidth / 10 (default 32 MiB/s); each tick runs one
//   ram_save_live call, which first syncs the whole dirty bitmap (every call is a sync), then
//   sends pages until the tick's budget is spent (or the link has carried what it can in the
//   tick), then EOS.
// - Stage 1 (the first call) also writes MEM_SIZE; its pages travel in the START section.
// - After a stage-2 call: bwidth = payload bytes sent in the call / ns the call took (pages go
//   out at link speed, so this measures the burst, not the throttled average) and
//   expected_time = dirty pages x 4096 / bwidth; the stage is done when expected_time <= the
//   downtime limit (default 30 ms).
// - Stage 3: VM stopped, sync, all remaining pages unthrottled, EOS, device state, EOF.
// No auto-converge, no XBZRLE, no section footers; ram "transferred" counts payload bytes
// only (4096 per page, 1 per zero page).
#ifndef RAMSTREAM_SIM_POLICIES_QEMU_2010_H_
#define RAMSTREAM_SIM_POLICIES_QEMU_2010_H_

#include "sim/policies/policy.h"

namespace ramstream::sim {

class Qemu2010Policy : public Policy {
 public:
  static constexpr double kDefaultMaxBandwidth = 32.0 * 1024 * 1024;  // max_throttle
  static constexpr double kTick = 0.1;

  std::string_view name() const override { return "qemu-2010"; }
  std::string_view summary() const override {
    return "QEMU 0.13 era: sync every 100 ms tick, expected_time vs 30 ms, 32 MiB/s";
  }
  double default_max_bandwidth() const override { return kDefaultMaxBandwidth; }
  double default_downtime_limit() const override { return 0.03; }
  bool supports_auto_converge() const override { return false; }
  void Run(Engine& engine, const MigrationSpec& migration) const override;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_POLICIES_QEMU_2010_H_
