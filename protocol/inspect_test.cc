#include "protocol/inspect.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "protocol/qevm_writer.h"
#include "protocol/testing/matchers.h"
#include "protocol/testing/streams.h"

namespace ramstream::protocol {
namespace {

using testing::Bytes;
using testing::HasError;
using ::testing::HasSubstr;
using testing::IsOk;
using testing::StreamBuilder;

// A paused-guest-shaped file: START (MEM_SIZE, EOS), PART (pages, EOS), END (EOS), a device.
Bytes SmallQevmFile(uint64_t* part_page_bytes) {
  StreamBuilder start, part, end;
  start.MemSize({{"pc.ram", 1 << 20}, {"pc.bios", 65536}}).Eos();
  part.Page("pc.ram", 0, 1).Zero("", 4096).Zero("", 8192).Zero("pc.bios", 0);
  *part_page_bytes = part.size();
  part.Eos();
  end.Eos();
  Bytes out;
  QevmWriter w(&out);
  w.WriteHeader();
  QevmConfiguration config;
  config.machine = "pc-i440fx-7.2";
  w.WriteConfiguration(config);
  w.WriteSectionStart(2, "ram", 0, 4);
  w.WriteRaw(start.bytes());
  w.WriteFooter(2);
  w.WriteSectionPart(2);
  w.WriteRaw(part.bytes());
  w.WriteFooter(2);
  w.WriteSectionEnd(2);
  w.WriteRaw(end.bytes());
  w.WriteFooter(2);
  w.WriteSectionFull(0, "timer", 0, 2);
  const Bytes device(24, std::byte{0x11});
  w.WriteRaw(device);
  w.WriteFooter(0);
  w.WriteEof();
  return out;
}

TEST(InspectTest, QevmFileCountsOnlyPartEosInRamTransferred) {
  uint64_t page_bytes = 0;
  const Bytes file = SmallQevmFile(&page_bytes);
  GuestMemory mem;
  const Inspection in = InspectBytes(file, {}, &mem);
  ASSERT_THAT(in.error, IsOk());
  EXPECT_EQ(in.format, StreamFormat::kQevm);
  EXPECT_EQ(in.machine, "pc-i440fx-7.2");
  EXPECT_EQ(in.bytes_read, file.size());
  ASSERT_EQ(in.blocks.size(), 2u);
  EXPECT_EQ(in.blocks[1].idstr, "pc.bios");
  EXPECT_EQ(in.ram_transferred, page_bytes + 8);
  EXPECT_EQ(in.sections.start, 1u);
  EXPECT_EQ(in.sections.ram_parts, 1u);
  EXPECT_EQ(in.sections.full, 1u);
  EXPECT_EQ(in.sections.devices_skipped, 1u);
  EXPECT_EQ(in.stats.count(RecordKind::kZero), 3u);
  // Two CONTINUE records omitted "pc.ram" (1 + 6 bytes each).
  EXPECT_EQ(in.page_record_bytes, page_bytes + 14);
  EXPECT_THAT(in.notes, ::testing::ElementsAre(HasSubstr("skipped by footer resync")));
}

TEST(InspectTest, BareRamStreamCountsEosOtherThanFirstAndLast) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos().Zero("pc.ram", 0).Eos().Zero("", 4096).Eos().Eos();
  GuestMemory mem;
  const Inspection in = InspectBytes(s.bytes(), {}, &mem);
  ASSERT_THAT(in.error, IsOk());
  EXPECT_EQ(in.format, StreamFormat::kRam);
  EXPECT_EQ(in.ram_transferred, (8 + 1 + 6 + 1) + 9 + 2 * 8u);
}

TEST(InspectTest, RejectionKeepsTheLoadersCodeAndOffset) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos();
  const uint64_t at = s.size();
  s.Page("", 0, 1).Eos();
  GuestMemory mem;
  const Inspection in = InspectBytes(s.bytes(), {}, &mem);
  EXPECT_THAT(in.error, HasError(Code::kContinueWithoutBlock, at));
}

TEST(InspectTest, EmptyInputIsTruncatedAtZero) {
  GuestMemory mem;
  EXPECT_THAT(InspectBytes({}, {}, &mem).error, HasError(Code::kTruncated, 0));
}

TEST(InspectTest, ForcedFormatIsUsed) {
  uint64_t unused = 0;
  const Bytes file = SmallQevmFile(&unused);
  InspectOptions o;
  o.format = StreamFormat::kRam;
  GuestMemory mem;
  // "QEVM" + version read as a RAM header: flags 0x000 after the magic's address bits.
  EXPECT_THAT(InspectBytes(file, o, &mem).error, HasError(Code::kUnknownFlags, 0));
}

TEST(InspectTest, ReadErrorsAreReportedAsIo) {
  GuestMemory mem;
  int calls = 0;
  const Inspection in = Inspect(
      [&](std::span<std::byte> out) -> ptrdiff_t {
        if (calls++ == 0) {
          std::memset(out.data(), 0, 8);
          return 8;
        }
        return -1;
      },
      {}, &mem);
  EXPECT_TRUE(in.io_error);
}

}  // namespace
}  // namespace ramstream::protocol
