// The host-side parameters a real-QEMU comparison needs (scripts/qemu-grid): a measured map of
// non-zero pages, the sender's time per page, and socket buffering on the link.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "sim/scenario.h"
#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

using ::testing::HasSubstr;

SimSpec Paused(uint64_t pages, double link_bytes_per_s) {
  SimSpec spec;
  spec.guest.blocks = {{"pc.ram", pages, 0.0}};
  spec.link.steps = {{0, link_bytes_per_s}};
  spec.migration.policy = "qemu-7.2";
  spec.migration.max_bandwidth = 0;
  spec.run.series = false;
  return spec;
}

TEST(HostModelTest, NonzeroPageMapIsExact) {
  SimSpec spec = Paused(1000, 1e9);
  spec.guest.blocks[0].nonzero_pages = std::vector<PageRange>{{0, 10}, {500, 503}, {999, 1000}};
  Result<SimResult> r = Simulate(spec);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->bytes.normal_pages, 14u);
  EXPECT_EQ(r->bytes.zero_pages, 986u);
  // 7.2's ram.transferred: 4104 per PAGE, 9 per ZERO, the idstr once, 8 per iteration EOS.
  EXPECT_EQ(r->ram_transferred_bytes, 14u * 4104 + 986u * 9 + 7 + 8 * r->iterations);

  spec.guest.blocks[0].nonzero_pages = std::vector<PageRange>{{5, 10}, {9, 12}};
  EXPECT_THAT(Simulate(spec).error().message, HasSubstr("increasing order, disjoint"));
  spec.guest.blocks[0].nonzero_pages = std::vector<PageRange>{{995, 1001}};
  EXPECT_EQ(Simulate(spec).error().field, "guest.blocks[0].nonzero_pages");
}

TEST(HostModelTest, PageCostAddsSenderTimePerPage) {
  SimSpec spec = Paused(1000, 1e9);
  Result<SimResult> base = Simulate(spec);
  spec.migration.page_cost_s = 1e-6;
  Result<SimResult> slow = Simulate(spec);
  ASSERT_TRUE(base.ok() && slow.ok());
  // Zero pages: 9 bytes each, so without a rate limit the sender's own time is all that
  // changes: 1000 pages x 1 us.
  EXPECT_NEAR(slow->total_time_s - base->total_time_s, 1e-3, 1e-9);
  EXPECT_EQ(slow->ram_transferred_bytes, base->ram_transferred_bytes);
}

TEST(HostModelTest, PageCostHidesUnderTheRateLimit) {
  SimSpec spec = Paused(1000, 1e9);
  spec.guest.blocks[0].nonzero_fraction = 1.0;
  spec.migration.max_bandwidth = 4104.0 * 1000;  // 1000 PAGE records per second
  Result<SimResult> base = Simulate(spec);
  spec.migration.page_cost_s = 1e-6;  // 1 ms per 100 ms window of sending: absorbed
  Result<SimResult> slow = Simulate(spec);
  ASSERT_TRUE(base.ok() && slow.ok());
  EXPECT_NEAR(slow->total_time_s, base->total_time_s, 1e-3);
}

TEST(HostModelTest, LinkBufferShortensTheSourceSideTime) {
  SimSpec spec = Paused(1000, 1e8);
  spec.guest.blocks[0].nonzero_fraction = 1.0;
  Result<SimResult> base = Simulate(spec);
  spec.link.buffer_bytes = 1e6;  // the last 1 MB is in flight when the sender is done
  Result<SimResult> buffered = Simulate(spec);
  ASSERT_TRUE(base.ok() && buffered.ok());
  EXPECT_NEAR(base->total_time_s - buffered->total_time_s, 1e6 / 1e8, 1e-9);
  EXPECT_EQ(buffered->transferred_bytes, base->transferred_bytes);
}

TEST(HostModelTest, ScenarioFieldsAndErrors) {
  Result<ScenarioDocument> doc = ScenarioDocument::Parse(
      R"pb(
        guest { blocks { name: "pc.ram" size: "1000pages" nonzero_pages: "0-9,500-502,999" } }
        link { bandwidth: "1GB/s" buffer: "4MB" }
        migration { policy: "qemu-7.2" page_cost: "500ns" }
      )pb",
      ScenarioFormat::kText, "s.textproto");
  ASSERT_TRUE(doc.ok()) << doc.error().ToString();
  Result<SimSpec> spec = ToSpec(*doc);
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  ASSERT_TRUE(spec->guest.blocks[0].nonzero_pages.has_value());
  ASSERT_EQ(spec->guest.blocks[0].nonzero_pages->size(), 3u);
  EXPECT_EQ((*spec->guest.blocks[0].nonzero_pages)[1].first, 500u);
  EXPECT_EQ((*spec->guest.blocks[0].nonzero_pages)[1].end, 503u);
  EXPECT_DOUBLE_EQ(spec->link.buffer_bytes, 4e6);
  EXPECT_DOUBLE_EQ(spec->migration.page_cost_s, 500e-9);

  doc = ScenarioDocument::Parse(
      "guest {\n  blocks { name: \"pc.ram\" size: \"8pages\"\n    nonzero_pages: \"1-x\" }\n}\n",
      ScenarioFormat::kText, "bad.textproto");
  ASSERT_TRUE(doc.ok());
  spec = ToSpec(*doc);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.error().line, 3);
  EXPECT_EQ(spec.error().field, "guest.blocks[0].nonzero_pages");
  EXPECT_THAT(spec.error().message, HasSubstr("\"1-x\": expected a page index or a range"));
}

}  // namespace
}  // namespace ramstream::sim
