// Zipf-distributed page writes (key-value caches, buffer pools): a touch hits rank k with
// probability proportional to 1/k^s, and ranks map to pages through a fixed pseudo-random
// permutation so hot pages scatter over the region.
//
// Generation costs O(pages written) per call, with no table: ranks are grouped in buckets
// [2^j, 2^(j+1)); inside a bucket the write probability varies by at most 2^s, so candidates
// are drawn at the bucket's highest probability by geometric skips and thinned (or, for
// buckets that are almost surely written, the misses are drawn instead).
#ifndef RAMSTREAM_SIM_MODELS_ZIPF_H_
#define RAMSTREAM_SIM_MODELS_ZIPF_H_

#include <cstdint>

#include "sim/engine/rng.h"
#include "sim/models/write_model.h"

namespace ramstream::sim {

// A keyed bijection on [0, n): a 4-round Feistel network on the next even power of two,
// cycle-walked back into range (at most 4 steps on average).
class Permutation {
 public:
  Permutation(uint64_t n, uint64_t key);
  uint64_t operator()(uint64_t x) const;

 private:
  uint64_t Encrypt(uint64_t x) const;
  uint64_t n_;
  unsigned half_bits_;
  uint64_t half_mask_;
  uint64_t keys_[4];
};

// sum_{k=1..n} k^-s (exact head, integral tail).
double GeneralizedHarmonic(uint64_t n, double s);

class ZipfWriter : public WriteModel {
 public:
  // REQUIRES: s >= 0.
  ZipfWriter(Region region, double pages_per_s, double s, uint64_t seed, uint64_t stream);
  void Apply(double t0, double t1, double speed, RamState& ram,
             const ZeroPageWindow* window) override;
  double TouchRate(double) const override { return rate_; }

 private:
  // Probability that rank k (1-based) is touched at least once among `touches` draws.
  double HitProbability(uint64_t k, double touches) const;
  void Write(RamState& ram, uint64_t rank) const { ram.Touch(region_.BitOf(perm_(rank - 1))); }

  Region region_;
  double rate_;
  double s_;
  double inv_harmonic_;
  Permutation perm_;
  Rng rng_;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_MODELS_ZIPF_H_
