// `ramstream inspect FILE|-`: load a stream and report sections, blocks, records, bytes, what
// CONTINUE saved, and the verdict. Exit 0 valid, 1 rejected by the loader, 2 usage or I/O.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/io.h"

namespace ramstream::cli {
namespace {

struct InspectArgs {
  std::string path;
  StreamFlags stream;
  bool json = false;
  bool devices = false;
};

// Device state as the walk saw it, for --devices: one entry per device section.
struct DeviceField {
  std::string path, type;
  uint64_t offset = 0, bytes = 0;
  uint32_t element_size = 0;
  uint32_t depth = 0;
  bool subsection = false;
  std::vector<std::byte> head;  // the first bytes, enough to show a value
};
struct DeviceDump {
  std::string idstr;
  uint32_t instance_id = 0, version_id = 0, section_id = 0;
  uint64_t offset = 0, end_offset = 0;
  std::string how;  // "vmdesc" or "resync"
  std::vector<DeviceField> fields;
};

constexpr size_t kShownBytes = 32;

class DeviceCollector {
 public:
  std::vector<DeviceDump> devices;

  void On(const protocol::QevmEvent& e) {
    using K = protocol::QevmEventKind;
    if (e.section == nullptr || e.section->is_ram) return;
    if (e.kind == K::kSectionBegin) {
      DeviceDump d;
      d.idstr = e.section->idstr;
      d.instance_id = e.section->instance_id;
      d.version_id = e.section->version_id;
      d.section_id = e.section->section_id;
      d.offset = e.offset;
      d.how = e.section->described ? "vmdesc" : "resync";
      devices.push_back(std::move(d));
    } else if (devices.empty()) {
      return;
    } else if (e.kind == K::kDeviceField || e.kind == K::kDeviceSubsection) {
      DeviceField f;
      f.path = e.item->path;
      f.type = e.item->type;
      f.offset = e.offset;
      f.bytes = e.end_offset - e.offset;
      f.element_size = e.item->element_size;
      f.depth = e.item->depth;
      f.subsection = e.kind == K::kDeviceSubsection;
      const size_t n = std::min(e.payload.size(), kShownBytes);
      f.head.assign(e.payload.begin(), e.payload.begin() + n);
      devices.back().fields.push_back(std::move(f));
    } else if (e.kind == K::kSectionEnd) {
      devices.back().end_offset = e.end_offset;
    }
  }
};

// vmstate integers are big-endian; "int*" types are signed. Other types (buffers, structs,
// timers) are shown as bytes, since their inside is not described.
bool IsInteger(const DeviceField& f) {
  const bool named = f.type.starts_with("int") || f.type.starts_with("uint") || f.type == "bool";
  const uint32_t w = f.element_size;
  return named && (w == 1 || w == 2 || w == 4 || w == 8) && f.head.size() >= w;
}

std::vector<int64_t> SignedValues(const DeviceField& f) {
  std::vector<int64_t> out;
  const uint32_t w = f.element_size;
  for (size_t at = 0; at + w <= f.head.size(); at += w) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < w; ++i) v = v << 8 | static_cast<uint8_t>(f.head[at + i]);
    if (f.type.starts_with("int") && w < 8 && (v >> (8 * w - 1)) != 0) v |= ~uint64_t{0} << 8 * w;
    out.push_back(static_cast<int64_t>(v));
  }
  return out;
}

std::string HexBytes(const DeviceField& f) {
  std::string s;
  char b[3];
  for (std::byte x : f.head) {
    std::snprintf(b, sizeof b, "%02x", static_cast<unsigned>(x));
    s += b;
  }
  if (f.bytes > f.head.size()) s += "...";
  return s;
}

// Shown value: integers as numbers (unsigned types print their bit pattern as unsigned).
std::string ValueText(const DeviceField& f) {
  if (!IsInteger(f)) return HexBytes(f);
  std::string s;
  for (int64_t v : SignedValues(f)) {
    if (!s.empty()) s += ' ';
    s += f.type.starts_with("int")
             ? std::to_string(v)
             : std::to_string(
                   static_cast<uint64_t>(v) &
                   (f.element_size == 8 ? ~uint64_t{0} : (uint64_t{1} << 8 * f.element_size) - 1));
  }
  if (f.bytes > f.head.size()) s += " ...";
  return s;
}

nlohmann::json DevicesJson(const std::vector<DeviceDump>& devices) {
  nlohmann::json out = nlohmann::json::array();
  for (const DeviceDump& d : devices) {
    nlohmann::json fields = nlohmann::json::array();
    for (const DeviceField& f : d.fields) {
      nlohmann::json j = {{"path", f.path}, {"offset", f.offset}, {"bytes", f.bytes}};
      if (f.subsection) {
        j["subsection"] = true;
      } else {
        j["type"] = f.type;
        j["value"] = ValueText(f);
      }
      fields.push_back(std::move(j));
    }
    out.push_back({{"idstr", d.idstr},
                   {"instance_id", d.instance_id},
                   {"version_id", d.version_id},
                   {"section_id", d.section_id},
                   {"offset", d.offset},
                   {"end_offset", d.end_offset},
                   {"how", d.how},
                   {"fields", std::move(fields)}});
  }
  return out;
}

void PrintDevices(const std::vector<DeviceDump>& devices) {
  for (const DeviceDump& d : devices) {
    std::printf("device    %s instance %u version %u (section %u, offset %llu, %s)\n",
                d.idstr.c_str(), d.instance_id, d.version_id, d.section_id,
                (unsigned long long)d.offset,
                d.how == "vmdesc" ? "walked with the vmdesc" : "skipped by footer resync");
    for (const DeviceField& f : d.fields) {
      const std::string indent(2 * (f.depth + 1), ' ');
      if (f.subsection) {
        std::printf("         %ssubsection %s\n", indent.c_str(), f.path.c_str());
      } else {
        std::printf("         %s%-32s %-10s %s\n", indent.c_str(), f.path.c_str(), f.type.c_str(),
                    ValueText(f).c_str());
      }
    }
  }
}

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
  a.stream.AttachVmdesc(*in, &options);
  DeviceCollector collector;
  if (a.devices) {
    options.observer = [&collector](const protocol::QevmEvent& e) { collector.On(e); };
  }
  const protocol::Inspection result = protocol::Inspect(in->Reader(), options, &memory);
  if (a.json) {
    nlohmann::json j = InspectionJson(result);
    if (a.devices) j["devices"] = DevicesJson(collector.devices);
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintHuman(result, in->path());
    if (a.devices) PrintDevices(collector.devices);
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
  cmd->add_flag("--devices", args->devices,
                "also show device sections field by field (values of fields the vmdesc "
                "describes; first bytes of others)");
  cmd->callback([=] { *exit_code = RunInspect(*args); });
}

}  // namespace ramstream::cli
