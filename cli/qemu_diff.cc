// `ramstream qemu-diff --template REAL.mig STREAM...`: the differential oracle against real
// QEMU. Each bare RAM section stream is cut at its EOS records and spliced into the template
// (a file real QEMU wrote, so configuration and devices match the destination); a QEVM file is
// taken as it is (cutting a malformed stream at EOS records can only guess where its sections
// were meant to end; a caller who knows builds the file with SpliceRam). Then
// ramstream's loader (qemu-7.2 dialect, the template's blocks as the destination layout) and a
// real destination QEMU (scripts/qemu-load) load the same file. Reported per stream: both
// verdicts, the error class QEMU's message maps to, and for streams both accept whether
// pc.ram is byte-identical. Exit 0 when all agree, 1 on any disagreement, 2 on usage or
// infrastructure errors. Known, documented disagreements are listed in docs/qemu-quirks.md.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "cli/io.h"
#include "protocol/decoder.h"
#include "protocol/splice.h"

namespace ramstream::cli {
namespace {

namespace fs = std::filesystem;

struct QemuDiffArgs {
  std::string tmpl;
  std::vector<std::string> streams;
  std::string qemu_load = RAMSTREAM_SOURCE_DIR "/scripts/qemu-load";
  std::vector<std::string> load_args;
  bool json = false;
};

// QEMU 7.2's error messages on the RAM load path, mapped to our codes (first match wins).
// Unmatched messages map to "other": the verdicts are still compared.
std::string ClassifyQemuError(const std::string& text) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"Ack, bad migration stream", "continue_without_block"},
      {"Can't find block", "unknown_block"},
      {"Unknown ramblock", "unknown_block"},
      {"Illegal RAM offset", "offset_out_of_range"},
      {"Unknown combination of migration flags", "unknown_flags"},
      {"Failed to load XBZRLE page", "bad_xbzrle"},
      {"Invalid compressed data length", "bad_compressed_page"},
      {"decompress data failed", "bad_compressed_page"},
      {"Size mismatch", "block_size_mismatch"},
      {"Length mismatch", "block_size_mismatch"},
      {"Size too large", "block_size_mismatch"},
      {"Found a zero page with value", "bad_zero_fill"},
      {"Input/output error", "truncated"},
      // The envelope (savevm.c).
      {"Not a migration stream", "bad_magic"},
      {"SaveVM v2 format is obsolete", "unsupported_version"},
      {"Unsupported migration stream version", "unsupported_version"},
      {"unsupported version", "unsupported_version"},
      {"Unknown savevm section", "bad_section"},
      {"Missing section footer", "missing_footer"},
      {"Mismatched section id in footer", "missing_footer"},
  };
  for (const auto& [needle, code] : kMap) {
    if (text.find(needle) != std::string::npos) return code;
  }
  return "other";
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

struct QemuVerdict {
  bool ok = false;  // the tool ran (exit 0 or 1)
  bool accepted = false;
  std::string error;
  std::string infra;  // why the tool did not run
};

QemuVerdict RunQemuLoad(const QemuDiffArgs& a, const fs::path& stream, const fs::path& ram,
                        const fs::path& json) {
  std::string cmd = Quote(a.qemu_load) + " --stream " + Quote(stream.string()) + " --ram-file " +
                    Quote(ram.string()) + " --json " + Quote(json.string());
  for (const std::string& arg : a.load_args) cmd += " " + Quote(arg);
  cmd += " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  QemuVerdict v;
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::vector<std::byte> text;
  std::string err;
  if ((rc != 0 && rc != 1) || !ReadFile(json.string(), &text, &err)) {
    v.infra = "qemu-load exited " + std::to_string(rc) + (err.empty() ? "" : ": " + err);
    return v;
  }
  const auto j = nlohmann::json::parse(
      std::string(reinterpret_cast<const char*>(text.data()), text.size()), nullptr, false);
  if (j.is_discarded() || !j.contains("accepted")) {
    v.infra = "qemu-load wrote no verdict";
    return v;
  }
  v.ok = true;
  v.accepted = j["accepted"].get<bool>();
  if (j.contains("error") && j["error"].is_string()) v.error = j["error"].get<std::string>();
  return v;
}

