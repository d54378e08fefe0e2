// ram_load_fuzzer: raw bytes -> Decoder + Loader, qemu-7.2 dialect, no destination layout
// (the first MEM_SIZE defines the blocks), as `ramstream` loads a captured stream.
//
// Input: a RAM stream followed by the trailer of fuzz/fuzz_input.h (config, chunk plan);
// the config is ignored here. CheckRamLoad's core properties (RamLoadChecks::kCore in
// fuzz/oracles.h): no kInternal, no kNeedInput after end of input, no call without progress,
// whole vs chunked decoding record by record, every accepted page exactly as its record says
// and no write outside it. Loader::Feed vs Apply, dense vs sparse memory and the failed-load
// prefix are ram_load_dialects_fuzzer's (its config 0 is this target's set-up), which keeps
// this one at the speed of a single checked load.
//
// Run by hand from the source root, after `cmake --preset fuzz && cmake --build --preset fuzz`:
//   mkdir -p /tmp/ram_load_fuzzer
//   build/fuzz/fuzz/ram_load_fuzzer -dict=fuzz/dicts/ram_load_fuzzer.dict
//       -max_total_time=60 /tmp/ram_load_fuzzer corpus/ram_load_fuzzer
// (one command line), or `scripts/fuzz ram_load_fuzzer 60`. Replay files or directories, one
// process per file, every failure reported:
//   build/fuzz/fuzz/ram_load_fuzzer_replay corpus/ram_load_fuzzer crash-<sha1>
// In a build without libFuzzer (g++, -DRAMSTREAM_BUILD_FUZZERS=ON) the target itself is that
// replay program: build/<dir>/fuzz/ram_load_fuzzer corpus/ram_load_fuzzer
#include <cstddef>
#include <cstdint>
#include <span>

#include "fuzz/fuzz_input.h"
#include "fuzz/oracles.h"
#include "protocol/dialect.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ramstream;
  const fuzz::FuzzInput in = fuzz::SplitInput(std::as_bytes(std::span<const uint8_t>(data, size)));
  fuzz::LoadConfig config;
  config.options.decoder.dialect = protocol::Dialect::Qemu72();
  config.options.decoder.limits = fuzz::FuzzLimits();
  fuzz::CheckRamLoad(in.stream, config, in.plan, fuzz::RamLoadChecks::kCore);
  return 0;
}
