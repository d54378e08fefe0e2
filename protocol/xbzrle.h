// XBZRLE page deltas as QEMU encodes them (migration/xbzrle.c): alternating runs of unchanged
// bytes (zrun) and changed bytes (nzrun, followed by the new bytes), each run length a ULEB128
// of at most two bytes. Spec: docs/ram-stream-format.md section 3.5.
#ifndef RAMSTREAM_PROTOCOL_XBZRLE_H_
#define RAMSTREAM_PROTOCOL_XBZRLE_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "protocol/error.h"

namespace ramstream::protocol::xbzrle {

// Encodes `new_page` against `old_page` (same size) into `out`, with QEMU's exact output and
// its overflow points. Returns the encoded length (0: pages are equal, nothing to send), or
// -1 when the encoding would not fit in out.size() bytes (QEMU then sends a plain PAGE).
int Encode(std::span<const std::byte> old_page, std::span<const std::byte> new_page,
           std::span<std::byte> out);

// Checks `delta` with QEMU's decoder rules (a count needs at least 2 input bytes left, ULEB128
// of at most 2 bytes, only the first zrun may be 0, nzrun >= 1, no write past page_len, no
// read past the delta) without writing. On failure the Error is kBadXbzrle with `offset` the
// position inside the delta and a message naming the run.
Error Validate(std::span<const std::byte> delta, size_t page_len);

// Applies a delta that Validate accepted to `page` in place.
void Apply(std::span<const std::byte> delta, std::span<std::byte> page);

}  // namespace ramstream::protocol::xbzrle

#endif  // RAMSTREAM_PROTOCOL_XBZRLE_H_
