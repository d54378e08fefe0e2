// What-if sweep throughput: points per second of a bandwidth x dirty-rate sweep of 8 GiB hot/cold
// guests on 1 and 2 threads, and the simulated migration time the sweep stands for per second of
// wall time (its speed-up over running those migrations for real).
//
//   build/release/bench/sweep_bench                                  # every size below
//   build/release/bench/sweep_bench --benchmark_filter='/10000/'     # the 10,000-point figures
//
// Arguments: points (a square grid: bandwidth 1-40 Gbit/s x dirty rate 20 MB/s-2 GB/s, both log),
// threads, management timeout in simulated seconds (points that never converge run until it:
// they cost about 1 ms of CPU per simulated second, converging points 10-30 ms in all).
// Counters: points_per_s, sim_s_per_wall_s (summed total_time_s / wall time), converged (share),
// cpu_per_wall (process CPU time / wall time: how many cores the run actually got).
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cmath>
#include <string>

#include "sim/scenario.h"
#include "sim/sweep.h"
#include "sim/sweep_run.h"

namespace ramstream::sim {
namespace {

// CPU seconds of the whole process (all threads), to tell thread scaling from CPU contention on
// a shared machine: cpu_per_wall near the thread count means the threads really ran in parallel.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

Sweep MakeSweep(int64_t points, int64_t timeout_s) {
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(points))));
  std::string text =
      R"pb(
        name: "bench-8g"
        guest {
          ram: "8GiB"
          writers {
            rate: "200MB/s"
            hotcold { working_set: "256MiB" hot_fraction: 0.9 }
          }
        }
        link { bandwidth: "10Gbit/s" }
        migration { policy: "qemu-7.2" max_bandwidth: "unlimited" downtime_limit: "300ms" }
        run { seed: 5 timeout: ")pb" +
      std::to_string(timeout_s) + "s\" }";
  Result<ScenarioDocument> doc = ScenarioDocument::Parse(text, ScenarioFormat::kText, "bench");
  Sweep sweep = Sweep::FromScenario(std::move(doc.value()));
  const std::string n = std::to_string(side);
  (void)sweep.AddVary("bandwidth=1Gbit/s..40Gbit/s:log:" + n);
  (void)sweep.AddVary("dirty_rate=20MB/s..2GB/s:log:" + n);
  return sweep;
}

void BM_Sweep_8GiB(benchmark::State& state) {
  const Sweep sweep = MakeSweep(state.range(0), state.range(2));
  const std::vector<uint64_t> points = ShardPoints(sweep.size(), 0, 1);
  SweepRunOptions opts;
  opts.threads = static_cast<int>(state.range(1));
  uint64_t rows = 0;
  opts.on_row = [&](uint64_t, const nlohmann::ordered_json& row) {
    benchmark::DoNotOptimize(row);
    ++rows;
    return true;
  };
  double wall = 0;
  double simulated = 0;
  uint64_t converged = 0;
  double cpu = 0;
  for (auto _ : state) {
    const double cpu0 = ProcessCpuSeconds();
    const SweepRunSummary s = RunSweep(sweep, points, opts);
    cpu += ProcessCpuSeconds() - cpu0;
    wall += s.wall_s;
    simulated += s.simulated_s;
    converged += s.converged;
  }
  const double n = static_cast<double>(points.size()) * static_cast<double>(state.iterations());
  state.counters["points"] = static_cast<double>(points.size());
  state.counters["points_per_s"] = n / wall;
  state.counters["sim_s_per_wall_s"] = simulated / wall;
  state.counters["cpu_per_wall"] = cpu / wall;
  state.counters["converged"] = static_cast<double>(converged) / n;
}
BENCHMARK(BM_Sweep_8GiB)
    ->ArgNames({"points", "threads", "timeout_s"})
    ->Args({400, 1, 600})
    ->Args({400, 2, 600})
    ->Args({10000, 1, 600})
    ->Args({10000, 2, 600})
    ->Args({10000, 1, 60})
    ->Args({10000, 2, 60})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace ramstream::sim

BENCHMARK_MAIN();
