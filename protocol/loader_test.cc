#include "protocol/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include "protocol/testing/matchers.h"
#include "protocol/testing/streams.h"

namespace ramstream::protocol {
namespace {

using testing::Bytes;
using testing::HasError;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::kChunkSizes;
using testing::LoadAll;
using testing::LoadOutcome;
using testing::StreamBuilder;

LoaderOptions For(Dialect d) {
  LoaderOptions o;
  o.decoder.dialect = d;
  return o;
}

// Loads under every chunk size and both backings; all must agree. Returns the whole-input
// sparse outcome.
LoadOutcome LoadEveryChunking(const Bytes& bytes, const LoaderOptions& o = {}) {
  const LoadOutcome whole = LoadAll(bytes, o, 0);
  for (Backing backing : {Backing::kSparse, Backing::kDense}) {
    for (size_t chunk : kChunkSizes) {
      const LoadOutcome got = LoadAll(bytes, o, chunk, backing);
      EXPECT_EQ(got.status, whole.status) << "chunk " << chunk;
      EXPECT_EQ(got.error.code, whole.error.code) << "chunk " << chunk;
      EXPECT_EQ(got.error.offset, whole.error.offset) << "chunk " << chunk;
      EXPECT_EQ(got.digest, whole.digest) << "chunk " << chunk;
      EXPECT_EQ(got.stats.bytes, whole.stats.bytes) << "chunk " << chunk;
    }
  }
  return whole;
}

// The digest of guest memory after loading exactly `bytes` (which must load cleanly).
std::string DigestOf(const Bytes& bytes, const LoaderOptions& o = {}) {
  const LoadOutcome out = LoadAll(bytes, o, 0);
  EXPECT_THAT(out.error, IsOk());
  return out.digest;
}

TEST(LoaderTest, ContinueBeforeAnyNamedBlockIsRejected) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos();
  const uint64_t at = s.size();
  s.Page("", 0, 1).Eos();
  EXPECT_THAT(LoadEveryChunking(s.bytes()).error,
              HasError(Code::kContinueWithoutBlock, at, HasSubstr("PAGE record with CONTINUE")));
}

TEST(LoaderTest, ContinueStateIsPerLoadNotStatic) {
  // The 2010 loader kept the block in a static: a second load could CONTINUE from the first.
  StreamBuilder first;
  first.MemSize({{"pc.ram", 8192}}).Eos().Page("pc.ram", 0, 1).Eos();
  ASSERT_THAT(LoadAll(first.bytes(), {}, 0).error, IsOk());
  StreamBuilder second;
  second.MemSize({{"pc.ram", 8192}}).Eos();
  const uint64_t at = second.size();
  second.Zero("", 4096).Eos();
  EXPECT_THAT(LoadAll(second.bytes(), {}, 0).error, HasError(Code::kContinueWithoutBlock, at));
}

TEST(LoaderTest, UnknownIdstrAfterValidPageIsRejected) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos().Page("pc.ram", 0, 1);
  const uint64_t at = s.size();
  s.Page("pc.rom", 0, 2).Eos();
  EXPECT_THAT(LoadEveryChunking(s.bytes()).error,
              HasError(Code::kUnknownBlock, at, HasSubstr("'pc.rom', which is not in")));
}

TEST(LoaderTest, PageBeforeAnyMemSizeNamesUnknownBlock) {
  StreamBuilder s;
  s.Page("pc.ram", 0, 1).Eos();
  EXPECT_THAT(LoadEveryChunking(s.bytes()).error,
              HasError(Code::kUnknownBlock, 0, HasSubstr("before any MEM_SIZE")));
}

TEST(LoaderTest, OffsetOnePagePastBlockIsRejectedAndLastPageLoads) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos().Page("pc.ram", 4096, 1);
  const uint64_t at = s.size();
  s.Zero("", 8192, 1).Eos();
  EXPECT_THAT(LoadEveryChunking(s.bytes()).error,
              HasError(Code::kOffsetOutOfRange, at,
                       HasSubstr("offset 0x2000 + 0x1000 is past the end of block 'pc.ram' "
                                 "(used_length 0x2000)")));
}

