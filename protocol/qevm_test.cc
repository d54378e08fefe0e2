#include "protocol/qevm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "protocol/encoder.h"
#include "protocol/guest_memory.h"
#include "protocol/qevm_writer.h"
#include "protocol/testing/matchers.h"
#include "protocol/testing/streams.h"
#include "protocol/vmdesc.h"

namespace ramstream::protocol {
namespace {

using ::ramstream::protocol::testing::Bytes;
using ::ramstream::protocol::testing::HasError;
using ::ramstream::protocol::testing::IsOk;
using ::ramstream::protocol::testing::kChunkSizes;
using ::ramstream::protocol::testing::PatternPage;
using ::ramstream::protocol::testing::StreamBuilder;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kMachine[] = "pc-i440fx-7.2";
constexpr char kVmdesc[] =
    R"({"page_size":4096,"devices":[{"name":"timer","instance_id":0,"vmsd_name":"timer",)"
    R"("version":2,"fields":[],"subsections":[]}]})";

// GCC warns about designated initializers that leave members out, so build these by hand.
QevmConfiguration Config(std::string machine = kMachine,
                         std::vector<std::string> capabilities = {}) {
  QevmConfiguration c;
  c.machine = std::move(machine);
  c.capabilities = std::move(capabilities);
  return c;
}

BlockInfo Block(std::string idstr, uint64_t used_length) {
  BlockInfo b;
  b.idstr = std::move(idstr);
  b.used_length = used_length;
  return b;
}

Bytes ToBytes(std::string_view s) {
  Bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(v));
  return buf;
}

// Everything an event carries, as text, so runs over different chunkings compare exactly.
std::string Describe(const QevmEvent& e) {
  std::string s = std::string(QevmEventKindName(e.kind)) + " @" + std::to_string(e.offset) + ".." +
                  std::to_string(e.end_offset) + " d" + std::to_string(e.depth);
  if (e.section != nullptr) {
    const QevmSection& sec = *e.section;
    s += " sec[t" + std::to_string(sec.type) + " id" + std::to_string(sec.section_id) + " '" +
         sec.idstr + "' i" + std::to_string(sec.instance_id) + " v" +
         std::to_string(sec.version_id) + " @" + std::to_string(sec.offset) +
         (sec.is_ram ? " ram" : "") + "]";
  }
  if (e.record != nullptr) {
    const Record& r = *e.record;
    uint64_t sum = 0;
    for (std::byte b : r.data) sum = sum * 31 + static_cast<uint8_t>(b);
    s += " rec[" + std::string(RecordKindName(r.kind)) + " f" + Hex(r.flags) + " a" +
         Hex(r.address) + " '" + std::string(r.idstr) + "' fill" + std::to_string(r.fill) +
         " data" + std::to_string(r.data.size()) + ":" + Hex(sum) + " blocks" +
         std::to_string(r.blocks.size()) + " @" + std::to_string(r.stream_offset) + "]";
  }
  if (e.kind == QevmEventKind::kCommand) {
    s += " cmd" + std::to_string(e.command) + " len" + std::to_string(e.payload.size());
  }
  if (e.item != nullptr) {
    uint64_t sum = 0;
    for (std::byte b : e.payload) sum = sum * 31 + static_cast<uint8_t>(b);
    s += " item['" + e.item->path + "' " + e.item->type + " " + std::to_string(e.item->bytes) +
         " view" + std::to_string(e.payload.size()) + ":" + Hex(sum) + "]";
  }
  if (!e.text.empty()) s += " text[" + std::string(e.text) + "]";
  return s;
}

struct Outcome {
  std::vector<std::string> events;
  std::vector<QevmEventKind> kinds;
  Error error;
  QevmStep last = QevmStep::kError;
  std::string digest;
  QevmConfiguration config;
  std::vector<BlockInfo> stream_blocks;
  std::optional<bool> footers;
};

// Parses `bytes` fed `chunk` bytes at a time (0: whole). Each chunk is a fresh copy that dies
// when the parser asks for more, so a view kept too long is a use-after-free under ASan.
Outcome ParseAll(std::span<const std::byte> bytes, size_t chunk, const QevmOptions& options = {}) {
  Outcome out;
  GuestMemory memory;
  QevmParser parser(options, &memory);
  if (chunk == 0) chunk = std::max<size_t>(bytes.size(), 1);
  size_t pos = 0;
  bool fed_last = false;
  Bytes piece;
  QevmEvent e;
  for (;;) {
    const QevmStep step = parser.Next(&e);
    if (step == QevmStep::kNeedInput) {
      if (fed_last) {
        out.error = Error{Code::kInternal, pos, "kNeedInput after end_of_input"};
        break;
      }
      const size_t n = std::min(chunk, bytes.size() - pos);
      piece.assign(bytes.begin() + pos, bytes.begin() + pos + n);
      pos += n;
      fed_last = pos == bytes.size();
      parser.Feed(piece, fed_last);
      continue;
    }
    if (step == QevmStep::kEvent) {
      out.events.push_back(Describe(e));
      out.kinds.push_back(e.kind);
      continue;
    }
    out.last = step;
    out.error = parser.error();
    // Sticky: asking again changes nothing.
    EXPECT_EQ(parser.Next(&e), step);
    EXPECT_EQ(parser.error().ToString(), out.error.ToString());
    break;
  }
  out.digest = memory.Digest();
  out.config = parser.configuration();
  if (parser.loader() != nullptr) out.stream_blocks = parser.loader()->stream_blocks();
  out.footers = parser.footers();
  return out;
}

// Parses under every chunk size and expects the same events and error as the whole input.
Outcome ParseEveryChunking(std::span<const std::byte> bytes, const QevmOptions& options = {}) {
  const Outcome whole = ParseAll(bytes, 0, options);
  for (size_t chunk : kChunkSizes) {
    if (chunk == 0) continue;
    const Outcome o = ParseAll(bytes, chunk, options);
    EXPECT_EQ(o.events, whole.events) << "chunk " << chunk;
    EXPECT_EQ(o.error.ToString(), whole.error.ToString()) << "chunk " << chunk;
    EXPECT_EQ(o.last, whole.last) << "chunk " << chunk;
    EXPECT_EQ(o.digest, whole.digest) << "chunk " << chunk;
  }
  return whole;
}

Error ParseError(std::span<const std::byte> bytes, const QevmOptions& options = {}) {
  const Outcome o = ParseEveryChunking(bytes, options);
  EXPECT_EQ(o.last, QevmStep::kError);
  return o.error;
}

Bytes Ram(const std::function<void(StreamBuilder&)>& fill) {
  StreamBuilder b;
  fill(b);
  return b.bytes();
}

// The offsets of the items in TypicalFile().
struct Typical {
  Bytes bytes;
  uint64_t ram_start = 0, part1 = 0, part1_page = 0, part2 = 0, part2_page = 0, end = 0,
           end_footer = 0, timer = 0, timer_footer = 0, apic = 0, eof = 0, vmdesc = 0;
};

// What a 7.2 source writes (spec 2.2): header, configuration, START ram (MEM_SIZE + EOS),
// PARTs with pages, END, FULL device sections, EOF, vmdesc; footers after every section.
// The second PART's page uses CONTINUE: its block was named in the first PART.
Typical TypicalFile() {
  Typical t;
  QevmWriter w(&t.bytes);
  w.WriteHeader();
  w.WriteConfiguration(Config());
  Bytes ram;
  Encoder enc({}, &ram);
  auto flush = [&] {
    w.WriteRaw(ram);
    ram.clear();
  };
  const std::vector<BlockInfo> blocks = {Block("pc.ram", 16 * kPageSize),
                                         Block("pc.rom", 4 * kPageSize)};
  t.ram_start = w.size();
  w.WriteSectionStart(2, "ram", 0, 4);
  enc.WriteMemSize(blocks);
  enc.WriteEos();
  flush();
  w.WriteFooter(2);

  t.part1 = w.size();
  w.WriteSectionPart(2);
  t.part1_page = w.size();
  EXPECT_EQ(enc.WritePage(0, 0, PatternPage(1)), PageOutcome::kPage);
  EXPECT_EQ(enc.WritePage(0, kPageSize, Bytes(kPageSize)), PageOutcome::kZero);
  EXPECT_EQ(enc.WritePage(1, 0, PatternPage(2)), PageOutcome::kPage);
  enc.WriteEos();
  flush();
  w.WriteFooter(2);

  t.part2 = w.size();
  w.WriteSectionPart(2);
  t.part2_page = w.size();
  EXPECT_EQ(enc.WritePage(1, 2 * kPageSize, PatternPage(3)), PageOutcome::kPage);
  enc.WriteEos();
  flush();
  w.WriteFooter(2);

  t.end = w.size();
  w.WriteSectionEnd(2);
  enc.WriteEos();
  flush();
  t.end_footer = w.size();
  w.WriteFooter(2);

  t.timer = w.size();
  w.WriteSectionFull(0, "timer", 0, 2);
  // Device state with a footer-like byte that is not followed by this section's id.
  w.WriteRaw(ToBytes(std::string("\x00\x00\x7e\x00\x01\x02\x03", 7)));
  t.timer_footer = w.size();
  w.WriteFooter(0);
  t.apic = w.size();
  w.WriteSectionFull(7, "apic", 0, 3);
  w.WriteRaw(Bytes(20, std::byte{0x7e}));
  w.WriteFooter(7);
  t.eof = w.size();
  w.WriteEof();
  t.vmdesc = w.size();
  w.WriteVmdesc(kVmdesc);
  return t;
}

// A file with RAM sections only and no footers or configuration (machine types <= 2.3).
Bytes NoFooterFile() {
  Bytes out;
  QevmWriter w(&out);
  w.WriteHeader();
  w.WriteSectionStart(3, "ram", 0, 4);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.MemSize({{"pc.ram", 8 * kPageSize}}).Eos(); }));
  w.WriteSectionPart(3);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.Zero("pc.ram", 0).Zero("", kPageSize).Eos(); }));
  w.WriteSectionEnd(3);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.Page("", 2 * kPageSize, 9).Eos(); }));
  w.WriteEof();
  return out;
}

