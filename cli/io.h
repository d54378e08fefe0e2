// File and report helpers shared by the subcommands.
#ifndef RAMSTREAM_CLI_IO_H_
#define RAMSTREAM_CLI_IO_H_

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "protocol/dialect.h"
#include "protocol/inspect.h"
#include "protocol/vmdesc.h"

namespace ramstream::cli {

// An input file, or standard input for "-".
class Input {
 public:
  // Returns nullptr and sets *error when the file cannot be opened.
  static std::unique_ptr<Input> Open(const std::string& path, std::string* error);
  ~Input();
  protocol::ReadFn Reader();
  // The vmdesc at the end of a regular file, read without moving the read position; nullptr
  // for a pipe, a file without one, or one that does not parse (the stream's own parse then
  // reports it where it lies).
  std::shared_ptr<const protocol::Vmdesc> TrailingVmdesc() const;
  const std::string& path() const { return path_; }

 private:
  std::FILE* file_ = nullptr;
  bool owned_ = false;
  std::string path_;
};

// Reads a whole file; false (and *error) on failure.
bool ReadFile(const std::string& path, std::vector<std::byte>* out, std::string* error);
bool WriteFile(const std::string& path, const std::vector<std::byte>& bytes, std::string* error);

// Options every stream-reading subcommand takes: --dialect and --format.
struct StreamFlags {
  std::string dialect = "qemu-7.2";
  std::string format = "auto";
  bool vmdesc = true;  // walk device sections with a seekable file's trailing vmdesc
  // Fills *options; false with a message on an unknown value.
  bool ToOptions(protocol::InspectOptions* options, std::string* error) const;
  // Sets options->vmdesc from the input unless --no-vmdesc.
  void AttachVmdesc(const Input& in, protocol::InspectOptions* options) const;
};
void AddStreamFlags(CLI::App* cmd, StreamFlags* flags);

// The JSON object of `ramstream inspect --json` (also used by replay).
nlohmann::json InspectionJson(const protocol::Inspection& in);

}  // namespace ramstream::cli

#endif  // RAMSTREAM_CLI_IO_H_
