#include "protocol/decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/testing/matchers.h"
#include "protocol/testing/streams.h"

namespace ramstream::protocol {
namespace {

using testing::Bytes;
using testing::DecodeAll;
using testing::DecodeOutcome;
using ::testing::ElementsAre;
using testing::HasError;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::kChunkSizes;
using testing::StreamBuilder;
using ::testing::StrEq;

DecoderOptions For(Dialect d) {
  DecoderOptions o;
  o.dialect = d;
  return o;
}

// Decodes under every chunk size, checks all agree, and returns the whole-input outcome.
DecodeOutcome DecodeEveryChunking(const Bytes& bytes, const DecoderOptions& o = {}) {
  const DecodeOutcome whole = DecodeAll(bytes, o, 0);
  for (size_t chunk : kChunkSizes) {
    const DecodeOutcome got = DecodeAll(bytes, o, chunk);
    EXPECT_EQ(got.records, whole.records) << "chunk " << chunk;
    EXPECT_EQ(got.error.code, whole.error.code) << "chunk " << chunk;
    EXPECT_EQ(got.error.offset, whole.error.offset) << "chunk " << chunk;
    EXPECT_EQ(got.error.message, whole.error.message) << "chunk " << chunk;
  }
  return whole;
}

std::vector<RecordKind> Kinds(const DecodeOutcome& o) {
  std::vector<RecordKind> k;
  for (const auto& r : o.records) k.push_back(r.kind);
  return k;
}

TEST(DecoderTest, DecodesEveryRecordKindWithFieldsAndOffsets) {
  const Bytes delta = {std::byte{0x00}, std::byte{0x01}, std::byte{0x7f}};
  StreamBuilder s;
  s.MemSize({{"pc.ram", 1 << 20}, {"pc.bios", 1 << 16}}).Eos();
  const uint64_t page_at = s.size();
  s.Page("pc.ram", 0x3000, 7);
  const uint64_t zero_at = s.size();
  s.Zero("", 0x4000, 0).Xbzrle("", 0x3000, delta).Zero("pc.bios", 0, 0).Eos();
  const DecodeOutcome out = DecodeEveryChunking(s.bytes());
  ASSERT_THAT(out.error, IsOk());
  EXPECT_THAT(Kinds(out), ElementsAre(RecordKind::kMemSize, RecordKind::kEos, RecordKind::kPage,
                                      RecordKind::kZero, RecordKind::kXbzrle, RecordKind::kZero,
                                      RecordKind::kEos));
  const auto& ms = out.records[0];
  EXPECT_EQ(ms.address, (1u << 20) + (1u << 16));
  ASSERT_EQ(ms.blocks.size(), 2u);
  EXPECT_EQ(ms.blocks[1].idstr, "pc.bios");
  EXPECT_EQ(ms.blocks[1].used_length, 1u << 16);
  const auto& page = out.records[2];
  EXPECT_EQ(page.stream_offset, page_at);
  EXPECT_EQ(page.idstr, "pc.ram");
  EXPECT_EQ(page.address, 0x3000u);
  EXPECT_EQ(page.flags, kFlagPage);
  EXPECT_EQ(page.data, testing::PatternPage(7));
  const auto& zero = out.records[3];
  EXPECT_EQ(zero.stream_offset, zero_at);
  EXPECT_EQ(zero.idstr, "");
  EXPECT_EQ(zero.flags, kFlagZero | kFlagContinue);
  EXPECT_EQ(out.records[4].data, delta);
  EXPECT_EQ(out.records[5].idstr, "pc.bios");
}

TEST(DecoderTest, NeedInputUntilEndOfInputThenTruncatedAtRecordStart) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos();
  const uint64_t page_at = s.size();
  s.Page("pc.ram", 0, 1);
  Bytes bytes = s.bytes();
  bytes.resize(bytes.size() - 100);  // cut inside the page data
  Decoder d;
  d.Feed(bytes, false);
  Record r;
  ASSERT_EQ(d.Next(&r), Step::kRecord);
  ASSERT_EQ(d.Next(&r), Step::kRecord);
  EXPECT_EQ(d.Next(&r), Step::kNeedInput);
  EXPECT_EQ(d.BytesNeeded(), 100u);
  EXPECT_FALSE(d.at_record_boundary());
  d.Feed({}, true);
  EXPECT_EQ(d.Next(&r), Step::kError);
  EXPECT_THAT(d.error(), HasError(Code::kTruncated, page_at, HasSubstr("inside the page data")));
}

TEST(DecoderTest, TruncatedHeaderAtEveryCutIsTruncatedAtThatRecord) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos();
  const uint64_t page_at = s.size();
  s.Page("pc.ram", 4096, 1).Eos();
  for (size_t cut = page_at + 1; cut < s.size() - 8; ++cut) {
    Bytes bytes(s.bytes().begin(), s.bytes().begin() + cut);
    const DecodeOutcome out = DecodeAll(bytes, {}, 0);
    ASSERT_THAT(out.error, HasError(Code::kTruncated, page_at)) << "cut " << cut;
  }
}