// Header and configuration, for tests that append their own records.
QevmWriter Start(Bytes* out, const QevmConfiguration& config = Config()) {
  QevmWriter w(out);
  w.WriteHeader();
  w.WriteConfiguration(config);
  return w;
}

void WriteRamStart(QevmWriter& w, uint32_t id = 2) {
  w.WriteSectionStart(id, "ram", 0, 4);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.MemSize({{"pc.ram", 16 * kPageSize}}).Eos(); }));
  w.WriteFooter(id);
}

// ---- Valid files -------------------------------------------------------------------------

TEST(QevmParserTest, TypicalFileGivesTheSameEventsForEveryChunking) {
  const Typical t = TypicalFile();
  const Outcome o = ParseEveryChunking(t.bytes);
  EXPECT_EQ(o.last, QevmStep::kEnd);
  EXPECT_THAT(o.error, IsOk());
  using K = QevmEventKind;
  EXPECT_THAT(o.kinds,
              ElementsAre(K::kHeader, K::kConfiguration,                                   //
                          K::kSectionBegin, K::kRamRecord, K::kRamRecord, K::kSectionEnd,  //
                          K::kSectionBegin, K::kRamRecord, K::kRamRecord, K::kRamRecord,
                          K::kRamRecord, K::kSectionEnd,                                   //
                          K::kSectionBegin, K::kRamRecord, K::kRamRecord, K::kSectionEnd,  //
                          K::kSectionBegin, K::kRamRecord, K::kSectionEnd,                 //
                          K::kSectionBegin, K::kDeviceSkipped, K::kSectionEnd,             //
                          K::kSectionBegin, K::kDeviceSkipped, K::kSectionEnd,             //
                          K::kEof, K::kVmdesc));
  EXPECT_EQ(o.config.machine, kMachine);
  EXPECT_EQ(o.footers, std::optional<bool>(true));
  ASSERT_EQ(o.stream_blocks.size(), 2u);
  EXPECT_EQ(o.stream_blocks[1].idstr, "pc.rom");
}

TEST(QevmParserTest, EventsCarryOffsetsSectionsAndSkipMessages) {
  const Typical t = TypicalFile();
  const Outcome o = ParseAll(t.bytes, 0);
  ASSERT_EQ(o.events.size(), 27u);
  EXPECT_EQ(o.events[0], "header @0..8 d0");
  EXPECT_EQ(o.events[1], "configuration @8..26 d0");
  EXPECT_EQ(o.events[2], "section_begin @26..43 d0 sec[t1 id2 'ram' i0 v4 @26 ram]");
  // The END section: header, its EOS, then the section with its footer.
  EXPECT_THAT(o.events[16], HasSubstr("section_begin @" + std::to_string(t.end) + ".." +
                                      std::to_string(t.end + 5) + " d0 sec[t3 id2 'ram'"));
  EXPECT_EQ(
      o.events[18].substr(0, o.events[18].find(" sec")),
      "section_end @" + std::to_string(t.end) + ".." + std::to_string(t.end_footer + 5) + " d0");
  EXPECT_EQ(o.events[20], "device_skipped @" + std::to_string(t.timer + 19) + ".." +
                              std::to_string(t.timer_footer) + " d0 sec[t4 id0 'timer' i0 v2 @" +
                              std::to_string(t.timer) +
                              "] text[skipped 7 bytes of device section 'timer' (section 0) "
                              "by footer resync]");
  EXPECT_EQ(o.events[25],
            "eof @" + std::to_string(t.eof) + ".." + std::to_string(t.eof + 1) + " d0");
  EXPECT_EQ(o.events[26], "vmdesc @" + std::to_string(t.vmdesc) + ".." +
                              std::to_string(t.bytes.size()) + " d0 text[" + kVmdesc + "]");
}

TEST(QevmParserTest, ContinueCarriesAcrossRamSections) {
  const Typical t = TypicalFile();
  GuestMemory memory;
  QevmParser parser({}, &memory);
  parser.Feed(t.bytes, true);
  QevmEvent e;
  std::vector<std::string> continued;
  while (parser.Next(&e) == QevmStep::kEvent) {
    if (e.kind == QevmEventKind::kRamRecord && e.record->is_page() && e.record->has_continue()) {
      continued.push_back(std::to_string(e.offset));
    }
  }
  ASSERT_THAT(parser.error(), IsOk());
  // The ZERO in PART 1 continues pc.ram; PART 2's page continues pc.rom from PART 1.
  EXPECT_THAT(continued, ElementsAre(std::to_string(t.part1_page + 8 + 7 + kPageSize),
                                     std::to_string(t.part2_page)));
  const int64_t rom = memory.Find("pc.rom");
  ASSERT_GE(rom, 0);
  const std::byte* page = memory.FindPage(static_cast<uint32_t>(rom), 2 * kPageSize);
  ASSERT_NE(page, nullptr);
  EXPECT_TRUE(std::equal(page, page + kPageSize, PatternPage(3).begin()));
  ASSERT_NE(parser.loader(), nullptr);
  EXPECT_EQ(parser.loader()->stats().count(RecordKind::kPage), 3u);
  EXPECT_EQ(parser.loader()->stats().count(RecordKind::kEos), 4u);
}

TEST(QevmParserTest, ConfigurationSubsectionsRoundTripThroughTheWriter) {
  QevmConfiguration config = Config("pc-q35-7.2", {"postcopy-ram", "x-colo"});
  config.target_page_bits = 12;
  config.uuid = std::array<uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  Bytes out;
  QevmWriter w = Start(&out, config);
  w.WriteEof();
  const Outcome o = ParseEveryChunking(out);
  EXPECT_EQ(o.last, QevmStep::kEnd);
  EXPECT_EQ(o.config, config);
  EXPECT_EQ(o.events[1], "configuration @8.." + std::to_string(out.size() - 1) + " d0");
}