TEST(LoaderTest, HugeOffsetDoesNotWrap) {
  // CVE-2014-7840: the 2010 loader wrote wherever the offset pointed.
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos();
  const uint64_t at = s.size();
  s.Page("pc.ram", 0xfffffffffffff000ull, 1).Eos();
  for (Dialect d : {Dialect::Qemu2010(), Dialect::Qemu72(), Dialect::Qemu10()}) {
    EXPECT_THAT(LoadEveryChunking(s.bytes(), For(d)).error, HasError(Code::kOffsetOutOfRange, at));
  }
}

TEST(LoaderTest, BlockSmallerThanAPageTakesNoPages) {
  StreamBuilder s;
  // The MEM_SIZE total shares its header with the flags, so it is page aligned: pad it.
  s.MemSize({{"tiny", 100}, {"pad", 4096 - 100}}).Eos();
  const uint64_t at = s.size();
  s.Zero("tiny", 0, 1).Eos();
  EXPECT_THAT(LoadEveryChunking(s.bytes()).error, HasError(Code::kOffsetOutOfRange, at));
}

TEST(LoaderTest, DuplicateBlockInMemSizeIsRejected) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 4096}, {"pc.ram", 4096}}).Eos();
  EXPECT_THAT(LoadEveryChunking(s.bytes()).error,
              HasError(Code::kDuplicateBlock, 0, HasSubstr("'pc.ram' twice")));
}

TEST(LoaderTest, MemSizeIsCheckedAgainstDestinationLayout) {
  LoaderOptions o;
  o.layout = std::vector<DestinationBlock>{{"pc.ram", 16384, 0}, {"acpi", 8192, 131072}};
  {
    StreamBuilder s;
    s.MemSize({{"pc.ram", 8192}});
    EXPECT_THAT(LoadEveryChunking(s.bytes(), o).error,
                HasError(Code::kBlockSizeMismatch, 0,
                         HasSubstr("'pc.ram' used_length 0x2000, the destination has 0x4000")));
  }
  {
    StreamBuilder s;
    s.MemSize({{"vga.vram", 8192}});
    EXPECT_THAT(LoadEveryChunking(s.bytes(), o).error,
                HasError(Code::kUnknownBlock, 0, HasSubstr("'vga.vram'")));
  }
  {
    // Lengths that round up to used_length pass, and resizeable blocks grow to max_length.
    StreamBuilder s;
    s.MemSize({{"pc.ram", 15000}, {"acpi", 66920}}).Eos().Page("acpi", 65536, 1).Eos();
    EXPECT_THAT(LoadEveryChunking(s.bytes(), o).error, IsOk());
  }
  {
    StreamBuilder s;
    s.MemSize({{"acpi", 131072 + 4096}});
    EXPECT_THAT(LoadEveryChunking(s.bytes(), o).error,
                HasError(Code::kBlockSizeMismatch, 0, HasSubstr("resizeable up to 0x20000")));
  }
  {
    // With a layout, pages may come before (or without) a MEM_SIZE.
    StreamBuilder s;
    s.Page("pc.ram", 0, 1).Eos();
    EXPECT_THAT(LoadEveryChunking(s.bytes(), o).error, IsOk());
  }
}

TEST(LoaderTest, Qemu2010MemSizeCreatesUnknownBlocks) {
  LoaderOptions o = For(Dialect::Qemu2010());
  o.layout = std::vector<DestinationBlock>{{"pc.ram", 8192, 0}};
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}, {"extra", 4096}}).Eos().Page("extra", 0, 1).Eos();
  EXPECT_THAT(LoadEveryChunking(s.bytes(), o).error, IsOk());
}

