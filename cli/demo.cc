// `ramstream demo`: the README's first command. Encodes a small guest (two blocks, data and
// zero pages, a second pass with XBZRLE deltas) with the reference encoder, then decodes and
// loads it back and checks that the loaded memory equals what was sent.
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "cli/commands.h"
#include "protocol/encoder.h"
#include "protocol/loader.h"

namespace ramstream::cli {
namespace {

using protocol::BlockInfo;

int RunDemo(uint64_t ram_mib, uint64_t seed) {
  const std::vector<BlockInfo> blocks = {{"pc.ram", ram_mib << 20, {}, {}},
                                         {"pc.bios", 256 << 10, {}, {}}};
  std::mt19937_64 rng(seed);
  // The source's memory: 1 page in 4 holds data, the rest stays zero.
  std::vector<std::vector<std::byte>> source;
  for (const BlockInfo& b : blocks) {
    std::vector<std::byte> mem(b.used_length);
    for (uint64_t off = 0; off < b.used_length; off += protocol::kPageSize) {
      if (rng() % 4 != 0) continue;
      for (uint64_t i = 0; i < protocol::kPageSize; i += 8) {
        const uint64_t w = rng();
        std::memcpy(&mem[off + i], &w, 8);
      }
    }
    source.push_back(std::move(mem));
  }

  std::vector<std::byte> stream;
  protocol::EncoderOptions eo;
  eo.xbzrle_cache_bytes = 64 << 20;
  protocol::Encoder enc(eo, &stream);
  enc.WriteMemSize(blocks);
  enc.WriteEos();
  auto send = [&](uint32_t b, uint64_t off) {
    enc.WritePage(b, off, std::span<const std::byte>(&source[b][off], protocol::kPageSize));
  };
  // The bulk pass sends every page.
  for (uint32_t b = 0; b < blocks.size(); ++b) {
    for (uint64_t off = 0; off < blocks[b].used_length; off += protocol::kPageSize) send(b, off);
  }
  enc.WriteEos();
  // Then, as in QEMU, XBZRLE starts; each later pass re-sends what the guest dirtied: a
  // working set of 256 pages of pc.ram, a few bytes each time. The first re-send of a page
  // misses the cache (PAGE), later ones are deltas (XBZRLE).
  enc.EnableXbzrle();
  const uint64_t ram_pages = blocks[0].used_length / protocol::kPageSize;
  std::vector<uint64_t> working_set;
  for (int i = 0; i < 256; ++i) working_set.push_back((rng() % ram_pages) * protocol::kPageSize);
  for (uint64_t pass = 1; pass <= 4; ++pass) {
    enc.SetCacheAge(pass);
    for (uint64_t off : working_set) {
      source[0][off + rng() % protocol::kPageSize] ^= std::byte{0x5a};
      send(0, off);
    }
    enc.WriteEos();
  }

  protocol::GuestMemory mem;
  protocol::Loader loader({}, &mem);
  const protocol::LoadStatus st = loader.Feed(stream, /*end_of_input=*/true);
  if (st != protocol::LoadStatus::kDone) {
    std::printf("demo: load failed: %s\n", loader.error().ToString().c_str());
    return kExitRejected;
  }
  // Compare every block with the source.
  uint64_t bad_pages = 0;
  std::vector<std::byte> page(protocol::kPageSize);
  for (uint32_t b = 0; b < blocks.size(); ++b) {
    for (uint64_t off = 0; off < blocks[b].used_length; off += protocol::kPageSize) {
      mem.Read(b, off, page);
      if (std::memcmp(page.data(), &source[b][off], protocol::kPageSize) != 0) ++bad_pages;
    }
  }
  const protocol::LoadStats& s = loader.stats();
  const protocol::EncoderStats& es = enc.stats();
  std::printf(
      "encoded %zu bytes: %llu PAGE, %llu ZERO, %llu XBZRLE records (%llu unchanged pages "
      "not sent), %llu EOS\n",
      stream.size(), (unsigned long long)es.normal_pages, (unsigned long long)es.zero_pages,
      (unsigned long long)es.xbzrle_pages, (unsigned long long)es.xbzrle_unchanged,
      (unsigned long long)es.eos);
  std::printf("CONTINUE: %llu of %llu page records omitted their idstr, saving %llu bytes\n",
              (unsigned long long)s.continue_records,
              (unsigned long long)(s.continue_records + s.named_records),
              (unsigned long long)s.continue_saved_bytes);
  std::printf("loaded: %zu blocks, digest %s, %llu pages differ from the source\n",
              mem.block_count(), mem.Digest().c_str(), (unsigned long long)bad_pages);
  return bad_pages == 0 ? kExitOk : kExitRejected;
}

}  // namespace

void AddDemoCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("demo", "encode a generated guest, decode and load it back");
  auto ram_mib = std::make_shared<uint64_t>(64);
  auto seed = std::make_shared<uint64_t>(1);
  cmd->add_option("--ram-mib", *ram_mib, "size of pc.ram in MiB")->capture_default_str();
  cmd->add_option("--seed", *seed, "random seed")->capture_default_str();
  cmd->callback([=] { *exit_code = RunDemo(*ram_mib, *seed); });
}

}  // namespace ramstream::cli
