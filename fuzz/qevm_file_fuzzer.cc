// qevm_file_fuzzer: raw bytes -> QevmParser, the whole-file parser (envelope, configuration,
// commands incl. PACKAGED and postcopy, sections and footers, device sections by footer resync
// and by vmdesc walk, EOF, vmdesc JSON), plus the splice round trip of protocol/splice.h.
//
// Input: a QEVM file followed by the trailer of fuzz/fuzz_input.h (config be16, chunk plan).
// Config bits: 0-1 dialect (1 qemu-2010, 2 qemu-10, else qemu-7.2); 2-3 footer mode (1
// required, 2 absent, else auto); 4 tight limits (every QevmLimits / VmdescLimits / decoder
// limit small, so the limit errors are reachable from small inputs); 5 "pc.ram" is a
// page-size block (its MEM_SIZE entry carries a page size after a 16-byte POSTCOPY_ADVISE). Real
// captures are kept as seeds with a 3-byte zero trailer (config 0, empty plan).
//
// Properties (each failure aborts through RAMSTREAM_FUZZ_CHECK):
//  1. Every pass: no Code::kInternal; kNeedInput only while input remains to be fed; kEnd only
//     after end of input; errors sticky; event offsets inside what was fed and never going
//     back; every event moves past the previous one except a bounded run of zero-width ones
//     (package ends, a configuration, section ends, empty skips, zero-byte described fields).
//  2. Chunked (chunk sizes from the plan) and whole-input parses give the same events, the same
//     error (code, offset, message), configuration, footer mode and RAM digest. Checked for the
//     resync pass and for the vmdesc walk pass.
//  3. Walk vs resync: the walk pass uses the file's own trailing vmdesc (FindTrailingVmdesc +
//     ParseVmdesc). Footer resync is a heuristic, so both can succeed and still disagree (device
//     bytes holding "0x7e id" followed by a plausible record). What is an invariant: when the
//     walk succeeds on a file with footers, no described payload holds a footer candidate
//     (0x7e + be32 of its own section id) before its real footer, every idstr is printable and
//     the limits are not the tight ones, then the resync pass finds exactly the walk's footers:
//     it succeeds with the same section ends, the same RAM records and the same digest. (Every
//     record a successful walk accepts after a footer is one PlausibleAfterFooter accepts,
//     given printable idstrs.)
//  4. Splice round trip (qemu-7.2, resync pass succeeded, no x-ignore-shared capability nor
//     page-size blocks after a 16-byte ADVISE, whose MEM_SIZE fields SplitAtEos cannot know):
//     RamStreamOf gives exactly the bytes of the RAM record events; SplitAtEos cuts it into
//     payloads that concatenate back to it, one per RAM section; WriteRamOnlyFile of those payloads
//     and SpliceRam into the file itself both re-parse to the same RAM digest; when the file's RAM
//     sections are START, PARTs, END in a row at top level, SpliceRam gives back the file byte for
//     byte. The memory the file left, re-sent with EncodeMemory (page-aligned blocks, at most 16
//     MiB), loads the same too.
//
// Run by hand from the source root, after `cmake --preset fuzz && cmake --build --preset fuzz`:
//   mkdir -p /tmp/qevm_file_fuzzer
//   build/fuzz/fuzz/qevm_file_fuzzer -dict=fuzz/dicts/qevm_file_fuzzer.dict
//       -max_total_time=60 /tmp/qevm_file_fuzzer corpus/qevm_file_fuzzer
// (one command line), or `scripts/fuzz qevm_file_fuzzer 60`. Replay files or directories, one
// process per file, every failure reported:
//   build/fuzz/fuzz/qevm_file_fuzzer_replay corpus/qevm_file_fuzzer crash-<sha1>
// In a build without libFuzzer (g++, -DRAMSTREAM_BUILD_FUZZERS=ON) the target itself is that
// replay program: build/<dir>/fuzz/qevm_file_fuzzer corpus/qevm_file_fuzzer
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "fuzz/oracles.h"
#include "protocol/dialect.h"
#include "protocol/error.h"
#include "protocol/guest_memory.h"
#include "protocol/inspect.h"
#include "protocol/internal/endian.h"
#include "protocol/qevm.h"
#include "protocol/qevm_writer.h"
#include "protocol/records.h"
#include "protocol/splice.h"
#include "protocol/vmdesc.h"
#include "protocol/wire_format.h"

