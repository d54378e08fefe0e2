#include "sim/engine/bitmap.h"

#include <gtest/gtest.h>

#include "sim/engine/ram_state.h"

namespace ramstream::sim {
namespace {

TEST(PageBitmap, SetClearCountAndSummary) {
  PageBitmap b(64 * 200);
  EXPECT_TRUE(b.Set(5));
  EXPECT_FALSE(b.Set(5));
  EXPECT_TRUE(b.Set(64 * 150 + 3));
  EXPECT_EQ(b.count(), 2u);
  EXPECT_EQ(b.NextNonzeroWord(0), 0u);
  EXPECT_EQ(b.NextNonzeroWord(1), 150u);
  EXPECT_EQ(b.NextNonzeroWord(151), PageBitmap::kNone);
  EXPECT_TRUE(b.Clear(5));
  EXPECT_EQ(b.NextNonzeroWord(0), 150u);
  EXPECT_EQ(b.count(), 1u);
  b.ClearAll();
  EXPECT_EQ(b.count(), 0u);
  EXPECT_EQ(b.NextNonzeroWord(0), PageBitmap::kNone);
}

TEST(PageBitmap, SetRangeCountsOnlyNewBits) {
  PageBitmap b(1000);
  EXPECT_EQ(b.SetRange(10, 100), 100u);
  EXPECT_EQ(b.SetRange(50, 100), 40u);  // [110, 150) is new
  EXPECT_EQ(b.count(), 140u);
  EXPECT_TRUE(b.Test(149));
  EXPECT_FALSE(b.Test(150));
}

TEST(RamState, BlocksStartOnWordBoundaries) {
  RamState ram({{"a", 100, 1.0}, {"b", 64, 1.0}, {"c", 1, 1.0}}, ZeroLayout::kSpread);
  ASSERT_EQ(ram.blocks().size(), 3u);
  EXPECT_EQ(ram.blocks()[0].first_bit, 0u);
  EXPECT_EQ(ram.blocks()[1].first_bit, 128u);
  EXPECT_EQ(ram.blocks()[2].first_bit, 192u);
  EXPECT_EQ(ram.total_pages(), 165u);
  EXPECT_EQ(ram.BlockOfWord(1), 0u);
  EXPECT_EQ(ram.BlockOfWord(2), 1u);
  EXPECT_EQ(ram.BlockOfWord(3), 2u);
  EXPECT_EQ(ram.ValidMask(1), (uint64_t{1} << 36) - 1);
  ram.MarkAllDirty();
  EXPECT_EQ(ram.dirty_pages(), 165u);
}

TEST(RamState, ZeroLayoutsHaveTheRequestedFraction) {
  const uint64_t pages = 1 << 20;
  RamState spread({{"pc.ram", pages, 0.3}}, ZeroLayout::kSpread);
  EXPECT_NEAR(static_cast<double>(spread.zero_pages()) / pages, 0.7, 1e-4);
  // Spread: every 64-page word has about 30% data.
  EXPECT_NEAR(std::popcount(spread.ZeroMask(100)), 45, 1);
  RamState front({{"pc.ram", pages, 0.3}}, ZeroLayout::kFront);
  EXPECT_EQ(front.zero_pages(), pages - 314573);
  EXPECT_EQ(front.ZeroMask(0), 0u);
  EXPECT_EQ(front.ZeroMask(pages / 64 - 1), ~uint64_t{0});
}

TEST(RamState, WritesMakePagesNonZeroAndSyncMergesTheLog) {
  RamState ram({{"pc.ram", 256, 0.0}}, ZeroLayout::kSpread);
  ram.MarkAllDirty();
  EXPECT_EQ(ram.pending_zero_pages(), 256u);
  ram.Touch(3);
  ram.TouchRange(60, 10);
  EXPECT_EQ(ram.zero_pages(), 256u - 11);
  EXPECT_EQ(ram.pending_zero_pages(), 256u - 11);
  EXPECT_EQ(ram.log_pages(), 11u);
  // All pages are already in the migration bitmap: the sync adds nothing new.
  EXPECT_EQ(ram.SyncLog(), 0u);
  EXPECT_EQ(ram.log_pages(), 0u);
  ram.TakeDirty(0, ~uint64_t{0});
  EXPECT_EQ(ram.dirty_pages(), 192u);
  ram.Touch(3);
  EXPECT_EQ(ram.SyncLog(), 1u);
  EXPECT_EQ(ram.dirty_pages(), 193u);
}

}  // namespace
}  // namespace ramstream::sim
