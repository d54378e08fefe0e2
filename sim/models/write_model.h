// Guest write-rate models: how the vCPUs dirty pages over time. One file per model; the engine
// only sees this interface.
//
// Models generate only what the dirty log can tell apart: over an interval each page is either
// written or not, so a model draws the set of pages written at least once (for random writers,
// each page independently with probability 1 - exp(-touches per page)) instead of every
// individual touch. Applying [t0, t1) in one call or in many shorter calls gives the same
// distribution; the engine calls it as coarsely as the results allow.
#ifndef RAMSTREAM_SIM_MODELS_WRITE_MODEL_H_
#define RAMSTREAM_SIM_MODELS_WRITE_MODEL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "sim/engine/ram_state.h"

namespace ramstream::sim {

// The part of the bit space the sender may reach with its next pages: [first_bit, end_bit).
// While zero pages wait in the migration bitmap the engine applies writes before each send,
// but only writes inside this window can turn one of them into a PAGE before the next send.
struct ZeroPageWindow {
  uint64_t first_bit = 0;
  uint64_t end_bit = 0;
};

class WriteModel {
 public:
  virtual ~WriteModel() = default;
  // Writes of [t0, t1) with the vCPUs running at `speed` (1 - throttle) of full speed. With a
  // window, a model may postpone the writes that land outside it; they are applied, with the
  // same distribution, by the next call without a window or by Flush().
  virtual void Apply(double t0, double t1, double speed, RamState& ram,
                     const ZeroPageWindow* window) = 0;
  // Applies any postponed writes.
  virtual void Flush(RamState&) {}
  // Page touches per second at time t at full speed.
  virtual double TouchRate(double t) const = 0;
};

// A set of guest pages in a fixed order (region index 0..pages-1), as contiguous runs of bits.
class Region {
 public:
  struct Segment {
    uint64_t first = 0;      // region index of the segment's first page
    uint64_t first_bit = 0;  // its bit in the RamState bitmaps
    uint64_t pages = 0;
  };

  Region() = default;
  // Pages [first_page, first_page + pages) of block `block`, or of all RAM in block order when
  // block < 0. REQUIRES: inside the RAM.
  static Region Of(const RamState& ram, int block, uint64_t first_page, uint64_t pages);

  uint64_t pages() const { return pages_; }
  const std::vector<Segment>& segments() const { return segments_; }
  // Region indices [first, first + n) (no wrap-around).
  Region Slice(uint64_t first, uint64_t n) const;
  // This region followed by `other`.
  Region Then(const Region& other) const;
  uint64_t BitOf(uint64_t index) const;
  // The pages of this region whose bits lie in [first_bit, end_bit).
  Region ClipBits(uint64_t first_bit, uint64_t end_bit) const;
  // Writes region pages [first, first + n).
  void TouchRange(RamState& ram, uint64_t first, uint64_t n) const;

 private:
  void Append(uint64_t first_bit, uint64_t pages);
  std::vector<Segment> segments_;
  uint64_t pages_ = 0;
};

// Writes every page of `region` independently with probability p (0 < p <= 1), drawing from
// `rng`. Cost: geometric skips over the written pages for p < 1/16 (O(p * pages)), over the
// unwritten ones for p > 15/16, and 24 random words per 64 pages in between (p is then used
// to 2^-24).
class Rng;
void TouchEachWithProbability(RamState& ram, const Region& region, double p, Rng& rng);

// Several models at once (their rates add up).
class CompositeModel : public WriteModel {
 public:
  explicit CompositeModel(std::vector<std::unique_ptr<WriteModel>> parts)
      : parts_(std::move(parts)) {}
  void Apply(double t0, double t1, double speed, RamState& ram,
             const ZeroPageWindow* window) override {
    for (auto& p : parts_) p->Apply(t0, t1, speed, ram, window);
  }
  void Flush(RamState& ram) override {
    for (auto& p : parts_) p->Flush(ram);
  }
  double TouchRate(double t) const override {
    double r = 0;
    for (const auto& p : parts_) r += p->TouchRate(t);
    return r;
  }

 private:
  std::vector<std::unique_ptr<WriteModel>> parts_;
};

// Phases over time: phase i runs for its duration, then the next. After the last phase the
// guest stops writing, unless the phases repeat or the last one has no end.
class PhasedModel : public WriteModel {
 public:
  struct Phase {
    double duration_s;  // 0: forever (last phase only)
    std::unique_ptr<WriteModel> model;
  };
  PhasedModel(std::vector<Phase> phases, bool repeat);
  void Apply(double t0, double t1, double speed, RamState& ram,
             const ZeroPageWindow* window) override;
  void Flush(RamState& ram) override;
  double TouchRate(double t) const override;

 private:
  // Phase at time t and the end of that phase (infinity if it never ends); nullptr if idle.
  WriteModel* PhaseAt(double t, double* end) const;
  std::vector<Phase> phases_;
  bool repeat_;
  double cycle_ = 0;  // sum of durations; 0 when some phase lasts forever
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_MODELS_WRITE_MODEL_H_
