// The sender's XBZRLE page cache, as QEMU 7.2's (migration/ram.c save_xbzrle_page,
// migration/page_cache.c): on only after the first pass, misses insert, direct mapping, the
// freshness rule, unchanged pages, overflow and the last stage.
#include <gtest/gtest.h>

#include "sim/engine/sender.h"
#include "sim/report.h"
#include "sim/scenario.h"
#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

class XbzrleSenderTest : public ::testing::Test {
 protected:
  // One 128-page block, all pages holding data, a cache of `slots` pages.
  void Start(uint64_t slots, uint64_t encoded) {
    sender_.EnableXbzrle(slots * 4096, encoded);
    sender_.Reset();
    sender_.SetGeneration(1);
    ram_.MarkAllDirty();
    const SendResult r = sender_.Send(SendLimits{});
    ASSERT_EQ(r.normal_pages, 128u);  // the first pass: plain pages, nothing cached
    ASSERT_EQ(counters_.xbzrle_cache_miss, 0u);
  }
  // Rewrites `pages`, syncs and sends them.
  SendResult Rewrite(std::initializer_list<uint64_t> pages) {
    for (uint64_t p : pages) ram_.Touch(p);
    ram_.SyncLog();
    return sender_.Send(SendLimits{});
  }

  RamState ram_{{{"pc.ram", 128, 1.0}}, ZeroLayout::kSpread};
  StreamCounters counters_;
  PageSender sender_{&ram_, &counters_, nullptr};
};

TEST_F(XbzrleSenderTest, ACacheLargerThanTheGuestActsAsOneSlotPerPage) {
  // 2 TiB of cache for a 128-page guest: every page is cached and hits, as with 128 slots
  // (and no 2^29-slot table is allocated).
  Start(uint64_t{1} << 29, 3);
  (void)Rewrite({0, 64, 127});
  const SendResult r = Rewrite({0, 64, 127});
  EXPECT_EQ(r.normal_pages, 0u);
  EXPECT_EQ(counters_.xbzrle_pages, 3u);
}

TEST_F(XbzrleSenderTest, MissInsertsThenHitSendsDelta) {
  Start(64, 3);
  SendResult r = Rewrite({0, 1, 2});
  EXPECT_EQ(r.normal_pages, 3u);
  EXPECT_EQ(counters_.xbzrle_cache_miss, 3u);
  r = Rewrite({0, 1, 2, 3});
  EXPECT_EQ(r.normal_pages, 1u);  // page 3 was never cached
  EXPECT_EQ(counters_.xbzrle_pages, 3u);
  // header 8 + encoding 1 + length 2 + delta 3, CONTINUE (the block did not change).
  EXPECT_EQ(counters_.xbzrle_bytes, 3u * 14);
  EXPECT_EQ(r.bytes, 3u * 14 + 4104);
  EXPECT_EQ(counters_.xbzrle_cache_miss, 4u);
}

TEST_F(XbzrleSenderTest, DirectMappedSlotsKeepFreshPages) {
  Start(8, 3);   // pages 0, 8, 16, ... share slot 0
  Rewrite({0});  // miss, cached at generation 1
  Rewrite({8});  // miss; slot 0 holds page 0, fresh (1 + 2 > 1): not replaced
  Rewrite({8});  // so page 8 misses again
  EXPECT_EQ(counters_.xbzrle_cache_miss, 3u);
  EXPECT_EQ(counters_.xbzrle_pages, 0u);
  sender_.SetGeneration(3);  // page 0's entry is 2 generations old: it may go
  Rewrite({8});
  Rewrite({8});
  EXPECT_EQ(counters_.xbzrle_cache_miss, 4u);
  EXPECT_EQ(counters_.xbzrle_pages, 1u);
  Rewrite({0});  // evicted
  EXPECT_EQ(counters_.xbzrle_cache_miss, 5u);
}

TEST_F(XbzrleSenderTest, UnchangedPagesAreNotSent) {
  Start(64, 0);
  Rewrite({5});
  const SendResult r = Rewrite({5});
  EXPECT_EQ(r.bytes, 0u);
  EXPECT_EQ(counters_.xbzrle_unchanged, 1u);
  EXPECT_EQ(counters_.xbzrle_pages, 0u);
  EXPECT_EQ(ram_.dirty_pages(), 0u);
}

TEST_F(XbzrleSenderTest, OverflowSendsAPage) {
  Start(64, 4097);
  Rewrite({5});
  const SendResult r = Rewrite({5});
  EXPECT_EQ(r.normal_pages, 1u);
  EXPECT_EQ(counters_.xbzrle_overflow, 1u);
}

TEST_F(XbzrleSenderTest, LastStageMissesDoNotInsert) {
  Start(64, 3);
  sender_.SetLastStage();
  Rewrite({5});
  Rewrite({5});
  EXPECT_EQ(counters_.xbzrle_cache_miss, 2u);
  EXPECT_EQ(counters_.xbzrle_pages, 0u);
}

