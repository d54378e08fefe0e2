// Streaming parser for a whole savevm / migration file ("QEVM" envelope, spec section 2):
// header, configuration, commands, sections with footers, EOF and the vmdesc. RAM sections go
// through one Decoder + Loader for the whole file, so CONTINUE state carries across sections.
// Device (FULL) sections are walked field by field when QevmOptions::vmdesc describes them (a
// seekable file's caller reads the vmdesc from the end first: vmdesc.h); otherwise they are
// skipped by footer resync, and the kDeviceSkipped event says so. Never seeks: works on a pipe
// or socket.
//
//   QevmParser p(options, &memory);
//   p.Feed(chunk, /*end_of_input=*/last);
//   QevmEvent e;
//   while (p.Next(&e) == QevmStep::kEvent) { ... views in e valid until the next call ... }
//   // kNeedInput: feed more. kEnd: complete file. kError: p.error() (sticky).
//
// The same bytes give the same events and the same error for every chunking.
//
// Errors use the codes of error.h at the offset of the record that failed; RAM records keep
// the decoder's and loader's errors unchanged. Input that ends early is kTruncated at the
// record it cut (a PACKAGED command, if the cut is inside one). Stricter than QEMU where QEMU
// only warns: bytes after EOF other than a valid vmdesc are kBadVmdesc. Footer resync is a
// heuristic: a candidate counts only when the next bytes start a plausible record (EOF then
// vmdesc or end, a START/FULL with a printable idstr, a PART/END of a known section, a known
// command, or the end of the enclosing PACKAGED payload).
#ifndef RAMSTREAM_PROTOCOL_QEVM_H_
#define RAMSTREAM_PROTOCOL_QEVM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/dialect.h"
#include "protocol/error.h"
#include "protocol/loader.h"
#include "protocol/records.h"
#include "protocol/vmdesc.h"

namespace ramstream::protocol {

// Envelope constants (QEMU_VM_*), spec section 2.1 and 2.4.
inline constexpr uint32_t kQevmMagic = 0x5145564d;  // "QEVM"
inline constexpr uint32_t kQevmVersion = 3;
inline constexpr uint32_t kQevmVersionObsolete = 2;
enum QevmType : uint8_t {
  kQevmEof = 0x00,
  kQevmSectionStart = 0x01,
  kQevmSectionPart = 0x02,
  kQevmSectionEnd = 0x03,
  kQevmSectionFull = 0x04,
  kQevmSubsection = 0x05,
  kQevmVmdescription = 0x06,
  kQevmConfiguration = 0x07,
  kQevmCommand = 0x08,
  kQevmSectionFooter = 0x7e,
};
enum QevmCommand : uint16_t {
  kCmdOpenReturnPath = 1,
  kCmdPing = 2,
  kCmdPostcopyAdvise = 3,
  kCmdPostcopyListen = 4,
  kCmdPostcopyRun = 5,
  kCmdPostcopyRamDiscard = 6,
  kCmdPackaged = 7,
  kCmdEnableColo = 8,
  kCmdPostcopyResume = 9,
  kCmdRecvBitmap = 10,
  kCmdSwitchoverStart = 11,  // 10.x only
};

// The CONFIGURATION record: machine type name plus optional subsections.
struct QevmConfiguration {
  std::string machine;
  std::optional<uint32_t> target_page_bits;
  std::vector<std::string> capabilities;  // "configuration/capabilities"; empty: not sent
  std::optional<std::array<uint8_t, 16>> uuid;

