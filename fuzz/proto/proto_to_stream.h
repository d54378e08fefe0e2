// RamStream (fuzz/proto/ram_stream.proto) -> RAM stream bytes, and the pieces the proto fuzz
// target and its mutators share: parsing an input (binary, or text format for the readable
// seeds), and the post-processing every input goes through.
//
// The converter computes what a consistent stream needs (MEM_SIZE totals, idstr lengths,
// XBZRLE counts and lengths, deflated pages, offsets inside the referenced block) unless an
// override field asks for something else, and caps what could exhaust memory: block sizes,
// record count and output size.
#ifndef RAMSTREAM_FUZZ_PROTO_PROTO_TO_STREAM_H_
#define RAMSTREAM_FUZZ_PROTO_PROTO_TO_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/proto/ram_stream.pb.h"

namespace ramstream::fuzz {

struct ConvertLimits {
  size_t max_records = 256;
  size_t max_bytes = size_t{1} << 20;
  // Pages per block (used_length = pages * 4096): 1 TiB, the fuzz decoder limit.
  uint64_t max_block_pages = uint64_t{1} << 28;
};

// Deterministic: the same message always gives the same bytes.
std::vector<std::byte> ProtoToStream(const proto::RamStream& stream,
                                     const ConvertLimits& limits = {});

// Inputs starting with '#' are text format (the committed seeds: a comment line first);
// anything else is binary. '#' can never start a serialised RamStream: it would be field 4
// with the group wire type, which the schema does not have. Returns false when the input
// does not parse.
bool ParseRamStream(std::span<const std::byte> data, proto::RamStream* stream);

// Bounds every input so that no mutation can make one costly: at most 64 records, pattern
// seeds and run data of at most 64 bytes, raw bytes of at most 8 KiB, a chunk plan of at most
// 31 bytes. Leaves inputs within those bounds unchanged (so reproducers stay reproducers).
void NormalizeRamStream(proto::RamStream* stream);

}  // namespace ramstream::fuzz

#endif  // RAMSTREAM_FUZZ_PROTO_PROTO_TO_STREAM_H_
