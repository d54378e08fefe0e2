#include "sim/internal/json_locator.h"

#include <utility>

namespace ramstream::sim::internal {
namespace {

constexpr int kMaxDepth = 64;

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  std::optional<Error> Run(std::vector<JsonLocator::Entry>* out) {
    out_ = out;
    SkipSpace();
    if (!Value("", 0)) return error_;
    SkipSpace();
    if (pos_ != text_.size()) {
      Fail("unexpected text after the end of the document");
      return error_;
    }
    return std::nullopt;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void Advance() {
    if (text_[pos_] == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    ++pos_;
  }
  void SkipSpace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      Advance();
    }
  }
  bool Fail(std::string message) {
    if (!error_) {
      Error e;
      e.line = line_;
      e.column = col_;
      e.message = std::move(message);
      error_ = std::move(e);
    }
    return false;
  }
  bool Expect(char c) {
    if (Peek() != c) return Fail(std::string("expected '") + c + "'");
    Advance();
    return true;
  }

  bool String(std::string* out) {
    if (!Expect('"')) return false;
    while (true) {
      if (AtEnd()) return Fail("unterminated string");
      const char c = Peek();
      if (c == '"') {
        Advance();
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return Fail("control character in a string");
      if (c == '\\') {
        Advance();
        if (AtEnd()) return Fail("unterminated string");
        const char e = Peek();
        if (e == 'u') {
          Advance();
          for (int i = 0; i < 4; ++i) {
            const char h = Peek();
            const bool hex =
                (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
            if (!hex) return Fail("bad \\u escape");
            Advance();
          }
          if (out != nullptr) *out += '?';  // keys with escapes do not name proto fields
          continue;
        }
        if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return Fail("bad escape in a string");
        }
        if (out != nullptr) *out += e;
        Advance();
        continue;
      }
      if (out != nullptr) *out += c;
      Advance();
    }
  }

  bool Number() {
    if (Peek() == '-') Advance();
    if (!(Peek() >= '0' && Peek() <= '9')) return Fail("bad number");
    while (Peek() >= '0' && Peek() <= '9') Advance();
    if (Peek() == '.') {
      Advance();
      if (!(Peek() >= '0' && Peek() <= '9')) return Fail("bad number");
      while (Peek() >= '0' && Peek() <= '9') Advance();
    }
    if (Peek() == 'e' || Peek() == 'E') {
      Advance();
      if (Peek() == '+' || Peek() == '-') Advance();
      if (!(Peek() >= '0' && Peek() <= '9')) return Fail("bad number");
      while (Peek() >= '0' && Peek() <= '9') Advance();
    }
    return true;
  }

  bool Literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return Fail("unexpected character");
    for (size_t i = 0; i < word.size(); ++i) Advance();
    return true;
  }

  // Records the entry for `path` (unless it is the root), then scans the value.
  bool Value(const std::string& path, int depth, int key_line = 0, int key_col = 0) {
    if (depth > kMaxDepth) return Fail("nesting deeper than 64 levels");
    const int line = key_line != 0 ? key_line : line_;
    const int col = key_line != 0 ? key_col : col_;
    JsonLocator::Kind kind;
    switch (Peek()) {
      case '{':
        kind = JsonLocator::Kind::kObject;
        break;
      case '[':
        kind = JsonLocator::Kind::kArray;
        break;
      case '"':
        kind = JsonLocator::Kind::kString;
        break;
      case 't':
      case 'f':
        kind = JsonLocator::Kind::kBool;
        break;
      case 'n':
        kind = JsonLocator::Kind::kNull;
        break;
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) {
          kind = JsonLocator::Kind::kNumber;
          break;
        }
        return Fail(AtEnd() ? "unexpected end of the document" : "expected a value");
    }
    if (!path.empty()) out_->push_back(JsonLocator::Entry{path, line, col, kind});
    switch (kind) {
      case JsonLocator::Kind::kObject:
        return Object(path, depth);
      case JsonLocator::Kind::kArray:
        return Array(path, depth);
      case JsonLocator::Kind::kString:
        return String(nullptr);
      case JsonLocator::Kind::kNumber:
        return Number();
      case JsonLocator::Kind::kBool:
        return Literal(Peek() == 't' ? "true" : "false");
      case JsonLocator::Kind::kNull:
        return Literal("null");
    }
    return false;
  }

  bool Object(const std::string& path, int depth) {
    Advance();  // {
    SkipSpace();
    if (Peek() == '}') {
      Advance();
      return true;
    }
    while (true) {
      SkipSpace();
      const int key_line = line_;
      const int key_col = col_;
      std::string key;
      if (Peek() != '"') return Fail("expected a quoted key");
      if (!String(&key)) return false;
      SkipSpace();
      if (!Expect(':')) return false;
      SkipSpace();
      const std::string child = path.empty() ? CamelToSnake(key) : path + "." + CamelToSnake(key);
      if (!Value(child, depth + 1, key_line, key_col)) return false;
      SkipSpace();
      if (Peek() == ',') {
        Advance();
        continue;
      }
      if (Peek() == '}') {
        Advance();
        return true;
      }
      return Fail("expected ',' or '}'");
    }
  }

  bool Array(const std::string& path, int depth) {
    Advance();  // [
    SkipSpace();
    if (Peek() == ']') {
      Advance();
      return true;
    }
    for (size_t i = 0;; ++i) {
      SkipSpace();
      if (!Value(path + "[" + std::to_string(i) + "]", depth + 1)) return false;
      SkipSpace();
      if (Peek() == ',') {
        Advance();
        continue;
      }
      if (Peek() == ']') {
        Advance();
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
  std::optional<Error> error_;
  std::vector<JsonLocator::Entry>* out_ = nullptr;
};

}  // namespace

std::string CamelToSnake(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c >= 'A' && c <= 'Z') {
      out += '_';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

Result<JsonLocator> JsonLocator::Scan(std::string_view text) {
  JsonLocator loc;
  Scanner scanner(text);
  if (std::optional<Error> e = scanner.Run(&loc.entries_)) return *e;
  for (size_t i = 0; i < loc.entries_.size(); ++i) loc.index_.emplace(loc.entries_[i].path, i);
  return loc;
}

const JsonLocator::Entry* JsonLocator::Find(std::string_view path) const {
  auto it = index_.find(path);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

}  // namespace ramstream::sim::internal
