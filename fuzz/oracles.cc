#include "fuzz/oracles.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "protocol/encoder.h"
#include "protocol/wire_format.h"
#include "protocol/xbzrle.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RAMSTREAM_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(RAMSTREAM_FUZZ_ASAN)
#define RAMSTREAM_FUZZ_ASAN 1
#endif
#ifdef RAMSTREAM_FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace ramstream::fuzz {

using protocol::Backing;
using protocol::BlockInfo;
using protocol::Code;
using protocol::Decoder;
using protocol::DecoderOptions;
using protocol::Error;
using protocol::GuestMemory;
using protocol::GuestMemoryOptions;
using protocol::kPageSize;
using protocol::Loader;
using protocol::LoadStats;
using protocol::LoadStatus;
using protocol::Record;
using protocol::RecordKind;
using protocol::Step;

void OracleFailure(const char* file, int line, const char* format, ...) {
  std::fprintf(stderr, "ramstream fuzz oracle failed at %s:%d: ", file, line);
  va_list args;
  va_start(args, format);
  std::vfprintf(stderr, format, args);
  va_end(args);
  std::fputc('\n', stderr);
  std::fflush(stderr);
  std::abort();
}

namespace {

const char* StepName(Step s) {
  switch (s) {
    case Step::kRecord:
      return "record";
    case Step::kNeedInput:
      return "need_input";
    case Step::kEnd:
      return "end";
    case Step::kError:
      return "error";
  }
  return "?";
}

std::string Describe(const Error& e) { return e.ok() ? "ok" : e.ToString(); }

bool ValidIdstr(std::string_view s) {
  return !s.empty() && s.size() <= protocol::kMaxIdstrLen && s.find('\0') == s.npos;
}

uint32_t KindFlag(RecordKind kind) {
  switch (kind) {
    case RecordKind::kMemSize:
      return protocol::kFlagMemSize;
    case RecordKind::kZero:
      return protocol::kFlagZero;
    case RecordKind::kPage:
      return protocol::kFlagPage;
    case RecordKind::kXbzrle:
      return protocol::kFlagXbzrle;
    case RecordKind::kCompressedPage:
      return protocol::kFlagCompressPage;
    case RecordKind::kEos:
      return protocol::kFlagEos;
    case RecordKind::kMultifdFlush:
      return protocol::kFlagMultifdFlush;
    case RecordKind::kHook:
      return protocol::kFlagHook;
    case RecordKind::kIgnored:
      return 0;
  }
  return 0;
}

// Structural checks on one decoded record, independent of the bytes around it.
void CheckWellFormed(const Record& r, const DecoderOptions& o) {
  const auto kind = static_cast<unsigned>(r.kind);
  RAMSTREAM_FUZZ_CHECK(kind <= static_cast<unsigned>(RecordKind::kIgnored),
                       "record kind %u out of range", kind);
  RAMSTREAM_FUZZ_CHECK((r.flags & ~protocol::kFlagMask) == 0, "flags 0x%x above the page bits",
                       r.flags);
  RAMSTREAM_FUZZ_CHECK((r.address & protocol::kFlagMask) == 0, "address 0x%llx not page aligned",
                       (unsigned long long)r.address);
  const bool v4 = o.section_version >= protocol::kRamSectionVersion;
  if (o.dialect.exact_flags) {
    RAMSTREAM_FUZZ_CHECK(!r.shares_header, "exact dialect emitted a shared-header record");
    RAMSTREAM_FUZZ_CHECK((r.flags & ~protocol::kFlagContinue) == KindFlag(r.kind),
                         "%s record with flags 0x%x",
                         std::string(protocol::RecordKindName(r.kind)).c_str(), r.flags);
  } else if (r.kind == RecordKind::kIgnored) {
    RAMSTREAM_FUZZ_CHECK((r.flags & (protocol::kFlagMemSize | protocol::kFlagZero |
                                     protocol::kFlagPage | protocol::kFlagEos)) == 0,
                         "ignored header 0x%x names an action", r.flags);
  } else {
    RAMSTREAM_FUZZ_CHECK((r.flags & KindFlag(r.kind)) != 0, "%s record without its flag (0x%x)",
                         std::string(protocol::RecordKindName(r.kind)).c_str(), r.flags);
  }
  if (r.is_page()) {
    const bool named = v4 && !r.has_continue();
    RAMSTREAM_FUZZ_CHECK(named ? ValidIdstr(r.idstr) : r.idstr.empty(),
                         "page record idstr of %zu bytes (named=%d)", r.idstr.size(), named);
  } else {
    RAMSTREAM_FUZZ_CHECK(r.idstr.empty(), "non-page record with an idstr");
  }
  switch (r.kind) {
    case RecordKind::kPage:
      RAMSTREAM_FUZZ_CHECK(r.data.size() == kPageSize, "PAGE payload of %zu bytes", r.data.size());
      break;
    case RecordKind::kXbzrle:
      RAMSTREAM_FUZZ_CHECK(r.data.size() <= kPageSize, "XBZRLE delta of %zu bytes", r.data.size());
      break;
    case RecordKind::kCompressedPage:
      RAMSTREAM_FUZZ_CHECK(r.data.size() <= protocol::kMaxCompressedLen,
                           "COMPRESS_PAGE payload of %zu bytes", r.data.size());
      break;
    case RecordKind::kZero:
      RAMSTREAM_FUZZ_CHECK(r.data.empty(), "ZERO record with a payload");
      RAMSTREAM_FUZZ_CHECK(r.fill == 0 || !o.dialect.zero_fill_must_be_zero,
                           "ZERO fill 0x%x accepted by a dialect that forbids it", r.fill);
      break;
    case RecordKind::kMemSize: {
      RAMSTREAM_FUZZ_CHECK(r.address <= o.limits.max_total_bytes, "MEM_SIZE total over limit");
      if (!v4) {
        RAMSTREAM_FUZZ_CHECK(r.blocks.empty(), "version-3 MEM_SIZE with a block list");
        break;
      }
      RAMSTREAM_FUZZ_CHECK(r.blocks.size() <= o.limits.max_ram_blocks, "%zu MEM_SIZE entries",
                           r.blocks.size());
      uint64_t sum = 0;
      for (const BlockInfo& b : r.blocks) {
        RAMSTREAM_FUZZ_CHECK(ValidIdstr(b.idstr), "MEM_SIZE idstr of %zu bytes", b.idstr.size());
        RAMSTREAM_FUZZ_CHECK(b.used_length <= o.limits.max_block_bytes,
                             "MEM_SIZE used_length over limit");
        RAMSTREAM_FUZZ_CHECK(b.addr.has_value() == o.mem_size_has_addr,
                             "MEM_SIZE addr field presence wrong");
        sum += b.used_length;
      }
      RAMSTREAM_FUZZ_CHECK(sum == r.address, "MEM_SIZE entries add up to %llu, total %llu",
                           (unsigned long long)sum, (unsigned long long)r.address);
      break;
    }
    default:
      RAMSTREAM_FUZZ_CHECK(r.data.empty() && r.blocks.empty(), "header-only record with data");
      break;
  }
}

// A pass ends on a loader error: never kInternal, and always at the record that failed.
void EndWithLoaderError(const Record& r, Error e, Trace* t) {
  RAMSTREAM_FUZZ_CHECK(e.code != Code::kInternal, "loader: %s", e.ToString().c_str());
  RAMSTREAM_FUZZ_CHECK(e.offset == r.stream_offset, "loader error at %llu for the record at %llu",
                       (unsigned long long)e.offset, (unsigned long long)r.stream_offset);
  t->end = Step::kError;
  t->error = std::move(e);
}

// Where the chunks of one pass live. A decoder that keeps a view into an earlier chunk, or
// reads past the one it was given, must be caught. One allocation per chunk did that through
// ASan's heap checks, but cost a malloc, a stack unwind and a free per chunk (ASan's
// allocator and stack depot were about a tenth of a ram_load_fuzzer profile). Instead every
// chunk gets its own 8-byte-aligned place in one reused buffer (never a place an earlier
// chunk of the pass had), and only the chunk being decoded is addressable: under ASan the
// rest of the buffer stays poisoned, before, during and after the pass, so a stale view or
// an over-read is a use-after-poison report at the exact byte. Consumed chunks are also
// overwritten, so without ASan a stale view reads garbage and the passes' records or
// memories disagree. Two decoders run side by side in one pass (whole and chunked, in
// lockstep), so there are two arenas, one per slot.
class ChunkArena {
 public:
  static constexpr int kSlots = 2;
  explicit ChunkArena(int slot) : slot_(slot), buf_(Storage(slot)) {
    RAMSTREAM_FUZZ_CHECK(!in_use_[slot], "two ChunkArenas in slot %d at once", slot);
    in_use_[slot] = true;
  }
  ~ChunkArena() {
    Retire();
    in_use_[slot_] = false;
  }
  ChunkArena(const ChunkArena&) = delete;
  ChunkArena& operator=(const ChunkArena&) = delete;

