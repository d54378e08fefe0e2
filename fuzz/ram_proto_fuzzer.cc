// ram_proto_fuzzer: structure-aware fuzzing of the loader. The input is a RamStream message
// (fuzz/proto/ram_stream.proto: typed MEM_SIZE / ZERO / PAGE / XBZRLE / COMPRESS_PAGE / EOS
// records with block references, overrides, raw records), converted to bytes by
// fuzz/proto/proto_to_stream.cc and checked with ram_load_fuzzer's oracles (CheckRamLoad),
// under the dialect and destination its `config` selects (fuzz/dialect_config.h).
//
// libFuzzer mutates it through LLVMFuzzerCustomMutator / LLVMFuzzerCustomCrossOver below,
// i.e. our own reflection-based mutator (fuzz/proto/mutator.h), never byte by byte. Inputs
// are binary protos; the seeds in corpus/ram_proto_fuzzer/ are text format (first line a
// '#' comment) and become binary as the fuzzer mutates them.
//
// Run by hand from the source root, after `cmake --preset fuzz && cmake --build --preset fuzz`:
//   mkdir -p /tmp/ram_proto_fuzzer
//   build/fuzz/fuzz/ram_proto_fuzzer -max_total_time=60 /tmp/ram_proto_fuzzer
//       corpus/ram_proto_fuzzer
// (one command line), or `scripts/fuzz ram_proto_fuzzer 60`. With AFL++ the same mutator is
// a library: `scripts/fuzz --engine afl ram_proto_fuzzer 60` sets
// AFL_CUSTOM_MUTATOR_LIBRARY to libram_proto_afl_mutator.so and AFL_CUSTOM_MUTATOR_ONLY=1.
// Replay files or directories, one process per file:
//   build/fuzz/fuzz/ram_proto_fuzzer_replay corpus/ram_proto_fuzzer crash-<sha1>
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz/dialect_config.h"
#include "fuzz/oracles.h"
#include "fuzz/proto/proto_to_stream.h"
#include "fuzz/proto/ram_stream.pb.h"
#include "fuzz/proto/ram_stream_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ramstream;
  fuzz::proto::RamStream msg;
  // Like every proto fuzzer: an input that does not parse is not a stream, so it is skipped.
  if (!fuzz::ParseRamStream(std::as_bytes(std::span<const uint8_t>(data, size)), &msg)) return 0;
  // The post-processing every mutant got, applied to loaded inputs too: reproducers and
  // corpus files behave exactly as they did when the fuzzer ran them.
  fuzz::NormalizeRamStream(&msg);
  const std::vector<std::byte> stream = fuzz::ProtoToStream(msg);
  fuzz::CheckRamLoad(stream, fuzz::DialectConfig(static_cast<uint16_t>(msg.config())),
                     std::as_bytes(std::span<const char>(msg.chunk_plan())));
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return ramstream::fuzz::MutateRamStream(data, size, max_size, seed);
}

extern "C" size_t LLVMFuzzerCustomCrossOver(const uint8_t* data1, size_t size1,
                                            const uint8_t* data2, size_t size2, uint8_t* out,
                                            size_t max_out_size, unsigned int seed) {
  return ramstream::fuzz::CrossOverRamStream(data1, size1, data2, size2, out, max_out_size, seed);
}
