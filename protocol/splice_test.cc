#include "protocol/splice.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/inspect.h"
#include "protocol/qevm_writer.h"
#include "protocol/testing/matchers.h"
#include "protocol/testing/streams.h"

namespace ramstream::protocol {
namespace {

using testing::Bytes;
using testing::HasError;
using testing::IsOk;
using testing::StreamBuilder;

TEST(SplitAtEosTest, CutsAfterEachEosAndKeepsAMalformedTail) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos();
  const size_t first = s.size();
  s.Zero("pc.ram", 0).Eos();
  const size_t second = s.size();
  s.Header(0, 0x400).U8(1).U8(2);
  const auto parts = SplitAtEos(s.bytes(), Dialect::Qemu72());
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].size(), first);
  EXPECT_EQ(parts[1].size(), second - first);
  EXPECT_EQ(parts[2].size(), 10u);
}

// A template with START, two PARTs, END and a device section between PART and END.
Bytes Template(const Bytes& device) {
  StreamBuilder start, part1, part2, end;
  start.MemSize({{"pc.ram", 65536}}).Eos();
  part1.Page("pc.ram", 0, 1).Eos();
  part2.Page("pc.ram", 4096, 2).Eos();
  end.Eos();
  Bytes out;
  QevmWriter w(&out);
  w.WriteHeader();
  QevmConfiguration config;
  config.machine = "pc-q35-7.2";
  w.WriteConfiguration(config);
  w.WriteSectionStart(7, "ram", 0, 4);
  w.WriteRaw(start.bytes());
  w.WriteFooter(7);
  w.WriteSectionPart(7);
  w.WriteRaw(part1.bytes());
  w.WriteFooter(7);
  w.WriteSectionPart(7);
  w.WriteRaw(part2.bytes());
  w.WriteFooter(7);
  w.WriteSectionEnd(7);
  w.WriteRaw(end.bytes());
  w.WriteFooter(7);
  w.WriteSectionFull(3, "timer", 0, 2);
  w.WriteRaw(device);
  w.WriteFooter(3);
  w.WriteEof();
  w.WriteVmdesc(R"({"page_size":4096,"devices":[]})");
  return out;
}

TEST(SpliceRamTest, ReplacesRamKeepsEverythingElse) {
  const Bytes device(40, std::byte{0x42});
  const Bytes tmpl = Template(device);
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("pc.ram", 65536).ok());
  mem.PageForWrite(0, 8192)[3] = std::byte{9};
  const Result<ByteVector> spliced = SpliceRam(tmpl, EncodeMemory(mem));
  ASSERT_TRUE(spliced.ok()) << spliced.error().ToString();
  GuestMemory loaded;
  const Inspection in = InspectBytes(spliced.value(), {}, &loaded);
  ASSERT_THAT(in.error, IsOk());
  EXPECT_EQ(in.machine, "pc-q35-7.2");
  EXPECT_EQ(in.sections.ram_parts, 1u);
  EXPECT_TRUE(in.has_vmdesc);
  EXPECT_EQ(loaded.Digest(), mem.Digest());
  // The device payload and the file's tail (FULL .. vmdesc) are the template's bytes.
  const size_t tail = 1 + 4 + 1 + 5 + 4 + 4 + device.size() + 5 + 1 + 5 + 32;
  EXPECT_TRUE(std::equal(tmpl.end() - tail, tmpl.end(), spliced.value().end() - tail));
}

TEST(SpliceRamTest, MalformedPayloadsStayMalformed) {
  const Bytes tmpl = Template(Bytes(8));
  StreamBuilder bad;
  bad.MemSize({{"pc.ram", 65536}}).Eos().Page("pc.ram", 65536, 1).Eos().Eos();
  const Result<ByteVector> spliced = SpliceRam(tmpl, SplitAtEos(bad.bytes(), Dialect::Qemu72()));
  ASSERT_TRUE(spliced.ok());
  GuestMemory loaded;
  EXPECT_THAT(InspectBytes(spliced.value(), {}, &loaded).error, HasError(Code::kOffsetOutOfRange));
}

