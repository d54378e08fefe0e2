// QEMU 7.2's migration thread as simulated by the "qemu-7.2" policy (docs
// ram-stream-format.md sections 3.9, 5.3 and 6).
#include "sim/policies/qemu_7_2.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

constexpr double kPage = 4096;

SimSpec Spec(uint64_t ram_bytes, double link, WriterKind kind, double write_bytes_per_s) {
  SimSpec s;
  s.guest.blocks = {{"pc.ram", ram_bytes / 4096, 1.0}};
  if (write_bytes_per_s > 0) {
    WriterSpec w;
    w.kind = kind;
    w.pages_per_s = write_bytes_per_s / kPage;
    s.guest.writers = {w};
  }
  s.link.steps = {{0, link}};
  s.migration.policy = "qemu-7.2";
  return s;
}

// The paused -M pc -m 32M guest of spec section 3.9: six blocks, 49 non-zero pages.
SimSpec PausedGuestSpec() {
  SimSpec s = Spec(0, 10e9 / 8, WriterKind::kUniform, 0);
  const auto block = [](const char* name, uint64_t pages, uint64_t nonzero) {
    return RamBlockSpec{name, pages, static_cast<double>(nonzero) / static_cast<double>(pages)};
  };
  s.guest.blocks = {block("pc.ram", 8192, 10),
                    block("/rom@etc/acpi/tables", 32, 5),
                    block("pc.bios", 64, 30),
                    block("pc.rom", 32, 2),
                    block("/rom@etc/table-loader", 1, 1),
                    block("/rom@etc/acpi/rsdp", 1, 1)};
  s.guest.zero_layout = ZeroLayout::kFront;
  return s;
}

TEST(Qemu72Policy, ReproducesThePausedGuestRun) {
  // The real QEMU 7.2.22 run of spec section 3.9: a paused -M pc -m 32M guest with six blocks,
  // 8,273 ZERO and 49 PAGE records in one PART: ram.transferred = 275,645 bytes and
  // dirty-sync-count 2.
  SimSpec s = PausedGuestSpec();
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->converged());
  EXPECT_EQ(r->ram_bytes, 34'086'912u);
  EXPECT_EQ(r->bytes.zero_pages, 8273u);
  EXPECT_EQ(r->bytes.normal_pages, 49u);
  EXPECT_EQ(r->bytes.named_records, 6u);
  EXPECT_EQ(r->bytes.idstr_bytes, 84u);
  EXPECT_EQ(r->iterations, 1u);
  EXPECT_EQ(r->ram_transferred_bytes, 275'645u);
  EXPECT_EQ(r->dirty_sync_count, 2u);
}

TEST(Qemu72Policy, MultifdSendsPagesInPacketsAndZeroPagesInTheMainStream) {
  // The paused guest with multifd on 2 channels: its 49 non-zero pages lie in six blocks, so
  // six packets (each block change sends the queued one); the setup, the one iteration and
  // the completion each end with a sync packet per channel.
  SimSpec s = PausedGuestSpec();
  s.migration.multifd.channels = 2;
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->converged());
  EXPECT_TRUE(r->multifd.enabled);
  EXPECT_EQ(r->multifd.pages, 49u);
  EXPECT_EQ(r->multifd.packets, 6u);
  EXPECT_EQ(r->multifd.sync_packets, 6u);
  EXPECT_EQ(r->multifd.bytes, 12 * 1344 + 49 * 4096u);
  EXPECT_EQ(r->bytes.normal_pages, 49u);  // QEMU's `normal` counts multifd pages
  EXPECT_EQ(r->bytes.normal_bytes, 0u);   // no PAGE record in the main stream
  EXPECT_EQ(r->bytes.zero_pages, 8273u);
  // ram.transferred has the packets; the split by run state does not (ram_transferred_add).
  EXPECT_EQ(r->ram_transferred_bytes,
            r->bytes.page_record_bytes() + r->bytes.counted_eos * 8 + r->multifd.bytes);
  EXPECT_EQ(r->ram_precopy_bytes + r->ram_downtime_bytes,
            r->ram_transferred_bytes - r->multifd.bytes);
  EXPECT_EQ(r->transferred_bytes, r->bytes.total());
}

