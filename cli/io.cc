#include "cli/io.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ramstream::cli {

std::unique_ptr<Input> Input::Open(const std::string& path, std::string* error) {
  auto in = std::unique_ptr<Input>(new Input());
  in->path_ = path;
  if (path == "-") {
    in->file_ = stdin;
    in->path_ = "<stdin>";
    return in;
  }
  in->file_ = std::fopen(path.c_str(), "rb");
  if (in->file_ == nullptr) {
    *error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  in->owned_ = true;
  return in;
}

Input::~Input() {
  if (owned_) std::fclose(file_);
}

protocol::ReadFn Input::Reader() {
  return [this](std::span<std::byte> out) -> ptrdiff_t {
    const size_t n = std::fread(out.data(), 1, out.size(), file_);
    if (n == 0 && std::ferror(file_)) return -1;
    return static_cast<ptrdiff_t>(n);
  };
}

std::shared_ptr<const protocol::Vmdesc> Input::TrailingVmdesc() const {
  const int fd = fileno(file_);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 7) return nullptr;
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  // The JSON object ends the file: anything else has no vmdesc, and costs one byte to learn.
  char last = 0;
  if (pread(fd, &last, 1, st.st_size - 1) != 1 || last != '}') return nullptr;
  const uint64_t want = std::min<uint64_t>(size, protocol::QevmLimits{}.max_vmdesc_bytes + 6);
  std::vector<std::byte> tail(want);
  size_t got = 0;
  while (got < want) {
    const ssize_t n =
        pread(fd, tail.data() + got, want - got, static_cast<off_t>(size - want + got));
    if (n <= 0) return nullptr;
    got += static_cast<size_t>(n);
  }
  const auto json = protocol::FindTrailingVmdesc(tail);
  if (!json) return nullptr;
  protocol::Result<protocol::Vmdesc> d = protocol::ParseVmdesc(*json);
  if (!d.ok()) return nullptr;
  return std::make_shared<const protocol::Vmdesc>(std::move(d.value()));
}

bool ReadFile(const std::string& path, std::vector<std::byte>* out, std::string* error) {
  std::string err;
  auto in = Input::Open(path, &err);
  if (!in) {
    *error = err;
    return false;
  }
  protocol::ReadFn read = in->Reader();
  out->clear();
  std::byte buf[1 << 16];
  for (;;) {
    const ptrdiff_t n = read(buf);
    if (n < 0) {
      *error = path + ": read error";
      return false;
    }
    if (n == 0) return true;
    out->insert(out->end(), buf, buf + n);
  }
}

bool WriteFile(const std::string& path, const std::vector<std::byte>& bytes, std::string* error) {
  std::FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool closed = f == stdout ? std::fflush(f) == 0 : std::fclose(f) == 0;
  if (!ok || !closed) *error = path + ": write error";
  return ok && closed;
}

bool StreamFlags::ToOptions(protocol::InspectOptions* options, std::string* error) const {
  const auto id = protocol::DialectFromName(dialect);
  if (!id) {
    *error = "unknown dialect '" + dialect + "' (qemu-2010, qemu-7.2, qemu-10)";
    return false;
  }
  options->dialect = protocol::Dialect::ForId(*id);
  if (format == "auto") {
    options->format = protocol::StreamFormat::kAuto;
  } else if (format == "qevm") {
    options->format = protocol::StreamFormat::kQevm;
  } else if (format == "ram") {
    options->format = protocol::StreamFormat::kRam;
  } else {
    *error = "unknown format '" + format + "' (auto, qevm, ram)";
    return false;
  }
  return true;
}

void StreamFlags::AttachVmdesc(const Input& in, protocol::InspectOptions* options) const {
  if (vmdesc && options->format != protocol::StreamFormat::kRam) {
    options->vmdesc = in.TrailingVmdesc();
  }
}

void AddStreamFlags(CLI::App* cmd, StreamFlags* flags) {
  cmd->add_option("--dialect", flags->dialect, "loader to mimic: qemu-2010, qemu-7.2, qemu-10")
      ->capture_default_str();
  cmd->add_option("--format", flags->format,
                  "auto (QEVM if it starts with the magic), qevm, or ram (a bare RAM stream)")
      ->capture_default_str();
  cmd->add_flag("!--no-vmdesc", flags->vmdesc,
                "skip device sections by footer resync even when the file ends with a vmdesc");
}

nlohmann::json InspectionJson(const protocol::Inspection& in) {
  using protocol::RecordKind;
  nlohmann::json j;
  j["ok"] = in.error.ok() && !in.io_error;
  if (!in.error.ok()) {
    j["error"] = {{"code", std::string(protocol::CodeName(in.error.code))},
                  {"offset", in.error.offset},
                  {"message", in.error.message}};
  }
  j["format"] = std::string(protocol::StreamFormatName(in.format));
  j["bytes_read"] = in.bytes_read;
  nlohmann::json blocks = nlohmann::json::array();
  for (const auto& b : in.blocks) {
    blocks.push_back({{"idstr", b.idstr}, {"used_length", b.used_length}});
  }
  j["blocks"] = blocks;
  const protocol::LoadStats& s = in.stats;
  j["records"] = {{"page", s.count(RecordKind::kPage)},
                  {"zero", s.count(RecordKind::kZero)},
                  {"xbzrle", s.count(RecordKind::kXbzrle)},
                  {"compressed", s.count(RecordKind::kCompressedPage)},
                  {"continue", s.continue_records},
                  {"named", s.named_records},
                  {"eos", s.count(RecordKind::kEos)},
                  {"mem_size", s.count(RecordKind::kMemSize)},
                  {"multifd_flush", s.count(RecordKind::kMultifdFlush)},
                  {"hook", s.count(RecordKind::kHook)},
                  {"ignored", s.count(RecordKind::kIgnored)}};
  j["ram_transferred"] = in.ram_transferred;
  j["continue_saved_bytes"] = s.continue_saved_bytes;
  j["page_record_bytes_without_continue"] = in.page_record_bytes;
  if (in.format == protocol::StreamFormat::kQevm) {
    j["machine"] = in.machine;
    j["sections"] = {{"start", in.sections.start},
                     {"part", in.sections.part},
                     {"end", in.sections.end},
                     {"full", in.sections.full},
                     {"ram_part", in.sections.ram_parts},
                     {"device_skipped", in.sections.devices_skipped},
                     {"device_walked", in.sections.devices_walked}};
    j["vmdesc"] = in.has_vmdesc;
  }
  if (!in.notes.empty()) j["notes"] = in.notes;
  return j;
}

}  // namespace ramstream::cli
