// Typed records of a RAM section stream, as the decoder emits them and the record writer
// writes them back.
#ifndef RAMSTREAM_PROTOCOL_RECORDS_H_
#define RAMSTREAM_PROTOCOL_RECORDS_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ramstream::protocol {

// One entry of a MEM_SIZE block list.
struct BlockInfo {
  std::string idstr;
  uint64_t used_length = 0;
  std::optional<uint64_t> page_size;  // present only with postcopy + non-host page size
  std::optional<uint64_t> addr;       // present only with x-ignore-shared (guest-physical base)

  bool operator==(const BlockInfo&) const = default;
};

enum class RecordKind : uint8_t {
  kMemSize,
  kZero,
  kPage,
  kXbzrle,
  kCompressedPage,
  kEos,
  kMultifdFlush,
  kHook,
  // qemu-2010 dialect only: a header whose flags name no action (e.g. 0x40 before XBZRLE
  // existed). The 2010 loader read the header and did nothing; we keep it so re-encoding gives
  // the same bytes.
  kIgnored,
};

std::string_view RecordKindName(RecordKind kind);

// A decoded record. Views (idstr, data, blocks) point into the decoder's input or its internal
// buffer and are valid until the next call to Decoder::Next or Decoder::Feed.
struct Record {
  RecordKind kind = RecordKind::kEos;
  // All flag bits of the header as on the wire (CONTINUE included).
  uint32_t flags = 0;
  // qemu-2010 only: this record is a second or later action of one composite header (e.g.
  // MEM_SIZE|PAGE), so it has no header bytes of its own.
  bool shares_header = false;
  // Absolute stream offset of the record's header.
  uint64_t stream_offset = 0;
  // header & ~0xfff: offset inside the block (kMemSize: the total; version 3: global ram_addr).
  uint64_t address = 0;
  // Block name for page records without CONTINUE; empty otherwise.
  std::string_view idstr;
  // kZero: the fill byte.
  uint8_t fill = 0;
  // kPage: kPageSize bytes. kXbzrle: the encoded delta. kCompressedPage: the zlib stream.
  std::span<const std::byte> data;
  // kMemSize: the block list, in stream order.
  std::span<const BlockInfo> blocks;

  bool has_continue() const { return (flags & 0x20) != 0; }
  // True for page records (ZERO, PAGE, XBZRLE, COMPRESS_PAGE).
  bool is_page() const {
    return kind == RecordKind::kZero || kind == RecordKind::kPage || kind == RecordKind::kXbzrle ||
           kind == RecordKind::kCompressedPage;
  }
};

// A record that owns its bytes, for keeping records past the decoder's next call (tests,
// fuzz oracles, tools that re-order or re-write records).
struct OwnedRecord {
  RecordKind kind = RecordKind::kEos;
  uint32_t flags = 0;
  bool shares_header = false;
  uint64_t stream_offset = 0;
  uint64_t address = 0;
  std::string idstr;
  uint8_t fill = 0;
  std::vector<std::byte> data;
  std::vector<BlockInfo> blocks;

  explicit OwnedRecord(const Record& r);
  // A view of this record, valid while this object lives.
  Record View() const;
  bool operator==(const OwnedRecord&) const = default;
};

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_RECORDS_H_
