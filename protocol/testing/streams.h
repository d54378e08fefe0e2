// Test helpers: build raw RAM streams byte by byte, and run the decoder or loader over every
// chunking of the same bytes (protobuf's kBlockSizes idea).
#ifndef RAMSTREAM_PROTOCOL_TESTING_STREAMS_H_
#define RAMSTREAM_PROTOCOL_TESTING_STREAMS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/decoder.h"
#include "protocol/loader.h"

namespace ramstream::protocol::testing {

using Bytes = std::vector<std::byte>;

// Chunk sizes every stream test runs under; 0 means "the whole input in one call".
inline constexpr size_t kChunkSizes[] = {1, 2, 3, 5, 7, 13, 32, 1024, 0};

// Appends raw wire items. Methods return *this for chaining.
class StreamBuilder {
 public:
  StreamBuilder& Header(uint64_t address, uint32_t flags);
  StreamBuilder& U8(uint8_t v);
  StreamBuilder& Be16(uint16_t v);
  StreamBuilder& Be32(uint32_t v);
  StreamBuilder& Be64(uint64_t v);
  StreamBuilder& Raw(std::span<const std::byte> b);
  StreamBuilder& Counted(std::string_view s);  // u8 length + bytes
  // MEM_SIZE with entries (idstr, used_length); total = sum unless given.
  StreamBuilder& MemSize(const std::vector<std::pair<std::string, uint64_t>>& blocks);
  StreamBuilder& MemSizeTotal(uint64_t total,
                              const std::vector<std::pair<std::string, uint64_t>>& blocks);
  // Page records; an empty idstr means CONTINUE.
  StreamBuilder& Zero(std::string_view idstr, uint64_t offset, uint8_t fill = 0);
  StreamBuilder& Page(std::string_view idstr, uint64_t offset, uint8_t pattern);
  StreamBuilder& Xbzrle(std::string_view idstr, uint64_t offset, std::span<const std::byte> delta);
  StreamBuilder& Eos();
  // Byte offset of the next item.
  uint64_t size() const { return bytes_.size(); }
  const Bytes& bytes() const { return bytes_; }

 private:
  Bytes bytes_;
};

// A page of `pattern` bytes mixed with the offset, so pages differ.
Bytes PatternPage(uint8_t pattern);

// Kept records own their bytes.
using ::ramstream::protocol::OwnedRecord;

struct DecodeOutcome {
  std::vector<OwnedRecord> records;
  Error error;  // ok when the decoder reached kEnd
};

// Decodes `bytes` fed in chunks of `chunk` bytes (0: whole), end_of_input on the last chunk.
DecodeOutcome DecodeAll(std::span<const std::byte> bytes, const DecoderOptions& options,
                        size_t chunk);

struct LoadOutcome {
  LoadStatus status;
  Error error;
  LoadStats stats;
  std::string digest;
};

LoadOutcome LoadAll(std::span<const std::byte> bytes, const LoaderOptions& options, size_t chunk,
                    Backing backing = Backing::kSparse);

}  // namespace ramstream::protocol::testing

#endif  // RAMSTREAM_PROTOCOL_TESTING_STREAMS_H_
