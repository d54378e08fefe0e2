#include "fuzz/oracles.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

// Where the chunks of one pass live. A decoder that keeps a view into an earlier chunk, or
// reads past the one it was given, must be caught. One allocation per chunk did that through
// ASan's heap checks, but cost a malloc, a stack unwind and a free per chunk (ASan's
// allocator and stack depot were about a tenth of a ram_load_fuzzer profile). Instead every
// chunk gets its own 8-byte-aligned place in one reused buffer (never a place an earlier
// chunk had), and only the chunk being decoded is addressable: under ASan the rest is
// poisoned, so a stale view or an over-read is a use-after-poison report at the exact byte,
// as before. Consumed chunks are also overwritten, so without ASan a stale view reads
// garbage and the passes' records or digests disagree.
class ChunkArena {
 public:
  // `plan` is a copy of the pass's plan: it is run once here to size the buffer.
  ChunkArena(size_t stream_size, ChunkPlan plan) : buf_(Storage()) {
    RAMSTREAM_FUZZ_CHECK(!in_use_, "two ChunkArenas at once");
    in_use_ = true;
    size_t total = 0;
    size_t pos = 0;
    do {
      const size_t n = stream_size == 0 ? 0 : plan.Next(stream_size - pos);
      pos += n;
      total += Padded(n);
    } while (pos < stream_size);
    if (buf_.size() < total) buf_.resize(total);
    Poison(buf_.data(), total);
    used_ = total;
  }
  ~ChunkArena() {
    Unpoison(buf_.data(), used_);
    in_use_ = false;
  }
  ChunkArena(const ChunkArena&) = delete;
  ChunkArena& operator=(const ChunkArena&) = delete;

