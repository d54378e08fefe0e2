#include "sim/models/sequential.h"

#include <algorithm>
#include <cmath>

namespace ramstream::sim {

SequentialWriter::SequentialWriter(Region region, double pages_per_s, uint64_t start_page,
                                   bool descending)
    : region_(std::move(region)), rate_(pages_per_s), descending_(descending) {
  const uint64_t n = region_.pages();
  if (n > 0) next_ = descending ? (n - 1 - start_page % n) : start_page % n;
}

void SequentialWriter::Apply(double t0, double t1, double speed, RamState& ram,
                             const ZeroPageWindow* /*window*/) {
  const uint64_t n = region_.pages();
  if (n == 0 || rate_ <= 0 || speed <= 0 || t1 <= t0) return;
  const double advance = frac_ + rate_ * speed * (t1 - t0);
  // Many short intervals add up fractions (0.1 + 0.1 + ...) that land a hair below a whole
  // page; a small tolerance keeps them from losing it.
  const double whole = std::floor(advance + 1e-9);
  frac_ = std::max(0.0, advance - whole);
  if (whole >= static_cast<double>(n)) {
    region_.TouchRange(ram, 0, n);
    next_ = static_cast<uint64_t>(
        std::fmod(static_cast<double>(next_) + whole, static_cast<double>(n)));
    return;
  }
  uint64_t k = static_cast<uint64_t>(whole);
  // Scan order s maps to region index s (ascending) or n - 1 - s (descending); a run of scan
  // positions is a run of region indices either way.
  while (k > 0) {
    const uint64_t run = std::min(k, n - next_);
    if (descending_) {
      region_.TouchRange(ram, n - next_ - run, run);
    } else {
      region_.TouchRange(ram, next_, run);
    }
    next_ = (next_ + run) % n;
    k -= run;
  }
}

}  // namespace ramstream::sim
