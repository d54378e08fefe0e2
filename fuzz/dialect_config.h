// The config bits of a fuzz input (fuzz/fuzz_input.h) as a loader set-up, shared by the
// targets that vary dialect and destination (ram_load_dialects_fuzzer, ram_proto_fuzzer):
//
//   bits 0-1  dialect: 0 qemu-7.2, 1 qemu-10, 2 and 3 qemu-2010
//   bit  2    section version 3 instead of 4 (qemu-2010 only; the others load 4 alone)
//   bit  3    x-ignore-shared: every MEM_SIZE entry carries be64 addr
//   bit  4    postcopy with a non-host page size for "pc.ram": its entries carry be64 page_size
//   bits 5-6  destination: 0 and 3 none (the stream's MEM_SIZE defines the blocks), 1 a fixed
//             layout with resizeable blocks (FuzzLayout), 2 memory that already holds
//             FuzzLayout's blocks at fixed sizes
//   bit  7    the stream starts at a non-zero absolute offset (embedded in a QEVM file)
#ifndef RAMSTREAM_FUZZ_DIALECT_CONFIG_H_
#define RAMSTREAM_FUZZ_DIALECT_CONFIG_H_

#include <cstdint>
#include <vector>

#include "fuzz/oracles.h"
#include "protocol/loader.h"

namespace ramstream::fuzz {

// The destination layout bits 5-6 select. Small on purpose: dense loads of it stay cheap, and
// offsets past its ends are within reach of a mutated header.
std::vector<protocol::DestinationBlock> FuzzLayout();

// The load set-up for `bits`, with FuzzLimits().
LoadConfig DialectConfig(uint16_t bits);

}  // namespace ramstream::fuzz

#endif  // RAMSTREAM_FUZZ_DIALECT_CONFIG_H_
