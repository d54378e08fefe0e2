#include "sim/models/uniform.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ramstream::sim {
namespace {

constexpr uint64_t kEnd = std::numeric_limits<uint64_t>::max();

}  // namespace

void UniformWriter::Expose(RamState& ram, uint64_t first_bit, uint64_t end_bit, double touches) {
  const double n = static_cast<double>(region_.pages());
  if (touches <= 0 || n == 0) return;
  const Region part = region_.ClipBits(first_bit, end_bit);
  if (part.pages() == 0) return;
  TouchEachWithProbability(ram, part, -std::expm1(-touches / n), rng_);
}

void UniformWriter::Apply(double t0, double t1, double speed, RamState& ram,
                          const ZeroPageWindow* window) {
  if (rate_ > 0 && speed > 0 && t1 > t0) touches_ += rate_ * speed * (t1 - t0);
  if (window == nullptr) {
    Flush(ram);
    return;
  }
  // Bring the window up to date; everything else waits. Touch counts of disjoint intervals
  // add up (Poisson), so a page that gets its exposure in pieces is written with the same
  // probability as in one go.
  if (marks_.empty()) marks_.push_back({kEnd, 0.0});
  const uint64_t a = window->first_bit;
  const uint64_t b = window->end_bit;
  if (a >= b) return;
  // Windows move forward, so only the last few stretches change: find the first stretch that
  // ends after a, rebuild from there.
  const size_t first =
      static_cast<size_t>(std::upper_bound(marks_.begin(), marks_.end(), a,
                                           [](uint64_t bit, const std::pair<uint64_t, double>& m) {
                                             return bit < m.first;
                                           }) -
                          marks_.begin());
  std::vector<std::pair<uint64_t, double>> tail;
  uint64_t start = first == 0 ? 0 : marks_[first - 1].first;
  for (size_t i = first; i < marks_.size(); ++i) {
    const auto [end, applied] = marks_[i];
    const uint64_t lo = std::max(start, a);
    const uint64_t hi = std::min(end, b);
    if (lo < hi) {
      Expose(ram, lo, hi, touches_ - applied);
      if (start < lo) tail.push_back({lo, applied});
      tail.push_back({hi, touches_});
      if (hi < end) tail.push_back({end, applied});
    } else {
      tail.push_back({end, applied});
    }
    start = end;
  }
  marks_.resize(first);
  // Merge neighbours with the same mark so the list stays short.
  for (const auto& m : tail) {
    if (!marks_.empty() && marks_.back().second == m.second) {
      marks_.back().first = m.first;
    } else {
      marks_.push_back(m);
    }
  }
}

void UniformWriter::Flush(RamState& ram) {
  if (marks_.empty()) {
    Expose(ram, 0, kEnd, touches_);
  } else {
    uint64_t start = 0;
    for (const auto& [end, applied] : marks_) {
      Expose(ram, start, end, touches_ - applied);
      start = end;
    }
  }
  marks_.clear();
  touches_ = 0;
}

}  // namespace ramstream::sim
