// `ramstream simulate [SCENARIO]`: predicts a pre-copy live migration (converges or not, total
// time, downtime, bytes) with the simulator in sim/. Flags override the scenario's fields; with
// neither a scenario nor flags it runs the built-in default scenario.
//
//   ramstream simulate --ram 8GiB --bandwidth 10Gbit/s --workload sequential
//       --dirty-rate 250MB/s --downtime-limit 300ms --policy ideal --json
#include "sim/simulate.h"

#include <google/protobuf/text_format.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "cli/commands.h"
#include "sim/report.h"
#include "sim/scenario.h"

namespace ramstream::cli {
namespace {

struct SimulateOptions {
  std::string scenario;
  sim::ScenarioOverrides overrides;
  bool json = false;
  bool no_series = false;
  bool print_scenario = false;
};

int RunSimulate(const SimulateOptions& opts) {
  sim::ScenarioDocument doc;
  if (opts.scenario.empty()) {
    doc = sim::ScenarioDocument::Default();
  } else {
    sim::Result<sim::ScenarioDocument> loaded = sim::ScenarioDocument::Load(opts.scenario);
    if (!loaded.ok()) {
      std::fprintf(stderr, "ramstream simulate: %s\n", loaded.error().ToString().c_str());
      return kExitUsage;
    }
    doc = std::move(loaded.value());
  }
  sim::ScenarioOverrides overrides = opts.overrides;
  overrides.no_series = opts.no_series;
  if (std::optional<sim::Error> e = sim::ApplyOverrides(overrides, &doc)) {
    std::fprintf(stderr, "ramstream simulate: %s\n", e->ToString().c_str());
    return kExitUsage;
  }
  if (opts.print_scenario) {
    std::string text;
    if (google::protobuf::TextFormat::PrintToString(doc.message(), &text)) {
      std::fputs(text.c_str(), stdout);
    }
    return kExitOk;
  }
  sim::Result<sim::SimSpec> spec = sim::ToSpec(doc);
  if (!spec.ok()) {
    std::fprintf(stderr, "ramstream simulate: %s\n", spec.error().ToString().c_str());
    return kExitUsage;
  }
  sim::Result<sim::SimResult> result = sim::Simulate(*spec);
  if (!result.ok()) {
    std::fprintf(stderr, "ramstream simulate: %s\n", result.error().ToString().c_str());
    return kExitUsage;
  }
  if (opts.json) {
    std::printf("%s\n", sim::ResultToJson(*result, spec->run.series).dump(2).c_str());
  } else {
    std::fputs(sim::FormatTable(*result).c_str(), stdout);
  }
  return kExitOk;
}

}  // namespace

// The scenario knobs (--ram, --bandwidth, --dirty-rate, ...), shared with `ramstream sweep`.
void AddScenarioOverrideFlags(CLI::App* cmd, sim::ScenarioOverrides* overrides) {
  sim::ScenarioOverrides& o = *overrides;
  // Optional values: CLI11 2.1 has no std::optional support, so each flag fills a string
  // and its callback sets the optional.
  const auto text = [&](const char* name, std::optional<std::string>* field, const char* help) {
    cmd->add_option_function<std::string>(
        name, [field](const std::string& v) { *field = v; }, help);
  };
  const auto number = [&](const char* name, std::optional<double>* field, const char* help) {
    cmd->add_option_function<double>(
        name, [field](double v) { *field = v; }, help);
  };
  text("--ram", &o.ram, "Guest RAM, one block pc.ram (8GiB, 512MiB, ...)");
  number("--nonzero-fraction", &o.nonzero_fraction,
         "Share of pages holding data at the start (the rest are zero pages)");
  text("--bandwidth", &o.bandwidth, "Link rate, constant (10Gbit/s, 1.25GB/s, ...)");
  text("--max-bandwidth", &o.max_bandwidth,
       "Sender rate limit (QEMU max-bandwidth; 'unlimited'); lifted for the final "
       "stop-and-copy. Default: the policy's (qemu-7.2 128MiB/s, qemu-2010 32MiB/s)");
  text("--downtime-limit", &o.downtime_limit, "Downtime limit (300ms, ...)");
  text("--workload", &o.workload, "Guest writes: uniform | hotcold | zipf | sequential | trace");
  text("--dirty-rate", &o.dirty_rate, "Page-write rate in bytes/s (250MB/s, 60000pages/s)");
  text("--working-set", &o.working_set,
       "hotcold: hot set size; other workloads: size of the region written");
  number("--hot-fraction", &o.hot_fraction, "hotcold: share of the writes hitting the hot set");
  number("--zipf-s", &o.zipf_s, "zipf: exponent s (default 0.99)");
  text("--trace", &o.trace,
       "trace: replay this dirty-page trace file (format: sim/README.md); implies "
       "--workload trace");
  text("--policy", &o.policy, "Migration policy: ideal | qemu-2010 | qemu-7.2 | qemu-10");
  cmd->add_flag("--auto-converge", o.auto_converge, "Enable QEMU auto-converge (qemu-7.2)");
  text("--xbzrle-cache", &o.xbzrle_cache,
       "Enable XBZRLE with this page cache size (qemu-7.2; 64MiB is QEMU's default)");
  text("--postcopy-after", &o.postcopy_after,
       "Enable postcopy-ram and issue migrate-start-postcopy this long after the start "
       "(qemu-7.2; 0s: at once)");
  cmd->add_option_function<uint32_t>(
      "--postcopy-after-syncs", [&o](uint32_t v) { o.postcopy_after_syncs = v; },
      "Enable postcopy-ram and issue migrate-start-postcopy once dirty-sync-count reaches N "
      "(1 at setup)");
  text("--max-postcopy-bandwidth", &o.max_postcopy_bandwidth,
       "Rate limit after the postcopy switch (QEMU max-postcopy-bandwidth; default unlimited)");
  cmd->add_option_function<uint32_t>(
      "--multifd-channels", [&o](uint32_t v) { o.multifd_channels = v; },
      "Enable multifd with N channels (qemu-7.2; QEMU's default is 2)");
  text("--multifd-connect-time", &o.multifd_connect_time,
       "multifd: when the channels are connected, from the start (setup waits for them with "
       "dirty logging on; default 0)");
  text("--timeout", &o.timeout, "Give up after this much simulated pre-copy time (default 1h)");
  cmd->add_option_function<uint64_t>(
      "--seed", [&o](uint64_t v) { o.seed = v; }, "Random seed (runs are deterministic)");
}

void AddSimulateCommand(CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<SimulateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "simulate",
      "Predict a pre-copy live migration: converges or not, total time, downtime, bytes");
  cmd->add_option("scenario", opts->scenario,
                  "Scenario file: text format (.textproto) or JSON (.json), schema "
                  "sim/scenario.proto; default: a built-in 4 GiB database-like guest");
  AddScenarioOverrideFlags(cmd, &opts->overrides);
  cmd->add_flag("--json", opts->json, "Print the result as JSON");
  cmd->add_flag("--no-series", opts->no_series, "Leave the per-window time series out");
  cmd->add_flag("--print-scenario", opts->print_scenario,
                "Print the scenario (after flags) in text format and exit");
  cmd->callback([opts, exit_code] { *exit_code = RunSimulate(*opts); });
}

}  // namespace ramstream::cli