  // The copy of `stream[pos, pos + n)` to feed; the previous chunk is retired.
  std::span<const std::byte> Next(std::span<const std::byte> stream, size_t pos, size_t n) {
    Retire();
    if (next_ + Padded(n) > buf_.size()) Grow(next_ + Padded(n));
    std::byte* p = buf_.data() + next_;
    Unpoison(p, n);
    if (n > 0) std::memcpy(p, stream.data() + pos, n);
    current_ = {p, n};
    next_ += Padded(n);
    return current_;
  }
  // Overwrites and poisons the chunk handed out last.
  void Retire() {
    if (current_.empty()) return;
    std::memset(current_.data(), 0xdb, current_.size());
    Poison(current_.data(), current_.size());
    current_ = {};
  }

 private:
  static size_t Padded(size_t n) { return (n + 8) & ~size_t{7}; }  // >= 1 poisoned byte after
  static void Poison(std::byte* p, size_t n) {
#ifdef RAMSTREAM_FUZZ_ASAN
    ASAN_POISON_MEMORY_REGION(p, n);
#else
    (void)p;
    (void)n;
#endif
  }
  static void Unpoison(std::byte* p, size_t n) {
#ifdef RAMSTREAM_FUZZ_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
    (void)p;
    (void)n;
#endif
  }
  // A new, larger buffer (never resized in place: it is poisoned). Only when a pass needs
  // more than any before it; nothing of the old one is live (Next retired it).
  void Grow(size_t need) {
    std::vector<std::byte> bigger(std::max({need, 2 * buf_.size(), size_t{64} << 10}));
    Poison(bigger.data(), bigger.size());
    Unpoison(buf_.data(), buf_.size());
    buf_.swap(bigger);
  }
  // One buffer per slot and thread, grown to the largest pass seen: no allocation per pass.
  static std::vector<std::byte>& Storage(int slot) {
    thread_local std::vector<std::byte> storage[kSlots];
    return storage[slot];
  }

  static thread_local bool in_use_[kSlots];
  int slot_;
  std::vector<std::byte>& buf_;
  size_t next_ = 0;
  std::span<std::byte> current_;
};
thread_local bool ChunkArena::in_use_[ChunkArena::kSlots] = {};

ChunkPlan Fitted(ChunkPlan plan, size_t stream_size) {
  plan.Fit(stream_size, kMaxChunksPerPass);
  return plan;
}

// A Decoder fed `stream` in the chunks of a plan, checking its contract after every call
// (DecodeChecked's list in oracles.h). Next never returns kNeedInput: it feeds the next chunk.
class CheckedDecoder {
 public:
  CheckedDecoder(std::span<const std::byte> stream, const DecoderOptions& options, ChunkPlan plan,
                 int arena_slot)
      : stream_(stream),
        options_(options),
        plan_(Fitted(std::move(plan), stream.size())),
        arena_(arena_slot),
        d_(options),
        fed_(options.start_offset),
        last_end_(options.start_offset),
        last_offset_(options.start_offset) {}