TEST(QevmParserTest, XIgnoreSharedCapabilityAddsAddrToMemSize) {
  Bytes out;
  QevmWriter w = Start(&out, Config(kMachine, {"x-ignore-shared"}));
  w.WriteSectionStart(2, "ram", 0, 4);
  w.WriteRaw(Ram([](StreamBuilder& b) {
    b.Header(2 * kPageSize, kFlagMemSize).Counted("pc.ram").Be64(2 * kPageSize).Be64(0x100000);
    b.Eos();
  }));
  w.WriteFooter(2);
  w.WriteEof();
  const Outcome o = ParseEveryChunking(out);
  EXPECT_EQ(o.last, QevmStep::kEnd);
  ASSERT_EQ(o.stream_blocks.size(), 1u);
  EXPECT_EQ(o.stream_blocks[0].addr, std::optional<uint64_t>(0x100000));
}

TEST(QevmParserTest, StreamWithoutFootersParses) {
  const Outcome o = ParseEveryChunking(NoFooterFile());
  EXPECT_EQ(o.last, QevmStep::kEnd);
  EXPECT_THAT(o.error, IsOk());
  EXPECT_EQ(o.footers, std::optional<bool>(false));
  EXPECT_EQ(o.kinds.back(), QevmEventKind::kEof);
}

TEST(QevmParserTest, EofWithoutVmdescIsComplete) {
  Bytes out;
  QevmWriter w = Start(&out);
  WriteRamStart(w);
  w.WriteEof();
  const Outcome o = ParseEveryChunking(out);
  EXPECT_EQ(o.last, QevmStep::kEnd);
}

TEST(QevmParserTest, FooterResyncSkipsImplausibleCandidates) {
  Bytes out;
  QevmWriter w = Start(&out);
  WriteRamStart(w);
  const uint64_t dev = w.size();
  w.WriteSectionFull(9, "fdc", 0, 2);
  StreamBuilder junk;
  junk.U8(0x7e).Be32(9).U8(0x99);                           // no record type 0x99
  junk.U8(0x7e).Be32(9).U8(0x01).Be32(1).U8(0);             // START with an empty idstr
  junk.U8(0x7e).Be32(9).U8(0x04).Be32(1).Counted("a\x01");  // unprintable idstr
  junk.U8(0x7e).Be32(9).U8(0x02).Be32(77);                  // PART of an unknown section
  junk.U8(0x7e).Be32(9).U8(0x08).Be16(0x63);                // unknown command
  junk.U8(0x7e).Be32(9).U8(0x00).U8(0x05);                  // EOF not followed by the vmdesc
  junk.U8(0x7e).Be32(8).U8(0x00);                           // another section's id
  w.WriteRaw(junk.bytes());
  w.WriteFooter(9);
  w.WriteEof();
  const Outcome o = ParseEveryChunking(out);
  EXPECT_EQ(o.last, QevmStep::kEnd);
  const uint64_t payload = dev + 1 + 4 + 1 + 3 + 8;
  EXPECT_THAT(o.events, ::testing::Contains("device_skipped @" + std::to_string(payload) + ".." +
                                            std::to_string(payload + junk.size()) +
                                            " d0 sec[t4 id9 'fdc' i0 v2 @" + std::to_string(dev) +
                                            "] text[skipped " + std::to_string(junk.size()) +
                                            " bytes of device section 'fdc' (section 9) by "
                                            "footer resync]"));
}

TEST(QevmParserTest, DeviceSectionFirstTurnsFootersOn) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteSectionFull(0, "timer", 0, 2);
  w.WriteRaw(Bytes(3));
  w.WriteFooter(0);
  WriteRamStart(w);
  w.WriteEof();
  const Outcome o = ParseEveryChunking(out);
  EXPECT_EQ(o.last, QevmStep::kEnd);
  EXPECT_EQ(o.footers, std::optional<bool>(true));
}

// A postcopy-shaped stream (spec 2.4, 5.3): ADVISE, RAM setup and a PART, then a PACKAGED
// command whose payload is a record stream without a file header (LISTEN, device sections,
// RUN), then RAM continues at top level.
struct Packaged {
  Bytes bytes;
  uint64_t packaged = 0, inner_start = 0, inner_end = 0;
};

Packaged PackagedFile() {
  Packaged p;
  QevmWriter w = Start(&p.bytes);
  w.WritePostcopyAdvise(kPageSize);
  WriteRamStart(w);
  w.WriteSectionPart(2);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.Page("pc.ram", 0, 1).Eos(); }));
  w.WriteFooter(2);
  Bytes inner;
  QevmWriter wi(&inner);
  wi.WriteCommand(kCmdPostcopyListen);
  wi.WriteSectionFull(0, "timer", 0, 2);
  wi.WriteRaw(Bytes(5, std::byte{1}));
  wi.WriteFooter(0);
  wi.WriteSectionFull(5, "apic", 0, 3);
  wi.WriteRaw(Bytes(9, std::byte{2}));
  wi.WriteFooter(5);
  wi.WriteCommand(kCmdPostcopyRun);
  p.packaged = w.size();
  w.WritePackaged(inner);
  p.inner_start = p.packaged + 9;
  p.inner_end = w.size();
  w.WriteSectionEnd(2);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.Page("", kPageSize, 2).Eos(); }));
  w.WriteFooter(2);
  w.WriteEof();
  return p;
}

TEST(QevmParserTest, PackagedStreamIsParsedInline) {
  const Packaged p = PackagedFile();
  const Outcome o = ParseEveryChunking(p.bytes);
  EXPECT_EQ(o.last, QevmStep::kEnd);
  EXPECT_THAT(o.error, IsOk());
  std::vector<std::string> commands;
  for (const std::string& ev : o.events) {
    if (ev.rfind("command", 0) == 0 || ev.rfind("package_end", 0) == 0) commands.push_back(ev);
  }
  const std::string in = std::to_string(p.inner_start);
  EXPECT_THAT(
      commands,
      ElementsAre("command @26..47 d0 cmd3 len16",
                  "command @" + std::to_string(p.packaged) + ".." + in + " d0 cmd7 len4",
                  "command @" + in + ".." + std::to_string(p.inner_start + 5) + " d1 cmd4 len0",
                  "command @" + std::to_string(p.inner_end - 5) + ".." +
                      std::to_string(p.inner_end) + " d1 cmd5 len0",
                  "package_end @" + std::to_string(p.packaged) + ".." +
                      std::to_string(p.inner_end) + " d0"));
  EXPECT_THAT(o.events, ::testing::Contains(HasSubstr(
                            "device_skipped @" + std::to_string(p.inner_start + 5 + 19) + "..")));
  EXPECT_THAT(o.events, ::testing::Contains(HasSubstr("text[skipped 9 bytes of device section "
                                                      "'apic' (section 5) by footer resync]")));
}

TEST(QevmParserTest, DeviceSectionMayEndAPackage) {
  Bytes out;
  QevmWriter w = Start(&out);
  Bytes inner;
  QevmWriter wi(&inner);
  wi.WriteSectionFull(0, "timer", 0, 2);
  wi.WriteRaw(Bytes(4));
  wi.WriteFooter(0);
  w.WritePackaged(inner);
  WriteRamStart(w);
  w.WriteEof();
  EXPECT_EQ(ParseEveryChunking(out).last, QevmStep::kEnd);
}

// ---- Header and configuration errors -----------------------------------------------------

TEST(QevmErrorTest, BadMagicAtOffsetZero) {
  Bytes out;
  QevmWriter w(&out);
  w.WriteHeader();
  out[3] = std::byte{0x4e};
  EXPECT_THAT(ParseError(out), HasError(Code::kBadMagic, 0, HasSubstr("0x5145564e")));
}

