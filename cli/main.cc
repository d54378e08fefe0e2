#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ramstream: decode, validate, fuzz and simulate QEMU RAM migration streams"};
  app.require_subcommand(1);
  int exit_code = ramstream::cli::kExitOk;
  ramstream::cli::AddDemoCommand(app, &exit_code);
  ramstream::cli::AddInspectCommand(app, &exit_code);
  ramstream::cli::AddExtractCommand(app, &exit_code);
  ramstream::cli::AddEncodeCommand(app, &exit_code);
  ramstream::cli::AddReplayCommand(app, &exit_code);
  ramstream::cli::AddQemuDiffCommand(app, &exit_code);
  ramstream::cli::AddSimulateCommand(app, &exit_code);
  ramstream::cli::AddSweepCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports usage errors by exception; keep its message and exit code 2.
    int rc = app.exit(e);
    return rc == 0 ? 0 : ramstream::cli::kExitUsage;
  }
  return exit_code;
}
