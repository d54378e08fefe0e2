// Field paths into the simulator's protobuf documents ("guest.writers[1].rate") and the checks
// that give scenario and sweep files errors with a line and column in both text format and
// JSON. Shared by sim/scenario.cc and sim/sweep.cc.
#ifndef RAMSTREAM_SIM_INTERNAL_PROTO_PATHS_H_
#define RAMSTREAM_SIM_INTERNAL_PROTO_PATHS_H_

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/internal/json_locator.h"
#include "sim/status.h"

namespace ramstream::sim::internal {

// "guest.writers[1].rate" -> {("guest", -1), ("writers", 1), ("rate", -1)}.
struct PathPart {
  std::string name;
  int index = -1;
};
std::vector<PathPart> SplitPath(std::string_view path);

// The path without its last component ("a.b[2]" -> "a.b", "a.b" -> "a"), "" at the top.
std::string ParentPath(const std::string& path);

// 1-based line and column of the field at `path` in a text-format document parsed from `root`
// with `tree` recording positions; nullopt when the field did not appear.
std::optional<std::pair<int, int>> TextLocation(
    const google::protobuf::TextFormat::ParseInfoTree* tree,
    const google::protobuf::Descriptor* root, const std::string& path);

// Reads a scenario or sweep file (`what` names it in the error) and says whether it is JSON:
// a ".json" name, or text whose first non-blank character is '{'; text format otherwise.
std::optional<Error> ReadDocument(const std::string& path, std::string_view what, std::string* text,
                                  bool* json);

// Keeps the first error of protobuf's text-format parser, with 1-based line and column.
class TextErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override;
  std::optional<Error> error_;
};

// Checks every key of a JSON document against the schema of `root` and the kind of every value
// against its field, so JSON mistakes get a line number (protobuf's JSON parser reports none).
std::optional<Error> CheckJsonSchema(const JsonLocator& locator,
                                     const google::protobuf::Descriptor* root);

}  // namespace ramstream::sim::internal

#endif  // RAMSTREAM_SIM_INTERNAL_PROTO_PATHS_H_
