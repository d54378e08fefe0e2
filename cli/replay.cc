// `ramstream replay DIR...`: checks every corpus file against the verdict its manifest
// expects (DIR/MANIFEST*, one row per file and dialect) and prints a table. Unexpected accepts,
// wrong error codes or offsets, changed memory digests or counts, and files that no row lists
// all fail. Files ending in .mig are read as QEVM files, .ram as bare RAM section streams,
// anything else is auto-detected. Exit 0 when every row passes, 1 on any mismatch, 2 on usage or
// I/O errors.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "cli/commands.h"
#include "cli/io.h"

namespace ramstream::cli {
namespace {

namespace fs = std::filesystem;

struct ReplayArgs {
  std::vector<std::string> dirs;
  std::string only;
  bool json = false;
};

struct Row {
  std::string file;  // relative to the corpus directory
  std::string dialect;
  std::string expect;                          // "ok" or "code@offset"
  std::map<std::string, std::string> details;  // digest=, page=, ... for "ok"
};

bool ParseManifest(const fs::path& path, std::vector<Row>* rows, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path.string() + ": cannot read";
    return false;
  }
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    Row r;
    if (!(ss >> r.file >> r.dialect >> r.expect)) {
      *error = path.string() + ":" + std::to_string(n) + ": expected FILE DIALECT VERDICT";
      return false;
    }
    for (std::string kv; ss >> kv;) {
      const size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        *error = path.string() + ":" + std::to_string(n) + ": expected KEY=VALUE, got " + kv;
        return false;
      }
      r.details[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    rows->push_back(std::move(r));
  }
  return true;
}

// What a file gave: "ok" or "code@offset", and for "ok" the same details as a manifest.
struct Got {
  std::string verdict;
  std::map<std::string, std::string> details;
  bool io_error = false;
};

Got RunFile(const fs::path& path, const std::string& dialect) {
  Got g;
  protocol::InspectOptions o;
  o.dialect = protocol::Dialect::ForId(*protocol::DialectFromName(dialect));
  // The extension says what a file is meant to be, so a broken magic stays a QEVM error.
  if (path.extension() == ".mig") o.format = protocol::StreamFormat::kQevm;
  if (path.extension() == ".ram") o.format = protocol::StreamFormat::kRam;
  std::string err;
  auto in = Input::Open(path.string(), &err);
  if (!in) {
    g.io_error = true;
    g.verdict = "io: " + err;
    return g;
  }
  // Device sections are walked with the file's own vmdesc, as inspect does.
  if (o.format != protocol::StreamFormat::kRam) o.vmdesc = in->TrailingVmdesc();
  protocol::GuestMemory mem;
  const protocol::Inspection r = protocol::Inspect(in->Reader(), o, &mem);
  if (r.io_error) {
    g.io_error = true;
    g.verdict = "io: read error";
  } else if (!r.error.ok()) {
    g.verdict =
        std::string(protocol::CodeName(r.error.code)) + "@" + std::to_string(r.error.offset);
  } else {
    using protocol::RecordKind;
    g.verdict = "ok";
    g.details = {{"digest", mem.Digest()},
                 {"page", std::to_string(r.stats.count(RecordKind::kPage))},
                 {"zero", std::to_string(r.stats.count(RecordKind::kZero))},
                 {"xbzrle", std::to_string(r.stats.count(RecordKind::kXbzrle))},
                 {"compressed", std::to_string(r.stats.count(RecordKind::kCompressedPage))}};
  }
  return g;
}

int RunReplay(const ReplayArgs& a) {
  nlohmann::json results = nlohmann::json::array();
  int failures = 0;
  for (const std::string& d : a.dirs) {
    const fs::path dir(d);
    std::vector<Row> rows;
    std::string err;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().filename().string().rfind("MANIFEST", 0) == 0 &&
          !ParseManifest(e.path(), &rows, &err)) {
        std::fprintf(stderr, "replay: %s\n", err.c_str());
        return kExitUsage;
      }
    }
    if (ec || rows.empty()) {
      std::fprintf(stderr, "replay: %s: no MANIFEST with rows\n", d.c_str());
      return kExitUsage;
    }
    // Every file under the directory must have an expectation.
    std::set<std::string> listed;
    for (const Row& r : rows) listed.insert(r.file);
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      const std::string rel = fs::relative(e.path(), dir).string();
      if (!e.is_regular_file() || rel.rfind("MANIFEST", 0) == 0 || listed.count(rel)) continue;
      if (!a.only.empty() && rel != a.only) continue;
      rows.push_back({rel, "-", "(no manifest row)", {}});
    }
    for (const Row& r : rows) {
      if (!a.only.empty() && r.file != a.only) continue;
      Got g;
      bool pass = false;
      if (r.dialect == "-") {
        g.verdict = "unlisted";
      } else if (!protocol::DialectFromName(r.dialect)) {
        g.verdict = "unknown dialect";
      } else {
        g = RunFile(dir / r.file, r.dialect);
        pass = g.verdict == r.expect;
        std::string why;
        for (const auto& [k, v] : r.details) {
          // What real QEMU says of the file: checked against QEMU by qemu_diff_test.
          if (k == "qemu" || k == "quirk") continue;
          auto it = g.details.find(k);
          if (it == g.details.end() || it->second != v) {
            pass = false;
            why += " " + k + "=" + (it == g.details.end() ? "?" : it->second);
          }
        }
        if (!why.empty()) g.verdict += why;
      }
      if (!pass) ++failures;
      results.push_back({{"dir", d},
                         {"file", r.file},
                         {"dialect", r.dialect},
                         {"expected", r.expect},
                         {"got", g.verdict},
                         {"pass", pass}});
      if (!a.json) {
        std::printf("%-4s  %-52s %-9s expected %-28s got %s\n", pass ? "PASS" : "FAIL",
                    (d + "/" + r.file).c_str(), r.dialect.c_str(), r.expect.c_str(),
                    g.verdict.c_str());
      }
    }
  }
  if (a.json) {
    std::printf("%s\n",
                nlohmann::json{{"failures", failures}, {"results", results}}.dump(2).c_str());
  } else {
    std::printf("%zu passed, %d failed\n", results.size() - failures, failures);
  }
  if (results.empty()) {
    std::fprintf(stderr, "replay: nothing matched\n");
    return kExitUsage;
  }
  return failures == 0 ? kExitOk : kExitRejected;
}

}  // namespace

void AddReplayCommand(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ReplayArgs>();
  auto* cmd = app.add_subcommand("replay", "check corpus files against their expected verdicts");
  cmd->add_option("dirs", args->dirs, "corpus directories, each with MANIFEST files")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--only", args->only, "only this file (path relative to its directory)");
  cmd->add_flag("--json", args->json, "one JSON object instead of the table");
  cmd->callback([=] { *exit_code = RunReplay(*args); });
}

}  // namespace ramstream::cli
