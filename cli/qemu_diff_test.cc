// The differential oracle against real QEMU 7.2, run over valid and malformed streams. Each
// stream is the RAM stream of a real capture (so devices that check guest memory after the load
// are satisfied) with test records added, and must either agree with QEMU or show the named,
// documented quirk (docs/qemu-quirks.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "protocol/inspect.h"
#include "protocol/splice.h"
#include "protocol/testing/streams.h"

namespace ramstream::cli {
namespace {

namespace fs = std::filesystem;
using protocol::ByteVector;
using protocol::testing::Bytes;
using protocol::testing::StreamBuilder;

bool HaveQemu() { return std::system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0; }

std::string Shell(const std::string& cmd, int* rc) {
  std::FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

Bytes ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), {});
  Bytes b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

void WriteAll(const fs::path& p, const Bytes& b) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

Bytes Deflate(const Bytes& in, size_t len) {
  uLongf n = compressBound(len);
  Bytes out(n);
  compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
            len, 1);
  out.resize(n);
  return out;
}

struct Case {
  std::string name;
  // Where the test records go: after the capture's pages (the block CONTINUE refers to is then
  // the capture's last), or right after its MEM_SIZE (no page has named a block yet).
  bool at_start;
  StreamBuilder records;
  std::string expect;  // qemu-diff's outcome
};

std::vector<Case> Cases(const std::vector<std::pair<std::string, uint64_t>>& blocks) {
  std::vector<Case> cs;
  auto add = [&](std::string name, bool at_start, std::string expect) -> StreamBuilder& {
    cs.push_back({std::move(name), at_start, StreamBuilder(), std::move(expect)});
    return cs.back().records;
  };
  // 8 MiB into pc.ram: above the fill guest's pattern, below the end of RAM.
  constexpr uint64_t kFree = 8 << 20;
  const Bytes delta = {std::byte{0x00}, std::byte{0x02}, std::byte{0xaa}, std::byte{0xbb}};
  add("valid-pages-zero-xbzrle", false, "agree")
      .Page("pc.ram", kFree, 1)
      .Page("", kFree + 4096, 2)
      .Zero("", kFree + 8192)
      .Xbzrle("", kFree, delta);
  add("valid-zero-fill-nonzero", false, "agree").Zero("pc.ram", kFree, 0x5a);
  {
    const Bytes z = Deflate(protocol::testing::PatternPage(3), protocol::kPageSize);
    add("valid-compressed-page", false, "agree")
        .Page("pc.ram", kFree, 1)
        .Header(kFree + 4096, protocol::kFlagCompressPage | protocol::kFlagContinue)
        .Be32(static_cast<uint32_t>(z.size()))
        .Raw(z);
  }
  add("continue-before-any-block", true, "agree").Zero("", 0);
  add("unknown-idstr", false, "agree").Zero("pc.ram2", 0);
  add("offset-one-page-past-block", false, "agree").Zero("pc.ram", 16 << 20);
  add("offset-near-2-to-the-64", false, "agree").Zero("pc.ram", 0xfffffffffffff000ull);
  add("zero-and-page-flags", false, "agree")
      .Header(kFree, protocol::kFlagZero | protocol::kFlagPage)
      .Counted("pc.ram")
      .U8(0);
  add("multifd-flush-in-7.2", false, "agree").Header(0, protocol::kFlagMultifdFlush);
  add("hook-without-rdma", false, "agree").Header(0, protocol::kFlagHook);
  {
    Bytes d = {std::byte{0xfa}, std::byte{0x1f}, std::byte{0x0a}};
    d.resize(13, std::byte{0x77});
    add("xbzrle-run-past-page-end", false, "agree").Xbzrle("pc.ram", kFree, d);
  }
  add("xbzrle-bad-encoding-byte", false, "agree")
      .Header(kFree, protocol::kFlagXbzrle)
      .Counted("pc.ram")
      .U8(2)
      .Be16(3)
      .U8(0)
      .U8(1)
      .U8(9);
  {
    std::vector<std::pair<std::string, uint64_t>> resized = blocks;
    resized[0].second /= 2;
    add("second-mem-size-resizes-pc-ram", false, "agree").MemSize(resized);
  }
  // Known differences (docs/qemu-quirks.md).
  {
    std::vector<std::pair<std::string, uint64_t>> twice = blocks;
    twice.push_back(blocks[0]);
    add("mem-size-lists-a-block-twice", false, "qemu_accepts_ours_rejects").MemSize(twice);
  }
  add("idstr-with-nul-after-name", false, "qemu_accepts_ours_rejects")
      .Zero(std::string("pc.ram\0zz", 9), kFree, 0);
  {
    const Bytes z = Deflate(protocol::testing::PatternPage(3), 1000);
    add("compressed-page-inflates-short", false, "qemu_accepts_ours_rejects")
        .Page("pc.ram", kFree, 1)
        .Header(kFree + 4096, protocol::kFlagCompressPage | protocol::kFlagContinue)
        .Be32(static_cast<uint32_t>(z.size()))
        .Raw(z);
  }
  add("empty-idstr", false, "reject_reason_differs").Header(kFree, protocol::kFlagZero).U8(0).U8(0);
  return cs;
}

