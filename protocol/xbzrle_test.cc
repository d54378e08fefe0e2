#include "protocol/xbzrle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "protocol/testing/matchers.h"
#include "protocol/wire_format.h"

namespace ramstream::protocol::xbzrle {
namespace {

using testing::HasError;  // ramstream::protocol::testing
using ::testing::HasSubstr;
using testing::IsOk;
using Bytes = std::vector<std::byte>;

Bytes B(std::initializer_list<int> v) {
  Bytes out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

std::string Hex(std::span<const std::byte> s) {
  std::string out;
  char buf[4];
  for (std::byte b : s) {
    std::snprintf(buf, sizeof buf, "%02x ", static_cast<unsigned>(b));
    out += buf;
  }
  if (!out.empty()) out.pop_back();
  return out;
}

Bytes Page(int fill = 0) { return Bytes(kPageSize, static_cast<std::byte>(fill)); }

// Encodes into a buffer of `dlen` bytes and returns the result and the bytes
// written.
struct Encoded {
  int len;
  Bytes bytes;
};
Encoded Enc(const Bytes& old_page, const Bytes& new_page, size_t dlen = kPageSize) {
  Bytes out(dlen);
  const int len = Encode(old_page, new_page, out);
  if (len > 0) out.resize(static_cast<size_t>(len));
  return {len, len > 0 ? out : Bytes{}};
}

// A byte-at-a-time transcription of the rules in docs/ram-stream-format.md 3.5,
// used as the oracle for the word-at-a-time encoder.
int ReferenceEncode(const Bytes& a, const Bytes& b, Bytes* out, size_t dlen) {
  out->assign(dlen, std::byte{0});
  const size_t n = a.size();
  size_t i = 0;
  size_t d = 0;
  auto put = [&](size_t v) {
    if (v < 0x80) {
      (*out)[d++] = static_cast<std::byte>(v);
    } else {
      (*out)[d++] = static_cast<std::byte>((v & 0x7f) | 0x80);
      (*out)[d++] = static_cast<std::byte>(v >> 7);
    }
  };
  while (i < n) {
    if (d + 2 > dlen) return -1;
    size_t zrun = 0;
    while (i < n && a[i] == b[i]) ++i, ++zrun;
    if (zrun == n) return 0;
    if (i == n) break;
    put(zrun);
    if (d + 2 > dlen) return -1;
    const size_t start = i;
    while (i < n && a[i] != b[i]) ++i;
    const size_t nzrun = i - start;
    put(nzrun);
    if (d + nzrun > dlen) return -1;
    for (size_t k = 0; k < nzrun; ++k) (*out)[d++] = b[start + k];
  }
  out->resize(d);
  return static_cast<int>(d);
}

// ---------------------------------------------------------------------------------------------
// Encode: exact bytes

TEST(XbzrleEncode, UnchangedPageEncodesToZero) { EXPECT_EQ(Enc(Page(0x11), Page(0x11)).len, 0); }

TEST(XbzrleEncode, OneChangedByteAtStartIsZrunZeroNzrunOne) {
  Bytes now = Page();
  now[0] = std::byte{0xab};
  const Encoded e = Enc(Page(), now);
  EXPECT_EQ(e.len, 3);
  EXPECT_EQ(Hex(e.bytes), "00 01 ab");
}

TEST(XbzrleEncode, ChangeAt200HasTwoByteZrun) {
  Bytes now = Page();
  now[200] = std::byte{0x42};
  EXPECT_EQ(Hex(Enc(Page(), now).bytes), "c8 01 01 42");
}

TEST(XbzrleEncode, ZrunOf127IsOneByteAnd128IsTwo) {
  Bytes a = Page();
  a[127] = std::byte{1};
  EXPECT_EQ(Hex(Enc(Page(), a).bytes), "7f 01 01");
  Bytes b = Page();
  b[128] = std::byte{1};
  EXPECT_EQ(Hex(Enc(Page(), b).bytes), "80 01 01 01");
}

TEST(XbzrleEncode, LastByteChangedHasZrun4095) {
  Bytes now = Page();
  now[4095] = std::byte{9};
  EXPECT_EQ(Hex(Enc(Page(), now).bytes), "ff 1f 01 09");
}

TEST(XbzrleEncode, TrailingUnchangedRunIsNotEncoded) {
  Bytes now = Page();
  now[3] = std::byte{1};
  now[4] = std::byte{2};
  now[10] = std::byte{3};
  EXPECT_EQ(Hex(Enc(Page(), now).bytes), "03 02 01 02 05 01 03");
}

TEST(XbzrleEncode, RunsCrossingWordBoundaries) {
  Bytes now = Page();
  for (size_t i = 5; i < 21; ++i) now[i] = std::byte{0xee};  // 16 bytes from offset 5
  now[22] = std::byte{0xdd};
  EXPECT_EQ(Hex(Enc(Page(), now).bytes),
            "05 10 ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee ee 01 01 dd");
}

TEST(XbzrleEncode, WholePageChangedNeedsThreeMoreBytesThanAPage) {
  // zrun 0 (00), nzrun 4096 (80 20), then 4096 bytes: 4099 > 4096.
  EXPECT_EQ(Enc(Page(0), Page(1)).len, -1);
  EXPECT_EQ(Enc(Page(0), Page(1), kPageSize + 2).len, -1);
  const Encoded e = Enc(Page(0), Page(1), kPageSize + 3);
  ASSERT_EQ(e.len, 4099);
  EXPECT_EQ(Hex(std::span(e.bytes).first(4)), "00 80 20 01");
}

TEST(XbzrleEncode, EveryOtherByteDifferentOverflows) {
  Bytes now = Page();
  for (size_t i = 1; i < kPageSize; i += 2) now[i] = std::byte{0x5a};
  // 2048 pairs of (01 01 5a) = 6144 bytes.
  EXPECT_EQ(Enc(Page(), now).len, -1);
  EXPECT_EQ(Enc(Page(), now, 6144).len, 6144);
  EXPECT_EQ(Enc(Page(), now, 6143).len, -1);
}

TEST(XbzrleEncode, OverflowCheckedAtTopOfLoopEvenBeforeUnchangedTail) {
  Bytes now = Page();
  now[0] = std::byte{0x77};
  // After "00 01 77" three bytes are used and only an unchanged tail remains,
  // but the top of the loop still wants room for two count bytes.
  EXPECT_EQ(Enc(Page(), now, 3).len, -1);
  EXPECT_EQ(Enc(Page(), now, 4).len, -1);
  const Encoded e = Enc(Page(), now, 5);
  EXPECT_EQ(e.len, 3);
  EXPECT_EQ(Hex(e.bytes), "00 01 77");
}

TEST(XbzrleEncode, OverflowBeforeNzrunCount) {
  Bytes now = Page();
  now[4095] = std::byte{1};
  // zrun "ff 1f" fills 2 of 3 bytes; the nzrun count needs room for 2 more.
  EXPECT_EQ(Enc(Page(), now, 3).len, -1);
  const Encoded e = Enc(Page(), now, 4);
  EXPECT_EQ(e.len, 4);
  EXPECT_EQ(Hex(e.bytes), "ff 1f 01 01");
}

TEST(XbzrleEncode, OverflowBeforeUnchangedTailAfterTwoByteZrun) {
  Bytes now = Page();
  now[200] = std::byte{1};
  // "c8 01 01 01" is complete after 4 bytes, but the unchanged tail that
  // follows is only skipped after the top-of-loop check for 2 more bytes.
  EXPECT_EQ(Enc(Page(), now, 3).len, -1);
  EXPECT_EQ(Enc(Page(), now, 4).len, -1);
  EXPECT_EQ(Enc(Page(), now, 5).len, -1);
  EXPECT_EQ(Enc(Page(), now, 6).len, 4);
}

TEST(XbzrleEncode, OverflowWhenNzrunBytesDoNotFit) {
  Bytes now = Page();
  for (size_t i = 4086; i < kPageSize; ++i) now[i] = std::byte{2};
  // f6 1f (zrun 4086), 0a, then 10 bytes: 13.
  EXPECT_EQ(Enc(Page(), now, 12).len, -1);
  EXPECT_EQ(Enc(Page(), now, 13).len, 13);
}

TEST(XbzrleEncode, WorksOnBuffersThatAreNotAMultipleOfEightBytes) {
  const Bytes old_buf = B({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  const Bytes new_buf = B({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12});
  EXPECT_EQ(Hex(Enc(old_buf, new_buf, 11).bytes), "0a 01 0c");
  EXPECT_EQ(Enc(old_buf, old_buf, 11).len, 0);
  EXPECT_EQ(Enc(Bytes{}, Bytes{}, 0).len, 0);
}

TEST(XbzrleEncode, MatchesByteWiseReferenceOnRandomPages) {
  std::mt19937_64 rng(0x5eed);
  for (int iter = 0; iter < 3000; ++iter) {
    const size_t n = iter % 5 == 0 ? 1 + rng() % 200 : kPageSize;
    Bytes a(n);
    for (auto& x : a) x = static_cast<std::byte>(rng() % 4);  // low entropy: equal bytes
    Bytes b = a;
    const int mode = iter % 4;
    const int edits = mode == 0 ? 1 + rng() % 4 : mode == 1 ? 1 + rng() % 64 : 600;
    for (int k = 0; k < edits; ++k) {
      const size_t pos = rng() % n;
      const size_t len = mode == 3 ? 1 + rng() % 24 : 1;
      for (size_t j = pos; j < std::min(n, pos + len); ++j) b[j] = static_cast<std::byte>(rng());
    }
    const size_t dlen = iter % 3 == 0 ? rng() % (n + 16) : n;
    Bytes want;
    const int want_len = ReferenceEncode(a, b, &want, dlen);
    const Encoded got = Enc(a, b, dlen);
    ASSERT_EQ(got.len, want_len) << "iter " << iter;
    if (want_len > 0) {
      ASSERT_EQ(got.bytes, want) << "iter " << iter;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Validate

TEST(XbzrleValidate, EmptyDeltaIsValid) { EXPECT_THAT(Validate({}, kPageSize), IsOk()); }

TEST(XbzrleValidate, AcceptsEncoderOutput) {
  EXPECT_THAT(Validate(B({0x00, 0x01, 0xab}), kPageSize), IsOk());
  EXPECT_THAT(Validate(B({0xc8, 0x01, 0x01, 0x42}), kPageSize), IsOk());
  EXPECT_THAT(Validate(B({0xff, 0x1f, 0x01, 0x09}), kPageSize), IsOk());
}

TEST(XbzrleValidate, AcceptsNonCanonicalTwoByteCounts) {
  // zrun 0 and nzrun 1, each written as two bytes.
  const Bytes delta = B({0x80, 0x00, 0x81, 0x00, 0x33});
  EXPECT_THAT(Validate(delta, kPageSize), IsOk());
  Bytes page = Page();
  Apply(delta, page);
  EXPECT_EQ(page[0], std::byte{0x33});
  EXPECT_EQ(page[1], std::byte{0});
}

TEST(XbzrleValidate, NzrunEndingExactlyAtPageEndIsValid) {
  EXPECT_THAT(Validate(B({0xff, 0x1f, 0x01, 0x09}), kPageSize), IsOk());
  EXPECT_THAT(Validate(B({0x02, 0x02, 0xaa, 0xbb}), 4), IsOk());
}

struct BadCase {
  const char* name;
  Bytes delta;
  uint64_t offset;
  const char* message;
};

class XbzrleValidateBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(XbzrleValidateBad, FailsAtRunWithMessage) {
  const BadCase& c = GetParam();
  EXPECT_THAT(Validate(c.delta, kPageSize),
              HasError(Code::kBadXbzrle, c.offset, HasSubstr(c.message)));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, XbzrleValidateBad,
    ::testing::Values(
        BadCase{"OneByteDelta", B({0x00}), 0, "zrun at delta offset 0: needs 2 bytes, 1 left"},
        BadCase{"NoRoomForNzrunCount", B({0x00, 0x01}), 1,
                "nzrun at delta offset 1: needs 2 bytes, 1 left"},
        BadCase{"OneByteLeftAfterAPair", B({0x00, 0x01, 0xaa, 0x05}), 3,
                "zrun at delta offset 3: needs 2 bytes"},
        BadCase{"ThreeByteZrun", B({0x80, 0x80, 0x01, 0x01, 0x00}), 0,
                "zrun at delta offset 0: ULEB128 longer than 2 bytes"},
        BadCase{"ThreeByteNzrun", B({0x00, 0xff, 0xff, 0x00}), 1,
                "nzrun at delta offset 1: ULEB128 longer than 2 bytes"},
        BadCase{"LaterZrunOfZero", B({0x00, 0x01, 0xaa, 0x00, 0x01, 0xbb}), 3,
                "zrun of 0 at delta offset 3"},
        BadCase{"LaterNonCanonicalZrunOfZero", B({0x00, 0x01, 0xaa, 0x80, 0x00, 0x01, 0xbb}), 3,
                "zrun of 0 at delta offset 3"},
        BadCase{"NzrunOfZero", B({0x05, 0x00, 0xaa}), 1, "nzrun of 0 at delta offset 1"},
        BadCase{"ZrunPastPageEnd", B({0x81, 0x20, 0x01, 0xaa}), 0,
                "zrun of 4097 at delta offset 0 skips past page end (0 + 4097 "
                "> 4096)"},
        BadCase{"NzrunAfterFullZrun", B({0x80, 0x20, 0x01, 0xaa}), 2,
                "nzrun of 1 at delta offset 2 writes past page end (4096 + 1 > "
                "4096)"},
        BadCase{"NzrunPastPageEnd",
                B({0x00, 0x02, 0x61, 0x62, 0x01, 0x01, 0x63, 0x01, 0x01, 0x64, 0xf7, 0x1f, 0x05, 1,
                   2, 3, 4, 5}),
                12,
                "nzrun of 5 at delta offset 12 writes past page end (4093 + 5 "
                "> 4096)"},
        BadCase{"NzrunPastDeltaEnd", B({0x00, 0x05, 0xaa, 0xbb}), 1,
                "nzrun of 5 at delta offset 1 reads past delta end (2 + 5 > 4)"}),
    [](const ::testing::TestParamInfo<BadCase>& param) { return param.param.name; });

TEST(XbzrleValidate, PageLengthIsAParameter) {
  const Error e = Validate(B({0x03, 0x02, 0xaa, 0xbb}), 4);
  EXPECT_THAT(e, HasError(Code::kBadXbzrle, 1, HasSubstr("(3 + 2 > 4)")));
}

// ---------------------------------------------------------------------------------------------
// Encode -> Validate -> Apply

TEST(XbzrleRoundTrip, ApplyOfEncodeRebuildsNewPage) {
  std::mt19937_64 rng(20240607);
  int encoded = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    Bytes old_page(kPageSize);
    for (auto& x : old_page) x = static_cast<std::byte>(rng());
    Bytes new_page = old_page;
    // Sparse (a few bytes), clustered (short bursts) and dense (every few
    // bytes) changes.
    const int mode = iter % 3;
    const int edits = mode == 0 ? 1 + rng() % 8 : mode == 1 ? 1 + rng() % 40 : 900;
    for (int k = 0; k < edits; ++k) {
      const size_t pos = rng() % kPageSize;
      const size_t len = mode == 1 ? 1 + rng() % 100 : 1;
      for (size_t j = pos; j < std::min<size_t>(kPageSize, pos + len); ++j) {
        new_page[j] = static_cast<std::byte>(rng());
      }
    }
    Bytes delta(kPageSize);
    const int len = Encode(old_page, new_page, delta);
    if (len == 0) {
      EXPECT_EQ(old_page, new_page);
      continue;
    }
    if (len < 0) {
      Bytes ref;
      EXPECT_EQ(ReferenceEncode(old_page, new_page, &ref, kPageSize), -1);
      continue;
    }
    ++encoded;
    delta.resize(static_cast<size_t>(len));
    const Error e = Validate(delta, kPageSize);
    ASSERT_THAT(e, IsOk()) << "iter " << iter;
    Bytes page = old_page;
    Apply(delta, page);
    ASSERT_EQ(page, new_page) << "iter " << iter;
  }
  EXPECT_GT(encoded, 1000);
}

TEST(XbzrleRoundTrip, SingleByteChangeAtEveryPosition) {
  const Bytes old_page = Page(0x10);
  for (size_t pos = 0; pos < kPageSize; ++pos) {
    Bytes new_page = old_page;
    new_page[pos] = std::byte{0x20};
    Bytes delta(kPageSize);
    const int len = Encode(old_page, new_page, delta);
    ASSERT_EQ(len, pos == 0 ? 3 : pos < 128 ? 3 : 4) << pos;
    delta.resize(static_cast<size_t>(len));
    ASSERT_THAT(Validate(delta, kPageSize), IsOk()) << pos;
    Bytes page = old_page;
    Apply(delta, page);
    ASSERT_EQ(page, new_page) << pos;
  }
}

}  // namespace
}  // namespace ramstream::protocol::xbzrle