  // kRecord (views valid until the next call), kEnd or kError (error()). After kEnd or
  // kError the pass is over: nothing of the input is readable any more.
  Step Next(Record* r) {
    for (;;) {
      if (need_input_) {
        size_t n = stream_.empty() ? 0 : plan_.Next(stream_.size() - pos_);
        // Deep inside the current record's payload every boundary is alike to the decoder
        // (it copies or views opaque bytes): a chunk starting there runs on to the
        // payload's last bytes, which get the plan's chunks again.
        // The edge left varies (kPayloadEdge..2*kPayloadEdge-1 bytes), so that the boundaries
        // the plan then puts into the next header differ from record to record.
        const size_t edge = kPayloadEdge + stretches_ * 7 % kPayloadEdge;
        if (pos_ >= payload_begin_ + kPayloadEdge && pos_ + n + edge < payload_end_) {
          n = payload_end_ - edge - pos_;
          ++stretches_;
        }
        last_ = pos_ + n == stream_.size();
        d_.Feed(arena_.Next(stream_, pos_, n), last_);
        pos_ += n;
        fed_ += n;
        need_input_ = false;
      }
      const Step s = d_.Next(r);
      if (s == Step::kRecord) {
        CheckRecord(*r);
        return s;
      }
      if (s == Step::kNeedInput) {
        RAMSTREAM_FUZZ_CHECK(!last_, "decoder asked for input after end_of_input (at %llu)",
                             (unsigned long long)d_.position());
        RAMSTREAM_FUZZ_CHECK(d_.position() == fed_, "kNeedInput with %llu fed bytes not consumed",
                             (unsigned long long)(fed_ - d_.position()));
        RAMSTREAM_FUZZ_CHECK(d_.BytesNeeded() > 0, "kNeedInput while needing no bytes");
        need_input_ = true;
        continue;
      }
      if (s == Step::kEnd) {
        RAMSTREAM_FUZZ_CHECK(last_ && d_.position() == fed_,
                             "kEnd before the end of input (%llu of %llu)",
                             (unsigned long long)d_.position(), (unsigned long long)fed_);
        RAMSTREAM_FUZZ_CHECK(record_count_ > 0 && last_kind_ == RecordKind::kEos,
                             "kEnd after a %s record",
                             std::string(protocol::RecordKindName(last_kind_)).c_str());
      } else {
        CheckError(s);
      }
      Finish();
      return s;
    }
  }
  // As when each chunk was its own allocation: nothing of the input is readable once the
  // pass is over (a loader error can end it early).
  void Finish() { arena_.Retire(); }
  // The payload (r.data) of the record the decoder is working on, as [begin, end) offsets
  // into the stream, when another decoder already decoded it (lockstep); see Next.
  void SetPayload(size_t begin, size_t end) {
    payload_begin_ = begin;
    payload_end_ = end;
  }
  static constexpr size_t kPayloadEdge = 16;

  const Error& error() const { return d_.error(); }
  uint64_t position() const { return d_.position(); }
  uint64_t record_count() const { return record_count_; }

 private:
  void CheckRecord(const Record& r) {
    CheckWellFormed(r, options_);
    if (r.shares_header) {
      RAMSTREAM_FUZZ_CHECK(r.stream_offset == last_offset_ && record_count_ > 0,
                           "shared-header record at %llu, its header at %llu",
                           (unsigned long long)r.stream_offset, (unsigned long long)last_offset_);
      RAMSTREAM_FUZZ_CHECK(++shared_run_ <= 2,
                           "decoder made no progress: %d records share the header at %llu",
                           shared_run_ + 1, (unsigned long long)last_offset_);
    } else {
      RAMSTREAM_FUZZ_CHECK(r.stream_offset == last_end_,
                           "record at %llu, but the previous one ended at %llu",
                           (unsigned long long)r.stream_offset, (unsigned long long)last_end_);
      shared_run_ = 0;
    }
    const uint64_t size = protocol::RecordSize(r);
    RAMSTREAM_FUZZ_CHECK(d_.position() == last_end_ + size,
                         "%s record at %llu is %llu bytes but the decoder moved from %llu to %llu",
                         std::string(protocol::RecordKindName(r.kind)).c_str(),
                         (unsigned long long)r.stream_offset, (unsigned long long)size,
                         (unsigned long long)last_end_, (unsigned long long)d_.position());
    RAMSTREAM_FUZZ_CHECK(d_.position() <= fed_, "decoder position past the fed bytes");
    last_end_ = d_.position();
    last_offset_ = r.stream_offset;
    last_kind_ = r.kind;
    ++record_count_;
  }

  void CheckError(Step s) {
    RAMSTREAM_FUZZ_CHECK(s == Step::kError, "Next returned %u", static_cast<unsigned>(s));
    const Error& e = d_.error();
    RAMSTREAM_FUZZ_CHECK(!e.ok(), "kError without an error");
    RAMSTREAM_FUZZ_CHECK(e.code != Code::kInternal, "decoder: %s", e.ToString().c_str());
    RAMSTREAM_FUZZ_CHECK(e.offset <= d_.position() && d_.position() <= fed_,
                         "error offset %llu past the consumed %llu (fed %llu)",
                         (unsigned long long)e.offset, (unsigned long long)d_.position(),
                         (unsigned long long)fed_);
    // The failing record starts where the last one ended (or, in 2010's composite headers,
    // is a later action of the last one's header).
    RAMSTREAM_FUZZ_CHECK(
        e.offset == last_end_ || (!options_.dialect.exact_flags && e.offset == last_offset_),
        "error at %llu, but the last record ended at %llu: %s", (unsigned long long)e.offset,
        (unsigned long long)last_end_, e.ToString().c_str());
    Record again;
    RAMSTREAM_FUZZ_CHECK(d_.Next(&again) == Step::kError && d_.error().code == e.code &&
                             d_.error().offset == e.offset,
                         "decoder error is not sticky");
  }

