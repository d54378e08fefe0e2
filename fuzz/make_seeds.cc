// make_seeds: writes the seed corpora corpus/<target>/ from ramstream's own Encoder and a few
// hand-built edge cases, deterministically (no clock, no randomness beyond fixed seeds).
//
//   make_seeds --out corpus      (re)write the generated seeds (other files are left alone)
//   make_seeds --check corpus    exit 1 if a generated seed is missing or differs (CTest)
//
// Seeds for ram_load_fuzzer and ram_load_dialects_fuzzer carry the trailer of
// fuzz/fuzz_input.h (config bits, chunk plan); ram_roundtrip_fuzzer's are plain streams;
// xbzrle_fuzzer's follow the layout in xbzrle_fuzzer.cc; qevm_file_fuzzer's are QEVM files
// built with QevmWriter plus the same trailer (the real QEMU captures beside them are checked
// in, not generated). Names say what each one exercises.
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "protocol/dialect.h"
#include "protocol/encoder.h"
#include "protocol/qevm.h"
#include "protocol/qevm_writer.h"
#include "protocol/records.h"
#include "protocol/splice.h"
#include "protocol/wire_format.h"
#include "protocol/xbzrle.h"

namespace {

using namespace ramstream;
using protocol::kPageSize;
using Bytes = std::vector<std::byte>;

// Raw wire items for hand-built streams.
class Wire {
 public:
  Wire& Be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) b_.push_back(static_cast<std::byte>(v >> (8 * i)));
    return *this;
  }
  Wire& Header(uint64_t address, uint32_t flags) { return Be(address | flags, 8); }
  Wire& U8(uint8_t v) { return Be(v, 1); }
  Wire& Counted(const std::string& s) {
    U8(static_cast<uint8_t>(s.size()));
    for (char c : s) b_.push_back(static_cast<std::byte>(c));
    return *this;
  }
  Wire& Raw(std::span<const std::byte> r) {
    b_.insert(b_.end(), r.begin(), r.end());
    return *this;
  }
  Wire& MemSize(const std::vector<std::pair<std::string, uint64_t>>& blocks) {
    uint64_t total = 0;
    for (const auto& e : blocks) total += e.second;
    Header(total, protocol::kFlagMemSize);
    for (const auto& [id, len] : blocks) Counted(id).Be(len, 8);
    return *this;
  }
  // Page records; an empty idstr means CONTINUE.
  Wire& PageHeader(const std::string& id, uint64_t off, uint32_t flag) {
    Header(off, flag | (id.empty() ? protocol::kFlagContinue : 0));
    if (!id.empty()) Counted(id);
    return *this;
  }
  Wire& Zero(const std::string& id, uint64_t off, uint8_t fill = 0) {
    return PageHeader(id, off, protocol::kFlagZero).U8(fill);
  }
  Wire& Page(const std::string& id, uint64_t off, std::span<const std::byte> page) {
    return PageHeader(id, off, protocol::kFlagPage).Raw(page);
  }
  Wire& Xbzrle(const std::string& id, uint64_t off, std::span<const std::byte> delta) {
    return PageHeader(id, off, protocol::kFlagXbzrle)
        .U8(protocol::kXbzrleEncoding)
        .Be(delta.size(), 2)
        .Raw(delta);
  }
  Wire& Eos() { return Header(0, protocol::kFlagEos); }
  const Bytes& bytes() const { return b_; }

 private:
  Bytes b_;
};

// Guest-like page contents: text-ish, code-ish, sparse, or a single byte pattern.
Bytes GuestPage(uint64_t seed) {
  Bytes p(kPageSize);
  std::mt19937_64 rng(seed);
  switch (seed % 4) {
    case 0:
      for (size_t i = 0; i < kPageSize; ++i)
        p[i] = static_cast<std::byte>('a' + (i * 7 + seed) % 26);
      break;
    case 1:
      for (auto& b : p) b = static_cast<std::byte>(rng());
      break;
    case 2:
      for (int i = 0; i < 16; ++i) p[rng() % kPageSize] = static_cast<std::byte>(rng() | 1);
      break;
    default:
      for (auto& b : p) b = static_cast<std::byte>(0x90);
      break;
  }
  return p;
}

std::vector<protocol::BlockInfo> Blocks(const std::vector<std::pair<std::string, uint64_t>>& list) {
  std::vector<protocol::BlockInfo> out;
  for (const auto& [id, pages] : list) {
    out.push_back({id, pages * kPageSize, std::nullopt, std::nullopt});
  }
  return out;
}

// A migration the way QEMU 7.2 sends one: setup (MEM_SIZE + EOS), a bulk pass with zero
// detection, then `passes` dirty passes through the XBZRLE cache, each ending in EOS.
Bytes Migration(const std::vector<protocol::BlockInfo>& blocks, int passes, uint64_t seed,
                bool reset_between_passes) {
  Bytes out;
  protocol::EncoderOptions eo;
  eo.xbzrle_cache_bytes = passes > 0 ? (uint64_t{1} << 20) : 0;
  protocol::Encoder enc(eo, &out);
  enc.WriteMemSize(blocks);
  enc.WriteEos();
  std::mt19937_64 rng(seed);
  std::vector<Bytes> mem;
  for (uint32_t b = 0; b < blocks.size(); ++b) {
    for (uint64_t off = 0; off < blocks[b].used_length; off += kPageSize) {
      mem.push_back(rng() % 3 == 0 ? Bytes(kPageSize) : GuestPage(rng()));
      enc.WritePage(b, off, mem.back());
    }
  }
  enc.WriteEos();
  enc.EnableXbzrle();
  for (int pass = 1; pass <= passes; ++pass) {
    enc.SetCacheAge(static_cast<uint64_t>(pass));
    if (reset_between_passes) enc.ResetLastBlock();
    size_t idx = 0;
    for (uint32_t b = 0; b < blocks.size(); ++b) {
      for (uint64_t off = 0; off < blocks[b].used_length; off += kPageSize, ++idx) {
        if (rng() % 2 != 0) continue;
        Bytes& page = mem[idx];
        switch (rng() % 4) {
          case 0:  // one byte, like QEMU's migration-test guest: a 3-byte delta
            page[rng() % kPageSize] ^= std::byte{1};
            break;
          case 1:  // a run
            for (size_t i = 0, at = rng() % 3000; i < 200; ++i) page[at + i] = std::byte{0xee};
            break;
          case 2:  // whole page: the delta overflows and a PAGE goes out
            page = GuestPage(rng() | 1);
            break;
          default:  // back to zero
            page.assign(kPageSize, std::byte{0});
            break;
        }
        enc.WritePage(b, off, page);
      }
    }
    enc.WriteEos();
  }
  return out;
}

Bytes Compressed(std::span<const std::byte> page) {
  uLongf len = compressBound(kPageSize);
  Bytes out(len);
  compress2(reinterpret_cast<Bytef*>(out.data()), &len, reinterpret_cast<const Bytef*>(page.data()),
            kPageSize, 1);
  out.resize(len);
  return out;
}

