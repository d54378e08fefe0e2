#include "sim/models/link.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <utility>

namespace ramstream::sim {
namespace {

double Capped(double rate, double cap) { return cap > 0 ? std::min(rate, cap) : rate; }

}  // namespace

Link::Link(std::vector<Step> steps, double latency_s, double buffer_bytes)
    : steps_(std::move(steps)), latency_(latency_s), buffer_(buffer_bytes) {
  assert(!steps_.empty() && steps_.front().at == 0 && steps_.back().bytes_per_s > 0);
}

size_t Link::StepAt(double t) const {
  auto it = std::upper_bound(steps_.begin(), steps_.end(), t,
                             [](double v, const Step& s) { return v < s.at; });
  return it == steps_.begin() ? 0 : static_cast<size_t>(it - steps_.begin()) - 1;
}

double Link::RateAt(double t) const { return steps_[StepAt(t)].bytes_per_s; }

double Link::TransferTime(double t, double bytes, double cap) const {
  if (bytes <= 0) return 0;
  double elapsed = 0;
  double left = bytes;
  for (size_t i = StepAt(t); i < steps_.size(); ++i) {
    const double rate = Capped(steps_[i].bytes_per_s, cap);
    const double seg_end =
        i + 1 < steps_.size() ? steps_[i + 1].at : std::numeric_limits<double>::infinity();
    const double start = std::max(t, steps_[i].at);
    const double span = seg_end - start;
    if (rate > 0 && left <= rate * span) return elapsed + left / rate;
    if (rate > 0) left -= rate * span;
    elapsed += span;
  }
  return std::numeric_limits<double>::infinity();  // unreachable: the last rate is > 0
}

double Link::Capacity(double t, double dt, double cap) const {
  double bytes = 0;
  const double end = t + dt;
  for (size_t i = StepAt(t); i < steps_.size(); ++i) {
    const double start = std::max(t, steps_[i].at);
    if (start >= end) break;
    const double seg_end = i + 1 < steps_.size() ? std::min(end, steps_[i + 1].at) : end;
    bytes += Capped(steps_[i].bytes_per_s, cap) * (seg_end - start);
  }
  return bytes;
}

}  // namespace ramstream::sim
