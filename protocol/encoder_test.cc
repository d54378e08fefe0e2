#include "protocol/encoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "protocol/decoder.h"
#include "protocol/testing/matchers.h"
#include "protocol/testing/streams.h"
#include "protocol/wire_format.h"
#include "protocol/xbzrle.h"

namespace ramstream::protocol {
namespace {

using Bytes = std::vector<std::byte>;

std::string Hex(std::span<const std::byte> s) {
  std::string out;
  char buf[4];
  for (std::byte b : s) {
    std::snprintf(buf, sizeof buf, "%02x ", static_cast<unsigned>(b));
    out += buf;
  }
  if (!out.empty()) out.pop_back();
  return out;
}

// Builds expected streams field by field.
class Wire {
 public:
  Wire& U8(int v) {
    b_.push_back(static_cast<std::byte>(v));
    return *this;
  }
  Wire& Be(uint64_t v, int n) {
    for (int k = n - 1; k >= 0; --k) U8(static_cast<int>((v >> (8 * k)) & 0xff));
    return *this;
  }
  Wire& Be64(uint64_t v) { return Be(v, 8); }
  Wire& Str(std::string_view s) {
    U8(static_cast<int>(s.size()));
    for (char c : s) U8(static_cast<unsigned char>(c));
    return *this;
  }
  Wire& Raw(std::span<const std::byte> s) {
    b_.insert(b_.end(), s.begin(), s.end());
    return *this;
  }
  const Bytes& bytes() const { return b_; }

