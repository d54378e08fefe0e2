#include "sim/report.h"

#include <cstdio>

#include "sim/units.h"

namespace ramstream::sim {

namespace {

using nlohmann::ordered_json;

// Members of `o` set to null (the object's shape without its values).
ordered_json Nulled(ordered_json o) {
  for (auto& v : o) v = nullptr;
  return o;
}

ordered_json XbzrleJson(const XbzrleStats& x) {
  return ordered_json{{"cache_size", x.cache_size},
                      {"bytes", x.bytes},
                      {"pages", x.pages},
                      {"cache_miss", x.cache_miss},
                      {"cache_miss_rate", x.cache_miss_rate},
                      {"encoding_rate", x.encoding_rate},
                      {"overflow", x.overflow}};
}

ordered_json MultifdJson(const MultifdStats& m) {
  return ordered_json{{"channels", m.channels},
                      {"bytes", m.bytes},
                      {"pages", m.pages},
                      {"packets", m.packets},
                      {"sync_packets", m.sync_packets}};
}

ordered_json PostcopyJson(const PostcopyStats& p) {
  return ordered_json{{"requested", p.requested},
                      {"requested_s", p.requested_s},
                      {"started", p.started},
                      {"start_s", p.start_s},
                      {"resume_s", p.resume_s},
                      {"end_s", p.end_s},
                      {"time_s", p.time_s},
                      {"requests", p.requests},
                      {"pages", p.pages},
                      {"discard_bytes", p.discard_bytes},
                      {"package_bytes", p.package_bytes},
                      {"guest_speed", p.guest_speed}};
}

}  // namespace

nlohmann::ordered_json ResultToJson(const SimResult& r, bool with_series, bool fixed_shape) {
  ordered_json j;
  j["scenario"] = r.scenario;
  j["policy"] = r.policy;
  j["seed"] = r.seed;
  j["converged"] = r.converged();
  j["completed"] = r.completed();
  j["outcome"] = std::string(OutcomeName(r.outcome));
  j["ram_bytes"] = r.ram_bytes;
  j["max_bandwidth"] = r.max_bandwidth;
  j["downtime_limit_s"] = r.downtime_limit_s;
  j["total_time_s"] = r.total_time_s;
  j["setup_time_s"] = r.setup_time_s;
  j["precopy_time_s"] = r.precopy_time_s;
  j["downtime_s"] = r.downtime_s;
  j["transferred_bytes"] = r.transferred_bytes;
  j["ram_transferred_bytes"] = r.ram_transferred_bytes;
  j["downtime_bytes"] = r.downtime_bytes;
  j["remaining_bytes"] = r.remaining_bytes;
  j["ram_by_state"] = ordered_json{{"precopy_bytes", r.ram_precopy_bytes},
                                   {"downtime_bytes", r.ram_downtime_bytes},
                                   {"postcopy_bytes", r.ram_postcopy_bytes}};
  const StreamCounters& b = r.bytes;
  j["bytes_by_kind"] = ordered_json{
      {"page", b.normal_bytes},
      {"zero", b.zero_bytes},
      {"xbzrle", b.xbzrle_bytes},
      {"eos", b.eos_bytes()},
      {"mem_size", b.mem_size_bytes},
      {"framing", b.framing_bytes},
      {"device_state", b.device_state_bytes},
      {"idstr", b.idstr_bytes},
  };
  j["pages_normal"] = b.normal_pages;
  j["pages_zero"] = b.zero_pages;
  j["pages_xbzrle"] = b.xbzrle_pages;
  j["dirty_sync_count"] = r.dirty_sync_count;
  j["iterations"] = r.iterations;
  j["max_throttle_pct"] = r.max_throttle_pct;
  j["final_throttle_pct"] = r.final_throttle_pct;
  j["continue_saved_bytes"] = b.continue_saved_bytes;
  if (r.xbzrle.enabled) {
    j["xbzrle"] = XbzrleJson(r.xbzrle);
  } else if (fixed_shape) {
    j["xbzrle"] = Nulled(XbzrleJson(r.xbzrle));
  }
  if (r.multifd.enabled) {
    j["multifd"] = MultifdJson(r.multifd);
  } else if (fixed_shape) {
    j["multifd"] = Nulled(MultifdJson(r.multifd));
  }
  if (r.postcopy.enabled) {
    j["postcopy"] = PostcopyJson(r.postcopy);
  } else if (fixed_shape) {
    j["postcopy"] = Nulled(PostcopyJson(r.postcopy));
  }
  ordered_json syncs = ordered_json::array();
  for (const SyncSample& s : r.syncs) {
    syncs.push_back(ordered_json{{"t_s", s.t_s},
                                 {"dirty_sync_count", s.sync_count},
                                 {"new_pages", s.new_pages},
                                 {"dirty_pages", s.dirty_pages},
                                 {"pages_sent", s.pages_sent}});
  }
  j["syncs"] = std::move(syncs);
  if (with_series) {
    ordered_json series = ordered_json::array();
    for (const WindowSample& w : r.series) {
      series.push_back(ordered_json{{"t_start_s", w.t_start_s},
                                    {"t_end_s", w.t_end_s},
                                    {"sent_bytes", w.sent_bytes},
                                    {"remaining_bytes", w.remaining_bytes},
                                    {"dirty_rate", w.dirty_rate},
                                    {"write_rate", w.write_rate},
                                    {"bandwidth_estimate", w.bandwidth_estimate},
                                    {"threshold_bytes", w.threshold_bytes},
                                    {"throttle_pct", w.throttle_pct},
                                    {"dirty_sync_count", w.dirty_sync_count}});
    }
    j["series"] = std::move(series);
  }
  return j;
}

std::string FormatTable(const SimResult& r) {
  std::string out;
  char line[256];
  const auto row = [&](const char* key, const std::string& value) {
    std::snprintf(line, sizeof line, "  %-20s %s\n", key, value.c_str());
    out += line;
  };
  std::string head = r.scenario.empty() ? "scenario" : r.scenario;
  // Guest RAM is usually a whole number of GiB; say so rather than "8.59 GB".
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  const std::string ram = r.ram_bytes % kGiB == 0 ? std::to_string(r.ram_bytes / kGiB) + " GiB"
                                                  : FormatBytes(static_cast<double>(r.ram_bytes));
  out += head + " (" + r.policy + ", " + ram + " RAM, seed " + std::to_string(r.seed) + ")\n";
  const PostcopyStats& pc = r.postcopy;
  if (r.converged()) {
    row("result", "converged");
  } else if (r.outcome == Outcome::kPostcopy) {
    row("result", "completed in postcopy (switched at " + FormatDuration(pc.start_s) + ")");
  } else {
    row("result", "NOT converged (" + std::string(OutcomeName(r.outcome)) + " after " +
                      FormatDuration(r.total_time_s) + ", " +
                      FormatBytes(static_cast<double>(r.remaining_bytes)) + " still dirty)");
  }
  row("total time", FormatDuration(r.total_time_s));
  row("setup time", FormatDuration(r.setup_time_s));
  row("downtime", r.completed() ? FormatDuration(r.downtime_s) + " (limit " +
                                      FormatDuration(r.downtime_limit_s) + ")"
                                : "-");
  if (pc.started && r.outcome != Outcome::kPostcopy) {
    row("postcopy", "switched at " + FormatDuration(pc.start_s) + ", " +
                        std::to_string(pc.requests) + " page requests, not finished");
  } else if (pc.started) {
    char speed[32];
    std::snprintf(speed, sizeof speed, "%.0f%%", pc.guest_speed * 100);
    row("postcopy", "degraded " + FormatDuration(pc.time_s) + " from " +
                        FormatDuration(pc.resume_s) + ", " + std::to_string(pc.requests) +
                        " page requests, guest at " + speed + " speed");
    row("postcopy bytes", FormatBytes(static_cast<double>(r.ram_postcopy_bytes)) + " (precopy " +
                              FormatBytes(static_cast<double>(r.ram_precopy_bytes)) + ")");
  } else if (pc.requested) {
    row("postcopy", "requested at " + FormatDuration(pc.requested_s) + ", not started");
  }
  row("transferred", FormatBytes(static_cast<double>(r.transferred_bytes)) + " (ram " +
                         FormatBytes(static_cast<double>(r.ram_transferred_bytes)) + ")");
  row("pages", std::to_string(r.bytes.normal_pages) + " normal, " +
                   std::to_string(r.bytes.zero_pages) + " zero");
  row("dirty syncs",
      std::to_string(r.dirty_sync_count) + " (" + std::to_string(r.iterations) + " iterations)");
  row("max throttle", std::to_string(r.max_throttle_pct) + "%");
  if (r.xbzrle.enabled) {
    const XbzrleStats& x = r.xbzrle;
    char rates[96];
    std::snprintf(rates, sizeof rates, "miss rate %.3g, encoding rate %.3g", x.cache_miss_rate,
                  x.encoding_rate);
    row("xbzrle", std::to_string(x.pages) + " pages, " + FormatBytes(static_cast<double>(x.bytes)) +
                      ", " + std::to_string(x.cache_miss) + " misses, " +
                      std::to_string(x.overflow) + " overflows (" + rates + "; cache " +
                      FormatBytes(static_cast<double>(x.cache_size)) + ")");
  }
  if (r.multifd.enabled) {
    const MultifdStats& mf = r.multifd;
    row("multifd", std::to_string(mf.channels) + " channels, " + std::to_string(mf.pages) +
                       " pages in " + std::to_string(mf.packets) + " packets + " +
                       std::to_string(mf.sync_packets) + " sync packets, " +
                       FormatBytes(static_cast<double>(mf.bytes)));
  }
  row("CONTINUE saved", FormatBytes(static_cast<double>(r.bytes.continue_saved_bytes)));
  return out;
}

}  // namespace ramstream::sim
