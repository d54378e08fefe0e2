#include "protocol/encoder.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>
#include <cstring>
#include <memory>

#include "protocol/internal/endian.h"
#include "protocol/internal/zero.h"
#include "protocol/xbzrle.h"

namespace ramstream::protocol {
namespace {

// The largest fixed part before a page payload: header, counted idstr, and the
// longer of XBZRLE's enc + be16 and COMPRESS_PAGE's be32 length. (It once
// counted XBZRLE's 3 bytes only, so a COMPRESS_PAGE record with a 255-byte
// idstr overflowed the stack buffer by one byte: found by ram_roundtrip_fuzzer
// in a 10-minute campaign.)
constexpr size_t kMaxPrefix =
    kHeaderSize + 1 + kMaxIdstrLen + std::max(kXbzrleHeaderSize, kCompressedLenSize);

inline std::byte* PutBe64(std::byte* p, uint64_t v) {
  internal::StoreBe64(p, v);
  return p + 8;
}
inline std::byte* PutBe32(std::byte* p, uint32_t v) {
  internal::StoreBe32(p, v);
  return p + 4;
}
inline std::byte* PutBe16(std::byte* p, uint16_t v) {
  internal::StoreBe16(p, v);
  return p + 2;
}

inline std::byte* PutCounted(std::byte* p, std::string_view s) {
  assert(s.size() <= kMaxIdstrLen);
  *p++ = static_cast<std::byte>(s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// Appends without value-initialising first (resize would write every byte
// twice).
inline void Append(std::vector<std::byte>* out, const std::byte* p, size_t n) {
  out->insert(out->end(), p, p + n);
}

bool WritesIdstr(const Record& r) { return r.is_page() && !r.has_continue() && !r.idstr.empty(); }

static_assert(kPageSize % 8 == 0);  // internal::IsZero works on whole words

constexpr std::array<std::byte, kPageSize> kZeroPage{};

}  // namespace

void AppendRecord(const Record& record, std::vector<std::byte>* out) {
  std::array<std::byte, kMaxPrefix> prefix;
  std::byte* p = prefix.data();
  if (!record.shares_header) p = PutBe64(p, record.address | record.flags);
  if (WritesIdstr(record)) p = PutCounted(p, record.idstr);
  switch (record.kind) {
    case RecordKind::kZero:
      *p++ = static_cast<std::byte>(record.fill);
      break;
    case RecordKind::kXbzrle:
      *p++ = static_cast<std::byte>(kXbzrleEncoding);
      p = PutBe16(p, static_cast<uint16_t>(record.data.size()));
      break;
    case RecordKind::kCompressedPage:
      p = PutBe32(p, static_cast<uint32_t>(record.data.size()));
      break;
    default:
      break;
  }
  Append(out, prefix.data(), static_cast<size_t>(p - prefix.data()));
  switch (record.kind) {
    case RecordKind::kPage:
    case RecordKind::kXbzrle:
    case RecordKind::kCompressedPage:
      Append(out, record.data.data(), record.data.size());
      break;
    case RecordKind::kMemSize:
      for (const BlockInfo& b : record.blocks) {
        std::array<std::byte, 1 + kMaxIdstrLen + 3 * 8> entry;
        std::byte* e = PutCounted(entry.data(), b.idstr);
        e = PutBe64(e, b.used_length);
        if (b.page_size) e = PutBe64(e, *b.page_size);
        if (b.addr) e = PutBe64(e, *b.addr);
        Append(out, entry.data(), static_cast<size_t>(e - entry.data()));
      }
      break;
    default:
      break;
  }
}

uint64_t RecordSize(const Record& record) {
  uint64_t n = record.shares_header ? 0 : kHeaderSize;
  if (WritesIdstr(record)) n += 1 + record.idstr.size();
  switch (record.kind) {
    case RecordKind::kZero:
      return n + kZeroPayload;
    case RecordKind::kPage:
      return n + record.data.size();
    case RecordKind::kXbzrle:
      return n + XbzrlePayload(record.data.size());
    case RecordKind::kCompressedPage:
      return n + kCompressedLenSize + record.data.size();
    case RecordKind::kMemSize:
      for (const BlockInfo& b : record.blocks) {
        n += 1 + b.idstr.size() + 8;
        if (b.page_size) n += 8;
        if (b.addr) n += 8;
      }
      return n;
    case RecordKind::kEos:
    case RecordKind::kMultifdFlush:
    case RecordKind::kHook:
    case RecordKind::kIgnored:
      return n;
  }
  return n;
}

// QEMU's migration/page_cache.c: a direct-mapped cache keyed by ram_addr. A
// slot holding another page is only replaced once that page has gone
// CACHED_PAGE_LIFETIME (2) dirty syncs without a hit, so hot pages are not
// evicted by streaming ones.
class Encoder::PageCache {
 public:
  explicit PageCache(uint64_t cache_bytes)
      : slots_(std::bit_floor(std::max<uint64_t>(1, cache_bytes / kPageSize))) {}

  // A hit refreshes the slot's age (cache_is_cached).
  bool IsCached(uint64_t addr, uint64_t age) {
    Slot& s = SlotFor(addr);
    if (s.addr != addr) return false;
    s.age = age;
    return true;
  }

  // cache_insert: returns false when a fresh slot of another page refuses the
  // insert.
  bool Insert(uint64_t addr, const std::byte* page, uint64_t age) {
    Slot& s = SlotFor(addr);
    if (s.data && s.addr != addr && s.age + kLifetime > age) return false;
    if (!s.data) s.data = std::make_unique_for_overwrite<std::byte[]>(kPageSize);
    std::memcpy(s.data.get(), page, kPageSize);
    s.age = age;
    s.addr = addr;
    return true;
  }

  // REQUIRES: IsCached(addr) is true.
  std::byte* Data(uint64_t addr) { return SlotFor(addr).data.get(); }

 private:
  static constexpr uint64_t kLifetime = 2;
  static constexpr uint64_t kNoAddr = ~uint64_t{0};
  struct Slot {
    uint64_t addr = kNoAddr;
    uint64_t age = 0;
    std::unique_ptr<std::byte[]> data;  // allocated on first insert, as QEMU does
  };

  Slot& SlotFor(uint64_t addr) { return slots_[(addr / kPageSize) & (slots_.size() - 1)]; }

  std::vector<Slot> slots_;
};

Encoder::Encoder(EncoderOptions options, std::vector<std::byte>* out)
    : options_(options), out_(out) {
  if (options_.xbzrle_cache_bytes > 0) {
    cache_ = std::make_unique<PageCache>(options_.xbzrle_cache_bytes);
    scratch_.resize(kPageSize);
  }
}

Encoder::~Encoder() = default;

void Encoder::Put(const void* data, size_t n) {
  stats_.bytes += n;
  if (out_ != nullptr) Append(out_, static_cast<const std::byte*>(data), n);
}

void Encoder::WriteHeader(uint64_t address, uint32_t flags, uint32_t block) {
  std::array<std::byte, kHeaderSize + 1 + kMaxIdstrLen> buf;
  const std::string& idstr = blocks_[block].idstr;
  std::byte* p;
  if (last_block_ == static_cast<int64_t>(block)) {
    p = PutBe64(buf.data(), address | flags | kFlagContinue);
    stats_.continue_saved_bytes += 1 + idstr.size();
  } else {
    p = PutCounted(PutBe64(buf.data(), address | flags), idstr);
    last_block_ = block;
  }
  Put(buf.data(), static_cast<size_t>(p - buf.data()));
}

void Encoder::WriteMemSize(std::span<const BlockInfo> blocks) {
  blocks_.assign(blocks.begin(), blocks.end());
  block_base_.clear();
  uint64_t total = 0;
  for (const BlockInfo& b : blocks_) {
    assert(b.idstr.size() <= kMaxIdstrLen);
    assert((b.used_length & kFlagMask) == 0);
    block_base_.push_back(total);
    total += b.used_length;
  }
  // A new block list is a new ram_list version: QEMU's ram_state_reset forgets
  // the last block, so the first page after it names its block.
  last_block_ = -1;
  Record r;
  r.kind = RecordKind::kMemSize;
  r.flags = kFlagMemSize;
  r.address = total;
  r.blocks = blocks_;
  stats_.bytes += RecordSize(r);
  if (out_ != nullptr) AppendRecord(r, out_);
}

void Encoder::WriteEos() {
  std::array<std::byte, kHeaderSize> buf;
  PutBe64(buf.data(), kFlagEos);
  Put(buf.data(), buf.size());
  ++stats_.eos;
}

PageOutcome Encoder::WritePage(uint32_t block, uint64_t offset, std::span<const std::byte> page) {
  assert(block < blocks_.size());
  assert((offset & kFlagMask) == 0 && offset < blocks_[block].used_length);
  assert(page.size() == kPageSize);
  const bool xbzrle = xbzrle_enabled_ && cache_ != nullptr;
  const uint64_t ram_addr = block_base_[block] + offset;
  const uint64_t start = stats_.bytes;

  if (options_.detect_zero_pages && internal::IsZero(page.data(), kPageSize)) {
    WriteHeader(offset, kFlagZero, block);
    const std::byte fill{0};
    Put(&fill, 1);
    ++stats_.zero_pages;
    stats_.page_record_bytes += stats_.bytes - start;
    // Otherwise the cache would keep the page's old contents and a later delta
    // would be computed against data the destination no longer has. A refused
    // insert is fine.
    if (xbzrle) cache_->Insert(ram_addr, kZeroPage.data(), age_);
    return PageOutcome::kZero;
  }

  if (xbzrle) {
    if (!cache_->IsCached(ram_addr, age_)) {
      ++stats_.cache_miss;
      cache_->Insert(ram_addr, page.data(), age_);
    } else {
      std::byte* cached = cache_->Data(ram_addr);
      const int len = xbzrle::Encode(std::span<const std::byte>(cached, kPageSize), page,
                                     std::span<std::byte>(scratch_.data(), kPageSize));
      if (len == 0) {
        // Nothing goes on the wire, so last_block_ must stay as it is
        // (3fd3c4b37c11).
        ++stats_.xbzrle_unchanged;
        return PageOutcome::kUnchanged;
      }
      // The destination will hold the new page after either record below.
      std::memcpy(cached, page.data(), kPageSize);
      if (len > 0) {
        WriteHeader(offset, kFlagXbzrle, block);
        std::array<std::byte, kXbzrleHeaderSize> hdr;
        hdr[0] = static_cast<std::byte>(kXbzrleEncoding);
        PutBe16(hdr.data() + 1, static_cast<uint16_t>(len));
        Put(hdr.data(), hdr.size());
        Put(scratch_.data(), static_cast<size_t>(len));
        ++stats_.xbzrle_pages;
        stats_.page_record_bytes += stats_.bytes - start;
        return PageOutcome::kXbzrle;
      }
      ++stats_.xbzrle_overflow;
    }
  }

  WriteHeader(offset, kFlagPage, block);
  Put(page.data(), kPageSize);
  ++stats_.normal_pages;
  stats_.page_record_bytes += stats_.bytes - start;
  return PageOutcome::kPage;
}

}  // namespace ramstream::protocol