  std::span<const std::byte> stream_;
  const DecoderOptions& options_;
  ChunkPlan plan_;
  ChunkArena arena_;
  Decoder d_;
  uint64_t fed_;          // absolute offset just past the bytes fed so far
  uint64_t last_end_;     // where the last record ended
  uint64_t last_offset_;  // stream_offset of the last record
  RecordKind last_kind_ = RecordKind::kIgnored;
  int shared_run_ = 0;  // records in a row that consumed no header of their own
  uint64_t record_count_ = 0;
  size_t pos_ = 0;
  bool last_ = false;
  bool need_input_ = true;
  size_t payload_begin_ = 0;
  size_t payload_end_ = 0;
  size_t stretches_ = 0;  // chunks run on to a payload's edge so far
};

bool SameRecord(const Record& a, const Record& b) {
  return a.kind == b.kind && a.flags == b.flags && a.shares_header == b.shares_header &&
         a.stream_offset == b.stream_offset && a.address == b.address && a.idstr == b.idstr &&
         a.fill == b.fill && a.data.size() == b.data.size() &&
         (a.data.empty() || std::memcmp(a.data.data(), b.data.data(), a.data.size()) == 0) &&
         std::equal(a.blocks.begin(), a.blocks.end(), b.blocks.begin(), b.blocks.end());
}

// memcmp against zeros: libc's vectorised compare instead of a byte loop.
bool IsAllZero(const std::byte* p, size_t n) {
  static constexpr std::byte kZeros[kPageSize] = {};
  while (n > 0) {
    const size_t k = std::min(n, sizeof kZeros);
    if (std::memcmp(p, kZeros, k) != 0) return false;
    p += k;
    n -= k;
  }
  return true;
}

// What guest memory must hold after the page records a load accepted: for each page they
// targeted (block, offset), the contents the last of them left there. Nothing else may be
// non-zero. It is kept while loading, so an XBZRLE delta is applied to what the page should
// hold rather than to what memory holds (a page damaged earlier shows up at once). One per
// pass that needs it, reused across passes and inputs: no allocation in the steady state.
class PageModel {
 public:
  static constexpr uint32_t kUniform = ~uint32_t{0};
  struct Page {
    uint64_t offset;
    uint32_t block;
    uint32_t buf;   // index of its contents in buffers_, or kUniform: every byte is `fill`
    uint32_t slot;  // its place in table_
    uint8_t fill;
    bool seen;  // found resident by Matches
  };

  void Clear() {
    for (const Page& p : pages_) table_[p.slot] = 0;
    pages_.clear();
    buffers_used_ = 0;
  }
  // The page at (block, offset), zero when no record targeted it yet.
  Page& At(uint32_t block, uint64_t offset) {
    if (2 * (pages_.size() + 1) > table_.size()) Grow();
    uint32_t slot = Hash(block, offset) & Mask();
    for (; table_[slot] != 0; slot = (slot + 1) & Mask()) {
      Page& p = pages_[table_[slot] - 1];
      if (p.block == block && p.offset == offset) return p;
    }
    pages_.push_back({offset, block, kUniform, slot, 0, false});
    table_[slot] = static_cast<uint32_t>(pages_.size());
    return pages_.back();
  }
  Page* Find(uint32_t block, uint64_t offset) {
    if (table_.empty()) return nullptr;
    for (uint32_t slot = Hash(block, offset) & Mask(); table_[slot] != 0;
         slot = (slot + 1) & Mask()) {
      Page& p = pages_[table_[slot] - 1];
      if (p.block == block && p.offset == offset) return &p;
    }
    return nullptr;
  }
  // The page's bytes, to write; a uniform page is expanded first. Valid until the next call.
  std::byte* Bytes(Page& p) {
    if (p.buf == kUniform) {
      if (buffers_.size() < (buffers_used_ + 1) * kPageSize) {
        buffers_.resize(std::max(buffers_.size() * 2, (buffers_used_ + 1) * kPageSize));
      }
      p.buf = static_cast<uint32_t>(buffers_used_++);
      std::memset(&buffers_[p.buf * kPageSize], p.fill, kPageSize);
    }
    return &buffers_[p.buf * kPageSize];
  }
  void SetUniform(Page& p, uint8_t fill) {
    p.buf = kUniform;  // its buffer, if any, is not reused before Clear
    p.fill = fill;
  }
  // Does memory's `page` (nullptr: never written, reads as zeros) hold what `p` says?
  bool Matches(const Page& p, const std::byte* page) {
    if (p.buf != kUniform) {
      const std::byte* want = &buffers_[p.buf * kPageSize];
      return page ? std::memcmp(page, want, kPageSize) == 0 : IsAllZero(want, kPageSize);
    }
    if (page == nullptr || p.fill == 0) return page == nullptr || IsAllZero(page, kPageSize);
    if (fill_page_fill_ != p.fill) {
      std::memset(fill_page_, p.fill, kPageSize);
      fill_page_fill_ = p.fill;
    }
    return std::memcmp(page, fill_page_, kPageSize) == 0;
  }
  bool IsZero(const Page& p) { return Matches(p, nullptr); }
  std::vector<Page>& pages() { return pages_; }

 private:
  static uint32_t Hash(uint32_t block, uint64_t offset) {
    uint64_t h = (offset >> protocol::kPageBits) * 0x9e3779b97f4a7c15ull ^
                 (uint64_t{block} + 1) * 0xc2b2ae3d27d4eb4full;
    return static_cast<uint32_t>(h >> 32 ^ h);
  }
  uint32_t Mask() const { return static_cast<uint32_t>(table_.size() - 1); }
  void Grow() {
    table_.assign(std::max<size_t>(1024, table_.size() * 2), 0);
    for (size_t i = 0; i < pages_.size(); ++i) {
      uint32_t slot = Hash(pages_[i].block, pages_[i].offset) & Mask();
      while (table_[slot] != 0) slot = (slot + 1) & Mask();
      table_[slot] = static_cast<uint32_t>(i + 1);
      pages_[i].slot = slot;
    }
  }

