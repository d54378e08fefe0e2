// canary_<name>_proto: a canary (fuzz/canaries/README.md) behind ram_proto_fuzzer's input
// shape: a RamStream message, normalised and converted exactly as ram_proto_fuzzer does, and
// mutated by the same reflection-based mutator (libFuzzer here; AFL++ loads
// libram_proto_afl_mutator.so). The message's config is not a dialect here (the 2010 loader
// has one, and no destination layout): its low byte is the cut of canary.h.
//
// Run by hand from the source root, after `cmake --preset fuzz && cmake --build --preset fuzz`:
//   build/fuzz/fuzz/canary_stale_last_block_proto -timeout=5 -max_total_time=60
//       /tmp/canary-corpus corpus/ram_proto_fuzzer
// (one command line); scripts/bugbench runs them all and checks the report.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz/canaries/canary.h"
#include "fuzz/proto/proto_to_stream.h"
#include "fuzz/proto/ram_stream.pb.h"
#include "fuzz/proto/ram_stream_mutator.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ramstream;
  fuzz::proto::RamStream msg;
  if (!fuzz::ParseRamStream(std::as_bytes(std::span<const uint8_t>(data, size)), &msg)) return 0;
  fuzz::NormalizeRamStream(&msg);
  const std::vector<std::byte> stream = fuzz::ProtoToStream(msg);
  canary::RunCanary(stream, msg.config() & 0xff);
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