namespace {

using namespace ramstream;

// RAMSTREAM_FUZZ_VERBOSE=1 prints, per input, how each pass ended and which properties ran, so
// a replay of the corpus shows what the seeds reach.
bool Verbose() {
  static const bool verbose = std::getenv("RAMSTREAM_FUZZ_VERBOSE") != nullptr;
  return verbose;
}

const char* Verdict(protocol::QevmStep s, const protocol::Error& e) {
  return s == protocol::QevmStep::kEnd ? "ok" : protocol::CodeName(e.code).data();
}
using protocol::QevmEventKind;
using protocol::QevmStep;
using Bytes = std::vector<std::byte>;

struct FileConfig {
  protocol::QevmOptions options;
  protocol::VmdescLimits vmdesc_limits;
  bool tight = false;
};

FileConfig ConfigFor(uint16_t bits) {
  FileConfig c;
  switch (bits & 3) {
    case 1:
      c.options.dialect = protocol::Dialect::Qemu2010();
      break;
    case 2:
      c.options.dialect = protocol::Dialect::Qemu10();
      break;
    default:
      c.options.dialect = protocol::Dialect::Qemu72();
      break;
  }
  switch ((bits >> 2) & 3) {
    case 1:
      c.options.footers = protocol::FooterMode::kRequired;
      break;
    case 2:
      c.options.footers = protocol::FooterMode::kAbsent;
      break;
    default:
      c.options.footers = protocol::FooterMode::kAuto;
      break;
  }
  c.options.decoder_limits = fuzz::FuzzLimits();
  // Above any input libFuzzer makes (max_len in the options file), so these never decide a
  // verdict unless the tight set is chosen: the walk-vs-resync invariant relies on that.
  c.options.limits.max_package_bytes = 1u << 20;
  c.options.limits.max_vmdesc_bytes = 1u << 20;
  c.options.limits.max_device_section_bytes = uint64_t{1} << 20;
  if ((bits & 0x20) != 0) c.options.page_size_blocks = {"pc.ram"};
  c.tight = (bits & 0x10) != 0;
  if (c.tight) {
    protocol::QevmLimits& l = c.options.limits;
    l.max_machine_name = 16;
    l.max_capabilities = 2;
    l.max_sections = 3;
    l.max_package_bytes = 256;
    l.max_package_depth = 1;
    l.max_vmdesc_bytes = 512;
    l.max_device_section_bytes = 64;
    c.options.decoder_limits.max_ram_blocks = 2;
    c.options.decoder_limits.max_block_bytes = uint64_t{1} << 20;
    c.options.decoder_limits.max_total_bytes = uint64_t{2} << 20;
    c.vmdesc_limits.max_depth = 2;
    c.vmdesc_limits.max_items = 16;
    c.vmdesc_limits.max_device_bytes = 4096;
  }
  return c;
}

// An event with its views copied out.
struct EventCopy {
  QevmEventKind kind = QevmEventKind::kEof;
  uint64_t offset = 0, end = 0;
  uint32_t depth = 0;
  uint16_t command = 0;
  uint8_t section_type = 0;
  uint32_t section_id = 0;
  std::string idstr;
  uint32_t instance = 0, version = 0;
  bool is_ram = false, described = false;
  std::string item;
  Bytes payload;
  std::string text;

