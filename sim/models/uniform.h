// Uniform random page writes over a region: every touch picks a page uniformly. Over an
// interval with T touches on n pages, each page is written with probability 1 - exp(-T/n)
// (the Poisson limit), which gives the recursion and stall fractions of
// docs simulation-models.md section 4.
#ifndef RAMSTREAM_SIM_MODELS_UNIFORM_H_
#define RAMSTREAM_SIM_MODELS_UNIFORM_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "sim/engine/rng.h"
#include "sim/models/write_model.h"

namespace ramstream::sim {

class UniformWriter : public WriteModel {
 public:
  UniformWriter(Region region, double pages_per_s, uint64_t seed, uint64_t stream)
      : region_(std::move(region)), rate_(pages_per_s), rng_(seed, stream) {}
  void Apply(double t0, double t1, double speed, RamState& ram,
             const ZeroPageWindow* window) override;
  void Flush(RamState& ram) override;
  double TouchRate(double) const override { return rate_; }

 private:
  // Writes exposure (touches over the whole region) `touches` to the region's pages in bits
  // [first_bit, end_bit).
  void Expose(RamState& ram, uint64_t first_bit, uint64_t end_bit, double touches);

  Region region_;
  double rate_;
  Rng rng_;
  // Touches since the last flush, and how much of it each stretch of the bit space has
  // received: marks_[i] = {end bit, touches applied}, stretches in order, the last one open.
  double touches_ = 0;
  std::vector<std::pair<uint64_t, double>> marks_;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_MODELS_UNIFORM_H_
