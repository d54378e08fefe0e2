#include "protocol/records.h"

namespace ramstream::protocol {

std::string_view RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kMemSize:
      return "mem_size";
    case RecordKind::kZero:
      return "zero";
    case RecordKind::kPage:
      return "page";
    case RecordKind::kXbzrle:
      return "xbzrle";
    case RecordKind::kCompressedPage:
      return "compressed";
    case RecordKind::kEos:
      return "eos";
    case RecordKind::kMultifdFlush:
      return "multifd_flush";
    case RecordKind::kHook:
      return "hook";
    case RecordKind::kIgnored:
      return "ignored";
  }
  return "unknown";
}

OwnedRecord::OwnedRecord(const Record& r)
    : kind(r.kind),
      flags(r.flags),
      shares_header(r.shares_header),
      stream_offset(r.stream_offset),
      address(r.address),
      idstr(r.idstr),
      fill(r.fill),
      data(r.data.begin(), r.data.end()),
      blocks(r.blocks.begin(), r.blocks.end()) {}

Record OwnedRecord::View() const {
  Record r;
  r.kind = kind;
  r.flags = flags;
  r.shares_header = shares_header;
  r.stream_offset = stream_offset;
  r.address = address;
  r.idstr = idstr;
  r.fill = fill;
  r.data = data;
  r.blocks = blocks;
  return r;
}

}  // namespace ramstream::protocol