TEST(Qemu72Policy, MultifdHelpsACpuBoundSender) {
  // 1 GiB of non-zero pages over 10 Gbit/s (3.3 us per page) with 5 us of sender time per
  // page: one thread scans and writes (page time + wire time); with multifd the channels
  // write while it scans, and the scan is the bottleneck.
  SimSpec s = Spec(uint64_t{1} << 30, 10e9 / 8, WriterKind::kUniform, 0);
  s.migration.max_bandwidth = 0;
  s.migration.page_cost_s = 5e-6;
  Result<SimResult> single = Simulate(s);
  s.migration.multifd.channels = 2;
  Result<SimResult> multi = Simulate(s);
  ASSERT_TRUE(single.ok() && multi.ok());
  const double pages = 262144;
  EXPECT_NEAR(single->total_time_s, pages * (5e-6 + 4104 * 8 / 10e9), 0.02);
  EXPECT_NEAR(multi->total_time_s, pages * 5e-6, 0.02);
}

TEST(Qemu72Policy, MultifdConnectTimeIsSpentWithDirtyLoggingOn) {
  // 64 MiB over 1 GB/s (one pass, 67 ms, then below the threshold) with a guest writing 2,000
  // new pages a second. The setup's multifd sync waits until the channels are connected at
  // 1 s, after dirty logging started: the pages written during that second are sent again at
  // completion, on top of the 134 or so written during the pass.
  SimSpec s = Spec(uint64_t{64} << 20, 1e9, WriterKind::kSequential, 2000 * kPage);
  s.migration.max_bandwidth = 0;
  s.migration.multifd.channels = 2;
  Result<SimResult> now = Simulate(s);
  s.migration.multifd.connect_time_s = 1.0;
  Result<SimResult> later = Simulate(s);
  ASSERT_TRUE(now.ok() && later.ok());
  ASSERT_TRUE(now->converged() && later->converged());
  EXPECT_LT(now->setup_time_s, 0.001);
  EXPECT_GE(later->setup_time_s, 1.0);
  EXPECT_LT(later->setup_time_s, 1.001);
  EXPECT_EQ(now->dirty_sync_count, later->dirty_sync_count);
  EXPECT_NEAR(static_cast<double>(later->bytes.normal_pages - now->bytes.normal_pages), 2000, 2);
  EXPECT_NEAR(later->total_time_s - now->total_time_s, 1.0 + 2000 * kPage / 1e9, 0.002);
}

TEST(Qemu72Policy, MultifdIsRejectedWhereItIsNotModelled) {
  SimSpec s = Spec(uint64_t{1} << 30, 10e9 / 8, WriterKind::kUniform, 0);
  s.migration.multifd.channels = 2;
  s.migration.policy = "qemu-10";
  Result<SimResult> ten = Simulate(s);
  ASSERT_FALSE(ten.ok());
  EXPECT_EQ(ten.error().field, "migration.multifd");
  s.migration.policy = "qemu-7.2";
  s.migration.xbzrle.enabled = true;
  Result<SimResult> xbzrle = Simulate(s);
  ASSERT_FALSE(xbzrle.ok());
  EXPECT_EQ(xbzrle.error().field, "migration.multifd");
  s.migration.xbzrle.enabled = false;
  s.migration.multifd.channels = 256;
  Result<SimResult> many = Simulate(s);
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().field, "migration.multifd.channels");
  s.migration.multifd.channels = 2;
  s.migration.multifd.connect_time_s = INFINITY;
  Result<SimResult> forever = Simulate(s);
  ASSERT_FALSE(forever.ok());
  EXPECT_EQ(forever.error().field, "migration.multifd.connect_time");
  EXPECT_EQ(forever.error().message, "must be a finite duration >= 0");
  s.migration.multifd.channels = 0;
  s.migration.multifd.connect_time_s = 0.5;
  Result<SimResult> off = Simulate(s);
  ASSERT_FALSE(off.ok());
  EXPECT_EQ(off.error().field, "migration.multifd.connect_time");
  EXPECT_EQ(off.error().message, "needs channels > 0 (the capability)");
}

TEST(Qemu10Policy, CountsEveryByteAndSendsSwitchoverStart) {
  // The paused guest of ReproducesThePausedGuestRun under both versions: the same records and
  // syncs; 10.x adds SWITCHOVER_START (5 bytes) before END, and its ram.transferred is every
  // byte written (spec sections 5.4 and 6).
  SimSpec s = Spec(0, 10e9 / 8, WriterKind::kUniform, 0);
  s.guest.blocks = {{"pc.ram", 8192, 10.0 / 8192}, {"pc.bios", 64, 30.0 / 64}};
  s.guest.zero_layout = ZeroLayout::kFront;
  s.migration.device_state_bytes = 100000;
  Result<SimResult> v7 = Simulate(s);
  s.migration.policy = "qemu-10";
  Result<SimResult> v10 = Simulate(s);
  ASSERT_TRUE(v7.ok() && v10.ok());
  EXPECT_EQ(v10->policy, "qemu-10");
  EXPECT_TRUE(v10->converged());
  EXPECT_EQ(v10->bytes.zero_pages, v7->bytes.zero_pages);
  EXPECT_EQ(v10->bytes.normal_pages, 40u);
  EXPECT_EQ(v10->dirty_sync_count, v7->dirty_sync_count);
  EXPECT_EQ(v10->transferred_bytes, v7->transferred_bytes + 5);
  EXPECT_EQ(v10->ram_transferred_bytes, v10->transferred_bytes);
  EXPECT_EQ(v7->ram_transferred_bytes, v7->bytes.page_record_bytes() + 8 * v7->iterations);
  // ram_by_state splits the version's ram.transferred: here every byte after the stop (whether
  // 10.x's own downtime-bytes leave the device state out is not checked).
  EXPECT_EQ(v10->ram_downtime_bytes, v10->downtime_bytes);
  s.migration.postcopy.enabled = true;
  EXPECT_EQ(Simulate(s).error().field, "migration.postcopy");
}

