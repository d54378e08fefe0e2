#include "sim/models/write_model.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <utility>

#include "sim/engine/rng.h"

namespace ramstream::sim {

// --- Region

void Region::Append(uint64_t first_bit, uint64_t pages) {
  if (pages == 0) return;
  if (!segments_.empty()) {
    Segment& last = segments_.back();
    if (last.first_bit + last.pages == first_bit) {
      last.pages += pages;
      pages_ += pages;
      return;
    }
  }
  segments_.push_back(Segment{pages_, first_bit, pages});
  pages_ += pages;
}

Region Region::Of(const RamState& ram, int block, uint64_t first_page, uint64_t pages) {
  Region r;
  if (block >= 0) {
    const RamBlockLayout& b = ram.blocks()[static_cast<size_t>(block)];
    assert(first_page + pages <= b.pages);
    r.Append(b.first_bit + first_page, pages);
    return r;
  }
  // Guest-wide page numbers run through the blocks in order.
  uint64_t skip = first_page;
  uint64_t left = pages;
  for (const RamBlockLayout& b : ram.blocks()) {
    if (left == 0) break;
    if (skip >= b.pages) {
      skip -= b.pages;
      continue;
    }
    const uint64_t take = std::min(left, b.pages - skip);
    r.Append(b.first_bit + skip, take);
    left -= take;
    skip = 0;
  }
  assert(left == 0);
  return r;
}

Region Region::Slice(uint64_t first, uint64_t n) const {
  Region r;
  for (const Segment& s : segments_) {
    const uint64_t lo = std::max(first, s.first);
    const uint64_t hi = std::min(first + n, s.first + s.pages);
    if (lo < hi) r.Append(s.first_bit + (lo - s.first), hi - lo);
  }
  return r;
}

Region Region::Then(const Region& other) const {
  Region r = *this;
  for (const Segment& s : other.segments_) r.Append(s.first_bit, s.pages);
  return r;
}

uint64_t Region::BitOf(uint64_t index) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), index,
                             [](uint64_t i, const Segment& s) { return i < s.first; });
  const Segment& s = *(it - 1);
  return s.first_bit + (index - s.first);
}

Region Region::ClipBits(uint64_t first_bit, uint64_t end_bit) const {
  Region r;
  for (const Segment& s : segments_) {
    const uint64_t lo = std::max(first_bit, s.first_bit);
    const uint64_t hi = std::min(end_bit, s.first_bit + s.pages);
    if (lo < hi) r.Append(lo, hi - lo);
  }
  return r;
}

void Region::TouchRange(RamState& ram, uint64_t first, uint64_t n) const {
  for (const Segment& s : segments_) {
    const uint64_t lo = std::max(first, s.first);
    const uint64_t hi = std::min(first + n, s.first + s.pages);
    if (lo < hi) ram.TouchRange(s.first_bit + (lo - s.first), hi - lo);
  }
}

namespace {

// Probabilities between these use whole random words; outside, geometric skips are cheaper.
constexpr double kWordwiseMin = 1.0 / 16;
constexpr double kWordwiseMax = 15.0 / 16;
constexpr int kWordwiseBits = 24;  // p is used to 2^-24

// 64 independent bits, each set with probability p rounded to kWordwiseBits binary digits:
// fold random words over p's binary digits from the least significant up (a 1 digit ORs, a
// 0 digit ANDs), so bit j ends up set with probability sum(d_i 2^-i).
uint64_t BernoulliWord(uint32_t p_fixed, Rng& rng) {
  uint64_t m = 0;
  for (int i = 0; i < kWordwiseBits; ++i) {
    const uint64_t r = rng.Next();
    m = ((p_fixed >> i) & 1) != 0 ? (m | r) : (m & r);
  }
  return m;
}

}  // namespace

