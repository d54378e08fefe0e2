// Subcommands of the `ramstream` binary. Each file in cli/ adds one subcommand to the app;
// the work itself lives in the libraries (protocol/, sim/), so these stay thin.
#ifndef RAMSTREAM_CLI_COMMANDS_H_
#define RAMSTREAM_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>

namespace ramstream::sim {
struct ScenarioOverrides;
}  // namespace ramstream::sim

namespace ramstream::cli {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRejected = 1;  // the stream was rejected by the loader
inline constexpr int kExitUsage = 2;     // bad usage or I/O error

// Each Add*Command registers its subcommand; the callback stores the exit code in *exit_code.
void AddDemoCommand(CLI::App& app, int* exit_code);
void AddInspectCommand(CLI::App& app, int* exit_code);
void AddExtractCommand(CLI::App& app, int* exit_code);
void AddEncodeCommand(CLI::App& app, int* exit_code);
void AddReplayCommand(CLI::App& app, int* exit_code);
void AddQemuDiffCommand(CLI::App& app, int* exit_code);
void AddSimulateCommand(CLI::App& app, int* exit_code);
void AddSweepCommand(CLI::App& app, int* exit_code);  // also `sweep-merge`

// Registers `ramstream simulate`'s scenario knobs (--ram, --bandwidth, --dirty-rate, ...) on
// `cmd`, filling `*overrides` (which must outlive the parse); defined in simulate.cc.
void AddScenarioOverrideFlags(CLI::App* cmd, sim::ScenarioOverrides* overrides);

}  // namespace ramstream::cli

#endif  // RAMSTREAM_CLI_COMMANDS_H_