TEST(SpliceRamTest, TemplateMustLoadAndHaveStartAndEnd) {
  Bytes broken = Template(Bytes(8));
  broken.resize(broken.size() - 50);
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("pc.ram", 4096).ok());
  const Result<ByteVector> r = SpliceRam(broken, EncodeMemory(mem));
  EXPECT_THAT(r.error(), HasError(Code::kTruncated));
  EXPECT_THAT(SpliceRam(Template(Bytes(8)), {}).error(), HasError(Code::kBadSection, 0));
}

// Found by qevm_file_fuzzer (corpus/qevm_file_fuzzer/crash-splice-ram-full-section-sent-end-
// payload-twice.qevm): with ram sections START, FULL, END, SpliceRam wrote an END where the
// FULL was, so the last payload arrived twice. Its CONTINUE record then followed "vga", not
// "pc.ram", and the spliced file loaded other memory than the payloads describe.
TEST(SpliceRamTest, TemplateWithAFullRamSectionIsRejected) {
  StreamBuilder start, full, end;
  start.MemSize({{"pc.ram", 8192}, {"vga", 8192}}).Eos();
  full.Page("pc.ram", 0, 1).Eos();
  end.Page("", 4096, 2).Page("vga", 0, 3).Eos();
  Bytes tmpl;
  QevmWriter w(&tmpl);
  w.WriteHeader();
  QevmConfiguration config;
  config.machine = "pc-i440fx-7.2";
  w.WriteConfiguration(config);
  w.WriteSectionStart(2, "ram", 0, 4);
  w.WriteRaw(start.bytes());
  w.WriteFooter(2);
  w.WriteSectionFull(2, "ram", 0, 4);
  w.WriteRaw(full.bytes());
  w.WriteFooter(2);
  w.WriteSectionEnd(2);
  w.WriteRaw(end.bytes());
  w.WriteFooter(2);
  w.WriteEof();
  const Result<ByteVector> ram = RamStreamOf(tmpl);
  ASSERT_TRUE(ram.ok()) << ram.error().ToString();
  const auto payloads = SplitAtEos(ram.value(), Dialect::Qemu72());
  ASSERT_EQ(payloads.size(), 3u);
  EXPECT_THAT(SpliceRam(tmpl, payloads).error(),
              HasError(Code::kBadSection, 0, ::testing::HasSubstr("FULL")));
}

TEST(WriteRamOnlyFileTest, LoadsBackToTheSameMemory) {
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("pc.ram", 1 << 20).ok());
  ASSERT_TRUE(mem.AddBlock("vga", 8192).ok());
  mem.PageForWrite(0, 4096)[0] = std::byte{1};
  mem.PageForWrite(1, 4096)[4095] = std::byte{2};
  const ByteVector file = WriteRamOnlyFile("pc-i440fx-7.2", EncodeMemory(mem));
  GuestMemory loaded;
  const Inspection in = InspectBytes(file, {}, &loaded);
  ASSERT_THAT(in.error, IsOk());
  EXPECT_EQ(loaded.Digest(), mem.Digest());
  EXPECT_EQ(in.stats.named_records, 2u);
}

}  // namespace
}  // namespace ramstream::protocol

namespace ramstream::protocol {
namespace {

TEST(RamStreamOfTest, ConcatenatesTheRamRecordsOfEverySection) {
  const Bytes tmpl = Template(Bytes(8));
  const Result<ByteVector> ram = RamStreamOf(tmpl);
  ASSERT_TRUE(ram.ok()) << ram.error().ToString();
  StreamBuilder expect;
  expect.MemSize({{"pc.ram", 65536}}).Eos().Page("pc.ram", 0, 1).Eos();
  expect.Page("pc.ram", 4096, 2).Eos().Eos();
  EXPECT_EQ(ram.value(), expect.bytes());
}

}  // namespace
}  // namespace ramstream::protocol
