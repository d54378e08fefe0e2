// Hot/cold working set (WWS): a hot set receives a share of the writes (so it is re-dirtied
// every hot_pages / hot_rate seconds), the rest of the region receives the others, uniformly in
// both parts. The pre-copy downtime floor is about the hot set's size over the link rate.
#ifndef RAMSTREAM_SIM_MODELS_HOT_COLD_H_
#define RAMSTREAM_SIM_MODELS_HOT_COLD_H_

#include <cstdint>

#include "sim/models/uniform.h"
#include "sim/models/write_model.h"

namespace ramstream::sim {

class HotColdWriter : public WriteModel {
 public:
  // Hot set: region pages [hot_first, hot_first + hot_pages); cold: the others.
  HotColdWriter(const Region& region, uint64_t hot_first, uint64_t hot_pages, double pages_per_s,
                double hot_fraction, uint64_t seed, uint64_t stream);
  void Apply(double t0, double t1, double speed, RamState& ram,
             const ZeroPageWindow* window) override {
    hot_.Apply(t0, t1, speed, ram, window);
    cold_.Apply(t0, t1, speed, ram, window);
  }
  void Flush(RamState& ram) override {
    hot_.Flush(ram);
    cold_.Flush(ram);
  }
  double TouchRate(double t) const override { return hot_.TouchRate(t) + cold_.TouchRate(t); }

 private:
  UniformWriter hot_;
  UniformWriter cold_;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_MODELS_HOT_COLD_H_
