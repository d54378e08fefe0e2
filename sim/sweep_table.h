// Sweep output: one row per point with every input and every result field, as CSV (a header
// line, then one line per point) or JSON Lines (one object per line, same keys in the same
// order). Rows are written in point order, so an interrupted file is a prefix of the complete
// one and `--resume` appends exactly the rows that are missing.
//
// Columns: point, sweep_id, points_total; axis_<name> (base units: bytes, bytes/s, s; 1/0 for
// on/off) and axis_<name>_label per axis; the inputs the point ran with (scenario, policy, seed,
// ram_bytes, link_bandwidth, max_bandwidth, downtime_limit_s, auto_converge, write_rate,
// working_set, timeout_s); every scalar of the simulate --json report (bytes_by_kind.page becomes
// bytes_page); the closed-form model's prediction (model_*); error (empty unless the point's
// scenario was invalid, then the result fields are empty).
#ifndef RAMSTREAM_SIM_SWEEP_TABLE_H_
#define RAMSTREAM_SIM_SWEEP_TABLE_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sim/result.h"
#include "sim/spec.h"
#include "sim/status.h"
#include "sim/sweep.h"

namespace ramstream::sim {

enum class SweepFormat { kCsv, kJsonLines };

// From the file name: ".csv", or ".jsonl" / ".ndjson".
Result<SweepFormat> SweepFormatForPath(const std::string& path);

// The keys of every row of `sweep`, in order.
std::vector<std::string> SweepColumns(const Sweep& sweep);

// The row of one point. `spec` and `result` are null when the point's scenario was invalid;
// `error` then says why.
nlohmann::ordered_json SweepRow(const Sweep& sweep, const std::string& sweep_id, uint64_t point,
                                const SimSpec* spec, const SimResult* result,
                                const std::string& error);

// "point,sweep_id,...\n" for CSV, "" for JSON Lines.
std::string SweepHeader(SweepFormat format, const std::vector<std::string>& columns);
// One line, '\n'-terminated. Numbers are the shortest text that reads back exactly.
std::string SweepLine(SweepFormat format, const nlohmann::ordered_json& row);

// An output file as read back for --resume and sweep-merge.
struct SweepFileContents {
  SweepFormat format = SweepFormat::kCsv;
  std::string header;  // CSV header line with its '\n'; "" for JSON Lines
  std::string sweep_id;
  uint64_t points_total = 0;
  std::vector<std::pair<uint64_t, std::string>> rows;  // point, line with its '\n'
  // Bytes up to the end of the last complete line; an interrupted writer may leave a partial
  // line after it, which --resume cuts off.
  uint64_t complete_bytes = 0;
  bool partial_tail = false;
};

// Reads a sweep output file. Errors name the file and line: a header that is not a sweep's,
// rows of different sweeps, malformed rows.
Result<SweepFileContents> ReadSweepFile(const std::string& path);

// Joins shard outputs into `output`: same format, header and sweep id in every input, no point
// twice, none missing; rows in point order. The result is byte-identical to an unsharded run.
std::optional<Error> MergeSweepFiles(const std::vector<std::string>& inputs,
                                     const std::string& output);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_SWEEP_TABLE_H_
