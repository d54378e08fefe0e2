// ram_roundtrip_fuzzer: the record writer and the Encoder against the decoder and loader.
//
// Input: a raw RAM stream (no trailer). Properties:
//  1. Under each dialect, the decoded records written back with AppendRecord are exactly the
//     bytes they were decoded from: the whole stream when it decodes to the end, else a
//     prefix of it.
//  2. For a stream qemu-7.2 loads, rewriting CONTINUE both ways (every page record naming its
//     block, and every page record that can use CONTINUE using it) loads to the same memory
//     with the same record counts.
//  3. The memory image such a stream leaves behind, sent again by the Encoder (a first pass,
//     then XBZRLE deltas against it), loads back to the same digest.
//
// Run by hand from the source root, after `cmake --preset fuzz && cmake --build --preset fuzz`:
//   mkdir -p /tmp/ram_roundtrip_fuzzer
//   build/fuzz/fuzz/ram_roundtrip_fuzzer -dict=fuzz/dicts/ram_roundtrip_fuzzer.dict
//       -max_total_time=60 /tmp/ram_roundtrip_fuzzer corpus/ram_roundtrip_fuzzer
// (one command line), or `scripts/fuzz ram_roundtrip_fuzzer 60`. Replay files or directories, one
// process per file, every failure reported:
//   build/fuzz/fuzz/ram_roundtrip_fuzzer_replay corpus/ram_roundtrip_fuzzer crash-<sha1>
// In a build without libFuzzer (g++, -DRAMSTREAM_BUILD_FUZZERS=ON) the target itself is that
// replay program: build/<dir>/fuzz/ram_roundtrip_fuzzer corpus/ram_roundtrip_fuzzer
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "fuzz/oracles.h"
#include "protocol/dialect.h"
#include "protocol/encoder.h"
#include "protocol/guest_memory.h"
#include "protocol/loader.h"
#include "protocol/wire_format.h"

