// Running a sweep's points on a pool of threads. Each point is independent and deterministic
// (its spec carries its own seed), so the rows do not depend on the thread count or on which
// shard runs them; they are handed to the caller in point order.
#ifndef RAMSTREAM_SIM_SWEEP_RUN_H_
#define RAMSTREAM_SIM_SWEEP_RUN_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sim/status.h"
#include "sim/sweep.h"

namespace ramstream::sim {

struct SweepProgress {
  uint64_t done = 0;   // points finished in this run
  uint64_t total = 0;  // points this run has to do
  double elapsed_s = 0;
  uint64_t errors = 0;
};

struct SweepRunOptions {
  int threads = 1;
  // Each row, in the order of `points`; calls are serialised. Returns false to stop (e.g. a
  // write error); the points already running finish, no new ones start.
  std::function<bool(uint64_t point, const nlohmann::ordered_json& row)> on_row;
  // After each point; serialised. May be empty.
  std::function<void(const SweepProgress&)> on_progress;
};

struct SweepRunSummary {
  uint64_t points = 0;  // rows delivered
  uint64_t errors = 0;  // points whose scenario was invalid (rows with `error`)
  uint64_t converged = 0;
  double wall_s = 0;
  double simulated_s = 0;  // sum of the points' total_time_s: migration time they stand for
  bool stopped = false;    // on_row asked to stop
  std::optional<Error> first_error;  // of the lowest point
};

// Runs `points` (each < sweep.size()) and delivers their rows.
SweepRunSummary RunSweep(const Sweep& sweep, const std::vector<uint64_t>& points,
                         const SweepRunOptions& options);

// One point's row (spec, simulation, closed form); `error` set when the scenario was invalid.
nlohmann::ordered_json RunSweepPoint(const Sweep& sweep, const std::string& sweep_id,
                                     uint64_t point, double* simulated_s,
                                     std::optional<Error>* error);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_SWEEP_RUN_H_
