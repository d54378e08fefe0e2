// GoogleTest matchers for protocol::Error. Prefer the specific error: HasError(code, offset).
#ifndef RAMSTREAM_PROTOCOL_TESTING_MATCHERS_H_
#define RAMSTREAM_PROTOCOL_TESTING_MATCHERS_H_

#include <gmock/gmock.h>

#include <ostream>

#include "protocol/error.h"

namespace ramstream::protocol {

inline void PrintTo(const Error& e, std::ostream* os) { *os << e.ToString(); }

namespace testing {

MATCHER(IsOk, "is ok") {
  *result_listener << arg.ToString();
  return arg.ok();
}

MATCHER_P(HasError, code, "has error " + std::string(CodeName(code))) {
  *result_listener << arg.ToString();
  return arg.code == code;
}

MATCHER_P2(HasError, code, offset,
           "has error " + std::string(CodeName(code)) + " at offset " + std::to_string(offset)) {
  *result_listener << arg.ToString();
  return arg.code == code && arg.offset == static_cast<uint64_t>(offset);
}

MATCHER_P3(HasError, code, offset, message_matcher,
           "has error " + std::string(CodeName(code)) + " at offset " + std::to_string(offset)) {
  *result_listener << arg.ToString();
  return arg.code == code && arg.offset == static_cast<uint64_t>(offset) &&
         ::testing::Matches(message_matcher)(arg.message);
}

}  // namespace testing
}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_TESTING_MATCHERS_H_
