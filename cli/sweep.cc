// `ramstream sweep [SWEEP]`: runs a what-if sweep (sim/sweep.h) on every core and writes one
// CSV or JSON Lines row per point; `ramstream sweep-merge` joins the outputs of --shard runs.
//
//   ramstream sweep sim/sweeps/hotcold-bandwidth-dirty-rate.textproto -o map.csv
//   ramstream sweep --ram 8GiB --workload hotcold --working-set 256MiB --policy ideal
//       --vary bandwidth=1Gbit/s..40Gbit/s:log:16 --vary dirty_rate=50MB/s,200MB/s -o s.jsonl
//   ramstream sweep S --shard 0/4 -o s.0.csv; ...; ramstream sweep-merge -o s.csv s.*.csv
//
// Exit codes: 0 every point ran; 1 some points' scenarios were invalid (their rows carry
// `error`); 2 usage or I/O error.
#include "sim/sweep.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "sim/scenario.h"
#include "sim/sweep_run.h"
#include "sim/sweep_table.h"
#include "sim/units.h"

namespace ramstream::cli {
namespace {

struct SweepOptions {
  std::string sweep_file;
  std::string base_file;
  sim::ScenarioOverrides overrides;
  std::vector<std::string> vary;
  std::string output;
  std::string format;  // for stdout
  int threads = 0;
  std::string shard;
  bool resume = false;
  bool force = false;
  bool quiet = false;
  bool count = false;
  bool list_points = false;
};

struct MergeOptions {
  std::string output;
  std::vector<std::string> inputs;
};

int Fail(const std::string& what) {
  std::fprintf(stderr, "ramstream sweep: %s\n", what.c_str());
  return kExitUsage;
}

std::string Clock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
  }
  return buf;
}

// Progress on stderr: a bar redrawn in place on a terminal, a line every few seconds otherwise.
class ProgressPrinter {
 public:
  explicit ProgressPrinter(bool quiet) : quiet_(quiet), tty_(isatty(fileno(stderr)) != 0) {}

  void Update(const sim::SweepProgress& p) {
    if (quiet_) return;
    const bool last = p.done == p.total;
    const double min_gap = tty_ ? 0.1 : 5.0;
    if (!last && p.elapsed_s - last_print_ < min_gap) return;
    last_print_ = p.elapsed_s;
    const double rate = p.elapsed_s > 0 ? static_cast<double>(p.done) / p.elapsed_s : 0;
    const double eta = rate > 0 ? static_cast<double>(p.total - p.done) / rate : NAN;
    const double frac = p.total == 0 ? 1.0 : static_cast<double>(p.done) / p.total;
    char line[256];
    if (tty_) {
      constexpr int kWidth = 30;
      const int fill = static_cast<int>(frac * kWidth);
      std::string bar(static_cast<size_t>(fill), '#');
      bar.resize(kWidth, '.');
      std::snprintf(line, sizeof line, "\r[%s] %3.0f%% %llu/%llu points  %.1f/s  ETA %s%s ",
                    bar.c_str(), frac * 100, static_cast<unsigned long long>(p.done),
                    static_cast<unsigned long long>(p.total), rate, Clock(eta).c_str(),
                    p.errors ? (" " + std::to_string(p.errors) + " invalid").c_str() : "");
      std::fputs(line, stderr);
      if (last) std::fputc('\n', stderr);
    } else {
      std::snprintf(line, sizeof line,
                    "sweep: %llu/%llu points (%.0f%%), %.1f points/s, elapsed %s, ETA %s\n",
                    static_cast<unsigned long long>(p.done),
                    static_cast<unsigned long long>(p.total), frac * 100, rate,
                    Clock(p.elapsed_s).c_str(), Clock(eta).c_str());
      std::fputs(line, stderr);
    }
    std::fflush(stderr);
  }

 private:
  bool quiet_;
  bool tty_;
  double last_print_ = -1e9;
};

std::string Join(const std::vector<std::string>& v, const char* sep, bool trailing) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    s += v[i];
    if (trailing || i + 1 < v.size()) s += sep;
  }
  return s;
}

