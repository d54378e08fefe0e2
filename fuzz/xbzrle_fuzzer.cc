// xbzrle_fuzzer: xbzrle::Validate / Apply / Encode against a reference page.
//
// Input layout:
//   byte 0      control: bit 7 page length from bytes 1-2 (else 4096); bit 6 the page
//               material repeats (else zero padding); bit 5 coarse edits for the new page;
//               bits 0-2 the second Encode buffer's size, -4 .. +3 around the encoding's
//   bytes 1-2   be16 page length selector (1 .. 20000, past the 0x3fff run limit)
//   bytes 3-4   be16 split: how many of the remaining bytes make the page material
//   rest        page material, then the delta
// Properties:
//  1. Validate agrees with a plain reference decoder written from the spec (section 3.5):
//     same verdict, same error offset; an accepted delta, applied to a page buffer of exactly
//     the page length (ASan catches a write past it), gives the reference's page.
//  2. For (old, new) pages derived from the input, Encode into buffers of several sizes:
//     0 only for equal pages, a positive length only if Validate accepts the output and Apply
//     turns old into new, and -1 only when the encoding does not fit (with 2 bytes of slack,
//     QEMU's check before every count).
//
// Run by hand from the source root, after `cmake --preset fuzz && cmake --build --preset fuzz`:
//   mkdir -p /tmp/xbzrle_fuzzer
//   build/fuzz/fuzz/xbzrle_fuzzer -dict=fuzz/dicts/xbzrle_fuzzer.dict
//       -max_total_time=60 /tmp/xbzrle_fuzzer corpus/xbzrle_fuzzer
// (one command line), or `scripts/fuzz xbzrle_fuzzer 60`. Replay files or directories, one
// process per file, every failure reported:
//   build/fuzz/fuzz/xbzrle_fuzzer_replay corpus/xbzrle_fuzzer crash-<sha1>
// In a build without libFuzzer (g++, -DRAMSTREAM_BUILD_FUZZERS=ON) the target itself is that
// replay program: build/<dir>/fuzz/xbzrle_fuzzer corpus/xbzrle_fuzzer
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "fuzz/oracles.h"
#include "protocol/error.h"
#include "protocol/wire_format.h"
#include "protocol/xbzrle.h"

