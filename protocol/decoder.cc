#include "protocol/decoder.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "protocol/internal/endian.h"
#include "protocol/internal/text.h"

namespace ramstream::protocol {
namespace {

using internal::Cat;
using internal::Hex;
using internal::Quoted;

constexpr uint16_t Bit(RecordKind kind) { return uint16_t{1} << static_cast<int>(kind); }

// An idstr is a non-empty counted string with no NUL: QEMU copies it into a C string, so a NUL
// would silently cut the name short there (docs/ram-stream-format.md, section 3.1).
bool ValidIdstr(std::string_view s) { return !s.empty() && s.find('\0') == std::string_view::npos; }

}  // namespace

Decoder::Decoder(DecoderOptions options)
    : options_(std::move(options)), position_(options_.start_offset) {
  const Dialect& d = options_.dialect;
  if (options_.section_version < d.min_version || options_.section_version > d.max_version) {
    Fail(Code::kUnsupportedVersion, position_,
         "ram section version " + std::to_string(options_.section_version) + " (" +
             std::string(DialectName(d.id)) + " loads " + std::to_string(d.min_version) +
             (d.min_version == d.max_version ? "" : " to " + std::to_string(d.max_version)) + ")");
  }
}

void Decoder::Feed(std::span<const std::byte> data, bool end_of_input) {
  in_ = data.data();
  in_len_ = data.size();
  in_pos_ = 0;
  end_of_input_ = end_of_input;
}

std::span<const std::byte> Decoder::TakeRemaining() {
  std::span<const std::byte> rest(in_ + in_pos_, in_len_ - in_pos_);
  in_ = nullptr;
  in_len_ = in_pos_ = 0;
  return rest;
}

Step Decoder::Fail(Code code, uint64_t offset, std::string message) {
  if (stage_ != Stage::kFailed) {
    error_ = Error{code, offset, std::move(message)};
    stage_ = Stage::kFailed;
  }
  return Step::kError;
}

// Input is exhausted in the middle of something (or at a record boundary).
Step Decoder::Suspend() {
  if (!end_of_input_) return Step::kNeedInput;
  if (stage_ == Stage::kHeader && staged_ == 0) {
    if (after_eos_) return Step::kEnd;
    // QEMU's loader would block reading the next header of a section that never ended.
    if (!saw_record_) return Fail(Code::kTruncated, position_, "empty stream: no records");
    return Fail(Code::kTruncated, position_,
                Cat({"stream ends at offset ", std::to_string(position_),
                     " after a record other than EOS: the section never ended"}));
  }
  // The writer died mid-record, or the stream was cut: the record at record_offset_ is
  // incomplete. Reported at the record's start, as every other record error.
  static constexpr const char* kStageNames[] = {"header",
                                                "idstr length",
                                                "idstr",
                                                "zero fill byte",
                                                "page data",
                                                "xbzrle header",
                                                "xbzrle data",
                                                "compressed length",
                                                "compressed data",
                                                "mem_size idstr length",
                                                "mem_size idstr",
                                                "mem_size used_length",
                                                "mem_size page_size",
                                                "mem_size addr",
                                                "record",
                                                "record"};
  return Fail(Code::kTruncated, record_offset_,
              Cat({"stream ends at offset ", std::to_string(position_), " inside the ",
                   kStageNames[static_cast<int>(stage_)], " of the record at offset ",
                   std::to_string(record_offset_), " (", std::to_string(need_ - staged_),
                   " more bytes needed)"}));
}

const std::byte* Decoder::Gather(size_t n, std::byte* stage_buf) {
  if (n == 0) return stage_buf;
  const size_t avail = in_len_ - in_pos_;
  if (staged_ == 0 && avail >= n) {
    // Fast path: the whole field is in the caller's span; hand out a view, copy nothing.
    const std::byte* p = in_ + in_pos_;
    in_pos_ += n;
    position_ += n;
    return p;
  }
  const size_t take = std::min(n - staged_, avail);
  if (take > 0) std::memcpy(stage_buf + staged_, in_ + in_pos_, take);
  staged_ += take;
  in_pos_ += take;
  position_ += take;
  if (staged_ < n) return nullptr;
  staged_ = 0;
  return stage_buf;
}

bool Decoder::NeedsPageSize(std::string_view idstr) const {
  for (const std::string& s : options_.page_size_blocks) {
    if (s == idstr) return true;
  }
  return false;
}

// Decides from the header's flags which actions (records) it carries, per the dialect.
Step Decoder::Classify() {
  const Dialect& d = options_.dialect;
  actions_ = 0;
  first_action_ = true;
  if (!d.exact_flags) {
    // 2010: each bit on its own, in the loader's order; unknown bits are ignored.
    if (flags_ & kFlagMemSize) actions_ |= Bit(RecordKind::kMemSize);
    if (flags_ & kFlagZero) {
      actions_ |= Bit(RecordKind::kZero);
    } else if (flags_ & kFlagPage) {
      actions_ |= Bit(RecordKind::kPage);
    }
    if (flags_ & kFlagEos) actions_ |= Bit(RecordKind::kEos);
    if (actions_ == 0) actions_ = Bit(RecordKind::kIgnored);
    SetStage(Stage::kActions, 0);
    return Step::kRecord;
  }
  // 7.2 and 10.x switch on the flags with CONTINUE masked off: exactly one value must match.
  RecordKind kind;
  switch (flags_ & ~kFlagContinue) {
    case kFlagMemSize:
      kind = RecordKind::kMemSize;
      break;
    case kFlagZero:
      kind = RecordKind::kZero;
      break;
    case kFlagPage:
      kind = RecordKind::kPage;
      break;
    case kFlagEos:
      kind = RecordKind::kEos;
      break;
    case kFlagXbzrle:
      if (!d.xbzrle) goto unknown;
      kind = RecordKind::kXbzrle;
      break;
    case kFlagCompressPage:
      if (!d.compress_page) goto unknown;
      kind = RecordKind::kCompressedPage;
      break;
    case kFlagMultifdFlush:
      if (!d.multifd_flush) goto unknown;
      kind = RecordKind::kMultifdFlush;
      break;
    case kFlagHook:
      if (d.hook != HookPolicy::kAccept) goto unknown;
      kind = RecordKind::kHook;
      break;
    default:
    unknown:
      // 7.2 hands any unmatched combination with the HOOK bit to the RDMA hook, which fails
      // without RDMA; say so rather than "unknown".
      if ((flags_ & kFlagHook) && d.hook == HookPolicy::kReject) {
        return Fail(Code::kUnsupportedHook, record_offset_,
                    Cat({"record flags ", Hex(flags_),
                         " go to the RDMA load hook (0x80), which needs an RDMA migration"}));
      }
      return Fail(Code::kUnknownFlags, record_offset_,
                  Cat({"record flags ", Hex(flags_), " are not a combination ", DialectName(d.id),
                       " knows"}));
  }
  actions_ = Bit(kind);
  SetStage(Stage::kActions, 0);
  return Step::kRecord;
}

Step Decoder::Emit(Record* r, RecordKind kind) {
  r->kind = kind;
  r->flags = flags_;
  r->shares_header = !first_action_;
  r->stream_offset = record_offset_;
  r->address = address_;
  r->idstr = {};
  r->fill = 0;
  r->data = {};
  r->blocks = {};
  switch (kind) {
    case RecordKind::kZero:
      r->idstr = idstr_;
      r->fill = fill_;
      break;
    case RecordKind::kPage:
    case RecordKind::kXbzrle:
    case RecordKind::kCompressedPage:
      r->idstr = idstr_;
      r->data = data_;
      break;
    case RecordKind::kMemSize:
      r->blocks = blocks_;
      break;
    default:
      break;
  }
  first_action_ = false;
  after_eos_ = kind == RecordKind::kEos;
  SetStage(actions_ ? Stage::kActions : Stage::kHeader, actions_ ? 0 : kHeaderSize);
  return Step::kRecord;
}

// Starts decoding the lowest pending action of the current header.
Step Decoder::NextAction(Record* r) {
  const int bit = __builtin_ctz(actions_);
  action_ = static_cast<RecordKind>(bit);
  actions_ &= static_cast<uint16_t>(actions_ - 1);
  idstr_ = {};
  switch (action_) {
    case RecordKind::kMemSize:
      blocks_.clear();
      mem_remaining_ = address_;
      if (address_ > options_.limits.max_total_bytes) {
        return Fail(
            Code::kLimitExceeded, record_offset_,
            Cat({"MEM_SIZE total ", std::to_string(address_), " bytes exceeds the limit of ",
                 std::to_string(options_.limits.max_total_bytes)}));
      }
      // Version 3 carries only the total; an empty total has no entries.
      if (options_.section_version < kRamSectionVersion || mem_remaining_ == 0) {
        return Emit(r, RecordKind::kMemSize);
      }
      SetStage(Stage::kMemSizeIdLen, 1);
      return Step::kNeedInput;
    case RecordKind::kZero:
    case RecordKind::kPage:
    case RecordKind::kXbzrle:
    case RecordKind::kCompressedPage:
      if ((flags_ & kFlagContinue) || options_.section_version < kRamSectionVersion) {
        SetStage(Stage::kIdLen, 0);  // no idstr: go straight to the payload
        return Step::kNeedInput;
      }
      SetStage(Stage::kIdLen, 1);
      return Step::kNeedInput;
    default:
      return Emit(r, action_);
  }
}

Step Decoder::NextSlow(Record* r) {
  for (;;) {
    switch (stage_) {
      case Stage::kFailed:
        return Step::kError;

      case Stage::kHeader: {
        if (staged_ == 0) {
          if (in_pos_ == in_len_) return Suspend();
          record_offset_ = position_;
        }
        const std::byte* p = Gather(kHeaderSize, small_buf_.data());
        if (p == nullptr) return Suspend();
        const uint64_t h = internal::LoadBe64(p);
        flags_ = static_cast<uint32_t>(h & kFlagMask);
        address_ = h & kAddressMask;
        saw_record_ = true;
        after_eos_ = false;
        if (Classify() == Step::kError) return Step::kError;
        break;
      }

      case Stage::kActions: {
        const Step s = NextAction(r);
        if (s != Step::kNeedInput) return s;
        break;
      }

      case Stage::kIdLen: {
        if (need_ == 1) {
          const std::byte* p = Gather(1, small_buf_.data());
          if (p == nullptr) return Suspend();
          const size_t len = static_cast<uint8_t>(*p);
          SetStage(Stage::kId, len);
          if (len == 0) {
            return Fail(Code::kBadIdstr, record_offset_,
                        Cat({"empty idstr at offset ", std::to_string(position_ - 1)}));
          }
          break;
        }
        // No idstr (CONTINUE or version 3).
        SetStage(Stage::kId, 0);
        break;
      }

      case Stage::kId: {
        if (need_ > 0) {
          const std::byte* p = Gather(need_, id_buf_.data());
          if (p == nullptr) return Suspend();
          // Keep the name in our own buffer: the payload may arrive in a later Feed, after
          // the caller has released this span.
          if (p != id_buf_.data()) std::memcpy(id_buf_.data(), p, need_);
          idstr_ = std::string_view(reinterpret_cast<const char*>(id_buf_.data()), need_);
          if (!ValidIdstr(idstr_)) {
            return Fail(Code::kBadIdstr, record_offset_,
                        Cat({"idstr ", Quoted(idstr_), " contains a NUL byte"}));
          }
        }
        switch (action_) {
          case RecordKind::kZero:
            SetStage(Stage::kZeroFill, 1);
            break;
          case RecordKind::kPage:
            SetStage(Stage::kPageData, kPageSize);
            break;
          case RecordKind::kXbzrle:
            SetStage(Stage::kXbzrleHeader, kXbzrleHeaderSize);
            break;
          default:
            SetStage(Stage::kCompressedLen, kCompressedLenSize);
            break;
        }
        break;
      }

      case Stage::kZeroFill: {
        const std::byte* p = Gather(1, small_buf_.data());
        if (p == nullptr) return Suspend();
        fill_ = static_cast<uint8_t>(*p);
        if (fill_ != 0 && options_.dialect.zero_fill_must_be_zero) {
          return Fail(Code::kBadZeroFill, record_offset_,
                      Cat({"zero page fill byte ", Hex(fill_), " (",
                           DialectName(options_.dialect.id), " requires 0)"}));
        }
        return Emit(r, RecordKind::kZero);
      }

      case Stage::kPageData: {
        const std::byte* p = Gather(kPageSize, payload_buf_.data());
        if (p == nullptr) return Suspend();
        data_ = std::span<const std::byte>(p, kPageSize);
        return Emit(r, RecordKind::kPage);
      }

      case Stage::kXbzrleHeader: {
        const std::byte* p = Gather(kXbzrleHeaderSize, small_buf_.data());
        if (p == nullptr) return Suspend();
        const uint8_t enc = static_cast<uint8_t>(p[0]);
        const uint16_t len = internal::LoadBe16(p + 1);
        if (enc != kXbzrleEncoding) {
          return Fail(Code::kBadXbzrle, record_offset_,
                      Cat({"xbzrle encoding byte ", Hex(enc), " (expected 0x1)"}));
        }
        if (len > kPageSize) {
          return Fail(Code::kBadXbzrle, record_offset_,
                      Cat({"xbzrle length ", std::to_string(len), " exceeds the page size 4096"}));
        }
        SetStage(Stage::kXbzrleData, len);
        break;
      }

      case Stage::kXbzrleData:
      case Stage::kCompressedData: {
        const std::byte* p = Gather(need_, payload_buf_.data());
        if (p == nullptr) return Suspend();
        data_ = std::span<const std::byte>(p, need_);
        return Emit(r, action_);
      }

      case Stage::kCompressedLen: {
        const std::byte* p = Gather(kCompressedLenSize, small_buf_.data());
        if (p == nullptr) return Suspend();
        const uint32_t len = internal::LoadBe32(p);
        // QEMU reads the length as a signed int and allows 0 .. compressBound(4096).
        if (len > kMaxCompressedLen) {
          return Fail(Code::kBadCompressedPage, record_offset_,
                      Cat({"compressed page length ", std::to_string(static_cast<int32_t>(len)),
                           " outside 0..", std::to_string(kMaxCompressedLen)}));
        }
        SetStage(Stage::kCompressedData, len);
        break;
      }

      case Stage::kMemSizeIdLen: {
        if (mem_remaining_ == 0) return Emit(r, RecordKind::kMemSize);
        const std::byte* p = Gather(1, small_buf_.data());
        if (p == nullptr) return Suspend();
        const size_t len = static_cast<uint8_t>(*p);
        if (blocks_.size() >= options_.limits.max_ram_blocks) {
          return Fail(Code::kLimitExceeded, record_offset_,
                      Cat({"MEM_SIZE lists more than ",
                           std::to_string(options_.limits.max_ram_blocks), " blocks"}));
        }
        if (len == 0) {
          return Fail(Code::kBadIdstr, record_offset_,
                      Cat({"MEM_SIZE entry ", std::to_string(blocks_.size()),
                           " has an empty idstr (at offset ", std::to_string(position_ - 1), ")"}));
        }
        SetStage(Stage::kMemSizeId, len);
        break;
      }

      case Stage::kMemSizeId: {
        const std::byte* p = Gather(need_, id_buf_.data());
        if (p == nullptr) return Suspend();
        BlockInfo& b = blocks_.emplace_back();
        b.idstr.assign(reinterpret_cast<const char*>(p), need_);
        if (!ValidIdstr(b.idstr)) {
          return Fail(Code::kBadIdstr, record_offset_,
                      Cat({"MEM_SIZE idstr ", Quoted(b.idstr), " contains a NUL byte"}));
        }
        SetStage(Stage::kMemSizeLength, 8);
        break;
      }

      case Stage::kMemSizeLength: {
        const std::byte* p = Gather(8, small_buf_.data());
        if (p == nullptr) return Suspend();
        BlockInfo& b = blocks_.back();
        b.used_length = internal::LoadBe64(p);
        if (b.used_length > options_.limits.max_block_bytes) {
          return Fail(Code::kLimitExceeded, record_offset_,
                      Cat({"MEM_SIZE block ", Quoted(b.idstr), " used_length ",
                           std::to_string(b.used_length), " exceeds the limit of ",
                           std::to_string(options_.limits.max_block_bytes)}));
        }
        // QEMU subtracts without a check and wraps around; the list must add up exactly.
        if (b.used_length > mem_remaining_) {
          return Fail(
              Code::kMemSizeMismatch, record_offset_,
              Cat({"MEM_SIZE block ", Quoted(b.idstr), " used_length ",
                   std::to_string(b.used_length), " exceeds the ", std::to_string(mem_remaining_),
                   " bytes left of the total ", std::to_string(address_)}));
        }
        mem_remaining_ -= b.used_length;
        if (NeedsPageSize(b.idstr)) {
          SetStage(Stage::kMemSizePageSize, 8);
        } else if (options_.mem_size_has_addr) {
          SetStage(Stage::kMemSizeAddr, 8);
        } else {
          SetStage(Stage::kMemSizeIdLen, 1);
        }
        break;
      }

      case Stage::kMemSizePageSize: {
        const std::byte* p = Gather(8, small_buf_.data());
        if (p == nullptr) return Suspend();
        blocks_.back().page_size = internal::LoadBe64(p);
        SetStage(options_.mem_size_has_addr ? Stage::kMemSizeAddr : Stage::kMemSizeIdLen,
                 options_.mem_size_has_addr ? 8 : 1);
        break;
      }

      case Stage::kMemSizeAddr: {
        const std::byte* p = Gather(8, small_buf_.data());
        if (p == nullptr) return Suspend();
        blocks_.back().addr = internal::LoadBe64(p);
        SetStage(Stage::kMemSizeIdLen, 1);
        break;
      }
    }
  }
}

}  // namespace ramstream::protocol
