// Errors as values: a stable code, the absolute byte offset of the record that failed, and a
// message that names the field and the values. No exceptions cross protocol/ APIs.
#ifndef RAMSTREAM_PROTOCOL_ERROR_H_
#define RAMSTREAM_PROTOCOL_ERROR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ramstream::protocol {

// Stable numbering, grouped by tens like zstd's error codes: never renumber, only append.
// The snake_case name (CodeName) is what every output (CLI, JSON, corpus manifests) shows.
enum class Code : uint16_t {
  kOk = 0,
  // Framing: the bytes end or do not parse as records.
  kTruncated = 10,  // input ended inside a record (or before the final EOS)
  kBadIdstr = 11,   // empty idstr, or one with a NUL byte
  // Limits: a length from the wire is above a configured limit.
  kLimitExceeded = 20,
  // Unsupported: well formed, but not something this dialect loads.
  kUnsupportedVersion = 30,  // RAM section version
  kUnknownFlags = 31,        // flag combination this dialect does not know
  kUnsupportedHook = 32,     // HOOK record: needs RDMA
  // Corruption: the stream contradicts itself or the destination.
  kContinueWithoutBlock = 40,
  kUnknownBlock = 41,
  kOffsetOutOfRange = 42,
  kMemSizeMismatch = 43,    // MEM_SIZE lengths do not add up to its total
  kBlockSizeMismatch = 44,  // MEM_SIZE length differs from the destination layout
  kDuplicateBlock = 45,
  kBadZeroFill = 46,
  kBadXbzrle = 47,
  kBadCompressedPage = 48,
  // Envelope (QEVM file) errors.
  kBadMagic = 60,
  kBadSection = 61,
  kMissingFooter = 62,
  kBadVmdesc = 63,
  kBadCommand = 64,
  kBadConfiguration = 65,
  // A broken invariant inside ramstream itself: always a bug, fuzzers abort on it.
  kInternal = 90,
};

// "truncated", "unknown_flags", ...; "unknown" for a value outside the enum.
std::string_view CodeName(Code code);
// Inverse of CodeName; nullopt for an unknown name.
std::optional<Code> CodeFromName(std::string_view name);

struct [[nodiscard]] Error {
  Code code = Code::kOk;
  uint64_t offset = 0;  // absolute stream offset of the record (or field) that failed
  std::string message;

  bool ok() const { return code == Code::kOk; }
  // "unknown_flags at offset 4104: ..." for logs and the CLI.
  std::string ToString() const;
};

// Result<T>: a value or an Error (abseil StatusOr shape, without exceptions).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : error_(std::move(error)) {}  // NOLINT
  bool ok() const { return error_.ok(); }
  const Error& error() const { return error_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Error error_;
};

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_ERROR_H_
