// Big-endian loads and stores on unaligned bytes (the wire is big-endian, spec section 1).
#ifndef RAMSTREAM_PROTOCOL_INTERNAL_ENDIAN_H_
#define RAMSTREAM_PROTOCOL_INTERNAL_ENDIAN_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ramstream::protocol::internal {

// memcpy + __builtin_bswap compiles to one load and a bswap/movbe; no alignment assumed.
inline uint16_t LoadBe16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap16(v);
}
inline uint32_t LoadBe32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap32(v);
}
inline uint64_t LoadBe64(const std::byte* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_bswap64(v);
}
inline void StoreBe16(std::byte* p, uint16_t v) {
  v = __builtin_bswap16(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreBe32(std::byte* p, uint32_t v) {
  v = __builtin_bswap32(v);
  std::memcpy(p, &v, sizeof v);
}
inline void StoreBe64(std::byte* p, uint64_t v) {
  v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof v);
}

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "ramstream's byte-order helpers assume a little-endian host");

}  // namespace ramstream::protocol::internal

#endif  // RAMSTREAM_PROTOCOL_INTERNAL_ENDIAN_H_
