// "qemu-10": QEMU 10.x's precopy migration thread, as far as it differs from 7.2's (docs
// ram-stream-format.md sections 5.4 and 6; migration.c migration_iteration_run,
// migration_completion; ram.c ram_state_pending_estimate / ram_state_pending_exact).
//
// - Pending: the estimate (dirty pages x 4096, no sync) first; only when it is below the
//   threshold the exact one (a sync), then completion if pending < threshold. The same
//   sequence of syncs as 7.2's ram_save_pending, which synced below the threshold.
// - ram.transferred counts every byte written (migration_transferred_bytes: headers, device
//   state, EOF included), and so does the auto-converge trigger's transferred-in-period.
// - Completion sends SWITCHOVER_START (5 bytes) before the END section (send-switchover-start,
//   on for machine types above 9.2).
// Not modelled: multifd, avail-switchover-bandwidth, dirty-limit, switchover-ack, the periodic
// background sync under throttling, 10.x's configuration section contents (7.2's layout is
// used), postcopy (use qemu-7.2).
#ifndef RAMSTREAM_SIM_POLICIES_QEMU_10_H_
#define RAMSTREAM_SIM_POLICIES_QEMU_10_H_

#include "sim/policies/qemu_7_2.h"

namespace ramstream::sim {

class Qemu10Policy : public Qemu72Policy {
 public:
  std::string_view name() const override { return "qemu-10"; }
  std::string_view summary() const override {
    return "QEMU 10.x: 7.2's loop, pending estimate/exact, every byte in ram.transferred, "
           "SWITCHOVER_START";
  }

 protected:
  Differences differences() const override {
    Differences d;
    d.count_every_byte = true;
    d.switchover_start = true;
    d.postcopy = false;
    return d;
  }
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_POLICIES_QEMU_10_H_