  bool operator==(const EventCopy&) const = default;
};

struct Pass {
  std::vector<EventCopy> events;
  QevmStep end = QevmStep::kError;
  protocol::Error error;
  std::string digest;
  std::optional<bool> footers;
  protocol::QevmConfiguration configuration;
  std::unique_ptr<protocol::GuestMemory> memory;  // what the RAM sections loaded
};

bool SameError(const protocol::Error& a, const protocol::Error& b) {
  return a.code == b.code && a.offset == b.offset && a.message == b.message;
}

bool ZeroWidthAllowed(const EventCopy& e) {
  switch (e.kind) {
    case QevmEventKind::kPackageEnd:     // several nested packages end at one byte
    case QevmEventKind::kConfiguration:  // reported once its last subsection is read
    case QevmEventKind::kSectionEnd:     // without footers: right after the last record
    case QevmEventKind::kDeviceSkipped:  // a footer right after the header
    case QevmEventKind::kRamRecord:      // qemu-2010 records sharing one header
      return true;
    default:
      return false;
  }
}

// One parse of `file` fed in chunks from `plan`, with property 1 checked along the way.
Pass Parse(std::span<const std::byte> file, const protocol::QevmOptions& options,
           fuzz::ChunkPlan plan, const char* what) {
  plan.Reset();
  protocol::GuestMemoryOptions mo;
  mo.max_resident_bytes = fuzz::kFuzzResidentLimit;
  auto memory = std::make_unique<protocol::GuestMemory>(mo);
  protocol::QevmParser parser(options, memory.get());
  Pass out;
  size_t fed = 0;
  uint64_t high = 0;  // end of the furthest event so far
  uint32_t stalled = 0;
  const uint32_t max_stall = options.limits.max_package_depth + 4;
  // Each chunk is its own allocation, released once the parser asks for more, so ASan sees
  // any view the parser keeps into an earlier chunk.
  std::unique_ptr<std::byte[]> chunk;
  for (;;) {
    const size_t n = fed < file.size() ? plan.Next(file.size() - fed) : 0;
    chunk = std::make_unique<std::byte[]>(std::max<size_t>(n, 1));
    if (n > 0) std::memcpy(chunk.get(), file.data() + fed, n);
    fed += n;
    const bool eoi = fed == file.size();
    parser.Feed(std::span<const std::byte>(chunk.get(), n), eoi);
    protocol::QevmEvent e;
    QevmStep s;
    while ((s = parser.Next(&e)) == QevmStep::kEvent) {
      EventCopy c;
      c.kind = e.kind;
      c.offset = e.offset;
      c.end = e.end_offset;
      c.depth = e.depth;
      c.command = e.command;
      if (e.section != nullptr) {
        c.section_type = e.section->type;
        c.section_id = e.section->section_id;
        c.idstr = e.section->idstr;
        c.is_ram = e.section->is_ram;
        c.described = e.section->described;
        c.instance = e.section->instance_id;
        c.version = e.section->version_id;
      }
      // The names the CLI prints: every kind the parser emits has one.
      RAMSTREAM_FUZZ_CHECK(
          protocol::QevmEventKindName(c.kind) != "unknown" &&
              (e.record == nullptr || protocol::RecordKindName(e.record->kind) != "unknown"),
          "%s: an event or record kind without a name", what);
      if (e.item != nullptr) c.item = e.item->path;
      c.payload.assign(e.payload.begin(), e.payload.end());
      c.text.assign(e.text);
      RAMSTREAM_FUZZ_CHECK(
          c.offset <= c.end && c.end <= fed, "%s: event %s [%llu, %llu) outside the %zu bytes fed",
          what, std::string(protocol::QevmEventKindName(c.kind)).c_str(),
          static_cast<unsigned long long>(c.offset), static_cast<unsigned long long>(c.end), fed);
      RAMSTREAM_FUZZ_CHECK(parser.position() <= fed, "%s: position %llu past the %zu bytes fed",
                           what, static_cast<unsigned long long>(parser.position()), fed);
      if (c.end > high) {
        high = c.end;
        stalled = 0;
      } else if (c.kind == QevmEventKind::kDeviceField && c.offset == c.end) {
        // A zero-byte field of the vmdesc: bounded by its item count, not by input.
      } else {
        RAMSTREAM_FUZZ_CHECK(ZeroWidthAllowed(c) && ++stalled <= max_stall,
                             "%s: no progress: event %s at %llu after %u stalled events", what,
                             std::string(protocol::QevmEventKindName(c.kind)).c_str(),
                             static_cast<unsigned long long>(c.offset), stalled);
      }
      out.events.push_back(std::move(c));
    }
    if (s == QevmStep::kNeedInput) {
      RAMSTREAM_FUZZ_CHECK(!eoi, "%s: kNeedInput after end of input (position %llu of %zu)", what,
                           static_cast<unsigned long long>(parser.position()), file.size());
      continue;
    }
    out.end = s;
    if (s == QevmStep::kEnd) {
      RAMSTREAM_FUZZ_CHECK(eoi && parser.position() == file.size(),
                           "%s: kEnd at %llu with %zu of %zu bytes fed", what,
                           static_cast<unsigned long long>(parser.position()), fed, file.size());
      RAMSTREAM_FUZZ_CHECK(parser.Next(&e) == QevmStep::kEnd, "%s: kEnd not sticky", what);
    } else {
      out.error = parser.error();
      RAMSTREAM_FUZZ_CHECK(
          !out.error.ok() && out.error.code != protocol::Code::kInternal,
          "%s: error %s at %llu: %s", what, std::string(protocol::CodeName(out.error.code)).c_str(),
          static_cast<unsigned long long>(out.error.offset), out.error.message.c_str());
      RAMSTREAM_FUZZ_CHECK(out.error.offset <= file.size(),
                           "%s: error offset %llu past the %zu-byte input", what,
                           static_cast<unsigned long long>(out.error.offset), file.size());
      RAMSTREAM_FUZZ_CHECK(
          parser.Next(&e) == QevmStep::kError && SameError(parser.error(), out.error),
          "%s: error not sticky", what);
      // Manifests and JSON output name codes; the name must map back to the code.
      RAMSTREAM_FUZZ_CHECK(
          protocol::CodeFromName(protocol::CodeName(out.error.code)) == out.error.code &&
              out.error.ToString().starts_with(protocol::CodeName(out.error.code)),
          "%s: code %d does not round-trip through its name", what,
          static_cast<int>(out.error.code));
    }
    break;
  }
  out.digest = memory->Digest();
  out.footers = parser.footers();
  out.configuration = parser.configuration();
  out.memory = std::move(memory);
  return out;
}

void ExpectSamePass(const Pass& a, const Pass& b, const char* what) {
  const size_t n = std::min(a.events.size(), b.events.size());
  for (size_t i = 0; i < n; ++i) {
    RAMSTREAM_FUZZ_CHECK(a.events[i] == b.events[i],
                         "%s: event %zu differs: %s [%llu, %llu) vs %s [%llu, %llu)", what, i,
                         std::string(protocol::QevmEventKindName(a.events[i].kind)).c_str(),
                         static_cast<unsigned long long>(a.events[i].offset),
                         static_cast<unsigned long long>(a.events[i].end),
                         std::string(protocol::QevmEventKindName(b.events[i].kind)).c_str(),
                         static_cast<unsigned long long>(b.events[i].offset),
                         static_cast<unsigned long long>(b.events[i].end));
  }
  RAMSTREAM_FUZZ_CHECK(a.events.size() == b.events.size(), "%s: %zu vs %zu events", what,
                       a.events.size(), b.events.size());
  RAMSTREAM_FUZZ_CHECK(a.end == b.end && SameError(a.error, b.error),
                       "%s: ends differ: %s at %llu (%s) vs %s at %llu (%s)", what,
                       std::string(protocol::CodeName(a.error.code)).c_str(),
                       static_cast<unsigned long long>(a.error.offset), a.error.message.c_str(),
                       std::string(protocol::CodeName(b.error.code)).c_str(),
                       static_cast<unsigned long long>(b.error.offset), b.error.message.c_str());
  RAMSTREAM_FUZZ_CHECK(
      a.digest == b.digest && a.footers == b.footers && a.configuration == b.configuration,
      "%s: digest %s vs %s, or footer mode or configuration differ", what, a.digest.c_str(),
      b.digest.c_str());
}

// Whole and chunked parses of one configuration; returns the whole one.
Pass ParseBoth(std::span<const std::byte> file, const protocol::QevmOptions& options,
               std::span<const std::byte> plan_bytes, const char* what) {
  Pass whole = Parse(file, options, fuzz::ChunkPlan::Whole(), what);
  const Pass chunked = Parse(file, options, fuzz::ChunkPlan(plan_bytes), what);
  ExpectSamePass(whole, chunked, what);
  return whole;
}

struct Span {
  uint64_t begin, end;
  bool operator==(const Span&) const = default;
};

std::vector<Span> Collect(const Pass& p, QevmEventKind kind) {
  std::vector<Span> out;
  for (const EventCopy& e : p.events) {
    if (e.kind == kind) out.push_back({e.offset, e.end});
  }
  return out;
}

bool Printable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return static_cast<unsigned char>(ch) >= 0x20 && static_cast<unsigned char>(ch) < 0x7f;
  });
}

