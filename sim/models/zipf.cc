#include "sim/models/zipf.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ramstream::sim {

Permutation::Permutation(uint64_t n, uint64_t key) : n_(n) {
  unsigned bits = n <= 1 ? 2 : static_cast<unsigned>(std::bit_width(n - 1));
  if (bits < 2) bits = 2;
  if (bits % 2 != 0) ++bits;
  half_bits_ = bits / 2;
  half_mask_ = (uint64_t{1} << half_bits_) - 1;
  uint64_t k = key;
  for (uint64_t& rk : keys_) {
    k = Mix64(k + 0x5851f42d4c957f2dULL);
    rk = k;
  }
}

uint64_t Permutation::Encrypt(uint64_t x) const {
  uint64_t left = x >> half_bits_;
  uint64_t right = x & half_mask_;
  for (uint64_t rk : keys_) {
    const uint64_t f = Mix64(right ^ rk) & half_mask_;
    const uint64_t next_right = left ^ f;
    left = right;
    right = next_right;
  }
  return (left << half_bits_) | right;
}

uint64_t Permutation::operator()(uint64_t x) const {
  // Cycle walking keeps a bijection on [0, n): the orbit of x leaves and re-enters the range.
  do {
    x = Encrypt(x);
  } while (x >= n_);
  return x;
}

double GeneralizedHarmonic(uint64_t n, double s) {
  constexpr uint64_t kHead = uint64_t{1} << 16;
  const uint64_t head = std::min(n, kHead);
  double sum = 0;
  // Smallest terms first for accuracy.
  for (uint64_t k = head; k >= 1; --k) sum += std::pow(static_cast<double>(k), -s);
  if (n > head) {
    // Midpoint rule for the tail: sum_{k=a..b} f(k) ~ integral from a-1/2 to b+1/2.
    const double a = static_cast<double>(head) + 0.5;
    const double b = static_cast<double>(n) + 0.5;
    if (std::fabs(1 - s) < 1e-12) {
      sum += std::log(b / a);
    } else {
      sum += (std::pow(b, 1 - s) - std::pow(a, 1 - s)) / (1 - s);
    }
  }
  return sum;
}

ZipfWriter::ZipfWriter(Region region, double pages_per_s, double s, uint64_t seed, uint64_t stream)
    : region_(std::move(region)),
      rate_(pages_per_s),
      s_(s),
      inv_harmonic_(region_.pages() == 0 ? 0 : 1 / GeneralizedHarmonic(region_.pages(), s)),
      perm_(region_.pages(), Mix64(seed ^ (stream * 0x9e3779b97f4a7c15ULL))),
      rng_(seed, stream) {}

double ZipfWriter::HitProbability(uint64_t k, double touches) const {
  return -std::expm1(-touches * std::pow(static_cast<double>(k), -s_) * inv_harmonic_);
}

void ZipfWriter::Apply(double t0, double t1, double speed, RamState& ram,
                       const ZeroPageWindow* /*window*/) {
  const uint64_t n = region_.pages();
  if (n == 0 || rate_ <= 0 || speed <= 0 || t1 <= t0) return;
  const double touches = rate_ * speed * (t1 - t0);
  for (uint64_t lo = 1; lo <= n; lo *= 2) {
    const uint64_t hi = std::min(n, 2 * lo - 1);  // bucket: ranks [lo, hi]
    const double p_lo = HitProbability(lo, touches);
    const double p_hi = HitProbability(hi, touches);
    if (p_lo <= 0) break;  // later buckets are even less likely
    if (p_hi >= 0.5) {
      // Almost every rank is written: draw the misses (probability 1-p, largest at hi).
      const double q_max = 1 - p_hi;
      if (q_max <= 0) {
        for (uint64_t k = lo; k <= hi; ++k) Write(ram, k);
        continue;
      }
      GeometricSkipper skip(q_max);
      uint64_t next_miss = lo + skip.Next(rng_);
      for (uint64_t k = lo; k <= hi; ++k) {
        if (k == next_miss) {
          // A candidate miss: it is a real miss with probability q(k)/q_max.
          const double q = 1 - HitProbability(k, touches);
          next_miss = k + 1 + skip.Next(rng_);
          if (rng_.Uniform01() <= q / q_max) continue;
        }
        Write(ram, k);
      }
      continue;
    }
    // Candidates at p_lo (the bucket's highest probability), kept with p(k)/p_lo.
    GeometricSkipper skip(p_lo);
    for (uint64_t k = lo + skip.Next(rng_); k <= hi; k += 1 + skip.Next(rng_)) {
      if (k == lo || rng_.Uniform01() <= HitProbability(k, touches) / p_lo) Write(ram, k);
    }
  }
}

}  // namespace ramstream::sim