TEST(QevmErrorTest, VersionTwoIsObsolete) {
  Bytes out;
  QevmWriter(&out).WriteHeader(2);
  EXPECT_THAT(ParseError(out),
              HasError(Code::kUnsupportedVersion, 4, "SaveVM v2 format is obsolete"));
}

TEST(QevmErrorTest, VersionFourIsUnsupported) {
  Bytes out;
  QevmWriter(&out).WriteHeader(4);
  EXPECT_THAT(ParseError(out), HasError(Code::kUnsupportedVersion, 4, HasSubstr("version 4")));
}

TEST(QevmErrorTest, TruncatedHeaderIsTruncatedAtZero) {
  Bytes out;
  QevmWriter(&out).WriteHeader();
  out.resize(5);
  EXPECT_THAT(ParseError(out), HasError(Code::kTruncated, 0));
  EXPECT_THAT(ParseError({}), HasError(Code::kTruncated, 0));
}

TEST(QevmErrorTest, MachineNameOverLimit) {
  Bytes out;
  Start(&out, Config(std::string(300, 'm'))).WriteEof();
  EXPECT_THAT(ParseError(out), HasError(Code::kLimitExceeded, 8, HasSubstr("300 bytes")));
}

TEST(QevmErrorTest, UnknownConfigurationSubsection) {
  Bytes out;
  QevmWriter w = Start(&out);
  const uint64_t sub = w.size();
  w.WriteRaw(Ram([](StreamBuilder& b) { b.U8(0x05).Counted("configuration/bogus").Be32(1); }));
  w.WriteEof();
  EXPECT_THAT(ParseError(out),
              HasError(Code::kBadConfiguration, sub, HasSubstr("'configuration/bogus'")));
}

TEST(QevmErrorTest, ConfigurationSubsectionVersionTwo) {
  Bytes out;
  QevmWriter w = Start(&out);
  const uint64_t sub = w.size();
  w.WriteRaw(Ram([](StreamBuilder& b) { b.U8(0x05).Counted("configuration/uuid").Be32(2); }));
  w.WriteRaw(Bytes(16));
  w.WriteEof();
  EXPECT_THAT(ParseError(out), HasError(Code::kBadConfiguration, sub, HasSubstr("version 2")));
}

TEST(QevmErrorTest, TargetPageBitsOtherThanTwelve) {
  Bytes out;
  QevmConfiguration config = Config();
  config.target_page_bits = 16;
  Start(&out, config).WriteEof();
  const uint64_t value = 8 + 18 + 2 + std::string_view("configuration/target-page-bits").size() + 4;
  EXPECT_THAT(ParseError(out), HasError(Code::kBadConfiguration, value, HasSubstr("bits 16")));
}

TEST(QevmErrorTest, CapabilityCountOverLimit) {
  Bytes out;
  Start(&out, Config(kMachine, {"a", "b", "c"})).WriteEof();
  QevmOptions options;
  options.limits.max_capabilities = 2;
  const uint64_t count = 8 + 18 + 2 + std::string_view("configuration/capabilities").size() + 4;
  EXPECT_THAT(ParseError(out, options), HasError(Code::kLimitExceeded, count));
}

TEST(QevmErrorTest, EmptyCapabilityName) {
  Bytes out;
  Start(&out, Config(kMachine, {""})).WriteEof();
  EXPECT_THAT(ParseError(out),
              HasError(Code::kBadConfiguration, out.size() - 2, "empty capability name"));
}

TEST(QevmErrorTest, ConfigurationAfterTheFirstRecord) {
  Bytes out;
  QevmWriter w = Start(&out);
  WriteRamStart(w);
  const uint64_t at = w.size();
  w.WriteConfiguration(Config());
  EXPECT_THAT(ParseError(out), HasError(Code::kBadSection, at, HasSubstr("CONFIGURATION")));
}

// ---- Section and footer errors -----------------------------------------------------------

TEST(QevmErrorTest, UnknownRecordType) {
  Bytes out;
  QevmWriter w = Start(&out);
  WriteRamStart(w);
  const uint64_t at = w.size();
  w.WriteRaw(ToBytes("\x09"));
  EXPECT_THAT(ParseError(out), HasError(Code::kBadSection, at, "unknown record type 0x9"));
}

TEST(QevmErrorTest, PartForAnUnknownSectionId) {
  Bytes out;
  QevmWriter w = Start(&out);
  WriteRamStart(w);
  const uint64_t at = w.size();
  w.WriteSectionPart(3);
  EXPECT_THAT(ParseError(out),
              HasError(Code::kBadSection, at, "SECTION_PART for unknown section id 3"));
}

TEST(QevmErrorTest, EmptySectionIdstr) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteSectionFull(4, "", 0, 1);
  EXPECT_THAT(ParseError(out), HasError(Code::kBadSection, 26, HasSubstr("empty idstr")));
}

TEST(QevmErrorTest, RamSectionVersionThreeIsUnsupportedIn72) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteSectionStart(2, "ram", 0, 3);
  EXPECT_THAT(ParseError(out), HasError(Code::kUnsupportedVersion, 26, HasSubstr("version 3")));
}

TEST(QevmErrorTest, RamInstanceOneIsUnknown) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteSectionStart(2, "ram", 1, 4);
  EXPECT_THAT(ParseError(out), HasError(Code::kBadSection, 26, HasSubstr("instance 1")));
}

TEST(QevmErrorTest, FooterWithTheWrongSectionId) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteSectionStart(2, "ram", 0, 4);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.MemSize({{"pc.ram", kPageSize}}).Eos(); }));
  const uint64_t footer = w.size();
  w.WriteFooter(3);
  w.WriteEof();
  EXPECT_THAT(ParseError(out),
              HasError(Code::kMissingFooter, footer, HasSubstr("mismatched section id")));
}

TEST(QevmErrorTest, MissingFooterOnceFootersAreOn) {
  Bytes out;
  QevmWriter w = Start(&out);
  WriteRamStart(w);
  w.WriteSectionPart(2);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.Eos(); }));
  const uint64_t at = w.size();
  w.WriteEof();
  EXPECT_THAT(ParseError(out),
              HasError(Code::kMissingFooter, at, HasSubstr("missing section footer for 'ram'")));
}

TEST(QevmErrorTest, RequiredFootersMissingAfterTheFirstSection) {
  const Bytes bytes = NoFooterFile();
  QevmOptions options;
  options.footers = FooterMode::kRequired;
  const uint64_t after_start = 8 + 17 + (8 + 7 + 8) + 8;
  EXPECT_THAT(ParseError(bytes, options), HasError(Code::kMissingFooter, after_start));
}

TEST(QevmErrorTest, FooterInAStreamWithoutFooters) {
  Bytes out;
  QevmWriter w(&out);
  w.WriteHeader();
  w.WriteSectionStart(3, "ram", 0, 4);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.MemSize({{"pc.ram", kPageSize}}).Eos(); }));
  w.WriteSectionPart(3);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.Eos(); }));
  const uint64_t at = w.size();
  w.WriteFooter(3);
  w.WriteEof();
  EXPECT_THAT(ParseError(out), HasError(Code::kBadSection, at, HasSubstr("have none")));
}

TEST(QevmErrorTest, DeviceSectionCannotBeSkippedWithoutFooters) {
  Bytes out = NoFooterFile();
  const uint64_t at = out.size() - 1;
  out.pop_back();  // EOF
  QevmWriter w(&out);
  w.WriteSectionFull(0, "timer", 0, 2);
  w.WriteRaw(Bytes(8));
  w.WriteEof();
  EXPECT_THAT(ParseError(out), HasError(Code::kBadSection, at, HasSubstr("cannot skip")));
}

TEST(QevmErrorTest, SectionCountOverLimit) {
  Bytes out;
  QevmWriter w = Start(&out);
  for (uint32_t id = 0; id < 3; ++id) {
    w.WriteSectionFull(id, "dev", id, 1);
    w.WriteFooter(id);
  }
  w.WriteEof();
  QevmOptions options;
  options.limits.max_sections = 2;
  EXPECT_THAT(ParseError(out, options),
              HasError(Code::kLimitExceeded, 26 + 2 * (17 + 5), HasSubstr("distinct section")));
}

