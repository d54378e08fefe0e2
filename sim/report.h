// Rendering a SimResult: JSON (the stable, scriptable form; golden files compare it) and a
// short human-readable table.
#ifndef RAMSTREAM_SIM_REPORT_H_
#define RAMSTREAM_SIM_REPORT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "sim/result.h"

namespace ramstream::sim {

// Keys: converged, outcome, total_time_s, setup_time_s, precopy_time_s, downtime_s,
// transferred_bytes, ram_transferred_bytes, bytes_by_kind{...}, pages_normal, pages_zero,
// pages_xbzrle, dirty_sync_count, iterations, max_throttle_pct, continue_saved_bytes, syncs[],
// and series[] when `with_series`.
nlohmann::ordered_json ResultToJson(const SimResult& result, bool with_series);

// A few lines: outcome, times, bytes, counts.
std::string FormatTable(const SimResult& result);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_REPORT_H_