  std::vector<Page> pages_;
  std::vector<uint32_t> table_;  // 1 + index into pages_, 0 = empty; a power of two
  std::vector<std::byte> buffers_;
  size_t buffers_used_ = 0;
  std::byte fill_page_[kPageSize] = {};
  int fill_page_fill_ = 0;
};

// Reused per slot: memory and models of CheckRamLoad's passes (and of the public LoadChecked
// and LoadFed) live across inputs, so a pass allocates no slabs, leaves or tables once the
// sizes it needs were seen.
enum PoolSlot { kWholeSlot, kFeedSlot, kPrefixSlot, kPublicSlot, kPoolSlots };
GuestMemory& Pooled(PoolSlot slot) {
  thread_local GuestMemory pool[kPoolSlots];
  return pool[slot];
}
// The slot's memory, empty, with the config's backing and limit. A PooledMemoryRelease
// empties it again when the input is done.
GuestMemory& PooledMemory(PoolSlot slot, const LoadConfig& c) {
  GuestMemoryOptions mo;
  mo.backing = c.backing;
  mo.max_resident_bytes = c.resident_limit;
  Pooled(slot).Reset(mo);
  return Pooled(slot);
}
// Empties the pool's memories at the end of the scope (of an input's checks). Emptying costs
// work in proportion to what the load wrote, in GuestMemory::Reset, which is instrumented
// code: done at the start of the next input, that work (and its coverage) would depend on the
// previous input, which AFL++ sees as unstable edges in persistent mode.
class PooledMemoryRelease {
 public:
  PooledMemoryRelease() = default;
  PooledMemoryRelease(const PooledMemoryRelease&) = delete;
  PooledMemoryRelease& operator=(const PooledMemoryRelease&) = delete;
  ~PooledMemoryRelease() {
    for (int i = 0; i < kPoolSlots; ++i) Pooled(static_cast<PoolSlot>(i)).Reset();
  }
};
PageModel& PooledModel(PoolSlot slot) {
  thread_local PageModel pool[kPoolSlots];
  pool[slot].Clear();
  return pool[slot];
}

uint64_t BlockBytes(const GuestMemory& m) {
  uint64_t sum = 0;
  for (size_t i = 0; i < m.block_count(); ++i) sum += m.used_length(static_cast<uint32_t>(i));
  return sum;
}

// Adds the config's preset blocks; they are a destination's, so they always fit the limits.
void Prepare(const LoadConfig& c, GuestMemory* m) {
  for (const auto& [idstr, length] : c.preset_blocks) {
    protocol::Result<uint32_t> r = m->AddBlock(idstr, length);
    RAMSTREAM_FUZZ_CHECK(r.ok(), "preset block rejected: %s", Describe(r.error()).c_str());
  }
}

// Memory holds exactly what `model` says: every page it holds (resident sparse pages, every
// page of a dense block) is either a model page with the model's contents or zero, and model
// pages it does not hold are zero. This catches a write outside the page a record validated,
// a failing record that wrote something, and two loads that disagree on contents.
void ExpectModelContents(const GuestMemory& m, PageModel& model, const char* what) {
  for (PageModel::Page& p : model.pages()) p.seen = false;
  for (uint32_t b = 0; b < m.block_count(); ++b) {
    m.ForEachPage(b, [&](uint64_t off, const std::byte* page) {
      PageModel::Page* p = model.Find(b, off);
      if (p == nullptr) {
        RAMSTREAM_FUZZ_CHECK(IsAllZero(page, kPageSize),
                             "%s: page 0x%llx of block '%s' is not zero, but no accepted record "
                             "targeted it",
                             what, (unsigned long long)off, m.idstr(b).c_str());
        return;
      }
      p->seen = true;
      RAMSTREAM_FUZZ_CHECK(model.Matches(*p, page),
                           "%s: page 0x%llx of block '%s' does not hold what the last record "
                           "that targeted it wrote",
                           what, (unsigned long long)off, m.idstr(b).c_str());
    });
  }
  for (PageModel::Page& p : model.pages()) {
    RAMSTREAM_FUZZ_CHECK(p.seen || model.IsZero(p),
                         "%s: page 0x%llx of block %u was written but is not in memory", what,
                         (unsigned long long)p.offset, p.block);
  }
}

// Same block table (names and lengths, in order).
void ExpectSameBlocks(const GuestMemory& a, const GuestMemory& b, const char* what) {
  RAMSTREAM_FUZZ_CHECK(a.block_count() == b.block_count(), "%s: %zu blocks vs %zu", what,
                       a.block_count(), b.block_count());
  for (uint32_t i = 0; i < a.block_count(); ++i) {
    RAMSTREAM_FUZZ_CHECK(a.idstr(i) == b.idstr(i) && a.used_length(i) == b.used_length(i),
                         "%s: block %u is '%s' (0x%llx) vs '%s' (0x%llx)", what, i,
                         a.idstr(i).c_str(), (unsigned long long)a.used_length(i),
                         b.idstr(i).c_str(), (unsigned long long)b.used_length(i));
  }
}

// Trace, counters and block bytes (resident bytes too when `same_backing`); contents are
// compared separately.
void ExpectSameOutcome(const LoadResult& a, const LoadResult& b, bool same_backing,
                       const char* what) {
  ExpectSameTrace(a.trace, b.trace, same_backing, what);
  const LoadStats& x = a.stats;
  const LoadStats& y = b.stats;
  RAMSTREAM_FUZZ_CHECK(x.records == y.records && x.continue_records == y.continue_records &&
                           x.named_records == y.named_records && x.bytes == y.bytes &&
                           x.continue_saved_bytes == y.continue_saved_bytes,
                       "%s: load counters differ (bytes %llu vs %llu)", what,
                       (unsigned long long)x.bytes, (unsigned long long)y.bytes);
  RAMSTREAM_FUZZ_CHECK(a.block_bytes == b.block_bytes, "%s: block tables differ", what);
  if (same_backing) {
    RAMSTREAM_FUZZ_CHECK(
        a.resident_bytes == b.resident_bytes, "%s: resident bytes differ: %llu vs %llu", what,
        (unsigned long long)a.resident_bytes, (unsigned long long)b.resident_bytes);
  }
}

// Decoder + Loader::Apply record by record over `memory` (Reset here), with the oracles of
// LoadChecked (oracles.h). With `lockstep`, a second decoder is fed the same stream in that
// plan's chunks and must yield the same records and the same end, one for one. `model` ends
// up holding what each targeted page must contain (version 4); with `final_check`, memory is
// compared with it at the end.
LoadResult ApplyPass(std::span<const std::byte> stream, const LoadConfig& config,
                     GuestMemory& memory, ChunkPlan plan, std::optional<ChunkPlan> lockstep,
                     bool keep_records, PageModel& model, bool final_check) {
  Prepare(config, &memory);
  Loader loader(config.options, &memory);
  const DecoderOptions& dopt = config.options.decoder;
  const bool v4 = dopt.section_version >= protocol::kRamSectionVersion;
  std::array<uint64_t, 9> applied{};  // per RecordKind
  int64_t last_named = -1;            // the block of the last page record that named its block

  // Block lengths before a MEM_SIZE record: a block it shrinks loses the model's pages past
  // its new end (memory drops them too; a later grow reads zeros there).
  thread_local std::vector<uint64_t> lengths;

  auto apply = [&](const Record& r) -> Error {
    const bool check_page = v4 && r.is_page();
    int64_t block = -1;
    bool in_range = false;
    if (check_page) {
      block = r.has_continue() ? last_named : memory.Find(r.idstr);
      if (block >= 0) {
        const uint64_t used = memory.used_length(static_cast<uint32_t>(block));
        in_range = r.address <= used && used - r.address >= kPageSize;
      }
    }
    if (v4 && r.kind == RecordKind::kMemSize) {
      lengths.resize(memory.block_count());
      for (uint32_t i = 0; i < memory.block_count(); ++i) lengths[i] = memory.used_length(i);
    }
    // Guest pages only: page tables (also counted as resident) may grow with a lookup.
    const uint64_t pages_before = memory.page_bytes();
    Error e = loader.Apply(r);
    if (!e.ok()) {
      if (r.is_page()) {
        RAMSTREAM_FUZZ_CHECK(memory.page_bytes() == pages_before,
                             "a rejected %s record allocated %llu bytes of pages",
                             std::string(protocol::RecordKindName(r.kind)).c_str(),
                             (unsigned long long)(memory.page_bytes() - pages_before));
      }
      return e;
    }
    ++applied[static_cast<size_t>(r.kind)];
    if (v4 && r.kind == RecordKind::kMemSize) {
      for (uint32_t i = 0; i < lengths.size(); ++i) {
        const uint64_t now = memory.used_length(i);
        if (now >= lengths[i]) continue;
        for (PageModel::Page& p : model.pages()) {
          if (p.block == i && p.offset + kPageSize > now) model.SetUniform(p, 0);
        }
      }
    }
    if (r.is_page()) {
      const uint64_t grown = memory.page_bytes() - pages_before;
      RAMSTREAM_FUZZ_CHECK(memory.page_bytes() >= pages_before &&
                               grown <= (config.backing == Backing::kSparse ? kPageSize : 0),
                           "one %s record changed page memory by %lld bytes",
                           std::string(protocol::RecordKindName(r.kind)).c_str(),
                           (long long)(memory.page_bytes() - pages_before));
    }
    if (!check_page) return Error{};
    RAMSTREAM_FUZZ_CHECK(block >= 0,
                         "loader accepted a %s record (CONTINUE=%d) at %llu with no block "
                         "to write to",
                         std::string(protocol::RecordKindName(r.kind)).c_str(), r.has_continue(),
                         (unsigned long long)r.stream_offset);
    RAMSTREAM_FUZZ_CHECK(in_range, "loader accepted page 0x%llx of block '%s' (used_length 0x%llx)",
                         (unsigned long long)r.address,
                         memory.idstr(static_cast<uint32_t>(block)).c_str(),
                         (unsigned long long)memory.used_length(static_cast<uint32_t>(block)));
    if (!r.has_continue()) last_named = block;
    const auto b = static_cast<uint32_t>(block);
    // What the page must hold now, from what the record says and (XBZRLE) what the model
    // says the page held before; then memory must agree.
    PageModel::Page& p = model.At(b, r.address);
    switch (r.kind) {
      case RecordKind::kZero:
        model.SetUniform(p, r.fill);
        break;
      case RecordKind::kPage:
        std::memcpy(model.Bytes(p), r.data.data(), kPageSize);
        break;
      case RecordKind::kXbzrle: {
        const Error v = protocol::xbzrle::Validate(r.data, kPageSize);
        RAMSTREAM_FUZZ_CHECK(v.ok(), "loader applied an invalid xbzrle delta: %s",
                             v.message.c_str());
        protocol::xbzrle::Apply(r.data, std::span<std::byte>(model.Bytes(p), kPageSize));
        break;
      }
      default: {
        uLongf out_len = kPageSize;
        uLong in_len = r.data.size();
        const int z = uncompress2(reinterpret_cast<Bytef*>(model.Bytes(p)), &out_len,
                                  reinterpret_cast<const Bytef*>(r.data.data()), &in_len);
        RAMSTREAM_FUZZ_CHECK(z == Z_OK && out_len == kPageSize,
                             "loader applied a compressed page zlib rejects (%d, %lu bytes)", z,
                             (unsigned long)out_len);
        break;
      }
    }
    RAMSTREAM_FUZZ_CHECK(model.Matches(p, memory.FindPage(b, r.address)),
                         "%s record at %llu left page 0x%llx of '%s' with other contents",
                         std::string(protocol::RecordKindName(r.kind)).c_str(),
                         (unsigned long long)r.stream_offset, (unsigned long long)r.address,
                         memory.idstr(b).c_str());
    return Error{};
  };

  LoadResult res;
  Trace& t = res.trace;
  t.kept_records = keep_records;
  if (!loader.error().ok()) {
    // Bad options (a layout the destination cannot hold): nothing is decoded.
    RAMSTREAM_FUZZ_CHECK(loader.error().code != Code::kInternal, "loader: %s",
                         loader.error().ToString().c_str());
    t.end = Step::kError;
    t.error = loader.error();
    t.position = dopt.start_offset;
  } else {
    CheckedDecoder whole(stream, dopt, std::move(plan), 0);
    std::optional<CheckedDecoder> chunked;
    if (lockstep) chunked.emplace(stream, dopt, std::move(*lockstep), 1);
    Record r;
    Record rc;
    for (;;) {
      const Step s = whole.Next(&r);
      if (chunked) {
        if (s == Step::kRecord) {
          const size_t end = static_cast<size_t>(whole.position() - dopt.start_offset);
          chunked->SetPayload(end - r.data.size(), end);
        }
        const Step sc = chunked->Next(&rc);
        RAMSTREAM_FUZZ_CHECK(s == sc,
                             "whole vs chunked: after %llu records one decoder ended with %s "
                             "(%s), the other with %s (%s)",
                             (unsigned long long)whole.record_count(), StepName(s),
                             Describe(whole.error()).c_str(), StepName(sc),
                             Describe(chunked->error()).c_str());
        if (s == Step::kRecord) {
          RAMSTREAM_FUZZ_CHECK(SameRecord(r, rc),
                               "whole vs chunked: record %llu (%s at %llu) differs (%s at %llu)",
                               (unsigned long long)whole.record_count(),
                               std::string(protocol::RecordKindName(r.kind)).c_str(),
                               (unsigned long long)r.stream_offset,
                               std::string(protocol::RecordKindName(rc.kind)).c_str(),
                               (unsigned long long)rc.stream_offset);
        } else if (s == Step::kError) {
          const Error& a = whole.error();
          const Error& c = chunked->error();
          RAMSTREAM_FUZZ_CHECK(a.code == c.code && a.offset == c.offset && a.message == c.message,
                               "whole vs chunked: errors differ: '%s' vs '%s'", Describe(a).c_str(),
                               Describe(c).c_str());
        }
      }
      if (s != Step::kRecord) {
        t.end = s;
        if (s == Step::kError) t.error = whole.error();
        break;
      }
      if (keep_records) t.records.emplace_back(r);
      if (Error e = apply(r); !e.ok()) {
        EndWithLoaderError(r, std::move(e), &t);
        break;
      }
    }
    whole.Finish();
    if (chunked) chunked->Finish();
    t.record_count = whole.record_count();
    t.position = whole.position();
  }
  res.stats = loader.stats();
  res.resident_bytes = memory.resident_bytes();
  res.block_bytes = BlockBytes(memory);

  for (size_t k = 0; k < applied.size(); ++k) {
    RAMSTREAM_FUZZ_CHECK(res.stats.records[k] == applied[k],
                         "loader counted %llu %s records, %llu were applied",
                         (unsigned long long)res.stats.records[k],
                         std::string(protocol::RecordKindName(static_cast<RecordKind>(k))).c_str(),
                         (unsigned long long)applied[k]);
  }
  // Version 3 addresses pages globally, so its targets are not tracked.
  if (v4 && final_check) ExpectModelContents(memory, model, "memory after the load");
  return res;
}

// Loader::Feed over `memory` (Reset by the caller), the production path.
LoadResult FeedPass(std::span<const std::byte> stream, const LoadConfig& config,
                    GuestMemory& memory, ChunkPlan plan) {
  Prepare(config, &memory);
  Loader loader(config.options, &memory);
  const uint64_t start = config.options.decoder.start_offset;
  LoadResult res;
  Trace& t = res.trace;
  uint64_t fed = start;
  size_t pos = 0;
  plan.Fit(stream.size(), kMaxChunksPerPass);
  ChunkArena arena(0);
  if (!loader.error().ok()) {
    t.end = Step::kError;
    t.error = loader.error();
  }
  while (loader.error().ok()) {
    const size_t n = stream.empty() ? 0 : plan.Next(stream.size() - pos);
    const bool last = pos + n == stream.size();
    const LoadStatus st = loader.Feed(arena.Next(stream, pos, n), last);
    pos += n;
    fed += n;
    if (st == LoadStatus::kNeedInput) {
      RAMSTREAM_FUZZ_CHECK(!last, "Loader::Feed wants input after end_of_input (at %llu)",
                           (unsigned long long)loader.decoder().position());
      RAMSTREAM_FUZZ_CHECK(loader.decoder().position() == fed,
                           "Loader::Feed returned kNeedInput with fed bytes left");
      continue;
    }
    if (st == LoadStatus::kDone) {
      RAMSTREAM_FUZZ_CHECK(last && loader.decoder().position() == fed,
                           "Loader::Feed done before the end of input");
      t.end = Step::kEnd;
      break;
    }
    RAMSTREAM_FUZZ_CHECK(st == LoadStatus::kError && !loader.error().ok(),
                         "Loader::Feed status %u with error '%s'", static_cast<unsigned>(st),
                         Describe(loader.error()).c_str());
    t.end = Step::kError;
    t.error = loader.error();
  }
  arena.Retire();  // the sticky-error call below must not read the last chunk either
  if (t.end == Step::kError) {
    RAMSTREAM_FUZZ_CHECK(t.error.code != Code::kInternal, "loader: %s", t.error.ToString().c_str());
    const LoadStatus again = loader.Feed({}, true);
    RAMSTREAM_FUZZ_CHECK(again == LoadStatus::kError && loader.error().code == t.error.code &&
                             loader.error().offset == t.error.offset,
                         "loader error is not sticky");
  }
  t.position = loader.decoder().position();
  for (uint64_t c : loader.stats().records) t.record_count += c;
  res.stats = loader.stats();
  res.resident_bytes = memory.resident_bytes();
  res.block_bytes = BlockBytes(memory);
  return res;
}

}  // namespace