TEST(QevmErrorTest, DeviceSectionOverLimit) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteSectionFull(0, "timer", 0, 2);
  w.WriteRaw(Bytes(100));
  w.WriteFooter(0);
  w.WriteEof();
  QevmOptions options;
  options.limits.max_device_section_bytes = 99;
  EXPECT_THAT(ParseError(out, options), HasError(Code::kLimitExceeded, 26));
  options.limits.max_device_section_bytes = 100;
  EXPECT_EQ(ParseEveryChunking(out, options).last, QevmStep::kEnd);
}

// Errors inside RAM sections come from the decoder and loader unchanged.
TEST(QevmErrorTest, RamRecordErrorsKeepTheirCodeAndOffset) {
  Bytes out;
  QevmWriter w = Start(&out);
  WriteRamStart(w);
  w.WriteSectionPart(2);
  const uint64_t bad = w.size();
  w.WriteRaw(Ram([](StreamBuilder& b) { b.Header(0, 0x48).Eos(); }));
  EXPECT_THAT(ParseError(out), HasError(Code::kUnknownFlags, bad));

  Bytes out2;
  QevmWriter w2 = Start(&out2);
  WriteRamStart(w2);
  w2.WriteSectionPart(2);
  const uint64_t cont = w2.size();
  w2.WriteRaw(Ram([](StreamBuilder& b) { b.Zero("", 0).Eos(); }));
  EXPECT_THAT(ParseError(out2), HasError(Code::kContinueWithoutBlock, cont));
}

// ---- Command errors ----------------------------------------------------------------------

TEST(QevmErrorTest, UnknownCommand) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteCommand(kCmdSwitchoverStart);
  w.WriteEof();
  EXPECT_THAT(ParseError(out), HasError(Code::kBadCommand, 26, HasSubstr("unknown command 11")));
  QevmOptions ten;
  ten.dialect = Dialect::Qemu10();
  EXPECT_EQ(ParseEveryChunking(out, ten).last, QevmStep::kEnd);
}

TEST(QevmErrorTest, CommandWithTheWrongLength) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteCommand(kCmdPing, Bytes(2));
  EXPECT_THAT(ParseError(out),
              HasError(Code::kBadCommand, 26, "PING with a 2-byte payload (expected 4)"));
}

TEST(QevmErrorTest, ListenBeforeAdvise) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteCommand(kCmdPostcopyListen);
  EXPECT_THAT(ParseError(out), HasError(Code::kBadCommand, 26, "POSTCOPY_LISTEN: before ADVISE"));
}

TEST(QevmErrorTest, AdviseWithAnotherTargetPageSize) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WritePostcopyAdvise(65536, 65536);
  EXPECT_THAT(ParseError(out), HasError(Code::kBadCommand, 26, HasSubstr("target page size")));
}

Bytes RamDiscard(std::string_view idstr, uint8_t nil, size_t ranges) {
  StreamBuilder b;
  b.U8(0).Counted(idstr).U8(nil);
  for (size_t i = 0; i < ranges; ++i) b.Be64(i * kPageSize).Be64(kPageSize);
  return b.bytes();
}

TEST(QevmParserTest, PostcopyCommandsInOrderAreAccepted) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteCommand(kCmdOpenReturnPath);
  w.WriteCommand(kCmdPing, Bytes(4));
  w.WritePostcopyAdvise(kPageSize);
  w.WriteCommand(kCmdPostcopyRamDiscard, RamDiscard("pc.ram", 0, 2));
  w.WriteCommand(kCmdPostcopyRamDiscard, RamDiscard("pc.rom", 0, 1));
  w.WriteCommand(kCmdPostcopyListen);
  w.WriteCommand(kCmdPostcopyRun);
  w.WriteEof();
  const Outcome o = ParseEveryChunking(out);
  EXPECT_EQ(o.last, QevmStep::kEnd);
  EXPECT_EQ(std::count(o.kinds.begin(), o.kinds.end(), QevmEventKind::kCommand), 7);
}

TEST(QevmErrorTest, MalformedRamDiscard) {
  for (const Bytes& payload :
       {RamDiscard("pc.ram", 1, 1), RamDiscard("pc.ram", 0, 0), RamDiscard("", 0, 1)}) {
    Bytes out;
    QevmWriter w = Start(&out);
    w.WritePostcopyAdvise(kPageSize);
    const uint64_t at = w.size();
    w.WriteCommand(kCmdPostcopyRamDiscard, payload);
    w.WriteEof();
    EXPECT_THAT(ParseError(out), HasError(Code::kBadCommand, at, HasSubstr("RAM_DISCARD")));
  }
}

TEST(QevmErrorTest, RunBeforeListen) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WritePostcopyAdvise(kPageSize);
  const uint64_t at = w.size();
  w.WriteCommand(kCmdPostcopyRun);
  EXPECT_THAT(ParseError(out), HasError(Code::kBadCommand, at, "POSTCOPY_RUN: before LISTEN"));
}

TEST(QevmErrorTest, PackagedLengthOverLimit) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WritePackaged(Bytes(64));
  QevmOptions options;
  options.limits.max_package_bytes = 63;
  EXPECT_THAT(ParseError(out, options), HasError(Code::kLimitExceeded, 26, HasSubstr("64")));
}

TEST(QevmErrorTest, PackagedRunsPastItsEnclosingPackage) {
  Bytes inner;
  QevmWriter(&inner).WritePackaged(Bytes(4));
  inner.resize(inner.size() - 2);  // the inner package claims 4 bytes, only 2 are left
  Bytes out;
  QevmWriter w = Start(&out);
  w.WritePackaged(inner);
  EXPECT_THAT(ParseError(out), HasError(Code::kBadCommand, 26 + 9, HasSubstr("runs past")));
}

TEST(QevmErrorTest, SectionHeaderCrossingThePackageEnd) {
  Bytes inner;
  QevmWriter(&inner).WriteSectionFull(1, "timer", 0, 2);
  inner.resize(8);
  Bytes out;
  QevmWriter w = Start(&out);
  w.WritePackaged(inner);
  WriteRamStart(w);
  w.WriteEof();
  EXPECT_THAT(ParseError(out),
              HasError(Code::kBadCommand, 26 + 9, HasSubstr("end of its PACKAGED payload")));
}

TEST(QevmErrorTest, RamRecordCrossingThePackageEnd) {
  Bytes inner;
  QevmWriter wi(&inner);
  wi.WriteSectionPart(2);
  const uint64_t page = inner.size();
  wi.WriteRaw(Ram([](StreamBuilder& b) { b.Page("pc.ram", 0, 1).Eos(); }));
  inner.resize(page + 100);
  Bytes out;
  QevmWriter w = Start(&out);
  WriteRamStart(w);
  const uint64_t payload = w.size() + 9;
  w.WritePackaged(inner);
  w.WriteEof();
  EXPECT_THAT(ParseError(out), HasError(Code::kBadCommand, payload + page,
                                        HasSubstr("end of its PACKAGED payload")));
}

TEST(QevmErrorTest, BytesAfterEofInsideAPackage) {
  Bytes out;
  QevmWriter w = Start(&out);
  const uint64_t after = w.size() + 9 + 1;
  w.WritePackaged(ToBytes(std::string("\x00\x00\x00", 3)));
  EXPECT_THAT(ParseError(out),
              HasError(Code::kBadCommand, after, "2 bytes follow EOF inside the PACKAGED payload"));
}

TEST(QevmErrorTest, DeviceSectionWithoutFooterInsideAPackage) {
  Bytes inner;
  QevmWriter wi(&inner);
  wi.WriteSectionFull(0, "timer", 0, 2);
  wi.WriteRaw(Bytes(6));
  Bytes out;
  QevmWriter w = Start(&out);
  w.WritePackaged(inner);
  w.WriteEof();
  EXPECT_THAT(ParseError(out), HasError(Code::kMissingFooter, 26 + 9, HasSubstr("PACKAGED")));
}

