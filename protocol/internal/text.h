// How error messages print values: one spelling for every protocol/ message.
#ifndef RAMSTREAM_PROTOCOL_INTERNAL_TEXT_H_
#define RAMSTREAM_PROTOCOL_INTERNAL_TEXT_H_

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace ramstream::protocol::internal {

// "0x1f000".
inline std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// 'pc.ram', with bytes outside printable ASCII as \xNN (idstrs come from the wire).
inline std::string Quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  return out + "'";
}

}  // namespace ramstream::protocol::internal

#endif  // RAMSTREAM_PROTOCOL_INTERNAL_TEXT_H_
