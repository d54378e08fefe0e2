// Migration policies: named, versioned strategies behind one interface. Each one drives the
// engine the way one QEMU version's migration thread does (or, for "ideal", exactly as the
// closed-form model assumes), and documents the source it follows.
#ifndef RAMSTREAM_SIM_POLICIES_POLICY_H_
#define RAMSTREAM_SIM_POLICIES_POLICY_H_

#include <memory>
#include <string_view>
#include <vector>

#include "sim/engine/engine.h"
#include "sim/spec.h"

namespace ramstream::sim {

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string_view name() const = 0;
  // One line for --help and the report.
  virtual std::string_view summary() const = 0;
  // The version's defaults when the scenario leaves them unset (bytes/s, 0 = unlimited; s).
  virtual double default_max_bandwidth() const = 0;
  virtual double default_downtime_limit() const = 0;
  virtual bool supports_auto_converge() const = 0;
  // Runs the migration until the engine has switched over or given up.
  // REQUIRES: a fresh engine; a spec this policy supports.
  virtual void Run(Engine& engine, const MigrationSpec& migration) const = 0;
};

// The switch-over threshold every version builds on: the bytes the link (as the policy
// estimates it) moves within the downtime limit. Versions differ in the estimate and in the
// comparison (ideal: remaining <= threshold; 7.2: pending < threshold; 2010: the same test
// written as expected_time <= limit).
constexpr double SwitchoverThreshold(double bytes_per_s, double downtime_limit_s) {
  return bytes_per_s * downtime_limit_s;
}

// nullptr for an unknown name.
std::unique_ptr<Policy> MakePolicy(std::string_view name);
// "ideal", "qemu-2010", "qemu-7.2", "qemu-10".
std::vector<std::string_view> PolicyNames();

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_POLICIES_POLICY_H_
