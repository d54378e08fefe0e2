// One pass over a whole stream, QEVM file or bare RAM section stream, that loads it into guest
// memory and sums up what a person asks first: valid or not (and why), blocks, record counts,
// bytes, what CONTINUE saved. The CLI's inspect, extract and replay are built on it.
#ifndef RAMSTREAM_PROTOCOL_INSPECT_H_
#define RAMSTREAM_PROTOCOL_INSPECT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "protocol/dialect.h"
#include "protocol/error.h"
#include "protocol/guest_memory.h"
#include "protocol/loader.h"
#include "protocol/qevm.h"

namespace ramstream::protocol {

enum class StreamFormat : uint8_t {
  kAuto,  // QEVM if the stream starts with the magic, else a bare RAM section stream
  kQevm,
  kRam,
};
std::string_view StreamFormatName(StreamFormat format);

struct InspectOptions {
  Dialect dialect = Dialect::Qemu72();
  StreamFormat format = StreamFormat::kAuto;
  QevmLimits qevm_limits;
  DecoderLimits decoder_limits;
  // The destination's RAM blocks; unset: the stream's MEM_SIZE defines them.
  std::optional<std::vector<DestinationBlock>> layout;
  // QEVM: device sections this describes are walked field by field (QevmOptions::vmdesc).
  std::shared_ptr<const Vmdesc> vmdesc;
  // QEVM: called with every parser event, views valid during the call (e.g. device fields).
  std::function<void(const QevmEvent&)> observer;
};

// Reads up to out.size() bytes into out; returns how many (0 at end of input), or -1 on an I/O
// error (the caller knows why).
using ReadFn = std::function<ptrdiff_t(std::span<std::byte> out)>;

struct SectionCounts {
  uint64_t start = 0, part = 0, end = 0, full = 0;
  uint64_t ram_parts = 0;        // PART sections of "ram"
  uint64_t devices_skipped = 0;  // device payloads skipped by footer resync
  uint64_t device_bytes = 0;     // their bytes
  uint64_t devices_walked = 0;   // device sections walked with the vmdesc
  uint64_t walked_bytes = 0;     // their payload bytes (fields and subsection headers)
};

struct Inspection {
  StreamFormat format = StreamFormat::kAuto;  // the format actually parsed
  Error error;                                // ok when the stream loaded completely
  bool io_error = false;                      // the read function failed
  uint64_t bytes_read = 0;
  std::vector<BlockInfo> blocks;  // from MEM_SIZE, in stream order
  LoadStats stats;
  // Bytes as QEMU 7.2's query-migrate ram.transferred counts them (spec section 3.9): every
  // page record (with its idstr) plus 8 for the EOS of each PART section. A bare RAM stream has
  // no section boundaries: there the EOS records other than the first and last count.
  uint64_t ram_transferred = 0;
  // Bytes of page records if every one carried its idstr (CONTINUE's alternative).
  uint64_t page_record_bytes = 0;
  // QEVM only.
  std::string machine;
  SectionCounts sections;
  bool has_vmdesc = false;
  std::vector<std::string> notes;  // e.g. how device sections were skipped
};

// Reads the whole stream through `read` in chunks and loads it into `memory`.
Inspection Inspect(const ReadFn& read, const InspectOptions& options, GuestMemory* memory);
// The same over bytes in memory.
Inspection InspectBytes(std::span<const std::byte> bytes, const InspectOptions& options,
                        GuestMemory* memory);

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_INSPECT_H_
