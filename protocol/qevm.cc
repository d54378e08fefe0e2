#include "protocol/qevm.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "protocol/internal/endian.h"
#include "protocol/internal/text.h"
#include "protocol/wire_format.h"

namespace ramstream::protocol {
namespace {

using internal::Hex;
using internal::Quoted;

using internal::LoadBe16;
using internal::LoadBe32;
using internal::LoadBe64;

constexpr uint64_t kNoLimit = ~uint64_t{0};

std::string_view AsString(const std::byte* p, size_t n) {
  return std::string_view(reinterpret_cast<const char*>(p), n);
}

// Highest command number the dialect's loader knows (0: the 2010 envelope has no commands).
uint16_t MaxCommand(DialectId id) {
  switch (id) {
    case DialectId::kQemu2010:
      return 0;
    case DialectId::kQemu72:
      return kCmdRecvBitmap;
    case DialectId::kQemu10:
      return kCmdSwitchoverStart;
  }
  return 0;
}

constexpr const char* kCommandNames[] = {
    "INVALID",      "OPEN_RETURN_PATH",     "PING",     "POSTCOPY_ADVISE", "POSTCOPY_LISTEN",
    "POSTCOPY_RUN", "POSTCOPY_RAM_DISCARD", "PACKAGED", "ENABLE_COLO",     "POSTCOPY_RESUME",
    "RECV_BITMAP",  "SWITCHOVER_START"};

// Payload length each command must have; -1: variable, checked by the command itself. QEMU's
// loader compares these before it reads any payload.
constexpr int kCommandLength[] = {-1, 0, 4, -1, 0, 0, -1, 4, 0, 0, -1, 0};

std::string CommandName(uint16_t cmd) {
  if (cmd < std::size(kCommandNames)) return kCommandNames[cmd];
  return "command " + std::to_string(cmd);
}

// The postcopy handshake a destination walks through (QEMU's PostcopyState).
enum PostcopyState : uint8_t { kPcNone, kPcAdvise, kPcDiscard, kPcListening, kPcRunning };

}  // namespace

std::string_view QevmEventKindName(QevmEventKind kind) {
  switch (kind) {
    case QevmEventKind::kHeader:
      return "header";
    case QevmEventKind::kConfiguration:
      return "configuration";
    case QevmEventKind::kCommand:
      return "command";
    case QevmEventKind::kPackageEnd:
      return "package_end";
    case QevmEventKind::kSectionBegin:
      return "section_begin";
    case QevmEventKind::kRamRecord:
      return "ram_record";
    case QevmEventKind::kDeviceSkipped:
      return "device_skipped";
    case QevmEventKind::kDeviceField:
      return "device_field";
    case QevmEventKind::kDeviceSubsection:
      return "device_subsection";
    case QevmEventKind::kSectionEnd:
      return "section_end";
    case QevmEventKind::kEof:
      return "eof";
    case QevmEventKind::kVmdesc:
      return "vmdesc";
  }
  return "unknown";
}

class QevmParser::Impl {
 public:
  Impl(QevmOptions options, GuestMemory* memory) : options_(std::move(options)), memory_(memory) {
    if (options_.footers == FooterMode::kRequired) footers_ = true;
    if (options_.footers == FooterMode::kAbsent) footers_ = false;
  }

  void Feed(std::span<const std::byte> data, bool end_of_input);
  QevmStep Next(QevmEvent* e);

  Error error_;
  QevmConfiguration config_;
  std::optional<bool> footers_;
  std::unique_ptr<Loader> loader_;
  uint64_t position_ = 0;

 private:
  enum class Stage : uint8_t {
    kMagic,
    kAfterHeader,
    kConfigName,
    kConfigNext,
    kSubsection,
    kSubsectionBody,
    kCapability,
    kRecordType,
    kSectionHeader,
    kRam,
    kAfterPayload,
    kFooter,
    kDeviceScan,
    kDeviceWalk,
    kCommand,
    kAfterEof,
    kVmdescHeader,
    kVmdescBody,
    kAfterVmdesc,
    kDone,
    kFailed,
  };
  enum class Avail : uint8_t { kOk, kNeedInput, kEndOfInput, kPastLimit };
  enum class Subsection : uint8_t { kTargetPageBits, kCapabilities, kUuid };
  struct Package {
    uint64_t command_offset;
    uint64_t end;
  };
  // nullopt: keep going; otherwise what Next returns.
  using StepResult = std::optional<QevmStep>;

  // Input. The logical stream at position_ is pending_[ppos_..] followed by chunk_[cpos_..];
  // pending_ holds only what a field that straddled two Feeds needed:
  //
  //   pending_: [consumed | ppos_ ... end)   chunk_: [consumed | cpos_ ... end)
  //                         \__ position_
  Avail Ensure(size_t n, const std::byte** p);
  std::span<const std::byte> Contiguous();
  void Consume(size_t n);
  uint64_t limit() const { return packages_.empty() ? kNoLimit : packages_.back().end; }

  QevmStep Fail(Code code, uint64_t offset, std::string message);
  QevmStep Fail(Error error);
  QevmStep Short(Avail a, uint64_t offset, std::string_view what);
  QevmStep Emit(QevmEvent* e, QevmEventKind kind, uint64_t offset, uint64_t end);

  StepResult StepMagic(QevmEvent* e);
  StepResult StepAfterHeader();
  StepResult StepConfigName();
  StepResult StepConfigNext(QevmEvent* e);
  StepResult StepSubsection();
  StepResult StepSubsectionBody();
  StepResult StepCapability();
  StepResult StepRecordType(QevmEvent* e);
  StepResult StepSectionHeader(QevmEvent* e);
  StepResult StepRam(QevmEvent* e);
  StepResult StepAfterPayload(QevmEvent* e);
  StepResult StepFooter(QevmEvent* e);
  StepResult StepDeviceScan(QevmEvent* e);
  StepResult StepDeviceWalk(QevmEvent* e);
  Avail PlausibleAfterFooter(bool* yes);
  StepResult StepCommand(QevmEvent* e);
  StepResult CheckCommand(uint16_t cmd, std::span<const std::byte> payload);
  StepResult StepAfterEof();
  StepResult StepVmdescHeader();
  StepResult StepVmdescBody(QevmEvent* e);
  StepResult StepAfterVmdesc();
  StepResult BeginRamSection();
  const VmdescDevice* Described() const {
    if (options_.vmdesc == nullptr || section_.type != kQevmSectionFull) return nullptr;
    return options_.vmdesc->Find(section_.idstr, section_.instance_id);
  }

