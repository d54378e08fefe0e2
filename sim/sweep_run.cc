#include "sim/sweep_run.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "sim/simulate.h"
#include "sim/sweep_table.h"

namespace ramstream::sim {

nlohmann::ordered_json RunSweepPoint(const Sweep& sweep, const std::string& sweep_id,
                                     uint64_t point, double* simulated_s,
                                     std::optional<Error>* error) {
  *simulated_s = 0;
  Result<SimSpec> spec = sweep.PointSpec(point);
  if (!spec.ok()) {
    *error = spec.error();
    return SweepRow(sweep, sweep_id, point, nullptr, nullptr, spec.error().ToString());
  }
  Result<SimResult> result = Simulate(*spec);
  if (!result.ok()) {
    Error e = result.error();
    e.message = "point " + std::to_string(point) + " (" + sweep.Describe(point) + "): " + e.message;
    *error = e;
    return SweepRow(sweep, sweep_id, point, nullptr, nullptr, e.ToString());
  }
  *simulated_s = result->total_time_s;
  return SweepRow(sweep, sweep_id, point, &*spec, &*result, "");
}

SweepRunSummary RunSweep(const Sweep& sweep, const std::vector<uint64_t>& points,
                         const SweepRunOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const std::string id = sweep.Id();
  SweepRunSummary summary;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  // Finished rows waiting for the ones before them (by position in `points`).
  std::map<size_t, nlohmann::ordered_json> ready;
  size_t next_out = 0;
  uint64_t done = 0;
  std::optional<std::pair<uint64_t, Error>> first_error;

  const auto worker = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      const size_t k = next.fetch_add(1);
      if (k >= points.size()) return;
      double simulated = 0;
      std::optional<Error> error;
      nlohmann::ordered_json row = RunSweepPoint(sweep, id, points[k], &simulated, &error);
      std::lock_guard<std::mutex> lock(mu);
      ++done;
      summary.simulated_s += simulated;
      if (row["converged"].is_boolean() && row["converged"].get<bool>()) ++summary.converged;
      if (error) {
        ++summary.errors;
        if (!first_error || points[k] < first_error->first) first_error.emplace(points[k], *error);
      }
      ready.emplace(k, std::move(row));
      // Deliver every row that is now next in order.
      for (auto it = ready.begin(); it != ready.end() && it->first == next_out;
           it = ready.erase(it)) {
        if (!summary.stopped) {
          if (options.on_row && !options.on_row(points[next_out], it->second)) {
            summary.stopped = true;
            stop = true;
          } else {
            ++summary.points;
          }
        }
        ++next_out;
      }
      if (options.on_progress) {
        SweepProgress p;
        p.done = done;
        p.total = points.size();
        p.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
        p.errors = summary.errors;
        options.on_progress(p);
      }
    }
  };
  const int threads = std::max(
      1, std::min<int>(options.threads, static_cast<int>(std::max<size_t>(points.size(), 1))));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  summary.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  if (first_error) summary.first_error = first_error->second;
  return summary;
}

}  // namespace ramstream::sim