TEST(LoaderTest, SecondMemSizeMustMatchTheTable) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos().MemSize({{"pc.ram", 8192}}).Eos();
  ASSERT_THAT(LoadEveryChunking(s.bytes()).error, IsOk());
  const uint64_t at = s.size();
  s.MemSize({{"pc.ram", 16384}}).Eos();
  EXPECT_THAT(LoadEveryChunking(s.bytes()).error, HasError(Code::kBlockSizeMismatch, at));
}

TEST(LoaderTest, MalformedXbzrleWritesNothing) {
  StreamBuilder ok;
  ok.MemSize({{"pc.ram", 8192}}).Eos().Page("pc.ram", 0, 9);
  const std::string before = DigestOf(StreamBuilder(ok).Eos().bytes());
  // zrun 4090, nzrun 10: runs past the end of the page after writing nothing valid.
  const Bytes delta = {std::byte{0xfa}, std::byte{0x1f}, std::byte{0x0a}, std::byte{1},
                       std::byte{2},    std::byte{3},    std::byte{4},    std::byte{5},
                       std::byte{6},    std::byte{7},    std::byte{8},    std::byte{9},
                       std::byte{10}};
  StreamBuilder bad = ok;
  const uint64_t at = bad.size();
  bad.Xbzrle("", 0, delta).Eos();
  const LoadOutcome out = LoadEveryChunking(bad.bytes());
  EXPECT_THAT(out.error, HasError(Code::kBadXbzrle, at, HasSubstr("xbzrle delta (13 bytes)")));
  EXPECT_EQ(out.digest, before);
}

TEST(LoaderTest, XbzrlePatchesThePageInPlace) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos().Zero("pc.ram", 4096, 0);
  const Bytes delta = {std::byte{0x00}, std::byte{0x02}, std::byte{0xaa}, std::byte{0xbb}};
  s.Xbzrle("", 4096, delta).Eos();
  GuestMemory mem;
  Loader loader({}, &mem);
  ASSERT_EQ(loader.Feed(s.bytes(), true), LoadStatus::kDone) << loader.error().ToString();
  Bytes page(4096);
  mem.Read(0, 4096, page);
  EXPECT_EQ(page[0], std::byte{0xaa});
  EXPECT_EQ(page[1], std::byte{0xbb});
  EXPECT_EQ(page[2], std::byte{0});
}

Bytes Deflate(const Bytes& in, size_t keep = SIZE_MAX) {
  uLongf n = compressBound(in.size());
  Bytes out(n);
  EXPECT_EQ(compress2(reinterpret_cast<Bytef*>(out.data()), &n,
                      reinterpret_cast<const Bytef*>(in.data()), std::min(keep, in.size()), 1),
            Z_OK);
  out.resize(n);
  return out;
}

TEST(LoaderTest, CompressedPageMustInflateToExactlyOnePage) {
  const Bytes page = testing::PatternPage(5);
  auto stream = [](const Bytes& z) {
    StreamBuilder s;
    s.MemSize({{"pc.ram", 8192}}).Eos().Page("pc.ram", 0, 1);
    s.Header(4096, kFlagCompressPage | kFlagContinue).Be32(static_cast<uint32_t>(z.size()));
    s.Raw(z).Eos();
    return s;
  };
  {
    const LoadOutcome out = LoadEveryChunking(stream(Deflate(page)).bytes());
    ASSERT_THAT(out.error, IsOk());
    StreamBuilder same;
    same.MemSize({{"pc.ram", 8192}}).Eos().Page("pc.ram", 0, 1).Page("", 4096, 5).Eos();
    EXPECT_EQ(out.digest, DigestOf(same.bytes()));
  }
  const uint64_t at = stream({}).size() - 8 - 4 - 8;  // the COMPRESS_PAGE header
  EXPECT_THAT(LoadEveryChunking(stream(Deflate(page, 100)).bytes()).error,
              HasError(Code::kBadCompressedPage, at, HasSubstr("inflates to 100 bytes")));
  Bytes garbage(50, std::byte{0x55});
  EXPECT_THAT(LoadEveryChunking(stream(garbage).bytes()).error,
              HasError(Code::kBadCompressedPage, at, HasSubstr("zlib error")));
  // Compressed pages are gone from QEMU 10.
  EXPECT_THAT(LoadEveryChunking(stream(Deflate(page)).bytes(), For(Dialect::Qemu10())).error,
              HasError(Code::kUnknownFlags, at));
}

