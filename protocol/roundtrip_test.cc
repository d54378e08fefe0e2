// Seeded property tests over generated migrations: for random guests sent the way QEMU 7.2's
// sender does (bulk pass, then XBZRLE passes over dirtied pages, block switches, resets),
//  - loading the stream gives back exactly the source's memory,
//  - decoding then writing every record reproduces the stream byte for byte,
//  - the loader's counters agree with the encoder's.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "protocol/encoder.h"
#include "protocol/loader.h"
#include "protocol/testing/matchers.h"
#include "protocol/testing/streams.h"

namespace ramstream::protocol {
namespace {

using testing::Bytes;
using testing::IsOk;

struct Migration {
  std::vector<BlockInfo> blocks;
  std::vector<Bytes> memory;  // the source's final memory, per block
  Bytes stream;
  EncoderStats stats;
};

void Mutate(std::mt19937_64& rng, std::byte* page) {
  switch (rng() % 4) {
    case 0:  // a few bytes, as an incrementing guest does: XBZRLE material
      for (int i = 0, n = 1 + rng() % 4; i < n; ++i) page[rng() % kPageSize] ^= std::byte{0x21};
      break;
    case 1:  // a run
    {
      const size_t at = rng() % kPageSize, n = std::min<size_t>(1 + rng() % 600, kPageSize - at);
      for (size_t i = 0; i < n; ++i) page[at + i] = static_cast<std::byte>(rng());
      break;
    }
    case 2:  // the whole page: overflows XBZRLE
      for (size_t i = 0; i < kPageSize; ++i) page[i] = static_cast<std::byte>(rng());
      break;
    default:  // back to zero
      std::memset(page, 0, kPageSize);
  }
}

Migration Generate(uint64_t seed) {
  std::mt19937_64 rng(seed);
  Migration m;
  const int nblocks = 1 + rng() % 4;
  for (int b = 0; b < nblocks; ++b) {
    const uint64_t pages = 1 + rng() % 48;
    m.blocks.push_back({"blk" + std::to_string(b) + std::string(rng() % 20, 'x'), pages * kPageSize,
                        std::nullopt, std::nullopt});
    m.memory.emplace_back(pages * kPageSize);
    for (uint64_t p = 0; p < pages; ++p) {
      if (rng() % 3 == 0) Mutate(rng, &m.memory.back()[p * kPageSize]);
    }
  }
  EncoderOptions eo;
  eo.xbzrle_cache_bytes = (rng() % 2) ? (uint64_t{1} << (12 + rng() % 6)) : 0;
  Encoder enc(eo, &m.stream);
  enc.WriteMemSize(m.blocks);
  enc.WriteEos();
  auto send = [&](uint32_t b, uint64_t off) {
    enc.WritePage(b, off, std::span<const std::byte>(&m.memory[b][off], kPageSize));
  };
  for (uint32_t b = 0; b < m.blocks.size(); ++b) {
    for (uint64_t off = 0; off < m.blocks[b].used_length; off += kPageSize) send(b, off);
  }
  enc.WriteEos();
  enc.EnableXbzrle();
  for (uint64_t pass = 1, passes = 1 + rng() % 5; pass <= passes; ++pass) {
    enc.SetCacheAge(pass);
    if (rng() % 4 == 0) enc.ResetLastBlock();
    for (int i = 0, n = rng() % 40; i < n; ++i) {
      const uint32_t b = rng() % m.blocks.size();
      const uint64_t off = (rng() % (m.blocks[b].used_length / kPageSize)) * kPageSize;
      if (rng() % 4 != 0) Mutate(rng, &m.memory[b][off]);  // else re-sent unchanged
      send(b, off);
    }
    enc.WriteEos();
  }
  m.stats = enc.stats();
  return m;
}

class RoundTripTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(RoundTripTest, LoadGivesBackTheSourceMemory) {
  const Migration m = Generate(GetParam());
  std::mt19937_64 rng(GetParam() ^ 0x5eed);
  const size_t chunk = testing::kChunkSizes[rng() % std::size(testing::kChunkSizes)];
  for (Backing backing : {Backing::kSparse, Backing::kDense}) {
    GuestMemoryOptions mo;
    mo.backing = backing;
    GuestMemory mem(mo);
    Loader loader({}, &mem);
    LoadStatus st = LoadStatus::kNeedInput;
    const size_t step = chunk ? chunk : m.stream.size();
    for (size_t pos = 0; pos < m.stream.size() && st == LoadStatus::kNeedInput; pos += step) {
      const size_t n = std::min(step, m.stream.size() - pos);
      Bytes piece(m.stream.begin() + pos, m.stream.begin() + pos + n);
      st = loader.Feed(piece, pos + n == m.stream.size());
    }
    ASSERT_EQ(st, LoadStatus::kDone) << loader.error().ToString();
    ASSERT_EQ(mem.block_count(), m.blocks.size());
    for (uint32_t b = 0; b < m.blocks.size(); ++b) {
      Bytes got(m.blocks[b].used_length);
      mem.Read(b, 0, got);
      ASSERT_EQ(got, m.memory[b]) << "block " << b << " chunk " << chunk;
    }
    const LoadStats& s = loader.stats();
    EXPECT_EQ(s.count(RecordKind::kPage), m.stats.normal_pages);
    EXPECT_EQ(s.count(RecordKind::kZero), m.stats.zero_pages);
    EXPECT_EQ(s.count(RecordKind::kXbzrle), m.stats.xbzrle_pages);
    EXPECT_EQ(s.count(RecordKind::kEos), m.stats.eos);
    EXPECT_EQ(s.continue_saved_bytes, m.stats.continue_saved_bytes);
    EXPECT_EQ(s.bytes, m.stream.size());
    EXPECT_EQ(m.stats.bytes, m.stream.size());
  }
}

TEST_P(RoundTripTest, WritingTheDecodedRecordsReproducesTheStream) {
  const Migration m = Generate(GetParam());
  const testing::DecodeOutcome out = testing::DecodeAll(m.stream, {}, 0);
  ASSERT_THAT(out.error, IsOk());
  Bytes again;
  for (const testing::OwnedRecord& r : out.records) AppendRecord(r.View(), &again);
  EXPECT_EQ(again, m.stream);
}

INSTANTIATE_TEST_SUITE_P(Seeds, RoundTripTest, ::testing::Range<uint64_t>(1, 41));

}  // namespace
}  // namespace ramstream::protocol
