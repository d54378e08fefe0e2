#include "protocol/loader.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <unordered_set>
#include <utility>

#include "protocol/encoder.h"
#include "protocol/internal/text.h"
#include "protocol/internal/zero.h"
#include "protocol/xbzrle.h"

namespace ramstream::protocol {
namespace {

using internal::Cat;
using internal::Hex;
using internal::Quoted;

const char* PageKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kZero:
      return "ZERO";
    case RecordKind::kPage:
      return "PAGE";
    case RecordKind::kXbzrle:
      return "XBZRLE";
    default:
      return "COMPRESS_PAGE";
  }
}

// The index of the first item whose idstr repeats an earlier one's, or items.size(). Lists
// are a handful of blocks in practice and this runs for every MEM_SIZE record (most fuzz
// inputs have several), so short lists are compared pairwise without allocating; long ones
// (up to DecoderLimits::max_ram_blocks) use a hash set.
template <typename T>
size_t FirstRepeatedIdstr(std::span<const T> items) {
  constexpr size_t kPairwiseMax = 32;
  if (items.size() <= kPairwiseMax) {
    for (size_t i = 1; i < items.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (items[i].idstr == items[j].idstr) return i;
      }
    }
    return items.size();
  }
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!seen.insert(items[i].idstr).second) return i;
  }
  return items.size();
}

}  // namespace

Loader::Loader(LoaderOptions options, GuestMemory* memory)
    : options_(std::move(options)),
      memory_(memory),
      decoder_(options_.decoder),
      applied_position_(options_.decoder.start_offset) {
  if (!decoder_.error().ok()) {
    error_ = decoder_.error();
    return;
  }
  if (!options_.layout) {
    // Memory that already holds blocks is the destination: MEM_SIZE is checked against it.
    if (memory_->block_count() > 0) {
      max_length_.assign(memory_->block_count(), 0);
      have_table_ = true;
    }
    return;
  }
  const std::span<const DestinationBlock> layout(*options_.layout);
  const size_t twice = FirstRepeatedIdstr(layout);
  for (size_t i = 0; i < twice; ++i) {
    Result<uint32_t> added = memory_->AddBlock(layout[i].idstr, layout[i].used_length);
    if (!added.ok()) {
      error_ = added.error();
      return;
    }
    max_length_.push_back(layout[i].max_length);
  }
  if (twice < layout.size()) {
    error_ = Error{Code::kDuplicateBlock, 0,
                   "destination layout lists block " + Quoted(layout[twice].idstr) + " twice"};
    return;
  }
  have_table_ = true;
}

bool Loader::Fail(Code code, const Record& record, std::string message) {
  error_ = Error{code, record.stream_offset, std::move(message)};
  return false;
}

bool Loader::FailOffset(const Record& r, uint32_t block, uint64_t offset) {
  return Fail(Code::kOffsetOutOfRange, r,
              Cat({PageKindName(r.kind), " offset ", Hex(offset),
                   " + 0x1000 is past the end of block ", Quoted(memory_->idstr(block)),
                   " (used_length ", Hex(memory_->used_length(block)), ")"}));
}

// Inlined into the Feed loop (its cold paths are calls), so the decoder's fast path and this
// one share registers: a CONTINUE ZERO record then costs a handful of instructions.
[[gnu::always_inline]] inline bool Loader::ApplyPage(const Record& r) {
  uint32_t block;
  uint64_t offset = r.address;
  if (r.has_continue() && last_block_ >= 0 &&
      options_.decoder.section_version >= kRamSectionVersion) {
    // The hot path: most records of a real stream continue the block of the one before.
    block = static_cast<uint32_t>(last_block_);
    ++stats_.continue_records;
    stats_.continue_saved_bytes += last_saved_;
  } else if (!ResolveNamed(r, &block, &offset)) {
    return false;
  }
  // CVE-2014-7840: the whole page must lie inside the block (last_end_ is that block's).
  if (offset >= last_end_) return FailOffset(r, block, offset);
  if (r.kind == RecordKind::kZero && r.fill == 0) {
    // Like QEMU, leave a page that is already zero untouched (and unallocated when sparse).
    const std::byte* cur = memory_->FindPage(block, offset);
    if (cur != nullptr && !internal::IsZero(cur, kPageSize)) {
      std::memset(memory_->PageForWrite(block, offset), 0, kPageSize);
    }
    return true;
  }
  return WritePayload(r, block, offset);
}