TEST(LoaderTest, ZeroFillFillsPageInOldDialects) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos().Zero("pc.ram", 4096, 0xee).Eos();
  GuestMemory mem;
  Loader loader({}, &mem);
  ASSERT_EQ(loader.Feed(s.bytes(), true), LoadStatus::kDone);
  Bytes page(4096);
  mem.Read(0, 4096, page);
  EXPECT_EQ(page, Bytes(4096, std::byte{0xee}));
}

TEST(LoaderTest, ZeroRecordClearsAWrittenPageAndLeavesUnwrittenOnesUnallocated) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 1 << 20}}).Eos().Page("pc.ram", 0, 3).Zero("", 0).Zero("", 8192).Eos();
  GuestMemory mem;
  Loader loader({}, &mem);
  ASSERT_EQ(loader.Feed(s.bytes(), true), LoadStatus::kDone);
  EXPECT_EQ(mem.resident_bytes(), 4096u + 8192u + 8u);  // one page, its leaf, one table slot
  Bytes page(4096);
  mem.Read(0, 0, page);
  EXPECT_EQ(page, Bytes(4096));
  EXPECT_EQ(mem.FindPage(0, 8192), nullptr);
}

TEST(LoaderTest, NothingAfterTheFirstErrorIsApplied) {
  StreamBuilder good;
  good.MemSize({{"pc.ram", 16384}}).Eos().Page("pc.ram", 0, 1);
  StreamBuilder bad = good;
  const uint64_t at = bad.size();
  bad.Header(0, 0x400).Page("pc.ram", 4096, 2).Eos();
  const LoadOutcome out = LoadEveryChunking(bad.bytes());
  EXPECT_THAT(out.error, HasError(Code::kUnknownFlags, at));
  EXPECT_EQ(out.digest, DigestOf(StreamBuilder(good).Eos().bytes()));
}

TEST(LoaderTest, ErrorsAreStickyAcrossFeeds) {
  StreamBuilder s;
  s.Page("", 0, 1);
  GuestMemory mem;
  Loader loader({}, &mem);
  ASSERT_EQ(loader.Feed(s.bytes(), false), LoadStatus::kError);
  EXPECT_EQ(loader.Feed(StreamBuilder().Eos().bytes(), true), LoadStatus::kError);
  EXPECT_THAT(loader.error(), HasError(Code::kContinueWithoutBlock, 0));
}

TEST(LoaderTest, ResidentLimitStopsRunawayFills) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 1 << 30}}).Eos().Zero("pc.ram", 0, 1);
  for (int i = 1; i < 100; ++i) s.Zero("", uint64_t(i) * 4096, 1);
  s.Eos();
  GuestMemoryOptions mo;
  mo.max_resident_bytes = 64 * 4096 + 8192 + 8;  // 64 pages, their leaf and its table slot
  GuestMemory mem(mo);
  Loader loader({}, &mem);
  ASSERT_EQ(loader.Feed(s.bytes(), true), LoadStatus::kError);
  // Page 64 is the first that does not fit; it is record 65 (after MEM_SIZE and EOS).
  const uint64_t first_zero = 8 + 1 + 6 + 8 + 8;
  EXPECT_THAT(loader.error(),
              HasError(Code::kLimitExceeded, first_zero + 16 + 63 * 9, HasSubstr("resident")));
  EXPECT_EQ(mem.resident_bytes(), 64u * 4096 + 8192 + 8);
}

