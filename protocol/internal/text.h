// How error messages print values: one spelling for every protocol/ message.
#ifndef RAMSTREAM_PROTOCOL_INTERNAL_TEXT_H_
#define RAMSTREAM_PROTOCOL_INTERNAL_TEXT_H_

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace ramstream::protocol::internal {

// The parts joined, in one allocation (an operator+ chain reallocates at every step, and
// every rejected record builds a message; under ASan that showed in fuzzing profiles).
inline std::string Cat(std::initializer_list<std::string_view> parts) {
  size_t size = 0;
  for (std::string_view p : parts) size += p.size();
  std::string out;
  out.reserve(size);
  for (std::string_view p : parts) out.append(p);
  return out;
}

// "0x1f000".
inline std::string Hex(uint64_t v) {
  char buf[2 + 16] = {'0', 'x'};
  const auto end = std::to_chars(buf + 2, buf + sizeof buf, v, 16).ptr;
  return std::string(buf, end);
}

// 'pc.ram', with bytes outside printable ASCII as \xNN (idstrs come from the wire).
// Sized in one pass and filled in a second: fuzzed idstrs are up to 255 bytes of mostly
// unprintable bytes, and messages are built for every rejected record, so this is on the
// hot path of every fuzz target (it was 11 % of ram_load_fuzzer's time with snprintf).
inline std::string Quoted(std::string_view s) {
  static constexpr char kHexDigits[] = "0123456789abcdef";
  auto printable = [](unsigned char c) { return c >= 0x20 && c < 0x7f; };
  size_t size = 2;
  for (unsigned char c : s) size += printable(c) ? 1 : 4;
  std::string out(size, '\'');
  char* p = out.data() + 1;
  for (unsigned char c : s) {
    if (printable(c)) {
      *p++ = static_cast<char>(c);
    } else {
      *p++ = '\\';
      *p++ = 'x';
      *p++ = kHexDigits[c >> 4];
      *p++ = kHexDigits[c & 0xf];
    }
  }
  return out;
}

}  // namespace ramstream::protocol::internal

#endif  // RAMSTREAM_PROTOCOL_INTERNAL_TEXT_H_
