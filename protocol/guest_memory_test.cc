#include "protocol/guest_memory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "protocol/testing/matchers.h"

namespace ramstream::protocol {
namespace {

using testing::HasError;
using ::testing::HasSubstr;

TEST(GuestMemoryTest, SparseTerabyteBlockAllocatesNothingUpFront) {
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("pc.ram", uint64_t{1} << 40).ok());
  EXPECT_EQ(mem.resident_bytes(), 0u);
  EXPECT_EQ(mem.FindPage(0, (uint64_t{1} << 40) - 4096), nullptr);
  std::byte* p = mem.PageForWrite(0, (uint64_t{1} << 40) - 4096);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4096, 0u);
  // The page, its 8 KiB leaf and the leaf table up to it (262144 pointers): counted.
  EXPECT_EQ(mem.resident_bytes(), 4096u + 8192u + 262144u * 8);
  EXPECT_EQ(mem.FindPage(0, (uint64_t{1} << 40) - 4096), p);
}

TEST(GuestMemoryTest, DigestIgnoresBackingAndZeroPages) {
  std::string digests[2];
  for (Backing b : {Backing::kSparse, Backing::kDense}) {
    GuestMemoryOptions o;
    o.backing = b;
    GuestMemory mem(o);
    ASSERT_TRUE(mem.AddBlock("a", 1 << 20).ok());
    ASSERT_TRUE(mem.AddBlock("b", 8192).ok());
    mem.PageForWrite(0, 8192)[17] = std::byte{3};
    mem.PageForWrite(1, 0);  // allocated but zero: must not change the digest
    digests[b == Backing::kDense] = mem.Digest();
  }
  EXPECT_EQ(digests[0], digests[1]);
  GuestMemory other;
  ASSERT_TRUE(other.AddBlock("a", 1 << 20).ok());
  ASSERT_TRUE(other.AddBlock("b", 8192).ok());
  other.PageForWrite(0, 8192)[17] = std::byte{4};
  EXPECT_NE(other.Digest(), digests[0]);
}

TEST(GuestMemoryTest, ReadCrossesPagesAndFillsZeros) {
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("a", 16384).ok());
  mem.PageForWrite(0, 4096)[0] = std::byte{9};
  std::vector<std::byte> out(8192, std::byte{0xff});
  mem.Read(0, 100, out);
  EXPECT_EQ(out[0], std::byte{0});
  EXPECT_EQ(out[4096 - 100], std::byte{9});
}

TEST(GuestMemoryTest, DenseBlocksRespectTheResidentLimit) {
  GuestMemoryOptions o;
  o.backing = Backing::kDense;
  o.max_resident_bytes = 1 << 20;
  GuestMemory mem(o);
  ASSERT_TRUE(mem.AddBlock("a", 1 << 19).ok());
  const Result<uint32_t> r = mem.AddBlock("b", 1 << 20);
  EXPECT_THAT(r.error(), HasError(Code::kLimitExceeded, 0, HasSubstr("dense block 'b'")));
}

TEST(GuestMemoryTest, PageTablesCountAgainstTheLimit) {
  GuestMemoryOptions o;
  o.max_resident_bytes = 1 << 20;
  GuestMemory mem(o);
  ASSERT_TRUE(mem.AddBlock("pc.ram", uint64_t{1} << 46).ok());
  // A page at the end would need a 128 MiB leaf table.
  EXPECT_EQ(mem.PageForWrite(0, (uint64_t{1} << 46) - 4096), nullptr);
  EXPECT_EQ(mem.resident_bytes(), 0u);
  EXPECT_NE(mem.PageForWrite(0, 0), nullptr);
}

// Found by `ramstream encode` of a 1 GiB image: the leaf table doubled on every new leaf, so
// 32 leaves in order asked for 2^32 entries.
TEST(GuestMemoryTest, WritingLeafAfterLeafGrowsTheTableGeometrically) {
  GuestMemory mem;
  constexpr uint64_t kLeafBytes = uint64_t{4} << 20;  // 1024 pages
  constexpr uint64_t kLeaves = 300;
  ASSERT_TRUE(mem.AddBlock("pc.ram", kLeaves * kLeafBytes).ok());
  for (uint64_t leaf = 0; leaf < kLeaves; ++leaf) {
    std::byte* p = mem.PageForWrite(0, leaf * kLeafBytes);
    ASSERT_NE(p, nullptr) << leaf;
    p[0] = std::byte{1};
  }
  // 300 pages, 300 leaves of 1024 pointers, and a table of at most 512 pointers.
  EXPECT_EQ(mem.page_bytes(), kLeaves * 4096);
  EXPECT_LE(mem.resident_bytes(), kLeaves * (4096 + 1024 * 8) + 512 * 8);
}

