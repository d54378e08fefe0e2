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

}  // namespace ramstream::protocol