Bytes Delta(std::span<const std::byte> old_page, std::span<const std::byte> new_page) {
  Bytes out(kPageSize);
  const int n = protocol::xbzrle::Encode(old_page, new_page, out);
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return out;
}

Bytes FromHex(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<std::byte>(x));
  return b;
}

// Streams shared by the load targets: name -> bytes.
std::map<std::string, Bytes> Streams() {
  std::map<std::string, Bytes> s;
  const Bytes a = GuestPage(1), b = GuestPage(2), zero(kPageSize);

  s["encoder-pcram-bulk-6-pages"] = Migration(Blocks({{"pc.ram", 6}}), 0, 11, false);
  s["encoder-3-blocks-continue-runs"] =
      Migration(Blocks({{"pc.ram", 6}, {"pc.bios", 2}, {"/rom@etc/acpi/tables", 2}}), 0, 12, false);
  s["encoder-xbzrle-2-passes"] = Migration(Blocks({{"pc.ram", 6}}), 2, 13, false);
  s["encoder-xbzrle-reset-last-block"] =
      Migration(Blocks({{"pc.ram", 4}, {"0000:00:02.0/vga.vram", 2}}), 2, 14, true);
  {
    Bytes out;
    protocol::Encoder enc({}, &out);
    enc.WriteMemSize(Blocks({{"pc.ram", 64}}));
    enc.WriteEos();
    for (uint64_t off = 0; off < 64 * kPageSize; off += kPageSize) enc.WritePage(0, off, zero);
    enc.WriteEos();
    s["encoder-zero-page-run-64"] = out;
  }
  s["edge-last-page-of-block"] = Wire()
                                     .MemSize({{"pc.ram", 0x4000}})
                                     .Eos()
                                     .Page("pc.ram", 0x3000, a)
                                     .Zero("", 0x2000)
                                     .Eos()
                                     .bytes();
  s["edge-unaligned-block-length"] = Wire()
                                         .MemSize({{"pc.bios", 0x1800}, {"pc.ram", 0x2800}})
                                         .Page("pc.bios", 0, a)
                                         .Page("pc.ram", 0x1000, b)
                                         .Eos()
                                         .bytes();
  s["edge-idstr-255-bytes"] = Wire()
                                  .MemSize({{std::string(255, 'k'), 0x2000}})
                                  .Zero(std::string(255, 'k'), 0x1000, 0)
                                  .Page("", 0, b)
                                  .Eos()
                                  .bytes();
  s["edge-zero-fill-nonzero"] = Wire()
                                    .MemSize({{"pc.ram", 0x2000}})
                                    .Zero("pc.ram", 0, 0xcc)
                                    .Zero("", 0x1000, 1)
                                    .Eos()
                                    .bytes();
  s["edge-compress-page"] = Wire()
                                .MemSize({{"pc.ram", 0x2000}})
                                .PageHeader("pc.ram", 0x1000, protocol::kFlagCompressPage)
                                .Be(Compressed(a).size(), 4)
                                .Raw(Compressed(a))
                                .Eos()
                                .bytes();
  s["edge-xbzrle-qemu-test-guest-delta"] = Wire()
                                               .MemSize({{"pc.ram", 0x2000}})
                                               .Page("pc.ram", 0, a)
                                               .Xbzrle("", 0, FromHex({0x00, 0x01, 0x42}))
                                               .Xbzrle("pc.ram", 0x1000, Delta(zero, b))
                                               .Eos()
                                               .bytes();
  s["edge-multiple-eos-sections"] = Wire()
                                        .MemSize({{"pc.ram", 0x3000}})
                                        .Eos()
                                        .Page("pc.ram", 0x2000, b)
                                        .Eos()
                                        .Eos()
                                        .Zero("pc.ram", 0x2000)
                                        .Eos()
                                        .bytes();
  s["empty-mem-size-then-eos"] = Wire().Header(0, protocol::kFlagMemSize).Eos().bytes();
  // Rejected streams: each ends in a specific error.
  s["bad-offset-past-block"] =
      Wire().MemSize({{"pc.ram", 0x2000}}).Page("pc.ram", 0x2000, a).Eos().bytes();
  s["bad-continue-without-block"] =
      Wire().MemSize({{"pc.ram", 0x2000}}).Zero("", 0, 0).Eos().bytes();
  s["bad-unknown-block"] = Wire().MemSize({{"pc.ram", 0x2000}}).Zero("pc.rom", 0).Eos().bytes();
  s["bad-flags-full-0x01"] = Wire().MemSize({{"pc.ram", 0x1000}}).Header(0, 0x01).Eos().bytes();
  s["bad-hook-0x80"] = Wire().MemSize({{"pc.ram", 0x1000}}).Header(0, 0x80).Eos().bytes();
  s["bad-multifd-flush-0x200"] =
      Wire().MemSize({{"pc.ram", 0x1000}}).Header(0, 0x200).Eos().bytes();
  s["bad-mem-size-lengths-exceed-total"] =
      Wire().Header(0x1000, protocol::kFlagMemSize).Counted("pc.ram").Be(0x2000, 8).Eos().bytes();
  s["bad-mem-size-duplicate-block"] =
      Wire().MemSize({{"pc.ram", 0x1000}, {"pc.ram", 0x1000}}).Eos().bytes();
  s["bad-xbzrle-three-byte-uleb"] = Wire()
                                        .MemSize({{"pc.ram", 0x1000}})
                                        .Xbzrle("pc.ram", 0, FromHex({0x80, 0x80, 0x01, 0x01}))
                                        .Eos()
                                        .bytes();
  s["bad-xbzrle-writes-past-page"] = Wire()
                                         .MemSize({{"pc.ram", 0x1000}})
                                         .Xbzrle("pc.ram", 0, FromHex({0xff, 0x1f, 0x02, 1, 2}))
                                         .Eos()
                                         .bytes();
  s["bad-empty-idstr"] = Wire().MemSize({{"pc.ram", 0x1000}}).Header(0, 0x02).U8(0).U8(0).bytes();
  s["bad-idstr-with-nul"] =
      Wire().MemSize({{"pc.ram", 0x1000}}).Zero(std::string("pc\0ram", 6), 0).Eos().bytes();
  {
    Bytes t = Wire().MemSize({{"pc.ram", 0x2000}}).Page("pc.ram", 0, a).bytes();
    t.resize(t.size() - 1000);
    s["bad-truncated-inside-page"] = t;
  }
  s["bad-no-final-eos"] = Wire().MemSize({{"pc.ram", 0x1000}}).Zero("pc.ram", 0).bytes();
  s["bad-empty-stream"] = Bytes();
  return s;
}