protocol::DecoderLimits FuzzLimits() {
  protocol::DecoderLimits l;
  l.max_total_bytes = uint64_t{1} << 40;
  l.max_block_bytes = uint64_t{1} << 40;
  return l;
}

std::vector<std::byte> WriteRecords(const std::vector<OwnedRecord>& records) {
  std::vector<std::byte> out;
  for (const OwnedRecord& r : records) protocol::AppendRecord(r.View(), &out);
  return out;
}

Trace DecodeChecked(std::span<const std::byte> stream, const DecoderOptions& options,
                    ChunkPlan plan, bool keep_records, const RecordSink& sink) {
  Trace t;
  t.kept_records = keep_records;
  CheckedDecoder d(stream, options, std::move(plan), 0);
  Record r;
  for (;;) {
    const Step s = d.Next(&r);
    if (s != Step::kRecord) {
      t.end = s;
      if (s == Step::kError) t.error = d.error();
      break;
    }
    if (keep_records) t.records.emplace_back(r);
    if (sink) {
      if (Error e = sink(r); !e.ok()) {
        EndWithLoaderError(r, std::move(e), &t);
        break;
      }
    }
  }
  d.Finish();
  t.record_count = d.record_count();
  t.position = d.position();
  return t;
}

LoadResult LoadChecked(std::span<const std::byte> stream, const LoadConfig& config, ChunkPlan plan,
                       PassOptions pass) {
  PooledMemoryRelease release;
  GuestMemory& memory = PooledMemory(kPublicSlot, config);
  LoadResult res =
      ApplyPass(stream, config, memory, std::move(plan), std::nullopt, pass.keep_records,
                PooledModel(kPublicSlot), pass.check_untargeted_writes);
  res.digest = memory.Digest();
  return res;
}

