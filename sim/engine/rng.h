// Deterministic random numbers for the simulator. Our own generator and our own distributions:
// the standard library's distributions are implementation-defined, which would make golden
// results depend on the library version.
#ifndef RAMSTREAM_SIM_ENGINE_RNG_H_
#define RAMSTREAM_SIM_ENGINE_RNG_H_

#include <cmath>
#include <cstdint>
#include <limits>

namespace ramstream::sim {

// SplitMix64 step: a good 64-bit mixer, used for seeding and hashing.
constexpr uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// xoshiro256** (Blackman and Vigna). One stream per (seed, stream id), so adding a writer to a
// scenario does not change the numbers another writer draws.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) {
    uint64_t x = Mix64(seed) ^ Mix64(stream * 0x632be59bd9b4e019ULL + 1);
    for (uint64_t& w : s_) {
      x = Mix64(x);
      w = x;
    }
    if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in (0, 1]: never 0, so log() is always finite.
  double Uniform01() { return static_cast<double>((Next() >> 11) + 1) * 0x1.0p-53; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Skips between successes of independent Bernoulli(p) trials: Next() returns how many failures
// come before the next success (geometric distribution), so walking n trials costs one draw
// and one log() per success instead of n draws.
class GeometricSkipper {
 public:
  // REQUIRES: 0 < p <= 1.
  explicit GeometricSkipper(double p) : certain_(p >= 1.0) {
    if (!certain_) inv_log_q_ = 1.0 / std::log1p(-p);
  }
  uint64_t Next(Rng& rng) const {
    if (certain_) return 0;
    const double g = std::floor(std::log(rng.Uniform01()) * inv_log_q_);
    // Anything past 2^62 is "no more successes" for every range we walk.
    if (!(g < 0x1.0p62)) return uint64_t{1} << 62;
    return static_cast<uint64_t>(g);
  }

 private:
  bool certain_;
  double inv_log_q_ = 0;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_ENGINE_RNG_H_
