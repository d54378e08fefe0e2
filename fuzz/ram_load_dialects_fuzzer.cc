// ram_load_dialects_fuzzer: every CheckRamLoad property (RamLoadChecks::kAll in
// fuzz/oracles.h: ram_load_fuzzer's core ones plus Loader::Feed vs Apply, dense vs sparse
// memory and the failed-load prefix) under every dialect and loader set-up that the config
// bits of the input's trailer (fuzz/fuzz_input.h) select; the bits are listed in
// fuzz/dialect_config.h (dialect, section version, optional MEM_SIZE fields, destination
// layout, start offset). Config 0 is ram_load_fuzzer's set-up.
//
// Run by hand from the source root, after `cmake --preset fuzz && cmake --build --preset fuzz`:
//   mkdir -p /tmp/ram_load_dialects_fuzzer
//   build/fuzz/fuzz/ram_load_dialects_fuzzer -dict=fuzz/dicts/ram_load_dialects_fuzzer.dict
//       -max_total_time=60 /tmp/ram_load_dialects_fuzzer corpus/ram_load_dialects_fuzzer
// (one command line), or `scripts/fuzz ram_load_dialects_fuzzer 60`. Replay files or directories,
// one process per file, every failure reported:
//   build/fuzz/fuzz/ram_load_dialects_fuzzer_replay corpus/ram_load_dialects_fuzzer crash-<sha1>
// In a build without libFuzzer (g++, -DRAMSTREAM_BUILD_FUZZERS=ON) the target itself is that
// replay program: build/<dir>/fuzz/ram_load_dialects_fuzzer corpus/ram_load_dialects_fuzzer
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz/dialect_config.h"
#include "fuzz/fuzz_input.h"
#include "fuzz/oracles.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ramstream;
  const fuzz::FuzzInput in = fuzz::SplitInput(std::as_bytes(std::span<const uint8_t>(data, size)));
  fuzz::CheckRamLoad(in.stream, fuzz::DialectConfig(in.config), in.plan, fuzz::RamLoadChecks::kAll);
  return 0;
}
