// Byte and record counters of the simulated stream. Record sizes come from the protocol
// encoder's layout (protocol/encoder.h), so the simulator and the codec cannot disagree.
#ifndef RAMSTREAM_SIM_ENGINE_ACCOUNTING_H_
#define RAMSTREAM_SIM_ENGINE_ACCOUNTING_H_

#include <cstdint>

#include "protocol/encoder.h"
#include "protocol/wire_format.h"

namespace ramstream::sim {

// Record sizes: a page record with CONTINUE, and the extra bytes of naming the block.
inline constexpr uint64_t kZeroRecordBytes =
    protocol::PageRecordSize(false, 0, protocol::kZeroPayload);
inline constexpr uint64_t kPageRecordBytes =
    protocol::PageRecordSize(false, 0, protocol::kPagePayload);
constexpr uint64_t IdstrBytes(uint64_t idstr_len) {
  return protocol::PageRecordSize(true, idstr_len, 0) - protocol::PageRecordSize(false, 0, 0);
}
inline constexpr uint64_t kEosBytes = protocol::kHeaderSize;
static_assert(kZeroRecordBytes == 9 && kPageRecordBytes == 4104);

// multifd (QEMU 7.2 migration/multifd.c, no compression): a packet carries up to
// MULTIFD_PACKET_SIZE (512 KiB) / 4096 pages of one block, after a fixed header (packet_len):
// the packed 320-byte MultiFDPacket_t and one be64 offset per possible page, also in a sync
// packet without pages.
inline constexpr uint64_t kMultifdPacketPages = 128;
inline constexpr uint64_t kMultifdHeaderBytes = 320 + 8 * kMultifdPacketPages;

struct StreamCounters {
  uint64_t normal_pages = 0;  // PAGE records (ram.normal)
  uint64_t zero_pages = 0;    // ZERO records (ram.duplicate)
  uint64_t xbzrle_pages = 0;  // XBZRLE records
  uint64_t normal_bytes = 0;  // whole records: header, idstr when named, payload
  uint64_t zero_bytes = 0;
  uint64_t xbzrle_bytes = 0;
  uint64_t named_records = 0;         // page records that carried their block's idstr
  uint64_t idstr_bytes = 0;           // 1 + len(idstr) of those
  uint64_t continue_saved_bytes = 0;  // 1 + len(idstr) of every CONTINUE record
  uint64_t eos_records = 0;
  uint64_t counted_eos = 0;  // EOS that 7.2 adds to ram.transferred
  uint64_t mem_size_bytes = 0;
  // File header, section headers and footers, EOF, commands (postcopy: advise, discard, pings,
  // the PACKAGED header and the commands inside it).
  uint64_t framing_bytes = 0;
  uint64_t device_state_bytes = 0;
  // XBZRLE cache (QEMU's xbzrle-cache statistics): misses (sent as PAGE), deltas larger than a
  // page (sent as PAGE), pages the cache showed unchanged (not sent at all).
  uint64_t xbzrle_cache_miss = 0;
  uint64_t xbzrle_overflow = 0;
  uint64_t xbzrle_unchanged = 0;
  // QEMU's xbzrle-cache bytes: delta records less their 8-byte header, plus 4096 per overflow.
  uint64_t xbzrle_counted_bytes = 0;
  // multifd: pages sent in packets (also in normal_pages, as QEMU's `normal` counts them),
  // packets with pages, sync packets (one per channel per multifd_send_sync_main), and their
  // bytes: headers plus pages (QEMU's multifd-bytes). Not in the main stream, so not in
  // page_record_bytes().
  uint64_t multifd_pages = 0;
  uint64_t multifd_packets = 0;
  uint64_t multifd_sync_packets = 0;
  uint64_t multifd_bytes = 0;

  uint64_t page_record_bytes() const { return normal_bytes + zero_bytes + xbzrle_bytes; }
  uint64_t eos_bytes() const { return eos_records * kEosBytes; }
  uint64_t total() const {
    return page_record_bytes() + eos_bytes() + mem_size_bytes + framing_bytes + device_state_bytes +
           multifd_bytes;
  }
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_ENGINE_ACCOUNTING_H_
