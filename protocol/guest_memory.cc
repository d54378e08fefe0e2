#include "protocol/guest_memory.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "protocol/internal/zero.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAMSTREAM_GUEST_MEMORY_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(RAMSTREAM_GUEST_MEMORY_ASAN)
#define RAMSTREAM_GUEST_MEMORY_ASAN 1
#endif
#ifdef RAMSTREAM_GUEST_MEMORY_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace ramstream::protocol {
namespace {

// Slabs start at 16 pages and double up to 256 (1 MiB): a small load (a fuzz input, a unit
// test) maps 64 KiB, not 1 MiB, while a large one still allocates rarely.
constexpr size_t kFirstSlabPages = 16;
constexpr size_t kMaxSlabPages = 256;

// Slab memory that holds no handed-out page is poisoned under AddressSanitizer: a loader that
// writes past the end of its page into it gets a report instead of a silent write.
void Poison(std::byte* p, size_t n) {
#ifdef RAMSTREAM_GUEST_MEMORY_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}
void Unpoison(std::byte* p, size_t n) {
#ifdef RAMSTREAM_GUEST_MEMORY_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

// FNV-1a over 64-bit words mixed with a multiply: stable across runs and platforms, fast
// enough for golden tests over multi-GiB images. Not a cryptographic hash.
struct Digester {
  uint64_t h = 0xcbf29ce484222325ull;
  void Word(uint64_t w) {
    h ^= w;
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  }
  void Bytes(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      Word(w);
    }
    uint64_t tail = 0;
    std::memcpy(&tail, p + i, n - i);
    Word(tail ^ (uint64_t{n - i} << 56));
  }
};

}  // namespace

GuestMemory::GuestMemory(GuestMemoryOptions options) : options_(options) {}

GuestMemory::~GuestMemory() {
  for (Block& b : blocks_) std::free(b.dense);
  for (size_t i = 0; i < slabs_.size(); ++i)
    Unpoison(slabs_[i].get(), (SlabPages(i) + 1) * kPageSize);
}

void GuestMemory::Reset(GuestMemoryOptions options) {
  options_ = options;
  for (Block& b : blocks_) {
    std::free(b.dense);
    for (std::unique_ptr<Leaf>& leaf : b.leaves) {
      if (!leaf) continue;
      std::fill(std::begin(leaf->pages), std::end(leaf->pages), nullptr);
      spare_leaves_.push_back(std::move(leaf));
    }
  }
  blocks_.clear();
  // Slabs before slab_index_ are fully handed out, slab_index_ up to slab_used_.
  for (size_t i = 0; i <= slab_index_ && i < slabs_.size(); ++i) {
    const size_t used = i < slab_index_ ? SlabPages(i) : slab_used_;
    std::memset(SlabBase(i), 0, used * kPageSize);
    Poison(SlabBase(i), used * kPageSize);
  }
  slab_index_ = 0;
  slab_used_ = 0;
  resident_bytes_ = 0;
  page_bytes_ = 0;
}

size_t GuestMemory::SlabPages(size_t i) {
  return i >= 4 ? kMaxSlabPages : kFirstSlabPages << i;  // 16, 32, 64, 128, 256, 256, ...
}

std::byte* GuestMemory::SlabBase(size_t i) const {
  auto base = reinterpret_cast<uintptr_t>(slabs_[i].get());
  base = (base + kPageSize - 1) & ~(uintptr_t{kPageSize} - 1);
  return reinterpret_cast<std::byte*>(base);
}

int64_t GuestMemory::Find(std::string_view idstr) const {
  for (size_t i = 0; i < blocks_.size(); ++i) {
    if (blocks_[i].idstr == idstr) return static_cast<int64_t>(i);
  }
  return -1;
}

Result<uint32_t> GuestMemory::AddBlock(std::string_view idstr, uint64_t used_length) {
  Block b;
  b.idstr = std::string(idstr);
  b.used_length = used_length;
  if (options_.backing == Backing::kDense && used_length > 0) {
    if (used_length >
        options_.max_resident_bytes - std::min(resident_bytes_, options_.max_resident_bytes)) {
      return Error{Code::kLimitExceeded, 0,
                   "dense block '" + b.idstr + "' of " + std::to_string(used_length) +
                       " bytes would exceed the resident limit of " +
                       std::to_string(options_.max_resident_bytes)};
    }
    // calloc of a large size maps fresh zero pages lazily: untouched memory costs nothing.
    b.dense = static_cast<std::byte*>(std::calloc(1, used_length));
    if (b.dense == nullptr) {
      return Error{
          Code::kLimitExceeded, 0,
          "cannot allocate " + std::to_string(used_length) + " bytes for block '" + b.idstr + "'"};
    }
    resident_bytes_ += used_length;
  }
  blocks_.push_back(std::move(b));
  return static_cast<uint32_t>(blocks_.size() - 1);
}

Error GuestMemory::ResizeBlock(uint32_t block, uint64_t used_length) {
  Block& b = blocks_[block];
  if (b.dense != nullptr || (options_.backing == Backing::kDense && used_length > 0)) {
    const uint64_t others = resident_bytes_ - (b.dense ? b.used_length : 0);
    if (used_length > options_.max_resident_bytes - std::min(others, options_.max_resident_bytes)) {
      return Error{Code::kLimitExceeded, 0,
                   "resizing block '" + b.idstr + "' to " + std::to_string(used_length) +
                       " bytes would exceed the resident limit"};
    }
    auto* grown = static_cast<std::byte*>(std::calloc(1, used_length ? used_length : 1));
    if (grown == nullptr) {
      return Error{Code::kLimitExceeded, 0, "cannot allocate block '" + b.idstr + "'"};
    }
    if (b.dense) std::memcpy(grown, b.dense, std::min(b.used_length, used_length));
    std::free(b.dense);
    b.dense = grown;
    resident_bytes_ = others + used_length;
  } else if (used_length < b.used_length) {
    // Sparse shrink: what lies past the new end is gone, as with the dense copy above, so a
    // later grow reads zeros there. Pages stay in their slabs (and counted) until the memory
    // goes away, which keeps the accounting conservative.
    const uint64_t tail = used_length % kPageSize;
    const uint64_t first_gone = used_length / kPageSize + (tail ? 1 : 0);
    if (tail != 0) {
      const uint64_t partial = used_length / kPageSize;
      const uint64_t leaf = partial >> kLeafBits;
      if (leaf < b.leaves.size() && b.leaves[leaf]) {
        std::byte* p = b.leaves[leaf]->pages[partial & ((uint64_t{1} << kLeafBits) - 1)];
        if (p) std::memset(p + tail, 0, kPageSize - tail);
      }
    }
    const uint64_t keep_leaves = (first_gone + (uint64_t{1} << kLeafBits) - 1) >> kLeafBits;
    if (b.leaves.size() > keep_leaves) b.leaves.resize(keep_leaves);
    if (keep_leaves > 0 && keep_leaves <= b.leaves.size() &&
        (first_gone & ((uint64_t{1} << kLeafBits) - 1)) != 0 && b.leaves[keep_leaves - 1]) {
      Leaf& last = *b.leaves[keep_leaves - 1];
      for (uint64_t i = first_gone & ((uint64_t{1} << kLeafBits) - 1);
           i < (uint64_t{1} << kLeafBits); ++i) {
        last.pages[i] = nullptr;
      }
    }
  }
  b.used_length = used_length;
  return {};
}

void GuestMemory::FreeDeleter::operator()(std::byte* p) const { std::free(p); }

bool GuestMemory::Charge(uint64_t bytes) {
  if (bytes >
      options_.max_resident_bytes - std::min(resident_bytes_, options_.max_resident_bytes)) {
    return false;
  }
  resident_bytes_ += bytes;
  return true;
}

std::byte* GuestMemory::AllocatePage() {
  if (resident_bytes_ + kPageSize > options_.max_resident_bytes) return nullptr;
  if (slab_index_ < slabs_.size() && slab_used_ == SlabPages(slab_index_)) {
    ++slab_index_;  // the next slab, kept by Reset, or a new one
    slab_used_ = 0;
  }
  if (slab_index_ == slabs_.size()) {
    // Over-allocate by one page so every page can be 4 KiB aligned, like guest RAM.
    const size_t bytes = (SlabPages(slab_index_) + 1) * kPageSize;
    auto* slab = static_cast<std::byte*>(std::calloc(1, bytes));
    if (slab == nullptr) return nullptr;
    slabs_.emplace_back(slab);
    Poison(slab, bytes);
  }
  std::byte* page = SlabBase(slab_index_) + slab_used_ * kPageSize;
  ++slab_used_;
  Unpoison(page, kPageSize);
  resident_bytes_ += kPageSize;
  page_bytes_ += kPageSize;
  return page;  // calloc'd, or zeroed by Reset
}

std::byte* GuestMemory::PageForWrite(uint32_t block, uint64_t offset) {
  if (options_.backing == Backing::kDiscard) return scratch_;
  Block& b = blocks_[block];
  if (b.dense) return b.dense + offset;
  const uint64_t page = offset >> kPageBits;
  const uint64_t leaf = page >> kLeafBits;
  // Page tables count against the limit too: one page at the end of a 2^46-byte block would
  // otherwise grow a 128 MiB leaf table unseen.
  if (leaf >= b.leaves.size()) {
    // Grow (and charge) only past the capacity: doubling on every new leaf would reach 2^32
    // entries after 32 sequential leaves (128 MiB of guest memory).
    if (leaf >= b.leaves.capacity()) {
      const size_t old_cap = b.leaves.capacity();
      const size_t new_cap = std::max<size_t>(leaf + 1, 2 * old_cap);
      if (!Charge((new_cap - old_cap) * sizeof(b.leaves[0]))) return nullptr;
      b.leaves.reserve(new_cap);
    }
    b.leaves.resize(leaf + 1);
  }
  if (!b.leaves[leaf]) {
    if (!Charge(sizeof(Leaf))) return nullptr;
    if (spare_leaves_.empty()) {
      b.leaves[leaf] = std::make_unique<Leaf>();
    } else {
      b.leaves[leaf] = std::move(spare_leaves_.back());
      spare_leaves_.pop_back();
    }
  }
  std::byte*& slot = b.leaves[leaf]->pages[page & ((1u << kLeafBits) - 1)];
  if (slot == nullptr) slot = AllocatePage();
  return slot;
}

void GuestMemory::Read(uint32_t block, uint64_t offset, std::span<std::byte> out) const {
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t at = offset + done;
    const uint64_t page_start = at & kAddressMask;
    const size_t in_page = at - page_start;
    const size_t n = std::min<size_t>(kPageSize - in_page, out.size() - done);
    const Block& b = blocks_[block];
    const std::byte* src = nullptr;
    if (b.dense) {
      src = b.dense + at;
    } else if (page_start + kPageSize <= b.used_length) {
      const std::byte* p = FindPage(block, page_start);
      if (p) src = p + in_page;
    }
    if (src) {
      std::memcpy(out.data() + done, src, n);
    } else {
      std::memset(out.data() + done, 0, n);
    }
    done += n;
  }
}

std::string GuestMemory::Digest() const {
  Digester d;
  d.Word(blocks_.size());
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& b = blocks_[i];
    d.Bytes(b.idstr.data(), b.idstr.size());
    d.Word(b.used_length);
    // Pages are visited in offset order for both backings; loaders only ever write whole
    // pages inside used_length, so a partial last page is always zero.
    ForEachPage(static_cast<uint32_t>(i), [&](uint64_t off, const std::byte* p) {
      if (internal::IsZero(p, kPageSize)) return;
      d.Word(off);
      d.Bytes(p, kPageSize);
    });
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(d.h));
  return out;
}

}  // namespace ramstream::protocol