void TouchEachWithProbability(RamState& ram, const Region& region, double p, Rng& rng) {
  if (p <= 0 || region.pages() == 0) return;
  if (p >= kWordwiseMin && p <= kWordwiseMax) {
    const uint32_t p_fixed = static_cast<uint32_t>(std::lround(std::ldexp(p, kWordwiseBits)));
    for (const Region::Segment& s : region.segments()) {
      uint64_t bit = s.first_bit;
      const uint64_t end = s.first_bit + s.pages;
      while (bit < end) {
        const unsigned lo = static_cast<unsigned>(bit & 63);
        const uint64_t in_word = std::min<uint64_t>(64 - lo, end - bit);
        const uint64_t mask = BitRangeMask(lo, lo + static_cast<unsigned>(in_word));
        ram.TouchWord(static_cast<size_t>(bit >> 6), BernoulliWord(p_fixed, rng) & mask);
        bit += in_word;
      }
    }
    return;
  }
  if (p <= 0.5) {
    // Walk the hits: the gap to the next written page is geometric.
    GeometricSkipper skip(p);
    for (const Region::Segment& s : region.segments()) {
      // Skips restart per segment; memorylessness makes this the same distribution.
      for (uint64_t i = skip.Next(rng); i < s.pages; i += 1 + skip.Next(rng)) {
        ram.Touch(s.first_bit + i);
      }
    }
    return;
  }
  // Mostly written: walk the misses instead and write the runs between them.
  const double q = 1 - p;
  if (q * static_cast<double>(region.pages()) < 1e-12) {
    region.TouchRange(ram, 0, region.pages());
    return;
  }
  GeometricSkipper skip(q);
  for (const Region::Segment& s : region.segments()) {
    uint64_t i = 0;
    while (i < s.pages) {
      const uint64_t miss = i + skip.Next(rng);
      const uint64_t end = std::min(miss, s.pages);
      if (end > i) ram.TouchRange(s.first_bit + i, end - i);
      i = miss + 1;
    }
  }
}

// --- PhasedModel

PhasedModel::PhasedModel(std::vector<Phase> phases, bool repeat)
    : phases_(std::move(phases)), repeat_(repeat) {
  for (const Phase& p : phases_) {
    if (p.duration_s <= 0) {
      cycle_ = 0;
      return;
    }
    cycle_ += p.duration_s;
  }
}

WriteModel* PhasedModel::PhaseAt(double t, double* end) const {
  double base = 0;
  if (repeat_ && cycle_ > 0) {
    base = std::floor(t / cycle_) * cycle_;
    // Guard against t/cycle rounding up to the next cycle.
    if (base > t) base -= cycle_;
  }
  double start = base;
  for (const Phase& p : phases_) {
    if (p.duration_s <= 0) {
      *end = std::numeric_limits<double>::infinity();
      return p.model.get();
    }
    if (t < start + p.duration_s) {
      *end = start + p.duration_s;
      return p.model.get();
    }
    start += p.duration_s;
  }
  if (repeat_ && cycle_ > 0) {  // rounding at the very end of a cycle
    *end = start + phases_.front().duration_s;
    return phases_.front().model.get();
  }
  *end = std::numeric_limits<double>::infinity();
  return nullptr;
}

void PhasedModel::Apply(double t0, double t1, double speed, RamState& ram,
                        const ZeroPageWindow* window) {
  double t = t0;
  while (t < t1) {
    double end = 0;
    WriteModel* m = PhaseAt(t, &end);
    const double stop = std::min(end, t1);
    if (m != nullptr) m->Apply(t, stop, speed, ram, window);
    if (!(stop > t)) break;  // no progress possible (rounding): give up on the sliver
    t = stop;
  }
  // Earlier phases may still hold postponed writes.
  if (window == nullptr) Flush(ram);
}

void PhasedModel::Flush(RamState& ram) {
  for (Phase& p : phases_) p.model->Flush(ram);
}

double PhasedModel::TouchRate(double t) const {
  double end = 0;
  const WriteModel* m = PhaseAt(t, &end);
  return m == nullptr ? 0 : m->TouchRate(t);
}

}  // namespace ramstream::sim