TEST(QemuDiffTest, AgreesWithQemuOrShowsTheDocumentedQuirk) {
  if (!HaveQemu())
    GTEST_SKIP() << "qemu-system-x86_64 is not installed (scripts/setup installs it)";
  const fs::path dir =
      fs::temp_directory_path() / ("ramstream_qemu_diff_" + std::to_string(getpid()));
  fs::create_directories(dir);
  int rc = 0;
  const std::string src = RAMSTREAM_SOURCE_DIR;
  Shell(src + "/scripts/capture-qemu --guest fill --out " + (dir / "t.mig").string() +
            " >/dev/null 2>&1",
        &rc);
  ASSERT_EQ(rc, 0) << "capture-qemu failed";
  const Bytes tmpl = ReadAll(dir / "t.mig");
  protocol::Result<ByteVector> ram = protocol::RamStreamOf(tmpl);
  ASSERT_TRUE(ram.ok()) << ram.error().ToString();
  const std::vector<ByteVector> base =
      protocol::SplitAtEos(ram.value(), protocol::Dialect::Qemu72());
  ASSERT_EQ(base.size(), 3u);  // START, one PART, END of a paused guest

  // The capture's block list, for the MEM_SIZE cases.
  std::vector<std::pair<std::string, uint64_t>> blocks;
  {
    protocol::GuestMemory mem;
    for (const auto& b : protocol::InspectBytes(tmpl, {}, &mem).blocks) {
      blocks.push_back({b.idstr, b.used_length});
    }
  }
  ASSERT_EQ(blocks[0].first, "pc.ram");

  std::vector<Case> cases = Cases(blocks);
  std::string args;
  for (const Case& c : cases) {
    // The capture's START, PART and END payloads, the test records added to START (before its
    // EOS) or to the PART (before its EOS), spliced into the capture as its sections.
    std::vector<ByteVector> payloads = base;
    ByteVector& target = payloads[c.at_start ? 0 : 1];
    const Bytes& rec = c.records.bytes();
    target.insert(target.end() - 8, rec.begin(), rec.end());
    protocol::Result<ByteVector> file = protocol::SpliceRam(tmpl, payloads);
    ASSERT_TRUE(file.ok()) << file.error().ToString();
    WriteAll(dir / (c.name + ".mig"), file.value());
    args += " " + (dir / (c.name + ".mig")).string();
  }
  const std::string out = Shell(
      std::string(RAMSTREAM_BINARY) + " qemu-diff --json --template " + (dir / "t.mig").string() +
          " --load-arg=--guest=fill --load-arg=--capability=compress" + args + " 2>/dev/null",
      &rc);
  const auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["infra_errors"], 0) << out;
  std::map<std::string, nlohmann::json> got;
  for (const auto& r : j["results"]) {
    got[fs::path(r["stream"].get<std::string>()).stem().string()] = r;
  }
  for (const Case& c : cases) {
    ASSERT_TRUE(got.count(c.name)) << c.name;
    EXPECT_EQ(got[c.name].value("outcome", "?"), c.expect) << c.name << ": " << got[c.name].dump(2);
  }
  fs::remove_all(dir);
}