// Property 3's precondition on a successful walk pass (see the file comment).
bool ResyncMustAgree(std::span<const std::byte> file, const Pass& walk) {
  if (walk.footers != true) return false;
  uint64_t payload_begin = 0;
  const EventCopy* open = nullptr;
  for (const EventCopy& e : walk.events) {
    if (e.kind == QevmEventKind::kSectionBegin) {
      if ((e.section_type == protocol::kQevmSectionStart ||
           e.section_type == protocol::kQevmSectionFull) &&
          !Printable(e.idstr)) {
        return false;
      }
      open = e.described ? &e : nullptr;
      payload_begin = e.end;
    } else if (e.kind == QevmEventKind::kSectionEnd && open != nullptr) {
      const uint64_t footer = e.end - 5;
      for (uint64_t p = payload_begin; p < footer; ++p) {
        if (static_cast<uint8_t>(file[p]) == protocol::kQevmSectionFooter && p + 5 <= file.size() &&
            protocol::internal::LoadBe32(file.data() + p + 1) == open->section_id) {
          return false;
        }
      }
      open = nullptr;
    }
  }
  return true;
}

Bytes RamBytes(std::span<const std::byte> file, const Pass& p) {
  Bytes out;
  for (const EventCopy& e : p.events) {
    if (e.kind == QevmEventKind::kRamRecord) {
      out.insert(out.end(), file.begin() + static_cast<ptrdiff_t>(e.offset),
                 file.begin() + static_cast<ptrdiff_t>(e.end));
    }
  }
  return out;
}