LoadResult LoadFed(std::span<const std::byte> stream, const LoadConfig& config, ChunkPlan plan) {
  PooledMemoryRelease release;
  GuestMemory& memory = PooledMemory(kPublicSlot, config);
  LoadResult res = FeedPass(stream, config, memory, std::move(plan));
  res.digest = memory.Digest();
  return res;
}

void ExpectSameTrace(const Trace& a, const Trace& b, bool same_messages, const char* what) {
  RAMSTREAM_FUZZ_CHECK(a.end == b.end, "%s: one pass ended with %s (%s), the other with %s (%s)",
                       what, StepName(a.end), Describe(a.error).c_str(), StepName(b.end),
                       Describe(b.error).c_str());
  RAMSTREAM_FUZZ_CHECK(a.error.code == b.error.code && a.error.offset == b.error.offset,
                       "%s: errors differ: '%s' vs '%s'", what, Describe(a.error).c_str(),
                       Describe(b.error).c_str());
  if (same_messages) {
    RAMSTREAM_FUZZ_CHECK(a.error.message == b.error.message, "%s: messages differ: '%s' vs '%s'",
                         what, a.error.message.c_str(), b.error.message.c_str());
  }
  if (a.kept_records && b.kept_records) {
    RAMSTREAM_FUZZ_CHECK(a.records.size() == b.records.size(), "%s: %zu records vs %zu", what,
                         a.records.size(), b.records.size());
    for (size_t i = 0; i < a.records.size(); ++i) {
      RAMSTREAM_FUZZ_CHECK(a.records[i] == b.records[i], "%s: record %zu (at %llu) differs", what,
                           i, (unsigned long long)a.records[i].stream_offset);
    }
  }
}

