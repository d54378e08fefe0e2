// Running a simulation: spec in, result out. The entry point for the CLI, tests and sweeps.
#ifndef RAMSTREAM_SIM_SIMULATE_H_
#define RAMSTREAM_SIM_SIMULATE_H_

#include <optional>

#include "sim/engine/sender.h"
#include "sim/result.h"
#include "sim/spec.h"
#include "sim/status.h"

namespace ramstream::sim {

// Checks everything the engine relies on; the error's field is a scenario path
// ("guest.writers[0].region.size"), its message says what is accepted.
std::optional<Error> ValidateSpec(const SimSpec& spec);

// Validates, builds the guest, link and policy, and runs. Deterministic for a given spec
// (seed included). `observer`, if given, sees every page record in stream order (slow: it
// turns off word-level accounting).
Result<SimResult> Simulate(const SimSpec& spec, SendObserver* observer = nullptr);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_SIMULATE_H_
