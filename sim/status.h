// Errors as values for the simulator's inputs (scenario files, flags, unit strings). An error
// names the field, and where the input came from a file, the line and column.
#ifndef RAMSTREAM_SIM_STATUS_H_
#define RAMSTREAM_SIM_STATUS_H_

#include <string>
#include <utility>
#include <variant>

namespace ramstream::sim {

struct Error {
  std::string file;     // scenario file name, or "" for flags and built-in inputs
  int line = 0;         // 1-based; 0 when unknown
  int column = 0;       // 1-based; 0 when unknown
  std::string field;    // "link.bandwidth", "guest.writers[1].rate" or "--bandwidth"
  std::string message;  // what is wrong and what is accepted

  // "file:line:col: field: message", leaving out the parts that are unknown.
  std::string ToString() const;
};

inline Error MakeError(std::string field, std::string message) {
  Error e;
  e.field = std::move(field);
  e.message = std::move(message);
  return e;
}

// Result<T>: a value or an Error (abseil StatusOr shape, without exceptions).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Error& error() const { return std::get<Error>(v_); }
  T& value() { return std::get<T>(v_); }
  const T& value() const { return std::get<T>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_STATUS_H_
