#include "fuzz/dialect_config.h"

#include "protocol/dialect.h"
#include "protocol/wire_format.h"

namespace ramstream::fuzz {

std::vector<protocol::DestinationBlock> FuzzLayout() {
  return {
      {"pc.ram", 0x40000, 0},
      {"pc.bios", 0x10000, 0x40000},
      {"/rom@etc/acpi/tables", 0x8000, 0x20000},
      {"0000:00:02.0/vga.vram", 0x4000, 0},
  };
}

LoadConfig DialectConfig(uint16_t bits) {
  LoadConfig c;
  protocol::DecoderOptions& d = c.options.decoder;
  switch (bits & 3) {
    case 0:
      d.dialect = protocol::Dialect::Qemu72();
      break;
    case 1:
      d.dialect = protocol::Dialect::Qemu10();
      break;
    default:
      d.dialect = protocol::Dialect::Qemu2010();
      break;
  }
  if ((bits & 4) && d.dialect.id == protocol::DialectId::kQemu2010) {
    d.section_version = protocol::kRamSectionVersionLegacy;
  }
  d.mem_size_has_addr = (bits & 8) != 0;
  if (bits & 16) d.page_size_blocks = {"pc.ram"};
  switch ((bits >> 5) & 3) {
    case 1:
      c.options.layout = FuzzLayout();
      break;
    case 2:
      for (const protocol::DestinationBlock& b : FuzzLayout()) {
        c.preset_blocks.emplace_back(b.idstr, b.used_length);
      }
      break;
    default:
      break;
  }
  if (bits & 128) d.start_offset = 0x1a2b3c;
  d.limits = FuzzLimits();
  return c;
}

}  // namespace ramstream::fuzz
