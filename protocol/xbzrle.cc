#include "protocol/xbzrle.h"

#include <bit>
#include <cassert>
#include <climits>
#include <cstring>
#include <string>

#include "protocol/wire_format.h"

namespace ramstream::protocol::xbzrle {
namespace {

using Word = uint64_t;
constexpr size_t kWordSize = sizeof(Word);
constexpr Word kLow7 = 0x7f7f7f7f7f7f7f7fULL;

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "mixed-endian hosts are not supported");

// Unaligned 8-byte load without UB: compilers turn the memcpy into one mov.
inline Word Load(const std::byte* p) {
  Word w;
  std::memcpy(&w, p, sizeof w);
  return w;
}

// Number of whole bytes before the first byte of `w` (in memory order) that has
// a bit set. REQUIRES: w != 0.
inline size_t FirstMarkedByte(Word w) {
  if constexpr (std::endian::native == std::endian::little) {
    return static_cast<size_t>(std::countr_zero(w)) / 8;
  } else {
    return static_cast<size_t>(std::countl_zero(w)) / 8;
  }
}

// 0x80 in exactly the bytes of `x` that are zero, 0 elsewhere. Unlike the
// classic (x - 0x01..) & ~x & 0x80.. test this has no false positives above a
// zero byte, so it works for either byte order.
inline Word ZeroBytes(Word x) { return ~(((x & kLow7) + kLow7) | x | kLow7); }

// Returns the end of the maximal run of equal bytes starting at i.
size_t ScanEqual(const std::byte* a, const std::byte* b, size_t i, size_t n) {
  // Dense deltas are mostly runs of one or two bytes: settle those without a
  // word load.
  for (size_t k = 0; k < 2 && i < n; ++k, ++i) {
    if (a[i] != b[i]) return i;
  }
  while (n - i >= kWordSize) {
    const Word diff = Load(a + i) ^ Load(b + i);
    if (diff != 0) return i + FirstMarkedByte(diff);
    i += kWordSize;
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Returns the end of the maximal run of differing bytes starting at i.
size_t ScanDiff(const std::byte* a, const std::byte* b, size_t i, size_t n) {
  for (size_t k = 0; k < 2 && i < n; ++k, ++i) {
    if (a[i] == b[i]) return i;
  }
  while (n - i >= kWordSize) {
    const Word same = ZeroBytes(Load(a + i) ^ Load(b + i));
    if (same != 0) return i + FirstMarkedByte(same);
    i += kWordSize;
  }
  while (i < n && a[i] != b[i]) ++i;
  return i;
}

// ULEB128 of at most two bytes (QEMU's uleb128_encode_small). REQUIRES: v <=
// kXbzrleMaxRun.
inline size_t PutUleb(std::byte* out, size_t v) {
  if (v < 0x80) {
    out[0] = static_cast<std::byte>(v);
    return 1;
  }
  out[0] = static_cast<std::byte>((v & 0x7f) | 0x80);
  out[1] = static_cast<std::byte>(v >> 7);
  return 2;
}

// QEMU's uleb128_decode_small: a second byte with 0x80 set would start a third
// byte, which it refuses. REQUIRES: two readable bytes at p. Returns the width
// (1 or 2), or 0 when invalid.
inline size_t GetUleb(const std::byte* p, uint32_t* v) {
  const auto b0 = static_cast<uint32_t>(p[0]);
  if ((b0 & 0x80) == 0) {
    *v = b0;
    return 1;
  }
  const auto b1 = static_cast<uint32_t>(p[1]);
  if ((b1 & 0x80) != 0) return 0;
  *v = (b0 & 0x7f) | (b1 << 7);
  return 2;
}

Error Bad(size_t offset, std::string message) {
  return Error{Code::kBadXbzrle, offset, std::move(message)};
}

std::string At(std::string_view run, size_t offset) {
  std::string s(run);
  s += " at delta offset ";
  s += std::to_string(offset);
  return s;
}

}  // namespace

int Encode(std::span<const std::byte> old_page, std::span<const std::byte> new_page,
           std::span<std::byte> out) {
  assert(old_page.size() == new_page.size());
  assert(out.size() <= static_cast<size_t>(INT_MAX));
  const std::byte* a = old_page.data();
  const std::byte* b = new_page.data();
  const size_t n = new_page.size();
  const size_t dlen = out.size();
  size_t i = 0;
  size_t d = 0;
  while (i < n) {
    // QEMU checks room for two count bytes before looking at the data, so a
    // buffer that is full right before an unchanged tail still overflows.
    if (d + 2 > dlen) return -1;
    const size_t zstart = i;
    i = ScanEqual(a, b, i, n);
    const size_t zrun = i - zstart;
    if (zrun == n) return 0;
    // A trailing unchanged run is implied by the page length.
    if (i == n) return static_cast<int>(d);
    // QEMU asserts on runs it cannot express; only pages over 16 KiB can have
    // them, and treating them as overflow sends such a page whole instead of
    // aborting.
    if (zrun > kXbzrleMaxRun) return -1;
    d += PutUleb(out.data() + d, zrun);

    if (d + 2 > dlen) return -1;
    const size_t nstart = i;
    i = ScanDiff(a, b, i, n);
    const size_t nzrun = i - nstart;
    if (nzrun > kXbzrleMaxRun) return -1;
    d += PutUleb(out.data() + d, nzrun);
    if (d + nzrun > dlen) return -1;
    // Dense deltas are mostly 1-3 byte runs, where a libc memcpy call costs
    // more than the copy itself.
    if (nzrun <= 8) {
      for (size_t k = 0; k < nzrun; ++k) out[d + k] = b[nstart + k];
    } else {
      std::memcpy(out.data() + d, b + nstart, nzrun);
    }
    d += nzrun;
  }
  // Only an empty page gets here.
  return static_cast<int>(d);
}

Error Validate(std::span<const std::byte> delta, size_t page_len) {
  const std::byte* src = delta.data();
  const size_t slen = delta.size();
  size_t i = 0;
  size_t d = 0;
  while (i < slen) {
    const size_t zpos = i;
    // QEMU insists on two bytes before every count, even a one-byte one.
    if (slen - i < 2) {
      return Bad(zpos, At("zrun", zpos) + ": needs 2 bytes, " + std::to_string(slen - i) +
                           " left in delta of " + std::to_string(slen));
    }
    uint32_t zrun = 0;
    size_t w = GetUleb(src + i, &zrun);
    if (w == 0) return Bad(zpos, At("zrun", zpos) + ": ULEB128 longer than 2 bytes");
    if (i != 0 && zrun == 0) {
      return Bad(zpos, At("zrun of 0", zpos) + ": only the first zrun may be 0");
    }
    i += w;
    if (d + zrun > page_len) {
      return Bad(zpos, At("zrun of " + std::to_string(zrun), zpos) + " skips past page end (" +
                           std::to_string(d) + " + " + std::to_string(zrun) + " > " +
                           std::to_string(page_len) + ")");
    }
    d += zrun;

    const size_t npos = i;
    if (slen - i < 2) {
      return Bad(npos, At("nzrun", npos) + ": needs 2 bytes, " + std::to_string(slen - i) +
                           " left in delta of " + std::to_string(slen));
    }
    uint32_t nzrun = 0;
    w = GetUleb(src + i, &nzrun);
    if (w == 0) return Bad(npos, At("nzrun", npos) + ": ULEB128 longer than 2 bytes");
    if (nzrun == 0) return Bad(npos, At("nzrun of 0", npos) + ": nzrun must be at least 1");
    i += w;
    if (d + nzrun > page_len) {
      return Bad(npos, At("nzrun of " + std::to_string(nzrun), npos) + " writes past page end (" +
                           std::to_string(d) + " + " + std::to_string(nzrun) + " > " +
                           std::to_string(page_len) + ")");
    }
    if (i + nzrun > slen) {
      return Bad(npos, At("nzrun of " + std::to_string(nzrun), npos) + " reads past delta end (" +
                           std::to_string(i) + " + " + std::to_string(nzrun) + " > " +
                           std::to_string(slen) + ")");
    }
    i += nzrun;
    d += nzrun;
  }
  return Error{};
}

void Apply(std::span<const std::byte> delta, std::span<std::byte> page) {
  const std::byte* src = delta.data();
  const size_t slen = delta.size();
  size_t i = 0;
  size_t d = 0;
  while (i < slen) {
    uint32_t zrun = 0;
    i += GetUleb(src + i, &zrun);
    d += zrun;
    uint32_t nzrun = 0;
    i += GetUleb(src + i, &nzrun);
    assert(d + nzrun <= page.size() && i + nzrun <= slen);
    std::memcpy(page.data() + d, src + i, nzrun);
    i += nzrun;
    d += nzrun;
  }
}

}  // namespace ramstream::protocol::xbzrle
