#include "sim/internal/proto_paths.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace ramstream::sim::internal {
namespace gpb = google::protobuf;

namespace {

std::string_view KindName(JsonLocator::Kind kind) {
  using K = JsonLocator::Kind;
  switch (kind) {
    case K::kObject:
      return "an object";
    case K::kArray:
      return "an array";
    case K::kString:
      return "a string";
    case K::kNumber:
      return "a number";
    case K::kBool:
      return "true or false";
    case K::kNull:
      return "null";
  }
  return "a value";
}

}  // namespace

std::vector<PathPart> SplitPath(std::string_view path) {
  std::vector<PathPart> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t end = path.find_first_of(".[", i);
    if (end == std::string_view::npos) end = path.size();
    PathPart part{std::string(path.substr(i, end - i)), -1};
    i = end;
    if (i < path.size() && path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos) break;
      part.index = std::atoi(std::string(path.substr(i + 1, close - i - 1)).c_str());
      i = close + 1;
    }
    if (i < path.size() && path[i] == '.') ++i;
    parts.push_back(std::move(part));
  }
  return parts;
}

std::string ParentPath(const std::string& path) {
  const size_t cut = path.find_last_of(".[");
  return cut == std::string::npos ? "" : path.substr(0, cut);
}

void TextErrors::AddError(int line, gpb::io::ColumnNumber column, const std::string& message) {
  if (!error_) {
    Error e;
    e.line = line + 1;
    e.column = column + 1;
    e.message = message;
    error_ = std::move(e);
  }
}

std::optional<std::pair<int, int>> TextLocation(const gpb::TextFormat::ParseInfoTree* tree,
                                                const gpb::Descriptor* root,
                                                const std::string& path) {
  const gpb::Descriptor* desc = root;
  const std::vector<PathPart> parts = SplitPath(path);
  for (size_t i = 0; i < parts.size(); ++i) {
    const gpb::FieldDescriptor* field = desc->FindFieldByName(parts[i].name);
    if (field == nullptr || tree == nullptr) return std::nullopt;
    const int index = field->is_repeated() ? std::max(parts[i].index, 0) : -1;
    if (i + 1 == parts.size()) {
      const auto loc = tree->GetLocation(field, index);
      if (loc.line < 0) return std::nullopt;
      return std::make_pair(loc.line + 1, loc.column + 1);
    }
    if (field->message_type() == nullptr) return std::nullopt;
    tree = tree->GetTreeForNested(field, index);
    desc = field->message_type();
  }
  return std::nullopt;
}

std::optional<Error> ReadDocument(const std::string& path, std::string_view what, std::string* text,
                                  bool* json) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    Error e;
    e.file = path;
    e.message = "cannot open the " + std::string(what) + " file";
    return e;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  *text = buf.str();
  const size_t first = text->find_first_not_of(" \t\r\n");
  *json = path.ends_with(".json") || (first != std::string::npos && (*text)[first] == '{');
  return std::nullopt;
}

std::optional<Error> CheckJsonSchema(const JsonLocator& locator, const gpb::Descriptor* root) {
  using K = JsonLocator::Kind;
  for (const JsonLocator::Entry& e : locator.entries()) {
    const std::vector<PathPart> parts = SplitPath(e.path);
    if (parts.empty()) {
      // A key like "a[" (found by sim_scenario_fuzzer): no field has such a name.
      Error err;
      err.line = e.line;
      err.column = e.column;
      err.field = e.path;
      err.message = "malformed key \"" + e.path + "\"";
      return err;
    }
    const gpb::Descriptor* desc = root;
    const gpb::FieldDescriptor* field = nullptr;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) desc = field->message_type();
      field = desc == nullptr ? nullptr : desc->FindFieldByName(parts[i].name);
      if (field == nullptr) {
        Error err;
        err.line = e.line;
        err.column = e.column;
        err.field = e.path;
        err.message = "unknown field \"" + parts[i].name + "\" in " +
                      (desc == nullptr ? std::string("a value") : std::string(desc->name()));
        return err;
      }
    }
    const bool element = parts.back().index >= 0;
    std::string want;
    if (e.kind == K::kNull) continue;  // proto3 JSON: null means "not set"
    if (field->is_repeated() && !element) {
      if (e.kind != K::kArray) want = "an array";
    } else if (field->message_type() != nullptr) {
      if (e.kind != K::kObject) want = "an object";
    } else {
      switch (field->cpp_type()) {
        case gpb::FieldDescriptor::CPPTYPE_STRING:
          if (e.kind != K::kString) want = "a string (sizes, rates and durations are strings)";
          break;
        case gpb::FieldDescriptor::CPPTYPE_BOOL:
          if (e.kind != K::kBool) want = "true or false";
          break;
        default:  // numbers may also be quoted in proto3 JSON
          if (e.kind != K::kNumber && e.kind != K::kString) want = "a number";
          break;
      }
    }
    if (!want.empty()) {
      Error err;
      err.line = e.line;
      err.column = e.column;
      err.field = e.path;
      err.message = "expected " + want + ", got " + std::string(KindName(e.kind));
      return err;
    }
  }
  return std::nullopt;
}

}  // namespace ramstream::sim::internal