// The golden corpus, confirmed by real QEMU: every qemu-7.2 row of corpus/golden/MANIFEST says
// what QEMU 7.2 does with the file (qemu=CLASS), and where that is not the expected verdict,
// which documented quirk explains it. The golden blocks are those of a pc guest with -m 1M
// (pc.ram 1 MiB, pc.bios 256 KiB), so the files load into such a destination as they are.
TEST(QemuDiffTest, GoldenVerdictsAreConfirmedByRealQemu) {
  if (!HaveQemu()) {
    GTEST_SKIP() << "qemu-system-x86_64 is not installed (scripts/setup installs it)";
  }
  const fs::path dir = fs::temp_directory_path() / ("ramstream_golden_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string src = RAMSTREAM_SOURCE_DIR;
  int rc = 0;
  Shell(src + "/scripts/capture-qemu --memory 1M --out " + (dir / "t.mig").string() +
            " >/dev/null 2>&1",
        &rc);
  ASSERT_EQ(rc, 0) << "capture-qemu failed";

  struct Claim {
    std::string expect, qemu, quirk;
  };
  std::map<std::string, Claim> claims;
  std::ifstream manifest(src + "/corpus/golden/MANIFEST");
  std::string args;
  for (std::string line; std::getline(manifest, line);) {
    std::istringstream ss(line);
    std::string file, dialect, expect;
    if (line.empty() || line[0] == '#' || !(ss >> file >> dialect >> expect)) continue;
    if (dialect != "qemu-7.2") continue;
    Claim c{expect.substr(0, expect.find('@')), "", ""};
    for (std::string kv; ss >> kv;) {
      if (kv.rfind("qemu=", 0) == 0) c.qemu = kv.substr(5);
      if (kv.rfind("quirk=", 0) == 0) c.quirk = kv.substr(6);
    }
    ASSERT_FALSE(c.qemu.empty()) << file << ": no qemu= claim";
    claims[file] = c;
    args += " " + src + "/corpus/golden/" + file;
  }
  ASSERT_GE(claims.size(), 30u);
  std::ifstream doc(src + "/docs/qemu-quirks.md");
  const std::string quirks((std::istreambuf_iterator<char>(doc)), {});

  const std::string out = Shell(
      std::string(RAMSTREAM_BINARY) + " qemu-diff --json --template " + (dir / "t.mig").string() +
          " --load-arg=--memory=1M --load-arg=--capability=compress" + args + " 2>/dev/null",
      &rc);
  const auto j = nlohmann::json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["infra_errors"], 0) << out;
  size_t checked = 0;
  for (const auto& r : j["results"]) {
    const std::string stream = r["stream"];
    const std::string file = stream.substr(stream.find("/corpus/golden/") + 15);
    ASSERT_TRUE(claims.count(file)) << file;
    const Claim& c = claims[file];
    const nlohmann::json& q = r["qemu"];
    const std::string got = q.value("accepted", false) ? "ok" : q.value("class", "?");
    EXPECT_EQ(got, c.qemu) << file << ": QEMU now says " << q.dump();
    if (c.qemu == c.expect) {
      EXPECT_TRUE(c.quirk.empty()) << file;
    } else if (c.qemu == "other") {
      // Rejected without a message we can classify: the verdict is confirmed, not the reason.
      EXPECT_NE(c.expect, "ok") << file;
    } else {
      ASSERT_FALSE(c.quirk.empty()) << file << ": QEMU differs and no quirk is named";
      EXPECT_NE(quirks.find("`" + c.quirk + "`"), std::string::npos)
          << file << ": quirk " << c.quirk << " is not in docs/qemu-quirks.md";
    }
    ++checked;
  }
  EXPECT_EQ(checked, claims.size());
  fs::remove_all(dir);
}

TEST(QemuDiffTest, EncodeTemplateOutputLoadsIntoQemuWithIdenticalMemory) {
  if (!HaveQemu())
    GTEST_SKIP() << "qemu-system-x86_64 is not installed (scripts/setup installs it)";
  const fs::path dir = fs::temp_directory_path() / ("ramstream_encode_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string src = RAMSTREAM_SOURCE_DIR, bin = RAMSTREAM_BINARY;
  int rc = 0;
  Shell(src + "/scripts/capture-qemu --guest fill --out " + (dir / "t.mig").string() +
            " >/dev/null 2>&1",
        &rc);
  ASSERT_EQ(rc, 0) << "capture-qemu failed";
  Shell(bin + " extract " + (dir / "t.mig").string() + " --block pc.ram -o " +
            (dir / "ram.bin").string(),
        &rc);
  ASSERT_EQ(rc, 0);
  // Our own data at 8 MiB: 256 pages of a pattern, and one page cleared at 9 MiB.
  Bytes ram = ReadAll(dir / "ram.bin");
  ASSERT_EQ(ram.size(), 16u << 20);
  for (size_t i = 0; i < (1u << 20); ++i) ram[(8u << 20) + i] = static_cast<std::byte>(i * 7 + 1);
  std::fill(ram.begin() + (9 << 20), ram.begin() + (9 << 20) + 4096, std::byte{0});
  WriteAll(dir / "ours.bin", ram);
  Shell(bin + " encode --template " + (dir / "t.mig").string() +
            " --block pc.ram=" + (dir / "ours.bin").string() + " -o " + (dir / "s.mig").string(),
        &rc);
  ASSERT_EQ(rc, 0);
  const std::string verdict =
      Shell(src + "/scripts/qemu-load --guest fill --stream " + (dir / "s.mig").string() +
                " --ram-file " + (dir / "loaded.bin").string() + " 2>/dev/null",
            &rc);
  ASSERT_EQ(rc, 0) << verdict;
  EXPECT_EQ(nlohmann::json::parse(verdict)["accepted"], true);
  EXPECT_TRUE(ReadAll(dir / "loaded.bin") == ram) << "destination pc.ram differs from the image";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ramstream::cli