TEST(GuestMemoryTest, ShrinkThenGrowReadsZerosInBothBackings) {
  std::string digests[2];
  for (Backing b : {Backing::kSparse, Backing::kDense}) {
    GuestMemoryOptions o;
    o.backing = b;
    GuestMemory mem(o);
    ASSERT_TRUE(mem.AddBlock("acpi", 16384).ok());
    mem.PageForWrite(0, 0)[100] = std::byte{1};
    mem.PageForWrite(0, 0)[4000] = std::byte{2};
    mem.PageForWrite(0, 12288)[5] = std::byte{3};
    ASSERT_TRUE(mem.ResizeBlock(0, 2048).ok());
    ASSERT_TRUE(mem.ResizeBlock(0, 16384).ok());
    std::byte v[3];
    mem.Read(0, 100, std::span<std::byte>(v, 1));
    mem.Read(0, 4000, std::span<std::byte>(v + 1, 1));
    mem.Read(0, 12288 + 5, std::span<std::byte>(v + 2, 1));
    EXPECT_EQ(v[0], std::byte{1});
    EXPECT_EQ(v[1], std::byte{0});
    EXPECT_EQ(v[2], std::byte{0});
    digests[b == Backing::kDense] = mem.Digest();
  }
  EXPECT_EQ(digests[0], digests[1]);
}

TEST(GuestMemoryTest, ShrinkingANeverWrittenSparseBlockIsFine) {
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("acpi", 131072).ok());
  ASSERT_TRUE(mem.ResizeBlock(0, 16384).ok());
  ASSERT_TRUE(mem.AddBlock("big", uint64_t{64} << 20).ok());
  mem.PageForWrite(1, 0)[0] = std::byte{1};
  ASSERT_TRUE(mem.ResizeBlock(1, uint64_t{6} << 20).ok());  // the table has one leaf of two
  EXPECT_EQ(mem.FindPage(1, 0)[0], std::byte{1});
}

TEST(GuestMemoryTest, ResizeKeepsContents) {
  for (Backing b : {Backing::kSparse, Backing::kDense}) {
    GuestMemoryOptions o;
    o.backing = b;
    GuestMemory mem(o);
    ASSERT_TRUE(mem.AddBlock("acpi", 8192).ok());
    mem.PageForWrite(0, 4096)[5] = std::byte{7};
    ASSERT_TRUE(mem.ResizeBlock(0, 65536).ok());
    EXPECT_EQ(mem.used_length(0), 65536u);
    std::byte v[1];
    mem.Read(0, 4096 + 5, v);
    EXPECT_EQ(v[0], std::byte{7});
  }
}

}  // namespace
}  // namespace ramstream::protocol

namespace ramstream::protocol {
namespace {

TEST(GuestMemoryTest, DiscardKeepsNothingAndReadsZero) {
  GuestMemoryOptions o;
  o.backing = Backing::kDiscard;
  GuestMemory mem(o);
  ASSERT_TRUE(mem.AddBlock("pc.ram", uint64_t{1} << 40).ok());
  std::byte* p = mem.PageForWrite(0, 4096);
  ASSERT_NE(p, nullptr);
  p[0] = std::byte{1};
  EXPECT_EQ(mem.FindPage(0, 4096), nullptr);
  EXPECT_EQ(mem.resident_bytes(), 0u);
  EXPECT_FALSE(mem.keeps_contents());
  std::byte v[1] = {std::byte{9}};
  mem.Read(0, 4096, v);
  EXPECT_EQ(v[0], std::byte{0});
}

}  // namespace
}  // namespace ramstream::protocol