// Streams for particular dialect configurations (ram_load_dialects_fuzzer's config bits).
std::map<std::string, std::pair<uint16_t, Bytes>> DialectStreams() {
  std::map<std::string, std::pair<uint16_t, Bytes>> s;
  const Bytes a = GuestPage(3);
  // qemu-2010: every flag bit on its own. MEM_SIZE|EOS in one header, then ZERO|PAGE (ZERO
  // wins). A MEM_SIZE|PAGE header would put the page at the total, always past the end.
  s["qemu2010-composite-memsize-eos-zero-page"] = {
      2, Wire()
             .Header(0x2000, protocol::kFlagMemSize | protocol::kFlagEos)
             .Counted("pc.ram")
             .Be(0x2000, 8)
             .Header(0x1000, protocol::kFlagZero | protocol::kFlagPage)
             .Counted("pc.ram")
             .U8(0x33)
             .Header(0, protocol::kFlagPage | protocol::kFlagContinue | protocol::kFlagEos)
             .Raw(a)
             .bytes()};
  s["qemu2010-fill-byte-and-ignored-flags"] = {2, Wire()
                                                      .MemSize({{"pc.ram", 0x2000}})
                                                      .Zero("pc.ram", 0x1000, 0x5a)
                                                      .Header(0, 0x40)
                                                      .Eos()
                                                      .bytes()};
  s["qemu2010-version3-global-addresses"] = {
      2 | 4, Wire()
                 .Header(0x3000, protocol::kFlagMemSize)
                 .Header(0x2000, protocol::kFlagPage)
                 .Raw(a)
                 .Header(0x1000, protocol::kFlagZero | protocol::kFlagContinue)
                 .U8(7)
                 .Eos()
                 .bytes()};
  s["qemu10-zero-fill-must-be-zero"] = {
      1, Wire().MemSize({{"pc.ram", 0x1000}}).Zero("pc.ram", 0, 1).Eos().bytes()};
  s["qemu10-multifd-flush-and-hook"] = {
      1, Wire().MemSize({{"pc.ram", 0x1000}}).Header(0, 0x200).Header(0, 0x80).Eos().bytes()};
  s["qemu72-ignore-shared-addr-fields"] = {8, Wire()
                                                  .Header(0x3000, protocol::kFlagMemSize)
                                                  .Counted("pc.ram")
                                                  .Be(0x2000, 8)
                                                  .Be(0x100000, 8)
                                                  .Counted("pc.bios")
                                                  .Be(0x1000, 8)
                                                  .Be(0xfffff000, 8)
                                                  .Page("pc.bios", 0, a)
                                                  .Eos()
                                                  .bytes()};
  s["qemu72-postcopy-page-size-field"] = {16, Wire()
                                                  .Header(0x3000, protocol::kFlagMemSize)
                                                  .Counted("pc.ram")
                                                  .Be(0x2000, 8)
                                                  .Be(0x200000, 8)
                                                  .Counted("pc.bios")
                                                  .Be(0x1000, 8)
                                                  .Zero("pc.ram", 0x1000, 0)
                                                  .Eos()
                                                  .bytes()};
  s["qemu72-layout-resize-acpi-tables"] = {
      32, Wire()
              .MemSize({{"pc.ram", 0x40000}, {"/rom@etc/acpi/tables", 0x4000}})
              .Page("/rom@etc/acpi/tables", 0x3000, a)
              .Eos()
              .bytes()};
  s["qemu72-layout-size-mismatch"] = {32, Wire().MemSize({{"pc.ram", 0x2000}}).Eos().bytes()};
  s["qemu72-preset-blocks-no-mem-size"] = {
      64, Wire().Page("pc.bios", 0xf000, a).Zero("", 0x1000, 0).Eos().bytes()};
  s["qemu72-start-offset-in-qevm-file"] = {
      128, Wire().MemSize({{"pc.ram", 0x2000}}).Page("pc.ram", 0x1000, a).Eos().bytes()};
  return s;
}

// xbzrle_fuzzer inputs: control, be16 page length selector, be16 split, material, delta.
Bytes XbzrleInput(uint8_t ctrl, uint16_t len_sel, std::span<const std::byte> material,
                  std::span<const std::byte> delta) {
  Wire w;
  w.U8(ctrl).Be(len_sel, 2).Be(material.size(), 2).Raw(material).Raw(delta);
  return w.bytes();
}

std::map<std::string, Bytes> XbzrleSeeds() {
  std::map<std::string, Bytes> s;
  const Bytes a = GuestPage(4);
  Bytes a2 = a;
  a2[100] ^= std::byte{1};
  for (size_t i = 2000; i < 2300; ++i) a2[i] = std::byte{0x11};
  const Bytes material(a.begin(), a.begin() + 64);
  s["qemu-test-guest-one-byte"] = XbzrleInput(0x40, 0, material, FromHex({0x00, 0x01, 0x42}));
  s["encoded-two-runs"] = XbzrleInput(0x00, 0, a, Delta(a, a2));
  s["edit-pairs-coarse"] = XbzrleInput(0x20 | 0x43, 0, material, FromHex({3, 9, 200, 1, 7, 0}));
  s["bad-zero-nzrun"] = XbzrleInput(0x40, 0, material, FromHex({0x05, 0x00, 0x01}));
  s["bad-zero-zrun-after-first"] = XbzrleInput(0x40, 0, material, FromHex({0, 1, 9, 0, 1, 8}));
  s["bad-three-byte-uleb"] = XbzrleInput(0x40, 0, material, FromHex({0x80, 0x80, 0x01, 1, 1}));
  s["bad-write-past-page"] = XbzrleInput(0x40, 0, material, FromHex({0xff, 0x1f, 0x02, 1, 2}));
  s["bad-read-past-delta"] = XbzrleInput(0x40, 0, material, FromHex({0x00, 0x05, 1, 2}));
  s["bad-one-byte-left"] = XbzrleInput(0x40, 0, material, FromHex({0x00, 0x01, 0x42, 0x01}));
  s["page-len-17-boundary"] = XbzrleInput(0x80 | 0x40, 16, material, FromHex({0x10, 0x01, 0x7f}));
  s["page-len-20000-long-runs"] =
      XbzrleInput(0x80 | 0x05, 19999, material, FromHex({0xff, 0x7f, 1, 9}));
  return s;
}

// ---- qevm_file_fuzzer ---------------------------------------------------------------------
// Config bits of qevm_file_fuzzer.cc: dialect (0 7.2, 1 2010, 2 10), footer mode << 2, tight
// limits 0x10, page-size blocks 0x20.
constexpr uint16_t kQ2010 = 1, kQ10 = 2, kFootersRequired = 1 << 2, kFootersAbsent = 2 << 2,
                   kTight = 0x10, kPageSizeBlocks = 0x20;

struct QevmSeed {
  uint16_t config = 0;
  Bytes file;
};

Bytes Str(std::string_view s) {
  Bytes b;
  for (char c : s) b.push_back(static_cast<std::byte>(c));
  return b;
}

// RAM section payloads: START (MEM_SIZE, EOS), PART (pages, EOS), END (EOS).
std::vector<Bytes> RamPayloads(const std::vector<protocol::BlockInfo>& blocks, uint64_t seed) {
  Bytes all;
  protocol::Encoder enc({}, &all);
  enc.WriteMemSize(blocks);
  enc.WriteEos();
  const size_t start = all.size();
  std::mt19937_64 rng(seed);
  for (uint32_t b = 0; b < blocks.size(); ++b) {
    for (uint64_t off = 0; off < blocks[b].used_length; off += kPageSize) {
      enc.WritePage(b, off, rng() % 2 == 0 ? Bytes(kPageSize) : GuestPage(rng()));
    }
  }
  enc.WriteEos();
  const size_t part = all.size();
  enc.WriteEos();
  return {Bytes(all.begin(), all.begin() + start), Bytes(all.begin() + start, all.begin() + part),
          Bytes(all.begin() + part, all.end())};
}

