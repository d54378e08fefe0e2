// Guest memory that a loader writes into: a table of RAM blocks, each either sparse (pages
// allocated on first write, so a MEM_SIZE declaring 1 TiB allocates nothing up front) or
// dense (one zeroed allocation of used_length bytes, for extraction).
#ifndef RAMSTREAM_PROTOCOL_GUEST_MEMORY_H_
#define RAMSTREAM_PROTOCOL_GUEST_MEMORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/error.h"
#include "protocol/wire_format.h"

namespace ramstream::protocol {

enum class Backing : uint8_t {
  kSparse,   // pages allocated on first write
  kDense,    // one zeroed allocation of used_length per block
  kDiscard,  // keep no contents: every write goes to one scratch page, every read is zero.
             // For validating and counting (every loader check is independent of contents).
};

struct GuestMemoryOptions {
  Backing backing = Backing::kSparse;
  // Cap on bytes of page memory held (sparse pages, dense blocks). A stream of 9-byte ZERO
  // records with a non-zero fill can otherwise make 455x its size resident.
  uint64_t max_resident_bytes = uint64_t{32} << 30;
};

class GuestMemory {
 public:
  explicit GuestMemory(GuestMemoryOptions options = {});
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  // Adds a block and returns its index. Dense blocks are allocated here; fails with
  // kLimitExceeded when that would pass max_resident_bytes.
  Result<uint32_t> AddBlock(std::string_view idstr, uint64_t used_length);
  // Changes a block's used_length (QEMU's qemu_ram_resize on incoming migration); contents
  // below the new length are kept, contents past it are dropped (a later grow reads zeros).
  Error ResizeBlock(uint32_t block, uint64_t used_length);

  size_t block_count() const { return blocks_.size(); }
  const std::string& idstr(uint32_t block) const { return blocks_[block].idstr; }
  uint64_t used_length(uint32_t block) const { return blocks_[block].used_length; }
  // Index of the block named `idstr`, or -1.
  int64_t Find(std::string_view idstr) const;

  // The page at `offset`, or nullptr if it was never written (reads as zeros).
  // REQUIRES: offset is page aligned and offset + kPageSize <= used_length(block).
  const std::byte* FindPage(uint32_t block, uint64_t offset) const {
    if (options_.backing == Backing::kDiscard) return nullptr;
    const Block& b = blocks_[block];
    if (b.dense) return b.dense + offset;
    const uint64_t page = offset >> kPageBits;
    const uint64_t leaf = page >> kLeafBits;
    if (leaf >= b.leaves.size() || !b.leaves[leaf]) return nullptr;
    return b.leaves[leaf]->pages[page & ((uint64_t{1} << kLeafBits) - 1)];
  }
  // The page at `offset`, allocated (zeroed) if needed; nullptr when the allocation would pass
  // max_resident_bytes. REQUIRES as FindPage.
  std::byte* PageForWrite(uint32_t block, uint64_t offset);

  // Copies block bytes [offset, offset + out.size()) into out (zeros where never written).
  // REQUIRES: the range is inside used_length.
  void Read(uint32_t block, uint64_t offset, std::span<std::byte> out) const;
  // Calls fn(offset, page) for every page of `block` that holds memory, in offset order, with
  // `page` its kPageSize bytes: every whole page of a dense block, the allocated pages of a
  // sparse one (never-written pages read as zeros and are skipped), none for kDiscard. Only
  // pages that lie wholly inside used_length. REQUIRES: fn does not add, resize or write pages.
  template <typename Fn>
  void ForEachPage(uint32_t block, Fn&& fn) const;

  // Bytes of page memory and page tables held, and their limit.
  uint64_t resident_bytes() const { return resident_bytes_; }
  uint64_t resident_limit() const { return options_.max_resident_bytes; }
  // Of those, the bytes of sparse pages: grows by exactly one page per first write to a page.
  uint64_t page_bytes() const { return page_bytes_; }
  Backing backing() const { return options_.backing; }
  bool keeps_contents() const { return options_.backing != Backing::kDiscard; }
  // A 64-bit digest of the block table and every non-zero page (with its block and offset),
  // the same for both backings, printed as 16 hex digits. Zero pages do not contribute, so a
  // never-written page and a zeroed one are equal, as in a destination QEMU.
  std::string Digest() const;

  // Drops every block and all contents and takes `options`: afterwards the memory behaves as
  // a newly constructed GuestMemory(options) (no blocks, nothing resident, reads as zeros),
  // except that the sparse page slabs and page-table leaves stay allocated for reuse. Pages
  // handed out so far are zeroed here (one memset per page written); dense blocks are freed.
  // For callers that run many small loads in a row (fuzz oracles), where a fresh memory's
  // zeroed slab allocation per load dominated; nothing else needs to call it.
  void Reset(GuestMemoryOptions options = {});

 private:
  static constexpr int kLeafBits = 10;  // pages per leaf: 1024 (4 MiB of guest memory)
  struct Leaf {
    std::byte* pages[size_t{1} << kLeafBits] = {};
  };
  struct Block {
    std::string idstr;
    uint64_t used_length = 0;
    std::byte* dense = nullptr;                 // kDense: used_length bytes
    std::vector<std::unique_ptr<Leaf>> leaves;  // kSparse: grown on demand
  };
  std::byte* AllocatePage();
  // Slab i holds SlabPages(i) pages from its first 4 KiB boundary on.
  static size_t SlabPages(size_t i);
  std::byte* SlabBase(size_t i) const;
  // Adds `bytes` to resident_bytes_ if that stays within the limit.
  bool Charge(uint64_t bytes);

  GuestMemoryOptions options_;
  std::vector<Block> blocks_;
  // Sparse pages come from slabs of 64 KiB growing to 1 MiB, never freed before the memory
  // itself (Reset keeps them too). calloc'd, so a fresh slab is the kernel's zero pages
  // rather than a memset. Under AddressSanitizer the part of a slab no page was handed out
  // from is poisoned, so a write past a page into it is reported.
  struct FreeDeleter {
    void operator()(std::byte* p) const;
  };
  std::vector<std::unique_ptr<std::byte[], FreeDeleter>> slabs_;
  std::vector<std::unique_ptr<Leaf>> spare_leaves_;  // cleared leaves kept by Reset
  alignas(4096) std::byte scratch_[kPageSize];       // kDiscard's one page
  size_t slab_index_ = 0;                            // the slab pages come from next
  size_t slab_used_ = 0;                             // pages handed out from it
  uint64_t resident_bytes_ = 0;
  uint64_t page_bytes_ = 0;
};

template <typename Fn>
void GuestMemory::ForEachPage(uint32_t block, Fn&& fn) const {
  if (options_.backing == Backing::kDiscard) return;
  const Block& b = blocks_[block];
  if (b.dense) {
    for (uint64_t off = 0; off + kPageSize <= b.used_length; off += kPageSize) {
      fn(off, static_cast<const std::byte*>(b.dense + off));
    }
    return;
  }
  for (size_t leaf = 0; leaf < b.leaves.size(); ++leaf) {
    if (!b.leaves[leaf]) continue;
    for (size_t j = 0; j < (size_t{1} << kLeafBits); ++j) {
      const std::byte* p = b.leaves[leaf]->pages[j];
      if (p == nullptr) continue;
      const uint64_t off = ((uint64_t{leaf} << kLeafBits) + j) << kPageBits;
      if (off + kPageSize > b.used_length) return;
      fn(off, p);
    }
  }
}

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_GUEST_MEMORY_H_
