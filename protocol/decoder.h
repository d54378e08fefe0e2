// Resumable push decoder for one RAM section stream: the concatenated payloads of the "ram"
// sections (START, PARTs, END), each ending in EOS.
//
//   Decoder d(options);
//   d.Feed(bytes, /*end_of_input=*/false);
//   Record r;
//   while (d.Next(&r) == Step::kRecord) { ... use r (views valid until the next call) ... }
//   // kNeedInput: all of `bytes` is consumed; Feed more. kEnd: clean end. kError: d.error().
//
// The decoder reads only inside the spans it is given, buffers partial fields internally, and
// yields the same records and the same error for every chunking of the same bytes.
#ifndef RAMSTREAM_PROTOCOL_DECODER_H_
#define RAMSTREAM_PROTOCOL_DECODER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "protocol/dialect.h"
#include "protocol/error.h"
#include "protocol/records.h"
#include "protocol/wire_format.h"

namespace ramstream::protocol {

// Limits on lengths read from the wire, checked before anything is sized from them.
struct DecoderLimits {
  uint32_t max_ram_blocks = 4096;                // entries in one MEM_SIZE list
  uint64_t max_block_bytes = uint64_t{1} << 46;  // 64 TiB: one used_length
  uint64_t max_total_bytes = uint64_t{1} << 48;  // 256 TiB: a MEM_SIZE total
};

struct DecoderOptions {
  Dialect dialect = Dialect::Qemu72();
  uint32_t section_version = kRamSectionVersion;
  // Absolute stream offset of the first byte fed (a RAM stream embedded in a QEVM file).
  uint64_t start_offset = 0;
  // MEM_SIZE optional fields, which depend on state outside the RAM section (spec 3.3):
  // x-ignore-shared adds be64 addr to every entry; postcopy with a non-host page size adds
  // be64 page_size to the entries of these blocks.
  bool mem_size_has_addr = false;
  std::vector<std::string> page_size_blocks;
  DecoderLimits limits;
};

enum class Step : uint8_t {
  kRecord,     // *record holds the next record
  kNeedInput,  // every fed byte is consumed; call Feed with more
  kEnd,        // end of input right after an EOS: the stream is complete
  kError,      // error() holds the (sticky) error
};

class Decoder {
 public:
  explicit Decoder(DecoderOptions options = {});
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Hands over the next bytes. `end_of_input` says no bytes follow these.
  // REQUIRES: the previous input is drained (Next returned kNeedInput), or none was fed.
  // `data` must stay alive until Next returns something other than kRecord.
  void Feed(std::span<const std::byte> data, bool end_of_input);

  // Decodes the next record. With end_of_input, a stream that stops inside a record, or
  // after a record other than EOS, is Code::kTruncated at the offset of that record.
  Step Next(Record* record) {
    // Inline fast path for the records that make up most of a real stream: a ZERO or PAGE
    // with CONTINUE, wholly inside the fed span. Everything else (and every error) takes the
    // staged state machine in NextSlow, which decodes these records identically.
    if (stage_ == Stage::kHeader && staged_ == 0 && in_len_ - in_pos_ >= kHeaderSize + 1 &&
        options_.dialect.exact_flags) {
      const std::byte* p = in_ + in_pos_;
      const uint64_t h = __builtin_bswap64(LoadU64(p));
      const uint32_t flags = static_cast<uint32_t>(h & kFlagMask);
      size_t n = 0;
      if (flags == (kFlagZero | kFlagContinue)) {
        const uint8_t fill = static_cast<uint8_t>(p[kHeaderSize]);
        if (fill == 0 || !options_.dialect.zero_fill_must_be_zero) {
          n = kHeaderSize + 1;
          record->kind = RecordKind::kZero;
          record->fill = fill;
          record->data = {};
        }
      } else if (flags == (kFlagPage | kFlagContinue) &&
                 in_len_ - in_pos_ >= kHeaderSize + kPageSize) {
        n = kHeaderSize + kPageSize;
        record->kind = RecordKind::kPage;
        record->fill = 0;
        record->data = std::span<const std::byte>(p + kHeaderSize, kPageSize);
      }
      if (n != 0) {
        record->flags = flags;
        record->shares_header = false;
        record->stream_offset = position_;
        record->address = h & kAddressMask;
        record->idstr = {};
        record->blocks = {};
        in_pos_ += n;
        position_ += n;
        saw_record_ = true;
        after_eos_ = false;
        return Step::kRecord;
      }
    }
    return NextSlow(record);
  }

