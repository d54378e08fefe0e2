#include "protocol/qevm_writer.h"

#include <cstring>

namespace ramstream::protocol {

void QevmWriter::U8(uint8_t v) { out_->push_back(std::byte{v}); }

void QevmWriter::Be16(uint16_t v) {
  U8(static_cast<uint8_t>(v >> 8));
  U8(static_cast<uint8_t>(v));
}

void QevmWriter::Be32(uint32_t v) {
  Be16(static_cast<uint16_t>(v >> 16));
  Be16(static_cast<uint16_t>(v));
}

void QevmWriter::Be64(uint64_t v) {
  Be32(static_cast<uint32_t>(v >> 32));
  Be32(static_cast<uint32_t>(v));
}

void QevmWriter::Str(std::string_view s) {
  const auto* b = reinterpret_cast<const std::byte*>(s.data());
  out_->insert(out_->end(), b, b + s.size());
}

void QevmWriter::WriteHeader(uint32_t version) {
  Be32(kQevmMagic);
  Be32(version);
}

void QevmWriter::WriteConfiguration(const QevmConfiguration& config) {
  U8(kQevmConfiguration);
  Be32(static_cast<uint32_t>(config.machine.size()));
  Str(config.machine);
  auto subsection = [this](std::string_view name) {
    U8(kQevmSubsection);
    U8(static_cast<uint8_t>(name.size()));
    Str(name);
    Be32(1);  // every configuration subsection is version 1
  };
  if (config.target_page_bits) {
    subsection("configuration/target-page-bits");
    Be32(*config.target_page_bits);
  }
  if (!config.capabilities.empty()) {
    subsection("configuration/capabilities");
    Be32(static_cast<uint32_t>(config.capabilities.size()));
    for (const std::string& cap : config.capabilities) {
      U8(static_cast<uint8_t>(cap.size()));
      Str(cap);
    }
  }
  if (config.uuid) {
    subsection("configuration/uuid");
    for (uint8_t b : *config.uuid) U8(b);
  }
}

void QevmWriter::SectionHeader(uint8_t type, uint32_t id, std::string_view idstr, uint32_t instance,
                               uint32_t version) {
  U8(type);
  Be32(id);
  U8(static_cast<uint8_t>(idstr.size()));
  Str(idstr);
  Be32(instance);
  Be32(version);
}

void QevmWriter::WriteSectionStart(uint32_t id, std::string_view idstr, uint32_t instance,
                                   uint32_t version) {
  SectionHeader(kQevmSectionStart, id, idstr, instance, version);
}

void QevmWriter::WriteSectionFull(uint32_t id, std::string_view idstr, uint32_t instance,
                                  uint32_t version) {
  SectionHeader(kQevmSectionFull, id, idstr, instance, version);
}

void QevmWriter::WriteSectionPart(uint32_t id) {
  U8(kQevmSectionPart);
  Be32(id);
}

void QevmWriter::WriteSectionEnd(uint32_t id) {
  U8(kQevmSectionEnd);
  Be32(id);
}

void QevmWriter::WriteFooter(uint32_t id) {
  U8(kQevmSectionFooter);
  Be32(id);
}

void QevmWriter::WriteCommand(uint16_t cmd, std::span<const std::byte> payload) {
  U8(kQevmCommand);
  Be16(cmd);
  Be16(static_cast<uint16_t>(payload.size()));
  WriteRaw(payload);
}

void QevmWriter::WritePackaged(std::span<const std::byte> inner) {
  U8(kQevmCommand);
  Be16(kCmdPackaged);
  Be16(4);
  Be32(static_cast<uint32_t>(inner.size()));
  WriteRaw(inner);
}

void QevmWriter::WritePostcopyAdvise(uint64_t page_size_summary, uint64_t target_page_size) {
  U8(kQevmCommand);
  Be16(kCmdPostcopyAdvise);
  Be16(16);
  Be64(page_size_summary);
  Be64(target_page_size);
}

void QevmWriter::WriteEof() { U8(kQevmEof); }

void QevmWriter::WriteVmdesc(std::string_view json) {
  U8(kQevmVmdescription);
  Be32(static_cast<uint32_t>(json.size()));
  Str(json);
}

void QevmWriter::WriteRaw(std::span<const std::byte> bytes) {
  out_->insert(out_->end(), bytes.begin(), bytes.end());
}

}  // namespace ramstream::protocol