namespace {

using namespace ramstream;
using protocol::kPageSize;
using Bytes = std::vector<std::byte>;

// Re-encoding walks every page of every block twice; beyond this the exec/s drop is not worth
// the extra pages, which all behave alike.
constexpr uint64_t kMaxReencodeBytes = uint64_t{1} << 20;

fuzz::LoadConfig Qemu72() {
  fuzz::LoadConfig c;
  c.options.decoder.dialect = protocol::Dialect::Qemu72();
  c.options.decoder.limits = fuzz::FuzzLimits();
  return c;
}

void CheckWriteBack(std::span<const std::byte> stream, const protocol::Dialect& dialect) {
  protocol::DecoderOptions o;
  o.dialect = dialect;
  o.limits = fuzz::FuzzLimits();
  const fuzz::Trace t = fuzz::DecodeChecked(stream, o, fuzz::ChunkPlan::Whole(), true);
  const Bytes written = fuzz::WriteRecords(t.records);
  RAMSTREAM_FUZZ_CHECK(
      written.size() <= stream.size() && std::equal(written.begin(), written.end(), stream.begin()),
      "%s: %zu records written back are not the first %zu bytes of the stream",
      std::string(protocol::DialectName(dialect.id)).c_str(), t.records.size(), written.size());
  RAMSTREAM_FUZZ_CHECK(t.end != protocol::Step::kEnd || written.size() == stream.size(),
                       "%s: a complete stream of %zu bytes writes back as %zu",
                       std::string(protocol::DialectName(dialect.id)).c_str(), stream.size(),
                       written.size());
}

// Writes the records with CONTINUE chosen by `use_continue` (true: wherever the record's block
// is the one CONTINUE would refer to; false: never).
Bytes Recontinue(const std::vector<fuzz::OwnedRecord>& records, bool use_continue) {
  Bytes out;
  std::string last;  // the block CONTINUE refers to: the last page record's
  for (const fuzz::OwnedRecord& owned : records) {
    protocol::Record r = owned.View();
    if (r.is_page()) {
      const std::string block = r.has_continue() ? last : owned.idstr;
      if (use_continue && block == last && !last.empty()) {
        r.flags |= protocol::kFlagContinue;
        r.idstr = {};
      } else {
        r.flags &= ~protocol::kFlagContinue;
        r.idstr = block;
      }
      AppendRecord(r, &out);
      last = block;
      continue;
    }
    AppendRecord(r, &out);
  }
  return out;
}

void CheckRecontinue(const fuzz::LoadResult& loaded, bool use_continue) {
  const Bytes stream = Recontinue(loaded.trace.records, use_continue);
  const fuzz::LoadResult again = fuzz::LoadChecked(stream, Qemu72(), fuzz::ChunkPlan::Whole(), {});
  const char* what = use_continue ? "CONTINUE wherever possible" : "every block named";
  RAMSTREAM_FUZZ_CHECK(again.trace.end == protocol::Step::kEnd, "%s: the rewrite fails: %s", what,
                       again.trace.error.ToString().c_str());
  RAMSTREAM_FUZZ_CHECK(again.digest == loaded.digest, "%s: digest %s, the original gives %s", what,
                       again.digest.c_str(), loaded.digest.c_str());
  RAMSTREAM_FUZZ_CHECK(again.stats.records == loaded.stats.records, "%s: record counts differ",
                       what);
  const auto pages = [](const protocol::LoadStats& s) {
    return s.continue_records + s.named_records;
  };
  RAMSTREAM_FUZZ_CHECK(pages(again.stats) == pages(loaded.stats), "%s: page counts differ", what);
  RAMSTREAM_FUZZ_CHECK(use_continue || again.stats.continue_records == 0,
                       "every block named, yet %llu CONTINUE records",
                       (unsigned long long)again.stats.continue_records);
}

// A page the sender had before its final contents: a few bytes differ, so the second pass
// sends XBZRLE deltas (or PAGE on overflow).
void Older(std::span<std::byte> page, uint64_t salt) {
  for (uint64_t i = 0; i < 1 + salt % 8; ++i) {
    page[(salt * 131 + i * 977) % kPageSize] ^= std::byte{0x5a};
  }
}

void CheckReencode(std::span<const std::byte> stream, const std::string& digest) {
  protocol::GuestMemory memory;
  protocol::LoaderOptions lo;
  lo.decoder.limits = fuzz::FuzzLimits();
  protocol::Loader loader(lo, &memory);
  RAMSTREAM_FUZZ_CHECK(loader.Feed(stream, true) == protocol::LoadStatus::kDone,
                       "Loader::Feed rejects what Apply accepted: %s",
                       loader.error().ToString().c_str());
  RAMSTREAM_FUZZ_CHECK(memory.Digest() == digest, "Feed and Apply load different memory");
  std::vector<protocol::BlockInfo> blocks;
  uint64_t total = 0;
  for (uint32_t b = 0; b < memory.block_count(); ++b) {
    const uint64_t len = memory.used_length(b);
    // The Encoder sends page-aligned, non-empty blocks (a zero total would end MEM_SIZE's
    // list before its entries).
    if (len == 0 || (len & protocol::kFlagMask) != 0) return;
    total += len;
    blocks.push_back({memory.idstr(b), len, std::nullopt, std::nullopt});
  }
  if (blocks.empty() || total > kMaxReencodeBytes) return;

  Bytes sent;
  protocol::EncoderOptions eo;
  eo.xbzrle_cache_bytes = total;
  protocol::Encoder enc(eo, &sent);
  enc.WriteMemSize(blocks);
  enc.WriteEos();
  Bytes page(kPageSize);
  for (int pass = 0; pass < 2; ++pass) {
    if (pass == 1) {
      enc.EnableXbzrle();
      enc.SetCacheAge(1);
    }
    for (uint32_t b = 0; b < blocks.size(); ++b) {
      for (uint64_t off = 0; off < blocks[b].used_length; off += kPageSize) {
        memory.Read(b, off, page);
        if (pass == 0) Older(page, off / kPageSize + b);
        enc.WritePage(b, off, page);
      }
    }
    enc.WriteEos();
  }
  const fuzz::LoadResult back = fuzz::LoadChecked(sent, Qemu72(), fuzz::ChunkPlan::Whole(), {});
  RAMSTREAM_FUZZ_CHECK(back.trace.end == protocol::Step::kEnd,
                       "the Encoder's stream of a loaded image fails to load: %s",
                       back.trace.error.ToString().c_str());
  RAMSTREAM_FUZZ_CHECK(back.digest == digest,
                       "the Encoder's stream of a loaded image loads to %s, not %s",
                       back.digest.c_str(), digest.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> stream = std::as_bytes(std::span<const uint8_t>(data, size));
  for (const protocol::Dialect& d :
       {protocol::Dialect::Qemu72(), protocol::Dialect::Qemu10(), protocol::Dialect::Qemu2010()}) {
    CheckWriteBack(stream, d);
  }
  const fuzz::LoadResult loaded =
      fuzz::LoadChecked(stream, Qemu72(), fuzz::ChunkPlan::Whole(),
                        {.keep_records = true, .check_untargeted_writes = true});
  if (loaded.trace.end != protocol::Step::kEnd) return 0;
  CheckRecontinue(loaded, false);
  CheckRecontinue(loaded, true);
  CheckReencode(stream, loaded.digest);
  return 0;
}
