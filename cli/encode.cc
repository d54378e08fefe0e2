// `ramstream encode`: build a RAM stream or a whole QEVM file from block images, or splice a
// new RAM section into a real QEMU file (--template) so a destination QEMU loads it with the
// template's configuration and device state.
#include <cstdio>
#include <cstring>
#include <memory>

#include "cli/commands.h"
#include "cli/io.h"
#include "protocol/internal/zero.h"
#include "protocol/splice.h"

namespace ramstream::cli {
namespace {

using protocol::kPageSize;

struct EncodeArgs {
  std::vector<std::string> blocks;  // NAME=FILE
  std::string out;
  std::string tmpl;
  std::string format = "qevm";
  std::string machine = "pc-i440fx-7.2";
};

// Copies `image` into block `b` page by page: non-zero pages are written, zero pages cleared
// where the memory held data.
void Fill(protocol::GuestMemory& mem, uint32_t b, const std::vector<std::byte>& image) {
  for (uint64_t off = 0; off + kPageSize <= mem.used_length(b); off += kPageSize) {
    std::byte page[kPageSize] = {};
    if (off < image.size()) {
      std::memcpy(page, image.data() + off, std::min<uint64_t>(kPageSize, image.size() - off));
    }
    if (protocol::internal::IsZero(page, kPageSize)) {
      if (mem.FindPage(b, off) != nullptr) std::memset(mem.PageForWrite(b, off), 0, kPageSize);
    } else {
      std::memcpy(mem.PageForWrite(b, off), page, kPageSize);
    }
  }
}

int Fail(const std::string& msg) {
  std::fprintf(stderr, "encode: %s\n", msg.c_str());
  return kExitUsage;
}

int RunEncode(const EncodeArgs& a) {
  if (a.format != "qevm" && a.format != "ram") return Fail("--format is qevm or ram");
  if (!a.tmpl.empty() && a.format != "qevm") return Fail("--template writes a qevm file");
  std::string err;
  protocol::GuestMemoryOptions mo;
  mo.max_resident_bytes = UINT64_MAX;  // the user's own images: no fuzzing limit here
  protocol::GuestMemory memory(mo);
  std::vector<std::byte> tmpl;
  if (!a.tmpl.empty()) {
    if (!ReadFile(a.tmpl, &tmpl, &err)) return Fail(err);
    // The template's own RAM is the starting point: blocks not given keep its contents.
    const protocol::Inspection in = protocol::InspectBytes(tmpl, {}, &memory);
    if (!in.error.ok()) return Fail(a.tmpl + ": not a loadable QEMU file: " + in.error.ToString());
  }
  for (const std::string& spec : a.blocks) {
    const size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) return Fail("--block takes NAME=FILE, got " + spec);
    const std::string name = spec.substr(0, eq);
    std::vector<std::byte> image;
    if (!ReadFile(spec.substr(eq + 1), &image, &err)) return Fail(err);
    int64_t b = memory.Find(name);
    if (!a.tmpl.empty()) {
      if (b < 0) return Fail("the template has no block '" + name + "'");
      if (image.size() > memory.used_length(static_cast<uint32_t>(b))) {
        return Fail("image for '" + name + "' is " + std::to_string(image.size()) +
                    " bytes, the block " + std::to_string(memory.used_length(b)));
      }
    } else {
      if (b >= 0) return Fail("block '" + name + "' given twice");
      const uint64_t len = (image.size() + kPageSize - 1) / kPageSize * kPageSize;
      b = memory.AddBlock(name, len).value();
    }
    Fill(memory, static_cast<uint32_t>(b), image);
  }
  if (memory.block_count() == 0) return Fail("no blocks: give --block NAME=FILE or --template");
  const std::vector<protocol::ByteVector> payloads = protocol::EncodeMemory(memory);
  std::vector<std::byte> out;
  if (!a.tmpl.empty()) {
    protocol::Result<protocol::ByteVector> spliced = protocol::SpliceRam(tmpl, payloads);
    if (!spliced.ok()) return Fail(spliced.error().ToString());
    out = std::move(spliced.value());
  } else if (a.format == "qevm") {
    out = protocol::WriteRamOnlyFile(a.machine, payloads);
  } else {
    for (const auto& p : payloads) out.insert(out.end(), p.begin(), p.end());
  }
  if (!WriteFile(a.out, out, &err)) return Fail(err);
  return kExitOk;
}

}  // namespace

void AddEncodeCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<EncodeArgs>();
  auto* cmd = app.add_subcommand("encode", "build a RAM stream or QEVM file from block images");
  cmd->add_option("--block", args->blocks, "NAME=FILE: a block's contents (repeatable)");
  cmd->add_option("-o,--output", args->out, "output file (- for standard output)")->required();
  cmd->add_option("--template", args->tmpl,
                  "a real QEMU migration file: keep its configuration and device sections, "
                  "replace its RAM")
      ->check(CLI::ExistingFile);
  cmd->add_option("--format", args->format, "qevm (a whole file) or ram (bare RAM section stream)")
      ->capture_default_str();
  cmd->add_option("--machine", args->machine, "machine type written without --template")
      ->capture_default_str();
  cmd->callback([=] { *exit_code = RunEncode(*args); });
}

}  // namespace ramstream::cli
