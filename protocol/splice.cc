#include "protocol/splice.h"

#include <algorithm>

#include "protocol/decoder.h"
#include "protocol/encoder.h"
#include "protocol/qevm.h"
#include "protocol/qevm_writer.h"

namespace ramstream::protocol {
namespace {

// The id QEMU 7.2 gives "ram" on x86 (spec section 2.2); any id works for a destination,
// which matches sections by name and instance.
constexpr uint32_t kRamSectionId = 2;

void WriteRamSections(QevmWriter& w, uint32_t id, uint32_t version, bool footers,
                      std::span<const ByteVector> payloads, bool start_part,
                      uint64_t* end_payload_end = nullptr) {
  // start_part: the START and PARTs (payloads[0 .. n-2]); else the END (payloads[n-1]).
  const size_t n = payloads.size();
  if (start_part) {
    w.WriteSectionStart(id, "ram", 0, version);
    w.WriteRaw(payloads[0]);
    if (footers) w.WriteFooter(id);
    for (size_t i = 1; i + 1 < n; ++i) {
      w.WriteSectionPart(id);
      w.WriteRaw(payloads[i]);
      if (footers) w.WriteFooter(id);
    }
  } else if (n >= 2) {
    w.WriteSectionEnd(id);
    w.WriteRaw(payloads[n - 1]);
    if (end_payload_end != nullptr) *end_payload_end = w.size();
    if (footers) w.WriteFooter(id);
  }
}

}  // namespace

std::vector<ByteVector> EncodeMemory(const GuestMemory& memory) {
  std::vector<BlockInfo> blocks;
  for (uint32_t b = 0; b < memory.block_count(); ++b) {
    blocks.push_back({memory.idstr(b), memory.used_length(b), std::nullopt, std::nullopt});
  }
  // One encoder, so CONTINUE runs on as QEMU's does; the payloads are cut at its EOS records.
  ByteVector all;
  Encoder enc({}, &all);
  enc.WriteMemSize(blocks);
  enc.WriteEos();
  const size_t start_end = all.size();
  static const std::byte kZero[kPageSize] = {};
  for (uint32_t b = 0; b < blocks.size(); ++b) {
    for (uint64_t off = 0; off + kPageSize <= blocks[b].used_length; off += kPageSize) {
      const std::byte* p = memory.FindPage(b, off);
      enc.WritePage(b, off, std::span<const std::byte>(p ? p : kZero, kPageSize));
    }
  }
  enc.WriteEos();
  const size_t part_end = all.size();
  enc.WriteEos();
  std::vector<ByteVector> payloads;
  payloads.emplace_back(all.begin(), all.begin() + start_end);
  payloads.emplace_back(all.begin() + start_end, all.begin() + part_end);
  payloads.emplace_back(all.begin() + part_end, all.end());
  return payloads;
}

std::vector<ByteVector> SplitAtEos(std::span<const std::byte> ram, const Dialect& dialect) {
  DecoderOptions o;
  o.dialect = dialect;
  Decoder d(o);
  d.Feed(ram, true);
  std::vector<ByteVector> out;
  size_t begin = 0;
  Record r;
  for (;;) {
    const Step s = d.Next(&r);
    if (s != Step::kRecord) break;
    if (r.kind == RecordKind::kEos) {
      const size_t end = static_cast<size_t>(d.position());
      out.emplace_back(ram.begin() + begin, ram.begin() + end);
      begin = end;
    }
  }
  if (begin < ram.size()) out.emplace_back(ram.begin() + begin, ram.end());
  return out;
}

Result<ByteVector> SpliceRam(std::span<const std::byte> tmpl, std::span<const ByteVector> payloads,
                             uint64_t* end_payload_end) {
  if (payloads.size() < 2) {
    return Error{Code::kBadSection, 0, "a RAM stream needs a START and an END payload"};
  }
  // Find the template's ram sections: [begin, end) of each, with the START's header fields.
  struct Range {
    uint64_t begin, end;
    uint8_t type;
  };
  std::vector<Range> ranges;
  uint32_t id = kRamSectionId, version = kRamSectionVersion;
  GuestMemory scratch;
  QevmParser p({}, &scratch);
  p.Feed(tmpl, true);
  QevmEvent e;
  QevmStep s;
  while ((s = p.Next(&e)) == QevmStep::kEvent) {
    if (e.kind != QevmEventKind::kSectionEnd || !e.section->is_ram) continue;
    ranges.push_back({e.offset, e.end_offset, e.section->type});
    if (e.section->type == kQevmSectionStart) {
      id = e.section->section_id;
      version = e.section->version_id;
    }
  }
  if (s != QevmStep::kEnd) {
    Error err = p.error();
    err.message = "template: " + err.message;
    return err;
  }
  const bool footers = p.footers().value_or(true);
  const auto count = [&](uint8_t type) {
    return std::count_if(ranges.begin(), ranges.end(),
                         [&](const Range& r) { return r.type == type; });
  };
  if (count(kQevmSectionStart) != 1 || count(kQevmSectionEnd) != 1) {
    return Error{Code::kBadSection, 0, "template needs exactly one ram START and one ram END"};
  }
  // The loop below rewrites START and END and drops PARTs; a FULL would become a second END.
  if (count(kQevmSectionFull) != 0) {
    return Error{Code::kBadSection, 0, "template has a ram FULL section"};
  }
  ByteVector out;
  QevmWriter w(&out);
  uint64_t pos = 0;
  for (const Range& r : ranges) {
    w.WriteRaw(tmpl.subspan(pos, r.begin - pos));
    if (r.type != kQevmSectionPart) {
      WriteRamSections(w, id, version, footers, payloads, r.type == kQevmSectionStart,
                       end_payload_end);
    }
    pos = r.end;
  }
  w.WriteRaw(tmpl.subspan(pos));
  return out;
}

Result<ByteVector> RamStreamOf(std::span<const std::byte> qevm) {
  GuestMemoryOptions discard;
  discard.backing = Backing::kDiscard;
  GuestMemory scratch(discard);
  QevmParser p({}, &scratch);
  p.Feed(qevm, true);
  ByteVector out;
  QevmEvent e;
  QevmStep s;
  while ((s = p.Next(&e)) == QevmStep::kEvent) {
    if (e.kind != QevmEventKind::kRamRecord) continue;
    out.insert(out.end(), qevm.begin() + static_cast<ptrdiff_t>(e.offset),
               qevm.begin() + static_cast<ptrdiff_t>(e.end_offset));
  }
  if (s != QevmStep::kEnd) return p.error();
  return out;
}

ByteVector WriteRamOnlyFile(const std::string& machine, std::span<const ByteVector> payloads) {
  ByteVector out;
  QevmWriter w(&out);
  w.WriteHeader();
  QevmConfiguration config;
  config.machine = machine;
  w.WriteConfiguration(config);
  WriteRamSections(w, kRamSectionId, kRamSectionVersion, true, payloads, true);
  WriteRamSections(w, kRamSectionId, kRamSectionVersion, true, payloads, false);
  w.WriteEof();
  return out;
}

}  // namespace ramstream::protocol
