// Building whole streams from guest memory or from raw RAM payloads, and putting RAM payloads
// into a real QEMU file (the "template") while keeping its configuration, commands and device
// sections, so a destination QEMU loads the result. Used by `ramstream encode` and by the QEMU
// differential oracle.
#ifndef RAMSTREAM_PROTOCOL_SPLICE_H_
#define RAMSTREAM_PROTOCOL_SPLICE_H_

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "protocol/dialect.h"
#include "protocol/error.h"
#include "protocol/guest_memory.h"

namespace ramstream::protocol {

using ByteVector = std::vector<std::byte>;

// The RAM section payloads QEMU 7.2 writes for `memory`'s blocks with the guest paused: START
// (MEM_SIZE + EOS), one PART (every page, ZERO for zero pages, CONTINUE within a block, EOS)
// and END (EOS).
std::vector<ByteVector> EncodeMemory(const GuestMemory& memory);

// Cuts a RAM section stream into section payloads, each ending right after an EOS record,
// using `dialect` to find record boundaries. Bytes the decoder cannot get past (malformed or
// truncated) go, as they are, into the last payload, so a malformed stream stays malformed.
std::vector<ByteVector> SplitAtEos(std::span<const std::byte> ram, const Dialect& dialect);

// Returns `tmpl` (a QEVM file QEMU wrote) with its "ram" sections replaced: payloads[0] is the
// START's, payloads[n-1] the END's (n >= 2), the rest become PARTs after the START; the
// template's own PARTs are dropped. Section ids, footers and everything else stay as they were.
// A template without exactly one ram START and one END, or with a ram FULL, is kBadSection.
// *end_payload_end, when given, is set to the offset just past the END's payload.
Result<ByteVector> SpliceRam(std::span<const std::byte> tmpl, std::span<const ByteVector> payloads,
                             uint64_t* end_payload_end = nullptr);

// The bare RAM section stream of a QEVM file: the bytes of every RAM record, in order, without
// the envelope between sections. Fails with the file's error if it does not load.
Result<ByteVector> RamStreamOf(std::span<const std::byte> qevm);

// A minimal QEVM file for `machine` holding only the RAM section built from payloads (as in
// SpliceRam), with footers, EOF and no vmdesc (QEMU loads it; devices keep their reset state).
ByteVector WriteRamOnlyFile(const std::string& machine, std::span<const ByteVector> payloads);

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_SPLICE_H_
