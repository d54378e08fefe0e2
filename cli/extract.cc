// `ramstream extract FILE --block IDSTR -o OUT` and `--all DIR`: the final guest memory of a
// block (used_length bytes), as a destination QEMU that loaded the same stream holds it.
#include <sys/stat.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/io.h"

namespace ramstream::cli {
namespace {

struct ExtractArgs {
  std::string path;
  StreamFlags stream;
  std::string block;
  std::string out;
  std::string all_dir;
};

// idstrs hold '/' and ':' ("0000:00:02.0/vga.vram"); keep file names to a safe alphabet.
std::string FileNameFor(const std::string& idstr) {
  std::string name;
  for (char c : idstr) {
    const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    name += safe ? c : '_';
  }
  while (!name.empty() && name.front() == '.') name.front() = '_';
  return name + ".bin";
}

bool WriteBlock(const protocol::GuestMemory& mem, uint32_t block, const std::string& path,
                std::string* error) {
  std::FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    *error = path + ": cannot open for writing";
    return false;
  }
  std::vector<std::byte> buf(size_t{1} << 20);
  bool ok = true;
  const uint64_t len = mem.used_length(block);
  for (uint64_t off = 0; off < len && ok; off += buf.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), len - off));
    mem.Read(block, off, std::span<std::byte>(buf.data(), n));
    ok = std::fwrite(buf.data(), 1, n, f) == n;
  }
  ok = (f == stdout ? std::fflush(f) == 0 : std::fclose(f) == 0) && ok;
  if (!ok) *error = path + ": write error";
  return ok;
}

int RunExtract(const ExtractArgs& a) {
  protocol::InspectOptions options;
  std::string err;
  if (!a.stream.ToOptions(&options, &err)) {
    std::fprintf(stderr, "extract: %s\n", err.c_str());
    return kExitUsage;
  }
  if (a.block.empty() == a.all_dir.empty() || (!a.block.empty() && a.out.empty())) {
    std::fprintf(stderr, "extract: give either --block IDSTR -o OUT, or --all DIR\n");
    return kExitUsage;
  }
  auto in = Input::Open(a.path, &err);
  if (!in) {
    std::fprintf(stderr, "extract: %s\n", err.c_str());
    return kExitUsage;
  }
  a.stream.AttachVmdesc(*in, &options);
  protocol::GuestMemory memory;
  const protocol::Inspection result = protocol::Inspect(in->Reader(), options, &memory);
  if (result.io_error) {
    std::fprintf(stderr, "extract: %s: read error\n", in->path().c_str());
    return kExitUsage;
  }
  if (!result.error.ok()) {
    // A destination QEMU would have failed the migration: there is no final memory to show.
    std::fprintf(stderr, "extract: stream rejected: %s\n", result.error.ToString().c_str());
    return kExitRejected;
  }
  if (!a.block.empty()) {
    const int64_t b = memory.Find(a.block);
    if (b < 0) {
      std::fprintf(stderr, "extract: no block '%s' in the stream (%zu blocks)\n", a.block.c_str(),
                   memory.block_count());
      return kExitUsage;
    }
    if (!WriteBlock(memory, static_cast<uint32_t>(b), a.out, &err)) {
      std::fprintf(stderr, "extract: %s\n", err.c_str());
      return kExitUsage;
    }
    return kExitOk;
  }
  ::mkdir(a.all_dir.c_str(), 0755);
  for (uint32_t b = 0; b < memory.block_count(); ++b) {
    const std::string path = a.all_dir + "/" + FileNameFor(memory.idstr(b));
    if (!WriteBlock(memory, b, path, &err)) {
      std::fprintf(stderr, "extract: %s\n", err.c_str());
      return kExitUsage;
    }
    std::printf("%-32s %14llu bytes -> %s\n", memory.idstr(b).c_str(),
                (unsigned long long)memory.used_length(b), path.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddExtractCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ExtractArgs>();
  auto* cmd = app.add_subcommand("extract", "write the final memory of RAM blocks to files");
  cmd->add_option("file", args->path, "migration file, or - for standard input")->required();
  AddStreamFlags(cmd, &args->stream);
  cmd->add_option("--block", args->block, "the block's idstr, e.g. pc.ram");
  cmd->add_option("-o,--output", args->out, "output file for --block (- for standard output)");
  cmd->add_option("--all", args->all_dir, "write every block into this directory");
  cmd->callback([=] { *exit_code = RunExtract(*args); });
}

}  // namespace ramstream::cli
