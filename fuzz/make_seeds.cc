// make_seeds: writes the seed corpora corpus/<target>/ from ramstream's own Encoder and a few
// hand-built edge cases, deterministically (no clock, no randomness beyond fixed seeds).
//
//   make_seeds --out corpus      (re)write the generated seeds (other files are left alone)
//   make_seeds --check corpus    exit 1 if a generated seed is missing or differs (CTest)
//
// Seeds for ram_load_fuzzer and ram_load_dialects_fuzzer carry the trailer of
// fuzz/fuzz_input.h (config bits, chunk plan); ram_roundtrip_fuzzer's are plain streams;
// xbzrle_fuzzer's follow the layout in xbzrle_fuzzer.cc. Names say what each one exercises.
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "protocol/encoder.h"
#include "protocol/records.h"
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