  bool operator==(const QevmConfiguration&) const = default;
};

struct QevmLimits {
  uint32_t max_machine_name = 256;
  uint32_t max_capabilities = 64;
  uint32_t max_sections = 4096;                    // distinct section ids
  uint32_t max_package_bytes = uint32_t{1} << 24;  // 16 MiB; newer QEMU takes any be32
  uint32_t max_package_depth = 4;                  // PACKAGED inside PACKAGED
  uint32_t max_vmdesc_bytes = uint32_t{64} << 20;
  uint64_t max_device_section_bytes = uint64_t{1} << 30;  // scanned for a footer
};

// Section footers are on for machine types >= 2.4 and off before. kAuto decides at the end of
// the first section and then requires the same for every later section.
enum class FooterMode : uint8_t { kAuto, kRequired, kAbsent };

struct QevmOptions {
  Dialect dialect = Dialect::Qemu72();
  FooterMode footers = FooterMode::kAuto;
  QevmLimits limits;
  DecoderLimits decoder_limits;
  // The destination's RAM blocks (LoaderOptions::layout); unset: taken from MEM_SIZE.
  std::optional<std::vector<DestinationBlock>> layout;
  // Destination blocks whose page size differs from the host's. Their MEM_SIZE entries carry
  // a page_size field, but only after a 16-byte POSTCOPY_ADVISE (spec section 3.3).
  std::vector<std::string> page_size_blocks;
  // Device sections to walk with this description instead of by footer resync. A described
  // section whose bytes disagree with it (a subsection name or version, one more subsection,
  // no footer where the walk ends) is Code::kBadVmdesc / kMissingFooter at that byte.
  std::shared_ptr<const Vmdesc> vmdesc;
};

// One section header as read, with PART/END completed from the START with the same id.
struct QevmSection {
  uint8_t type = 0;  // kQevmSectionStart .. kQevmSectionFull
  uint32_t section_id = 0;
  std::string idstr;
  uint32_t instance_id = 0;
  uint32_t version_id = 0;
  uint64_t offset = 0;     // absolute offset of the section header
  bool is_ram = false;     // "ram", instance 0: its payload went to the decoder
  bool described = false;  // a device section walked with QevmOptions::vmdesc
};

enum class QevmEventKind : uint8_t {
  kHeader,            // magic and version 3 read
  kConfiguration,     // configuration: parser.configuration()
  kCommand,           // command, payload; PACKAGED: inner events follow at depth + 1
  kPackageEnd,        // the PACKAGED payload that started at `offset` is complete
  kSectionBegin,      // section header [offset, end_offset) read: section
  kRamRecord,         // record decoded and applied to guest memory: record, section
  kDeviceSkipped,     // payload [offset, end_offset) of a non-RAM section skipped: text says how
  kDeviceField,       // a described device field [offset, end_offset): item, payload (its bytes,
                      // empty when over 64 KiB)
  kDeviceSubsection,  // a described subsection header [offset, end_offset): item
  kSectionEnd,        // section complete, footer included: [offset, end_offset)
  kEof,               // QEMU_VM_EOF
  kVmdesc,            // VMDESCRIPTION: text is the JSON, already validated
};

std::string_view QevmEventKindName(QevmEventKind kind);

// Views (section, record, payload, text) are valid until the next call to Next or Feed.
struct QevmEvent {
  QevmEventKind kind = QevmEventKind::kEof;
  uint64_t offset = 0;      // absolute offset of the item (record, header, command, payload)
  uint64_t end_offset = 0;  // one past the item
  uint32_t depth = 0;       // 0 at top level, 1 inside a PACKAGED command, ...
  const QevmSection* section = nullptr;
  const Record* record = nullptr;
  uint16_t command = 0;
  std::span<const std::byte> payload;  // command payload (PACKAGED: the be32 length only)
  const VmdescItem* item = nullptr;    // kDeviceField, kDeviceSubsection
  std::string_view text;
};

enum class QevmStep : uint8_t { kEvent, kNeedInput, kEnd, kError };

class QevmParser {
 public:
  // REQUIRES: `memory` outlives the parser; RAM sections are loaded into it.
  QevmParser(QevmOptions options, GuestMemory* memory);
  ~QevmParser();
  QevmParser(const QevmParser&) = delete;
  QevmParser& operator=(const QevmParser&) = delete;

  // Hands over the next bytes; `end_of_input` says none follow. REQUIRES: Next returned
  // kNeedInput (or nothing was fed yet). `data` must stay alive until Next returns kNeedInput.
  void Feed(std::span<const std::byte> data, bool end_of_input);

  // The next event. kEnd only at end of input after EOF and the optional vmdesc; input that
  // ends anywhere else is Code::kTruncated at the offset of the record it cut.
  QevmStep Next(QevmEvent* event);

  const Error& error() const;
  // Absolute offset of the next byte to parse.
  uint64_t position() const;
  const QevmConfiguration& configuration() const;
  // The RAM loader (stats, stream blocks); created at the first RAM section, nullptr before.
  const Loader* loader() const;
  // Whether sections carry footers: known after the first section (kAuto), else as configured.
  std::optional<bool> footers() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_QEVM_H_
