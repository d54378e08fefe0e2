#include "protocol/dialect.h"

namespace ramstream::protocol {

Dialect Dialect::Qemu2010() {
  Dialect d;
  d.id = DialectId::kQemu2010;
  d.exact_flags = false;
  d.xbzrle = false;  // 0x40 did not exist: ignored like any unknown bit
  d.compress_page = false;
  d.multifd_flush = false;
  d.zero_fill_must_be_zero = false;
  d.min_version = 3;
  d.max_version = 4;
  d.mem_size_creates_blocks = true;
  return d;
}

Dialect Dialect::Qemu72() { return Dialect{}; }

Dialect Dialect::Qemu10() {
  Dialect d;
  d.id = DialectId::kQemu10;
  d.compress_page = false;  // removed in 9.1: 0x100 is an unknown combination
  d.multifd_flush = true;
  d.hook = HookPolicy::kAccept;
  d.zero_fill_must_be_zero = true;
  return d;
}

Dialect Dialect::ForId(DialectId id) {
  switch (id) {
    case DialectId::kQemu2010:
      return Qemu2010();
    case DialectId::kQemu72:
      return Qemu72();
    case DialectId::kQemu10:
      return Qemu10();
  }
  return Qemu72();
}

std::string_view DialectName(DialectId id) {
  switch (id) {
    case DialectId::kQemu2010:
      return "qemu-2010";
    case DialectId::kQemu72:
      return "qemu-7.2";
    case DialectId::kQemu10:
      return "qemu-10";
  }
  return "unknown";
}

std::optional<DialectId> DialectFromName(std::string_view name) {
  for (DialectId id : {DialectId::kQemu2010, DialectId::kQemu72, DialectId::kQemu10}) {
    if (DialectName(id) == name) return id;
  }
  return std::nullopt;
}

}  // namespace ramstream::protocol
