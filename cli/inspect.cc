// `ramstream inspect FILE|-`: load a stream and report sections, blocks, records, bytes, what
// CONTINUE saved, and the verdict. Exit 0 valid, 1 rejected by the loader, 2 usage or I/O.
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/io.h"

namespace ramstream::cli {
namespace {

struct InspectArgs {
  std::string path;
  StreamFlags stream;
  bool json = false;
};

void PrintHuman(const protocol::Inspection& in, const std::string& path) {
  using protocol::RecordKind;
  const protocol::LoadStats& s = in.stats;
  std::printf("file      %s (%s, %llu bytes)", path.c_str(),
              std::string(protocol::StreamFormatName(in.format)).c_str(),
              static_cast<unsigned long long>(in.bytes_read));
  if (!in.machine.empty()) std::printf(", machine %s", in.machine.c_str());
  std::printf("\n");
  if (in.format == protocol::StreamFormat::kQevm) {
    const protocol::SectionCounts& c = in.sections;
    std::printf("sections  %llu START, %llu PART (%llu ram), %llu END, %llu FULL%s\n",
                (unsigned long long)c.start, (unsigned long long)c.part,
                (unsigned long long)c.ram_parts, (unsigned long long)c.end,
                (unsigned long long)c.full, in.has_vmdesc ? ", vmdesc" : "");
  }
  for (size_t i = 0; i < in.blocks.size(); ++i) {
    std::printf("%s %-32s %14llu bytes\n", i == 0 ? "blocks   " : "         ",
                in.blocks[i].idstr.c_str(), (unsigned long long)in.blocks[i].used_length);
  }
  std::printf(
      "records   %llu PAGE, %llu ZERO, %llu XBZRLE, %llu COMPRESS_PAGE, %llu EOS, %llu "
      "MEM_SIZE\n",
      (unsigned long long)s.count(RecordKind::kPage),
      (unsigned long long)s.count(RecordKind::kZero),
      (unsigned long long)s.count(RecordKind::kXbzrle),
      (unsigned long long)s.count(RecordKind::kCompressedPage),
      (unsigned long long)s.count(RecordKind::kEos),
      (unsigned long long)s.count(RecordKind::kMemSize));
  std::printf("          %llu page records with CONTINUE, %llu naming their block\n",
              (unsigned long long)s.continue_records, (unsigned long long)s.named_records);
  const double pct =
      in.page_record_bytes ? 100.0 * s.continue_saved_bytes / in.page_record_bytes : 0.0;
  std::printf(
      "bytes     ram.transferred %llu; CONTINUE saved %llu bytes (%.1f%% of the page "
      "records' %llu bytes with an idstr on each)\n",
      (unsigned long long)in.ram_transferred, (unsigned long long)s.continue_saved_bytes, pct,
      (unsigned long long)in.page_record_bytes);
  for (const std::string& n : in.notes) std::printf("note      %s\n", n.c_str());
  if (in.io_error) {
    std::printf("verdict   I/O error while reading\n");
  } else if (in.error.ok()) {
    std::printf("verdict   valid\n");
  } else {
    std::printf("verdict   REJECTED: %s\n", in.error.ToString().c_str());
  }
}

int RunInspect(const InspectArgs& a) {
  protocol::InspectOptions options;
  std::string err;
  if (!a.stream.ToOptions(&options, &err)) {
    std::fprintf(stderr, "inspect: %s\n", err.c_str());
    return kExitUsage;
  }
  auto in = Input::Open(a.path, &err);
  if (!in) {
    std::fprintf(stderr, "inspect: %s\n", err.c_str());
    return kExitUsage;
  }
  // Verdicts and counts do not depend on page contents: keep none.
  protocol::GuestMemoryOptions mo;
  mo.backing = protocol::Backing::kDiscard;
  protocol::GuestMemory memory(mo);
  const protocol::Inspection result = protocol::Inspect(in->Reader(), options, &memory);
  if (a.json) {
    std::printf("%s\n", InspectionJson(result).dump(2).c_str());
  } else {
    PrintHuman(result, in->path());
  }
  if (result.io_error) return kExitUsage;
  return result.error.ok() ? kExitOk : kExitRejected;
}

}  // namespace

void AddInspectCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<InspectArgs>();
  auto* cmd = app.add_subcommand("inspect",
                                 "load a stream and report what it holds and whether "
                                 "it is valid");
  cmd->add_option("file", args->path, "migration file, or - for standard input")->required();
  AddStreamFlags(cmd, &args->stream);
  cmd->add_flag("--json", args->json, "one JSON object instead of the table");
  cmd->callback([=] { *exit_code = RunInspect(*args); });
}

}  // namespace ramstream::cli
