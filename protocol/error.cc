#include "protocol/error.h"

namespace ramstream::protocol {
namespace {

struct NamedCode {
  Code code;
  std::string_view name;
};

constexpr NamedCode kNames[] = {
    {Code::kOk, "ok"},
    {Code::kTruncated, "truncated"},
    {Code::kBadIdstr, "bad_idstr"},
    {Code::kLimitExceeded, "limit_exceeded"},
    {Code::kUnsupportedVersion, "unsupported_version"},
    {Code::kUnknownFlags, "unknown_flags"},
    {Code::kUnsupportedHook, "unsupported_hook"},
    {Code::kContinueWithoutBlock, "continue_without_block"},
    {Code::kUnknownBlock, "unknown_block"},
    {Code::kOffsetOutOfRange, "offset_out_of_range"},
    {Code::kMemSizeMismatch, "mem_size_mismatch"},
    {Code::kBlockSizeMismatch, "block_size_mismatch"},
    {Code::kDuplicateBlock, "duplicate_block"},
    {Code::kBadZeroFill, "bad_zero_fill"},
    {Code::kBadXbzrle, "bad_xbzrle"},
    {Code::kBadCompressedPage, "bad_compressed_page"},
    {Code::kBadMagic, "bad_magic"},
    {Code::kBadSection, "bad_section"},
    {Code::kMissingFooter, "missing_footer"},
    {Code::kBadVmdesc, "bad_vmdesc"},
    {Code::kBadCommand, "bad_command"},
    {Code::kBadConfiguration, "bad_configuration"},
    {Code::kInternal, "internal"},
};

}  // namespace

std::string_view CodeName(Code code) {
  for (const auto& n : kNames) {
    if (n.code == code) return n.name;
  }
  return "unknown";
}

std::optional<Code> CodeFromName(std::string_view name) {
  for (const auto& n : kNames) {
    if (n.name == name) return n.code;
  }
  return std::nullopt;
}

std::string Error::ToString() const {
  if (ok()) return "ok";
  std::string s(CodeName(code));
  s += " at offset ";
  s += std::to_string(offset);
  if (!message.empty()) {
    s += ": ";
    s += message;
  }
  return s;
}

}  // namespace ramstream::protocol