TEST(DecoderTest, EmptyStreamIsTruncatedAtZero) {
  EXPECT_THAT(DecodeAll({}, {}, 0).error, HasError(Code::kTruncated, 0, HasSubstr("empty")));
}

TEST(DecoderTest, StreamWithoutFinalEosIsTruncatedAtItsEnd) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos().Zero("pc.ram", 0);
  EXPECT_THAT(DecodeEveryChunking(s.bytes()).error,
              HasError(Code::kTruncated, s.size(), HasSubstr("never ended")));
}

TEST(DecoderTest, SeveralSectionsEachEndingInEosDecodeAsOneStream) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos().Zero("pc.ram", 0).Eos().Eos().Zero("", 4096).Eos();
  const DecodeOutcome out = DecodeEveryChunking(s.bytes());
  ASSERT_THAT(out.error, IsOk());
  EXPECT_EQ(out.records.size(), 7u);
}

struct FlagCase {
  const char* name;
  Dialect dialect;
  uint32_t flags;
  // Expected: an error code, or (code == kOk) the record kinds decoded from the header.
  Code code;
  std::vector<RecordKind> kinds;
};

class FlagTest : public ::testing::TestWithParam<FlagCase> {};

// Every header is followed by enough bytes for any payload it implies, then EOS.
TEST_P(FlagTest, DecodesOrRejectsPerDialect) {
  const FlagCase& c = GetParam();
  StreamBuilder s;
  s.Eos();
  const uint64_t at = s.size();
  s.Header(0, c.flags);
  // 2010 reads an idstr only for ZERO and PAGE; later dialects for any page flag.
  const uint32_t with_block = c.dialect.exact_flags ? kFlagsWithBlock : kFlagZero | kFlagPage;
  if ((c.flags & with_block) && !(c.flags & kFlagContinue)) s.Counted("pc.ram");
  if (c.flags & kFlagZero) {
    s.U8(0);
  } else if (c.flags & kFlagPage) {
    s.Raw(testing::PatternPage(1));
  }
  if (!(c.flags & kFlagEos) || c.dialect.exact_flags) s.Eos();
  const DecodeOutcome out = DecodeEveryChunking(s.bytes(), For(c.dialect));
  if (c.code != Code::kOk) {
    EXPECT_THAT(out.error, HasError(c.code, at));
    return;
  }
  ASSERT_THAT(out.error, IsOk());
  std::vector<RecordKind> got;
  for (size_t i = 1; i < out.records.size(); ++i) {
    if (out.records[i].stream_offset == at) got.push_back(out.records[i].kind);
  }
  EXPECT_EQ(got, c.kinds);
}

const Dialect k2010 = Dialect::Qemu2010();
const Dialect k72 = Dialect::Qemu72();
const Dialect k10 = Dialect::Qemu10();
using K = RecordKind;