// ---- EOF and vmdesc errors ---------------------------------------------------------------

TEST(QevmErrorTest, VmdescThatIsNotJson) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteEof();
  w.WriteVmdesc(R"({"page_size":4096,"devices":[)");
  EXPECT_THAT(ParseError(out), HasError(Code::kBadVmdesc, 27, "VMDESCRIPTION is not valid JSON"));
}

TEST(QevmErrorTest, VmdescWithTheWrongShape) {
  for (std::string_view json : {R"([1,2])", R"({"devices":{}})", R"({"devices":[1]})"}) {
    Bytes out;
    QevmWriter w = Start(&out);
    w.WriteEof();
    w.WriteVmdesc(json);
    EXPECT_THAT(ParseError(out), HasError(Code::kBadVmdesc, 27)) << json;
  }
}

TEST(QevmErrorTest, VmdescOverLimit) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteEof();
  w.WriteVmdesc(kVmdesc);
  QevmOptions options;
  options.limits.max_vmdesc_bytes = 16;
  EXPECT_THAT(ParseError(out, options), HasError(Code::kLimitExceeded, 27));
}

TEST(QevmErrorTest, GarbageAfterEof) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteEof();
  w.WriteRaw(ToBytes("\x07"));
  EXPECT_THAT(ParseError(out), HasError(Code::kBadVmdesc, 27, HasSubstr("after EOF")));
}

TEST(QevmErrorTest, BytesAfterVmdesc) {
  Bytes out;
  QevmWriter w = Start(&out);
  w.WriteEof();
  w.WriteVmdesc("{}");
  w.WriteEof();
  EXPECT_THAT(ParseError(out),
              HasError(Code::kBadVmdesc, out.size() - 1, HasSubstr("after VMDESCRIPTION")));
}

// ---- Truncation --------------------------------------------------------------------------

Bytes Prefix(const Bytes& b, uint64_t n) { return Bytes(b.begin(), b.begin() + n); }

TEST(QevmTruncationTest, CutInsideAPageIsTruncatedAtThePage) {
  const Typical t = TypicalFile();
  EXPECT_THAT(ParseError(Prefix(t.bytes, t.part1_page + 100)),
              HasError(Code::kTruncated, t.part1_page));
}

TEST(QevmTruncationTest, CutInsideADeviceSectionIsTruncatedAtTheSection) {
  const Typical t = TypicalFile();
  EXPECT_THAT(ParseError(Prefix(t.bytes, t.timer_footer + 2)),
              HasError(Code::kTruncated, t.timer, HasSubstr("no footer found")));
}

TEST(QevmTruncationTest, CutInsideAFooterIsTruncatedAtTheFooter) {
  const Typical t = TypicalFile();
  EXPECT_THAT(ParseError(Prefix(t.bytes, t.end_footer + 3)),
              HasError(Code::kTruncated, t.end_footer));
}

TEST(QevmTruncationTest, CutBeforeEofIsTruncatedAtTheEnd) {
  const Typical t = TypicalFile();
  EXPECT_THAT(ParseError(Prefix(t.bytes, t.eof)),
              HasError(Code::kTruncated, t.eof, HasSubstr("before the EOF record")));
}

TEST(QevmTruncationTest, CutInsideTheVmdescIsTruncatedAtTheVmdesc) {
  const Typical t = TypicalFile();
  EXPECT_THAT(ParseError(Prefix(t.bytes, t.vmdesc + 3)), HasError(Code::kTruncated, t.vmdesc));
  EXPECT_THAT(ParseError(Prefix(t.bytes, t.bytes.size() - 1)),
              HasError(Code::kTruncated, t.vmdesc));
}

TEST(QevmTruncationTest, CutInsideTheConfigurationIsTruncatedAtTheConfiguration) {
  const Typical t = TypicalFile();
  EXPECT_THAT(ParseError(Prefix(t.bytes, 20)), HasError(Code::kTruncated, 8));
}

TEST(QevmTruncationTest, CutInsideAPackageIsTruncatedAtTheCommand) {
  const Packaged p = PackagedFile();
  // Right after the LISTEN command: a record boundary inside the package.
  EXPECT_THAT(ParseError(Prefix(p.bytes, p.inner_start + 5)),
              HasError(Code::kTruncated, p.packaged, HasSubstr("PACKAGED")));
}

// Every proper prefix of a valid file is an error at or before the cut, except the one that
// ends right after EOF (the vmdesc is optional).
TEST(QevmTruncationTest, EveryPrefixIsTruncatedOrComplete) {
  Bytes out;
  QevmWriter w = Start(&out);
  WriteRamStart(w);
  w.WriteSectionPart(2);
  w.WriteRaw(Ram([](StreamBuilder& b) {
    b.Zero("pc.ram", 0).Page("", kPageSize, 5).Zero("", 2 * kPageSize).Eos();
  }));
  w.WriteFooter(2);
  w.WriteSectionFull(0, "timer", 0, 2);
  w.WriteRaw(Bytes(6, std::byte{0x7e}));
  w.WriteFooter(0);
  const uint64_t eof_end = w.size() + 1;
  w.WriteEof();
  w.WriteVmdesc(kVmdesc);
  for (uint64_t n = 0; n < out.size(); ++n) {
    const Bytes prefix = Prefix(out, n);
    const Outcome whole = ParseAll(prefix, 0);
    const Outcome chunked = ParseAll(prefix, 13);
    EXPECT_EQ(chunked.error.ToString(), whole.error.ToString()) << n;
    if (n == eof_end) {
      EXPECT_EQ(whole.last, QevmStep::kEnd) << n;
      continue;
    }
    EXPECT_THAT(whole.error, HasError(Code::kTruncated)) << n;
    EXPECT_LE(whole.error.offset, n);
  }
}

// ---- API contract ------------------------------------------------------------------------

TEST(QevmParserTest, ErrorsAreSticky) {
  Bytes out;
  QevmWriter(&out).WriteHeader(2);
  GuestMemory memory;
  QevmParser parser({}, &memory);
  parser.Feed(out, false);
  QevmEvent e;
  ASSERT_EQ(parser.Next(&e), QevmStep::kError);
  const std::string first = parser.error().ToString();
  const Typical t = TypicalFile();
  parser.Feed(t.bytes, true);
  EXPECT_EQ(parser.Next(&e), QevmStep::kError);
  EXPECT_EQ(parser.error().ToString(), first);
}

TEST(QevmParserTest, FeedBeforeTheInputIsDrainedIsAnInternalError) {
  const Typical t = TypicalFile();
  GuestMemory memory;
  QevmParser parser({}, &memory);
  parser.Feed(t.bytes, false);
  QevmEvent e;
  ASSERT_EQ(parser.Next(&e), QevmStep::kEvent);
  parser.Feed(t.bytes, true);
  EXPECT_EQ(parser.Next(&e), QevmStep::kError);
  EXPECT_THAT(parser.error(), HasError(Code::kInternal, 8));
}

// ---- Walking device sections with the vmdesc ----------------------------------------------

// A "cpu" section with fields, a subsection holding a nested one, and a "big" section with one
// field larger than the parser's view limit, both described; "misc" is not described.
constexpr char kCpuVmdesc[] =
    R"({"page_size":4096,"devices":[)"
    R"({"name":"cpu","instance_id":0,"vmsd_name":"cpu","version":12,"fields":[)"
    R"({"name":"a","type":"uint32","size":4},)"
    R"({"name":"regs","array_len":2,"type":"uint64","size":8},)"
    R"({"name":"seg","index":1,"type":"struct","size":3,"struct":{"vmsd_name":"seg","version":1,)"
    R"("fields":[{"name":"b","type":"uint8","size":1}]}}],)"
    R"("subsections":[{"vmsd_name":"cpu/sub","version":1,"fields":[)"
    R"({"name":"x","type":"uint16","size":2}],)"
    R"("subsections":[{"vmsd_name":"cpu/sub/deep","version":3,"fields":[)"
    R"({"name":"y","type":"uint8","size":1}]}]}]},)"
    R"({"name":"big","instance_id":1,"vmsd_name":"big","version":1,"fields":[)"
    R"({"name":"data","type":"buffer","size":100000}]}]})";