 private:
  Bytes b_;
};

// The bytes written since `mark`.
Bytes Tail(const Bytes& out, size_t mark) { return Bytes(out.begin() + mark, out.end()); }

Bytes Page(int fill) { return Bytes(kPageSize, static_cast<std::byte>(fill)); }

Bytes RandomPage(std::mt19937_64& rng) {
  Bytes p(kPageSize);
  for (auto& x : p) x = static_cast<std::byte>(rng() | 1);  // never a zero page
  return p;
}

// ---------------------------------------------------------------------------------------------
// AppendRecord / RecordSize

void ExpectRecordBytes(const Record& r, const Bytes& want) {
  Bytes out = {std::byte{0xee}};  // appends, never overwrites
  AppendRecord(r, &out);
  ASSERT_EQ(out.size(), want.size() + 1);
  EXPECT_EQ(out[0], std::byte{0xee});
  EXPECT_EQ(Hex(std::span(out).subspan(1)), Hex(want));
  EXPECT_EQ(RecordSize(r), want.size());
}

TEST(AppendRecord, ZeroWithIdstr) {
  Record r;
  r.kind = RecordKind::kZero;
  r.flags = kFlagZero;
  r.address = 0x5000;
  r.idstr = "pc.ram";
  r.fill = 0;
  ExpectRecordBytes(r, Wire().Be64(0x5002).Str("pc.ram").U8(0).bytes());
}

TEST(AppendRecord, ZeroWithContinueHasNoIdstrAndKeepsFill) {
  Record r;
  r.kind = RecordKind::kZero;
  r.flags = kFlagZero | kFlagContinue;
  r.address = 0x7000;
  r.fill = 0x5a;
  ExpectRecordBytes(r, Wire().Be64(0x7022).U8(0x5a).bytes());
}

TEST(AppendRecord, PageWithIdstr) {
  const Bytes page = Page(0x3c);
  Record r;
  r.kind = RecordKind::kPage;
  r.flags = kFlagPage;
  r.address = 0x1000;
  r.idstr = "/rom@etc/acpi/tables";
  r.data = page;
  ExpectRecordBytes(r, Wire().Be64(0x1008).Str("/rom@etc/acpi/tables").Raw(page).bytes());
}

TEST(AppendRecord, VersionThreePageHasNoIdstrEvenWithoutContinue) {
  const Bytes page = Page(1);
  Record r;
  r.kind = RecordKind::kPage;
  r.flags = kFlagPage;
  r.address = 0x123000;
  r.data = page;
  ExpectRecordBytes(r, Wire().Be64(0x123008).Raw(page).bytes());
}

TEST(AppendRecord, Xbzrle) {
  const Bytes delta = {std::byte{0}, std::byte{1}, std::byte{0x41}};
  Record r;
  r.kind = RecordKind::kXbzrle;
  r.flags = kFlagXbzrle | kFlagContinue;
  r.address = 0x2000;
  r.data = delta;
  ExpectRecordBytes(r, Wire().Be64(0x2060).U8(1).Be(3, 2).Raw(delta).bytes());
}

TEST(AppendRecord, CompressedPage) {
  const Bytes z = {std::byte{0x78}, std::byte{0x01}, std::byte{0x63}, std::byte{0x00}};
  Record r;
  r.kind = RecordKind::kCompressedPage;
  r.flags = kFlagCompressPage;
  r.address = 0x3000;
  r.idstr = "ram";
  r.data = z;
  ExpectRecordBytes(r, Wire().Be64(0x3100).Str("ram").Be(4, 4).Raw(z).bytes());
}

TEST(AppendRecord, CompressedPageWithTheLongestIdstr) {
  // The longest prefix a record has: header, a 255-byte idstr and the be32 length.
  const Bytes z = {std::byte{0x78}, std::byte{0x01}};
  const std::string idstr(255, 'r');
  Record r;
  r.kind = RecordKind::kCompressedPage;
  r.flags = kFlagCompressPage;
  r.address = 0x5000;
  r.idstr = idstr;
  r.data = z;
  ExpectRecordBytes(r, Wire().Be64(0x5100).Str(idstr).Be(2, 4).Raw(z).bytes());
}

TEST(AppendRecord, MemSizeWithOptionalFields) {
  const BlockInfo blocks[] = {
      {"pc.ram", 0x2000000, std::nullopt, std::nullopt},
      {"big", 0x200000, 0x200000, std::nullopt},
      {"shared", 0x1000, std::nullopt, 0xfffc0000},
      {"both", 0x1000, 0x10000, 0x100000},
  };
  Record r;
  r.kind = RecordKind::kMemSize;
  r.flags = kFlagMemSize;
  r.address = 0x2202000;
  r.blocks = blocks;
  ExpectRecordBytes(r, Wire()
                           .Be64(0x2202004)
                           .Str("pc.ram")
                           .Be64(0x2000000)
                           .Str("big")
                           .Be64(0x200000)
                           .Be64(0x200000)
                           .Str("shared")
                           .Be64(0x1000)
                           .Be64(0xfffc0000)
                           .Str("both")
                           .Be64(0x1000)
                           .Be64(0x10000)
                           .Be64(0x100000)
                           .bytes());
}

TEST(AppendRecord, HeaderOnlyKinds) {
  const std::pair<RecordKind, uint32_t> kinds[] = {
      {RecordKind::kEos, kFlagEos},
      {RecordKind::kMultifdFlush, kFlagMultifdFlush},
      {RecordKind::kHook, kFlagHook},
      {RecordKind::kIgnored, kFlagXbzrle},  // 2010: a flag that meant nothing yet
  };
  for (const auto& [kind, flags] : kinds) {
    Record r;
    r.kind = kind;
    r.flags = flags;
    r.address = kind == RecordKind::kIgnored ? 0x4000 : 0;
    ExpectRecordBytes(r, Wire().Be64(r.address | flags).bytes());
  }
}

TEST(AppendRecord, SharedHeaderWritesOnlyThePayload) {
  // 2010: MEM_SIZE|COMPRESS in one header; the ZERO action has no header of its
  // own.
  Record r;
  r.kind = RecordKind::kZero;
  r.flags = kFlagMemSize | kFlagZero;
  r.shares_header = true;
  r.address = 0x1000;
  r.fill = 7;
  ExpectRecordBytes(r, Wire().U8(7).bytes());
  Record eos;
  eos.kind = RecordKind::kEos;
  eos.flags = kFlagPage | kFlagEos;
  eos.shares_header = true;
  ExpectRecordBytes(eos, Bytes{});
}

// ---------------------------------------------------------------------------------------------
// Encoder: block naming and CONTINUE

const BlockInfo kTwoBlocks[] = {
    {"pc.ram", 0x2000, std::nullopt, std::nullopt},
    {"vga", 0x1000, std::nullopt, std::nullopt},
};

TEST(Encoder, MemSizeNamedPageContinueBlockSwitchAndEos) {
  Bytes out;
  Encoder enc({}, &out);
  const Bytes a = Page(0xaa);
  const Bytes b = Page(0xbb);
  enc.WriteMemSize(kTwoBlocks);
  EXPECT_EQ(enc.WritePage(0, 0, a), PageOutcome::kPage);
  EXPECT_EQ(enc.WritePage(0, 0x1000, Page(0)), PageOutcome::kZero);
  EXPECT_EQ(enc.WritePage(1, 0, b), PageOutcome::kPage);
  EXPECT_EQ(enc.WritePage(0, 0x1000, Page(0)), PageOutcome::kZero);
  enc.WriteEos();

  const Bytes want = Wire()
                         .Be64(0x3004)  // MEM_SIZE, total 0x3000
                         .Str("pc.ram")
                         .Be64(0x2000)
                         .Str("vga")
                         .Be64(0x1000)
                         .Be64(0x0008)  // PAGE, names pc.ram
                         .Str("pc.ram")
                         .Raw(a)
                         .Be64(0x1022)  // ZERO | CONTINUE
                         .U8(0)
                         .Be64(0x0008)  // PAGE, block switch names vga
                         .Str("vga")
                         .Raw(b)
                         .Be64(0x1002)  // back to pc.ram: named again
                         .Str("pc.ram")
                         .U8(0)
                         .Be64(0x0010)  // EOS
                         .bytes();
  ASSERT_EQ(out.size(), want.size());
  EXPECT_TRUE(out == want) << Hex(std::span(out).first(64));

  const EncoderStats& s = enc.stats();
  EXPECT_EQ(s.zero_pages, 2u);
  EXPECT_EQ(s.normal_pages, 2u);
  EXPECT_EQ(s.xbzrle_pages, 0u);
  EXPECT_EQ(s.eos, 1u);
  EXPECT_EQ(s.bytes, want.size());
  EXPECT_EQ(s.page_record_bytes, (8 + 7 + 4096) + (8 + 1) + (8 + 4 + 4096) + (8 + 7 + 1));
  EXPECT_EQ(s.continue_saved_bytes, 7u);
}

TEST(Encoder, ContinueSavesOnePlusIdstrPerRecord) {
  Encoder enc({}, nullptr);
  enc.WriteMemSize(kTwoBlocks);
  for (int round = 0; round < 3; ++round) {
    enc.WritePage(0, 0, Page(1));
    enc.WritePage(0, 0x1000, Page(0));
  }
  // 6 records in pc.ram without a block switch: the first names it, 5 use
  // CONTINUE.
  EXPECT_EQ(enc.stats().continue_saved_bytes, 5u * (1 + 6));
  EXPECT_EQ(enc.stats().page_record_bytes, 3 * PageRecordSize(false, 0, kPagePayload) +
                                               3 * PageRecordSize(false, 0, kZeroPayload) + 7);
}

TEST(Encoder, ResetLastBlockMakesNextPageNameItsBlock) {
  Bytes out;
  Encoder enc({}, &out);
  enc.WriteMemSize(kTwoBlocks);
  enc.WritePage(0, 0, Page(0));
  enc.ResetLastBlock();
  const size_t before = out.size();
  enc.WritePage(0, 0x1000, Page(0));
  EXPECT_EQ(Hex(std::span(out).subspan(before)),
            Hex(Wire().Be64(0x1002).Str("pc.ram").U8(0).bytes()));
}

TEST(Encoder, WriteMemSizeForgetsTheLastBlock) {
  Bytes out;
  Encoder enc({}, &out);
  enc.WriteMemSize(kTwoBlocks);
  enc.WritePage(1, 0, Page(0));
  enc.WriteMemSize(kTwoBlocks);
  const size_t before = out.size();
  enc.WritePage(1, 0, Page(0));
  EXPECT_EQ(Hex(std::span(out).subspan(before)), Hex(Wire().Be64(0x2).Str("vga").U8(0).bytes()));
}

// ---------------------------------------------------------------------------------------------
// Encoder: zero pages

TEST(Encoder, ZeroPageOnlyWhenEveryByteIsZero) {
  const BlockInfo block[] = {{"ram", 0x1000, std::nullopt, std::nullopt}};
  for (size_t pos : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{63}, size_t{64},
                     size_t{2048}, size_t{4088}, size_t{4095}}) {
    Encoder enc({}, nullptr);
    enc.WriteMemSize(block);
    Bytes page = Page(0);
    page[pos] = std::byte{0x80};
    EXPECT_EQ(enc.WritePage(0, 0, page), PageOutcome::kPage) << pos;
    EXPECT_EQ(enc.WritePage(0, 0, Page(0)), PageOutcome::kZero) << pos;
  }
}

TEST(Encoder, ZeroDetectionCanBeTurnedOff) {
  const BlockInfo block[] = {{"ram", 0x1000, std::nullopt, std::nullopt}};
  Bytes out;
  Encoder enc({.detect_zero_pages = false}, &out);
  enc.WriteMemSize(block);
  EXPECT_EQ(enc.WritePage(0, 0, Page(0)), PageOutcome::kPage);
  EXPECT_EQ(enc.stats().zero_pages, 0u);
  EXPECT_EQ(enc.stats().normal_pages, 1u);
}

// ---------------------------------------------------------------------------------------------
// Encoder: XBZRLE

const BlockInfo kRam16k[] = {{"ram", 0x4000, std::nullopt, std::nullopt}};

TEST(Encoder, XbzrleIsUnusedUntilEnabled) {
  Encoder enc({.xbzrle_cache_bytes = 1 << 20}, nullptr);
  enc.WriteMemSize(kRam16k);
  EXPECT_EQ(enc.WritePage(0, 0, Page(1)), PageOutcome::kPage);
  EXPECT_EQ(enc.WritePage(0, 0, Page(1)), PageOutcome::kPage);
  EXPECT_EQ(enc.stats().cache_miss, 0u);
}

TEST(Encoder, XbzrleMissThenDeltaThenUnchangedThenOverflow) {
  Bytes out;
  Encoder enc({.xbzrle_cache_bytes = 4 * kPageSize}, &out);
  enc.WriteMemSize(kRam16k);
  enc.EnableXbzrle();
  std::mt19937_64 rng(7);
  const Bytes p1 = RandomPage(rng);

  size_t mark = out.size();
  EXPECT_EQ(enc.WritePage(0, 0x1000, p1), PageOutcome::kPage);
  EXPECT_EQ(enc.stats().cache_miss, 1u);
  EXPECT_TRUE(Tail(out, mark) == Wire().Be64(0x1008).Str("ram").Raw(p1).bytes());

  Bytes p2 = p1;
  p2[0] = std::byte{0x42};
  mark = out.size();
  EXPECT_EQ(enc.WritePage(0, 0x1000, p2), PageOutcome::kXbzrle);
  EXPECT_EQ(Hex(std::span(out).subspan(mark)), "00 00 00 00 00 00 10 60 01 00 03 00 01 42");

  mark = out.size();
  EXPECT_EQ(enc.WritePage(0, 0x1000, p2), PageOutcome::kUnchanged);
  EXPECT_EQ(out.size(), mark);

  Bytes p3 = p2;
  for (size_t i = 0; i < kPageSize; i += 2) p3[i] ^= std::byte{0xff};
  EXPECT_EQ(enc.WritePage(0, 0x1000, p3), PageOutcome::kPage);
  EXPECT_TRUE(Tail(out, mark) == Wire().Be64(0x1028).Raw(p3).bytes());
  // The overflow refreshed the cache, so p3 again is unchanged.
  EXPECT_EQ(enc.WritePage(0, 0x1000, p3), PageOutcome::kUnchanged);

  const EncoderStats& s = enc.stats();
  EXPECT_EQ(s.cache_miss, 1u);
  EXPECT_EQ(s.xbzrle_pages, 1u);
  EXPECT_EQ(s.xbzrle_unchanged, 2u);
  EXPECT_EQ(s.xbzrle_overflow, 1u);
  EXPECT_EQ(s.normal_pages, 2u);
  EXPECT_EQ(s.bytes, out.size());
  EXPECT_EQ(s.page_record_bytes, (8 + 4 + 4096) + (8 + 3 + 3) + (8 + 4096));
}

TEST(Encoder, UnchangedPageDoesNotBecomeTheLastBlock) {
  // QEMU bug 84e7b80a05c0 (fixed by 3fd3c4b37c11): a skipped page must not
  // change the block a later CONTINUE refers to.
  const BlockInfo blocks[] = {
      {"a", 0x1000, std::nullopt, std::nullopt},
      {"b", 0x1000, std::nullopt, std::nullopt},
  };
  Bytes out;
  Encoder enc({.xbzrle_cache_bytes = 4 * kPageSize}, &out);
  enc.WriteMemSize(blocks);
  enc.EnableXbzrle();
  std::mt19937_64 rng(11);
  const Bytes pa = RandomPage(rng);
  Bytes pb = RandomPage(rng);
  EXPECT_EQ(enc.WritePage(0, 0, pa), PageOutcome::kPage);
  EXPECT_EQ(enc.WritePage(1, 0, pb), PageOutcome::kPage);
  EXPECT_EQ(enc.WritePage(0, 0, pa), PageOutcome::kUnchanged);
  pb[9] = ~pb[9];
  const size_t mark = out.size();
  EXPECT_EQ(enc.WritePage(1, 0, pb), PageOutcome::kXbzrle);
  // Still block "b": CONTINUE, no idstr.
  EXPECT_EQ(Hex(std::span(out).subspan(mark)),
            Hex(Wire().Be64(0x60).U8(1).Be(3, 2).U8(9).U8(1).U8(static_cast<int>(pb[9])).bytes()));
}

TEST(Encoder, ZeroPageRefreshesTheCache) {
  Bytes out;
  Encoder enc({.xbzrle_cache_bytes = 4 * kPageSize}, &out);
  enc.WriteMemSize(kRam16k);
  enc.EnableXbzrle();
  std::mt19937_64 rng(3);
  EXPECT_EQ(enc.WritePage(0, 0, RandomPage(rng)), PageOutcome::kPage);
  EXPECT_EQ(enc.WritePage(0, 0, Page(0)), PageOutcome::kZero);
  Bytes p = Page(0);
  p[5] = std::byte{0x77};
  const size_t mark = out.size();
  // The delta is against the zero page, not against the random page sent first.
  EXPECT_EQ(enc.WritePage(0, 0, p), PageOutcome::kXbzrle);
  EXPECT_EQ(Hex(std::span(out).subspan(mark)), "00 00 00 00 00 00 00 60 01 00 03 05 01 77");
  EXPECT_EQ(enc.stats().cache_miss, 1u);
}

TEST(Encoder, CacheInsertIsRefusedForAFreshSlotOfAnotherPage) {
  // One slot: every page maps to it.
  Encoder enc({.xbzrle_cache_bytes = kPageSize}, nullptr);
  enc.WriteMemSize(kRam16k);
  enc.EnableXbzrle();
  enc.SetCacheAge(1);
  std::mt19937_64 rng(5);
  Bytes a = RandomPage(rng);
  const Bytes b = RandomPage(rng);
  EXPECT_EQ(enc.WritePage(0, 0x0000, a), PageOutcome::kPage);  // miss, inserted
  EXPECT_EQ(enc.WritePage(0, 0x1000, b),
            PageOutcome::kPage);  // miss, refused (1 + 2 > 1)
  a[0] = ~a[0];
  EXPECT_EQ(enc.WritePage(0, 0x0000, a), PageOutcome::kXbzrle);  // still cached
  enc.SetCacheAge(2);
  EXPECT_EQ(enc.WritePage(0, 0x1000, b),
            PageOutcome::kPage);  // 1 + 2 > 2: refused
  enc.SetCacheAge(3);
  EXPECT_EQ(enc.WritePage(0, 0x1000, b),
            PageOutcome::kPage);  // 1 + 2 > 3 fails: replaced
  EXPECT_EQ(enc.WritePage(0, 0x1000, b), PageOutcome::kUnchanged);
  EXPECT_EQ(enc.WritePage(0, 0x0000, a),
            PageOutcome::kPage);  // evicted: a miss
  EXPECT_EQ(enc.stats().cache_miss, 5u);
}

TEST(Encoder, CacheHitRefreshesTheSlotAge) {
  Encoder enc({.xbzrle_cache_bytes = kPageSize}, nullptr);
  enc.WriteMemSize(kRam16k);
  enc.EnableXbzrle();
  std::mt19937_64 rng(6);
  const Bytes a = RandomPage(rng);
  const Bytes b = RandomPage(rng);
  EXPECT_EQ(enc.WritePage(0, 0, a), PageOutcome::kPage);  // age 0
  enc.SetCacheAge(5);
  EXPECT_EQ(enc.WritePage(0, 0, a), PageOutcome::kUnchanged);  // hit: age 5
  enc.SetCacheAge(6);
  EXPECT_EQ(enc.WritePage(0, 0x1000, b),
            PageOutcome::kPage);  // 5 + 2 > 6: refused
  EXPECT_EQ(enc.WritePage(0, 0, a), PageOutcome::kUnchanged);
}

TEST(Encoder, CacheSlotsAreRoundedDownToAPowerOfTwo) {
  // 3 pages of cache -> 2 slots: ram_addr 0 and 0x2000 share slot 0, 0x1000 has
  // slot 1.
  Encoder enc({.xbzrle_cache_bytes = 3 * kPageSize}, nullptr);
  enc.WriteMemSize(kRam16k);
  enc.EnableXbzrle();
  std::mt19937_64 rng(8);
  const Bytes p0 = RandomPage(rng), p1 = RandomPage(rng), p2 = RandomPage(rng);
  enc.WritePage(0, 0x0000, p0);
  enc.WritePage(0, 0x1000, p1);
  enc.WritePage(0, 0x2000, p2);  // refused: slot 0 is fresh
  EXPECT_EQ(enc.WritePage(0, 0x0000, p0), PageOutcome::kUnchanged);
  EXPECT_EQ(enc.WritePage(0, 0x1000, p1), PageOutcome::kUnchanged);
  EXPECT_EQ(enc.WritePage(0, 0x2000, p2), PageOutcome::kPage);
  EXPECT_EQ(enc.stats().cache_miss, 4u);
}

TEST(Encoder, CacheKeysBlocksBackToBackInMemSizeOrder) {
  // Two 1-page blocks and two slots: "a" is ram_addr 0 (slot 0), "b" is 0x1000
  // (slot 1), so both stay cached. Keying by offset alone would make them
  // collide.
  const BlockInfo blocks[] = {
      {"a", 0x1000, std::nullopt, std::nullopt},
      {"b", 0x1000, std::nullopt, std::nullopt},
  };
  Encoder enc({.xbzrle_cache_bytes = 2 * kPageSize}, nullptr);
  enc.WriteMemSize(blocks);
  enc.EnableXbzrle();
  std::mt19937_64 rng(9);
  const Bytes pa = RandomPage(rng), pb = RandomPage(rng);
  enc.WritePage(0, 0, pa);
  enc.WritePage(1, 0, pb);
  EXPECT_EQ(enc.WritePage(0, 0, pa), PageOutcome::kUnchanged);
  EXPECT_EQ(enc.WritePage(1, 0, pb), PageOutcome::kUnchanged);
}

// ---------------------------------------------------------------------------------------------
// Counting-only mode

// A mixed workload: zero, random, sparse changes, overflow, unchanged, block
// switches. Pages 0..15 are pc.ram, 16..19 the vram block. Returns the last
// contents of every page.
const BlockInfo kWorkloadBlocks[] = {
    {"pc.ram", 0x10000, std::nullopt, std::nullopt},
    {"0000:00:02.0/vga.vram", 0x4000, std::nullopt, std::nullopt},
};

std::vector<Bytes> Workload(Encoder& enc) {
  enc.WriteMemSize(kWorkloadBlocks);
  std::mt19937_64 rng(42);
  std::vector<Bytes> ram(20, Page(0));
  auto send_all = [&] {
    for (uint32_t i = 0; i < 20; ++i) {
      const uint32_t block = i < 16 ? 0 : 1;
      enc.WritePage(block, (i < 16 ? i : i - 16) * kPageSize, ram[i]);
    }
    enc.WriteEos();
  };
  for (int round = 0; round < 6; ++round) {
    if (round == 1) enc.EnableXbzrle();
    enc.SetCacheAge(static_cast<uint64_t>(round));
    for (auto& page : ram) {
      switch (rng() % 5) {
        case 0:
          break;  // unchanged
        case 1:
          page = Page(0);
          break;
        case 2:
          page = RandomPage(rng);
          break;
        default:
          for (int k = 0; k < 5; ++k) page[rng() % kPageSize] = static_cast<std::byte>(rng());
      }
    }
    send_all();
    if (round == 3) enc.ResetLastBlock();
  }
  return ram;
}

TEST(Encoder, CountingOnlyGivesTheSameStatsAsWriting) {
  const EncoderOptions opts{.detect_zero_pages = true, .xbzrle_cache_bytes = 8 * kPageSize};
  Bytes out;
  Encoder writing(opts, &out);
  Encoder counting(opts, nullptr);
  Workload(writing);
  Workload(counting);
  const EncoderStats& a = writing.stats();
  const EncoderStats& b = counting.stats();
  EXPECT_EQ(a.bytes, out.size());
  EXPECT_EQ(a.zero_pages, b.zero_pages);
  EXPECT_EQ(a.normal_pages, b.normal_pages);
  EXPECT_EQ(a.xbzrle_pages, b.xbzrle_pages);
  EXPECT_EQ(a.xbzrle_unchanged, b.xbzrle_unchanged);
  EXPECT_EQ(a.xbzrle_overflow, b.xbzrle_overflow);
  EXPECT_EQ(a.cache_miss, b.cache_miss);
  EXPECT_EQ(a.eos, b.eos);
  EXPECT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(a.page_record_bytes, b.page_record_bytes);
  EXPECT_EQ(a.continue_saved_bytes, b.continue_saved_bytes);
  // The workload reaches every outcome.
  EXPECT_GT(a.zero_pages, 0u);
  EXPECT_GT(a.normal_pages, 0u);
  EXPECT_GT(a.xbzrle_pages, 0u);
  EXPECT_GT(a.xbzrle_unchanged, 0u);
  EXPECT_GT(a.xbzrle_overflow, 0u);
  EXPECT_GT(a.cache_miss, 0u);
  EXPECT_EQ(a.eos, 6u);
}

// ---------------------------------------------------------------------------------------------
// Round trips through the decoder

using testing::DecodeAll;
using testing::IsOk;
using testing::kChunkSizes;
using testing::OwnedRecord;
using testing::StreamBuilder;

// Rebuilds RAM from decoded records as a 7.2 destination does: pages start
// zero, CONTINUE means the block last named, XBZRLE patches the page in place.
std::map<std::pair<std::string, uint64_t>, Bytes> Rebuild(const std::vector<OwnedRecord>& records) {
  std::map<std::pair<std::string, uint64_t>, Bytes> ram;
  std::string block;
  for (const OwnedRecord& r : records) {
    if (!r.View().is_page()) continue;
    if (!r.View().has_continue()) block = r.idstr;
    Bytes& page = ram.try_emplace({block, r.address}, Page(0)).first->second;
    switch (r.kind) {
      case RecordKind::kZero:
        page = Page(r.fill);
        break;
      case RecordKind::kPage:
        page = r.data;
        break;
      case RecordKind::kXbzrle: {
        const Error e = xbzrle::Validate(r.data, kPageSize);
        EXPECT_THAT(e, IsOk());
        if (e.ok()) xbzrle::Apply(r.data, page);
        break;
      }
      default:
        ADD_FAILURE() << "unexpected record kind";
    }
  }
  return ram;
}

// Writes decoded records back and checks each lands at its recorded stream
// offset.
Bytes Reencode(const std::vector<OwnedRecord>& records) {
  Bytes out;
  for (const OwnedRecord& r : records) {
    if (!r.shares_header) {
      EXPECT_EQ(r.stream_offset, out.size());
    }
    const size_t before = out.size();
    AppendRecord(r.View(), &out);
    EXPECT_EQ(out.size() - before, RecordSize(r.View()));
  }
  return out;
}

TEST(EncoderRoundTrip, DecodingTheOutputGivesBackThePages) {
  Bytes out;
  Encoder enc({.xbzrle_cache_bytes = 8 * kPageSize}, &out);
  const std::vector<Bytes> ram = Workload(enc);
  ASSERT_GT(enc.stats().xbzrle_pages, 0u);
  for (size_t chunk : kChunkSizes) {
    SCOPED_TRACE(chunk);
    const testing::DecodeOutcome d = DecodeAll(out, DecoderOptions{}, chunk);
    ASSERT_THAT(d.error, IsOk());
    const auto rebuilt = Rebuild(d.records);
    ASSERT_EQ(rebuilt.size(), ram.size());
    for (size_t i = 0; i < ram.size(); ++i) {
      const std::string block = kWorkloadBlocks[i < 16 ? 0 : 1].idstr;
      const uint64_t offset = (i < 16 ? i : i - 16) * kPageSize;
      const auto it = rebuilt.find({block, offset});
      ASSERT_NE(it, rebuilt.end()) << i;
      EXPECT_TRUE(it->second == ram[i]) << "page " << i;
    }
    size_t zero = 0, page = 0, xbzrle = 0, eos = 0;
    for (const OwnedRecord& r : d.records) {
      zero += r.kind == RecordKind::kZero;
      page += r.kind == RecordKind::kPage;
      xbzrle += r.kind == RecordKind::kXbzrle;
      eos += r.kind == RecordKind::kEos;
    }
    EXPECT_EQ(zero, enc.stats().zero_pages);
    EXPECT_EQ(page, enc.stats().normal_pages);
    EXPECT_EQ(xbzrle, enc.stats().xbzrle_pages);
    EXPECT_EQ(eos, enc.stats().eos);
  }
}

TEST(EncoderRoundTrip, AppendRecordReproducesEncoderOutput) {
  Bytes out;
  Encoder enc({.xbzrle_cache_bytes = 8 * kPageSize}, &out);
  Workload(enc);
  const testing::DecodeOutcome d = DecodeAll(out, DecoderOptions{}, 0);
  ASSERT_THAT(d.error, IsOk());
  EXPECT_TRUE(Reencode(d.records) == out);
}

TEST(EncoderRoundTrip, AppendRecordReproducesEveryQemu72RecordKind) {
  const Bytes delta = {std::byte{0x05}, std::byte{0x01}, std::byte{0x99}};
  const Bytes zlib = {std::byte{0x78}, std::byte{0x01}, std::byte{0x01}};
  StreamBuilder b;
  b.MemSize({{"pc.ram", 0x3000}, {"pc.bios", 0x1000}})
      .Zero("pc.ram", 0x0000, 0x5a)  // 7.2 accepts any fill byte
      .Page("", 0x1000, 3)
      .Xbzrle("", 0x1000, delta)
      .Header(0x2000, kFlagCompressPage | kFlagContinue)
      .Be32(static_cast<uint32_t>(zlib.size()))
      .Raw(zlib)
      .Page("pc.bios", 0, 9)
      .Eos();
  const testing::DecodeOutcome d = DecodeAll(b.bytes(), DecoderOptions{}, 0);
  ASSERT_THAT(d.error, IsOk());
  ASSERT_EQ(d.records.size(), 7u);
  EXPECT_TRUE(Reencode(d.records) == b.bytes());
}

TEST(EncoderRoundTrip, AppendRecordReproducesMemSizeOptionalFields) {
  DecoderOptions opts;
  opts.mem_size_has_addr = true;
  opts.page_size_blocks = {"huge"};
  StreamBuilder b;
  b.Header(0x201000, kFlagMemSize)
      .Counted("huge")
      .Be64(0x200000)
      .Be64(0x200000)    // page_size
      .Be64(0x40000000)  // addr
      .Counted("small")
      .Be64(0x1000)
      .Be64(0xfeff0000)  // addr
      .Eos();
  const testing::DecodeOutcome d = DecodeAll(b.bytes(), opts, 0);
  ASSERT_THAT(d.error, IsOk());
  ASSERT_EQ(d.records.size(), 2u);
  ASSERT_EQ(d.records[0].blocks.size(), 2u);
  EXPECT_EQ(d.records[0].blocks[0].page_size, 0x200000u);
  EXPECT_TRUE(Reencode(d.records) == b.bytes());
}

TEST(EncoderRoundTrip, AppendRecordReproducesQemu10HeaderOnlyRecords) {
  DecoderOptions opts;
  opts.dialect = Dialect::Qemu10();
  StreamBuilder b;
  b.MemSize({{"pc.ram", 0x1000}})
      .Header(0, kFlagHook)
      .Header(0, kFlagMultifdFlush)
      .Zero("pc.ram", 0)
      .Eos();
  const testing::DecodeOutcome d = DecodeAll(b.bytes(), opts, 0);
  ASSERT_THAT(d.error, IsOk());
  ASSERT_EQ(d.records.size(), 5u);
  EXPECT_EQ(d.records[1].kind, RecordKind::kHook);
  EXPECT_EQ(d.records[2].kind, RecordKind::kMultifdFlush);
  EXPECT_TRUE(Reencode(d.records) == b.bytes());
}

TEST(EncoderRoundTrip, AppendRecordReproduces2010CompositeAndVersion3Records) {
  DecoderOptions opts;
  opts.dialect = Dialect::Qemu2010();
  opts.section_version = kRamSectionVersionLegacy;
  StreamBuilder b;
  // Version 3: MEM_SIZE carries only the total; pages carry a global ram_addr
  // and no idstr.
  b.Header(0x3000, kFlagMemSize)
      .Header(0x1000, kFlagZero)
      .U8(0x11)
      .Header(0x2000, kFlagPage | kFlagEos)  // one header, two actions
      .Raw(testing::PatternPage(4))
      .Header(0x3000, kFlagXbzrle)  // 0x40 meant nothing yet: ignored
      .Header(0, kFlagEos);
  const testing::DecodeOutcome d = DecodeAll(b.bytes(), opts, 0);
  ASSERT_THAT(d.error, IsOk());
  bool saw_shared = false;
  for (const OwnedRecord& r : d.records) saw_shared |= r.shares_header;
  EXPECT_TRUE(saw_shared);
  EXPECT_TRUE(Reencode(d.records) == b.bytes());
}

}  // namespace
}  // namespace ramstream::protocol
