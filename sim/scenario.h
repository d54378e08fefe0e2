// Scenario files (sim/scenario.proto in text format or JSON) and CLI flags, turned into a
// validated SimSpec. Every error names the field and, for files, the line and column:
//
//   db.textproto:12:5: guest.writers[0].rate: rate "250 MB": unknown unit ...
//   --bandwidth: rate "10Gb/s": unknown unit "Gb/s" ...
#ifndef RAMSTREAM_SIM_SCENARIO_H_
#define RAMSTREAM_SIM_SCENARIO_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sim/scenario.pb.h"
#include "sim/spec.h"
#include "sim/status.h"

namespace ramstream::sim {

enum class ScenarioFormat { kText, kJson };

// A parsed scenario and where each of its fields came from.
class ScenarioDocument {
 public:
  ScenarioDocument();
  ~ScenarioDocument();
  ScenarioDocument(ScenarioDocument&&) noexcept;
  ScenarioDocument& operator=(ScenarioDocument&&) noexcept;

  // `filename` only labels errors.
  static Result<ScenarioDocument> Parse(std::string_view text, ScenarioFormat format,
                                        std::string filename);
  // Reads a file; ".json" (or text starting with '{') is JSON, anything else text format.
  static Result<ScenarioDocument> Load(const std::string& path);
  // The built-in scenario `ramstream simulate` runs without arguments.
  static ScenarioDocument Default();

  pb::Scenario& message() { return message_; }
  const std::string& filename() const { return filename_; }
  const pb::Scenario& message() const { return message_; }

  // Records that a flag set the field at `path`; errors there name the flag.
  void MarkOverride(const std::string& path, const std::string& flag) { overrides_[path] = flag; }
  // Adds file, line and column (or the flag) to an error whose field is a scenario path.
  Error Locate(Error error) const;

  // Field positions in the source (text format or JSON); implemented in scenario.cc.
  class Locations;

 private:
  pb::Scenario message_;
  std::string filename_;
  std::unique_ptr<Locations> locations_;
  std::map<std::string, std::string> overrides_;
};

// The text of the built-in default scenario (text format).
std::string_view DefaultScenarioText();

// Converts units, applies defaults and validates (ValidateSpec), with located errors.
Result<SimSpec> ToSpec(const ScenarioDocument& doc);

// The `ramstream simulate` knobs. Unset fields leave the scenario as it is.
struct ScenarioOverrides {
  std::optional<std::string> ram;
  std::optional<double> nonzero_fraction;
  std::optional<std::string> bandwidth;  // a constant link (drops bandwidth steps)
  std::optional<std::string> max_bandwidth;
  std::optional<std::string> downtime_limit;
  // Workload knobs act on the scenario's single writer (one is created if there is none).
  std::optional<std::string> workload;  // uniform | hotcold | zipf | sequential | trace
  std::optional<std::string> dirty_rate;
  std::optional<std::string> working_set;  // hotcold: the hot set; others: the region size
  std::optional<double> hot_fraction;
  std::optional<double> zipf_s;
  std::optional<std::string> trace;  // trace file (implies --workload trace)
  std::optional<std::string> policy;
  bool auto_converge = false;
  std::optional<std::string> xbzrle_cache;  // turns XBZRLE on with this cache size
  // Turn postcopy-ram on and issue migrate-start-postcopy after this time / sync count.
  std::optional<std::string> postcopy_after;
  std::optional<uint32_t> postcopy_after_syncs;
  std::optional<std::string> max_postcopy_bandwidth;
  std::optional<uint32_t> multifd_channels;         // the multifd capability with N channels
  std::optional<std::string> multifd_connect_time;  // when the channels are connected
  std::optional<std::string> timeout;
  std::optional<uint64_t> seed;
  bool no_series = false;
};

// Writes the overrides into the document (marking the fields they set).
std::optional<Error> ApplyOverrides(const ScenarioOverrides& overrides, ScenarioDocument* doc);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_SCENARIO_H_