namespace {

using namespace ramstream;
namespace xbzrle = protocol::xbzrle;
using Bytes = std::vector<std::byte>;

constexpr size_t kMaxPageLen = 20000;

// The reference: QEMU's xbzrle_decode_buffer rules, one step at a time. Returns the offset of
// the failing count inside the delta, or -1 when the delta is valid (then `page`, if given,
// has it applied).
long ReferenceDecode(std::span<const std::byte> delta, size_t page_len, std::byte* page) {
  size_t i = 0;
  size_t d = 0;
  auto read_count = [&](uint32_t* v) -> bool {
    if (delta.size() - i < 2) return false;
    const auto b0 = static_cast<uint32_t>(delta[i]);
    if (b0 < 0x80) {
      *v = b0;
      i += 1;
      return true;
    }
    const auto b1 = static_cast<uint32_t>(delta[i + 1]);
    if (b1 >= 0x80) return false;
    *v = (b0 & 0x7f) | b1 << 7;
    i += 2;
    return true;
  };
  while (i < delta.size()) {
    const size_t zpos = i;
    uint32_t zrun = 0;
    if (!read_count(&zrun) || (zpos != 0 && zrun == 0) || d + zrun > page_len) {
      return static_cast<long>(zpos);
    }
    d += zrun;
    const size_t npos = i;
    uint32_t nzrun = 0;
    if (!read_count(&nzrun) || nzrun == 0 || d + nzrun > page_len || i + nzrun > delta.size()) {
      return static_cast<long>(npos);
    }
    if (page != nullptr) std::memcpy(page + d, delta.data() + i, nzrun);
    i += nzrun;
    d += nzrun;
  }
  return -1;
}

// An exactly sized heap copy, so ASan flags any access past `n`.
std::unique_ptr<std::byte[]> Exact(std::span<const std::byte> src, size_t n) {
  auto p = std::make_unique<std::byte[]>(n);
  std::memcpy(p.get(), src.data(), std::min(n, src.size()));
  return p;
}

void CheckDecode(std::span<const std::byte> delta, std::span<const std::byte> page) {
  const size_t len = page.size();
  const protocol::Error e = xbzrle::Validate(delta, len);
  Bytes expect(page.begin(), page.end());
  const long ref = ReferenceDecode(delta, len, expect.data());
  RAMSTREAM_FUZZ_CHECK(e.ok() == (ref < 0), "Validate says '%s', the reference %s at %ld",
                       e.ok() ? "ok" : e.message.c_str(), ref < 0 ? "accepts" : "rejects", ref);
  if (!e.ok()) {
    RAMSTREAM_FUZZ_CHECK(e.code == protocol::Code::kBadXbzrle && e.offset == uint64_t(ref),
                         "Validate fails at %llu with code %u, the reference at %ld",
                         (unsigned long long)e.offset, static_cast<unsigned>(e.code), ref);
    return;
  }
  auto out = Exact(page, len);
  auto in = Exact(delta, delta.size());
  xbzrle::Apply(std::span<const std::byte>(in.get(), delta.size()),
                std::span<std::byte>(out.get(), len));
  RAMSTREAM_FUZZ_CHECK(std::memcmp(out.get(), expect.data(), len) == 0,
                       "Apply and the reference produce different pages");
}

void CheckEncode(std::span<const std::byte> old_page, std::span<const std::byte> new_page,
                 size_t out_size) {
  const size_t len = old_page.size();
  // Large enough for any page up to kMaxPageLen: counts are at most 2 bytes per run and runs
  // alternate, so even one-byte runs stay within 3 bytes per 2 page bytes + slack.
  Bytes big(2 * len + 16);
  const int full = xbzrle::Encode(old_page, new_page, big);
  const bool equal = std::equal(old_page.begin(), old_page.end(), new_page.begin());
  RAMSTREAM_FUZZ_CHECK((full == 0) == equal, "Encode returns %d for %s pages", full,
                       equal ? "equal" : "different");
  RAMSTREAM_FUZZ_CHECK(full >= 0 || len > protocol::kXbzrleMaxRun,
                       "Encode overflows a %zu-byte buffer for a %zu-byte page", big.size(), len);

  auto out = std::make_unique<std::byte[]>(std::max<size_t>(out_size, 1));
  const int got = xbzrle::Encode(old_page, new_page, std::span<std::byte>(out.get(), out_size));
  RAMSTREAM_FUZZ_CHECK(got >= -1 && got <= static_cast<int>(out_size),
                       "Encode returned %d for a %zu-byte buffer", got, out_size);
  if (got > 0) {
    RAMSTREAM_FUZZ_CHECK(got == full && std::memcmp(out.get(), big.data(), size_t(got)) == 0,
                         "Encode output depends on the buffer size (%d vs %d)", got, full);
    const std::span<const std::byte> delta(out.get(), size_t(got));
    const protocol::Error e = xbzrle::Validate(delta, len);
    RAMSTREAM_FUZZ_CHECK(e.ok(), "Validate rejects Encode's own output: %s", e.message.c_str());
    auto page = Exact(old_page, len);
    xbzrle::Apply(delta, std::span<std::byte>(page.get(), len));
    RAMSTREAM_FUZZ_CHECK(std::memcmp(page.get(), new_page.data(), len) == 0,
                         "encode -> apply does not give the new page back");
  } else if (got == 0) {
    RAMSTREAM_FUZZ_CHECK(equal, "Encode says unchanged for different pages");
  } else if (full >= 0) {
    RAMSTREAM_FUZZ_CHECK(size_t(full) + 2 > out_size,
                         "Encode overflows a %zu-byte buffer with a %d-byte encoding", out_size,
                         full);
  }
}

uint16_t Be16(std::span<const std::byte> d, size_t at) {
  if (d.size() < at + 2) return 0;
  return static_cast<uint16_t>(static_cast<uint16_t>(d[at]) << 8 |
                               static_cast<uint16_t>(d[at + 1]));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> in = std::as_bytes(std::span<const uint8_t>(data, size));
  if (in.empty()) return 0;
  const auto ctrl = static_cast<uint8_t>(in[0]);
  const size_t len = (ctrl & 0x80) ? 1 + Be16(in, 1) % kMaxPageLen : protocol::kPageSize;
  const std::span<const std::byte> rest = in.subspan(std::min<size_t>(5, in.size()));
  const size_t split = std::min<size_t>(Be16(in, 3), rest.size());
  const std::span<const std::byte> material = rest.first(split);
  const std::span<const std::byte> delta = rest.subspan(split);

  Bytes page(len);
  if (!material.empty()) {
    for (size_t i = 0; i < len; ++i) {
      if (i >= material.size() && !(ctrl & 0x40)) break;
      page[i] = material[i % material.size()];
    }
  }
  CheckDecode(delta, page);

  // The new page: the delta's bytes as (skip, value) edits of the old one, so unchanged and
  // changed runs of every length appear.
  Bytes changed = page;
  const size_t stride = (ctrl & 0x20) ? 61 : 1;
  size_t at = 0;
  for (size_t i = 0; i + 1 < delta.size(); i += 2) {
    at += static_cast<size_t>(delta[i]) * stride;
    if (at >= len) break;
    changed[at++] = delta[i + 1];
  }
  // Buffer sizes: the page length QEMU uses, and one chosen by the input around the encoding's
  // own length, where the overflow checks decide.
  CheckEncode(page, changed, len);
  Bytes probe(2 * len + 16);
  const int full = xbzrle::Encode(page, changed, probe);
  if (full > 0) {
    const long around = long{full} + (ctrl & 0x07) - 4;
    CheckEncode(page, changed, static_cast<size_t>(std::max(around, 0L)));
  }
  return 0;
}