  QevmOptions options_;
  GuestMemory* memory_;
  Stage stage_ = Stage::kMagic;

  std::span<const std::byte> chunk_;
  size_t cpos_ = 0;
  bool end_of_input_ = false;
  std::vector<std::byte> pending_;
  size_t ppos_ = 0;

  std::map<uint32_t, QevmSection> sections_;
  QevmSection section_;                 // the section being parsed
  uint64_t item_offset_ = 0;            // start of the record being parsed
  uint64_t scan_start_ = 0;             // first payload byte of the device section being skipped
  const VmdescDevice* walk_ = nullptr;  // the description of the section being walked
  size_t walk_index_ = 0;               // its next item
  uint64_t walk_left_ = 0;              // bytes still to pass of a field too big to view
  Subsection subsection_ = Subsection::kTargetPageBits;
  uint32_t left_ = 0;  // capabilities or vmdesc bytes still to read
  std::vector<Package> packages_;
  bool package_eof_ = false;  // EOF read inside the innermost package
  bool advise_ram_ = false;   // a 16-byte POSTCOPY_ADVISE was received
  PostcopyState postcopy_ = kPcNone;

  uint32_t ram_version_ = 0;
  bool decoder_fed_ = false;
  bool decoder_at_limit_ = false;  // the fed span ends at the enclosing package's end
  size_t decoder_span_ = 0;
  Record record_;
  std::string text_;
};

// ---- Input -------------------------------------------------------------------------------

QevmParser::Impl::Avail QevmParser::Impl::Ensure(size_t n, const std::byte** p) {
  // A field that crosses the end of a PACKAGED payload is an error however the bytes arrive,
  // so this is decided before looking at what is buffered.
  if (limit() - position_ < n) return Avail::kPastLimit;
  if (ppos_ == pending_.size()) {
    pending_.clear();
    ppos_ = 0;
  }
  const size_t have = pending_.size() - ppos_;
  const size_t chunk_left = chunk_.size() - cpos_;
  if (have == 0) {
    if (chunk_left >= n) {
      *p = chunk_.data() + cpos_;
      return Avail::kOk;
    }
    if (end_of_input_) return Avail::kEndOfInput;
    // Keep the partial field: the caller may release this chunk once we ask for more.
    pending_.assign(chunk_.begin() + cpos_, chunk_.end());
    cpos_ = chunk_.size();
    return Avail::kNeedInput;
  }
  if (have < n) {
    if (ppos_ > 0) {
      pending_.erase(pending_.begin(), pending_.begin() + ppos_);
      ppos_ = 0;
    }
    const size_t take = std::min(n - have, chunk_left);
    pending_.insert(pending_.end(), chunk_.begin() + cpos_, chunk_.begin() + cpos_ + take);
    cpos_ += take;
    if (pending_.size() < n) return end_of_input_ ? Avail::kEndOfInput : Avail::kNeedInput;
  }
  *p = pending_.data() + ppos_;
  return Avail::kOk;
}

// The longest run of bytes available without copying, bounded by the package end.
std::span<const std::byte> QevmParser::Impl::Contiguous() {
  if (ppos_ == pending_.size()) {
    pending_.clear();
    ppos_ = 0;
  }
  std::span<const std::byte> s = pending_.size() > ppos_
                                     ? std::span<const std::byte>(pending_).subspan(ppos_)
                                     : chunk_.subspan(cpos_);
  const uint64_t room = limit() - position_;
  if (s.size() > room) s = s.first(room);
  return s;
}

// Pending bytes are dropped lazily (in Ensure/Contiguous), so views handed out by the step that
// consumed them stay valid until the next call.
void QevmParser::Impl::Consume(size_t n) {
  const size_t from_pending = std::min(n, pending_.size() - ppos_);
  ppos_ += from_pending;
  cpos_ += n - from_pending;
  position_ += n;
}

// ---- Errors and events -------------------------------------------------------------------

QevmStep QevmParser::Impl::Fail(Code code, uint64_t offset, std::string message) {
  return Fail(Error{code, offset, std::move(message)});
}

QevmStep QevmParser::Impl::Fail(Error error) {
  if (stage_ != Stage::kFailed) {
    error_ = std::move(error);
    stage_ = Stage::kFailed;
  }
  return QevmStep::kError;
}

QevmStep QevmParser::Impl::Short(Avail a, uint64_t offset, std::string_view what) {
  if (a == Avail::kPastLimit) {
    return Fail(Code::kBadCommand, offset,
                std::string(what) + " at offset " + std::to_string(offset) +
                    " runs past the end of its PACKAGED payload (offset " +
                    std::to_string(limit()) + ")");
  }
  // The writer died or the file was cut: report the record that is incomplete, like the
  // RAM decoder does.
  return Fail(Code::kTruncated, offset,
              "input ends at offset " + std::to_string(position_ + Contiguous().size()) +
                  " inside the " + std::string(what) + " at offset " + std::to_string(offset));
}

QevmStep QevmParser::Impl::Emit(QevmEvent* e, QevmEventKind kind, uint64_t offset, uint64_t end) {
  *e = QevmEvent{};
  e->kind = kind;
  e->offset = offset;
  e->end_offset = end;
  e->depth = static_cast<uint32_t>(packages_.size());
  switch (kind) {
    case QevmEventKind::kRamRecord:
      e->record = &record_;
      [[fallthrough]];
    case QevmEventKind::kSectionBegin:
    case QevmEventKind::kSectionEnd:
      e->section = &section_;
      break;
    case QevmEventKind::kDeviceField:
    case QevmEventKind::kDeviceSubsection:
      e->section = &section_;
      e->item = &walk_->items[walk_index_];
      break;
    case QevmEventKind::kDeviceSkipped:
    case QevmEventKind::kVmdesc:
      e->section = kind == QevmEventKind::kDeviceSkipped ? &section_ : nullptr;
      e->text = text_;
      break;
    default:
      break;
  }
  return QevmStep::kEvent;
}

// ---- Driver ------------------------------------------------------------------------------

void QevmParser::Impl::Feed(std::span<const std::byte> data, bool end_of_input) {
  if (stage_ == Stage::kFailed) return;  // sticky: the input is not even looked at
  if (cpos_ < chunk_.size() || decoder_fed_ || (end_of_input_ && !data.empty())) {
    Fail(Code::kInternal, position_,
         end_of_input_ ? "Feed after end_of_input"
                       : "Feed before the previous input was drained (Next must return "
                         "kNeedInput first)");
    return;
  }
  chunk_ = data;
  cpos_ = 0;
  end_of_input_ = end_of_input;
}

QevmStep QevmParser::Impl::Next(QevmEvent* e) {
  for (;;) {
    StepResult r;
    switch (stage_) {
      case Stage::kFailed:
        return QevmStep::kError;
      case Stage::kDone:
        return QevmStep::kEnd;
      case Stage::kMagic:
        r = StepMagic(e);
        break;
      case Stage::kAfterHeader:
        r = StepAfterHeader();
        break;
      case Stage::kConfigName:
        r = StepConfigName();
        break;
      case Stage::kConfigNext:
        r = StepConfigNext(e);
        break;
      case Stage::kSubsection:
        r = StepSubsection();
        break;
      case Stage::kSubsectionBody:
        r = StepSubsectionBody();
        break;
      case Stage::kCapability:
        r = StepCapability();
        break;
      case Stage::kRecordType:
        r = StepRecordType(e);
        break;
      case Stage::kSectionHeader:
        r = StepSectionHeader(e);
        break;
      case Stage::kRam:
        r = StepRam(e);
        break;
      case Stage::kAfterPayload:
        r = StepAfterPayload(e);
        break;
      case Stage::kFooter:
        r = StepFooter(e);
        break;
      case Stage::kDeviceScan:
        r = StepDeviceScan(e);
        break;
      case Stage::kDeviceWalk:
        r = StepDeviceWalk(e);
        break;
      case Stage::kCommand:
        r = StepCommand(e);
        break;
      case Stage::kAfterEof:
        r = StepAfterEof();
        break;
      case Stage::kVmdescHeader:
        r = StepVmdescHeader();
        break;
      case Stage::kVmdescBody:
        r = StepVmdescBody(e);
        break;
      case Stage::kAfterVmdesc:
        r = StepAfterVmdesc();
        break;
    }
    if (r.has_value()) return *r;
  }
}

// ---- Header and configuration ------------------------------------------------------------

QevmParser::Impl::StepResult QevmParser::Impl::StepMagic(QevmEvent* e) {
  const std::byte* p;
  const Avail a = Ensure(8, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, 0, "8-byte file header");
  const uint32_t magic = LoadBe32(p);
  const uint32_t version = LoadBe32(p + 4);
  if (magic != kQevmMagic) {
    return Fail(Code::kBadMagic, 0, "file magic " + Hex(magic) + " (expected 0x5145564d, QEVM)");
  }
  if (version == kQevmVersionObsolete) {
    return Fail(Code::kUnsupportedVersion, 4, "SaveVM v2 format is obsolete");
  }
  if (version != kQevmVersion) {
    return Fail(Code::kUnsupportedVersion, 4,
                "file version " + std::to_string(version) + " (only 3 is supported)");
  }
  Consume(8);
  stage_ = Stage::kAfterHeader;
  return Emit(e, QevmEventKind::kHeader, 0, 8);
}

QevmParser::Impl::StepResult QevmParser::Impl::StepAfterHeader() {
  const std::byte* p;
  const Avail a = Ensure(1, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, position_, "record after the file header");
  // The configuration is optional (off for machine types <= 2.3) and only allowed here.
  const bool config = static_cast<uint8_t>(p[0]) == kQevmConfiguration &&
                      options_.dialect.id != DialectId::kQemu2010;
  item_offset_ = position_;
  stage_ = config ? Stage::kConfigName : Stage::kRecordType;
  return std::nullopt;
}

QevmParser::Impl::StepResult QevmParser::Impl::StepConfigName() {
  const std::byte* p;
  Avail a = Ensure(5, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, item_offset_, "configuration");
  const uint32_t len = LoadBe32(p + 1);
  if (len > options_.limits.max_machine_name) {
    return Fail(Code::kLimitExceeded, item_offset_,
                "configuration machine name of " + std::to_string(len) +
                    " bytes exceeds the limit of " +
                    std::to_string(options_.limits.max_machine_name));
  }
  a = Ensure(5 + size_t{len}, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, item_offset_, "configuration");
  config_.machine.assign(AsString(p + 5, len));
  Consume(5 + size_t{len});
  stage_ = Stage::kConfigNext;
  return std::nullopt;
}

QevmParser::Impl::StepResult QevmParser::Impl::StepConfigNext(QevmEvent* e) {
  const std::byte* p;
  const Avail a = Ensure(1, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, position_, "record after the configuration");
  if (static_cast<uint8_t>(p[0]) == kQevmSubsection) {
    stage_ = Stage::kSubsection;
    return std::nullopt;
  }
  stage_ = Stage::kRecordType;
  return Emit(e, QevmEventKind::kConfiguration, item_offset_, position_);
}

QevmParser::Impl::StepResult QevmParser::Impl::StepSubsection() {
  const std::byte* p;
  Avail a = Ensure(2, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, item_offset_, "configuration");
  const size_t len = static_cast<uint8_t>(p[1]);
  a = Ensure(2 + len + 4, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, item_offset_, "configuration");
  const std::string_view name = AsString(p + 2, len);
  const uint32_t version = LoadBe32(p + 2 + len);
  if (name == "configuration/target-page-bits") {
    subsection_ = Subsection::kTargetPageBits;
  } else if (name == "configuration/capabilities") {
    subsection_ = Subsection::kCapabilities;
  } else if (name == "configuration/uuid") {
    subsection_ = Subsection::kUuid;
  } else {
    return Fail(Code::kBadConfiguration, position_,
                "unknown configuration subsection " + Quoted(name));
  }
  // Every configuration subsection is version 1; a newer one has fields we cannot know.
  if (version != 1) {
    return Fail(Code::kBadConfiguration, position_,
                "configuration subsection " + Quoted(name) + " version " + std::to_string(version) +
                    " (expected 1)");
  }
  Consume(2 + len + 4);
  stage_ = Stage::kSubsectionBody;
  return std::nullopt;
}

QevmParser::Impl::StepResult QevmParser::Impl::StepSubsectionBody() {
  const size_t size = subsection_ == Subsection::kUuid ? 16 : 4;
  const std::byte* p;
  const Avail a = Ensure(size, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, item_offset_, "configuration");
  switch (subsection_) {
    case Subsection::kTargetPageBits: {
      const uint32_t bits = LoadBe32(p);
      if (bits != static_cast<uint32_t>(kPageBits)) {
        return Fail(Code::kBadConfiguration, position_,
                    "target page bits " + std::to_string(bits) + " (ramstream decodes " +
                        std::to_string(kPageBits) + ", 4096-byte pages)");
      }
      config_.target_page_bits = bits;
      break;
    }
    case Subsection::kCapabilities: {
      const uint32_t count = LoadBe32(p);
      if (count > options_.limits.max_capabilities) {
        return Fail(Code::kLimitExceeded, position_,
                    "configuration lists " + std::to_string(count) +
                        " capabilities; the limit is " +
                        std::to_string(options_.limits.max_capabilities));
      }
      left_ = count;
      Consume(size);
      stage_ = Stage::kCapability;
      return std::nullopt;
    }
    case Subsection::kUuid: {
      std::array<uint8_t, 16> uuid;
      std::memcpy(uuid.data(), p, uuid.size());
      config_.uuid = uuid;
      break;
    }
  }
  Consume(size);
  stage_ = Stage::kConfigNext;
  return std::nullopt;
}

QevmParser::Impl::StepResult QevmParser::Impl::StepCapability() {
  while (left_ > 0) {
    const std::byte* p;
    Avail a = Ensure(1, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a != Avail::kOk) return Short(a, item_offset_, "configuration");
    const size_t len = static_cast<uint8_t>(p[0]);
    if (len == 0) return Fail(Code::kBadConfiguration, position_, "empty capability name");
    a = Ensure(1 + len, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a != Avail::kOk) return Short(a, item_offset_, "configuration");
    config_.capabilities.emplace_back(AsString(p + 1, len));
    Consume(1 + len);
    --left_;
  }
  stage_ = Stage::kConfigNext;
  return std::nullopt;
}

// ---- Records -----------------------------------------------------------------------------

QevmParser::Impl::StepResult QevmParser::Impl::StepRecordType(QevmEvent* e) {
  if (!packages_.empty() && position_ == packages_.back().end) {
    const uint64_t command_offset = packages_.back().command_offset;
    packages_.pop_back();
    package_eof_ = false;
    return Emit(e, QevmEventKind::kPackageEnd, command_offset, position_);
  }
  if (package_eof_) {
    // QEMU stops reading a package at its EOF and drops the rest; a writer never leaves any.
    return Fail(Code::kBadCommand, position_,
                std::to_string(packages_.back().end - position_) +
                    " bytes follow EOF inside the PACKAGED payload");
  }
  const std::byte* p;
  const Avail a = Ensure(1, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) {
    if (!packages_.empty()) return Short(a, packages_.back().command_offset, "PACKAGED command");
    return Fail(Code::kTruncated, position_,
                "input ends at offset " + std::to_string(position_) + " before the EOF record");
  }
  item_offset_ = position_;
  const uint8_t type = static_cast<uint8_t>(p[0]);
  const bool is_2010 = options_.dialect.id == DialectId::kQemu2010;
  switch (type) {
    case kQevmSectionStart:
    case kQevmSectionPart:
    case kQevmSectionEnd:
    case kQevmSectionFull:
      stage_ = Stage::kSectionHeader;
      return std::nullopt;
    case kQevmCommand:
      if (is_2010) break;
      stage_ = Stage::kCommand;
      return std::nullopt;
    case kQevmEof:
      Consume(1);
      if (packages_.empty()) {
        stage_ = Stage::kAfterEof;
      } else {
        package_eof_ = true;
      }
      return Emit(e, QevmEventKind::kEof, item_offset_, position_);
    case kQevmSectionFooter:
      if (is_2010) break;
      return Fail(Code::kBadSection, position_,
                  footers_ == false ? "section footer (0x7e) in a stream whose sections have none"
                                    : "section footer (0x7e) outside a section");
    case kQevmConfiguration:
      if (is_2010) break;
      return Fail(Code::kBadSection, position_,
                  "CONFIGURATION (0x07) is only allowed right after the file header");
    default:
      break;
  }
  return Fail(Code::kBadSection, position_, "unknown record type " + Hex(type));
}

QevmParser::Impl::StepResult QevmParser::Impl::StepSectionHeader(QevmEvent* e) {
  const std::byte* p;
  Avail a = Ensure(1, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  const uint8_t type = static_cast<uint8_t>(p[0]);
  if (type == kQevmSectionStart || type == kQevmSectionFull) {
    a = Ensure(6, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a != Avail::kOk) return Short(a, item_offset_, "section header");
    const uint32_t id = LoadBe32(p + 1);
    const size_t len = static_cast<uint8_t>(p[5]);
    if (len == 0) {
      return Fail(Code::kBadSection, item_offset_,
                  "empty idstr in the header of section " + std::to_string(id));
    }
    a = Ensure(6 + len + 8, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a != Avail::kOk) return Short(a, item_offset_, "section header");
    QevmSection s;
    s.type = type;
    s.section_id = id;
    s.idstr.assign(AsString(p + 6, len));
    s.instance_id = LoadBe32(p + 6 + len);
    s.version_id = LoadBe32(p + 10 + len);
    s.offset = item_offset_;
    s.is_ram = s.idstr == "ram";
    if (s.is_ram && s.instance_id != 0) {
      return Fail(Code::kBadSection, item_offset_,
                  "unknown section 'ram' instance " + std::to_string(s.instance_id) +
                      " (RAM is instance 0)");
    }
    if (s.is_ram && (s.version_id < options_.dialect.min_version ||
                     s.version_id > options_.dialect.max_version)) {
      return Fail(Code::kUnsupportedVersion, item_offset_,
                  "ram section version " + std::to_string(s.version_id) + " (" +
                      std::string(DialectName(options_.dialect.id)) + " loads " +
                      std::to_string(options_.dialect.min_version) +
                      (options_.dialect.min_version == options_.dialect.max_version
                           ? ""
                           : " to " + std::to_string(options_.dialect.max_version)) +
                      ")");
    }
    if (!sections_.contains(id) && sections_.size() >= options_.limits.max_sections) {
      return Fail(
          Code::kLimitExceeded, item_offset_,
          "more than " + std::to_string(options_.limits.max_sections) + " distinct section ids");
    }
    Consume(6 + len + 8);
    sections_[id] = s;
    section_ = std::move(s);
  } else {
    a = Ensure(5, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a != Avail::kOk) return Short(a, item_offset_, "section header");
    const uint32_t id = LoadBe32(p + 1);
    auto it = sections_.find(id);
    if (it == sections_.end()) {
      return Fail(Code::kBadSection, item_offset_,
                  std::string(type == kQevmSectionPart ? "SECTION_PART" : "SECTION_END") +
                      " for unknown section id " + std::to_string(id));
    }
    Consume(5);
    section_ = it->second;
    section_.type = type;
    section_.offset = item_offset_;
  }
  if (section_.is_ram) {
    if (StepResult r = BeginRamSection(); r.has_value()) return r;
    stage_ = Stage::kRam;
  } else if (const VmdescDevice* d = Described(); d != nullptr) {
    if (d->version != section_.version_id) {
      return Fail(Code::kBadVmdesc, item_offset_,
                  "the vmdesc describes " + Quoted(section_.idstr) + " instance " +
                      std::to_string(section_.instance_id) + " as version " +
                      std::to_string(d->version) + " but section " +
                      std::to_string(section_.section_id) + " is version " +
                      std::to_string(section_.version_id));
    }
    // Walking needs no footer to find the end, so this works without footers too.
    section_.described = true;
    walk_ = d;
    walk_index_ = 0;
    walk_left_ = 0;
    stage_ = Stage::kDeviceWalk;
  } else {
    if (footers_ == false) {
      return Fail(Code::kBadSection, item_offset_,
                  "cannot skip device section " + Quoted(section_.idstr) + " (section " +
                      std::to_string(section_.section_id) +
                      "): the stream has no section footers and device state has no length");
    }
    scan_start_ = position_;
    stage_ = Stage::kDeviceScan;
  }
  return Emit(e, QevmEventKind::kSectionBegin, item_offset_, position_);
}

QevmParser::Impl::StepResult QevmParser::Impl::BeginRamSection() {
  if (loader_ == nullptr) {
    // Created here, not at construction: the MEM_SIZE layout depends on the configuration's
    // capabilities and on POSTCOPY_ADVISE, both of which precede the first RAM section.
    LoaderOptions lo;
    lo.decoder.dialect = options_.dialect;
    lo.decoder.section_version = section_.version_id;
    lo.decoder.start_offset = position_;
    lo.decoder.limits = options_.decoder_limits;
    lo.decoder.mem_size_has_addr =
        std::find(config_.capabilities.begin(), config_.capabilities.end(), "x-ignore-shared") !=
        config_.capabilities.end();
    if (advise_ram_) lo.decoder.page_size_blocks = options_.page_size_blocks;
    lo.layout = options_.layout;
    loader_ = std::make_unique<Loader>(std::move(lo), memory_);
    ram_version_ = section_.version_id;
    return std::nullopt;
  }
  // One decoder serves the whole file, so every ram section must use its version.
  if ((section_.type == kQevmSectionStart || section_.type == kQevmSectionFull) &&
      section_.version_id != ram_version_) {
    return Fail(Code::kUnsupportedVersion, section_.offset,
                "ram section version " + std::to_string(section_.version_id) +
                    " differs from the first ram section's " + std::to_string(ram_version_));
  }
  loader_->decoder().Rebase(position_);
  return std::nullopt;
}

QevmParser::Impl::StepResult QevmParser::Impl::StepRam(QevmEvent* e) {
  Decoder& d = loader_->decoder();
  for (;;) {
    if (!decoder_fed_) {
      const std::span<const std::byte> span = Contiguous();
      decoder_at_limit_ = limit() != kNoLimit && position_ + span.size() == limit();
      const bool pending_only = ppos_ < pending_.size() && cpos_ < chunk_.size();
      const bool final = decoder_at_limit_ || (end_of_input_ && !pending_only);
      if (span.empty() && !final) return QevmStep::kNeedInput;
      d.Feed(span, final);
      decoder_fed_ = true;
      decoder_span_ = span.size();
    }
    switch (d.Next(&record_)) {
      case Step::kRecord: {
        if (Error err = loader_->Apply(record_); !err.ok()) return Fail(std::move(err));
        const uint64_t end = d.position();
        if (record_.kind == RecordKind::kEos && d.at_record_boundary()) {
          // The section payload ends here; the footer and what follows are ours again.
          const size_t rest = d.TakeRemaining().size();
          Consume(decoder_span_ - rest);
          decoder_fed_ = false;
          stage_ = Stage::kAfterPayload;
        }
        return Emit(e, QevmEventKind::kRamRecord, record_.stream_offset, end);
      }
      case Step::kNeedInput:
        Consume(decoder_span_);
        decoder_fed_ = false;
        break;
      case Step::kEnd:
        // The decoder saw end of input right after the previous section's EOS: this section
        // has no records at all.
        if (decoder_at_limit_) {
          return Fail(Code::kBadCommand, position_,
                      "ram section " + std::to_string(section_.section_id) +
                          " runs past the end of its PACKAGED payload (offset " +
                          std::to_string(limit()) + ")");
        }
        return Fail(Code::kTruncated, position_,
                    "input ends at offset " + std::to_string(position_) + " inside ram section " +
                        std::to_string(section_.section_id) + " before its EOS");
      case Step::kError: {
        Error err = d.error();
        // Every byte up to the package end was fed, so a cut record crosses that end.
        if (err.code == Code::kTruncated && decoder_at_limit_) {
          return Fail(Code::kBadCommand, err.offset,
                      "RAM record at offset " + std::to_string(err.offset) +
                          " runs past the end of its PACKAGED payload (offset " +
                          std::to_string(limit()) + ")");
        }
        return Fail(std::move(err));
      }
    }
  }
}

QevmParser::Impl::StepResult QevmParser::Impl::StepAfterPayload(QevmEvent* e) {
  if (!footers_.has_value()) {
    // Auto-detect: 0x7e is no record type, so the byte after the first section decides.
    const std::byte* p;
    const Avail a = Ensure(1, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a != Avail::kOk) return Short(a, position_, "record after a section");
    footers_ = static_cast<uint8_t>(p[0]) == kQevmSectionFooter;
  }
  if (*footers_) {
    stage_ = Stage::kFooter;
    return std::nullopt;
  }
  stage_ = Stage::kRecordType;
  return Emit(e, QevmEventKind::kSectionEnd, section_.offset, position_);
}

QevmParser::Impl::StepResult QevmParser::Impl::StepFooter(QevmEvent* e) {
  const std::string who =
      Quoted(section_.idstr) + " (section " + std::to_string(section_.section_id) + ")";
  // Like QEMU, look at the marker byte before reading the id.
  const std::byte* p;
  Avail a = Ensure(1, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, position_, "section footer");
  if (static_cast<uint8_t>(p[0]) != kQevmSectionFooter) {
    return Fail(Code::kMissingFooter, position_,
                "missing section footer for " + who + ": found byte " +
                    Hex(static_cast<uint8_t>(p[0])) + " instead of 0x7e");
  }
  a = Ensure(5, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, position_, "section footer");
  const uint32_t id = LoadBe32(p + 1);
  if (id != section_.section_id) {
    return Fail(Code::kMissingFooter, position_,
                "mismatched section id in the footer for " + who + ": read " + std::to_string(id));
  }
  Consume(5);
  stage_ = Stage::kRecordType;
  return Emit(e, QevmEventKind::kSectionEnd, section_.offset, position_);
}

// ---- Device sections ---------------------------------------------------------------------

// No device section carries a length, and the vmdesc that describes them comes after EOF, so
// a streaming reader finds the end of one by its footer: 0x7e, be32 section id, then a byte
// that can start the next record. That is a heuristic (device bytes may contain the same
// pattern), so the candidate's next record is checked too; docs/ram-stream-format.md 2.3, 10.
QevmParser::Impl::StepResult QevmParser::Impl::StepDeviceScan(QevmEvent* e) {
  const uint64_t max = options_.limits.max_device_section_bytes;
  for (;;) {
    const uint64_t skipped = position_ - scan_start_;
    if (skipped > max) {
      return Fail(Code::kLimitExceeded, section_.offset,
                  "no footer within " + std::to_string(max) + " bytes of device section " +
                      Quoted(section_.idstr) + " (section " + std::to_string(section_.section_id) +
                      ")");
    }
    std::span<const std::byte> span = Contiguous();
    // Look no further than the limit allows, so every chunking fails at the same place.
    if (span.size() > max - skipped + 1) span = span.first(max - skipped + 1);
    if (span.empty()) {
      if (position_ == limit()) {
        return Fail(Code::kMissingFooter, section_.offset,
                    "no footer for device section " + Quoted(section_.idstr) + " (section " +
                        std::to_string(section_.section_id) +
                        ") before the end of its PACKAGED payload");
      }
      if (end_of_input_) {
        return Fail(Code::kTruncated, section_.offset,
                    "input ends at offset " + std::to_string(position_) +
                        " inside device section " + Quoted(section_.idstr) + " (section " +
                        std::to_string(section_.section_id) + "): no footer found");
      }
      return QevmStep::kNeedInput;
    }
    const void* hit = std::memchr(span.data(), kQevmSectionFooter, span.size());
    if (hit == nullptr) {
      Consume(span.size());
      continue;
    }
    Consume(static_cast<const std::byte*>(hit) - span.data());
    const std::byte* p;
    const Avail a = Ensure(5, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    bool yes = false;
    if (a == Avail::kOk && LoadBe32(p + 1) == section_.section_id) {
      if (PlausibleAfterFooter(&yes) == Avail::kNeedInput) return QevmStep::kNeedInput;
    }
    if (!yes) {
      Consume(1);
      continue;
    }
    footers_ = true;
    text_ = "skipped " + std::to_string(position_ - scan_start_) + " bytes of device section " +
            Quoted(section_.idstr) + " (section " + std::to_string(section_.section_id) +
            ") by footer resync";
    stage_ = Stage::kFooter;
    return Emit(e, QevmEventKind::kDeviceSkipped, scan_start_, position_);
  }
}

QevmParser::Impl::Avail QevmParser::Impl::PlausibleAfterFooter(bool* yes) {
  *yes = false;
  const std::byte* p;
  Avail a = Ensure(6, &p);
  if (a == Avail::kNeedInput) return a;
  if (a != Avail::kOk) {
    // The footer is the last thing in its PACKAGED payload, or in the input. The latter is a
    // truncated file, but one cut after this section: report the missing record, not this
    // section.
    *yes = true;
    return Avail::kOk;
  }
  const uint8_t type = static_cast<uint8_t>(p[5]);
  switch (type) {
    case kQevmEof:
      // At top level EOF is the end of input or followed by the vmdesc; in a package it is
      // the last byte.
      a = Ensure(7, &p);
      if (a == Avail::kNeedInput) return a;
      *yes = a != Avail::kOk ||
             (packages_.empty() && static_cast<uint8_t>(p[6]) == kQevmVmdescription);
      return Avail::kOk;
    case kQevmSectionStart:
    case kQevmSectionFull: {
      a = Ensure(11, &p);
      if (a == Avail::kNeedInput) return a;
      if (a != Avail::kOk) return Avail::kOk;
      const size_t len = static_cast<uint8_t>(p[10]);
      if (len == 0) return Avail::kOk;
      a = Ensure(11 + len, &p);
      if (a == Avail::kNeedInput) return a;
      if (a != Avail::kOk) return Avail::kOk;
      // Real idstrs are printable ("timer", "0000:00:01.1/ide").
      *yes = std::all_of(p + 11, p + 11 + len, [](std::byte b) {
        return static_cast<uint8_t>(b) >= 0x20 && static_cast<uint8_t>(b) < 0x7f;
      });
      return Avail::kOk;
    }
    case kQevmSectionPart:
    case kQevmSectionEnd:
      a = Ensure(10, &p);
      if (a == Avail::kNeedInput) return a;
      *yes = a == Avail::kOk && sections_.contains(LoadBe32(p + 6));
      return Avail::kOk;
    case kQevmCommand: {
      a = Ensure(8, &p);
      if (a == Avail::kNeedInput) return a;
      if (a != Avail::kOk) return Avail::kOk;
      const uint16_t cmd = LoadBe16(p + 6);
      *yes = cmd >= 1 && cmd <= MaxCommand(options_.dialect.id);
      return Avail::kOk;
    }
    default:
      return Avail::kOk;
  }
}

// With a vmdesc the section's layout is known: each field takes the bytes QEMU measured while
// saving it, each subsection announces itself with 0x05, its name and version. Nothing is
// guessed, so a disagreement is reported where it happens instead of resynchronising past it.
QevmParser::Impl::StepResult QevmParser::Impl::StepDeviceWalk(QevmEvent* e) {
  const std::string who =
      Quoted(section_.idstr) + " (section " + std::to_string(section_.section_id) + ")";
  const std::byte* p;
  if (walk_index_ == walk_->items.size()) {
    // QEMU writes only the subsections it needs and lists exactly those, so one more here
    // means the vmdesc is not this stream's.
    const Avail a = Ensure(1, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a == Avail::kOk && static_cast<uint8_t>(p[0]) == kQevmSubsection) {
      return Fail(Code::kBadVmdesc, position_,
                  "device section " + who + " has a subsection at offset " +
                      std::to_string(position_) + " that the vmdesc does not list");
    }
    stage_ = Stage::kAfterPayload;  // footer, or the next record without footers
    return std::nullopt;
  }
  const VmdescItem& item = walk_->items[walk_index_];
  if (item.kind == VmdescItem::Kind::kSubsection) {
    item_offset_ = position_;
    const std::string what = "subsection " + Quoted(item.path) + " of " + who;
    Avail a = Ensure(2, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a != Avail::kOk) return Short(a, item_offset_, what);
    if (static_cast<uint8_t>(p[0]) != kQevmSubsection) {
      return Fail(Code::kBadVmdesc, item_offset_,
                  "the vmdesc lists " + what + " at offset " + std::to_string(item_offset_) +
                      " but the stream has byte " + Hex(static_cast<uint8_t>(p[0])) +
                      " (expected 0x05)");
    }
    const size_t len = static_cast<uint8_t>(p[1]);
    a = Ensure(2 + len + 4, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a != Avail::kOk) return Short(a, item_offset_, what);
    const std::string_view name = AsString(p + 2, len);
    const uint32_t version = LoadBe32(p + 2 + len);
    if (name != item.path || version != item.version) {
      return Fail(Code::kBadVmdesc, item_offset_,
                  "the vmdesc lists " + what + " version " + std::to_string(item.version) +
                      " but the stream has subsection " + Quoted(name) + " version " +
                      std::to_string(version));
    }
    Consume(2 + len + 4);
    Emit(e, QevmEventKind::kDeviceSubsection, item_offset_, position_);
    ++walk_index_;
    return QevmStep::kEvent;
  }
  // Fields up to this size are handed out as one view; bigger ones (old-style "data" buffers)
  // pass through without being gathered, so memory stays bounded by the chunk size.
  constexpr uint64_t kMaxFieldView = 64 << 10;
  const std::string what = "device field " + Quoted(item.path) + " of " + who;
  if (item.bytes <= kMaxFieldView) {
    item_offset_ = position_;
    const Avail a = Ensure(item.bytes, &p);
    if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
    if (a != Avail::kOk) return Short(a, item_offset_, what);
    const std::span<const std::byte> payload(p, item.bytes);
    Consume(item.bytes);
    Emit(e, QevmEventKind::kDeviceField, item_offset_, position_);
    e->payload = payload;
    ++walk_index_;
    return QevmStep::kEvent;
  }
  if (walk_left_ == 0) {
    item_offset_ = position_;
    walk_left_ = item.bytes;
  }
  while (walk_left_ > 0) {
    std::span<const std::byte> span = Contiguous();
    if (span.empty()) {
      if (position_ == limit()) return Short(Avail::kPastLimit, item_offset_, what);
      if (end_of_input_) return Short(Avail::kEndOfInput, item_offset_, what);
      return QevmStep::kNeedInput;
    }
    const size_t n = static_cast<size_t>(std::min<uint64_t>(span.size(), walk_left_));
    Consume(n);
    walk_left_ -= n;
  }
  Emit(e, QevmEventKind::kDeviceField, item_offset_, position_);
  ++walk_index_;
  return QevmStep::kEvent;
}

// ---- Commands ----------------------------------------------------------------------------

QevmParser::Impl::StepResult QevmParser::Impl::StepCommand(QevmEvent* e) {
  const std::byte* p;
  Avail a = Ensure(5, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, item_offset_, "command");
  const uint16_t cmd = LoadBe16(p + 1);
  const uint16_t len = LoadBe16(p + 3);
  if (cmd == 0 || cmd > MaxCommand(options_.dialect.id)) {
    return Fail(Code::kBadCommand, item_offset_,
                "unknown command " + std::to_string(cmd) + " for " +
                    std::string(DialectName(options_.dialect.id)));
  }
  if (kCommandLength[cmd] >= 0 && len != kCommandLength[cmd]) {
    return Fail(Code::kBadCommand, item_offset_,
                CommandName(cmd) + " with a " + std::to_string(len) + "-byte payload (expected " +
                    std::to_string(kCommandLength[cmd]) + ")");
  }
  a = Ensure(5 + size_t{len}, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, item_offset_, "command " + CommandName(cmd));
  const std::span<const std::byte> payload(p + 5, len);
  if (StepResult r = CheckCommand(cmd, payload); r.has_value()) return r;
  const uint32_t depth = static_cast<uint32_t>(packages_.size());
  Consume(5 + size_t{len});
  if (cmd == kCmdPackaged) {
    const uint32_t n = LoadBe32(p + 5);
    if (n > limit() - position_) {
      return Fail(Code::kBadCommand, item_offset_,
                  "PACKAGED length " + std::to_string(n) +
                      " runs past the end of the enclosing PACKAGED payload");
    }
    packages_.push_back(Package{item_offset_, position_ + n});
  }
  stage_ = Stage::kRecordType;
  Emit(e, QevmEventKind::kCommand, item_offset_, position_);
  e->depth = depth;
  e->command = cmd;
  e->payload = payload;
  return QevmStep::kEvent;
}

// Per-command payload rules and the postcopy handshake order, as the 7.2 loader checks them.
QevmParser::Impl::StepResult QevmParser::Impl::CheckCommand(uint16_t cmd,
                                                            std::span<const std::byte> payload) {
  const size_t len = payload.size();
  auto bad = [&](std::string why) {
    return Fail(Code::kBadCommand, item_offset_, CommandName(cmd) + ": " + std::move(why));
  };
  switch (cmd) {
    case kCmdPostcopyAdvise:
      if (postcopy_ != kPcNone) return bad("received twice");
      if (len != 0 && len != 16) {
        return bad(std::to_string(len) + "-byte payload (expected 0 or 16)");
      }
      if (len == 16) {
        const uint64_t target_page = LoadBe64(payload.data() + 8);
        if (target_page != kPageSize) {
          return bad("target page size " + std::to_string(target_page) + " (expected 4096)");
        }
        advise_ram_ = true;
      }
      postcopy_ = kPcAdvise;
      return std::nullopt;
    case kCmdPostcopyRamDiscard: {
      if (postcopy_ != kPcAdvise && postcopy_ != kPcDiscard) return bad("before ADVISE");
      // u8 version 0, counted idstr (at least one byte), u8 0, then one or more
      // (be64 start, be64 length) pairs.
      if (len < 1 + 1 + 1 + 1 + 16) {
        return bad(std::to_string(len) + "-byte payload is too short");
      }
      const size_t id_len = static_cast<uint8_t>(payload[1]);
      if (payload[0] != std::byte{0}) return bad("unknown version");
      if (id_len == 0 || 3 + id_len > len || payload[2 + id_len] != std::byte{0} ||
          (len - 3 - id_len) % 16 != 0) {
        return bad("malformed " + std::to_string(len) + "-byte payload");
      }
      postcopy_ = kPcDiscard;
      return std::nullopt;
    }
    case kCmdPostcopyListen:
      if (postcopy_ != kPcAdvise && postcopy_ != kPcDiscard) return bad("before ADVISE");
      postcopy_ = kPcListening;
      return std::nullopt;
    case kCmdPostcopyRun:
      if (postcopy_ != kPcListening) return bad("before LISTEN");
      postcopy_ = kPcRunning;
      return std::nullopt;
    case kCmdPackaged: {
      const uint32_t n = LoadBe32(payload.data());
      if (n > options_.limits.max_package_bytes) {
        return Fail(Code::kLimitExceeded, item_offset_,
                    "PACKAGED length " + std::to_string(n) + " exceeds the limit of " +
                        std::to_string(options_.limits.max_package_bytes));
      }
      if (packages_.size() >= options_.limits.max_package_depth) {
        return Fail(Code::kLimitExceeded, item_offset_,
                    "PACKAGED nested more than " +
                        std::to_string(options_.limits.max_package_depth) + " deep");
      }
      return std::nullopt;
    }
    case kCmdRecvBitmap:
      if (len < 2 || static_cast<size_t>(payload[0]) + 1 != len) {
        return bad("payload is not one counted idstr");
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// ---- EOF and vmdesc ----------------------------------------------------------------------

QevmParser::Impl::StepResult QevmParser::Impl::StepAfterEof() {
  const std::byte* p;
  const Avail a = Ensure(1, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) {
    stage_ = Stage::kDone;  // the vmdesc is optional
    return QevmStep::kEnd;
  }
  // QEMU only complains here and still loads; a validator rejects what no writer emits.
  if (static_cast<uint8_t>(p[0]) != kQevmVmdescription) {
    return Fail(Code::kBadVmdesc, position_,
                "byte " + Hex(static_cast<uint8_t>(p[0])) +
                    " after EOF: expected VMDESCRIPTION (0x06) or the end of input");
  }
  item_offset_ = position_;
  stage_ = Stage::kVmdescHeader;
  return std::nullopt;
}

QevmParser::Impl::StepResult QevmParser::Impl::StepVmdescHeader() {
  const std::byte* p;
  const Avail a = Ensure(5, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) return Short(a, item_offset_, "VMDESCRIPTION");
  const uint32_t len = LoadBe32(p + 1);
  if (len > options_.limits.max_vmdesc_bytes) {
    return Fail(Code::kLimitExceeded, item_offset_,
                "VMDESCRIPTION of " + std::to_string(len) + " bytes exceeds the limit of " +
                    std::to_string(options_.limits.max_vmdesc_bytes));
  }
  Consume(5);
  // Grown as bytes arrive rather than reserved from the length: a lying length costs nothing.
  text_.clear();
  left_ = len;
  stage_ = Stage::kVmdescBody;
  return std::nullopt;
}

QevmParser::Impl::StepResult QevmParser::Impl::StepVmdescBody(QevmEvent* e) {
  while (left_ > 0) {
    std::span<const std::byte> span = Contiguous();
    if (span.empty()) {
      if (end_of_input_) return Short(Avail::kEndOfInput, item_offset_, "VMDESCRIPTION");
      return QevmStep::kNeedInput;
    }
    if (span.size() > left_) span = span.first(left_);
    text_.append(AsString(span.data(), span.size()));
    Consume(span.size());
    left_ -= static_cast<uint32_t>(span.size());
  }
  const nlohmann::json j = nlohmann::json::parse(text_, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Fail(Code::kBadVmdesc, item_offset_, "VMDESCRIPTION is not valid JSON");
  }
  // Shape per docs/ram-stream-format.md 2.3: {"page_size": N, "devices": [{...}, ...]}.
  if (!j.is_object()) return Fail(Code::kBadVmdesc, item_offset_, "VMDESCRIPTION is not an object");
  if (auto it = j.find("devices"); it != j.end()) {
    if (!it->is_array() ||
        !std::all_of(it->begin(), it->end(), [](const auto& d) { return d.is_object(); })) {
      return Fail(Code::kBadVmdesc, item_offset_,
                  "VMDESCRIPTION \"devices\" is not an array of objects");
    }
  }
  stage_ = Stage::kAfterVmdesc;
  return Emit(e, QevmEventKind::kVmdesc, item_offset_, position_);
}

QevmParser::Impl::StepResult QevmParser::Impl::StepAfterVmdesc() {
  const std::byte* p;
  const Avail a = Ensure(1, &p);
  if (a == Avail::kNeedInput) return QevmStep::kNeedInput;
  if (a != Avail::kOk) {
    stage_ = Stage::kDone;
    return QevmStep::kEnd;
  }
  return Fail(Code::kBadVmdesc, position_,
              "unexpected byte " + Hex(static_cast<uint8_t>(p[0])) + " after VMDESCRIPTION");
}

// ---- QevmParser --------------------------------------------------------------------------

QevmParser::QevmParser(QevmOptions options, GuestMemory* memory)
    : impl_(std::make_unique<Impl>(std::move(options), memory)) {}
QevmParser::~QevmParser() = default;
void QevmParser::Feed(std::span<const std::byte> data, bool end_of_input) {
  impl_->Feed(data, end_of_input);
}
QevmStep QevmParser::Next(QevmEvent* event) { return impl_->Next(event); }
const Error& QevmParser::error() const { return impl_->error_; }
uint64_t QevmParser::position() const { return impl_->position_; }
const QevmConfiguration& QevmParser::configuration() const { return impl_->config_; }
const Loader* QevmParser::loader() const { return impl_->loader_.get(); }
std::optional<bool> QevmParser::footers() const { return impl_->footers_; }

}  // namespace ramstream::protocol
