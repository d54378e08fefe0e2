#include "protocol/inspect.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include "protocol/encoder.h"

namespace ramstream::protocol {
namespace {

constexpr size_t kChunk = size_t{1} << 20;

// Accumulates per-record figures the loader's counters do not hold.
struct RecordTally {
  uint64_t page_bytes = 0;  // page records as written
  uint64_t eos = 0;
  uint64_t part_eos = 0;

  void Add(const Record& r, bool in_ram_part) {
    if (r.is_page()) {
      page_bytes += RecordSize(r);
    } else if (r.kind == RecordKind::kEos) {
      ++eos;
      if (in_ram_part) ++part_eos;
    }
  }
};

void Finish(const RecordTally& t, bool have_sections, Inspection* out) {
  const uint64_t counted_eos = have_sections ? t.part_eos : (t.eos >= 2 ? t.eos - 2 : 0);
  out->ram_transferred = t.page_bytes + 8 * counted_eos;
  out->page_record_bytes = t.page_bytes + out->stats.continue_saved_bytes;
}

// A bare RAM stream: the Loader's own Feed loop, with a tally of the records.
void InspectRam(const ReadFn& read, const InspectOptions& o, GuestMemory* memory,
                std::vector<std::byte>& buf, Inspection* out) {
  LoaderOptions lo;
  lo.decoder.dialect = o.dialect;
  lo.decoder.limits = o.decoder_limits;
  lo.layout = o.layout;
  Loader loader(lo, memory);
  RecordTally tally;
  Decoder& d = loader.decoder();
  bool done = false;
  while (!done && loader.error().ok()) {
    const ptrdiff_t n = read(buf);
    if (n < 0) {
      out->io_error = true;
      break;
    }
    out->bytes_read += static_cast<uint64_t>(n);
    d.Feed(std::span<const std::byte>(buf.data(), static_cast<size_t>(n)), n == 0);
    Record r;
    for (;;) {
      const Step s = d.Next(&r);
      if (s == Step::kRecord) {
        if (!loader.Apply(r).ok()) break;
        tally.Add(r, false);
        continue;
      }
      if (s == Step::kEnd) done = true;
      if (s == Step::kError) out->error = d.error();
      break;
    }
    if (n == 0) break;
  }
  if (out->error.ok()) out->error = loader.error();
  out->stats = loader.stats();
  out->blocks = loader.stream_blocks();
  Finish(tally, false, out);
}

void InspectQevm(const ReadFn& read, const InspectOptions& o, GuestMemory* memory,
                 std::vector<std::byte>& buf, Inspection* out) {
  QevmOptions qo;
  qo.dialect = o.dialect;
  qo.limits = o.qevm_limits;
  qo.decoder_limits = o.decoder_limits;
  qo.layout = o.layout;
  qo.vmdesc = o.vmdesc;
  QevmParser p(qo, memory);
  RecordTally tally;
  bool in_ram_part = false;
  for (bool more = true; more;) {
    const ptrdiff_t n = read(buf);
    if (n < 0) {
      out->io_error = true;
      break;
    }
    out->bytes_read += static_cast<uint64_t>(n);
    p.Feed(std::span<const std::byte>(buf.data(), static_cast<size_t>(n)), n == 0);
    QevmEvent e;
    for (;;) {
      const QevmStep s = p.Next(&e);
      if (s == QevmStep::kNeedInput) break;
      if (s != QevmStep::kEvent) {
        more = false;
        break;
      }
      if (o.observer) o.observer(e);
      switch (e.kind) {
        case QevmEventKind::kConfiguration:
          out->machine = p.configuration().machine;
          break;
        case QevmEventKind::kSectionBegin:
          switch (e.section->type) {
            case kQevmSectionStart:
              ++out->sections.start;
              break;
            case kQevmSectionPart:
              ++out->sections.part;
              if (e.section->is_ram) ++out->sections.ram_parts;
              break;
            case kQevmSectionEnd:
              ++out->sections.end;
              break;
            default:
              ++out->sections.full;
          }
          in_ram_part = e.section->is_ram && e.section->type == kQevmSectionPart;
          break;
        case QevmEventKind::kRamRecord:
          tally.Add(*e.record, in_ram_part);
          break;
        case QevmEventKind::kDeviceSkipped:
          ++out->sections.devices_skipped;
          out->sections.device_bytes += e.end_offset - e.offset;
          break;
        case QevmEventKind::kDeviceField:
        case QevmEventKind::kDeviceSubsection:
          out->sections.walked_bytes += e.end_offset - e.offset;
          break;
        case QevmEventKind::kSectionEnd:
          if (e.section->described) ++out->sections.devices_walked;
          break;
        case QevmEventKind::kVmdesc:
          out->has_vmdesc = true;
          break;
        default:
          break;
      }
    }
    if (n == 0) break;
  }
  out->error = p.error();
  if (const Loader* l = p.loader()) {
    out->stats = l->stats();
    out->blocks = l->stream_blocks();
  }
  if (out->sections.devices_walked > 0) {
    out->notes.push_back(std::to_string(out->sections.devices_walked) + " device sections (" +
                         std::to_string(out->sections.walked_bytes) +
                         " bytes) walked field by field with the vmdesc");
  }
  if (out->sections.devices_skipped > 0) {
    out->notes.push_back(std::to_string(out->sections.devices_skipped) + " device sections (" +
                         std::to_string(out->sections.device_bytes) +
                         " bytes) skipped by footer resync, not decoded");
  }
  Finish(tally, true, out);
}

}  // namespace

std::string_view StreamFormatName(StreamFormat format) {
  switch (format) {
    case StreamFormat::kAuto:
      return "auto";
    case StreamFormat::kQevm:
      return "qevm";
    case StreamFormat::kRam:
      return "ram";
  }
  return "unknown";
}

Inspection Inspect(const ReadFn& read, const InspectOptions& options, GuestMemory* memory) {
  Inspection out;
  std::vector<std::byte> buf(kChunk);
  // Read the first chunk to detect the format; it is then fed as the first input.
  size_t have = 0;
  while (have < 4) {
    const ptrdiff_t n = read(std::span<std::byte>(buf.data() + have, buf.size() - have));
    if (n < 0) {
      out.io_error = true;
      return out;
    }
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  out.format = options.format;
  if (out.format == StreamFormat::kAuto) {
    static constexpr unsigned char kMagic[4] = {'Q', 'E', 'V', 'M'};
    out.format = have >= 4 && std::memcmp(buf.data(), kMagic, 4) == 0 ? StreamFormat::kQevm
                                                                      : StreamFormat::kRam;
  }
  // The parsers read into `buf`; their first read gets the bytes already there (none for an
  // empty input, which they report as truncated).
  ReadFn resume = [&read, pending = have](std::span<std::byte> dst) mutable -> ptrdiff_t {
    if (pending == SIZE_MAX) return read(dst);
    const size_t n = pending;
    pending = SIZE_MAX;
    return static_cast<ptrdiff_t>(n);
  };
  if (out.format == StreamFormat::kQevm) {
    InspectQevm(resume, options, memory, buf, &out);
  } else {
    InspectRam(resume, options, memory, buf, &out);
  }
  return out;
}

Inspection InspectBytes(std::span<const std::byte> bytes, const InspectOptions& options,
                        GuestMemory* memory) {
  size_t pos = 0;
  return Inspect(
      [&](std::span<std::byte> out) -> ptrdiff_t {
        const size_t n = std::min(out.size(), bytes.size() - pos);
        if (n > 0) std::memcpy(out.data(), bytes.data() + pos, n);  // empty spans may be null
        pos += n;
        return static_cast<ptrdiff_t>(n);
      },
      options, memory);
}

}  // namespace ramstream::protocol