TEST(LoaderTest, DenseMemSizeThatDoesNotFitAddsNoBlock) {
  StreamBuilder s;
  s.MemSize({{"a", 1 << 20}, {"b", 4 << 20}}).Eos();
  GuestMemoryOptions mo;
  mo.backing = Backing::kDense;
  mo.max_resident_bytes = 2 << 20;
  GuestMemory mem(mo);
  Loader loader({}, &mem);
  EXPECT_EQ(loader.Feed(s.bytes(), true), LoadStatus::kError);
  EXPECT_THAT(loader.error(), HasError(Code::kLimitExceeded, 0, HasSubstr("5242880 more bytes")));
  EXPECT_EQ(mem.block_count(), 0u);
}

TEST(LoaderTest, StatsCountRecordsAndContinueSavings) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 1 << 20}, {"pc.bios", 1 << 16}}).Eos();
  s.Page("pc.ram", 0, 1).Zero("", 4096).Zero("", 8192).Zero("pc.bios", 0).Page("", 4096, 2);
  s.Eos();
  const LoadOutcome out = LoadEveryChunking(s.bytes());
  ASSERT_THAT(out.error, IsOk());
  EXPECT_EQ(out.stats.count(RecordKind::kPage), 2u);
  EXPECT_EQ(out.stats.count(RecordKind::kZero), 3u);
  EXPECT_EQ(out.stats.count(RecordKind::kEos), 2u);
  EXPECT_EQ(out.stats.count(RecordKind::kMemSize), 1u);
  EXPECT_EQ(out.stats.named_records, 2u);
  EXPECT_EQ(out.stats.continue_records, 3u);
  EXPECT_EQ(out.stats.continue_saved_bytes, 2u * (1 + 6) + (1 + 7));
  EXPECT_EQ(out.stats.bytes, s.size());
}

TEST(LoaderTest, Version3AddressesOneGlobalRamSpace) {
  LoaderOptions o = For(Dialect::Qemu2010());
  o.decoder.section_version = 3;
  o.layout = std::vector<DestinationBlock>{{"pc.ram", 8192, 0}, {"vga", 4096, 0}};
  StreamBuilder s;
  s.Header(12288, kFlagMemSize).Header(8192, kFlagPage).Raw(testing::PatternPage(4)).Eos();
  GuestMemory mem;
  Loader loader(o, &mem);
  ASSERT_EQ(loader.Feed(s.bytes(), true), LoadStatus::kDone) << loader.error().ToString();
  Bytes page(4096);
  mem.Read(1, 0, page);  // ram_addr 8192 is the first page of the second block
  EXPECT_EQ(page, testing::PatternPage(4));

  StreamBuilder past;
  past.Header(12288, kFlagMemSize);
  const uint64_t at = past.size();
  past.Header(12288, kFlagZero).U8(0).Eos();
  EXPECT_THAT(LoadEveryChunking(past.bytes(), o).error,
              HasError(Code::kOffsetOutOfRange, at, HasSubstr("ram_addr 0x3000")));
  StreamBuilder total;
  total.Header(16384, kFlagMemSize).Eos();
  EXPECT_THAT(LoadEveryChunking(total.bytes(), o).error,
              HasError(Code::kMemSizeMismatch, 0, HasSubstr("0x4000 differs")));
}

TEST(LoaderTest, ExistingMemoryBlocksAreTheDestination) {
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("pc.ram", 8192).ok());
  Loader loader({}, &mem);
  StreamBuilder s;
  s.MemSize({{"pc.ram", 4096}});
  EXPECT_EQ(loader.Feed(s.bytes(), true), LoadStatus::kError);
  EXPECT_THAT(loader.error(), HasError(Code::kBlockSizeMismatch, 0));
}

}  // namespace
}  // namespace ramstream::protocol