LoadStatus Loader::Feed(std::span<const std::byte> data, bool end_of_input) {
  if (!error_.ok()) return LoadStatus::kError;
  decoder_.Feed(data, end_of_input);
  Record r;
  for (;;) {
    switch (decoder_.Next(&r)) {
      case Step::kRecord: {
        if (!ApplyRecord(r)) return LoadStatus::kError;
        // The decoder's position counts the record's bytes, wherever they were staged.
        const uint64_t pos = decoder_.position();
        stats_.bytes += pos - applied_position_;
        applied_position_ = pos;
        break;
      }
      case Step::kNeedInput:
        return LoadStatus::kNeedInput;
      case Step::kEnd:
        return LoadStatus::kDone;
      case Step::kError:
        error_ = decoder_.error();
        return LoadStatus::kError;
    }
  }
}

Error Loader::Apply(const Record& r) {
  if (!error_.ok()) return error_;
  if (!ApplyRecord(r)) return error_;
  stats_.bytes += RecordSize(r);
  return {};
}

bool Loader::ApplyRecord(const Record& r) {
  if (r.is_page()) {
    if (!ApplyPage(r)) return false;
  } else if (r.kind == RecordKind::kMemSize) {
    if (!ApplyMemSize(r)) return false;
  }
  // EOS, MULTIFD_FLUSH, an accepted HOOK and 2010's ignored headers change no memory.
  ++stats_.records[static_cast<size_t>(r.kind)];
  return true;
}

bool Loader::CheckMemSizeEntry(const Record& r, const BlockInfo& e) {
  const int64_t idx = memory_->Find(e.idstr);
  if (idx < 0) {
    if (options_.decoder.dialect.mem_size_creates_blocks) return true;
    return Fail(
        Code::kUnknownBlock, r,
        "MEM_SIZE names block " + Quoted(e.idstr) + ", which the destination does not have");
  }
  const uint64_t have = memory_->used_length(static_cast<uint32_t>(idx));
  // QEMU rounds the received length up to the host page size before comparing, and resizes
  // resizeable blocks (qemu_ram_resize) up to their max_length.
  const uint64_t rounded = (e.used_length + kPageSize - 1) & kAddressMask;
  if (rounded == have) return true;
  const uint64_t max_length = max_length_[static_cast<size_t>(idx)];
  if (max_length != 0 && rounded <= max_length) return true;
  return Fail(Code::kBlockSizeMismatch, r,
              "MEM_SIZE gives block " + Quoted(e.idstr) + " used_length " + Hex(e.used_length) +
                  ", the destination has " + Hex(have) +
                  (max_length ? " (resizeable up to " + Hex(max_length) + ")" : ""));
}

bool Loader::ApplyMemSize(const Record& r) {
  if (options_.decoder.section_version < kRamSectionVersion) {
    // Version 3: MEM_SIZE is the total of RAM only.
    if (!have_table_) {
      Result<uint32_t> added = memory_->AddBlock("ram_addr", r.address);
      if (!added.ok()) return Fail(added.error().code, r, added.error().message);
      max_length_.push_back(0);
      have_table_ = true;
      return true;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < memory_->block_count(); ++i) total += memory_->used_length(i);
    if (total != r.address) {
      return Fail(Code::kMemSizeMismatch, r,
                  Cat({"MEM_SIZE total ", Hex(r.address), " differs from the destination's ",
                       Hex(total), " bytes of RAM"}));
    }
    return true;
  }

  // Validate the whole list before changing anything.
  // Entries in order, each checked against the destination before a later repeat is
  // reported: the first bad entry names the error.
  const size_t twice = FirstRepeatedIdstr(r.blocks);
  if (have_table_) {
    for (size_t i = 0; i < twice; ++i) {
      if (!CheckMemSizeEntry(r, r.blocks[i])) return false;
    }
  }
  if (twice < r.blocks.size()) {
    return Fail(Code::kDuplicateBlock, r,
                Cat({"MEM_SIZE lists block ", Quoted(r.blocks[twice].idstr), " twice"}));
  }
  // Dense memory allocates blocks whole: check the total first, so a list that does not fit
  // adds no block at all.
  if (memory_->backing() == Backing::kDense) {
    uint64_t need = 0;
    for (const BlockInfo& e : r.blocks) {
      const int64_t idx = memory_->Find(e.idstr);
      const uint64_t len = (e.used_length + kPageSize - 1) & kAddressMask;
      const uint64_t have = idx < 0 ? 0 : memory_->used_length(static_cast<uint32_t>(idx));
      if (len > have) need += len - have;
    }
    if (need > memory_->resident_limit() -
                   std::min(memory_->resident_bytes(), memory_->resident_limit())) {
      return Fail(Code::kLimitExceeded, r,
                  Cat({"MEM_SIZE needs ", std::to_string(need),
                       " more bytes of dense guest memory, past its limit of ",
                       std::to_string(memory_->resident_limit())}));
    }
  }
  const bool first = stream_blocks_.empty();
  for (const BlockInfo& e : r.blocks) {
    int64_t idx = memory_->Find(e.idstr);
    if (idx < 0) {
      // The stream defines the table, or (2010) a MEM_SIZE entry creates the block.
      Result<uint32_t> added = memory_->AddBlock(e.idstr, e.used_length);
      if (!added.ok()) return Fail(added.error().code, r, added.error().message);
      max_length_.push_back(0);
    } else {
      const uint64_t rounded = (e.used_length + kPageSize - 1) & kAddressMask;
      if (rounded != memory_->used_length(static_cast<uint32_t>(idx))) {
        Error err = memory_->ResizeBlock(static_cast<uint32_t>(idx), rounded);
        if (!err.ok()) return Fail(err.code, r, err.message);
      }
    }
    if (first) stream_blocks_.push_back(e);
  }
  have_table_ = true;
  if (last_block_ >= 0) SetLastBlock(static_cast<uint32_t>(last_block_));  // may have resized
  return true;
}

