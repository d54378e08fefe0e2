// Trace replay: the guest writes exactly the pages a trace file lists, when it lists them.
// The format (text, one record per line; also in sim/README.md):
//
//   # comments and blank lines are ignored
//   ramstream-trace 1                 first record: the format and its version
//   block pc.ram                      page numbers below count in this block (default: all
//                                     guest RAM, blocks in order); "block *" goes back to that
//   at 250ms 0-99,4096                these pages are written at this instant
//   during 1s 1.1s 100-199,7          written once each, evenly spread over [1s, 1.1s), in
//                                     list order (a per-interval dirty set, e.g. a dirty log)
//   repeat 2s                         the trace starts over every 2 s (else writes stop after
//                                     the last record)
//
// Times are durations with units ("1.5s", "250ms"), counted from the start of the migration
// and in guest time: a throttled guest (auto-converge) replays the trace more slowly. Records
// are in order of their start time. Pages are indices and inclusive ranges FIRST-LAST.
#ifndef RAMSTREAM_SIM_MODELS_TRACE_H_
#define RAMSTREAM_SIM_MODELS_TRACE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/engine/ram_state.h"
#include "sim/models/write_model.h"
#include "sim/status.h"

namespace ramstream::sim {

struct TraceLimits {
  uint64_t max_file_bytes = uint64_t{256} << 20;
  uint64_t max_records = 10'000'000;
  uint64_t max_ranges = 50'000'000;  // page ranges over all records
};

struct TraceRecord {
  int line = 0;
  double start_s = 0;
  double end_s = 0;              // == start_s for `at`
  std::string block;             // "" : guest-wide page numbers
  std::vector<PageRange> pages;  // in list order
  uint64_t page_count = 0;
};

struct Trace {
  std::string file;  // for errors
  std::vector<TraceRecord> records;
  double repeat_s = 0;  // 0: no repeat
  int repeat_line = 0;
};

// Parses a trace; errors carry `filename` and the line. Checks the syntax, the order of the
// records and the limits, not the pages against a guest (CheckTrace does).
Result<Trace> ParseTrace(std::string_view text, const std::string& filename,
                         const TraceLimits& limits = {});
// Reads and parses a file.
Result<Trace> LoadTrace(const std::string& path, const TraceLimits& limits = {});
// Every block the trace names exists and every page lies inside it (or inside guest RAM).
std::optional<Error> CheckTrace(const Trace& trace, const std::vector<RamBlockSpec>& blocks);

// Replays a checked trace.
class TraceWriter : public WriteModel {
 public:
  // REQUIRES: CheckTrace(*trace, blocks of `ram`) passed.
  TraceWriter(std::shared_ptr<const Trace> trace, const RamState& ram);
  void Apply(double t0, double t1, double speed, RamState& ram,
             const ZeroPageWindow* window) override;
  double TouchRate(double t) const override;

 private:
  // Writes everything due before trace time `tau` in the current cycle.
  void Advance(RamState& ram, double tau);

  std::shared_ptr<const Trace> trace_;
  std::vector<Region> regions_;    // per record: its pages in list order
  std::vector<uint64_t> applied_;  // per record: pages written so far in this cycle
  size_t first_open_ = 0;          // records before this one are complete in this cycle
  double clock_ = 0;               // guest time
  uint64_t cycle_ = 0;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_MODELS_TRACE_H_
