// The RamStream mutator as the engines call it: libFuzzer's LLVMFuzzerCustomMutator /
// LLVMFuzzerCustomCrossOver (fuzz/ram_proto_fuzzer.cc) and the AFL++ custom mutator library
// (fuzz/proto/afl_mutator.cc). Inputs are parsed with ParseRamStream (binary, or text for the
// committed seeds), normalised, edited by a ProtoMutator set up with RamStream's interesting
// values, tokens and NormalizeRamStream as post-processor, and written back in binary.
#ifndef RAMSTREAM_FUZZ_PROTO_RAM_STREAM_MUTATOR_H_
#define RAMSTREAM_FUZZ_PROTO_RAM_STREAM_MUTATOR_H_

#include <cstddef>
#include <cstdint>

#include "fuzz/proto/mutator.h"

namespace ramstream::fuzz {

// Registers RamStream's interesting values, tokens and post-processor with `m`.
void ConfigureRamStreamMutator(protomut::ProtoMutator* m);

// Mutates the RamStream in data[0, size) in place (binary out, at most max_size bytes) and
// returns the new size. Unparsable input starts over from an empty message. Deterministic
// in (input, seed).
size_t MutateRamStream(uint8_t* data, size_t size, size_t max_size, uint64_t seed);

// Crosses `data1` with subtrees of `data2` into `out` (at most max_out_size bytes); returns
// the size written.
size_t CrossOverRamStream(const uint8_t* data1, size_t size1, const uint8_t* data2, size_t size2,
                          uint8_t* out, size_t max_out_size, uint64_t seed);

}  // namespace ramstream::fuzz

#endif  // RAMSTREAM_FUZZ_PROTO_RAM_STREAM_MUTATOR_H_
