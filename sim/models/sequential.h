// Sequential fresh writes (a scan): each touch hits the next page of the region, wrapping at
// its end, so until the wrap every touch dirties a new page and the geometric pre-copy model is
// exact. Direction and start point are parameters because scans interact with QEMU's ascending
// bitmap walk.
#ifndef RAMSTREAM_SIM_MODELS_SEQUENTIAL_H_
#define RAMSTREAM_SIM_MODELS_SEQUENTIAL_H_

#include <cstdint>

#include "sim/models/write_model.h"

namespace ramstream::sim {

class SequentialWriter : public WriteModel {
 public:
  // start_page: region index of the first page written.
  SequentialWriter(Region region, double pages_per_s, uint64_t start_page, bool descending);
  void Apply(double t0, double t1, double speed, RamState& ram,
             const ZeroPageWindow* window) override;
  double TouchRate(double) const override { return rate_; }

 private:
  Region region_;
  double rate_;
  bool descending_;
  uint64_t next_ = 0;  // scan position (0 = first page in scan order)
  double frac_ = 0;    // fraction of a page written but not yet complete
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_MODELS_SEQUENTIAL_H_