// Property 5: the file written again with QevmWriter from the events (sections' payloads
// copied) is the file itself. The parser accepts configuration subsections in any order and
// more than once, while the writer writes each once in QEMU's order: where the two differ the
// configuration bytes are the input's.
Bytes Rewrite(std::span<const std::byte> file, const Pass& pass) {
  std::vector<Bytes> stack(1);  // the innermost PACKAGED payload being written is back()
  uint64_t payload_begin = 0;
  for (const EventCopy& e : pass.events) {
    protocol::QevmWriter w(&stack.back());
    switch (e.kind) {
      case QevmEventKind::kHeader:
        w.WriteHeader();
        break;
      case QevmEventKind::kConfiguration: {
        Bytes config;
        protocol::QevmWriter(&config).WriteConfiguration(pass.configuration);
        const auto original = file.subspan(e.offset, e.end - e.offset);
        if (std::equal(original.begin(), original.end(), config.begin(), config.end())) {
          w.WriteRaw(config);
        } else {
          w.WriteRaw(original);
        }
        break;
      }
      case QevmEventKind::kCommand:
        if (e.command == protocol::kCmdPackaged) {
          stack.emplace_back();
        } else if (e.command == protocol::kCmdPostcopyAdvise && e.payload.size() == 16) {
          w.WritePostcopyAdvise(protocol::internal::LoadBe64(e.payload.data()),
                                protocol::internal::LoadBe64(e.payload.data() + 8));
        } else {
          w.WriteCommand(e.command, e.payload);
        }
        break;
      case QevmEventKind::kPackageEnd: {
        const Bytes inner = std::move(stack.back());
        stack.pop_back();
        protocol::QevmWriter(&stack.back()).WritePackaged(inner);
        break;
      }
      case QevmEventKind::kSectionBegin:
        switch (e.section_type) {
          case protocol::kQevmSectionStart:
            w.WriteSectionStart(e.section_id, e.idstr, e.instance, e.version);
            break;
          case protocol::kQevmSectionFull:
            w.WriteSectionFull(e.section_id, e.idstr, e.instance, e.version);
            break;
          case protocol::kQevmSectionPart:
            w.WriteSectionPart(e.section_id);
            break;
          default:
            w.WriteSectionEnd(e.section_id);
            break;
        }
        payload_begin = e.end;
        break;
      case QevmEventKind::kSectionEnd: {
        const uint64_t footer = pass.footers == true ? 5 : 0;
        w.WriteRaw(file.subspan(payload_begin, e.end - footer - payload_begin));
        if (footer != 0) w.WriteFooter(e.section_id);
        break;
      }
      case QevmEventKind::kEof:
        w.WriteEof();
        break;
      case QevmEventKind::kVmdesc:
        w.WriteVmdesc(e.text);
        break;
      default:  // RAM records and device items: inside the section payload
        break;
    }
  }
  RAMSTREAM_FUZZ_CHECK(stack.size() == 1, "a PACKAGED command without its end event");
  return std::move(stack.front());
}

// Property 6: Inspect, the CLI's one-pass reader over the same parser, agrees with the events.
// It always detects footers and has no page-size blocks, so only such configurations compare.
void CheckInspect(std::span<const std::byte> file, const FileConfig& config, const Pass& pass,
                  std::shared_ptr<const protocol::Vmdesc> vmdesc) {
  protocol::InspectOptions io;
  io.dialect = config.options.dialect;
  io.qevm_limits = config.options.limits;
  io.decoder_limits = config.options.decoder_limits;
  io.vmdesc = std::move(vmdesc);
  const bool magic =
      file.size() >= 4 && protocol::internal::LoadBe32(file.data()) == protocol::kQevmMagic;
  io.format = magic ? protocol::StreamFormat::kAuto : protocol::StreamFormat::kQevm;
  protocol::GuestMemoryOptions mo;
  mo.max_resident_bytes = fuzz::kFuzzResidentLimit;
  protocol::GuestMemory memory(mo);
  const protocol::Inspection in = protocol::InspectBytes(file, io, &memory);
  RAMSTREAM_FUZZ_CHECK(
      in.format == protocol::StreamFormat::kQevm && protocol::StreamFormatName(in.format) == "qevm",
      "Inspect did not read a QEVM file as one");
  RAMSTREAM_FUZZ_CHECK(SameError(in.error, pass.error) && memory.Digest() == pass.digest,
                       "Inspect: %s vs %s, digest %s vs %s", in.error.ToString().c_str(),
                       pass.error.ToString().c_str(), memory.Digest().c_str(), pass.digest.c_str());
  protocol::SectionCounts want;
  bool vmdesc_seen = false;
  std::string machine;
  for (const EventCopy& e : pass.events) {
    switch (e.kind) {
      case QevmEventKind::kSectionBegin:
        want.start += e.section_type == protocol::kQevmSectionStart;
        want.part += e.section_type == protocol::kQevmSectionPart;
        want.end += e.section_type == protocol::kQevmSectionEnd;
        want.full += e.section_type == protocol::kQevmSectionFull;
        break;
      case QevmEventKind::kDeviceSkipped:
        ++want.devices_skipped;
        want.device_bytes += e.end - e.offset;
        break;
      case QevmEventKind::kSectionEnd:
        want.devices_walked += e.described;
        break;
      case QevmEventKind::kConfiguration:
        machine = pass.configuration.machine;
        break;
      case QevmEventKind::kVmdesc:
        vmdesc_seen = true;
        break;
      default:
        break;
    }
  }
  const protocol::SectionCounts& got = in.sections;
  RAMSTREAM_FUZZ_CHECK(got.start == want.start && got.part == want.part && got.end == want.end &&
                           got.full == want.full && got.devices_skipped == want.devices_skipped &&
                           got.device_bytes == want.device_bytes &&
                           got.devices_walked == want.devices_walked &&
                           in.has_vmdesc == vmdesc_seen && in.machine == machine,
                       "Inspect's section counts, vmdesc or machine differ from the events");
}

