// Dialects: which QEMU loader ramstream mimics. A dialect is data (a rules struct) that the
// decoder and loader consult; there is one decoder and one loader. See
// docs/ram-stream-format.md sections 3.7, 3.8 and 10.
#ifndef RAMSTREAM_PROTOCOL_DIALECT_H_
#define RAMSTREAM_PROTOCOL_DIALECT_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace ramstream::protocol {

enum class DialectId : uint8_t { kQemu2010, kQemu72, kQemu10 };

enum class HookPolicy : uint8_t {
  kReject,  // 7.2: any unmatched combination with bit 0x80 goes to the RDMA hook: -EINVAL
  kAccept,  // 10.x: exactly 0x80 is accepted silently without RDMA
};

struct Dialect {
  DialectId id = DialectId::kQemu72;
  // 7.2/10: after masking CONTINUE the flags must equal one known value. 2010: every bit is
  // handled on its own (MEM_SIZE, then ZERO else PAGE, then EOS); unknown bits are ignored.
  bool exact_flags = true;
  bool xbzrle = true;          // XBZRLE (0x40) is a known record
  bool compress_page = true;   // COMPRESS_PAGE (0x100) is a known record
  bool multifd_flush = false;  // MULTIFD_FLUSH (0x200) is a known record
  HookPolicy hook = HookPolicy::kReject;
  bool zero_fill_must_be_zero = false;  // 8.2+: "Found a zero page with value %d"
  // Section versions accepted: 2010 took 3 and 4, later loaders 4 only.
  uint32_t min_version = 4;
  uint32_t max_version = 4;
  // a55bbe31: a MEM_SIZE entry naming a block the destination lacks creates the block.
  bool mem_size_creates_blocks = false;

  static Dialect Qemu2010();
  static Dialect Qemu72();
  static Dialect Qemu10();
  static Dialect ForId(DialectId id);
};

// "qemu-2010", "qemu-7.2", "qemu-10".
std::string_view DialectName(DialectId id);
std::optional<DialectId> DialectFromName(std::string_view name);

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_DIALECT_H_