INSTANTIATE_TEST_SUITE_P(
    Flags, FlagTest,
    ::testing::Values(
        FlagCase{"q72_full_bit", k72, kFlagFull, Code::kUnknownFlags, {}},
        FlagCase{"q72_zero_and_page", k72, kFlagZero | kFlagPage, Code::kUnknownFlags, {}},
        FlagCase{"q72_page_and_eos", k72, kFlagPage | kFlagEos, Code::kUnknownFlags, {}},
        FlagCase{"q72_multifd_flush", k72, kFlagMultifdFlush, Code::kUnknownFlags, {}},
        FlagCase{"q72_bit_0x400", k72, 0x400, Code::kUnknownFlags, {}},
        FlagCase{"q72_hook", k72, kFlagHook, Code::kUnsupportedHook, {}},
        FlagCase{"q72_hook_with_page", k72, kFlagHook | kFlagPage, Code::kUnsupportedHook, {}},
        FlagCase{"q72_eos_with_continue", k72, kFlagEos | kFlagContinue, Code::kOk, {K::kEos}},
        FlagCase{"q72_zero_no_flags", k72, 0, Code::kUnknownFlags, {}},
        FlagCase{"q10_multifd_flush", k10, kFlagMultifdFlush, Code::kOk, {K::kMultifdFlush}},
        FlagCase{"q10_hook", k10, kFlagHook, Code::kOk, {K::kHook}},
        FlagCase{"q10_hook_with_page", k10, kFlagHook | kFlagPage, Code::kUnknownFlags, {}},
        FlagCase{"q10_compress_page", k10, kFlagCompressPage, Code::kUnknownFlags, {}},
        FlagCase{"q2010_page_and_eos", k2010, kFlagPage | kFlagEos, Code::kOk, {K::kPage, K::kEos}},
        FlagCase{"q2010_zero_wins_over_page", k2010, kFlagZero | kFlagPage, Code::kOk, {K::kZero}},
        FlagCase{"q2010_xbzrle_bit_ignored", k2010, kFlagXbzrle, Code::kOk, {K::kIgnored}},
        FlagCase{"q2010_page_with_unknown_bits", k2010, kFlagPage | 0x440, Code::kOk, {K::kPage}},
        FlagCase{"q2010_no_flags", k2010, 0, Code::kOk, {K::kIgnored}}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(DecoderTest, Qemu2010CompositeHeaderRecordsShareOneHeader) {
  StreamBuilder s;
  s.Header(8192, kFlagMemSize | kFlagPage | kFlagEos).Counted("pc.ram").Be64(8192);
  s.Counted("pc.ram").Raw(testing::PatternPage(3));
  const DecodeOutcome out = DecodeEveryChunking(s.bytes(), For(k2010));
  ASSERT_THAT(out.error, IsOk());
  ASSERT_THAT(Kinds(out), ElementsAre(K::kMemSize, K::kPage, K::kEos));
  EXPECT_FALSE(out.records[0].shares_header);
  EXPECT_TRUE(out.records[1].shares_header);
  EXPECT_TRUE(out.records[2].shares_header);
  EXPECT_EQ(out.records[1].idstr, "pc.ram");
  EXPECT_EQ(out.records[2].stream_offset, 0u);
}

TEST(DecoderTest, ZeroFillMustBeZeroOnlyInQemu10) {
  StreamBuilder s;
  s.Eos();
  const uint64_t at = s.size();
  s.Zero("pc.ram", 0, 0xab).Eos();
  const DecodeOutcome q72 = DecodeEveryChunking(s.bytes(), For(k72));
  ASSERT_THAT(q72.error, IsOk());
  EXPECT_EQ(q72.records[1].fill, 0xab);
  EXPECT_THAT(DecodeEveryChunking(s.bytes(), For(k2010)).error, IsOk());
  EXPECT_THAT(DecodeEveryChunking(s.bytes(), For(k10)).error,
              HasError(Code::kBadZeroFill, at, HasSubstr("0xab")));
}

TEST(DecoderTest, XbzrleHeaderChecks) {
  for (auto [enc, len, what] : {std::tuple{uint8_t{2}, uint16_t{3}, "encoding byte 0x2"},
                                std::tuple{uint8_t{1}, uint16_t{4097}, "length 4097 exceeds"}}) {
    StreamBuilder s;
    s.Eos();
    const uint64_t at = s.size();
    s.Header(0, kFlagXbzrle).Counted("pc.ram").U8(enc).Be16(len);
    EXPECT_THAT(DecodeEveryChunking(s.bytes()).error,
                HasError(Code::kBadXbzrle, at, HasSubstr(what)));
  }
}

TEST(DecoderTest, XbzrleOfZeroLengthAndFullPageDecode) {
  StreamBuilder s;
  s.Eos().Xbzrle("pc.ram", 0, {});
  const Bytes full(4096, std::byte{1});
  s.Xbzrle("", 0, full).Eos();
  const DecodeOutcome out = DecodeEveryChunking(s.bytes());
  ASSERT_THAT(out.error, IsOk());
  EXPECT_TRUE(out.records[1].data.empty());
  EXPECT_EQ(out.records[2].data.size(), 4096u);
}

TEST(DecoderTest, CompressedPageLengthOutsideZeroToCompressBoundIsRejected) {
  for (uint32_t len : {4111u, 0x80000000u, 0xffffffffu}) {
    StreamBuilder s;
    s.Eos();
    const uint64_t at = s.size();
    s.Header(0, kFlagCompressPage | kFlagContinue).Be32(len);
    EXPECT_THAT(DecodeEveryChunking(s.bytes()).error,
                HasError(Code::kBadCompressedPage, at, HasSubstr("outside 0..4110")))
        << len;
  }
}

TEST(DecoderTest, MemSizeEntryLongerThanRemainingTotalIsMismatch) {
  StreamBuilder s;
  s.MemSizeTotal(8192, {{"pc.ram", 4096}, {"pc.rom", 8192}}).Eos();
  EXPECT_THAT(DecodeEveryChunking(s.bytes()).error,
              HasError(Code::kMemSizeMismatch, 0,
                       HasSubstr("'pc.rom' used_length 8192 exceeds "
                                 "the 4096 bytes left")));
}

TEST(DecoderTest, MemSizeWithZeroTotalHasNoEntries) {
  StreamBuilder s;
  s.MemSize({}).Eos();
  const DecodeOutcome out = DecodeEveryChunking(s.bytes());
  ASSERT_THAT(out.error, IsOk());
  EXPECT_TRUE(out.records[0].blocks.empty());
}

TEST(DecoderTest, BadIdstrs) {
  {
    StreamBuilder s;
    s.MemSizeTotal(4096, {{"", 4096}});
    EXPECT_THAT(DecodeEveryChunking(s.bytes()).error,
                HasError(Code::kBadIdstr, 0, HasSubstr("empty idstr")));
  }
  {
    StreamBuilder s;
    s.MemSize({{std::string("pc\0ram", 6), 4096}});
    EXPECT_THAT(DecodeEveryChunking(s.bytes()).error,
                HasError(Code::kBadIdstr, 0, HasSubstr("'pc\\x00ram'")));
  }
  {
    // Every byte outside printable ASCII is escaped, with lower-case hex digits.
    StreamBuilder s;
    s.MemSize({{std::string("\x1f\0\x7f\xab~", 5), 4096}});
    EXPECT_THAT(DecodeEveryChunking(s.bytes()).error,
                HasError(Code::kBadIdstr, 0,
                         StrEq("MEM_SIZE idstr '\\x1f\\x00\\x7f\\xab~' contains a NUL byte")));
  }
  {
    StreamBuilder s;
    s.Eos();
    const uint64_t at = s.size();
    s.Header(0, kFlagZero).U8(0).U8(0);
    EXPECT_THAT(DecodeEveryChunking(s.bytes()).error,
                HasError(Code::kBadIdstr, at, HasSubstr("empty idstr")));
  }
}

TEST(DecoderTest, LimitsAreCheckedBeforeAllocation) {
  DecoderOptions o;
  o.limits.max_ram_blocks = 2;
  o.limits.max_block_bytes = 1 << 20;
  o.limits.max_total_bytes = 1 << 30;
  {
    StreamBuilder s;
    s.MemSize({{"a", 4096}, {"b", 4096}, {"c", 4096}});
    EXPECT_THAT(DecodeEveryChunking(s.bytes(), o).error,
                HasError(Code::kLimitExceeded, 0, HasSubstr("more than 2 blocks")));
  }
  {
    StreamBuilder s;
    s.MemSize({{"a", 2 << 20}});
    EXPECT_THAT(DecodeEveryChunking(s.bytes(), o).error,
                HasError(Code::kLimitExceeded, 0, HasSubstr("'a' used_length 2097152")));
  }
  {
    StreamBuilder s;
    s.Header(uint64_t{1} << 40, kFlagMemSize);
    EXPECT_THAT(DecodeEveryChunking(s.bytes(), o).error,
                HasError(Code::kLimitExceeded, 0, HasSubstr("total 1099511627776")));
  }
}

TEST(DecoderTest, OptionalMemSizeFieldsFollowTheOptions) {
  DecoderOptions o;
  o.mem_size_has_addr = true;
  o.page_size_blocks = {"pc.ram"};
  StreamBuilder s;
  s.Header(8192, kFlagMemSize);
  s.Counted("pc.ram").Be64(4096).Be64(2 << 20).Be64(0x100000);
  s.Counted("pc.rom").Be64(4096).Be64(0xfffc0000);
  s.Eos();
  const DecodeOutcome out = DecodeEveryChunking(s.bytes(), o);
  ASSERT_THAT(out.error, IsOk());
  const auto& b = out.records[0].blocks;
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].page_size, 2u << 20);
  EXPECT_EQ(b[0].addr, 0x100000u);
  EXPECT_EQ(b[1].page_size, std::nullopt);
  EXPECT_EQ(b[1].addr, 0xfffc0000u);
}