TEST(XbzrleSimulateTest, ResendsBecomeDeltasAndOnlyUnderQemu72) {
  SimSpec spec;
  spec.guest.blocks = {{"pc.ram", 4096, 1.0}};
  WriterSpec w;
  w.kind = WriterKind::kSequential;
  w.pages_per_s = 2000;
  w.region.size = 1024 * 4096;
  spec.guest.writers = {w};
  spec.link.steps = {{0, 1e9}};
  spec.migration.max_bandwidth = 4104.0 * 2500;  // rho 0.8 on the PAGE records
  spec.migration.xbzrle.enabled = true;
  spec.run.series = false;
  Result<SimResult> r = Simulate(spec);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->converged());
  // The first pass caches nothing, so its rewrites are misses (PAGE) and get cached; every
  // later resend of a cached page is a 14-byte XBZRLE record.
  EXPECT_GT(r->bytes.xbzrle_pages, 0u);
  EXPECT_EQ(r->bytes.xbzrle_bytes, r->bytes.xbzrle_pages * 14);
  EXPECT_EQ(r->ram_transferred_bytes, r->bytes.page_record_bytes() + 8 * r->iterations);
  spec.migration.policy = "qemu-2010";
  EXPECT_EQ(Simulate(spec).error().field, "migration.xbzrle");
}

// QEMU 7.2's query-migrate xbzrle-cache, on a small deterministic run: a 16 MiB guest whose
// sequential writer rewrites a 1 MiB working set (256 pages) at 8 MB/s, 4 MiB/s max-bandwidth,
// a 128-slot cache, 3-byte deltas. It converges after 7.7 s and 46 syncs.
Result<SimResult> RunSmallXbzrle(uint32_t encoded_bytes) {
  const std::string text =
      R"pb(
        guest {
          ram: "16MiB"
          writers {
            rate: "8MB/s"
            region { size: "1MiB" }
            sequential {}
          }
        }
        link { bandwidth: "100Mbit/s" }
        migration { policy: "qemu-7.2" max_bandwidth: "4MiB/s" downtime_limit: "30ms"
                    xbzrle { enabled: true cache_size: "512KiB" encoded_bytes:)pb" +
      std::to_string(encoded_bytes) + R"pb(}
                                           }
    run { seed: 1 timeout: "20s" series: false }
  )pb";
  Result<ScenarioDocument> doc = ScenarioDocument::Parse(text, ScenarioFormat::kText, "x.txtpb");
  if (!doc.ok()) return doc.error();
  Result<SimSpec> spec = ToSpec(*doc);
  if (!spec.ok()) return spec.error();
  return Simulate(*spec);
}

TEST(XbzrleReportTest, CountersAsQemu72Reports) {
  Result<SimResult> r = RunSmallXbzrle(3);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->converged());
  EXPECT_EQ(r->dirty_sync_count, 46u);
  const XbzrleStats& x = r->xbzrle;
  EXPECT_TRUE(x.enabled);
  EXPECT_EQ(x.cache_size, 512u * 1024);
  EXPECT_EQ(x.pages, 3463u);  // hits: here every one a delta record
  EXPECT_EQ(r->bytes.xbzrle_pages, 3463u);
  EXPECT_EQ(x.cache_miss, 3922u);
  EXPECT_EQ(x.overflow, 0u);
  // bytes: the records (8 + 1 + 2 + 3, CONTINUE) less their 8-byte header.
  EXPECT_EQ(r->bytes.xbzrle_bytes, 3463u * 14);
  EXPECT_EQ(x.bytes, 3463u * 6);
  // The last >= 1 s period: misses / pages sent, and 4096 / 6 per hit.
  EXPECT_DOUBLE_EQ(x.cache_miss_rate, 0.5504352278545827);
  EXPECT_DOUBLE_EQ(x.encoding_rate, 4096.0 / 6);

  const nlohmann::ordered_json j = ResultToJson(*r, false);
  ASSERT_TRUE(j.contains("xbzrle"));
  std::vector<std::string> keys;
  for (auto it = j["xbzrle"].begin(); it != j["xbzrle"].end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"cache_size", "bytes", "pages", "cache_miss",
                                            "cache_miss_rate", "encoding_rate", "overflow"}));
  EXPECT_EQ(j["xbzrle"]["pages"], 3463u);
  EXPECT_EQ(j["xbzrle"]["bytes"], 20778u);
  EXPECT_NE(FormatTable(*r).find("xbzrle               3463 pages, 20.78 kB, 3922 misses"),
            std::string::npos)
      << FormatTable(*r);
}

TEST(XbzrleReportTest, UnchangedPagesCountAsHitsWithoutBytes) {
  Result<SimResult> r = RunSmallXbzrle(0);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const XbzrleStats& x = r->xbzrle;
  EXPECT_GT(x.pages, 0u);
  EXPECT_EQ(x.pages, r->bytes.xbzrle_unchanged);
  EXPECT_EQ(r->bytes.xbzrle_pages, 0u);
  EXPECT_EQ(x.bytes, 0u);
  EXPECT_EQ(x.encoding_rate, 0);  // hits without bytes: 0, as in QEMU 5.1+
}

TEST(XbzrleReportTest, OverflowsCountAPageEach) {
  Result<SimResult> r = RunSmallXbzrle(5000);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const XbzrleStats& x = r->xbzrle;
  EXPECT_GT(x.overflow, 0u);
  EXPECT_EQ(x.pages, x.overflow);
  EXPECT_EQ(x.bytes, x.overflow * 4096);
  EXPECT_DOUBLE_EQ(x.encoding_rate, 1.0);  // every hit page cost a page
}

TEST(XbzrleReportTest, AbsentWithoutACacheExceptInFixedShape) {
  SimResult off;
  EXPECT_FALSE(ResultToJson(off, false).contains("xbzrle"));
  const nlohmann::ordered_json fixed = ResultToJson(off, false, /*fixed_shape=*/true);
  ASSERT_TRUE(fixed.contains("xbzrle"));
  EXPECT_TRUE(fixed["xbzrle"]["cache_miss"].is_null());
  EXPECT_EQ(fixed["xbzrle"].size(), 7u);
}

}  // namespace
}  // namespace ramstream::sim