const std::vector<Bytes>& SmallRam() {
  static const std::vector<Bytes> p = RamPayloads(Blocks({{"pc.ram", 3}, {"vga.vram", 1}}), 21);
  return p;
}

// Device state as a vmdesc describes it: "timer" (3 x 8 bytes) and "cpu" (a u32, a 16-byte
// array, then subsection "cpu/xsave" version 2 with one u64).
Bytes TimerState() { return Bytes(24, std::byte{0x11}); }
Bytes CpuState(const std::string& sub = "cpu/xsave", uint32_t version = 2) {
  Bytes b = Wire().Be(0x01020304, 4).Be(0x7e7e7e7e, 4).Be(0, 8).Be(0xffff, 4).bytes();
  Wire w;
  w.U8(protocol::kQevmSubsection).Counted(sub).Be(version, 4).Be(0x0102030405060708, 8);
  b.insert(b.end(), w.bytes().begin(), w.bytes().end());
  return b;
}
const char* kDevicesVmdesc =
    R"({"page_size": 4096, "devices": [)"
    R"({"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2, "fields": [)"
    R"({"name": "cpu_ticks_offset", "type": "int64", "size": 8},)"
    R"({"name": "unused", "type": "unused_buffer", "size": 8},)"
    R"({"name": "cpu_clock_offset", "type": "int64", "size": 8}]},)"
    R"({"name": "cpu", "instance_id": 0, "vmsd_name": "cpu", "version": 12, "fields": [)"
    R"({"name": "env.hflags", "type": "uint32", "size": 4},)"
    R"({"name": "env.regs", "array_len": 4, "type": "uint32", "size": 4},)"
    R"({"name": "empty", "type": "buffer", "size": 0}],)"
    R"("subsections": [{"vmsd_name": "cpu/xsave", "version": 2, "fields": [)"
    R"({"name": "xcr0", "index": 0, "type": "uint64", "size": 8}]}]}]})";

struct FileOptions {
  bool config = true;
  bool footers = true;
  bool devices = true;
  std::string vmdesc = kDevicesVmdesc;  // "" for none
  std::vector<std::string> capabilities;
  Bytes cpu = CpuState();
  Bytes timer = TimerState();
};

// A QEMU 7.2-shaped precopy file: header, configuration, ram START and PART, ram END, the
// devices, EOF, vmdesc.
Bytes PrecopyFile(const FileOptions& o, const std::vector<Bytes>& ram = SmallRam()) {
  Bytes out;
  protocol::QevmWriter w(&out);
  w.WriteHeader();
  if (o.config) {
    protocol::QevmConfiguration c;
    c.machine = "pc-i440fx-7.2";
    c.target_page_bits = 12;
    c.capabilities = o.capabilities;
    w.WriteConfiguration(c);
  }
  const auto footer = [&](uint32_t id) {
    if (o.footers) w.WriteFooter(id);
  };
  w.WriteSectionStart(2, "ram", 0, 4);
  w.WriteRaw(ram[0]);
  footer(2);
  for (size_t i = 1; i + 1 < ram.size(); ++i) {
    w.WriteSectionPart(2);
    w.WriteRaw(ram[i]);
    footer(2);
  }
  w.WriteSectionEnd(2);
  w.WriteRaw(ram.back());
  footer(2);
  if (o.devices) {
    w.WriteSectionFull(0, "timer", 0, 2);
    w.WriteRaw(o.timer);
    footer(0);
    w.WriteSectionFull(3, "cpu", 0, 12);
    w.WriteRaw(o.cpu);
    footer(3);
  }
  w.WriteEof();
  if (!o.vmdesc.empty()) w.WriteVmdesc(o.vmdesc);
  return out;
}

Bytes Cmd(uint16_t cmd, Bytes payload = {}) {
  Bytes out;
  protocol::QevmWriter(&out).WriteCommand(cmd, payload);
  return out;
}
Bytes Packaged(const Bytes& inner) {
  Bytes out;
  protocol::QevmWriter(&out).WritePackaged(inner);
  return out;
}
Bytes Section(uint8_t type, uint32_t id, const std::string& idstr, uint32_t version,
              const Bytes& payload, bool footer = true) {
  Bytes out;
  protocol::QevmWriter w(&out);
  if (type == protocol::kQevmSectionStart) w.WriteSectionStart(id, idstr, 0, version);
  if (type == protocol::kQevmSectionFull) w.WriteSectionFull(id, idstr, 0, version);
  if (type == protocol::kQevmSectionPart) w.WriteSectionPart(id);
  if (type == protocol::kQevmSectionEnd) w.WriteSectionEnd(id);
  w.WriteRaw(payload);
  if (footer) w.WriteFooter(id);
  return out;
}
Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes Header() { return Wire().Be(protocol::kQevmMagic, 4).Be(3, 4).bytes(); }
Bytes Config(const protocol::QevmConfiguration& c) {
  Bytes out;
  protocol::QevmWriter(&out).WriteConfiguration(c);
  return out;
}
// Field by field: g++'s -Wmissing-field-initializers rejects partial designated initializers.
Bytes Config(const std::string& machine, std::optional<uint32_t> page_bits = std::nullopt,
             std::vector<std::string> capabilities = {}) {
  protocol::QevmConfiguration c;
  c.machine = machine;
  c.target_page_bits = page_bits;
  c.capabilities = std::move(capabilities);
  return Config(c);
}
Bytes Pc() { return Config("pc-i440fx-7.2"); }
Bytes EofByte() { return FromHex({protocol::kQevmEof}); }
Bytes Vmdesc(std::string_view json) {
  Bytes out;
  protocol::QevmWriter(&out).WriteVmdesc(json);
  return out;
}
Bytes Advise16() {
  Bytes out;
  protocol::QevmWriter(&out).WritePostcopyAdvise(0x1000);
  return out;
}
Bytes Discard() {
  return Cat({Wire().U8(0).Counted("pc.ram").U8(0).Be(0, 8).Be(0x1000, 8).bytes()});
}
// A RAM file with the START inside the file and the other sections given.
Bytes RamStart() { return Section(protocol::kQevmSectionStart, 2, "ram", 4, SmallRam()[0]); }
Bytes RamPart() { return Section(protocol::kQevmSectionPart, 2, "ram", 4, SmallRam()[1]); }
Bytes RamEnd() { return Section(protocol::kQevmSectionEnd, 2, "ram", 4, SmallRam()[2]); }
Bytes Timer(uint32_t id = 0) {
  return Section(protocol::kQevmSectionFull, id, "timer", 2, TimerState());
}

