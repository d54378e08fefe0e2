// The RamStream mutator as an AFL++ custom mutator library (AFL++ 4.04c API), because AFL++
// ignores LLVMFuzzerCustomMutator and its driver stubs LLVMFuzzerMutate out. Load it with
//   AFL_CUSTOM_MUTATOR_LIBRARY=.../libram_proto_afl_mutator.so AFL_CUSTOM_MUTATOR_ONLY=1
// (the second keeps havoc from flipping bytes of the serialised proto). Built only in builds
// without sanitizers or AFL instrumentation: afl-fuzz itself loads it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz/proto/ram_stream_mutator.h"

namespace {

struct State {
  uint64_t seed = 0;
  uint64_t calls = 0;
  std::vector<uint8_t> buf;  // AFL reads the mutant from here until the next call
};

}  // namespace

extern "C" void* afl_custom_init(void* /*afl*/, unsigned int seed) {
  auto* s = new State;
  s->seed = seed;
  return s;
}

// One mutant of buf (or, a quarter of the time when AFL offers another queue entry, a
// crossover with it), at most max_size bytes, in *out_buf.
extern "C" size_t afl_custom_fuzz(void* data, uint8_t* buf, size_t buf_size, uint8_t** out_buf,
                                  uint8_t* add_buf, size_t add_buf_size, size_t max_size) {
  auto* s = static_cast<State*>(data);
  // Each call's seed follows from AFL's seed and the call count: runs are reproducible.
  const uint64_t seed = s->seed * 0x9e3779b97f4a7c15ull + ++s->calls;
  // Grown once to AFL's maximum (1 MiB by default), not cleared per call.
  if (s->buf.size() < max_size) s->buf.resize(max_size);
  size_t n;
  if (add_buf != nullptr && add_buf_size > 0 && seed % 4 == 0) {
    n = ramstream::fuzz::CrossOverRamStream(buf, buf_size, add_buf, add_buf_size, s->buf.data(),
                                            max_size, seed);
  } else {
    if (buf_size > 0) std::memcpy(s->buf.data(), buf, std::min(buf_size, max_size));
    n = ramstream::fuzz::MutateRamStream(s->buf.data(), std::min(buf_size, max_size), max_size,
                                         seed);
  }
  *out_buf = s->buf.data();
  return n;
}

extern "C" const char* afl_custom_describe(void* /*data*/, size_t /*max_description_len*/) {
  return "ramstream-proto";
}

extern "C" void afl_custom_deinit(void* data) { delete static_cast<State*>(data); }
