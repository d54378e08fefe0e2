// The 2010 loop (docs ram-stream-format.md section 5.1) as simulated by "qemu-2010".
#include "sim/policies/qemu_2010.h"

#include <gtest/gtest.h>

#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

SimSpec Spec(uint64_t ram_bytes, double link, double write_bytes_per_s) {
  SimSpec s;
  s.guest.blocks = {{"pc.ram", ram_bytes / 4096, 1.0}};
  if (write_bytes_per_s > 0) {
    WriterSpec w;
    w.kind = WriterKind::kUniform;
    w.pages_per_s = write_bytes_per_s / 4096;
    s.guest.writers = {w};
  }
  s.link.steps = {{0, link}};
  s.migration.policy = "qemu-2010";
  return s;
}

TEST(Qemu2010Policy, DefaultsAre32MiBPerSecondAnd30ms) {
  Result<SimResult> r = Simulate(Spec(256ull << 20, 125e6, 0));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->converged());
  EXPECT_EQ(r->max_bandwidth, 32.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(r->downtime_limit_s, 0.03);
  // 256 MiB at 3.2 MiB per 100 ms tick: about 8 s.
  EXPECT_NEAR(r->total_time_s, 8.0, 0.2);
}

TEST(Qemu2010Policy, EveryCallSyncs) {
  Result<SimResult> r = Simulate(Spec(256ull << 20, 125e6, 1e6));
  ASSERT_TRUE(r.ok());
  // Setup (stage 1) + one per stage-2 call + stage 3.
  EXPECT_EQ(r->dirty_sync_count, 1 + r->iterations + 1);
}

TEST(Qemu2010Policy, BurstEstimateIsTheLinkNotTheThrottle) {
  // Pages go out at 125 MB/s within each tick, so bwidth reads ~125 MB/s although only
  // 33.5 MB/s are sent on average: the switch-over test is optimistic.
  Result<SimResult> r = Simulate(Spec(256ull << 20, 125e6, 2e6));
  ASSERT_TRUE(r.ok());
  ASSERT_GT(r->series.size(), 5u);
  EXPECT_NEAR(r->series[3].bandwidth_estimate, 125e6 * 4096 / 4104, 0.01 * 125e6);
  EXPECT_NEAR(r->series[3].sent_bytes, 32.0 * 1024 * 1024 / 10, 8300);
}

TEST(Qemu2010Policy, TransferredCountsPayloadOnly) {
  SimSpec s = Spec(64ull << 20, 125e6, 0);
  s.guest.blocks[0].nonzero_fraction = 0.25;
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ram_transferred_bytes, r->bytes.normal_pages * 4096 + r->bytes.zero_pages);
  EXPECT_EQ(r->bytes.normal_pages, 4096u);
  EXPECT_EQ(r->bytes.zero_pages, 12288u);
}

TEST(Qemu2010Policy, RejectsAutoConverge) {
  SimSpec s = Spec(64ull << 20, 125e6, 0);
  s.migration.auto_converge.enabled = true;
  Result<SimResult> r = Simulate(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field, "migration.auto_converge");
}

}  // namespace
}  // namespace ramstream::sim
