// Statistical and exact checks of the guest write models and the link.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <set>
#include <vector>

#include "sim/models/factory.h"
#include "sim/models/hot_cold.h"
#include "sim/models/link.h"
#include "sim/models/sequential.h"
#include "sim/models/uniform.h"
#include "sim/models/zipf.h"

namespace ramstream::sim {
namespace {

RamState Ram(uint64_t pages) { return RamState({{"pc.ram", pages, 1.0}}, ZeroLayout::kSpread); }

TEST(UniformWriter, DistinctPagesFollowOneMinusExp) {
  // For p in each of the three generation regimes: skips over hits, random words, skips over
  // misses.
  for (double touches_per_page : {0.02, 0.5, 4.0}) {
    const uint64_t n = 1 << 20;
    RamState ram = Ram(n);
    UniformWriter w(Region::Of(ram, -1, 0, n), touches_per_page * n, 1, 0);
    w.Apply(0, 1, 1.0, ram, nullptr);
    const double expected = n * -std::expm1(-touches_per_page);
    EXPECT_NEAR(ram.log_pages(), expected, 5 * std::sqrt(expected) + 1) << touches_per_page;
  }
}

TEST(UniformWriter, ManyShortIntervalsMatchOneLongOne) {
  const uint64_t n = 1 << 18;
  RamState a = Ram(n), b = Ram(n);
  UniformWriter wa(Region::Of(a, -1, 0, n), 0.7 * n, 1, 0);
  UniformWriter wb(Region::Of(b, -1, 0, n), 0.7 * n, 2, 0);
  wa.Apply(0, 1, 1.0, a, nullptr);
  for (int i = 0; i < 100; ++i) wb.Apply(i * 0.01, (i + 1) * 0.01, 1.0, b, nullptr);
  const double expected = n * -std::expm1(-0.7);
  EXPECT_NEAR(a.log_pages(), expected, 5 * std::sqrt(expected));
  EXPECT_NEAR(b.log_pages(), expected, 5 * std::sqrt(expected));
}

TEST(UniformWriter, HundredMillionTouchesOn1TiB) {
  // docs/simulation-models.md section 4: 1e8 uniform touches over 2^28 pages gave 83,489,104
  // distinct pages against 83,486,205 predicted.
  const uint64_t n = uint64_t{1} << 28;
  RamState ram = Ram(n);
  UniformWriter w(Region::Of(ram, -1, 0, n), 1e8, 1, 0);
  w.Apply(0, 1, 1.0, ram, nullptr);
  // Binomial noise: sqrt(N p (1 - p)) is about 7,600 pages.
  EXPECT_NEAR(static_cast<double>(ram.log_pages()), 83'486'205.0, 5 * 7600);
}

TEST(UniformWriter, WindowedWritesArriveInPiecesWithTheSameDistribution) {
  const uint64_t n = 1 << 18;
  RamState ram = Ram(n);
  UniformWriter w(Region::Of(ram, -1, 0, n), 0.5 * n, 1, 0);
  // A window sliding over the first half: only its pages get their writes now.
  for (int i = 0; i < 8; ++i) {
    const ZeroPageWindow window{i * n / 16, (i + 2) * n / 16};
    w.Apply(i * 0.125, (i + 1) * 0.125, 1.0, ram, &window);
  }
  ram.SyncLog();  // (every page is clean in the migration bitmap: SyncLog just copies)
  uint64_t second_half = 0;
  for (uint64_t i = n / 2 + n / 16; i < n; ++i) second_half += ram.dirty().Test(i) ? 1 : 0;
  EXPECT_EQ(second_half, 0u);
  w.Flush(ram);
  ram.SyncLog();
  // Each page received exposure 0.5 in total, in pieces or at once.
  const double expected = n * -std::expm1(-0.5);
  EXPECT_NEAR(ram.dirty_pages(), expected, 5 * std::sqrt(expected));
  uint64_t first_half = 0;
  for (uint64_t i = 0; i < n / 2; ++i) first_half += ram.dirty().Test(i) ? 1 : 0;
  EXPECT_NEAR(first_half, expected / 2, 5 * std::sqrt(expected / 2));
}

TEST(UniformWriter, ThrottleScalesTheRate) {
  const uint64_t n = 1 << 20;
  RamState ram = Ram(n);
  UniformWriter w(Region::Of(ram, -1, 0, n), 0.1 * n, 3, 0);
  w.Apply(0, 1, 0.5, ram, nullptr);
  const double expected = n * -std::expm1(-0.05);
  EXPECT_NEAR(ram.log_pages(), expected, 5 * std::sqrt(expected));
}

TEST(SequentialWriter, WritesFreshPagesThenWraps) {
  RamState ram = Ram(1000);
  SequentialWriter w(Region::Of(ram, -1, 0, 1000), 300, 900, false);
  w.Apply(0, 0.5, 1.0, ram, nullptr);  // 150 pages: 900..999, 0..49
  EXPECT_EQ(ram.log_pages(), 150u);
  EXPECT_TRUE(ram.dirty().Test(0) == false);  // only the log, not the migration bitmap
  ram.MarkAllDirty();
  ram.SyncLog();
  RamState check = Ram(1000);
  SequentialWriter again(Region::Of(check, -1, 0, 1000), 300, 900, false);
  again.Apply(0, 0.5, 1.0, check, nullptr);
  EXPECT_EQ(check.SyncLog(), 150u);
  EXPECT_TRUE(check.dirty().Test(999));
  EXPECT_TRUE(check.dirty().Test(49));
  EXPECT_FALSE(check.dirty().Test(50));
  EXPECT_FALSE(check.dirty().Test(899));
}

TEST(SequentialWriter, DescendingAndFractionalProgress) {
  RamState ram = Ram(1000);
  SequentialWriter w(Region::Of(ram, -1, 0, 1000), 10, 999, true);
  for (int i = 0; i < 100; ++i)
    w.Apply(i * 0.01, (i + 1) * 0.01, 1.0, ram, nullptr);  // 0.1 page each
  EXPECT_EQ(ram.SyncLog(), 10u);
  EXPECT_TRUE(ram.dirty().Test(999));
  EXPECT_TRUE(ram.dirty().Test(990));
  EXPECT_FALSE(ram.dirty().Test(989));
}

TEST(HotColdWriter, HotSetSaturatesColdSetDoesNot) {
  const uint64_t n = 1 << 18;
  uint64_t hot = 0;
  RamState probe = Ram(n);
  HotColdWriter p(Region::Of(probe, -1, 0, n), 1024, 4096, 100'000, 0.9, 1, 0);
  p.Apply(0, 1, 1.0, probe, nullptr);
  probe.SyncLog();
  for (uint64_t i = 1024; i < 1024 + 4096; ++i) hot += probe.dirty().Test(i) ? 1 : 0;
  EXPECT_EQ(hot, 4096u);  // 22 touches per hot page: all written
  const double cold_expected = (n - 4096) * -std::expm1(-10'000.0 / (n - 4096));
  EXPECT_NEAR(probe.dirty_pages() - hot, cold_expected, 5 * std::sqrt(cold_expected));
}

TEST(Permutation, IsABijection) {
  for (uint64_t n : {1u, 2u, 3u, 1000u, 4096u}) {
    Permutation p(n, 42);
    std::set<uint64_t> seen;
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t v = p(i);
      ASSERT_LT(v, n);
      seen.insert(v);
    }
    EXPECT_EQ(seen.size(), n);
  }
}

TEST(ZipfWriter, DistinctPagesMatchTheExpectation) {
  const uint64_t n = 1 << 16;
  const double s = 0.99;
  const double touches = 50'000;
  double harmonic = 0;
  for (uint64_t k = 1; k <= n; ++k) harmonic += std::pow(k, -s);
  EXPECT_NEAR(GeneralizedHarmonic(n, s), harmonic, 1e-9 * harmonic);
  EXPECT_NEAR(GeneralizedHarmonic(uint64_t{1} << 28, 1.0), std::log(268435456.0) + 0.5772157, 1e-6);
  double expected = 0;
  for (uint64_t k = 1; k <= n; ++k) expected += -std::expm1(-touches * std::pow(k, -s) / harmonic);
  RamState ram = Ram(n);
  ZipfWriter w(Region::Of(ram, -1, 0, n), touches, s, 5, 0);
  w.Apply(0, 1, 1.0, ram, nullptr);
  EXPECT_NEAR(ram.log_pages(), expected, 5 * std::sqrt(expected));
}

TEST(ZipfWriter, HotRanksScatterOverTheRegion) {
  const uint64_t n = 1 << 16;
  RamState ram = Ram(n);
  ZipfWriter w(Region::Of(ram, -1, 0, n), 1000, 1.2, 5, 0);
  w.Apply(0, 1, 1.0, ram, nullptr);
  ram.SyncLog();
  uint64_t low_half = 0;
  for (uint64_t i = 0; i < n / 2; ++i) low_half += ram.dirty().Test(i) ? 1 : 0;
  const double frac = static_cast<double>(low_half) / static_cast<double>(ram.dirty_pages());
  EXPECT_NEAR(frac, 0.5, 0.1);
}

TEST(PhasedModel, PhasesFollowEachOtherThenStop) {
  RamState ram = Ram(10'000);
  std::vector<PhasedModel::Phase> phases;
  phases.push_back(
      {1.0, std::make_unique<SequentialWriter>(Region::Of(ram, -1, 0, 1000), 100, 0, false)});
  phases.push_back(
      {2.0, std::make_unique<SequentialWriter>(Region::Of(ram, -1, 5000, 1000), 10, 0, false)});
  PhasedModel m(std::move(phases), false);
  EXPECT_EQ(m.TouchRate(0.5), 100);
  EXPECT_EQ(m.TouchRate(2.5), 10);
  EXPECT_EQ(m.TouchRate(3.5), 0);
  m.Apply(0, 10, 1.0, ram, nullptr);
  EXPECT_EQ(ram.log_pages(), 100u + 20u);
}

TEST(PhasedModel, RepeatingPhasesCycle) {
  RamState ram = Ram(10'000);
  std::vector<PhasedModel::Phase> phases;
  phases.push_back(
      {1.0, std::make_unique<SequentialWriter>(Region::Of(ram, -1, 0, 5000), 100, 0, false)});
  phases.push_back(
      {1.0, std::make_unique<CompositeModel>(std::vector<std::unique_ptr<WriteModel>>{})});
  PhasedModel m(std::move(phases), true);
  m.Apply(0, 10, 1.0, ram, nullptr);  // five busy seconds
  EXPECT_EQ(ram.log_pages(), 500u);
  EXPECT_EQ(m.TouchRate(4.5), 100);
  EXPECT_EQ(m.TouchRate(5.5), 0);
}

TEST(Region, SpansBlocksInOrder) {
  RamState ram({{"a", 100, 1.0}, {"b", 100, 1.0}}, ZeroLayout::kSpread);
  Region r = Region::Of(ram, -1, 90, 20);
  ASSERT_EQ(r.segments().size(), 2u);
  EXPECT_EQ(r.BitOf(0), 90u);
  EXPECT_EQ(r.BitOf(10), 128u);  // block b starts at bit 128
  r.TouchRange(ram, 0, 20);
  EXPECT_EQ(ram.log_pages(), 20u);
}

TEST(Link, StepsIntegrate) {
  Link link({{0, 100}, {1, 0}, {2, 200}}, 0.01);
  EXPECT_DOUBLE_EQ(link.RateAt(0.5), 100);
  EXPECT_DOUBLE_EQ(link.RateAt(1.5), 0);
  EXPECT_DOUBLE_EQ(link.TransferTime(0, 50), 0.5);
  EXPECT_DOUBLE_EQ(link.TransferTime(0.5, 250), 2.5);  // 50 by 1 s, outage, 200 in 1 s
  EXPECT_DOUBLE_EQ(link.Capacity(0.5, 2.0), 50 + 0 + 100);
  EXPECT_DOUBLE_EQ(link.TransferTime(0, 100, 50), 3.0);  // capped, and the outage
  EXPECT_DOUBLE_EQ(link.Capacity(2, 1, 50), 50);
}

}  // namespace
}  // namespace ramstream::sim
