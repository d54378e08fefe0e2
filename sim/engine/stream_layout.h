// Bytes the simulated source writes around the RAM records: the file header, section headers
// and footers, EOF (docs ram-stream-format.md section 2.2). They count in the wire total and in
// QEMU's bandwidth estimate, not in 7.2's ram.transferred.
#ifndef RAMSTREAM_SIM_ENGINE_STREAM_LAYOUT_H_
#define RAMSTREAM_SIM_ENGINE_STREAM_LAYOUT_H_

#include <cstdint>
#include <string_view>

namespace ramstream::sim {

struct StreamLayout {
  uint64_t file_header = 0;    // magic, version, configuration
  uint64_t start_section = 0;  // SECTION_START of "ram": type, id, idstr, instance, version
  uint64_t part_section = 0;   // SECTION_PART: type, id
  uint64_t end_section = 0;    // SECTION_END: type, id
  uint64_t footer = 0;         // SECTION_FOOTER after each section (0: none)
  uint64_t eof = 0;            // QEMU_VM_EOF

  // 7.2: configuration with the machine name, footers on.
  static constexpr StreamLayout Qemu72(std::string_view machine_type) {
    constexpr uint64_t kRamSectionStart = 1 + 4 + 1 + 3 + 4 + 4;  // idstr "ram"
    return StreamLayout{
        4 + 4 + 1 + 4 + machine_type.size(), kRamSectionStart, 1 + 4, 1 + 4, 1 + 4, 1};
  }
  // 2010 (a55bbe31): no configuration, no footers.
  static constexpr StreamLayout Qemu2010() {
    return StreamLayout{4 + 4, 1 + 4 + 1 + 3 + 4 + 4, 1 + 4, 1 + 4, 0, 1};
  }
};

// What a QEMU version reports as RAM bytes transferred.
enum class RamAccounting {
  // 7.2 ram.transferred: page records (header, idstr, payload) plus 8 bytes for the EOS of
  // each ram_save_iterate call; not the setup and completion EOS (spec section 3.9).
  kQemu72,
  // 2010 bytes_transferred: 4096 per PAGE, 1 per ZERO (payload only).
  kPayloadOnly,
  // 10.x ram.transferred (migration_transferred_bytes): every byte written (spec section 6).
  kEveryByte,
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_ENGINE_STREAM_LAYOUT_H_