struct Described {
  Bytes bytes;
  uint64_t cpu = 0, cpu_payload = 0, sub = 0, deep = 0, cpu_footer = 0, big = 0, big_payload = 0,
           big_footer = 0, misc = 0;
};

void WriteSubsection(QevmWriter& w, std::string_view name, uint32_t version) {
  Bytes h = {std::byte{kQevmSubsection}, std::byte(name.size())};
  for (char c : name) h.push_back(std::byte(c));
  for (int i = 3; i >= 0; --i) h.push_back(std::byte(version >> (8 * i)));
  w.WriteRaw(h);
}

Described DescribedFile(std::string_view vmdesc = kCpuVmdesc, bool footers = true) {
  Described d;
  QevmWriter w(&d.bytes);
  w.WriteHeader();
  if (footers) w.WriteConfiguration(Config());
  auto footer = [&](uint32_t id) {
    if (footers) w.WriteFooter(id);
  };
  w.WriteSectionStart(2, "ram", 0, 4);
  w.WriteRaw(Ram([](StreamBuilder& b) { b.MemSize({{"pc.ram", 16 * kPageSize}}).Eos(); }));
  footer(2);
  d.cpu = w.size();
  w.WriteSectionFull(5, "cpu", 0, 12);
  d.cpu_payload = w.size();
  w.WriteRaw(ToBytes(std::string("\x01\x02\x03\x04", 4)));  // a
  w.WriteRaw(ToBytes(std::string(16, '\x7e')));             // regs: footer-like
  w.WriteRaw(ToBytes(std::string("\x05\x06\x07", 3)));      // seg[1]
  d.sub = w.size();
  WriteSubsection(w, "cpu/sub", 1);
  w.WriteRaw(ToBytes(std::string("\xff\xfe", 2)));  // x
  d.deep = w.size();
  WriteSubsection(w, "cpu/sub/deep", 3);
  w.WriteRaw(ToBytes(std::string("\x09", 1)));  // y
  d.cpu_footer = w.size();
  footer(5);
  d.big = w.size();
  w.WriteSectionFull(6, "big", 1, 1);
  d.big_payload = w.size();
  w.WriteRaw(Bytes(100000, std::byte{0x7e}));
  d.big_footer = w.size();
  footer(6);
  if (footers) {
    d.misc = w.size();
    w.WriteSectionFull(7, "misc", 0, 1);
    w.WriteRaw(Bytes(3, std::byte{1}));
    footer(7);
  }
  w.WriteEof();
  w.WriteVmdesc(vmdesc);
  return d;
}

QevmOptions WithVmdesc(std::string_view json) {
  QevmOptions o;
  Result<Vmdesc> d = ParseVmdesc(json);
  EXPECT_THAT(d.error(), IsOk());
  if (d.ok()) o.vmdesc = std::make_shared<const Vmdesc>(std::move(d.value()));
  return o;
}

TEST(VmdescTest, FlattensFieldsAndSubsectionsInStreamOrder) {
  Result<Vmdesc> d = ParseVmdesc(kCpuVmdesc);
  ASSERT_THAT(d.error(), IsOk());
  EXPECT_EQ(d->page_size, 4096u);
  const VmdescDevice* cpu = d->Find("cpu", 0);
  ASSERT_NE(cpu, nullptr);
  EXPECT_EQ(d->Find("cpu", 1), nullptr);
  std::vector<std::string> items;
  for (const VmdescItem& i : cpu->items) {
    items.push_back(i.path + ":" + i.type + ":" + std::to_string(i.bytes) + ":d" +
                    std::to_string(i.depth) + ":v" + std::to_string(i.version));
  }
  EXPECT_THAT(items,
              ElementsAre("a:uint32:4:d0:v0", "regs[0..2):uint64:16:d0:v0", "seg[1]:struct:3:d0:v0",
                          "cpu/sub::0:d1:v1", "cpu/sub.x:uint16:2:d1:v0", "cpu/sub/deep::0:d2:v3",
                          "cpu/sub/deep.y:uint8:1:d2:v0"));
  // 4 + 16 + 3 fields, 2 + 1, subsection headers of 2 + 7 + 4 and 2 + 12 + 4 bytes.
  EXPECT_EQ(cpu->total_bytes, 4u + 16 + 3 + 2 + 1 + 13 + 18);
  EXPECT_EQ(cpu->version, 12u);
  EXPECT_EQ(d->Find("big", 1)->total_bytes, 100000u);
}

TEST(VmdescTest, ErrorsNameTheJsonPath) {
  struct Case {
    const char* json;
    Code code;
    const char* message;
  };
  const Case cases[] = {
      {"{", Code::kBadVmdesc, "VMDESCRIPTION is not valid JSON"},
      {"[]", Code::kBadVmdesc, "VMDESCRIPTION is not an object"},
      {R"({"devices":{}})", Code::kBadVmdesc, R"(VMDESCRIPTION "devices" is not an array)"},
      {R"({"devices":[{"name":"t","instance_id":0,"vmsd_name":"t","version":1,)"
       R"("fields":[{"name":"a","size":1},{"name":"b","size":-1}]}]})",
       Code::kBadVmdesc,
       "VMDESCRIPTION devices[0].fields[1].size is missing or not an integer in 0..2^32-1"},
      {R"({"devices":[{"name":"t","instance_id":0,"version":1}]})", Code::kBadVmdesc,
       "VMDESCRIPTION devices[0].vmsd_name is missing or not a string"},
      {R"({"devices":[{"name":"t","instance_id":0,"vmsd_name":"t","version":1,)"
       R"("fields":[{"name":"a","size":1,"array_len":0}]}]})",
       Code::kBadVmdesc,
       "VMDESCRIPTION devices[0].fields[0].array_len is 0 (QEMU lists no "
       "empty array)"},
      {R"({"devices":[{"name":"t","instance_id":0,"vmsd_name":"t","version":1},)"
       R"({"name":"t","instance_id":0,"vmsd_name":"t","version":1}]})",
       Code::kBadVmdesc, "VMDESCRIPTION devices[1] describes t instance 0 a second time"},
      {R"({"devices":[{"name":"t","instance_id":0,"vmsd_name":"t","version":1,)"
       R"("fields":[{"name":"a","size":4294967295,"array_len":4294967295}]}]})",
       Code::kLimitExceeded, "VMDESCRIPTION device t takes more than 1073741824 bytes"},
  };
  for (const Case& c : cases) {
    Result<Vmdesc> d = ParseVmdesc(c.json, 77);
    EXPECT_THAT(d.error(), HasError(c.code, 77)) << c.json;
    EXPECT_EQ(d.error().message, c.message) << c.json;
  }
}

TEST(VmdescTest, FindsTheTrailingRecordByItsLength) {
  const Described d = DescribedFile();
  const auto json = FindTrailingVmdesc(d.bytes);
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(*json, kCpuVmdesc);
  // Any suffix that still holds the EOF byte finds it too; one without it does not.
  const size_t n = std::strlen(kCpuVmdesc);
  EXPECT_EQ(FindTrailingVmdesc(std::span(d.bytes).last(n + 6)), json);
  EXPECT_EQ(FindTrailingVmdesc(std::span(d.bytes).last(n + 5)), std::nullopt);
  // A file without a vmdesc, or with one more byte at the end, has none.
  EXPECT_EQ(FindTrailingVmdesc({}), std::nullopt);
  Bytes extra = d.bytes;
  extra.push_back(std::byte{'}'});
  EXPECT_EQ(FindTrailingVmdesc(extra), std::nullopt);
  EXPECT_EQ(FindTrailingVmdesc(NoFooterFile()), std::nullopt);
}