namespace ramstream::protocol {
namespace {

// (offset, first byte) of every page ForEachPage visits.
std::vector<std::pair<uint64_t, int>> Pages(const GuestMemory& mem, uint32_t block) {
  std::vector<std::pair<uint64_t, int>> out;
  mem.ForEachPage(block, [&](uint64_t off, const std::byte* p) {
    out.emplace_back(off, static_cast<int>(p[0]));
  });
  return out;
}

TEST(GuestMemoryTest, ForEachPageVisitsHeldPagesInOffsetOrder) {
  GuestMemory sparse;
  ASSERT_TRUE(sparse.AddBlock("pc.ram", uint64_t{1} << 30).ok());
  sparse.PageForWrite(0, uint64_t{5} << 20)[0] = std::byte{3};  // second leaf
  sparse.PageForWrite(0, 4096)[0] = std::byte{1};
  sparse.PageForWrite(0, 8192);  // allocated, zero: visited all the same
  using V = std::vector<std::pair<uint64_t, int>>;
  EXPECT_EQ(Pages(sparse, 0), (V{{4096, 1}, {8192, 0}, {uint64_t{5} << 20, 3}}));
  ASSERT_TRUE(sparse.ResizeBlock(0, 8192).ok());  // pages past used_length are gone
  EXPECT_EQ(Pages(sparse, 0), (V{{4096, 1}}));

  GuestMemoryOptions o;
  o.backing = Backing::kDense;
  GuestMemory dense(o);
  ASSERT_TRUE(dense.AddBlock("a", 3 * 4096 + 100).ok());  // the partial last page is skipped
  dense.PageForWrite(0, 4096)[0] = std::byte{2};
  EXPECT_EQ(Pages(dense, 0), (V{{0, 0}, {4096, 2}, {8192, 0}}));

  o.backing = Backing::kDiscard;
  GuestMemory discard(o);
  ASSERT_TRUE(discard.AddBlock("a", 8192).ok());
  discard.PageForWrite(0, 0)[0] = std::byte{1};
  EXPECT_TRUE(Pages(discard, 0).empty());
}

TEST(GuestMemoryTest, ResetEmptiesMemoryAndReusesItsPages) {
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("pc.ram", uint64_t{1} << 30).ok());
  std::vector<std::byte*> pages;
  // More pages than the first slab holds, in two leaves.
  for (uint64_t i = 0; i < 40; ++i) {
    std::byte* p = mem.PageForWrite(0, (i % 2 ? uint64_t{8} << 20 : 0) + i * 4096);
    ASSERT_NE(p, nullptr);
    std::memset(p, 0xab, 4096);
    pages.push_back(p);
  }
  const std::string empty_digest = GuestMemory().Digest();
  mem.Reset();
  EXPECT_EQ(mem.block_count(), 0u);
  EXPECT_EQ(mem.resident_bytes(), 0u);
  EXPECT_EQ(mem.page_bytes(), 0u);
  EXPECT_EQ(mem.Digest(), empty_digest);

  ASSERT_TRUE(mem.AddBlock("pc.ram", uint64_t{1} << 30).ok());
  EXPECT_EQ(mem.FindPage(0, 0), nullptr);
  EXPECT_TRUE(Pages(mem, 0).empty());
  for (uint64_t i = 0; i < 40; ++i) {
    std::byte* p = mem.PageForWrite(0, i * 4096);
    // The slabs are kept and hand out the same pages again, zeroed.
    EXPECT_EQ(p, pages[i]);
    const std::vector<std::byte> zeros(4096);
    EXPECT_EQ(std::memcmp(p, zeros.data(), 4096), 0) << "page " << i;
  }
  EXPECT_EQ(mem.page_bytes(), 40u * 4096);
  // Page, one leaf (the other one was kept spare) and the leaf table: charged as when new.
  EXPECT_EQ(mem.resident_bytes(), 40u * 4096 + 8192 + 8);
}

TEST(GuestMemoryTest, ResetTakesNewOptions) {
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("a", 1 << 20).ok());
  mem.PageForWrite(0, 0)[0] = std::byte{1};

  GuestMemoryOptions o;
  o.backing = Backing::kDense;
  o.max_resident_bytes = 65536;
  mem.Reset(o);
  EXPECT_EQ(mem.backing(), Backing::kDense);
  EXPECT_EQ(mem.resident_limit(), 65536u);
  EXPECT_THAT(mem.AddBlock("a", 1 << 20).error(), HasError(Code::kLimitExceeded));
  ASSERT_TRUE(mem.AddBlock("b", 65536).ok());
  EXPECT_EQ(mem.resident_bytes(), 65536u);

  mem.Reset();  // back to sparse: the dense block is freed
  EXPECT_EQ(mem.backing(), Backing::kSparse);
  ASSERT_TRUE(mem.AddBlock("a", 1 << 20).ok());
  EXPECT_EQ(mem.FindPage(0, 0), nullptr);
  std::byte v[1] = {std::byte{9}};
  mem.Read(0, 0, v);
  EXPECT_EQ(v[0], std::byte{0});
}

#if defined(__SANITIZE_ADDRESS__)
#define RAMSTREAM_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAMSTREAM_TEST_ASAN 1
#endif
#endif

#ifdef RAMSTREAM_TEST_ASAN
TEST(GuestMemoryDeathTest, WritingPastAPageIntoTheSlabIsAnAsanReport) {
  GuestMemory mem;
  ASSERT_TRUE(mem.AddBlock("a", 1 << 20).ok());
  std::byte* p = mem.PageForWrite(0, 0);
  // The page after it in the slab was never handed out.
  EXPECT_DEATH(static_cast<volatile std::byte*>(p)[4096] = std::byte{1}, "use-after-poison");
  mem.Reset();
  ASSERT_TRUE(mem.AddBlock("a", 1 << 20).ok());
  std::byte* again = mem.PageForWrite(0, 0);
  EXPECT_DEATH(static_cast<volatile std::byte*>(again)[4096] = std::byte{1}, "use-after-poison");
}
#endif

}  // namespace
}  // namespace ramstream::protocol