void ExpectSameLoad(const LoadResult& a, const LoadResult& b, bool same_backing, const char* what) {
  ExpectSameOutcome(a, b, same_backing, what);
  RAMSTREAM_FUZZ_CHECK(a.digest == b.digest, "%s: memory digests differ: %s vs %s", what,
                       a.digest.c_str(), b.digest.c_str());
}

void CheckRamLoad(std::span<const std::byte> stream, const LoadConfig& config,
                  std::span<const std::byte> plan_bytes, RamLoadChecks checks) {
  // The core pass: Decoder + Apply on sparse memory, the whole stream in one chunk, with a
  // second decoder fed the plan's chunks in lockstep (whole vs chunked, record by record),
  // the page model and, at the end, memory against the model.
  LoadConfig sparse = config;
  sparse.backing = Backing::kSparse;
  PooledMemoryRelease release;
  GuestMemory& whole_memory = PooledMemory(kWholeSlot, sparse);
  PageModel& model = PooledModel(kWholeSlot);
  const bool v4 = config.options.decoder.section_version >= protocol::kRamSectionVersion;
  const LoadResult whole = ApplyPass(stream, sparse, whole_memory, ChunkPlan::Whole(),
                                     ChunkPlan(plan_bytes), false, model, true);
  if (checks == RamLoadChecks::kCore) return;

  // The production path, Loader::Feed in the plan's chunks, on dense memory when the blocks
  // are small: Feed vs Apply and dense vs sparse in one comparison. A sparse load can fail on
  // the resident limit where a dense one, allocated within a limit it cannot reach, does
  // not: then it stays sparse.
  const bool hit_limit =
      whole.trace.end == Step::kError && whole.trace.error.code == Code::kLimitExceeded;
  const bool dense = whole.block_bytes <= kDenseCompareLimit && !hit_limit;
  LoadConfig other = config;
  other.backing = dense ? Backing::kDense : Backing::kSparse;
  GuestMemory& fed_memory = PooledMemory(kFeedSlot, other);
  const LoadResult fed = FeedPass(stream, other, fed_memory, ChunkPlan(plan_bytes));
  const char* what = dense ? "Apply sparse vs Loader::Feed dense" : "Apply vs Loader::Feed";
  ExpectSameOutcome(whole, fed, !dense, what);
  ExpectSameBlocks(whole_memory, fed_memory, what);
  if (v4) {
    ExpectModelContents(fed_memory, model, what);
  } else {
    RAMSTREAM_FUZZ_CHECK(whole_memory.Digest() == fed_memory.Digest(), "%s: memory digests differ",
                         what);
  }

  // Nothing from a failing record is written and nothing after it applied: memory equals
  // that of loading just the records before it. (qemu-2010 composite headers apply part of
  // a header before failing, so only exact dialects promise this.) The core pass's model
  // check already finds a failing record's writes; this pass adds that the bytes before
  // the failing record end there, and runs the production path on them.
  const uint64_t start = config.options.decoder.start_offset;
  if (whole.trace.end != Step::kError || !config.options.decoder.dialect.exact_flags ||
      whole.trace.error.offset < start || whole.trace.error.offset - start > stream.size()) {
    return;
  }
  const size_t cut = static_cast<size_t>(whole.trace.error.offset - start);
  GuestMemory& prefix_memory = PooledMemory(kPrefixSlot, sparse);
  const LoadResult prefix = FeedPass(stream.first(cut), sparse, prefix_memory, ChunkPlan::Whole());
  const bool prefix_ends_there =
      prefix.trace.end == Step::kEnd ||
      (prefix.trace.error.code == Code::kTruncated && prefix.trace.error.offset == start + cut) ||
      (prefix.trace.error.code == whole.trace.error.code &&
       prefix.trace.error.offset == whole.trace.error.offset);
  RAMSTREAM_FUZZ_CHECK(prefix_ends_there, "the %zu bytes before the failing record end in '%s'",
                       cut, Describe(prefix.trace.error).c_str());
  const char* what_prefix = "a failed load vs loading only the records before the failing one";
  ExpectSameBlocks(whole_memory, prefix_memory, what_prefix);
  if (v4) {
    ExpectModelContents(prefix_memory, model, what_prefix);
  } else {
    RAMSTREAM_FUZZ_CHECK(whole_memory.Digest() == prefix_memory.Digest(),
                         "%s: memory digests differ", what_prefix);
  }
  RAMSTREAM_FUZZ_CHECK(
      prefix.stats.bytes == whole.stats.bytes && prefix.stats.records == whole.stats.records,
      "a failed load counted records it did not apply");
}

}  // namespace ramstream::fuzz