  // The first error; every later Next returns kError with this same error.
  const Error& error() const { return error_; }
  // Absolute offset of the next byte the decoder will consume.
  uint64_t position() const { return position_; }
  // Bytes the decoder still needs to finish the field it is on (kHeaderSize at a record
  // boundary): the least a caller must feed for the next call to make progress.
  size_t BytesNeeded() const { return need_ - staged_; }
  // True between records (no partial record buffered).
  bool at_record_boundary() const { return stage_ == Stage::kHeader && staged_ == 0; }
  // True when the last record ended its section (EOS).
  bool after_eos() const { return after_eos_; }

  // Returns the not yet consumed rest of the fed span and forgets it, so an envelope parser
  // can take over after an EOS. REQUIRES: at_record_boundary().
  std::span<const std::byte> TakeRemaining();
  // Sets the absolute offset of the next byte (bytes in between belong to someone else).
  // REQUIRES: at_record_boundary() and no fed bytes left.
  void Rebase(uint64_t position) { position_ = position; }

 private:
  enum class Stage : uint8_t {
    kHeader,
    kIdLen,
    kId,
    kZeroFill,
    kPageData,
    kXbzrleHeader,
    kXbzrleData,
    kCompressedLen,
    kCompressedData,
    kMemSizeIdLen,
    kMemSizeId,
    kMemSizeLength,
    kMemSizePageSize,
    kMemSizeAddr,
    kActions,  // header decoded: emit its next action
    kFailed,
  };

  static uint64_t LoadU64(const std::byte* p) {
    uint64_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
  }
  Step NextSlow(Record* record);
  // Returns a pointer to `n` contiguous bytes of the current field, or nullptr when the
  // input ran out (the partial field is then staged in `stage_buf`).
  const std::byte* Gather(size_t n, std::byte* stage_buf);
  Step Fail(Code code, uint64_t offset, std::string message);
  Step Suspend();
  Step Classify();
  // Starts the header's next action: kRecord or kError when it emitted or failed at once,
  // kNeedInput when it set up a stage that reads bytes (Next then keeps looping).
  Step NextAction(Record* record);
  Step Emit(Record* record, RecordKind kind);
  void SetStage(Stage stage, size_t need) {
    stage_ = stage;
    need_ = need;
  }
  bool NeedsPageSize(std::string_view idstr) const;

  DecoderOptions options_;
  Error error_;

  // Input window.
  const std::byte* in_ = nullptr;
  size_t in_len_ = 0;
  size_t in_pos_ = 0;
  bool end_of_input_ = false;
  uint64_t position_ = 0;

  // Current record.
  Stage stage_ = Stage::kHeader;
  size_t need_ = kHeaderSize;  // bytes of the current field
  size_t staged_ = 0;          // bytes of the current field already in a staging buffer
  uint64_t record_offset_ = 0;
  uint32_t flags_ = 0;
  uint64_t address_ = 0;
  // Actions still to emit for the current header, one bit per RecordKind. Exact dialects set
  // one bit; a 2010 composite header (e.g. MEM_SIZE|PAGE|EOS) sets several.
  uint16_t actions_ = 0;
  RecordKind action_ = RecordKind::kEos;  // the action being decoded
  bool first_action_ = true;
  bool after_eos_ = false;
  bool saw_record_ = false;
  uint8_t fill_ = 0;
  std::span<const std::byte> data_;

  // MEM_SIZE list state.
  uint64_t mem_remaining_ = 0;
  std::vector<BlockInfo> blocks_;

  // Staging buffers: one per field class, so a staged idstr stays valid while the payload
  // that follows it is staged too.
  // Staging buffers, read only after Gather has filled them; left uninitialised because a
  // decoder is made per load and zeroing the payload buffer showed in fuzzing profiles.
  std::array<std::byte, 8> small_buf_;
  std::array<std::byte, kMaxIdstrLen> id_buf_;
  std::array<std::byte, kMaxCompressedLen> payload_buf_;
  std::string_view idstr_;
};

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_DECODER_H_
