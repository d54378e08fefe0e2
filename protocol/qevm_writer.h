// Writes the QEVM envelope (spec section 2) around RAM and device payloads: file header,
// configuration, section headers and footers, commands, EOF and the vmdesc. Used by tests, the
// CLI and anything that builds a stream QEMU 7.2 can load (spec section 10, "Writer").
//
//   std::vector<std::byte> out;
//   QevmWriter w(&out);
//   w.WriteHeader();
//   w.WriteConfiguration({.machine = "pc-i440fx-7.2"});
//   w.WriteSectionStart(2, "ram", 0, 4);  // then RAM records (Encoder), then:
//   w.WriteFooter(2);
//   ...
//   w.WriteEof();
//   w.WriteVmdesc(R"({"page_size":4096,"devices":[]})");
#ifndef RAMSTREAM_PROTOCOL_QEVM_WRITER_H_
#define RAMSTREAM_PROTOCOL_QEVM_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/qevm.h"

namespace ramstream::protocol {

// Appends to a byte vector. No validation beyond REQUIRES: it writes what it is told, so
// tests can also build malformed files.
class QevmWriter {
 public:
  // REQUIRES: `out` outlives the writer.
  explicit QevmWriter(std::vector<std::byte>* out) : out_(out) {}

  // Magic and `version` (3 unless a test wants another).
  void WriteHeader(uint32_t version = kQevmVersion);
  // 0x07, be32 length, machine name, then the subsections that are set (capabilities only
  // when non-empty), in QEMU's order.
  void WriteConfiguration(const QevmConfiguration& config);
  // START / FULL: type, be32 id, counted idstr (REQUIRES: 1..255 bytes), be32 instance,
  // be32 version. PART / END: type, be32 id.
  void WriteSectionStart(uint32_t id, std::string_view idstr, uint32_t instance, uint32_t version);
  void WriteSectionFull(uint32_t id, std::string_view idstr, uint32_t instance, uint32_t version);
  void WriteSectionPart(uint32_t id);
  void WriteSectionEnd(uint32_t id);
  // 0x7e, be32 id.
  void WriteFooter(uint32_t id);
  // 0x08, be16 cmd, be16 length, payload. REQUIRES: payload.size() <= 65535.
  void WriteCommand(uint16_t cmd, std::span<const std::byte> payload = {});
  // PACKAGED: the command with a be32 length, then `inner` (records, no file header).
  void WritePackaged(std::span<const std::byte> inner);
  // POSTCOPY_ADVISE with the 16-byte RAM payload.
  void WritePostcopyAdvise(uint64_t page_size_summary, uint64_t target_page_size = 4096);
  void WriteEof();
  // 0x06, be32 length, the JSON text.
  void WriteVmdesc(std::string_view json);
  // Section payload bytes (RAM records, device state) as they are.
  void WriteRaw(std::span<const std::byte> bytes);

  uint64_t size() const { return out_->size(); }

 private:
  void U8(uint8_t v);
  void Be16(uint16_t v);
  void Be32(uint32_t v);
  void Be64(uint64_t v);
  void Str(std::string_view s);
  void SectionHeader(uint8_t type, uint32_t id, std::string_view idstr, uint32_t instance,
                     uint32_t version);

  std::vector<std::byte>* out_;
};

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_QEVM_WRITER_H_