std::map<std::string, QevmSeed> QevmSeeds() {
  using namespace protocol;
  std::map<std::string, QevmSeed> s;
  FileOptions o;
  s["precopy-devices-vmdesc-walk"] = {0, PrecopyFile(o)};
  s["precopy-devices-footers-required"] = {kFootersRequired, PrecopyFile(o)};
  {
    FileOptions f = o;
    f.vmdesc = R"({"page_size": 4096, "devices": []})";
    s["precopy-devices-resync-only"] = {0, PrecopyFile(f)};
    f.vmdesc = "";
    s["precopy-no-vmdesc"] = {0, PrecopyFile(f)};
  }
  {
    // Device bytes holding "0x7e, be32 id" that resync must not take for the footer: one
    // followed by a byte no record starts with, one by a START whose idstr is not printable.
    FileOptions f = o;
    // 0x55 starts no record; a START with idstr "\x01"; a PART whose id (the bytes of the
    // real footer that follows) names no section. 24 bytes, as the vmdesc says.
    f.timer = Wire()
                  .U8(0x7e)
                  .Be(0, 4)
                  .U8(0x55)
                  .U8(0x7e)
                  .Be(0, 4)
                  .U8(1)
                  .Be(9, 4)
                  .U8(1)
                  .U8(0x01)
                  .U8(0x7e)
                  .Be(0, 4)
                  .U8(0x02)
                  .bytes();
    s["device-false-footer-candidates"] = {0, PrecopyFile(f)};
  }
  {
    FileOptions f = o;
    f.footers = false;
    s["no-footers-walk-only"] = {0, PrecopyFile(f)};
    s["no-footers-absent-mode"] = {kFootersAbsent, PrecopyFile(f)};
    f.devices = false;
    f.vmdesc = "";
    s["no-footers-ram-only"] = {0, PrecopyFile(f)};
    f.config = false;
    s["no-config-no-footers"] = {0, PrecopyFile(f)};
  }
  {
    FileOptions f = o;
    f.cpu = CpuState("cpu/avx", 2);
    s["walk-subsection-name-differs"] = {0, PrecopyFile(f)};
    f.cpu = CpuState("cpu/xsave", 3);
    s["walk-subsection-version-differs"] = {0, PrecopyFile(f)};
    f.cpu = CpuState();
    Wire extra;
    extra.U8(kQevmSubsection).Counted("cpu/extra").Be(1, 4);
    f.cpu.insert(f.cpu.end(), extra.bytes().begin(), extra.bytes().end());
    s["walk-subsection-not-listed"] = {0, PrecopyFile(f)};
    f.cpu = CpuState();
    f.cpu[20] = std::byte{0x06};  // the subsection marker
    s["walk-no-subsection-marker"] = {0, PrecopyFile(f)};
  }
  {
    // A 70 KiB field: passed through, not gathered into one view.
    Bytes big(70000, std::byte{0x5a});
    Bytes file = Cat({Header(), Pc(), RamStart(), RamEnd(),
                      Section(kQevmSectionFull, 5, "vga", 1, big), EofByte(),
                      Vmdesc(R"({"page_size": 4096, "devices": [{"name": "vga", "instance_id": 0,)"
                             R"( "vmsd_name": "vga", "version": 1, "fields": [{"name": "vram",)"
                             R"( "type": "buffer", "size": 70000}]}]})")});
    s["walk-field-70k"] = {0, file};
    s["walk-field-past-end-of-input"] = {
        0, Cat({Header(), Pc(), RamStart(), RamEnd(), Section(kQevmSectionFull, 5, "vga", 1, big),
                EofByte(),
                Vmdesc(R"({"devices": [{"name": "vga", "instance_id": 0, "vmsd_name": "vga",)"
                       R"( "version": 1, "fields": [{"name": "vram", "size": 200000}]}]})")})};
    s["walk-field-past-package-end"] = {
        0, Cat({Header(), Pc(), Packaged(Section(kQevmSectionFull, 5, "vga", 1, big)), EofByte(),
                Vmdesc(R"({"devices": [{"name": "vga", "instance_id": 0, "vmsd_name": "vga",)"
                       R"( "version": 1, "fields": [{"name": "vram", "size": 80000}]}]})")})};
    s["walk-field-70k-truncated"] = {0, Bytes(file.begin(), file.begin() + 40000)};
  }
  s["walk-version-differs"] = {
      0, Cat({Header(), Pc(), RamStart(), RamEnd(), Timer(), EofByte(),
              Vmdesc(R"({"devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "timer",)"
                     R"( "version": 3}]})")})};
  {
    QevmConfiguration c;
    c.machine = "pc-q35-7.2";
    c.target_page_bits = 12;
    c.capabilities = {"events", "x-ignore-shared"};
    c.uuid = std::array<uint8_t, 16>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    std::vector<protocol::BlockInfo> blocks = Blocks({{"pc.ram", 2}});
    blocks[0].addr = 0;
    s["config-all-subsections-ignore-shared"] = {
        0, Cat({Header(), Config(c),
                Section(kQevmSectionStart, 2, "ram", 4, RamPayloads(blocks, 5)[0]),
                Section(kQevmSectionEnd, 2, "ram", 4, RamPayloads(blocks, 5)[1]), EofByte()})};
  }
  {
    Bytes bad = Wire()
                    .U8(kQevmConfiguration)
                    .Be(2, 4)
                    .Raw(Str("pc"))
                    .U8(kQevmSubsection)
                    .Counted("configuration/bogus")
                    .Be(1, 4)
                    .bytes();
    s["config-unknown-subsection"] = {0, Cat({Header(), bad, EofByte()})};
    Bytes v2 = Wire()
                   .U8(kQevmConfiguration)
                   .Be(2, 4)
                   .Raw(Str("pc"))
                   .U8(kQevmSubsection)
                   .Counted("configuration/uuid")
                   .Be(2, 4)
                   .bytes();
    s["config-subsection-version-2"] = {0, Cat({Header(), v2, EofByte()})};
    Bytes bits = Config("pc", 16);
    s["config-target-page-bits-16"] = {0, Cat({Header(), bits, EofByte()})};
    Bytes caps = Wire()
                     .U8(kQevmConfiguration)
                     .Be(2, 4)
                     .Raw(Str("pc"))
                     .U8(kQevmSubsection)
                     .Counted("configuration/capabilities")
                     .Be(1, 4)
                     .Be(1, 4)
                     .U8(0)
                     .bytes();
    s["config-empty-capability"] = {0, Cat({Header(), caps, EofByte()})};
  }
  s["config-limits-tight"] = {
      kTight,
      Cat({Header(), Config("pc-i440fx-7.2-and-more", std::nullopt, {"a", "b", "c"}), EofByte()})};
  s["config-capabilities-over-tight-limit"] = {
      kTight, Cat({Header(), Config("pc", std::nullopt, {"a", "b", "c"}), EofByte()})};
  s["config-twice"] = {0, Cat({Header(), Pc(), Pc(), EofByte()})};
  s["header-only-truncated"] = {0, Header()};
  s["header-version-2"] = {0, Wire().Be(kQevmMagic, 4).Be(2, 4).bytes()};
  s["header-version-4"] = {0, Wire().Be(kQevmMagic, 4).Be(4, 4).bytes()};
  s["header-eof-only"] = {0, Cat({Header(), EofByte()})};
  s["header-truncated-magic"] = {0, FromHex({0x51, 0x45, 0x56})};

  // Commands and postcopy.
  s["postcopy-packaged"] = {
      0, Cat({Header(), Pc(), Cmd(kCmdOpenReturnPath), Cmd(kCmdPing, FromHex({0, 0, 0, 1})),
              Advise16(), RamStart(), RamPart(), Cmd(kCmdPostcopyRamDiscard, Discard()),
              Packaged(Cat({Cmd(kCmdPostcopyListen), Timer(), Cmd(kCmdPostcopyRun), EofByte()})),
              RamEnd(), EofByte()})};
  {
    // With the config bit, "pc.ram" carries a page size in MEM_SIZE after a 16-byte ADVISE.
    std::vector<protocol::BlockInfo> blocks = Blocks({{"pc.ram", 2}, {"vga.vram", 1}});
    blocks[0].page_size = 0x200000;
    const std::vector<Bytes> ram = RamPayloads(blocks, 8);
    s["postcopy-packaged-page-size-blocks"] = {
        kPageSizeBlocks,
        Cat({Header(), Pc(), Advise16(), Section(kQevmSectionStart, 2, "ram", 4, ram[0]),
             Section(kQevmSectionPart, 2, "ram", 4, ram[1]), Cmd(kCmdPostcopyListen),
             Section(kQevmSectionEnd, 2, "ram", 4, ram[2]), EofByte()})};
  }
  s["postcopy-advise-empty"] = {
      0, Cat({Header(), Pc(), Cmd(kCmdPostcopyAdvise), Cmd(kCmdPostcopyListen),
              Cmd(kCmdPostcopyRun), RamStart(), RamEnd(), EofByte()})};
  s["postcopy-run-before-listen"] = {
      0, Cat({Header(), Pc(), Cmd(kCmdPostcopyAdvise), Cmd(kCmdPostcopyRun), EofByte()})};
  s["postcopy-listen-before-advise"] = {0, Cat({Header(), Pc(), Cmd(kCmdPostcopyListen)})};
  s["postcopy-discard-before-advise"] = {
      0, Cat({Header(), Pc(), Cmd(kCmdPostcopyRamDiscard, Discard())})};
  s["postcopy-advise-twice"] = {
      0, Cat({Header(), Pc(), Cmd(kCmdPostcopyAdvise), Cmd(kCmdPostcopyAdvise)})};
  s["postcopy-advise-8-bytes"] = {
      0, Cat({Header(), Pc(), Cmd(kCmdPostcopyAdvise, Bytes(8)), EofByte()})};
  s["postcopy-advise-page-8192"] = {
      0, Cat({Header(), Pc(), Cmd(kCmdPostcopyAdvise, Wire().Be(0, 8).Be(8192, 8).bytes())})};
  {
    Bytes d = Discard();
    Bytes v1 = d;
    v1[0] = std::byte{1};
    Bytes odd = d;
    odd.pop_back();
    Bytes short_d = FromHex({0, 1, 'a', 0});
    for (const auto& [name, payload] :
         {std::pair{"version-1", v1}, std::pair{"odd-length", odd}, std::pair{"short", short_d}}) {
      s[std::string("postcopy-discard-") + name] = {
          0, Cat({Header(), Pc(), Cmd(kCmdPostcopyAdvise), Cmd(kCmdPostcopyRamDiscard, payload),
                  EofByte()})};
    }
  }
  s["command-recv-bitmap-resume-colo"] = {
      0, Cat({Header(), Pc(), Cmd(kCmdRecvBitmap, Wire().Counted("pc.ram").bytes()),
              Cmd(kCmdPostcopyResume), Cmd(kCmdEnableColo), EofByte()})};
  s["command-recv-bitmap-bad"] = {0, Cat({Header(), Pc(), Cmd(kCmdRecvBitmap, FromHex({5, 1}))})};
  s["command-ping-3-bytes"] = {0, Cat({Header(), Pc(), Cmd(kCmdPing, FromHex({0, 0, 1}))})};
  s["command-unknown-12"] = {0, Cat({Header(), Pc(), Cmd(12)})};
  s["command-switchover-start-qemu10"] = {
      kQ10, Cat({Header(), Pc(), Cmd(kCmdSwitchoverStart), RamStart(), RamEnd(), EofByte()})};
  s["command-switchover-start-qemu72"] = {0, Cat({Header(), Pc(), Cmd(kCmdSwitchoverStart)})};
  s["command-truncated-payload"] = {
      0, Cat({Header(), Pc(), Wire().U8(kQevmCommand).Be(kCmdPing, 2).Be(4, 2).U8(0).bytes()})};
  s["packaged-nested"] = {
      0, Cat({Header(), Pc(), RamStart(),
              Packaged(Cat({Packaged(Cat({Timer(), RamPart()})), Cmd(kCmdPing, Bytes(4))})),
              RamEnd(), EofByte()})};
  s["packaged-nested-over-tight-depth"] = {kTight, s["packaged-nested"].file};
  {
    const Bytes part = RamPart();
    s["packaged-ram-record-crosses-end"] = {
        0, Cat({Header(), Pc(), RamStart(), Packaged(Bytes(part.begin(), part.end() - 20)),
                EofByte()})};
  }
  s["packaged-device-without-footer"] = {
      0, Cat({Header(), Pc(),
              Packaged(Section(kQevmSectionFull, 0, "timer", 2, TimerState(), false)), EofByte()})};
  s["packaged-bytes-after-eof"] = {
      0, Cat({Header(), Pc(), Packaged(Cat({EofByte(), Cmd(kCmdPing, Bytes(4))})), EofByte()})};
  s["packaged-length-past-parent"] = {
      0, Cat({Header(), Pc(),
              Packaged(Wire().U8(kQevmCommand).Be(kCmdPackaged, 2).Be(4, 2).Be(1000, 4).bytes()),
              EofByte()})};
  s["packaged-header-crosses-end"] = {
      0, Cat({Header(), Pc(), Packaged(FromHex({kQevmSectionFull, 0, 0})), EofByte()})};
  s["packaged-truncated"] = {
      0, Cat({Header(), Pc(),
              Wire().U8(kQevmCommand).Be(kCmdPackaged, 2).Be(4, 2).Be(100, 4).bytes(), Timer()})};
  s["packaged-ram-section-empty-at-end"] = {
      0, Cat({Header(), Pc(), RamStart(),
              Packaged(Section(kQevmSectionPart, 2, "ram", 4, {}, false)), EofByte()})};

  // Sections.
  s["section-ram-instance-1"] = {
      0, Cat({Header(), Pc(),
              Wire().U8(kQevmSectionStart).Be(2, 4).Counted("ram").Be(1, 4).Be(4, 4).bytes()})};
  s["section-ram-version-mismatch"] = {
      kQ2010, Cat({Header(), Section(kQevmSectionStart, 2, "ram", 4, SmallRam()[0], false),
                   Section(kQevmSectionStart, 3, "ram", 3, SmallRam()[2], false), EofByte()})};
  s["section-qemu2010-envelope"] = {
      kQ2010, Cat({Header(), Section(kQevmSectionStart, 2, "ram", 4, SmallRam()[0], false),
                   Section(kQevmSectionPart, 2, "ram", 4, SmallRam()[1], false),
                   Section(kQevmSectionEnd, 2, "ram", 4, SmallRam()[2], false), EofByte()})};
  s["section-part-unknown-id"] = {0,
                                  Cat({Header(), Pc(), FromHex({kQevmSectionPart, 0, 0, 0, 9})})};
  s["section-empty-idstr"] = {0, Cat({Header(), Pc(), FromHex({kQevmSectionFull, 0, 0, 0, 1, 0})})};
  s["section-footer-outside"] = {0, Cat({Header(), Pc(), FromHex({kQevmSectionFooter})})};
  s["section-unknown-type-0x09"] = {0, Cat({Header(), Pc(), FromHex({0x09})})};
  s["section-footer-id-mismatch"] = {
      0, Cat({Header(), Pc(), Section(kQevmSectionStart, 2, "ram", 4, SmallRam()[0], false),
              Wire().U8(kQevmSectionFooter).Be(3, 4).bytes(), EofByte()})};
  s["section-footer-missing"] = {
      kFootersRequired,
      Cat({Header(), Pc(), Section(kQevmSectionStart, 2, "ram", 4, SmallRam()[0], false),
           EofByte()})};
  s["section-footer-in-absent-mode"] = {kFootersAbsent, Cat({Header(), Pc(), RamStart()})};
  s["section-ram-truncated-before-eos"] = {
      0, Cat({Header(), Pc(),
              Wire().U8(kQevmSectionStart).Be(2, 4).Counted("ram").Be(0, 4).Be(4, 4).bytes()})};
  s["section-more-than-tight-limit"] = {
      kTight, Cat({Header(), Pc(), Timer(0), Timer(1), Timer(2), Timer(3), EofByte()})};
  s["device-over-tight-scan-limit"] = {
      kTight, Cat({Header(), Pc(), Section(kQevmSectionFull, 0, "vga", 1, Bytes(100)), EofByte()})};
  s["device-no-footer-truncated"] = {
      0, Cat({Header(), Pc(), Section(kQevmSectionFull, 0, "vga", 1, Bytes(100), false)})};
  s["device-footer-last-in-input"] = {0, Cat({Header(), Pc(), Timer()})};
  s["device-then-part-and-end"] = {
      0, Cat({Header(), Pc(), RamStart(), Timer(7), RamPart(), Timer(7), Cmd(kCmdPing, Bytes(4)),
              RamEnd(), EofByte()})};
  s["ram-xbzrle-passes"] = {
      0,
      protocol::WriteRamOnlyFile(
          "pc-i440fx-7.2", protocol::SplitAtEos(Migration(Blocks({{"pc.ram", 12}}), 3, 31, false),
                                                protocol::Dialect::Qemu72()))};
  s["ram-two-starts"] = {
      0, Cat({Header(), Pc(), RamStart(), RamStart(), RamEnd(), RamEnd(), EofByte()})};
  {
    // A template whose ram sections are START, FULL, END: SpliceRam used to count only STARTs
    // and ENDs and put an END where the FULL was, so the last payload arrived twice and its
    // CONTINUE record followed "vga" instead of "pc.ram". Now it refuses the template
    // (protocol/splice_test.cc, TemplateWithAFullRamSectionIsRejected).
    const Bytes a = GuestPage(3), b = GuestPage(4), c = GuestPage(5);
    s["crash-splice-ram-full-section-sent-end-payload-twice"] = {
        0, Cat({Header(), Pc(),
                Section(kQevmSectionStart, 2, "ram", 4,
                        Wire().MemSize({{"pc.ram", 0x2000}, {"vga", 0x2000}}).Eos().bytes()),
                Section(kQevmSectionFull, 2, "ram", 4, Wire().Page("pc.ram", 0, a).Eos().bytes()),
                Section(kQevmSectionEnd, 2, "ram", 4,
                        Wire().Page("", 0x1000, b).Page("vga", 0, c).Eos().bytes()),
                EofByte()})};
  }
  s["ram-full-section"] = {
      0, Cat({Header(), Pc(), Section(kQevmSectionFull, 2, "ram", 4, SmallRam()[0]), RamEnd(),
              EofByte()})};

  // Record kinds only some dialects have: qemu-10's MULTIFD_FLUSH and accepted HOOK,
  // qemu-2010's ignored flag bits.
  {
    const Bytes part = Wire()
                           .Header(0, kFlagMultifdFlush)
                           .Header(0, kFlagHook)
                           .Zero("pc.ram", 0x1000, 0)
                           .Eos()
                           .bytes();
    s["qemu10-multifd-flush-and-hook"] = {
        kQ10, Cat({Header(), Pc(), RamStart(), Section(kQevmSectionPart, 2, "ram", 4, part),
                   RamEnd(), EofByte()})};
    const Bytes ignored = Wire().Header(0x1000, 0x40).Zero("pc.ram", 0, 0).Eos().bytes();
    s["qemu2010-ignored-flag-bits"] = {
        kQ2010, Cat({Header(), Section(kQevmSectionStart, 2, "ram", 4, SmallRam()[0], false),
                     Section(kQevmSectionPart, 2, "ram", 4, ignored, false),
                     Section(kQevmSectionEnd, 2, "ram", 4, SmallRam()[2], false), EofByte()})};
  }
  s["ram-part-header-at-end-of-input"] = {
      0, Cat({Header(), Pc(), RamStart(), FromHex({kQevmSectionPart, 0, 0, 0, 2})})};
  s["ram-block-over-tight-limit"] = {
      kTight, Cat({Header(), Pc(),
                   Section(kQevmSectionStart, 2, "ram", 4,
                           Wire().MemSize({{"pc.ram", 0x200000}}).Eos().bytes()),
                   EofByte()})};
  {
    Bytes inner;
    for (uint32_t id = 0; id < 8; ++id) {
      const Bytes t = Timer(id);
      inner.insert(inner.end(), t.begin(), t.end());
    }
    s["packaged-over-tight-size"] = {kTight, Cat({Header(), Pc(), Packaged(inner), EofByte()})};
  }
  // qemu-2010 has no commands: a footer followed by 0x08 is not a plausible end.
  s["qemu2010-footer-then-command-byte"] = {
      kQ2010 | kFootersRequired, Cat({Header(), Timer(), FromHex({kQevmCommand, 0, 1, 0, 0})})};

  // EOF and vmdesc.
  const Bytes ram_file = Cat({Header(), Pc(), RamStart(), RamEnd(), EofByte()});
  s["vmdesc-not-json"] = {0, Cat({ram_file, Vmdesc("{not json")})};
  s["vmdesc-not-object"] = {0, Cat({ram_file, Vmdesc("[1, 2]")})};
  s["vmdesc-devices-not-array"] = {0, Cat({ram_file, Vmdesc(R"({"devices": 3})")})};
  s["vmdesc-bad-device-shapes"] = {
      0, Cat({ram_file,
              Vmdesc(R"({"page_size": 4096, "devices": [{"name": "", "instance_id": 0}]})")})};
  s["vmdesc-truncated"] = {0, Cat({ram_file, FromHex({kQevmVmdescription, 0, 0, 1, 0, '{'})})};
  s["vmdesc-over-tight-limit"] = {
      kTight, Cat({ram_file, Vmdesc(std::string(R"({"x": ")") + std::string(600, 'a') + "\"}")})};
  s["vmdesc-then-byte"] = {0, Cat({ram_file, Vmdesc("{}"), FromHex({0})})};
  s["eof-then-byte"] = {0, Cat({ram_file, FromHex({0x07})})};
  s["eof-missing"] = {0, Cat({Header(), Pc(), RamStart(), RamEnd()})};
  {
    // ParseVmdesc's checks, one device each (walk pass only: resync ignores the shapes).
    const char* bad[] = {
        R"({"page_size": -1})",
        R"({"devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2,)"
        R"( "fields": [{"name": "a", "size": 8, "array_len": 0}]}]})",
        R"({"devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2,)"
        R"( "fields": 5}]})",
        R"({"devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2,)"
        R"( "subsections": [{"vmsd_name": "", "version": 1}]}]})",
        R"({"devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2},)"
        R"( {"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2}]})",
        R"({"devices": [{"name": "timer", "instance_id": 4294967296, "vmsd_name": "t", "version": 2}]})",
        R"({"devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "t", "version": 2,)"
        R"( "fields": [{"name": "a", "type": 7, "size": 8}]}]})",
        R"({"devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "t", "version": 2,)"
        R"( "subsections": [{"vmsd_name": "s", "version": 1, "subsections": [{"vmsd_name": "u",)"
        R"( "version": 1, "subsections": [{"vmsd_name": "v", "version": 1}]}]}]}]})",
    };
    std::string many = R"({"devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "t",)"
                       R"( "version": 2, "fields": [)";
    for (int k = 0; k < 17; ++k) many += std::string(k ? ", " : "") + R"({"name": "f", "size": 1})";
    many += "]}]}";
    s["vmdesc-items-over-tight-limit"] = {kTight,
                                          Cat({Header(), Pc(), Timer(), EofByte(), Vmdesc(many)})};
    s["vmdesc-device-bytes-over-tight-limit"] = {
        kTight, Cat({Header(), Pc(), Timer(), EofByte(),
                     Vmdesc(R"({"devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "t",)"
                            R"( "version": 2, "fields": [{"name": "f", "size": 5000}]}]})")})};
    s["vmdesc-device-without-name"] = {
        0, Cat({Header(), Pc(), Timer(), EofByte(),
                Vmdesc(R"({"devices": [{"instance_id": 0, "vmsd_name": "t", "version": 2}]})")})};
    int i = 0;
    for (const char* json : bad) {
      const std::string name = "vmdesc-shape-" + std::to_string(i);
      const uint16_t config = i % 2 == 1 ? kTight : 0;
      s[name] = {config, Cat({Header(), Pc(), Timer(), EofByte(), Vmdesc(json)})};
      ++i;
    }
  }
  return s;
}