  // The copy of `stream[pos, pos + n)` to feed; the previous chunk is retired.
  std::span<const std::byte> Next(std::span<const std::byte> stream, size_t pos, size_t n) {
    Retire();
    RAMSTREAM_FUZZ_CHECK(next_ + Padded(n) <= used_, "chunk arena overrun");
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
  // One buffer per thread, grown to the largest pass seen: no allocation per pass.
  static std::vector<std::byte>& Storage() {
    thread_local std::vector<std::byte> storage;
    return storage;
  }

  static thread_local bool in_use_;
  std::vector<std::byte>& buf_;
  size_t used_ = 0;
  size_t next_ = 0;
  std::span<std::byte> current_;
};
thread_local bool ChunkArena::in_use_ = false;

GuestMemoryOptions MemoryOptions(const LoadConfig& c) {
  GuestMemoryOptions mo;
  mo.backing = c.backing;
  mo.max_resident_bytes = c.resident_limit;
  return mo;
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

// memcmp against zeros: libc's vectorised compare instead of a byte loop.
bool IsAllZero(std::span<const std::byte> p) {
  static constexpr std::byte kZeros[kPageSize] = {};
  while (!p.empty()) {
    const size_t n = std::min(p.size(), sizeof kZeros);
    if (std::memcmp(p.data(), kZeros, n) != 0) return false;
    p = p.subspan(n);
  }
  return true;
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
  Decoder d(options);
  const uint64_t start = options.start_offset;
  uint64_t fed = start;          // absolute offset just past the bytes fed so far
  uint64_t last_end = start;     // where the last record ended
  uint64_t last_offset = start;  // stream_offset of the last record
  RecordKind last_kind = RecordKind::kIgnored;
  int shared_run = 0;  // records in a row that consumed no header of their own
  size_t pos = 0;
  bool done = false;
  ChunkArena arena(stream.size(), plan);
  while (!done) {
    const size_t n = stream.empty() ? 0 : plan.Next(stream.size() - pos);
    const bool last = pos + n == stream.size();
    d.Feed(arena.Next(stream, pos, n), last);
    pos += n;
    fed += n;
    for (;;) {
      Record r;
      const Step s = d.Next(&r);
      if (s == Step::kRecord) {
        CheckWellFormed(r, options);
        if (r.shares_header) {
          RAMSTREAM_FUZZ_CHECK(r.stream_offset == last_offset && t.record_count > 0,
                               "shared-header record at %llu, its header at %llu",
                               (unsigned long long)r.stream_offset,
                               (unsigned long long)last_offset);
          RAMSTREAM_FUZZ_CHECK(++shared_run <= 2,
                               "decoder made no progress: %d records share the header at %llu",
                               shared_run + 1, (unsigned long long)last_offset);
        } else {
          RAMSTREAM_FUZZ_CHECK(r.stream_offset == last_end,
                               "record at %llu, but the previous one ended at %llu",
                               (unsigned long long)r.stream_offset, (unsigned long long)last_end);
          shared_run = 0;
        }
        const uint64_t size = protocol::RecordSize(r);
        RAMSTREAM_FUZZ_CHECK(d.position() == last_end + size,
                             "%s record at %llu is %llu bytes but the decoder moved from %llu "
                             "to %llu",
                             std::string(protocol::RecordKindName(r.kind)).c_str(),
                             (unsigned long long)r.stream_offset, (unsigned long long)size,
                             (unsigned long long)last_end, (unsigned long long)d.position());
        RAMSTREAM_FUZZ_CHECK(d.position() <= fed, "decoder position past the fed bytes");
        last_end = d.position();
        last_offset = r.stream_offset;
        last_kind = r.kind;
        ++t.record_count;
        if (keep_records) t.records.emplace_back(r);
        if (sink) {
          Error e = sink(r);
          if (!e.ok()) {
            RAMSTREAM_FUZZ_CHECK(e.code != Code::kInternal, "loader: %s", e.ToString().c_str());
            RAMSTREAM_FUZZ_CHECK(e.offset == r.stream_offset,
                                 "loader error at %llu for the record at %llu",
                                 (unsigned long long)e.offset, (unsigned long long)r.stream_offset);
            t.end = Step::kError;
            t.error = std::move(e);
            done = true;
            break;
          }
        }
        continue;
      }
      if (s == Step::kNeedInput) {
        RAMSTREAM_FUZZ_CHECK(!last, "decoder asked for input after end_of_input (at %llu)",
                             (unsigned long long)d.position());
        RAMSTREAM_FUZZ_CHECK(d.position() == fed, "kNeedInput with %llu fed bytes not consumed",
                             (unsigned long long)(fed - d.position()));
        RAMSTREAM_FUZZ_CHECK(d.BytesNeeded() > 0, "kNeedInput while needing no bytes");
        break;
      }
      if (s == Step::kEnd) {
        RAMSTREAM_FUZZ_CHECK(last && d.position() == fed,
                             "kEnd before the end of input (%llu of %llu)",
                             (unsigned long long)d.position(), (unsigned long long)fed);
        RAMSTREAM_FUZZ_CHECK(t.record_count > 0 && last_kind == RecordKind::kEos,
                             "kEnd after a %s record",
                             std::string(protocol::RecordKindName(last_kind)).c_str());
        t.end = Step::kEnd;
        done = true;
        break;
      }
      RAMSTREAM_FUZZ_CHECK(s == Step::kError, "Next returned %u", static_cast<unsigned>(s));
      const Error& e = d.error();
      RAMSTREAM_FUZZ_CHECK(!e.ok(), "kError without an error");
      RAMSTREAM_FUZZ_CHECK(e.code != Code::kInternal, "decoder: %s", e.ToString().c_str());
      RAMSTREAM_FUZZ_CHECK(e.offset <= d.position() && d.position() <= fed,
                           "error offset %llu past the consumed %llu (fed %llu)",
                           (unsigned long long)e.offset, (unsigned long long)d.position(),
                           (unsigned long long)fed);
      // The failing record starts where the last one ended (or, in 2010's composite headers,
      // is a later action of the last one's header).
      RAMSTREAM_FUZZ_CHECK(
          e.offset == last_end || (!options.dialect.exact_flags && e.offset == last_offset),
          "error at %llu, but the last record ended at %llu: %s", (unsigned long long)e.offset,
          (unsigned long long)last_end, e.ToString().c_str());
      Record again;
      RAMSTREAM_FUZZ_CHECK(d.Next(&again) == Step::kError && d.error().code == e.code &&
                               d.error().offset == e.offset,
                           "decoder error is not sticky");
      t.end = Step::kError;
      t.error = e;
      done = true;
      break;
    }
  }
  // As when each chunk was its own allocation: nothing of the input is readable once the
  // pass is over.
  arena.Retire();
  t.position = d.position();
  return t;
}

LoadResult LoadChecked(std::span<const std::byte> stream, const LoadConfig& config, ChunkPlan plan,
                       PassOptions pass) {
  GuestMemory memory(MemoryOptions(config));
  Prepare(config, &memory);
  Loader loader(config.options, &memory);
  const DecoderOptions& dopt = config.options.decoder;
  const bool v4 = dopt.section_version >= protocol::kRamSectionVersion;

  // (block, offset) of accepted page records, in order, repeats included: kept only when
  // checked, and a vector rather than a set (a node allocation per record under ASan).
  std::vector<std::pair<uint32_t, uint64_t>> touched;
  std::array<uint64_t, 9> applied{};  // per RecordKind
  int64_t last_named = -1;            // the block of the last page record that named its block
  // Reused for every record; compared with memcmp, because comparing std::byte element by
  // element puts a coverage callback on every byte and dominated the fuzzers' time.
  std::vector<std::byte> before(kPageSize), after(kPageSize), expect(kPageSize);

  RecordSink sink = [&](const Record& r) -> Error {
    const bool check_page = v4 && r.is_page();
    int64_t block = -1;
    bool in_range = false;
    if (check_page) {
      block = r.has_continue() ? last_named : memory.Find(r.idstr);
      if (block >= 0) {
        const uint64_t used = memory.used_length(static_cast<uint32_t>(block));
        in_range = r.address <= used && used - r.address >= kPageSize;
        if (in_range) memory.Read(static_cast<uint32_t>(block), r.address, before);
      }
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
    if (pass.check_untargeted_writes) touched.emplace_back(b, r.address);
    memory.Read(b, r.address, after);
    expect = before;
    switch (r.kind) {
      case RecordKind::kZero:
        std::memset(expect.data(), r.fill, kPageSize);
        break;
      case RecordKind::kPage:
        std::copy(r.data.begin(), r.data.end(), expect.begin());
        break;
      case RecordKind::kXbzrle: {
        const Error v = protocol::xbzrle::Validate(r.data, kPageSize);
        RAMSTREAM_FUZZ_CHECK(v.ok(), "loader applied an invalid xbzrle delta: %s",
                             v.message.c_str());
        protocol::xbzrle::Apply(r.data, expect);
        break;
      }
      default: {
        uLongf out_len = kPageSize;
        uLong in_len = r.data.size();
        const int z = uncompress2(reinterpret_cast<Bytef*>(expect.data()), &out_len,
                                  reinterpret_cast<const Bytef*>(r.data.data()), &in_len);
        RAMSTREAM_FUZZ_CHECK(z == Z_OK && out_len == kPageSize,
                             "loader applied a compressed page zlib rejects (%d, %lu bytes)", z,
                             (unsigned long)out_len);
        break;
      }
    }
    RAMSTREAM_FUZZ_CHECK(std::memcmp(after.data(), expect.data(), kPageSize) == 0,
                         "%s record at %llu left page 0x%llx of '%s' with other contents",
                         std::string(protocol::RecordKindName(r.kind)).c_str(),
                         (unsigned long long)r.stream_offset, (unsigned long long)r.address,
                         memory.idstr(b).c_str());
    return Error{};
  };

  LoadResult res;
  if (!loader.error().ok()) {
    // Bad options (a layout the destination cannot hold): nothing is decoded.
    RAMSTREAM_FUZZ_CHECK(loader.error().code != Code::kInternal, "loader: %s",
                         loader.error().ToString().c_str());
    res.trace.end = Step::kError;
    res.trace.error = loader.error();
    res.trace.position = dopt.start_offset;
  } else {
    res.trace = DecodeChecked(stream, dopt, std::move(plan), pass.keep_records, sink);
  }
  res.stats = loader.stats();
  res.digest = memory.Digest();
  res.resident_bytes = memory.resident_bytes();
  res.block_bytes = BlockBytes(memory);

  for (size_t k = 0; k < applied.size(); ++k) {
    RAMSTREAM_FUZZ_CHECK(res.stats.records[k] == applied[k],
                         "loader counted %llu %s records, %llu were applied",
                         (unsigned long long)res.stats.records[k],
                         std::string(protocol::RecordKindName(static_cast<RecordKind>(k))).c_str(),
                         (unsigned long long)applied[k]);
  }

  // Rebuild memory from the targeted pages alone: any other non-zero page was written by
  // mistake. Version 3 addresses pages globally, so its targets are not tracked.
  if (v4 && pass.check_untargeted_writes) {
    // Sparse unless the blocks are tiny: the model holds only the targeted pages, and a
    // dense model's calloc and digest would touch every page of every block.
    GuestMemoryOptions mo;
    mo.backing = res.block_bytes <= kDenseCheaperLimit ? Backing::kDense : Backing::kSparse;
    GuestMemory model(mo);
    for (uint32_t i = 0; i < memory.block_count(); ++i) {
      protocol::Result<uint32_t> added = model.AddBlock(memory.idstr(i), memory.used_length(i));
      RAMSTREAM_FUZZ_CHECK(added.ok(), "model block rejected");
    }
    for (const auto& [b, off] : touched) {
      if (off > memory.used_length(b) || memory.used_length(b) - off < kPageSize) continue;
      memory.Read(b, off, after);
      if (IsAllZero(after)) continue;
      std::memcpy(model.PageForWrite(b, off), after.data(), kPageSize);
    }
    RAMSTREAM_FUZZ_CHECK(model.Digest() == res.digest,
                         "memory holds non-zero pages that no accepted record targeted "
                         "(digest %s, targeted pages only %s)",
                         res.digest.c_str(), model.Digest().c_str());
  }
  return res;
}

LoadResult LoadFed(std::span<const std::byte> stream, const LoadConfig& config, ChunkPlan plan) {
  GuestMemory memory(MemoryOptions(config));
  Prepare(config, &memory);
  Loader loader(config.options, &memory);
  const uint64_t start = config.options.decoder.start_offset;
  LoadResult res;
  Trace& t = res.trace;
  uint64_t fed = start;
  size_t pos = 0;
  ChunkArena arena(stream.size(), plan);
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
  res.digest = memory.Digest();
  res.resident_bytes = memory.resident_bytes();
  res.block_bytes = BlockBytes(memory);
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
  ExpectSameTrace(a.trace, b.trace, same_backing, what);
  const LoadStats& x = a.stats;
  const LoadStats& y = b.stats;
  RAMSTREAM_FUZZ_CHECK(x.records == y.records && x.continue_records == y.continue_records &&
                           x.named_records == y.named_records && x.bytes == y.bytes &&
                           x.continue_saved_bytes == y.continue_saved_bytes,
                       "%s: load counters differ (bytes %llu vs %llu)", what,
                       (unsigned long long)x.bytes, (unsigned long long)y.bytes);
  RAMSTREAM_FUZZ_CHECK(a.digest == b.digest, "%s: memory digests differ: %s vs %s", what,
                       a.digest.c_str(), b.digest.c_str());
  RAMSTREAM_FUZZ_CHECK(a.block_bytes == b.block_bytes, "%s: block tables differ", what);
  if (same_backing) {
    RAMSTREAM_FUZZ_CHECK(
        a.resident_bytes == b.resident_bytes, "%s: resident bytes differ: %llu vs %llu", what,
        (unsigned long long)a.resident_bytes, (unsigned long long)b.resident_bytes);
  }
}

void CheckRamLoad(std::span<const std::byte> stream, const LoadConfig& config,
                  std::span<const std::byte> plan_bytes) {
  LoadConfig sparse = config;
  sparse.backing = Backing::kSparse;
  const LoadResult whole = LoadChecked(stream, sparse, ChunkPlan::Whole(),
                                       {.keep_records = true, .check_untargeted_writes = true});

  // Every pass is compared with `whole` (sparse, Apply, one chunk). The chunked Apply pass
  // uses dense memory when the blocks are small: whole vs chunked, and sparse vs dense.
  // Loader::Feed (chunked too) and the failed-load prefix only need the same contents, so
  // they take the cheaper backing: sparse, unless the blocks are tiny. Thus at most one pass
  // per input pays for dense memory of up to kDenseCompareLimit, whose calloc and digest
  // touch every page of every block (most of the oracles' time on inputs with megabyte
  // blocks). A sparse load can fail on the resident limit where a dense one, allocated
  // within a limit it cannot reach, does not: then all passes stay sparse.
  const bool hit_limit =
      whole.trace.end == Step::kError && whole.trace.error.code == Code::kLimitExceeded;
  const bool dense = whole.block_bytes <= kDenseCompareLimit && !hit_limit;
  LoadConfig other = config;
  other.backing = dense ? Backing::kDense : Backing::kSparse;
  const LoadResult chunked =
      LoadChecked(stream, other, ChunkPlan(plan_bytes), {.keep_records = true});
  ExpectSameLoad(whole, chunked, !dense,
                 dense ? "whole sparse vs chunked dense" : "whole vs chunked");
  LoadConfig cheap = config;
  cheap.backing =
      whole.block_bytes <= kDenseCheaperLimit && !hit_limit ? Backing::kDense : Backing::kSparse;
  const bool cheap_sparse = cheap.backing == Backing::kSparse;
  // The production path.
  const LoadResult fed = LoadFed(stream, cheap, ChunkPlan(plan_bytes));
  ExpectSameLoad(whole, fed, cheap_sparse,
                 cheap_sparse ? "Apply vs Loader::Feed" : "Apply sparse vs Loader::Feed dense");

  // Nothing from a failing record is written and nothing after it applied: memory equals
  // that of loading just the records before it. (qemu-2010 composite headers apply part of
  // a header before failing, so only exact dialects promise this.)
  const uint64_t start = config.options.decoder.start_offset;
  if (whole.trace.end != Step::kError || !config.options.decoder.dialect.exact_flags ||
      whole.trace.error.offset < start || whole.trace.error.offset - start > stream.size()) {
    return;
  }
  const size_t cut = static_cast<size_t>(whole.trace.error.offset - start);
  const LoadResult prefix = LoadChecked(stream.first(cut), cheap, ChunkPlan::Whole(), {});
  const bool prefix_ends_there =
      prefix.trace.end == Step::kEnd ||
      (prefix.trace.error.code == Code::kTruncated && prefix.trace.error.offset == start + cut) ||
      (prefix.trace.error.code == whole.trace.error.code &&
       prefix.trace.error.offset == whole.trace.error.offset);
  RAMSTREAM_FUZZ_CHECK(prefix_ends_there, "the %zu bytes before the failing record end in '%s'",
                       cut, Describe(prefix.trace.error).c_str());
  RAMSTREAM_FUZZ_CHECK(prefix.digest == whole.digest,
                       "a failed load (%s) left memory %s, loading only the records before it "
                       "gives %s",
                       whole.trace.error.ToString().c_str(), whole.digest.c_str(),
                       prefix.digest.c_str());
  RAMSTREAM_FUZZ_CHECK(
      prefix.stats.bytes == whole.stats.bytes && prefix.stats.records == whole.stats.records,
      "a failed load counted records it did not apply");
}

}  // namespace ramstream::fuzz
