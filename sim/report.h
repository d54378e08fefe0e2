// Rendering a SimResult: JSON (the stable, scriptable form; golden files compare it) and a
// short human-readable table.
#ifndef RAMSTREAM_SIM_REPORT_H_
#define RAMSTREAM_SIM_REPORT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "sim/result.h"

namespace ramstream::sim {

// Keys: converged, completed, outcome, total_time_s, setup_time_s, precopy_time_s, downtime_s,
// transferred_bytes, ram_transferred_bytes, ram_by_state{...}, bytes_by_kind{...},
// pages_normal, pages_zero, pages_xbzrle, dirty_sync_count, iterations, max_throttle_pct,
// continue_saved_bytes, xbzrle{...} (with an XBZRLE cache: QEMU 7.2's xbzrle-cache),
// postcopy{...} (with the postcopy-ram capability), syncs[], and series[] when `with_series`.
// `fixed_shape`: xbzrle and postcopy are always there, their members null when absent (for
// tables with one column per key, e.g. sweeps).
nlohmann::ordered_json ResultToJson(const SimResult& result, bool with_series,
                                    bool fixed_shape = false);

// A few lines: outcome, times, bytes, counts.
std::string FormatTable(const SimResult& result);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_REPORT_H_
