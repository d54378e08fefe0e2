// Writes the golden corpus: corpus/golden/{valid,invalid}/ and corpus/golden/MANIFEST.
//
//   build/default/corpus/make_golden corpus/golden
//
// Every expectation here is written down from the construction of the file (which record,
// at which offset, breaks which rule), not read back from the loader, so replaying the corpus
// tests the loader. The one thing pinned from a run is the memory digest of valid files, which
// guards against silent changes to what a valid stream loads as. Real QEMU captures in
// golden/valid (qemu72-*) are added by hand and listed in MANIFEST.qemu, which this program
// does not touch.
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "protocol/inspect.h"
#include "protocol/qevm_writer.h"
#include "protocol/splice.h"
#include "protocol/testing/streams.h"

namespace ramstream::protocol {
namespace {

namespace fs = std::filesystem;
using testing::Bytes;
using testing::StreamBuilder;

struct Row {
  std::string dialect;
  std::string expect;  // "ok" or "code@offset"
};

class Golden {
 public:
  explicit Golden(fs::path dir) : dir_(std::move(dir)) {
    fs::create_directories(dir_ / "valid");
    fs::create_directories(dir_ / "invalid");
  }

  // Writes `bytes` and one manifest row per expectation.
  void Add(const std::string& rel, const Bytes& bytes, const std::vector<Row>& rows) {
    std::ofstream(dir_ / rel, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    for (const Row& r : rows) {
      std::string line = rel + " " + r.dialect + " " + r.expect;
      if (r.expect == "ok") line += " " + Details(bytes, r.dialect);
      if (r.dialect == "qemu-7.2") line += " " + QemuFields(rel, r.expect);
      lines_.push_back(line);
    }
  }

  void WriteManifest() const {
    std::ofstream m(dir_ / "MANIFEST");
    m << "# Expected verdicts for the golden corpus, one row per (file, dialect).\n"
         "# Written by corpus/make_golden.cc; real QEMU captures are in MANIFEST.qemu.\n"
         "# file dialect ok [digest=HEX] [page=N zero=N xbzrle=N compressed=N]\n"
         "# file dialect CODE@OFFSET\n"
         "# qemu-7.2 rows add what real QEMU 7.2 does: qemu=CLASS|ok|other [quirk=NAME]\n";
    for (const auto& l : lines_) m << l << "\n";
  }

 private:
  // Counts and digest of a valid file, for its "ok" row.
  static std::string Details(const Bytes& bytes, const std::string& dialect) {
    InspectOptions o;
    o.dialect = Dialect::ForId(*DialectFromName(dialect));
    GuestMemory mem;
    const Inspection in = InspectBytes(bytes, o, &mem);
    if (!in.error.ok()) {
      std::fprintf(stderr, "make_golden: a file meant to be valid is rejected: %s\n",
                   in.error.ToString().c_str());
      std::exit(1);
    }
    const LoadStats& s = in.stats;
    return "digest=" + mem.Digest() + " page=" + std::to_string(s.count(RecordKind::kPage)) +
           " zero=" + std::to_string(s.count(RecordKind::kZero)) +
           " xbzrle=" + std::to_string(s.count(RecordKind::kXbzrle)) +
           " compressed=" + std::to_string(s.count(RecordKind::kCompressedPage));
  }

  // What real QEMU 7.2.22 does with the file (cli/qemu_diff_test.cc loads every one into a real
  // destination and checks this): "qemu=CLASS", the class of its error message (qemu-diff's
  // table), "ok", or "other" for a rejection without a message to classify; and where QEMU's
  // verdict is not the expected one, the quirk of docs/qemu-quirks.md that explains it.
  static std::string QemuFields(const std::string& rel, const std::string& expect) {
    static const std::map<std::string, std::string> kDiffers = {
        {"valid/hook-without-rdma.ram", "qemu=other"},
        {"invalid/compressed-page-inflates-short.ram",
         "qemu=ok quirk=compressed-page-inflates-short"},
        {"invalid/empty.ram", "qemu=unknown_flags quirk=truncation-noticed-late"},
        {"invalid/ends-without-eos.ram", "qemu=unknown_flags quirk=truncation-noticed-late"},
        {"invalid/truncated-inside-idstr.ram", "qemu=unknown_block quirk=truncation-noticed-late"},
        {"invalid/idstr-empty.ram", "qemu=unknown_block quirk=empty-idstr"},
        {"invalid/idstr-with-nul.ram", "qemu=unknown_block quirk=idstr-with-nul-after-name"},
        {"invalid/mem-size-duplicate-block.ram", "qemu=ok quirk=mem-size-lists-a-block-twice"},
        {"invalid/mem-size-too-many-blocks.ram",
         "qemu=unknown_block quirk=mem-size-over-our-limits"},
        {"invalid/mem-size-total-over-limit.ram",
         "qemu=unknown_block quirk=mem-size-over-our-limits"},
        {"invalid/mem-size-total-mismatch.ram",
         "qemu=unknown_block quirk=mem-size-total-not-checked"},
        {"invalid/page-before-mem-size.ram", "qemu=ok quirk=blocks-from-mem-size"},
    };
    if (auto it = kDiffers.find(rel); it != kDiffers.end()) return it->second;
    return "qemu=" + expect.substr(0, expect.find('@'));
  }

  fs::path dir_;
  std::vector<std::string> lines_;
};

std::string At(const char* code, uint64_t offset) {
  return std::string(code) + "@" + std::to_string(offset);
}

Bytes Deflate(const Bytes& in, size_t len) {
  uLongf n = compressBound(len);
  Bytes out(n);
  compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
            len, 1);
  out.resize(n);
  return out;
}

const std::vector<std::pair<std::string, uint64_t>> kBlocks = {{"pc.ram", 1 << 20},
                                                               {"pc.bios", 256 << 10}};

QevmConfiguration PcConfig() {
  QevmConfiguration c;
  c.machine = "pc-i440fx-7.2";
  return c;
}

StreamBuilder Setup() {
  StreamBuilder s;
  s.MemSize(kBlocks).Eos();
  return s;
}

void Valid(Golden& g) {
  const std::vector<Row> all = {{"qemu-2010", "ok"}, {"qemu-7.2", "ok"}, {"qemu-10", "ok"}};
  {
    StreamBuilder s = Setup();
    s.Zero("pc.ram", 0);
    for (int i = 1; i < 256; ++i) s.Zero("", uint64_t(i) * 4096);
    g.Add("valid/zero-page-run.ram", s.Eos().Eos().bytes(), all);
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 0, 1).Page("", 4096, 2).Page("pc.bios", 0, 3).Page("", 8192, 4);
    s.Page("pc.ram", 12288, 5).Zero("", 4096);
    g.Add("valid/pages-two-blocks-continue.ram", s.Eos().Eos().bytes(), all);
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 4096, 1).Eos();
    const Bytes d1 = {std::byte{0x00}, std::byte{0x01}, std::byte{0x55}};
    const Bytes d2 = {std::byte{0x80}, std::byte{0x01}, std::byte{0x02}, std::byte{0xaa},
                      std::byte{0xbb}, std::byte{0x10}, std::byte{0x01}, std::byte{0xcc}};
    s.Xbzrle("", 4096, d1).Xbzrle("", 4096, d2).Xbzrle("pc.ram", 4096, {}).Zero("", 8192);
    g.Add("valid/xbzrle-deltas-after-page.ram", s.Eos().Eos().bytes(),
          {{"qemu-7.2", "ok"}, {"qemu-10", "ok"}});
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 0, 1);
    const uint64_t at = s.size();
    const Bytes z = Deflate(testing::PatternPage(9), kPageSize);
    s.Header(4096, kFlagCompressPage | kFlagContinue).Be32(static_cast<uint32_t>(z.size())).Raw(z);
    g.Add("valid/compressed-page.ram", s.Eos().Eos().bytes(),
          {{"qemu-7.2", "ok"}, {"qemu-10", At("unknown_flags", at)}});
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Zero("pc.ram", 0, 0xff);
    g.Add("valid/zero-fill-nonzero.ram", s.Eos().Eos().bytes(),
          {{"qemu-2010", "ok"}, {"qemu-7.2", "ok"}, {"qemu-10", At("bad_zero_fill", at)}});
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Header(0, kFlagMultifdFlush).Zero("pc.ram", 0);
    g.Add("valid/multifd-flush.ram", s.Eos().Eos().bytes(),
          {{"qemu-10", "ok"}, {"qemu-7.2", At("unknown_flags", at)}});
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Header(0, kFlagHook).Zero("pc.ram", 0);
    g.Add("valid/hook-without-rdma.ram", s.Eos().Eos().bytes(),
          {{"qemu-10", "ok"}, {"qemu-7.2", At("unsupported_hook", at)}});
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Header(8192, kFlagPage | kFlagEos).Counted("pc.ram").Raw(testing::PatternPage(6));
    g.Add("valid/page-and-eos-in-one-header-2010.ram", s.Eos().bytes(),
          {{"qemu-2010", "ok"}, {"qemu-7.2", At("unknown_flags", at)}});
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Header(0, 0x400).Zero("pc.ram", 0);
    g.Add("valid/unknown-bit-0x400-ignored-by-2010.ram", s.Eos().Eos().bytes(),
          {{"qemu-2010", "ok"},
           {"qemu-7.2", At("unknown_flags", at)},
           {"qemu-10", At("unknown_flags", at)}});
  }
  {
    StreamBuilder s;
    s.MemSize({}).Eos().Eos();
    g.Add("valid/mem-size-empty.ram", s.bytes(), all);
  }
  {
    GuestMemory mem;
    (void)mem.AddBlock("pc.ram", 1 << 20);
    // The blocks of a pc guest with -m 1M, so real QEMU loads the file (qemu_diff_test).
    (void)mem.AddBlock("pc.bios", 256 << 10);
    mem.PageForWrite(0, 4096)[7] = std::byte{7};
    mem.PageForWrite(1, 0)[0] = std::byte{1};
    g.Add("valid/qevm-ram-only.mig", WriteRamOnlyFile("pc-i440fx-7.2", EncodeMemory(mem)),
          {{"qemu-7.2", "ok"}, {"qemu-10", "ok"}});
  }
}