TEST(Qemu72Policy, RateWindowsSpendMaxBandwidthOverTen) {
  // Default max-bandwidth 128 MiB/s on a 10 Gbit/s link: 13.4 MB per 100 ms window, the
  // estimate settles at the cap, and the threshold is estimate x 300 ms.
  Result<SimResult> r = Simulate(Spec(1ull << 30, 1.25e9, WriterKind::kUniform, 1e6));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->converged());
  EXPECT_EQ(r->max_bandwidth, 128.0 * 1024 * 1024);
  ASSERT_GT(r->series.size(), 10u);
  const WindowSample& w = r->series[5];
  EXPECT_NEAR(w.t_end_s - w.t_start_s, 0.1, 1e-9);
  EXPECT_NEAR(w.sent_bytes, 128.0 * 1024 * 1024 / 10, 8300);  // budget + one page overshoot
  EXPECT_NEAR(w.bandwidth_estimate, 128.0 * 1024 * 1024, 0.001 * 128 * 1024 * 1024);
  EXPECT_NEAR(w.threshold_bytes, w.bandwidth_estimate * 0.3, 1);
  // 1 GiB at the cap: about 8 s.
  EXPECT_NEAR(r->total_time_s, (1 << 30) / (128.0 * 1024 * 1024), 0.3);
}

TEST(Qemu72Policy, LinkBoundIterationsStopAfter50ms) {
  SimSpec s = Spec(2ull << 30, 125e6, WriterKind::kUniform, 1e6);
  s.migration.max_bandwidth = 0;  // unlimited: the link is the bottleneck
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok());
  ASSERT_GT(r->series.size(), 10u);
  // Two ~50 ms iterations per window; the window closes at the first check after 100 ms.
  const WindowSample& w = r->series[3];
  EXPECT_GE(w.t_end_s - w.t_start_s, 0.1);
  EXPECT_LT(w.t_end_s - w.t_start_s, 0.105);
  EXPECT_NEAR(w.bandwidth_estimate, 125e6, 0.001 * 125e6);
  EXPECT_NEAR(static_cast<double>(r->iterations) / r->total_time_s, 20, 1);
}

TEST(Qemu72Policy, SyncsOnlyWhenRemainingDropsBelowThreshold) {
  SimSpec s = Spec(8ull << 30, 1.25e9, WriterKind::kSequential, 250e6);
  s.migration.max_bandwidth = 0;
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->converged());
  ASSERT_GE(r->syncs.size(), 3u);
  EXPECT_EQ(r->syncs.front().sync_count, 1u);  // setup
  EXPECT_EQ(r->dirty_sync_count, r->syncs.size());
  const double threshold = 1.25e9 * 0.3;
  // Every sync in the loop (not the setup one, not the final one) happened below threshold.
  for (size_t i = 1; i + 1 < r->syncs.size(); ++i) {
    const double before = (r->syncs[i].dirty_pages - r->syncs[i].new_pages) * kPage;
    EXPECT_LT(before, threshold * 1.01) << "sync " << i;
  }
  // The bulk round ran down to the threshold before the first sync, not to zero.
  EXPECT_GT((r->syncs[1].dirty_pages - r->syncs[1].new_pages) * kPage, 0.5 * threshold);
  // Same order of magnitude as the closed form (8.52 s, 0.275 s).
  EXPECT_NEAR(r->total_time_s, 8.52, 0.1);
  EXPECT_LT(r->downtime_s, 0.3);
}