TEST(DecoderTest, SectionVersionIsCheckedPerDialect) {
  DecoderOptions o;
  o.section_version = 3;
  o.start_offset = 100;
  EXPECT_THAT(Decoder(o).error(), HasError(Code::kUnsupportedVersion, 100, HasSubstr("loads 4")));
  o.dialect = k2010;
  EXPECT_THAT(Decoder(o).error(), IsOk());
  o.section_version = 5;
  EXPECT_THAT(Decoder(o).error(),
              HasError(Code::kUnsupportedVersion, 100, HasSubstr("loads 3 to 4")));
}

TEST(DecoderTest, Version3PagesCarryNoIdstr) {
  DecoderOptions o = For(k2010);
  o.section_version = 3;
  StreamBuilder s;
  s.Header(8192, kFlagMemSize).Header(4096, kFlagPage).Raw(testing::PatternPage(1));
  s.Header(0, kFlagZero).U8(0).Eos();
  const DecodeOutcome out = DecodeEveryChunking(s.bytes(), o);
  ASSERT_THAT(out.error, IsOk());
  EXPECT_THAT(Kinds(out), ElementsAre(K::kMemSize, K::kPage, K::kZero, K::kEos));
  EXPECT_TRUE(out.records[0].blocks.empty());
  EXPECT_EQ(out.records[1].address, 4096u);
}

