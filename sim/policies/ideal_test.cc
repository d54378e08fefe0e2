// The "ideal" policy against the closed-form model (docs/simulation-models.md sections 1, 4
// and 9.2).
#include "sim/policies/ideal.h"

#include <gtest/gtest.h>

#include <cmath>

#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

constexpr double kPage = 4096;
constexpr double kRecord = 4104;  // PAGE record with CONTINUE

SimSpec Spec(uint64_t ram_bytes, double link, WriterKind kind, double write_bytes_per_s) {
  SimSpec s;
  s.guest.blocks = {{"pc.ram", ram_bytes / 4096, 1.0}};
  WriterSpec w;
  w.kind = kind;
  w.pages_per_s = write_bytes_per_s / kPage;
  s.guest.writers = {w};
  s.link.steps = {{0, link}};
  s.migration.policy = "ideal";
  s.migration.downtime_limit_s = 0.3;
  return s;
}

// Fixed point of x = 1 - exp(-r x) for r > 1.
double StallFraction(double r) {
  double x = 1;
  for (int i = 0; i < 200; ++i) x = 1 - std::exp(-r * x);
  return x;
}

TEST(IdealPolicy, ReproducesTheWorkedExample) {
  // 8 GiB, 10 Gbit/s, sequential fresh writes at 250 MB/s (rho = 0.2), 300 ms: rounds of
  // 8589.9 and 1718.0 MB, stop-and-copy 343.6 MB; 10.65 GB, 8.52 s, downtime 0.275 s.
  Result<SimResult> r = Simulate(Spec(8ull << 30, 1.25e9, WriterKind::kSequential, 250e6));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->converged());
  EXPECT_NEAR(r->transferred_bytes, 10.65e9, 0.01 * 10.65e9);
  EXPECT_NEAR(r->total_time_s, 8.52, 0.01 * 8.52);
  EXPECT_NEAR(r->downtime_s, 0.275, 0.01 * 0.275);
  ASSERT_EQ(r->syncs.size(), 3u);  // setup, after round 0, after round 1
  EXPECT_NEAR(r->syncs[1].new_pages * kPage, 1718.0e6, 0.01 * 1718.0e6);
  EXPECT_NEAR(r->syncs[2].new_pages * kPage, 343.6e6, 0.01 * 343.6e6);
  EXPECT_EQ(r->dirty_sync_count, 3u);
  EXPECT_EQ(r->iterations, 2u);
  // Closed form: V_mig = M (1 - rho^(n+1)) / (1 - rho) with n = 2, in page bytes.
  const double m = 8.0 * (1 << 30);
  const double rho = 250e6 / 1.25e9;
  EXPECT_NEAR(r->bytes.normal_pages * kPage, m * (1 - std::pow(rho, 3)) / (1 - rho), 0.01 * m);
}

TEST(IdealPolicy, ByteAccountingIsExact) {
  Result<SimResult> r = Simulate(Spec(8ull << 30, 1.25e9, WriterKind::kSequential, 250e6));
  ASSERT_TRUE(r.ok());
  const StreamCounters& b = r->bytes;
  // One named record (pc.ram, 7 bytes) in the whole stream: last_sent_block persists.
  EXPECT_EQ(b.named_records, 1u);
  EXPECT_EQ(b.normal_bytes, b.normal_pages * 4104 + 7);
  EXPECT_EQ(b.continue_saved_bytes, (b.normal_pages - 1) * 7);
  // ram.transferred (7.2): page records + 8 per iteration EOS.
  EXPECT_EQ(r->ram_transferred_bytes, b.normal_bytes + 8 * r->iterations);
  // Wire: header 26 + START 17 + MEM_SIZE 23 + setup EOS/footer 13 + per iteration
  // PART 5, EOS 8, footer 5 + END 5, EOS 8, footer 5 + EOF 1.
  EXPECT_EQ(r->transferred_bytes, b.normal_bytes + 26 + 17 + 23 + 13 + 18 * r->iterations + 18 + 1);
}

