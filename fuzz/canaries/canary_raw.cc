// canary_<name>_raw: a canary (fuzz/canaries/README.md) behind ram_load_fuzzer's input shape:
// raw bytes, the stream followed by the fuzz_input.h trailer, so corpus/ram_load_fuzzer seeds
// it. Of the trailer only the config's low byte is used, as the cut of canary.h (the 2010
// loader has one dialect and reads the stream in one piece).
//
// Run by hand from the source root, after `cmake --preset fuzz && cmake --build --preset fuzz`:
//   build/fuzz/fuzz/canary_stale_last_block_raw -dict=fuzz/dicts/ram_load_fuzzer.dict
//       -timeout=5 -max_total_time=60 /tmp/canary-corpus corpus/ram_load_fuzzer
// (one command line); scripts/bugbench runs them all and checks the report.
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz/canaries/canary.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ramstream;
  const fuzz::FuzzInput in = fuzz::SplitInput(std::as_bytes(std::span<const uint8_t>(data, size)));
  // The config's low byte, which ram_load_fuzzer ignores, says where load 1 breaks off.
  canary::RunCanary(in.stream, in.config & 0xff);
  return 0;
}