TEST(Qemu72Policy, RamTransferredIsRecordsPlusEightPerIteration) {
  SimSpec s = Spec(1ull << 30, 1.25e9, WriterKind::kUniform, 30e6);
  s.guest.blocks[0].nonzero_fraction = 0.4;
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ram_transferred_bytes, r->bytes.page_record_bytes() + 8 * r->iterations);
  // One block: only the very first page record names it.
  EXPECT_EQ(r->bytes.named_records, 1u);
  EXPECT_EQ(r->bytes.page_record_bytes(),
            r->bytes.normal_pages * 4104 + r->bytes.zero_pages * 9 + 7);
}

TEST(Qemu72Policy, DowntimeDependsOnTheLinkNotMaxBandwidth) {
  SimSpec s = Spec(2ull << 30, 1.25e9, WriterKind::kHotCold, 200e6);
  s.guest.writers[0].working_set = 16 << 20;
  s.migration.max_bandwidth = 64e6;
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->converged());
  EXPECT_NEAR(r->downtime_s, r->downtime_bytes / 1.25e9, 1e-9);
  // The switch-over test used the 64 MB/s estimate.
  EXPECT_LT(r->downtime_bytes, 64e6 * 0.3 * 1.05);
}

TEST(Qemu72Policy, NeverConvergesWithoutAutoConverge) {
  SimSpec s = Spec(1ull << 30, 125e6, WriterKind::kUniform, 400e6);
  s.migration.max_bandwidth = 0;
  s.run.timeout_s = 60;
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->converged());
  EXPECT_EQ(r->outcome, Outcome::kTimeout);
  EXPECT_EQ(r->max_throttle_pct, 0);
}

TEST(Qemu72Policy, AutoConvergeStepsTwentyThirtyForty) {
  SimSpec s = Spec(1ull << 30, 125e6, WriterKind::kUniform, 400e6);
  s.migration.max_bandwidth = 0;
  s.migration.auto_converge.enabled = true;
  s.run.timeout_s = 600;
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->converged());
  std::vector<int> steps;
  for (const WindowSample& w : r->series) {
    if (steps.empty() ? w.throttle_pct != 0 : w.throttle_pct != steps.back()) {
      steps.push_back(w.throttle_pct);
    }
  }
  ASSERT_GE(steps.size(), 3u);
  EXPECT_EQ(steps[0], 20);
  for (size_t i = 1; i < steps.size(); ++i) EXPECT_EQ(steps[i], steps[i - 1] + 10);
  EXPECT_EQ(r->max_throttle_pct, steps.back());
  // 400 MB/s of writes on a 125 MB/s link: it takes heavy throttling.
  EXPECT_GE(r->max_throttle_pct, 60);
}

TEST(Qemu72Policy, AutoConvergeThrottlesOnTheSecondHighPeriod) {
  SimSpec s = Spec(1ull << 30, 125e6, WriterKind::kUniform, 400e6);
  s.migration.max_bandwidth = 0;
  s.migration.auto_converge.enabled = true;
  s.run.timeout_s = 600;
  Result<SimResult> r = Simulate(s);
  ASSERT_TRUE(r.ok());
  // Periods end at syncs more than 1 s after the previous period's end; count them until the
  // first throttle.
  double period_start = r->syncs[0].t_s;
  int high_periods = 0;
  double first_throttle_t = 0;
  for (const WindowSample& w : r->series) {
    if (w.throttle_pct > 0) {
      first_throttle_t = w.t_end_s;
      break;
    }
  }
  for (const SyncSample& sync : r->syncs) {
    if (sync.t_s > first_throttle_t) break;
    if (sync.t_s > period_start + 1.0) {
      ++high_periods;
      period_start = sync.t_s;
    }
  }
  EXPECT_EQ(high_periods, 2);
}

TEST(NextThrottle, InitialIncrementCapAndTailslow) {
  AutoConvergeSpec ac;
  EXPECT_EQ(NextThrottle(ac, 0, 200, 100), 20);
  EXPECT_EQ(NextThrottle(ac, 20, 200, 100), 30);
  EXPECT_EQ(NextThrottle(ac, 95, 200, 100), 99);
  ac.max_pct = 50;
  EXPECT_EQ(NextThrottle(ac, 45, 200, 100), 50);
  ac.max_pct = 99;
  ac.tailslow = true;
  // cpu_now 50, ideal 50 * 150/200 = 37: step min(13, 10) = 10.
  EXPECT_EQ(NextThrottle(ac, 50, 200, 150), 60);
  // cpu_now 50, ideal trunc(50 * 95/100) = 47: step 3.
  EXPECT_EQ(NextThrottle(ac, 50, 100, 95), 53);
  ac.initial_pct = 5;
  EXPECT_EQ(NextThrottle(ac, 0, 100, 95), 5);
}

}  // namespace
}  // namespace ramstream::sim