void Loader::SetLastBlock(uint32_t block) {
  last_block_ = block;
  const uint64_t used = memory_->used_length(block);
  last_end_ = used >= kPageSize ? used - kPageSize + 1 : 0;
  last_saved_ = 1 + memory_->idstr(block).size();
}

bool Loader::ResolveNamed(const Record& r, uint32_t* block, uint64_t* offset) {
  const char* what = PageKindName(r.kind);
  if (options_.decoder.section_version < kRamSectionVersion) {
    // Version 3 addresses one global ram_addr space: blocks back to back in table order.
    uint64_t base = 0;
    for (uint32_t i = 0; i < memory_->block_count(); ++i) {
      const uint64_t len = memory_->used_length(i);
      if (r.address >= base && r.address - base < len) {
        *block = i;
        *offset = r.address - base;
        SetLastBlock(i);
        return true;
      }
      base += len;
    }
    return Fail(
        Code::kOffsetOutOfRange, r,
        Cat({what, " ram_addr ", Hex(r.address), " is past the ", Hex(base), " bytes of RAM"}));
  }
  if (r.has_continue()) {
    return Fail(
        Code::kContinueWithoutBlock, r,
        std::string(what) + " record with CONTINUE, but no earlier page record " + "named a block");
  }
  const int64_t idx = memory_->Find(r.idstr);
  if (idx < 0) {
    return Fail(Code::kUnknownBlock, r,
                std::string(what) + " record names block " + Quoted(r.idstr) +
                    (have_table_ ? ", which is not in the block table"
                                 : " before any MEM_SIZE defined the blocks"));
  }
  *block = static_cast<uint32_t>(idx);
  *offset = r.address;
  ++stats_.named_records;
  SetLastBlock(*block);
  return true;
}

bool Loader::WritePayload(const Record& r, uint32_t block, uint64_t offset) {
  // Validate payloads that can fail before touching memory.
  std::byte inflated[kPageSize];
  if (r.kind == RecordKind::kXbzrle) {
    Error e = xbzrle::Validate(r.data, kPageSize);
    if (!e.ok()) {
      return Fail(Code::kBadXbzrle, r,
                  Cat({"xbzrle delta (", std::to_string(r.data.size()), " bytes): ", e.message}));
    }
  } else if (r.kind == RecordKind::kCompressedPage) {
    uLongf out_len = kPageSize;
    uLong in_len = r.data.size();
    const int z = uncompress2(reinterpret_cast<Bytef*>(inflated), &out_len,
                              reinterpret_cast<const Bytef*>(r.data.data()), &in_len);
    // QEMU accepts a stream that ends early and leaves the rest of the page alone; we require
    // exactly one page (a documented difference). Bytes after the zlib stream are ignored, as
    // QEMU does.
    if (z != Z_OK || out_len != kPageSize) {
      return Fail(Code::kBadCompressedPage, r,
                  z != Z_OK ? "zlib stream of " + std::to_string(r.data.size()) +
                                  " bytes does not inflate to one page (zlib error " +
                                  std::to_string(z) + ")"
                            : "zlib stream inflates to " + std::to_string(out_len) +
                                  " bytes, not one page (4096)");
    }
  }
  std::byte* page = memory_->PageForWrite(block, offset);
  if (page == nullptr) {
    return Fail(Code::kLimitExceeded, r,
                Cat({"writing page ", Hex(offset), " of block ", Quoted(memory_->idstr(block)),
                     " would pass the guest memory's resident limit (",
                     std::to_string(memory_->resident_bytes()), " bytes held)"}));
  }
  switch (r.kind) {
    case RecordKind::kZero:
      std::memset(page, r.fill, kPageSize);
      break;
    case RecordKind::kPage:
      std::memcpy(page, r.data.data(), kPageSize);
      break;
    case RecordKind::kXbzrle:
      xbzrle::Apply(r.data, std::span<std::byte>(page, kPageSize));
      break;
    default:
      std::memcpy(page, inflated, kPageSize);
      break;
  }
  return true;
}

}  // namespace ramstream::protocol