// Chunk plans (fuzz_input.h): the default cycle, odd sizes, page-sized and neighbours; small
// streams also go one byte at a time (plan 0x00).
const std::vector<Bytes>& Plans() {
  static const std::vector<Bytes> plans = {
      Bytes(),                                  // the default cycle
      FromHex({0x06, 0x0c, 0x02}),              // 7, 13, 3
      FromHex({0x8c, 0x9c, 0x07, 0x00}),        // 4096, 4097, 8, 1
      FromHex({0xff, 0x1f, 0x84, 0x40, 0x7f}),  // 16391, 32, 16, 65, 128
  };
  return plans;
}

struct Output {
  std::string target;
  std::string name;
  Bytes bytes;
};

std::vector<Output> Generate() {
  std::vector<Output> out;
  size_t i = 0;
  for (const auto& [name, stream] : Streams()) {
    const Bytes& plan =
        stream.size() < 2048 && i % 2 == 0 ? FromHex({0x00}) : Plans()[i % Plans().size()];
    ++i;
    out.push_back({"ram_load_fuzzer", name + ".bin", fuzz::JoinInput(stream, 0, plan)});
    out.push_back({"ram_roundtrip_fuzzer", name + ".bin", stream});
    // The 7.2 streams under the other dialects and with start offsets too.
    const uint16_t config = static_cast<uint16_t>((i % 3) | (i % 2 ? 128 : 0));
    out.push_back(
        {"ram_load_dialects_fuzzer", name + ".bin", fuzz::JoinInput(stream, config, plan)});
  }
  for (const auto& [name, entry] : DialectStreams()) {
    const Bytes& plan = Plans()[i++ % Plans().size()];
    out.push_back({"ram_load_dialects_fuzzer", name + ".bin",
                   fuzz::JoinInput(entry.second, entry.first, plan)});
  }
  for (const auto& [name, bytes] : XbzrleSeeds())
    out.push_back({"xbzrle_fuzzer", name + ".bin", bytes});
  for (const auto& [name, seed] : QevmSeeds()) {
    const Bytes& plan =
        seed.file.size() < 2048 && i % 2 == 0 ? FromHex({0x00}) : Plans()[i % Plans().size()];
    ++i;
    out.push_back(
        {"qevm_file_fuzzer", name + ".qevm", fuzz::JoinInput(seed.file, seed.config, plan)});
  }
  return out;
}

