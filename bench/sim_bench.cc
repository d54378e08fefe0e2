// Simulator speed: page-exact pre-copy runs of large guests.
//
//   build/release/bench/sim_bench --benchmark_min_time=1
//
// Counters, per second of wall time (UseRealTime): `sim_s_per_s` is simulated seconds of
// migration, `pages_per_s` page records accounted (sent); `sim_s` is the simulated
// migration time. Target (issue 7): a 1 TiB hot/cold guest that converges under
// qemu-7.2 in < 2 s of wall time (BM_Simulate_HotCold1TiB).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>

#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

constexpr uint64_t kPage = 4096;

// 1 TiB in one block, a 256 MiB hot set taking 90% of 1 GiB/s of page writes, the rest
// spread over the cold part; the link is arg Gbit/s, QEMU 7.2 with no rate limit.
SimSpec HotCold1TiB(double link_gbit) {
  SimSpec spec;
  spec.name = "hotcold-1TiB";
  spec.guest.blocks = {{"pc.ram", (uint64_t{1} << 40) / kPage, 1.0}};
  WriterSpec w;
  w.kind = WriterKind::kHotCold;
  w.pages_per_s = (1 << 30) / static_cast<double>(kPage);
  w.working_set = uint64_t{256} << 20;
  w.hot_fraction = 0.9;
  spec.guest.writers = {w};
  spec.link.steps = {{0, link_gbit * 1e9 / 8}};
  spec.migration.policy = "qemu-7.2";
  spec.migration.max_bandwidth = 0;
  spec.run.series = false;
  return spec;
}

void Report(benchmark::State& state, double sim_s, uint64_t pages) {
  const double iters = static_cast<double>(state.iterations());
  state.counters["sim_s"] = sim_s;
  state.counters["sim_s_per_s"] = benchmark::Counter(sim_s * iters, benchmark::Counter::kIsRate);
  state.counters["pages_per_s"] =
      benchmark::Counter(static_cast<double>(pages) * iters, benchmark::Counter::kIsRate);
}

void BM_Simulate_HotCold1TiB(benchmark::State& state) {
  const SimSpec spec = HotCold1TiB(static_cast<double>(state.range(0)));
  double sim_s = 0;
  uint64_t pages = 0;
  for (auto _ : state) {
    Result<SimResult> r = Simulate(spec);
    if (!r.ok() || !r->converged()) {
      state.SkipWithError(r.ok() ? "did not converge" : r.error().ToString().c_str());
      return;
    }
    sim_s = r->total_time_s;
    pages = r->bytes.normal_pages + r->bytes.zero_pages;
    benchmark::DoNotOptimize(r->transferred_bytes);
  }
  Report(state, sim_s, pages);
}
BENCHMARK(BM_Simulate_HotCold1TiB)->Arg(25)->Arg(10)->UseRealTime()->Unit(benchmark::kMillisecond);

// An hour of a 4 GiB guest that never converges (uniform writes faster than the link): the
// cost of long runs with many syncs.
void BM_Simulate_NonConverging4GiBHour(benchmark::State& state) {
  SimSpec spec;
  spec.guest.blocks = {{"pc.ram", (uint64_t{4} << 30) / kPage, 1.0}};
  WriterSpec w;
  w.kind = WriterKind::kUniform;
  w.pages_per_s = 400e6 / static_cast<double>(kPage);
  spec.guest.writers = {w};
  spec.link.steps = {{0, 1.25e9}};
  spec.migration.policy = "qemu-7.2";
  spec.run.series = false;
  spec.run.timeout_s = 3600;
  double sim_s = 0;
  uint64_t pages = 0;
  for (auto _ : state) {
    Result<SimResult> r = Simulate(spec);
    if (!r.ok()) {
      state.SkipWithError(r.error().ToString().c_str());
      return;
    }
    sim_s = r->total_time_s;
    pages = r->bytes.normal_pages + r->bytes.zero_pages;
    benchmark::DoNotOptimize(r->transferred_bytes);
  }
  Report(state, sim_s, pages);
}
BENCHMARK(BM_Simulate_NonConverging4GiBHour)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ramstream::sim

BENCHMARK_MAIN();
