// Where each value of a JSON document sits (line and column), keyed by field path
// ("guest.writers[1].rate"; lowerCamelCase keys are turned into snake_case to match proto
// field names), so scenario errors can point into .json files as they do into text format.
// A small scanner of its own: nlohmann::json and protobuf's JSON parser keep no positions.
#ifndef RAMSTREAM_SIM_INTERNAL_JSON_LOCATOR_H_
#define RAMSTREAM_SIM_INTERNAL_JSON_LOCATOR_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/status.h"

namespace ramstream::sim::internal {

class JsonLocator {
 public:
  enum class Kind { kObject, kArray, kString, kNumber, kBool, kNull };
  struct Entry {
    std::string path;
    int line = 0;    // 1-based, of the key (object members) or the value (array elements)
    int column = 0;  // 1-based
    Kind kind = Kind::kNull;
  };

  // A syntax error comes back with its line and column.
  static Result<JsonLocator> Scan(std::string_view text);

  // Entries in document order (the root object itself is not an entry).
  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* Find(std::string_view path) const;

 private:
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

// "nonzeroFraction" -> "nonzero_fraction"; snake_case stays as it is.
std::string CamelToSnake(std::string_view key);

}  // namespace ramstream::sim::internal

#endif  // RAMSTREAM_SIM_INTERNAL_JSON_LOCATOR_H_
