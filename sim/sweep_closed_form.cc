#include "sim/sweep_closed_form.h"

#include <algorithm>
#include <vector>

namespace ramstream::sim {
namespace {

constexpr double kPage = 4096;

struct Stream {
  double rate = 0;  // bytes/s of page writes
  double cap = 0;   // bytes: the pages it can dirty at most
};

// Bytes of the region a writer writes to.
double RegionBytes(const GuestSpec& guest, const RegionSpec& r) {
  double size = 0;
  for (const RamBlockSpec& b : guest.blocks) {
    if (r.block.empty() || r.block == b.name) size += static_cast<double>(b.pages) * kPage;
  }
  size = std::max(0.0, size - static_cast<double>(r.offset));
  return r.size == 0 ? size : std::min(size, static_cast<double>(r.size));
}

}  // namespace

ClosedFormPrediction PredictClosedForm(const SimSpec& spec, double max_bandwidth,
                                       double downtime_limit_s) {
  ClosedFormPrediction p;
  if (!spec.guest.phases.empty() || spec.link.steps.empty()) return p;
  const double link = spec.link.steps.front().bytes_per_s;
  const double rate = max_bandwidth > 0 ? std::min(link, max_bandwidth) : link;
  if (rate <= 0) return p;
  std::vector<Stream> streams;
  for (const WriterSpec& w : spec.guest.writers) {
    const double d = w.pages_per_s * kPage;
    const double region = RegionBytes(spec.guest, w.region);
    if (w.kind == WriterKind::kHotCold) {
      const double hot = std::min(region, static_cast<double>(w.working_set));
      streams.push_back({d * w.hot_fraction, hot});
      streams.push_back({d * (1 - w.hot_fraction), region - hot});
    } else {
      streams.push_back({d, region});
    }
  }
  double ram = 0;
  for (const RamBlockSpec& b : spec.guest.blocks) ram += static_cast<double>(b.pages) * kPage;
  const double threshold = rate * downtime_limit_s;
  p.applicable = true;
  double t = spec.migration.setup_time_s;
  double sent = 0;
  double volume = ram;
  // A geometric series shrinks below any threshold in ~60 rounds unless it stalls; the round
  // cap and the timeout only end slow crawls towards a floor just above the threshold.
  for (uint64_t round = 0; round < 100000; ++round) {
    const double duration = volume / rate;
    t += duration;
    sent += volume;
    p.rounds = round + 1;
    double next = 0;
    for (const Stream& s : streams) next += std::min(s.rate * duration, s.cap);
    if (next <= threshold) {
      p.converged = true;
      p.downtime_s = (next + static_cast<double>(spec.migration.device_state_bytes)) / link +
                     spec.link.latency_s + spec.migration.resume_time_s;
      p.total_time_s = t + p.downtime_s;
      p.transferred_bytes = sent + next;
      return p;
    }
    if (next >= volume || t > spec.run.timeout_s) return p;
    volume = next;
  }
  return p;
}

}  // namespace ramstream::sim