int RunSweepCommand(const SweepOptions& opts) {
  // The sweep: a file, or a base scenario (file or built-in) with --vary axes.
  sim::Sweep sweep;
  if (!opts.sweep_file.empty()) {
    if (!opts.base_file.empty()) {
      return Fail("--base: the sweep file names its base scenario; use one or the other");
    }
    sim::Result<sim::Sweep> loaded = sim::Sweep::Load(opts.sweep_file);
    if (!loaded.ok()) return Fail(loaded.error().ToString());
    sweep = std::move(loaded.value());
  } else {
    sim::ScenarioDocument base = sim::ScenarioDocument::Default();
    if (!opts.base_file.empty()) {
      sim::Result<sim::ScenarioDocument> doc = sim::ScenarioDocument::Load(opts.base_file);
      if (!doc.ok()) return Fail(doc.error().ToString());
      base = std::move(doc.value());
    }
    sweep = sim::Sweep::FromScenario(std::move(base));
  }
  if (std::optional<sim::Error> e = sim::ApplyOverrides(opts.overrides, &sweep.base())) {
    return Fail(e->ToString());
  }
  for (const std::string& v : opts.vary) {
    if (std::optional<sim::Error> e = sweep.AddVary(v)) return Fail(e->ToString());
  }
  if (std::optional<sim::Error> e = sweep.Validate()) return Fail(e->ToString());

  uint64_t shard = 0;
  uint64_t shards = 1;
  if (!opts.shard.empty()) {
    if (std::optional<sim::Error> e = sim::ParseShard(opts.shard, &shard, &shards)) {
      return Fail(e->ToString());
    }
  }
  const std::vector<uint64_t> all = sim::ShardPoints(sweep.size(), shard, shards);
  if (opts.count) {
    std::printf("%llu\n", static_cast<unsigned long long>(all.size()));
    return kExitOk;
  }
  if (opts.list_points) {
    for (uint64_t p : all) {
      std::printf("%llu\t%llu\t%s\n", static_cast<unsigned long long>(p),
                  static_cast<unsigned long long>(sweep.SeedFor(p)), sweep.Describe(p).c_str());
    }
    return kExitOk;
  }

  // Output: a file (format from its name) or stdout.
  const bool to_stdout = opts.output.empty() || opts.output == "-";
  sim::SweepFormat format = sim::SweepFormat::kCsv;
  if (to_stdout) {
    if (opts.resume) return Fail("--resume needs an output file (-o)");
    if (opts.format == "jsonl") format = sim::SweepFormat::kJsonLines;
  } else {
    sim::Result<sim::SweepFormat> f = sim::SweepFormatForPath(opts.output);
    if (!f.ok()) return Fail(f.error().ToString());
    format = *f;
  }
  const std::string id = sweep.Id();
  const std::vector<std::string> columns = sim::SweepColumns(sweep);
  const std::string header = sim::SweepHeader(format, columns);

  std::vector<uint64_t> todo = all;
  FILE* out = stdout;
  bool write_header = true;
  if (!to_stdout) {
    std::error_code ec;
    const bool exists =
        std::filesystem::exists(opts.output, ec) && std::filesystem::file_size(opts.output, ec) > 0;
    if (exists && opts.resume) {
      sim::Result<sim::SweepFileContents> prev = sim::ReadSweepFile(opts.output);
      if (!prev.ok()) return Fail(prev.error().ToString());
      const std::string want = format == sim::SweepFormat::kCsv ? header : Join(columns, ",", true);
      if (!prev->header.empty() && prev->header != want) {
        return Fail(opts.output +
                    ":1: columns differ from this sweep's (another sweep, or another ramstream "
                    "version); write to another file, or --force to start over");
      }
      if (!prev->rows.empty() && prev->sweep_id != id) {
        return Fail(opts.output + ": rows of another sweep (sweep_id " + prev->sweep_id +
                    ", this sweep is " + id + "); write to another file, or --force to start over");
      }
      const std::set<uint64_t> mine(all.begin(), all.end());
      std::set<uint64_t> done;
      for (const auto& [p, line] : prev->rows) {
        if (mine.count(p) == 0) {
          return Fail(opts.output + ": has point " + std::to_string(p) +
                      ", which is not in shard " + std::to_string(shard) + "/" +
                      std::to_string(shards));
        }
        done.insert(p);
      }
      todo.clear();
      for (uint64_t p : all) {
        if (done.count(p) == 0) todo.push_back(p);
      }
      // Cut off a partial last line left by an interrupted run.
      std::filesystem::resize_file(opts.output, prev->complete_bytes, ec);
      if (ec) return Fail(opts.output + ": cannot truncate: " + ec.message());
      write_header = prev->header.empty();
      if (!opts.quiet) {
        std::fprintf(stderr, "sweep: resuming %s: %zu of %zu points done, %zu to go\n",
                     opts.output.c_str(), done.size(), all.size(), todo.size());
      }
    } else if (exists && !opts.force) {
      return Fail(opts.output + " exists: --resume continues it, --force overwrites it");
    }
    out = std::fopen(opts.output.c_str(), write_header ? "wb" : "ab");
    if (out == nullptr) return Fail(opts.output + ": cannot open for writing");
  }
  if (write_header) std::fputs(header.c_str(), out);
  std::fflush(out);

  const int threads = opts.threads > 0
                          ? opts.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ProgressPrinter progress(opts.quiet || todo.empty());
  sim::SweepRunOptions run;
  run.threads = threads;
  bool write_failed = false;
  run.on_row = [&](uint64_t, const nlohmann::ordered_json& row) {
    const std::string line = sim::SweepLine(format, row);
    if (std::fputs(line.c_str(), out) < 0 || std::fflush(out) != 0) {
      write_failed = true;
      return false;
    }
    return true;
  };
  run.on_progress = [&](const sim::SweepProgress& p) { progress.Update(p); };
  const sim::SweepRunSummary summary = sim::RunSweep(sweep, todo, run);
  if (out != stdout && std::fclose(out) != 0) write_failed = true;
  if (write_failed) return Fail((to_stdout ? "stdout" : opts.output) + ": write failed");

  if (!opts.quiet) {
    const double rate =
        summary.wall_s > 0 ? static_cast<double>(summary.points) / summary.wall_s : 0;
    std::string shard_text;
    if (shards > 1)
      shard_text = " (shard " + std::to_string(shard) + "/" + std::to_string(shards) + ")";
    std::fprintf(stderr,
                 "sweep: %llu points%s in %s with %d threads (%.1f points/s); %llu converged; "
                 "simulated %s of migrations (%.0fx wall time)\n",
                 static_cast<unsigned long long>(summary.points), shard_text.c_str(),
                 sim::FormatDuration(summary.wall_s).c_str(), threads, rate,
                 static_cast<unsigned long long>(summary.converged),
                 sim::FormatDuration(summary.simulated_s).c_str(),
                 summary.wall_s > 0 ? summary.simulated_s / summary.wall_s : 0.0);
  }
  if (summary.errors > 0) {
    std::fprintf(stderr, "ramstream sweep: %llu points invalid (rows with an error), first: %s\n",
                 static_cast<unsigned long long>(summary.errors),
                 summary.first_error ? summary.first_error->ToString().c_str() : "");
    return kExitRejected;
  }
  return kExitOk;
}