// Property 4 on a file the resync pass loaded under qemu-7.2.
void CheckSplice(std::span<const std::byte> file, const Pass& pass,
                 const protocol::QevmOptions& options) {
  // SplitAtEos decodes with the dialect alone, so MEM_SIZE must not carry the fields that
  // depend on state outside the RAM stream (addr, page_size).
  const auto& caps = pass.configuration.capabilities;
  if (std::find(caps.begin(), caps.end(), "x-ignore-shared") != caps.end()) return;
  if (!options.page_size_blocks.empty()) {
    for (const EventCopy& e : pass.events) {
      if (e.kind == QevmEventKind::kCommand && e.command == protocol::kCmdPostcopyAdvise &&
          e.payload.size() == 16) {
        return;
      }
    }
  }

  protocol::Result<Bytes> ram = protocol::RamStreamOf(file);
  RAMSTREAM_FUZZ_CHECK(ram.ok(), "RamStreamOf fails on a file that loads: %s",
                       ram.ok() ? "" : ram.error().message.c_str());
  RAMSTREAM_FUZZ_CHECK(ram.value() == RamBytes(file, pass),
                       "RamStreamOf differs from the RAM record bytes");

  // The RAM sections as the parse saw them, in order.
  std::vector<const EventCopy*> ram_sections;
  for (const EventCopy& e : pass.events) {
    if (e.kind == QevmEventKind::kSectionEnd && e.is_ram) ram_sections.push_back(&e);
  }
  const std::vector<Bytes> payloads =
      protocol::SplitAtEos(ram.value(), protocol::Dialect::Qemu72());
  Bytes joined;
  for (const Bytes& b : payloads) joined.insert(joined.end(), b.begin(), b.end());
  RAMSTREAM_FUZZ_CHECK(joined == ram.value(), "SplitAtEos payloads do not add up to the stream");
  // The parser ends a RAM section at its first EOS, so the cuts are the sections.
  RAMSTREAM_FUZZ_CHECK(payloads.size() == ram_sections.size(),
                       "SplitAtEos: %zu payloads for %zu ram sections", payloads.size(),
                       ram_sections.size());
  if (payloads.size() < 2) {
    // Both writers want a START and an END payload; SpliceRam says so.
    const protocol::Result<Bytes> r = protocol::SpliceRam(file, payloads);
    RAMSTREAM_FUZZ_CHECK(
        !r.ok() && r.error().code == protocol::Code::kBadSection && r.error().offset == 0,
        "SpliceRam with %zu payloads", payloads.size());
    return;
  }
  // The files written here always carry footers.
  protocol::QevmOptions reparse = options;
  reparse.footers = protocol::FooterMode::kAuto;

  // The memory the file left, sent again as QEMU 7.2 sends a paused guest, loads the same.
  // Bounded: EncodeMemory writes a record for every page of every block. Page-aligned blocks
  // only: a MEM_SIZE length has no room for the low bits (QEMU's blocks are host-page aligned,
  // the decoder accepts others).
  const protocol::GuestMemory& memory = *pass.memory;
  uint64_t block_bytes = 0;
  bool aligned = true;
  for (uint32_t b = 0; b < memory.block_count(); ++b) {
    block_bytes += memory.used_length(b);
    aligned = aligned && memory.used_length(b) % protocol::kPageSize == 0;
  }
  if (aligned && block_bytes <= (uint64_t{16} << 20)) {
    const Pass sent = Parse(
        protocol::WriteRamOnlyFile(pass.configuration.machine, protocol::EncodeMemory(memory)),
        reparse, fuzz::ChunkPlan::Whole(), "EncodeMemory file");
    RAMSTREAM_FUZZ_CHECK(sent.end == QevmStep::kEnd && sent.digest == pass.digest,
                         "EncodeMemory: %s at %llu (%s), digest %s vs %s",
                         std::string(protocol::CodeName(sent.error.code)).c_str(),
                         static_cast<unsigned long long>(sent.error.offset),
                         sent.error.message.c_str(), sent.digest.c_str(), pass.digest.c_str());
  }

  const Bytes ram_only = protocol::WriteRamOnlyFile(pass.configuration.machine, payloads);
  const Pass only = Parse(ram_only, reparse, fuzz::ChunkPlan::Whole(), "ram-only file");
  RAMSTREAM_FUZZ_CHECK(only.end == QevmStep::kEnd && only.digest == pass.digest,
                       "WriteRamOnlyFile: %s at %llu (%s), digest %s vs %s",
                       std::string(protocol::CodeName(only.error.code)).c_str(),
                       static_cast<unsigned long long>(only.error.offset),
                       only.error.message.c_str(), only.digest.c_str(), pass.digest.c_str());

  // SpliceRam's contract: a template with one ram START, one END and no FULL (else it fails
  // with kBadSection), its ram sections at top level (a section inside PACKAGED cannot change
  // size without its package length).
  size_t starts = 0, ends = 0;
  bool top_level = true, no_full = true;
  for (const EventCopy* e : ram_sections) {
    starts += e->section_type == protocol::kQevmSectionStart;
    ends += e->section_type == protocol::kQevmSectionEnd;
    no_full = no_full && e->section_type != protocol::kQevmSectionFull;
    top_level = top_level && e->depth == 0;
  }
  if (!top_level) return;
  uint64_t end_payload_end = 0;
  protocol::Result<Bytes> spliced = protocol::SpliceRam(file, payloads, &end_payload_end);
  if (starts != 1 || ends != 1 || !no_full) {
    RAMSTREAM_FUZZ_CHECK(!spliced.ok() && spliced.error().code == protocol::Code::kBadSection,
                         "SpliceRam accepts a template with %zu ram STARTs, %zu ENDs and %s FULL",
                         starts, ends, no_full ? "no" : "a");
    return;
  }
  RAMSTREAM_FUZZ_CHECK(spliced.ok(), "SpliceRam fails on a template that loads: %s",
                       spliced.ok() ? "" : spliced.error().message.c_str());
  const Pass again = Parse(spliced.value(), reparse, fuzz::ChunkPlan::Whole(), "spliced file");
  RAMSTREAM_FUZZ_CHECK(again.end == QevmStep::kEnd && again.digest == pass.digest,
                       "SpliceRam: %s at %llu (%s), digest %s vs %s",
                       std::string(protocol::CodeName(again.error.code)).c_str(),
                       static_cast<unsigned long long>(again.error.offset),
                       again.error.message.c_str(), again.digest.c_str(), pass.digest.c_str());
  // START, PARTs and END back to back: the splice writes the very same bytes.
  bool contiguous = ram_sections.front()->section_type == protocol::kQevmSectionStart &&
                    ram_sections.back()->section_type == protocol::kQevmSectionEnd;
  for (size_t i = 1; contiguous && i < ram_sections.size(); ++i) {
    contiguous = ram_sections[i]->offset == ram_sections[i - 1]->end;
  }
  if (Verbose()) std::fprintf(stderr, "  splice: round trip%s\n", contiguous ? ", byte-exact" : "");
  if (contiguous) {
    RAMSTREAM_FUZZ_CHECK(spliced.value().size() == file.size() &&
                             std::equal(file.begin(), file.end(), spliced.value().begin()),
                         "SpliceRam of the file's own RAM changes the file");
    const uint64_t expected = ram_sections.back()->end - (pass.footers == true ? 5 : 0);
    RAMSTREAM_FUZZ_CHECK(end_payload_end == expected, "end_payload_end %llu, expected %llu",
                         static_cast<unsigned long long>(end_payload_end),
                         static_cast<unsigned long long>(expected));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fuzz::FuzzInput in = fuzz::SplitInput(std::as_bytes(std::span<const uint8_t>(data, size)));
  const FileConfig config = ConfigFor(in.config);

  // Property 1 and 2, footer resync.
  const Pass resync = ParseBoth(in.stream, config.options, in.plan, "resync pass");
  if (Verbose()) {
    std::fprintf(stderr, "config 0x%x: resync %s at %llu (%zu events)\n", in.config,
                 Verdict(resync.end, resync.error),
                 static_cast<unsigned long long>(resync.error.offset), resync.events.size());
  }

  // Property 1 and 2 again with the file's own vmdesc, then property 3.
  if (std::optional<std::string_view> json = protocol::FindTrailingVmdesc(in.stream)) {
    protocol::Result<protocol::Vmdesc> desc =
        protocol::ParseVmdesc(*json, in.stream.size() - json->size() - 5, config.vmdesc_limits);
    if (!desc.ok() && Verbose()) {
      std::fprintf(stderr, "  vmdesc: %s\n", desc.error().message.c_str());
    }
    if (desc.ok()) {
      protocol::QevmOptions options = config.options;
      options.vmdesc = std::make_shared<const protocol::Vmdesc>(std::move(desc.value()));
      const Pass walk = ParseBoth(in.stream, options, in.plan, "walk pass");
      if (config.options.footers == protocol::FooterMode::kAuto &&
          config.options.page_size_blocks.empty()) {
        CheckInspect(in.stream, config, walk, options.vmdesc);
      }
      if (walk.end == QevmStep::kEnd) {
        RAMSTREAM_FUZZ_CHECK(Rewrite(in.stream, walk) == Bytes(in.stream.begin(), in.stream.end()),
                             "QevmWriter does not write the file back as it was (walk pass)");
      }
      const bool agree =
          walk.end == QevmStep::kEnd && !config.tight && ResyncMustAgree(in.stream, walk);
      if (Verbose()) {
        std::fprintf(stderr, "  walk %s at %llu%s\n", Verdict(walk.end, walk.error),
                     static_cast<unsigned long long>(walk.error.offset),
                     agree ? ", resync must agree" : "");
      }
      if (agree) {
        RAMSTREAM_FUZZ_CHECK(resync.end == QevmStep::kEnd,
                             "the walk loads the file but footer resync fails: %s at %llu: %s",
                             std::string(protocol::CodeName(resync.error.code)).c_str(),
                             static_cast<unsigned long long>(resync.error.offset),
                             resync.error.message.c_str());
        RAMSTREAM_FUZZ_CHECK(
            Collect(walk, QevmEventKind::kSectionEnd) ==
                    Collect(resync, QevmEventKind::kSectionEnd) &&
                Collect(walk, QevmEventKind::kRamRecord) ==
                    Collect(resync, QevmEventKind::kRamRecord) &&
                walk.digest == resync.digest,
            "walk and resync end sections or load RAM differently (digest %s vs %s)",
            walk.digest.c_str(), resync.digest.c_str());
      }
    }
  }

  // Property 4, and on files that do not load, the failure RamStreamOf and SpliceRam report
  // (theirs is the file's error when the parse they run is this one: qemu-7.2, footers
  // detected, default limits; limit errors aside, since the limits here are smaller).
  const bool default_like = config.options.dialect.id == protocol::DialectId::kQemu72 &&
                            config.options.footers == protocol::FooterMode::kAuto &&
                            !config.tight && config.options.page_size_blocks.empty();
  if (resync.end == QevmStep::kEnd && config.options.dialect.id == protocol::DialectId::kQemu72) {
    CheckSplice(in.stream, resync, config.options);
  } else if (resync.end == QevmStep::kError && default_like &&
             resync.error.code != protocol::Code::kLimitExceeded && in.stream.size() <= 65536) {
    const protocol::Result<Bytes> ram = protocol::RamStreamOf(in.stream);
    RAMSTREAM_FUZZ_CHECK(
        !ram.ok() && SameError(ram.error(), resync.error), "RamStreamOf: %s, the file: %s",
        ram.ok() ? "ok" : ram.error().ToString().c_str(), resync.error.ToString().c_str());
    const std::vector<Bytes> two(2, Bytes());
    const protocol::Result<Bytes> spliced = protocol::SpliceRam(in.stream, two);
    RAMSTREAM_FUZZ_CHECK(!spliced.ok() && spliced.error().code == resync.error.code &&
                             spliced.error().offset == resync.error.offset &&
                             spliced.error().message == "template: " + resync.error.message,
                         "SpliceRam on a template that fails: %s",
                         spliced.ok() ? "ok" : spliced.error().ToString().c_str());
  }

  // Property 5.
  if (resync.end == QevmStep::kEnd) {
    RAMSTREAM_FUZZ_CHECK(Rewrite(in.stream, resync) == Bytes(in.stream.begin(), in.stream.end()),
                         "QevmWriter does not write the file back as it was");
  }

  // Property 6.
  if (config.options.footers == protocol::FooterMode::kAuto &&
      config.options.page_size_blocks.empty()) {
    CheckInspect(in.stream, config, resync, nullptr);
  }
  return 0;
}
