// Ground truth: migrate a real, paused QEMU 7.2 guest to a file (scripts/capture-qemu), parse
// the file with QevmParser, and check what we decoded against QEMU's own query-migrate
// counters (docs/ram-stream-format.md sections 3.9 and 6). Skipped when qemu-system-x86_64 is
// not installed. Label: qemu.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "protocol/encoder.h"
#include "protocol/guest_memory.h"
#include "protocol/qevm.h"
#include "protocol/testing/host.h"
#include "protocol/testing/matchers.h"
#include "protocol/vmdesc.h"

#ifndef RAMSTREAM_SOURCE_DIR
#error "RAMSTREAM_SOURCE_DIR must name the source tree (set by protocol/CMakeLists.txt)"
#endif

namespace ramstream::protocol {
namespace {

using ::ramstream::protocol::testing::IsOk;
using ::ramstream::protocol::testing::OnPath;
using ::ramstream::protocol::testing::ReadFile;
using ::ramstream::protocol::testing::ShellQuote;
using ::ramstream::protocol::testing::TempDir;
using json = nlohmann::json;

constexpr char kQemu[] = "qemu-system-x86_64";

// What the parse of one real stream produced, tallied the way spec 3.9 counts bytes.
struct Tally {
  uint64_t pages = 0;
  uint64_t zeros = 0;
  uint64_t other_page_records = 0;
  uint64_t page_record_bytes = 0;  // header + idstr + payload of every ZERO/PAGE record
  uint64_t eos_start = 0, eos_part = 0, eos_end = 0, eos_full = 0;
  uint64_t mem_size_total = 0;
  std::vector<BlockInfo> mem_size;                              // the first MEM_SIZE list
  std::vector<std::pair<std::string, uint32_t>> full_sections;  // (idstr, instance) in order
  uint64_t skipped = 0;
  uint64_t walked = 0;         // device sections walked with the vmdesc
  uint64_t device_fields = 0;  // fields seen while walking
  uint64_t sections_ended = 0;
  std::vector<uint64_t> section_ends;
  uint64_t eof = 0;
  std::string machine;
  std::string vmdesc;
};

Tally ParseFile(const std::string& bytes, GuestMemory* memory, size_t chunk,
                std::shared_ptr<const Vmdesc> vmdesc = nullptr) {
  Tally t;
  QevmOptions options;
  options.dialect = Dialect::Qemu72();
  options.vmdesc = std::move(vmdesc);
  QevmParser parser(options, memory);
  const auto* data = reinterpret_cast<const std::byte*>(bytes.data());
  size_t fed = 0;
  QevmEvent e;
  for (;;) {
    const QevmStep step = parser.Next(&e);
    if (step == QevmStep::kNeedInput) {
      const size_t n = std::min(chunk, bytes.size() - fed);
      parser.Feed(std::span<const std::byte>(data + fed, n), fed + n == bytes.size());
      fed += n;
      continue;
    }
    if (step != QevmStep::kEvent) break;
    switch (e.kind) {
      case QevmEventKind::kConfiguration:
        t.machine = parser.configuration().machine;
        break;
      case QevmEventKind::kRamRecord: {
        const Record& r = *e.record;
        const uint64_t size = e.end_offset - e.offset;
        switch (r.kind) {
          case RecordKind::kPage:
            ++t.pages;
            EXPECT_EQ(size, PageRecordSize(!r.has_continue(), r.idstr.size(), kPagePayload));
            t.page_record_bytes += size;
            break;
          case RecordKind::kZero:
            ++t.zeros;
            EXPECT_EQ(size, PageRecordSize(!r.has_continue(), r.idstr.size(), kZeroPayload));
            t.page_record_bytes += size;
            break;
          case RecordKind::kEos:
            (e.section->type == kQevmSectionStart  ? t.eos_start
             : e.section->type == kQevmSectionPart ? t.eos_part
             : e.section->type == kQevmSectionEnd  ? t.eos_end
                                                   : t.eos_full)++;
            break;
          case RecordKind::kMemSize:
            if (t.mem_size.empty()) {
              t.mem_size.assign(r.blocks.begin(), r.blocks.end());
              t.mem_size_total = r.address;
            }
            break;
          default:
            ++t.other_page_records;
        }
        break;
      }
      case QevmEventKind::kSectionBegin:
        if (e.section->type == kQevmSectionFull) {
          t.full_sections.emplace_back(e.section->idstr, e.section->instance_id);
        }
        break;
      case QevmEventKind::kDeviceSkipped:
        ++t.skipped;
        break;
      case QevmEventKind::kDeviceField:
        ++t.device_fields;
        break;
      case QevmEventKind::kSectionEnd:
        ++t.sections_ended;
        t.section_ends.push_back(e.end_offset);
        if (e.section->described) ++t.walked;
        break;
      case QevmEventKind::kEof:
        ++t.eof;
        break;
      case QevmEventKind::kVmdesc:
        t.vmdesc.assign(e.text);
        break;
      default:
        break;
    }
  }
  EXPECT_THAT(parser.error(), IsOk());
  EXPECT_EQ(parser.Next(&e), QevmStep::kEnd);
  EXPECT_EQ(parser.footers(), std::optional<bool>(true));
  return t;
}

class QemuStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!OnPath(kQemu)) {
      GTEST_SKIP() << kQemu << " is not on PATH: install Debian's qemu-system-x86 "
                   << "(scripts/setup) to compare with real QEMU";
    }
  }
};