TEST(IdealPolicy, UniformWritesFollowTheRecursion) {
  // 4 GiB at 1 Gbit/s, 15,000 page writes/s: 407,166, 182,191, 85,833, 41,351 pages.
  Result<SimResult> r = Simulate(Spec(4ull << 30, 125e6, WriterKind::kUniform, 15000 * kPage));
  ASSERT_TRUE(r.ok());
  const double expected[] = {407166, 182191, 85833, 41351};
  ASSERT_GE(r->syncs.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(r->syncs[i + 1].new_pages, expected[i], 0.01 * expected[i]) << "round " << i + 1;
  }
  // The same recursion with our exact record size: V(i+1) = N (1 - exp(-w V_i 4104 / (B N))).
  const double n = 1 << 20;
  double v = n;
  for (int i = 0; i < 4; ++i) {
    v = n * -std::expm1(-15000 * v * kRecord / 125e6 / n);
    EXPECT_NEAR(r->syncs[i + 1].new_pages, v, 5 * std::sqrt(v)) << "round " << i + 1;
  }
  EXPECT_TRUE(r->converged());
}

TEST(IdealPolicy, UniformWritesStallAtTheFixedPoint) {
  // r = w P / B = 1.5: rounds approach x N with x = 1 - exp(-1.5 x) = 0.583.
  for (double ratio : {1.5, 2.0}) {
    SimSpec spec = Spec(4ull << 30, 1.25e9, WriterKind::kUniform, ratio * 1.25e9);
    spec.run.timeout_s = 150;
    Result<SimResult> r = Simulate(spec);
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->converged());
    EXPECT_EQ(r->outcome, Outcome::kTimeout);
    EXPECT_EQ(r->downtime_s, 0);
    ASSERT_GT(r->syncs.size(), 15u);
    double mean = 0;
    for (size_t i = r->syncs.size() - 5; i < r->syncs.size(); ++i) mean += r->syncs[i].new_pages;
    const double x = mean / 5 / (1 << 20);
    EXPECT_NEAR(x, StallFraction(ratio), 0.01 * StallFraction(ratio)) << ratio;
    // With the 8-byte record header the effective ratio is r * 4104/4096.
    EXPECT_NEAR(x, StallFraction(ratio * kRecord / kPage), 0.002) << ratio;
  }
  EXPECT_NEAR(StallFraction(1.5), 0.583, 0.001);
  EXPECT_NEAR(StallFraction(2.0), 0.797, 0.001);
}

TEST(IdealPolicy, FreshWritesFasterThanTheLinkNeverConverge) {
  SimSpec spec = Spec(1ull << 30, 125e6, WriterKind::kSequential, 150e6);
  spec.run.timeout_s = 60;
  Result<SimResult> r = Simulate(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->converged());
  EXPECT_EQ(r->outcome, Outcome::kTimeout);
  EXPECT_GE(r->total_time_s, 60);
  EXPECT_GT(r->remaining_bytes, 0u);
}

TEST(IdealPolicy, MaxBandwidthCapsRoundsNotTheStopAndCopy) {
  SimSpec spec = Spec(1ull << 30, 1.25e9, WriterKind::kSequential, 10e6);
  spec.migration.max_bandwidth = 125e6;
  Result<SimResult> r = Simulate(spec);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->converged());
  // Round 0 at 125 MB/s: 1 GiB in 8.6 s.
  EXPECT_NEAR(r->syncs[1].t_s, (1 << 30) * kRecord / kPage / 125e6, 0.01);
  // Stop-and-copy at the link's 1.25 GB/s.
  EXPECT_NEAR(r->downtime_s, r->downtime_bytes / 1.25e9, 1e-6);
}

TEST(IdealPolicy, DeterministicForASeed) {
  SimSpec spec = Spec(1ull << 30, 125e6, WriterKind::kUniform, 20e6);
  Result<SimResult> a = Simulate(spec);
  Result<SimResult> b = Simulate(spec);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->transferred_bytes, b->transferred_bytes);
  EXPECT_EQ(a->total_time_s, b->total_time_s);
  spec.run.seed = 2;
  Result<SimResult> c = Simulate(spec);
  EXPECT_NE(a->syncs[1].new_pages, c->syncs[1].new_pages);
}

}  // namespace
}  // namespace ramstream::sim
