// The one zero-page test shared by the loader, guest memory and the encoder.
#ifndef RAMSTREAM_PROTOCOL_INTERNAL_ZERO_H_
#define RAMSTREAM_PROTOCOL_INTERNAL_ZERO_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ramstream::protocol::internal {

// True if the n bytes at p are all zero. REQUIRES: n is a multiple of 8. Word-wise OR over
// the whole buffer without an early exit: branch-free, so the compiler vectorises it, and
// pages are usually either zero or differ early (then the cost is a page read either way).
inline bool IsZero(const std::byte* p, size_t n) {
  uint64_t acc = 0;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  return acc == 0;
}

}  // namespace ramstream::protocol::internal

#endif  // RAMSTREAM_PROTOCOL_INTERNAL_ZERO_H_