TEST(DecoderTest, ErrorsAreSticky) {
  StreamBuilder s;
  s.Header(0, 0x400).Eos();
  Decoder d;
  d.Feed(s.bytes(), false);
  Record r;
  ASSERT_EQ(d.Next(&r), Step::kError);
  const Error first = d.error();
  d.Feed(s.bytes(), true);
  EXPECT_EQ(d.Next(&r), Step::kError);
  EXPECT_EQ(d.error().code, first.code);
  EXPECT_EQ(d.error().offset, first.offset);
  EXPECT_EQ(d.error().message, first.message);
}

TEST(DecoderTest, StartOffsetShiftsEveryOffset) {
  DecoderOptions o;
  o.start_offset = 1000;
  StreamBuilder s;
  s.Eos().Header(0, 0x400);
  EXPECT_THAT(DecodeAll(s.bytes(), o, 0).error, HasError(Code::kUnknownFlags, 1008));
}

TEST(DecoderTest, TakeRemainingHandsBackBytesAfterEos) {
  StreamBuilder s;
  s.Eos().U8(0x7e).Be32(2);
  Decoder d;
  d.Feed(s.bytes(), false);
  Record r;
  ASSERT_EQ(d.Next(&r), Step::kRecord);
  ASSERT_TRUE(d.after_eos());
  ASSERT_TRUE(d.at_record_boundary());
  const auto rest = d.TakeRemaining();
  EXPECT_EQ(rest.size(), 5u);
  EXPECT_EQ(rest[0], std::byte{0x7e});
  EXPECT_EQ(d.position(), 8u);
  d.Rebase(20);
  StreamBuilder more;
  more.Header(0, 0x400);
  d.Feed(more.bytes(), true);
  EXPECT_EQ(d.Next(&r), Step::kError);
  EXPECT_THAT(d.error(), HasError(Code::kUnknownFlags, 20));
}

TEST(DecoderTest, CompleteStreamEndsWithKEndOnlyWhenToldInputEnded) {
  StreamBuilder s;
  s.Eos();
  Decoder d;
  d.Feed(s.bytes(), false);
  Record r;
  ASSERT_EQ(d.Next(&r), Step::kRecord);
  EXPECT_EQ(d.Next(&r), Step::kNeedInput);
  d.Feed({}, true);
  EXPECT_EQ(d.Next(&r), Step::kEnd);
}

}  // namespace
}  // namespace ramstream::protocol