// Whether the bare RAM stream ends inside a record or after a record other than EOS: a source
// that died mid-section (the decoder's view, before any loader rule).
bool EndsInsideASection(std::span<const std::byte> raw) {
  protocol::DecoderOptions o;
  o.dialect = protocol::Dialect::Qemu72();
  protocol::Decoder d(o);
  d.Feed(raw, true);
  protocol::Record r;
  protocol::Step s;
  bool last_eos = false;
  while ((s = d.Next(&r)) == protocol::Step::kRecord)
    last_eos = r.kind == protocol::RecordKind::kEos;
  if (s == protocol::Step::kError) return d.error().code == protocol::Code::kTruncated;
  return !last_eos;
}

int RunQemuDiff(const QemuDiffArgs& a) {
  std::vector<std::byte> tmpl;
  std::string err;
  if (!ReadFile(a.tmpl, &tmpl, &err)) {
    std::fprintf(stderr, "qemu-diff: %s\n", err.c_str());
    return kExitUsage;
  }
  // The template's blocks are the destination's: QEMU has them before any stream arrives.
  protocol::GuestMemory tmem;
  const protocol::Inspection t = protocol::InspectBytes(tmpl, {}, &tmem);
  if (!t.error.ok()) {
    std::fprintf(stderr, "qemu-diff: template does not load: %s\n", t.error.ToString().c_str());
    return kExitUsage;
  }
  std::vector<protocol::DestinationBlock> layout;
  for (const auto& b : t.blocks) layout.push_back({b.idstr, b.used_length, 0});

  char tmpl_dir[] = "/tmp/ramstream-qemu-diff-XXXXXX";
  if (::mkdtemp(tmpl_dir) == nullptr) {
    std::fprintf(stderr, "qemu-diff: cannot create a temporary directory\n");
    return kExitUsage;
  }
  const fs::path work(tmpl_dir);
  nlohmann::json results = nlohmann::json::array();
  int disagreements = 0, infra = 0;
  for (const std::string& path : a.streams) {
    std::vector<std::byte> raw;
    if (!ReadFile(path, &raw, &err)) {
      std::fprintf(stderr, "qemu-diff: %s\n", err.c_str());
      ++infra;
      continue;
    }
    // A QEVM file is used as it is (it must come from the same machine and devices as the
    // template); a bare RAM stream is cut at its EOS records and spliced into the template.
    static constexpr unsigned char kMagic[4] = {'Q', 'E', 'V', 'M'};
    // A .mig file is a QEVM file even when its magic is broken (that is what it tests).
    const bool is_qevm = (raw.size() >= 4 && std::memcmp(raw.data(), kMagic, 4) == 0) ||
                         fs::path(path).extension() == ".mig";
    std::vector<protocol::ByteVector> payloads;
    bool truncated = false;
    if (!is_qevm) {
      payloads = protocol::SplitAtEos(raw, protocol::Dialect::Qemu72());
      // A stream with no EOS at all still becomes a START (whose payload never ends) and an
      // empty END; both loaders then read section framing as RAM records and fail.
      while (payloads.size() < 2) payloads.emplace_back();
      truncated = EndsInsideASection(raw);
    }
    uint64_t end_payload_end = 0;
    protocol::Result<protocol::ByteVector> spliced =
        is_qevm ? protocol::Result<protocol::ByteVector>(raw)
                : protocol::SpliceRam(tmpl, payloads, &end_payload_end);
    if (spliced.ok() && truncated) {
      // A stream that ends inside a record (or before its final EOS) is a migration whose
      // source died there: the file ends there too, so both loaders meet the end of input
      // where the stream does, not the footer bytes that would follow.
      spliced.value().resize(end_payload_end);
    }
    if (!spliced.ok()) {
      std::fprintf(stderr, "qemu-diff: %s: %s\n", path.c_str(), spliced.error().ToString().c_str());
      ++infra;
      continue;
    }
    const fs::path file = work / "spliced.mig";
    if (!WriteFile(file.string(), spliced.value(), &err)) {
      std::fprintf(stderr, "qemu-diff: %s\n", err.c_str());
      ++infra;
      continue;
    }
    protocol::InspectOptions o;
    o.format = protocol::StreamFormat::kQevm;
    o.layout = layout;
    protocol::GuestMemory ours_mem;
    const protocol::Inspection ours = protocol::InspectBytes(spliced.value(), o, &ours_mem);
    const QemuVerdict q = RunQemuLoad(a, file, work / "pc.ram", work / "verdict.json");
    nlohmann::json r = {{"stream", path}};
    r["ours"] = ours.error.ok() ? nlohmann::json{{"accepted", true}}
                                : nlohmann::json{{"accepted", false},
                                                 {"code", protocol::CodeName(ours.error.code)},
                                                 {"offset", ours.error.offset},
                                                 {"message", ours.error.message}};
    if (!q.ok) {
      ++infra;
      r["infra_error"] = q.infra;
      results.push_back(r);
      continue;
    }
    const std::string qcode = q.accepted ? "" : ClassifyQemuError(q.error);
    r["qemu"] = q.accepted
                    ? nlohmann::json{{"accepted", true}}
                    : nlohmann::json{{"accepted", false}, {"class", qcode}, {"error", q.error}};
    std::string outcome;
    if (q.accepted != ours.error.ok()) {
      outcome = q.accepted ? "qemu_accepts_ours_rejects" : "ours_accepts_qemu_rejects";
    } else if (q.accepted) {
      // Both loaded: compare pc.ram byte for byte.
      std::vector<std::byte> qram;
      const int64_t b = ours_mem.Find("pc.ram");
      outcome = "agree";
      if (b < 0 || !ReadFile((work / "pc.ram").string(), &qram, &err) ||
          qram.size() != ours_mem.used_length(static_cast<uint32_t>(b))) {
        outcome = "memory_unavailable";
      } else {
        std::vector<std::byte> page(protocol::kPageSize);
        for (uint64_t off = 0; off < qram.size(); off += protocol::kPageSize) {
          ours_mem.Read(static_cast<uint32_t>(b), off, page);
          if (std::memcmp(page.data(), qram.data() + off, protocol::kPageSize) != 0) {
            outcome = "memory_differs";
            r["first_differing_page"] = off;
            break;
          }
        }
      }
    } else {
      outcome = qcode == "other" || qcode == protocol::CodeName(ours.error.code)
                    ? "agree"
                    : "reject_reason_differs";
    }
    r["outcome"] = outcome;
    if (outcome != "agree") ++disagreements;
    results.push_back(r);
    if (!a.json) {
      std::printf("%-26s %s\n  ramstream: %s\n  qemu:      %s\n", outcome.c_str(), path.c_str(),
                  ours.error.ok() ? "accepted" : ours.error.ToString().c_str(),
                  q.accepted ? "accepted" : (qcode + ": " + q.error).c_str());
    }
  }
  fs::remove_all(work);
  if (a.json) {
    std::printf("%s\n",
                nlohmann::json{
                    {"disagreements", disagreements}, {"infra_errors", infra}, {"results", results}}
                    .dump(2)
                    .c_str());
  } else {
    std::printf("%zu streams: %d disagree, %d could not be run\n", a.streams.size(), disagreements,
                infra);
  }
  if (infra > 0) return kExitUsage;
  return disagreements == 0 ? kExitOk : kExitRejected;
}

}  // namespace

void AddQemuDiffCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<QemuDiffArgs>();
  auto* cmd = app.add_subcommand(
      "qemu-diff", "load RAM streams in ramstream and in a real destination QEMU; compare");
  cmd->add_option("streams", args->streams,
                  "bare RAM section streams, or QEVM files built for the template's machine")
      ->required();
  cmd->add_option("--template", args->tmpl,
                  "a migration file real QEMU wrote for the destination's machine and devices")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--qemu-load", args->qemu_load, "the destination loader script")
      ->capture_default_str();
  cmd->add_option("--load-arg", args->load_args,
                  "argument for qemu-load, e.g. --load-arg=--memory=16M (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--json", args->json, "one JSON object instead of the report");
  cmd->callback([=] { *exit_code = RunQemuDiff(*args); });
}

}  // namespace ramstream::cli