void Invalid(Golden& g) {
  const char* q72 = "qemu-7.2";
  auto rows = [](const std::string& expect) {
    return std::vector<Row>{{"qemu-2010", expect}, {"qemu-7.2", expect}, {"qemu-10", expect}};
  };
  g.Add("invalid/empty.ram", {}, rows(At("truncated", 0)));
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Header(0, kFlagPage).U8(6).Raw(Bytes(3, std::byte{'p'}));
    g.Add("invalid/truncated-inside-idstr.ram", s.bytes(), rows(At("truncated", at)));
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Page("pc.ram", 0, 1);
    Bytes b = s.bytes();
    b.resize(b.size() - 1000);
    g.Add("invalid/truncated-inside-page.ram", b, rows(At("truncated", at)));
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 0, 1);
    g.Add("invalid/ends-without-eos.ram", s.bytes(), rows(At("truncated", s.size())));
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Header(0, kFlagZero).U8(0).U8(0).Eos();
    g.Add("invalid/idstr-empty.ram", s.bytes(), rows(At("bad_idstr", at)));
  }
  {
    StreamBuilder s;
    s.MemSize({{std::string("pc\0ram", 6), 4096}}).Eos();
    g.Add("invalid/idstr-with-nul.ram", s.bytes(), rows(At("bad_idstr", 0)));
  }
  {
    StreamBuilder s;
    s.Header(uint64_t{1} << 49, kFlagMemSize).Eos();
    g.Add("invalid/mem-size-total-over-limit.ram", s.bytes(), rows(At("limit_exceeded", 0)));
  }
  {
    std::vector<std::pair<std::string, uint64_t>> many;
    for (int i = 0; i < 4097; ++i) many.push_back({"b", 4096});
    StreamBuilder s;
    s.MemSize(many);
    g.Add("invalid/mem-size-too-many-blocks.ram", s.bytes(), rows(At("limit_exceeded", 0)));
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Zero("", 0).Eos();
    g.Add("invalid/continue-before-any-block.ram", s.bytes(),
          rows(At("continue_without_block", at)));
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 0, 1);
    const uint64_t at = s.size();
    // A name the QEMU pc machine has no block for either, so real QEMU can confirm it.
    s.Page("pc.nvram", 0, 2).Eos();
    g.Add("invalid/unknown-idstr-after-valid-page.ram", s.bytes(), rows(At("unknown_block", at)));
  }
  {
    StreamBuilder s;
    // Otherwise complete (START and END), so a loader that needs no MEM_SIZE accepts it.
    s.Page("pc.ram", 0, 1).Eos().Eos();
    g.Add("invalid/page-before-mem-size.ram", s.bytes(), rows(At("unknown_block", 0)));
  }
  {
    StreamBuilder s = Setup();
    s.Zero("pc.bios", 0);
    const uint64_t at = s.size();
    s.Zero("", 256 << 10).Eos();
    g.Add("invalid/offset-one-page-past-block.ram", s.bytes(), rows(At("offset_out_of_range", at)));
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Page("pc.ram", 0xfffffffffffff000ull, 1).Eos();
    g.Add("invalid/offset-near-2-to-the-64.ram", s.bytes(), rows(At("offset_out_of_range", at)));
  }
  {
    StreamBuilder s;
    // The destination's own lengths with a total one page short: only the total is wrong.
    s.MemSizeTotal((1 << 20) + 4096, kBlocks).Eos();
    g.Add("invalid/mem-size-total-mismatch.ram", s.bytes(), rows(At("mem_size_mismatch", 0)));
  }
  {
    StreamBuilder s;
    s.MemSize({{"pc.ram", 1 << 20}, {"pc.ram", 1 << 20}}).Eos().Eos();
    g.Add("invalid/mem-size-duplicate-block.ram", s.bytes(), rows(At("duplicate_block", 0)));
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.MemSize({{"pc.ram", 2 << 20}, {"pc.bios", 256 << 10}}).Eos();
    g.Add("invalid/second-mem-size-resizes-block.ram", s.bytes(),
          {{q72, At("block_size_mismatch", at)}, {"qemu-10", At("block_size_mismatch", at)}});
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 0, 1);
    const uint64_t at = s.size();
    // zrun 4090 then nzrun 10: the run ends 4 bytes past the page.
    Bytes d = {std::byte{0xfa}, std::byte{0x1f}, std::byte{0x0a}};
    d.resize(13, std::byte{0x77});
    s.Xbzrle("", 0, d).Eos();
    g.Add("invalid/xbzrle-run-past-page-end.ram", s.bytes(),
          {{q72, At("bad_xbzrle", at)}, {"qemu-10", At("bad_xbzrle", at)}});
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 0, 1);
    const uint64_t at = s.size();
    s.Header(0, kFlagXbzrle | kFlagContinue).U8(2).Be16(3).U8(0).U8(1).U8(9).Eos();
    g.Add("invalid/xbzrle-bad-encoding-byte.ram", s.bytes(),
          {{q72, At("bad_xbzrle", at)}, {"qemu-10", At("bad_xbzrle", at)}});
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 0, 1);
    const uint64_t at = s.size();
    s.Header(0, kFlagXbzrle | kFlagContinue).U8(1).Be16(4097);
    g.Add("invalid/xbzrle-length-over-page.ram", s.bytes(),
          {{q72, At("bad_xbzrle", at)}, {"qemu-10", At("bad_xbzrle", at)}});
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 0, 1);
    const uint64_t at = s.size();
    const Bytes z = Deflate(testing::PatternPage(9), 1000);
    s.Header(4096, kFlagCompressPage | kFlagContinue).Be32(static_cast<uint32_t>(z.size())).Raw(z);
    g.Add("invalid/compressed-page-inflates-short.ram", s.Eos().bytes(),
          {{q72, At("bad_compressed_page", at)}});
  }
  {
    StreamBuilder s = Setup();
    s.Page("pc.ram", 0, 1);
    const uint64_t at = s.size();
    s.Header(4096, kFlagCompressPage | kFlagContinue).Be32(4111);
    g.Add("invalid/compressed-length-over-bound.ram", s.bytes(),
          {{q72, At("bad_compressed_page", at)}});
  }
  {
    StreamBuilder s = Setup();
    const uint64_t at = s.size();
    s.Header(0, kFlagZero | kFlagPage).Counted("pc.ram").U8(0).Eos();
    g.Add("invalid/zero-and-page-flags.ram", s.bytes(),
          {{q72, At("unknown_flags", at)}, {"qemu-10", At("unknown_flags", at)}});
  }
  // The envelope.
  {
    Bytes b;
    QevmWriter w(&b);
    w.WriteHeader();
    b[0] = std::byte{'X'};
    g.Add("invalid/qevm-bad-magic.mig", b, {{q72, At("bad_magic", 0)}});
  }
  {
    Bytes b;
    QevmWriter w(&b);
    w.WriteHeader(2);
    g.Add("invalid/qevm-version-2-obsolete.mig", b, {{q72, At("unsupported_version", 4)}});
  }
  {
    Bytes b;
    QevmWriter w(&b);
    w.WriteHeader();
    w.WriteConfiguration(PcConfig());  // QEMU 7.2 requires it
    const uint64_t at = b.size();
    w.WriteSectionStart(2, "ram", 0, 5);
    w.WriteRaw(Setup().bytes());
    w.WriteFooter(2);
    w.WriteEof();
    g.Add("invalid/qevm-ram-section-version-5.mig", b, {{q72, At("unsupported_version", at)}});
  }
  {
    Bytes b;
    QevmWriter w(&b);
    w.WriteHeader();
    w.WriteConfiguration(PcConfig());
    w.WriteSectionStart(2, "ram", 0, 4);
    w.WriteRaw(Setup().bytes());
    const uint64_t at = b.size();
    w.WriteFooter(3);
    w.WriteEof();
    g.Add("invalid/qevm-footer-id-mismatch.mig", b, {{q72, At("missing_footer", at)}});
  }
}

}  // namespace
}  // namespace ramstream::protocol

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_golden DIR\n");
    return 2;
  }
  ramstream::protocol::Golden g(argv[1]);
  ramstream::protocol::Valid(g);
  ramstream::protocol::Invalid(g);
  g.WriteManifest();
  return 0;
}
