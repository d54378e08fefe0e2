#include "sim/engine/sender.h"

#include <gtest/gtest.h>

#include <vector>

#include "sim/engine/rng.h"

namespace ramstream::sim {
namespace {

constexpr uint64_t kPc = 1 + 6;   // counted "pc.ram"
constexpr uint64_t kVga = 1 + 8;  // counted "vga.vram"

struct Fixture {
  explicit Fixture(std::vector<RamBlockSpec> blocks = {{"pc.ram", 128, 1.0}, {"vga.vram", 64, 0.0}})
      : ram(blocks, ZeroLayout::kFront), sender(&ram, &counters, nullptr) {
    ram.MarkAllDirty();
    sender.Reset();
  }
  // Makes `bit` dirty again the way the guest does: a write, then a sync.
  void Redirty(uint64_t bit) {
    ram.Touch(bit);
    ram.SyncLog();
  }
  RamState ram;
  StreamCounters counters;
  PageSender sender;
};

TEST(PageSender, FirstPassNamesEachBlockOnceAndCountsContinueSavings) {
  Fixture f;
  SendResult r = f.sender.Send(SendLimits{});
  EXPECT_TRUE(r.exhausted);
  EXPECT_EQ(r.pages, 192u);
  EXPECT_EQ(f.counters.normal_pages, 128u);
  EXPECT_EQ(f.counters.zero_pages, 64u);
  EXPECT_EQ(f.counters.normal_bytes, 128 * 4104 + kPc);
  EXPECT_EQ(f.counters.zero_bytes, 64 * 9 + kVga);
  EXPECT_EQ(f.counters.named_records, 2u);
  EXPECT_EQ(f.counters.continue_saved_bytes, 127 * kPc + 63 * kVga);
  EXPECT_EQ(r.bytes, f.counters.page_record_bytes());
}

TEST(PageSender, LastSentBlockPersistsAcrossCallsAndSyncs) {
  Fixture f;
  (void)f.sender.Send(SendLimits{});
  // The last page sent was in vga.vram, so the next pc.ram page names its block ...
  f.Redirty(5);
  EXPECT_EQ(f.sender.Send(SendLimits{}).bytes, 4104 + kPc);
  // ... and the one after it uses CONTINUE.
  f.Redirty(6);
  EXPECT_EQ(f.sender.Send(SendLimits{}).bytes, 4104u);
}

TEST(PageSender, WalkPositionPersistsAndWrapsAround) {
  Fixture f;
  SendLimits ten;
  ten.max_pages = 10;
  EXPECT_EQ(f.sender.Send(ten).pages, 10u);  // pages 0..9
  f.Redirty(2);                              // behind the walk
  SendLimits one;
  one.max_pages = 1;
  (void)f.sender.Send(one);  // page 10, not page 2
  EXPECT_FALSE(f.ram.dirty().Test(10));
  EXPECT_TRUE(f.ram.dirty().Test(2));
  SendResult rest = f.sender.Send(SendLimits{});
  EXPECT_EQ(rest.pages, 192u - 11 + 1);  // the rest, then page 2 after the wrap
  EXPECT_TRUE(rest.exhausted);
}

TEST(PageSender, RateBudgetAllowsTheLastPageToOvershoot) {
  Fixture f;
  SendLimits l;
  l.max_bytes = 3 * 4104;  // sent <= budget before each page
  SendResult r = f.sender.Send(l);
  EXPECT_EQ(r.pages, 3u);
  EXPECT_EQ(r.bytes, 3 * 4104 + kPc);
  EXPECT_FALSE(r.exhausted);
  Fixture g;
  l.max_bytes = 0;  // a spent budget still lets the first page through
  EXPECT_EQ(g.sender.Send(l).pages, 1u);
}

TEST(PageSender, TimeCheckpointEvery64Pages) {
  Fixture f;
  SendLimits l;
  l.checkpoint_bytes = 10;  // exceeded at the first check, after page 1
  EXPECT_EQ(f.sender.Send(l).pages, 1u);
  Fixture g;
  l.checkpoint_bytes = 2 * 4104;  // exceeded from page 2 on; next check after page 65
  EXPECT_EQ(g.sender.Send(l).pages, 65u);
}

TEST(PageSender, TimeCheckpointCountsThePagesCost) {
  SendLimits l;
  l.checkpoint_bytes = 100 * 4104;  // 65 pages of data pass it at no cost, not 129
  Fixture f;
  EXPECT_EQ(f.sender.Send(l).pages, 129u);
  // Each page's CPU time is worth another page on the link: 65 pages take 130 pages' time.
  l.checkpoint_page_bytes = 4104;
  Fixture g;
  EXPECT_EQ(g.sender.Send(l).pages, 65u);
}

TEST(PageSender, MultifdPacketsAndTheMainStream) {
  constexpr uint64_t kHeader = 1344;  // MultiFDPacket_t (320) + 128 be64 offsets
  static_assert(kMultifdHeaderBytes == kHeader);
  Fixture f({{"pc.ram", 300, 1.0}, {"vga.vram", 64, 0.0}, {"pc.rom", 10, 1.0}});
  f.sender.EnableMultifd(2);
  const SendResult r = f.sender.Send(SendLimits{});
  // pc.ram: full packets after pages 128 and 256, 44 pages queued until pc.rom's first page
  // (a block change) sends them; vga.vram's zero pages go in the main stream, named once;
  // pc.rom's 10 pages stay queued.
  const uint64_t full = kHeader + 128 * 4096;
  EXPECT_EQ(r.bytes, 2 * full + (kHeader + 44 * 4096) + 64 * 9 + kVga);
  EXPECT_EQ(r.pages, 374u);
  EXPECT_EQ(f.counters.normal_pages, 310u);
  EXPECT_EQ(f.counters.multifd_pages, 310u);
  EXPECT_EQ(f.counters.multifd_packets, 3u);
  EXPECT_EQ(f.counters.normal_bytes, 0u);  // no PAGE record in the main stream
  EXPECT_EQ(f.counters.zero_bytes, 64 * 9 + kVga);
  // The sync sends the queued packet and one sync packet per channel.
  EXPECT_EQ(f.sender.MultifdSync(), kHeader + 10 * 4096 + 2 * kHeader);
  EXPECT_EQ(f.counters.multifd_packets, 4u);
  EXPECT_EQ(f.counters.multifd_sync_packets, 2u);
  EXPECT_EQ(f.counters.multifd_bytes,
            2 * full + kHeader + 44 * 4096 + kHeader + 10 * 4096 + 2 * kHeader);
  EXPECT_EQ(f.counters.total(), f.counters.page_record_bytes() + f.counters.multifd_bytes);
  // An empty sync still sends a sync packet per channel.
  EXPECT_EQ(f.sender.MultifdSync(), 2 * kHeader);
}

TEST(PageSender, MultifdPagesLeaveLastSentBlockAlone) {
  Fixture f({{"pc.ram", 64, 0.0}, {"pc.rom", 64, 1.0}});
  f.sender.EnableMultifd(1);
  // pc.ram's zero pages in the main stream (named once), pc.rom's pages queued.
  EXPECT_EQ(f.sender.Send(SendLimits{}).bytes, 64 * 9 + kPc);
  EXPECT_EQ(f.sender.MultifdSync(), 1344 + 64 * 4096 + 1344);
  // The next main-stream record is in pc.ram again: CONTINUE, although pc.rom's packet was
  // sent after pc.ram's last record.
  f.ram.MarkAllDirty();
  SendLimits one;
  one.max_pages = 1;
  EXPECT_EQ(f.sender.Send(one).bytes, 9u);
}

class Recorder : public SendObserver {
 public:
  void OnSetup(const RamState&) override {}
  void OnPage(size_t block, uint64_t page, bool zero, bool named) override {
    pages.push_back({block, page, zero, named});
  }
  void OnEos() override {}
  struct Page {
    size_t block;
    uint64_t page;
    bool zero;
    bool named;
  };
  std::vector<Page> pages;
};

TEST(PageSender, WordLevelAccountingEqualsPageByPage) {
  const std::vector<RamBlockSpec> blocks = {
      {"pc.ram", 5000, 0.6}, {"pc.bios", 64, 1.0}, {"vga.vram", 777, 0.1}};
  RamState fast(blocks, ZeroLayout::kSpread);
  RamState slow(blocks, ZeroLayout::kSpread);
  StreamCounters cf, cs;
  Recorder rec;
  PageSender sf(&fast, &cf, nullptr);
  PageSender ss(&slow, &cs, &rec);
  fast.MarkAllDirty();
  slow.MarkAllDirty();
  sf.Reset();
  ss.Reset();
  Rng rng(7, 0);
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 300; ++i) {
      const uint64_t bit = rng.Next() % fast.num_bits();
      if ((fast.ValidMask(bit >> 6) >> (bit & 63) & 1) == 0) continue;
      fast.Touch(bit);
      slow.Touch(bit);
    }
    fast.SyncLog();
    slow.SyncLog();
    SendLimits l;
    l.max_bytes = static_cast<double>(rng.Next() % 2'000'000);
    l.checkpoint_bytes = static_cast<double>(rng.Next() % 3'000'000);
    l.checkpoint_page_bytes = static_cast<double>(rng.Next() % 5000);
    SendResult a = sf.Send(l);
    SendResult b = ss.Send(l);
    ASSERT_EQ(a.pages, b.pages) << "round " << round;
    ASSERT_EQ(a.bytes, b.bytes) << "round " << round;
  }
  EXPECT_EQ(cf.normal_bytes, cs.normal_bytes);
  EXPECT_EQ(cf.zero_bytes, cs.zero_bytes);
  EXPECT_EQ(cf.named_records, cs.named_records);
  EXPECT_EQ(cf.continue_saved_bytes, cs.continue_saved_bytes);
  EXPECT_EQ(rec.pages.size(), cs.normal_pages + cs.zero_pages);
}

}  // namespace
}  // namespace ramstream::sim
