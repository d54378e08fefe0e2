// Applies RAM records to guest memory, with all state per load (never static): the block
// table, the block CONTINUE refers to, the dialect's rules. Rejects every malformed input with
// a named error and the record's offset; nothing from a record that fails is written, and
// nothing after the first error is applied.
#ifndef RAMSTREAM_PROTOCOL_LOADER_H_
#define RAMSTREAM_PROTOCOL_LOADER_H_

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/decoder.h"
#include "protocol/error.h"
#include "protocol/guest_memory.h"
#include "protocol/records.h"

namespace ramstream::protocol {

// A block as the destination has it (QEMU's RAMBlock): MEM_SIZE must match it.
struct DestinationBlock {
  std::string idstr;
  uint64_t used_length = 0;
  // Resizeable blocks (e.g. ACPI tables) accept any length up to max_length; 0 = fixed.
  uint64_t max_length = 0;
};

struct LoaderOptions {
  DecoderOptions decoder;
  // The destination's blocks. Unset: the block table comes from the stream's first MEM_SIZE.
  std::optional<std::vector<DestinationBlock>> layout;
};

// Counters over the records applied so far. Kinds index by RecordKind.
struct LoadStats {
  std::array<uint64_t, 9> records{};  // per RecordKind
  uint64_t continue_records = 0;      // page records that used CONTINUE
  uint64_t named_records = 0;         // page records that carried an idstr
  uint64_t bytes = 0;                 // stream bytes consumed by applied records
  // Bytes CONTINUE saved: for each CONTINUE record, 1 + length of the idstr it omitted.
  uint64_t continue_saved_bytes = 0;

  uint64_t count(RecordKind kind) const { return records[static_cast<size_t>(kind)]; }
};

enum class LoadStatus : uint8_t {
  kNeedInput,  // all fed bytes applied; feed more
  kDone,       // end of input after the final EOS: load complete
  kError,      // error() holds the sticky error
};

class Loader {
 public:
  // REQUIRES: `memory` outlives the loader. With a layout, its blocks are added to `memory`
  // (which must then be empty); without one, blocks `memory` already holds are the
  // destination's (fixed size), else the stream's first MEM_SIZE defines the table.
  Loader(LoaderOptions options, GuestMemory* memory);

  // Decodes `data` and applies every record it completes.
  LoadStatus Feed(std::span<const std::byte> data, bool end_of_input);
  // Applies one record from a caller-run decoder (the QEVM parser). Sticky errors.
  Error Apply(const Record& record);

  const Error& error() const { return error_; }
  const LoadStats& stats() const { return stats_; }
  GuestMemory& memory() { return *memory_; }
  Decoder& decoder() { return decoder_; }
  // The block list of the stream's MEM_SIZE records, in stream order (first occurrence).
  const std::vector<BlockInfo>& stream_blocks() const { return stream_blocks_; }

 private:
  // The internal steps return false after setting error_: no Error temporaries on the hot
  // path, where a ZERO record costs a few nanoseconds.
  bool Fail(Code code, const Record& record, std::string message);
  bool ApplyRecord(const Record& record);
  bool ApplyMemSize(const Record& record);
  bool ApplyPage(const Record& record);
  bool CheckMemSizeEntry(const Record& record, const BlockInfo& entry);
  // Resolves a page record that does not simply continue the last block: by idstr, or by
  // version 3's global address; reports CONTINUE without a block.
  bool ResolveNamed(const Record& record, uint32_t* block, uint64_t* offset);
  bool WritePayload(const Record& record, uint32_t block, uint64_t offset);
  bool FailOffset(const Record& record, uint32_t block, uint64_t offset);
  void SetLastBlock(uint32_t block);

  LoaderOptions options_;
  GuestMemory* memory_;
  Decoder decoder_;
  Error error_;
  LoadStats stats_;
  bool have_table_ = false;
  int64_t last_block_ = -1;    // block CONTINUE refers to; -1 until a page names one
  uint64_t applied_position_;  // decoder position after the last applied record
  // Cached for the CONTINUE hot path: page offsets of last_block_ below last_end_ are valid,
  // and last_saved_ is 1 + its idstr length.
  uint64_t last_end_ = 0;
  uint64_t last_saved_ = 0;
  std::vector<uint64_t> max_length_;  // per block, 0 = fixed size
  std::vector<BlockInfo> stream_blocks_;
};

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_LOADER_H_