int RunMerge(const MergeOptions& opts) {
  if (std::optional<sim::Error> e = sim::MergeSweepFiles(opts.inputs, opts.output)) {
    std::fprintf(stderr, "ramstream sweep-merge: %s\n", e->ToString().c_str());
    return kExitUsage;
  }
  return kExitOk;
}

std::string AxesHelp() {
  std::string s =
      "Axes (--vary NAME=VALUES; VALUES a,b,c or FROM..TO:POINTS or FROM..TO:log:POINTS):\n";
  size_t width = 0;
  for (const sim::AxisInfo& a : sim::AxisTable()) width = std::max(width, a.name.size());
  for (const sim::AxisInfo& a : sim::AxisTable()) {
    s += "  ";
    s += a.name;
    s.append(width + 1 - a.name.size(), ' ');
    s += a.help;
    s += '\n';
  }
  return s;
}

}  // namespace

void AddSweepCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<SweepOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "Run a what-if sweep: one simulation per combination of axis values, in parallel");
  cmd->add_option("sweep", opts->sweep_file,
                  "Sweep file: text format or JSON, schema sim/sweep.proto (examples in "
                  "sim/sweeps/); without it, --base (or the built-in scenario) and --vary");
  cmd->add_option("--base", opts->base_file, "Base scenario file when no sweep file is given");
  AddScenarioOverrideFlags(cmd, &opts->overrides);
  cmd->add_option("--vary", opts->vary,
                  "Add an axis, e.g. bandwidth=1Gbit/s..40Gbit/s:log:16, "
                  "downtime_limit=100ms..1s:10, policy=ideal,qemu-7.2 (repeatable)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-o,--output", opts->output,
                  "Output file, *.csv or *.jsonl (default: CSV on stdout)");
  cmd->add_option("--format", opts->format, "Format on stdout: csv (default) or jsonl")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  cmd->add_option("-j,--jobs", opts->threads, "Threads (default: all hardware threads)");
  cmd->add_option("--shard", opts->shard,
                  "Run only shard I of N (I/N, 0 <= I < N: every N-th point from I)");
  cmd->add_flag("--resume", opts->resume,
                "Continue an interrupted sweep: keep the output's rows, run the missing points");
  cmd->add_flag("--force", opts->force, "Overwrite an existing output file");
  cmd->add_flag("-q,--quiet", opts->quiet, "No progress or summary on stderr");
  cmd->add_flag("--count", opts->count, "Print the number of points (of the shard) and exit");
  cmd->add_flag("--list-points", opts->list_points,
                "Print each point (index, seed, values) and exit");
  cmd->footer(AxesHelp());
  cmd->callback([opts, exit_code] { *exit_code = RunSweepCommand(*opts); });

  auto merge = std::make_shared<MergeOptions>();
  CLI::App* m = app.add_subcommand(
      "sweep-merge", "Join the outputs of `sweep --shard I/N` runs into one file in point order");
  m->add_option("-o,--output", merge->output, "Merged file (*.csv or *.jsonl)")->required();
  m->add_option("shards", merge->inputs, "Shard outputs (all of them)")->required();
  m->callback([merge, exit_code] { *exit_code = RunMerge(*merge); });
}

}  // namespace ramstream::cli