void CaptureAndCheck(const std::string& machine, const std::string& memory, uint64_t ram_bytes,
                     const std::string& machine_prefix) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const auto stream = dir.path() / "stream.qevm";
  const auto info_path = dir.path() / "query-migrate.json";
  const auto err_path = dir.path() / "capture.stderr";
  const std::string cmd =
      "python3 " + ShellQuote(std::string(RAMSTREAM_SOURCE_DIR) + "/scripts/capture-qemu") +
      " --machine " + machine + " --memory " + memory + " --out " + ShellQuote(stream.string()) +
      " --json " + ShellQuote(info_path.string()) + " 2> " + ShellQuote(err_path.string());
  const int rc = std::system(cmd.c_str());
  ASSERT_EQ(rc, 0) << cmd << "\n" << ReadFile(err_path);

  const json info = json::parse(ReadFile(info_path), nullptr, false);
  ASSERT_FALSE(info.is_discarded());
  ASSERT_EQ(info.value("status", ""), "completed");
  const json& ram = info.at("ram");
  const std::string bytes = ReadFile(stream);
  ASSERT_GT(bytes.size(), 8u);

  // Parse twice, in odd-sized chunks and whole: same tallies, same memory.
  GuestMemory mem_chunked, mem_whole;
  const Tally t = ParseFile(bytes, &mem_chunked, 4093);
  const Tally whole = ParseFile(bytes, &mem_whole, bytes.size());
  EXPECT_EQ(mem_chunked.Digest(), mem_whole.Digest());
  EXPECT_EQ(t.pages, whole.pages);
  EXPECT_EQ(t.page_record_bytes, whole.page_record_bytes);

  EXPECT_EQ(t.machine.rfind(machine_prefix, 0), 0u) << t.machine;
  EXPECT_EQ(t.other_page_records, 0u);
  // query-migrate counters (spec 6): normal = PAGE records, duplicate = ZERO records.
  EXPECT_EQ(t.pages, ram.at("normal").get<uint64_t>());
  EXPECT_EQ(t.zeros, ram.at("duplicate").get<uint64_t>());
  EXPECT_EQ(t.pages * kPageSize, ram.at("normal-bytes").get<uint64_t>());
  // Spec 3.9: 7.2 counts page records (idstrs included) plus 8 bytes for the EOS of each
  // PART; the setup (START) and completion (END) EOS are not counted.
  EXPECT_EQ(t.eos_start, 1u);
  EXPECT_EQ(t.eos_end, 1u);
  EXPECT_GE(t.eos_part, 1u);
  EXPECT_EQ(t.page_record_bytes + kHeaderSize * t.eos_part, ram.at("transferred").get<uint64_t>());

  // The block list: MEM_SIZE, the loader's view of it and guest memory all agree, and
  // ram.total is the sum of used_length.
  ASSERT_FALSE(t.mem_size.empty());
  uint64_t sum = 0;
  for (const BlockInfo& b : t.mem_size) sum += b.used_length;
  EXPECT_EQ(sum, t.mem_size_total);
  EXPECT_EQ(sum, ram.at("total").get<uint64_t>());
  ASSERT_EQ(mem_chunked.block_count(), t.mem_size.size());
  for (uint32_t i = 0; i < t.mem_size.size(); ++i) {
    EXPECT_EQ(mem_chunked.idstr(i), t.mem_size[i].idstr);
    EXPECT_EQ(mem_chunked.used_length(i), t.mem_size[i].used_length);
  }
  EXPECT_EQ(t.mem_size[0].idstr, "pc.ram");
  EXPECT_EQ(t.mem_size[0].used_length, ram_bytes);

  // Every non-RAM section was skipped by footer resync; the vmdesc lists exactly those.
  EXPECT_EQ(t.skipped, t.full_sections.size());
  EXPECT_EQ(t.sections_ended, 3 + t.eos_part - 1 + t.full_sections.size());
  EXPECT_EQ(t.eof, 1u);
  const json vmdesc = json::parse(t.vmdesc, nullptr, false);
  ASSERT_FALSE(vmdesc.is_discarded());
  EXPECT_EQ(vmdesc.value("page_size", 0u), kPageSize);
  const json& devices = vmdesc.at("devices");
  ASSERT_EQ(devices.size(), t.full_sections.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    EXPECT_EQ(devices[i].value("name", ""), t.full_sections[i].first);
    EXPECT_EQ(devices[i].value("instance_id", -1), static_cast<int>(t.full_sections[i].second));
  }
  // Two-pass, as the CLI does for a file: read the vmdesc from the end, then walk every device
  // section field by field. The walk must end each section exactly where resync did.
  const auto text =
      FindTrailingVmdesc(std::span(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text, t.vmdesc);
  Result<Vmdesc> desc = ParseVmdesc(*text);
  ASSERT_THAT(desc.error(), IsOk());
  GuestMemory mem_walked;
  const Tally walked =
      ParseFile(bytes, &mem_walked, 4093, std::make_shared<const Vmdesc>(std::move(desc.value())));
  EXPECT_EQ(walked.walked, t.full_sections.size());
  EXPECT_EQ(walked.skipped, 0u);
  EXPECT_EQ(walked.section_ends, t.section_ends);
  EXPECT_GT(walked.device_fields, t.full_sections.size());
  EXPECT_EQ(mem_walked.Digest(), mem_whole.Digest());

  ::testing::Test::RecordProperty("pages", std::to_string(t.pages));
  ::testing::Test::RecordProperty("zeros", std::to_string(t.zeros));
  ::testing::Test::RecordProperty("transferred",
                                  std::to_string(ram.at("transferred").get<uint64_t>()));
  ::testing::Test::RecordProperty("stream_bytes", std::to_string(bytes.size()));
  std::printf(
      "%s -m %s: %zu bytes, %llu PAGE, %llu ZERO, %llu PART EOS, transferred %llu, "
      "%zu device sections\n",
      machine.c_str(), memory.c_str(), bytes.size(), static_cast<unsigned long long>(t.pages),
      static_cast<unsigned long long>(t.zeros), static_cast<unsigned long long>(t.eos_part),
      static_cast<unsigned long long>(ram.at("transferred").get<uint64_t>()),
      t.full_sections.size());
}

TEST_F(QemuStreamTest, PcPausedGuestMatchesQueryMigrate) {
  CaptureAndCheck("pc", "16M", uint64_t{16} << 20, "pc-i440fx-");
}

TEST_F(QemuStreamTest, Q35PausedGuestMatchesQueryMigrate) {
  CaptureAndCheck("q35", "32M", uint64_t{32} << 20, "pc-q35-");
}

}  // namespace
}  // namespace ramstream::protocol