TEST(QevmWalkTest, DescribedSectionsAreWalkedFieldByField) {
  const Described d = DescribedFile();
  const Outcome o = ParseEveryChunking(d.bytes, WithVmdesc(kCpuVmdesc));
  ASSERT_THAT(o.error, IsOk());
  EXPECT_EQ(o.last, QevmStep::kEnd);
  using K = QevmEventKind;
  EXPECT_THAT(o.kinds, ElementsAre(K::kHeader, K::kConfiguration,                   //
                                   K::kSectionBegin, K::kRamRecord, K::kRamRecord,  //
                                   K::kSectionEnd,                                  //
                                   K::kSectionBegin, K::kDeviceField, K::kDeviceField,
                                   K::kDeviceField, K::kDeviceSubsection, K::kDeviceField,
                                   K::kDeviceSubsection, K::kDeviceField, K::kSectionEnd,  //
                                   K::kSectionBegin, K::kDeviceField, K::kSectionEnd,      //
                                   K::kSectionBegin, K::kDeviceSkipped, K::kSectionEnd,    //
                                   K::kEof, K::kVmdesc));
  const std::string cpu = " sec[t4 id5 'cpu' i0 v12 @" + std::to_string(d.cpu) + "]";
  auto at = [](uint64_t from, uint64_t to) {
    return " @" + std::to_string(from) + ".." + std::to_string(to) + " d0";
  };
  const uint64_t p = d.cpu_payload;
  EXPECT_EQ(o.events[7], "device_field" + at(p, p + 4) + cpu + " item['a' uint32 4 view4:" +
                             Hex(((1 * 31 + 2) * 31 + 3) * 31 + 4) + "]");
  EXPECT_EQ(o.events[10],
            "device_subsection" + at(d.sub, d.sub + 13) + cpu + " item['cpu/sub'  0 view0:0]");
  EXPECT_EQ(o.events[12], "device_subsection" + at(d.deep, d.deep + 18) + cpu +
                              " item['cpu/sub/deep'  0 view0:0]");
  EXPECT_EQ(o.events[14], "section_end" + at(d.cpu, d.cpu_footer + 5) + cpu);
  // Over the view limit: the field passes without a view.
  EXPECT_EQ(o.events[16], "device_field" + at(d.big_payload, d.big_footer) +
                              " sec[t4 id6 'big' i1 v1 @" + std::to_string(d.big) +
                              "] item['data' buffer 100000 view0:0]");
}

TEST(QevmWalkTest, SectionBeginSaysWhichSectionsAreDescribed) {
  const Described d = DescribedFile();
  GuestMemory memory;
  QevmParser parser(WithVmdesc(kCpuVmdesc), &memory);
  parser.Feed(d.bytes, true);
  std::vector<std::string> seen;
  QevmEvent e;
  while (parser.Next(&e) == QevmStep::kEvent) {
    if (e.kind == QevmEventKind::kSectionBegin) {
      seen.push_back(e.section->idstr + (e.section->described ? "+" : "-"));
    }
    if (e.kind == QevmEventKind::kDeviceField && e.item->path == "a") {
      EXPECT_EQ(e.payload.size(), 4u);
      EXPECT_EQ(e.payload[3], std::byte{4});
    }
  }
  EXPECT_THAT(parser.error(), IsOk());
  EXPECT_THAT(seen, ElementsAre("ram-", "cpu+", "big+", "misc-"));
}

TEST(QevmWalkTest, WalkingNeedsNoFooters) {
  const Described d = DescribedFile(kCpuVmdesc, /*footers=*/false);
  QevmOptions o = WithVmdesc(kCpuVmdesc);
  const Outcome out = ParseEveryChunking(d.bytes, o);
  EXPECT_THAT(out.error, IsOk());
  EXPECT_EQ(out.footers, std::optional<bool>(false));
  // Without the vmdesc the same file cannot be read past the first device section.
  EXPECT_THAT(ParseError(d.bytes), HasError(Code::kBadSection, d.cpu));
}

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return s.replace(at, from.size(), to);
}

TEST(QevmWalkTest, SubsectionNameOrVersionDisagreeing) {
  const Described d = DescribedFile();
  const std::string renamed = Replace(kCpuVmdesc, "cpu/sub/deep", "cpu/sub/other");
  Error e = ParseError(d.bytes, WithVmdesc(renamed));
  EXPECT_THAT(e, HasError(Code::kBadVmdesc, d.deep));
  EXPECT_EQ(e.message,
            "the vmdesc lists subsection 'cpu/sub/other' of 'cpu' (section 5) version 3 but the "
            "stream has subsection 'cpu/sub/deep' version 3");
  const std::string bumped =
      Replace(kCpuVmdesc, R"("cpu/sub","version":1)", R"("cpu/sub","version":2)");
  EXPECT_THAT(ParseError(d.bytes, WithVmdesc(bumped)), HasError(Code::kBadVmdesc, d.sub));
}

TEST(QevmWalkTest, SubsectionTheVmdescDoesNotList) {
  const Described d = DescribedFile();
  const std::string fewer = Replace(kCpuVmdesc,
                                    R"(,"subsections":[{"vmsd_name":"cpu/sub/deep",)"
                                    R"("version":3,"fields":[{"name":"y","type":)"
                                    R"("uint8","size":1}]}])",
                                    "");
  const Error e = ParseError(d.bytes, WithVmdesc(fewer));
  EXPECT_THAT(e, HasError(Code::kBadVmdesc, d.deep));
  EXPECT_THAT(e.message, HasSubstr("has a subsection at offset " + std::to_string(d.deep) +
                                   " that the vmdesc does not list"));
}

TEST(QevmWalkTest, FieldSizesDisagreeing) {
  const Described d = DescribedFile();
  // One byte short: the walk expects the subsection where a field byte is.
  const std::string shorter =
      Replace(kCpuVmdesc, R"("type":"uint32","size":4)", R"("type":"uint32","size":3)");
  Error e = ParseError(d.bytes, WithVmdesc(shorter));
  EXPECT_THAT(e, HasError(Code::kBadVmdesc, d.sub - 1));
  EXPECT_THAT(e.message, HasSubstr("but the stream has byte 0x7 (expected 0x05)"));
  // One byte long at the end: the footer is missing where the walk ends.
  const std::string longer = Replace(kCpuVmdesc, R"("name":"y","type":"uint8","size":1)",
                                     R"("name":"y","type":"uint8","size":2)");
  e = ParseError(d.bytes, WithVmdesc(longer));
  EXPECT_THAT(e, HasError(Code::kMissingFooter, d.cpu_footer + 1));
}

TEST(QevmWalkTest, SectionVersionOtherThanTheVmdescs) {
  const Described d = DescribedFile();
  const std::string other =
      Replace(kCpuVmdesc, R"("vmsd_name":"cpu","version":12)", R"("vmsd_name":"cpu","version":11)");
  const Error e = ParseError(d.bytes, WithVmdesc(other));
  EXPECT_THAT(e, HasError(Code::kBadVmdesc, d.cpu));
  EXPECT_EQ(e.message,
            "the vmdesc describes 'cpu' instance 0 as version 11 but section 5 is version 12");
}

TEST(QevmWalkTest, InputEndingInsideAWalkedField) {
  const Described d = DescribedFile();
  const QevmOptions o = WithVmdesc(kCpuVmdesc);
  Error e = ParseError(std::span(d.bytes).first(d.big_payload + 5000), o);
  EXPECT_THAT(e, HasError(Code::kTruncated, d.big_payload));
  EXPECT_THAT(e.message, HasSubstr("inside the device field 'data' of 'big' (section 6)"));
  e = ParseError(std::span(d.bytes).first(d.cpu_payload + 2), o);
  EXPECT_THAT(e, HasError(Code::kTruncated, d.cpu_payload));
}

}  // namespace
}  // namespace ramstream::protocol