bool ReadAll(const std::filesystem::path& p, Bytes* out) {
  std::ifstream f(p, std::ios::binary);
  if (!f) return false;
  std::vector<char> v((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  out->resize(v.size());
  if (!v.empty()) std::memcpy(out->data(), v.data(), v.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "--out" && std::string(argv[1]) != "--check")) {
    std::fprintf(stderr, "usage: %s --out|--check CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const bool check = std::string(argv[1]) == "--check";
  const std::filesystem::path root = argv[2];
  int bad = 0;
  size_t n = 0;
  for (const Output& o : Generate()) {
    const std::filesystem::path p = root / o.target / o.name;
    ++n;
    if (check) {
      Bytes have;
      if (!ReadAll(p, &have) || have != o.bytes) {
        std::fprintf(stderr, "%s: %s\n", have.empty() ? "missing" : "differs", p.c_str());
        ++bad;
      }
      continue;
    }
    std::filesystem::create_directories(p.parent_path());
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(o.bytes.data()),
            static_cast<std::streamsize>(o.bytes.size()));
    if (!f) {
      std::fprintf(stderr, "cannot write %s\n", p.c_str());
      return 1;
    }
  }
  if (check && bad > 0) {
    std::fprintf(stderr, "%d of %zu seeds out of date: run make_seeds --out %s\n", bad, n,
                 root.c_str());
    return 1;
  }
  std::printf("%s %zu seeds under %s\n", check ? "checked" : "wrote", n, root.c_str());
  return 0;
}
