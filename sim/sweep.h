// What-if sweeps: a base scenario and axes of values for some of its knobs (bandwidth, dirty
// rate, downtime limit, ...). Every combination of axis values is one point; point i's scenario
// is the base with the knobs set to that combination, run with a seed derived from the point.
//
//   Sweep file (sim/sweep.proto, text format or JSON)   --vary bandwidth=1Gbit/s..40Gbit/s:log:16
//        │                                                      │
//        ▼                                                      ▼
//   Sweep::Load / Sweep::FromScenario ─────────────► Sweep::AddVary
//        │   axes, base ScenarioDocument
//        ▼
//   PointSpec(i) = ToSpec(base + ApplyOverrides(values of point i), seed SeedFor(i))
//
// Points are numbered row-major: the last axis varies fastest. Axis values are applied through
// ApplyOverrides (sim/scenario.h), the same code as `ramstream simulate`'s flags, so an axis
// means exactly what the flag of the same name means.
#ifndef RAMSTREAM_SIM_SWEEP_H_
#define RAMSTREAM_SIM_SWEEP_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/scenario.h"
#include "sim/spec.h"
#include "sim/status.h"

namespace ramstream::sim {

enum class AxisParam {
  kBandwidth,        // link rate (constant): --bandwidth
  kDirtyRate,        // the single writer's page-write rate: --dirty-rate
  kWorkingSet,       // hotcold hot set, or the written region: --working-set
  kDowntimeLimit,    // --downtime-limit
  kMaxBandwidth,     // --max-bandwidth
  kRam,              // --ram
  kPolicy,           // --policy
  kAutoConverge,     // on | off
  kXbzrleCache,      // --xbzrle-cache, or "off"
  kMultifdChannels,  // --multifd-channels, or "off" (0)
};

// kCount: a whole number (0 written "off").
enum class AxisKind { kRate, kSize, kDuration, kName, kSwitch, kCount };

struct AxisInfo {
  AxisParam param;
  std::string_view name;  // "dirty_rate"; "dirty-rate" is accepted too
  AxisKind kind;
  std::string_view help;
};
// Every axis, in the order above.
const std::vector<AxisInfo>& AxisTable();

struct AxisValue {
  std::string text;   // what is written into the scenario ("1.25e+09B/s", "on", "qemu-7.2")
  std::string label;  // for people and plots ("1.25 GB/s", or the value as written)
  // Base units: bytes, bytes/s, seconds, a count; 1/0 for on/off; NaN for names.
  double number = 0;
};

struct SweepAxis {
  AxisParam param = AxisParam::kBandwidth;
  std::string name;  // canonical name from AxisTable
  AxisKind kind = AxisKind::kRate;
  std::vector<AxisValue> values;
  bool log_scale = false;  // from a log range: plots use a log axis
};

class Sweep {
 public:
  Sweep();
  ~Sweep();
  Sweep(Sweep&&) noexcept;
  Sweep& operator=(Sweep&&) noexcept;

  // Reads a sweep file; ".json" (or text starting with '{') is JSON, anything else text format.
  // base_file is resolved against the sweep file's directory.
  static Result<Sweep> Load(const std::string& path);
  // `filename` labels errors; `base_dir` resolves base_file.
  static Result<Sweep> Parse(std::string_view text, ScenarioFormat format, std::string filename,
                             const std::string& base_dir);
  // A sweep without axes around a scenario (for --vary-only use).
  static Sweep FromScenario(ScenarioDocument base);

  // Adds an axis from "name=VALUES" (`--vary`), replacing an axis of the same parameter. VALUES:
  // "a,b,c", or "FROM..TO:POINTS" / "FROM..TO:lin:POINTS" / "FROM..TO:log:POINTS".
  std::optional<Error> AddVary(std::string_view spec);

  // The base scenario; flags may change it (ApplyOverrides) before the first PointSpec.
  ScenarioDocument& base() { return base_; }
  const ScenarioDocument& base() const { return base_; }
  const std::string& name() const { return name_; }
  const std::vector<SweepAxis>& axes() const { return axes_; }
  bool same_seed() const { return same_seed_; }

  // Checks that the base scenario and the first and last points are valid (usage errors).
  std::optional<Error> Validate() const;

  uint64_t size() const;  // number of points (1 without axes)
  // Value index on each axis of point `point` (< size()).
  std::vector<size_t> Coordinates(uint64_t point) const;
  uint64_t SeedFor(uint64_t point) const;
  // "bandwidth=1.25 GB/s, dirty_rate=100MB/s"
  std::string Describe(uint64_t point) const;
  // The spec of one point; errors name the point and the axis or base field. Thread-safe.
  Result<SimSpec> PointSpec(uint64_t point) const;

  // 16 hex digits identifying the sweep's content: the base scenario (after flags), the axes'
  // values and the seed rule. Output files carry it so --resume and sweep-merge can check
  // that rows belong to the same sweep.
  std::string Id() const;

 private:
  Error LocateBaseError(Error error) const;

  std::string name_;
  std::string filename_;
  ScenarioDocument base_;
  std::vector<SweepAxis> axes_;
  bool same_seed_ = false;
  // Where the sweep's own fields are (for axes and an inline base); null for --vary-only.
  class Locations;
  std::shared_ptr<const Locations> locations_;
  bool inline_base_ = false;
};

// Points of shard `index` of `count` (0 <= index < count): every count-th point from `index`,
// so each shard gets a similar mix of fast and slow points.
std::vector<uint64_t> ShardPoints(uint64_t size, uint64_t index, uint64_t count);

// Parses "I/N" (`--shard`).
std::optional<Error> ParseShard(std::string_view text, uint64_t* index, uint64_t* count);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_SWEEP_H_
