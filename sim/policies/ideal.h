// "ideal": exactly the closed-form pre-copy model's assumptions (docs simulation-models.md
// section 1). Pages go out back to back at the link rate (or max-bandwidth, if set); a round
// sends the whole migration bitmap, then the dirty log is synced; the VM stops as soon as what
// remains after a sync is <= rate x downtime-limit. Stop-and-copy runs at the link rate. No
// auto-converge, no 100 ms windows in the decision (they only shape the time series).
#ifndef RAMSTREAM_SIM_POLICIES_IDEAL_H_
#define RAMSTREAM_SIM_POLICIES_IDEAL_H_

#include "sim/policies/policy.h"

namespace ramstream::sim {

class IdealPolicy : public Policy {
 public:
  std::string_view name() const override { return "ideal"; }
  std::string_view summary() const override {
    return "closed-form model: whole rounds at link rate, stop when remaining <= rate x limit";
  }
  double default_max_bandwidth() const override { return 0; }
  double default_downtime_limit() const override { return 0.3; }
  bool supports_auto_converge() const override { return false; }
  void Run(Engine& engine, const MigrationSpec& migration) const override;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_POLICIES_IDEAL_H_
