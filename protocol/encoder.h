// Writing RAM records. RecordWriter writes given records byte for byte (decode, then write,
// gives the same bytes). Encoder is the sender: given blocks and pages in send order it picks
// ZERO / XBZRLE / PAGE and CONTINUE the way QEMU 7.2's sender does.
#ifndef RAMSTREAM_PROTOCOL_ENCODER_H_
#define RAMSTREAM_PROTOCOL_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/records.h"
#include "protocol/wire_format.h"

namespace ramstream::protocol {

// Exact on-wire sizes, shared by the writer and the simulator's byte accounting.
// A page record: header, idstr (1 + len) unless CONTINUE, payload.
constexpr uint64_t PageRecordSize(bool with_idstr, size_t idstr_len, size_t payload) {
  return kHeaderSize + (with_idstr ? 1 + idstr_len : 0) + payload;
}
inline constexpr size_t kZeroPayload = 1;
inline constexpr size_t kPagePayload = kPageSize;
constexpr size_t XbzrlePayload(size_t delta_len) { return kXbzrleHeaderSize + delta_len; }

// Appends `record` exactly as it would appear on the wire (a 2010 `shares_header` record
// writes no header). Records must be well formed (as the decoder emits them).
void AppendRecord(const Record& record, std::vector<std::byte>* out);
// The number of bytes AppendRecord writes.
uint64_t RecordSize(const Record& record);

struct EncoderOptions {
  bool detect_zero_pages = true;
  // XBZRLE against a page cache of this many bytes (0: off). As in QEMU, pages go through the
  // cache only after EnableXbzrle() (the end of the first pass over RAM).
  uint64_t xbzrle_cache_bytes = 0;
};

struct EncoderStats {
  uint64_t zero_pages = 0;        // ZERO records (query-migrate ram.duplicate)
  uint64_t normal_pages = 0;      // PAGE records (ram.normal)
  uint64_t xbzrle_pages = 0;      // XBZRLE records
  uint64_t xbzrle_unchanged = 0;  // pages the cache showed unchanged: not sent
  uint64_t xbzrle_overflow = 0;   // deltas larger than a page: sent as PAGE
  uint64_t cache_miss = 0;
  uint64_t eos = 0;
  uint64_t bytes = 0;                 // every byte written
  uint64_t page_record_bytes = 0;     // bytes of ZERO/PAGE/XBZRLE records
  uint64_t continue_saved_bytes = 0;  // 1 + idstr length for each CONTINUE record
};

enum class PageOutcome : uint8_t { kZero, kPage, kXbzrle, kUnchanged };

class Encoder {
 public:
  // `out` receives the bytes; nullptr counts them only (the simulator).
  Encoder(EncoderOptions options, std::vector<std::byte>* out);
  ~Encoder();
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Writes MEM_SIZE with the block list (total = sum of used_length) and makes these the
  // blocks WritePage refers to by index.
  void WriteMemSize(std::span<const BlockInfo> blocks);
  // Sends one page. REQUIRES: block < blocks given, offset page aligned and inside the block,
  // page.size() == kPageSize.
  PageOutcome WritePage(uint32_t block, uint64_t offset, std::span<const std::byte> page);
  void WriteEos();
  // Forget the last block sent, so the next page names its block (QEMU's ram_state_reset).
  void ResetLastBlock() { last_block_ = -1; }
  // Starts using the XBZRLE cache (QEMU: after the bulk stage).
  void EnableXbzrle() { xbzrle_enabled_ = true; }
  // The cache's notion of time: QEMU passes the dirty-bitmap sync count.
  void SetCacheAge(uint64_t age) { age_ = age; }

  const EncoderStats& stats() const { return stats_; }

 private:
  class PageCache;
  void WriteHeader(uint64_t address, uint32_t flags, uint32_t block);
  void Put(const void* data, size_t n);

  EncoderOptions options_;
  std::vector<std::byte>* out_;
  std::vector<BlockInfo> blocks_;
  std::vector<uint64_t> block_base_;  // ram_addr of each block: the cache key space
  int64_t last_block_ = -1;
  bool xbzrle_enabled_ = false;
  uint64_t age_ = 0;
  std::unique_ptr<PageCache> cache_;
  std::vector<std::byte> scratch_;
  EncoderStats stats_;
};

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_ENCODER_H_
