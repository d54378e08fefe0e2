// sim_scenario_fuzzer: scenario text -> ScenarioDocument::Parse (text format or JSON, chosen as
// ScenarioDocument::Load does: JSON when the text starts with '{') -> ToSpec (units, defaults,
// validation, located errors) -> a bounded Simulate run; plus the unit parsers on the first line.
//
// Input: the scenario text itself, so sim/scenarios/* are seeds as they are.
// Properties: no crash, leak or sanitizer report anywhere on that path; a parse or spec error
// says what is wrong (a message); a run that succeeds reports finite, non-negative times and is
// deterministic (a second run of the same spec gives the same outcome, times and bytes).
//
// Bounds the harness enforces so that every input finishes quickly, whatever it asks for: a
// spec of more than kMaxPages guest pages is scaled down (blocks, regions, working sets and
// every byte count and rate scaled by the same factor, so the dynamics stay those of the
// scenario), at most kMaxSyncs dirty syncs and kMaxSimSeconds simulated seconds, no series,
// phases of at least 10 ms, link steps that are not down at least kMinLinkBytesPerS. Trace writers
// become uniform writers before ToSpec: they name a file to read, and a fuzzer must not open paths
// that come from its input.
//
// Run by hand from the source root, after `cmake --preset fuzz && cmake --build --preset fuzz`:
//   mkdir -p /tmp/sim_scenario_fuzzer
//   build/fuzz/fuzz/sim_scenario_fuzzer -dict=fuzz/dicts/sim_scenario_fuzzer.dict
//       -max_total_time=60 /tmp/sim_scenario_fuzzer corpus/sim_scenario_fuzzer
// (one command line), or `scripts/fuzz sim_scenario_fuzzer 60`. Replay files or directories:
//   build/fuzz/fuzz/sim_scenario_fuzzer_replay corpus/sim_scenario_fuzzer crash-<sha1>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sim/scenario.h"
#include "sim/simulate.h"
#include "sim/spec.h"
#include "sim/units.h"

namespace {

using namespace ramstream::sim;

constexpr uint64_t kMaxPages = 4096;  // 16 MiB of guest RAM
constexpr uint64_t kMaxSyncs = 64;
constexpr double kMaxSimSeconds = 600;
// A link step this slow but not down is raised to it. The run's timeout is checked between
// transfers, so one page at 12 bit/s (a 10-minute campaign's slow unit) ran the clock to
// 350,000 s, and the guest model's 500 ms phases were applied over all of it: 13.7 s under
// ASan. At 64 KiB/s a page takes 63 ms.
constexpr double kMinLinkBytesPerS = 64 * 1024;
constexpr double kMinPhaseSeconds = 0.01;
constexpr uint64_t kPageBytes = 4096;

// RAMSTREAM_FUZZ_VERBOSE=1 prints how far each input got, so a replay shows what seeds reach.
void Note(const std::string& what) {
  static const bool verbose = std::getenv("RAMSTREAM_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "  %s\n", what.c_str());
}

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "sim_scenario_fuzzer: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Replaces every set field named "trace" (the Trace writer model) anywhere in the message with
// the uniform model, via reflection, so that schema changes in sim/ need no change here.
// Returns whether there was one.
bool DropTraces(google::protobuf::Message* m) {
  const google::protobuf::Descriptor* d = m->GetDescriptor();
  const google::protobuf::Reflection* r = m->GetReflection();
  bool dropped = false;
  for (int i = 0; i < d->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = d->field(i);
    if (f->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int k = 0; k < r->FieldSize(*m, f); ++k) {
        dropped |= DropTraces(r->MutableRepeatedMessage(m, f, k));
      }
    } else if (r->HasField(*m, f)) {
      if (f->name() == "trace") {
        // The writer keeps its rate and region and becomes uniform, so the rest of the
        // scenario still runs.
        r->ClearField(m, f);
        if (const google::protobuf::FieldDescriptor* u = d->FindFieldByName("uniform")) {
          r->MutableMessage(m, u);
        }
        dropped = true;
      } else {
        dropped |= DropTraces(r->MutableMessage(m, f));
      }
    }
  }
  return dropped;
}

// Rounded down to pages. f < 1, but a uint64_t near 2^64 rounds up to 2^64 as a double, whose
// conversion back would be undefined: clamp first.
uint64_t ScaleBytes(uint64_t bytes, double f) {
  const double v = std::min(static_cast<double>(bytes) * f, 0x1p63);
  return static_cast<uint64_t>(v) / kPageBytes * kPageBytes;
}

void ScaleWriter(WriterSpec* w, double f) {
  w->pages_per_s *= f;
  w->region.offset = ScaleBytes(w->region.offset, f);
  w->region.size = ScaleBytes(w->region.size, f);
  w->working_set = ScaleBytes(w->working_set, f);
  w->hot_offset = ScaleBytes(w->hot_offset, f);
  w->start = ScaleBytes(w->start, f);
}

// Applies the bounds of the file comment.
void Bound(SimSpec* spec) {
  uint64_t pages = 0;
  for (const RamBlockSpec& b : spec->guest.blocks) pages += std::min<uint64_t>(b.pages, 1ull << 50);
  if (pages > kMaxPages) {
    const double f = static_cast<double>(kMaxPages) / static_cast<double>(pages);
    for (RamBlockSpec& b : spec->guest.blocks) {
      const uint64_t capped = std::min<uint64_t>(b.pages, 1ull << 50);
      b.pages = std::max<uint64_t>(1, ScaleBytes(capped * kPageBytes, f) / kPageBytes);
      b.nonzero_pages.reset();  // measured maps do not scale
    }
    for (WriterSpec& w : spec->guest.writers) ScaleWriter(&w, f);
    for (PhaseSpec& p : spec->guest.phases) {
      for (WriterSpec& w : p.writers) ScaleWriter(&w, f);
    }
    for (Link::Step& s : spec->link.steps) s.bytes_per_s *= f;
    spec->link.buffer_bytes *= f;
    if (spec->migration.max_bandwidth) *spec->migration.max_bandwidth *= f;
    spec->migration.xbzrle.cache_bytes = ScaleBytes(spec->migration.xbzrle.cache_bytes, f);
    spec->migration.device_state_bytes = ScaleBytes(spec->migration.device_state_bytes, f);
    spec->run.max_transferred = ScaleBytes(spec->run.max_transferred, f);
  }
  for (PhaseSpec& p : spec->guest.phases) {
    if (p.duration_s > 0) p.duration_s = std::max(p.duration_s, kMinPhaseSeconds);
  }
  for (Link::Step& s : spec->link.steps) {
    if (s.bytes_per_s > 0) s.bytes_per_s = std::max(s.bytes_per_s, kMinLinkBytesPerS);
  }
  spec->run.timeout_s = std::min(spec->run.timeout_s, kMaxSimSeconds);
  if (spec->run.max_dirty_syncs == 0 || spec->run.max_dirty_syncs > kMaxSyncs) {
    spec->run.max_dirty_syncs = kMaxSyncs;
  }
  spec->run.series = false;
}

void CheckTime(double t, const char* what) {
  if (!std::isfinite(t) || t < 0) Fail("a successful run reports a bad time", what);
}

void Units(std::string_view line) {
  // Results are not checked beyond "no crash": the unit parsers' contracts are in units_test.
  if (Result<uint64_t> s = ParseSize(line); s.ok()) (void)FormatBytes(static_cast<double>(*s));
  if (Result<double> r = ParseRate(line); r.ok()) (void)FormatRate(*r);
  if (Result<double> d = ParseDuration(line); d.ok()) (void)FormatDuration(*d);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Units(text.substr(0, std::min<size_t>(text.find('\n'), 64)));

  const size_t first = text.find_first_not_of(" \t\r\n");
  const ScenarioFormat format = first != std::string_view::npos && text[first] == '{'
                                    ? ScenarioFormat::kJson
                                    : ScenarioFormat::kText;
  Result<ScenarioDocument> doc = ScenarioDocument::Parse(text, format, "fuzz.scenario");
  if (!doc.ok()) {
    if (doc.error().message.empty()) Fail("parse error without a message", doc.error().ToString());
    Note("parse: " + doc.error().ToString());
    return 0;
  }
  if (DropTraces(&doc->message())) Note("trace writer dropped");
  Result<SimSpec> spec = ToSpec(*doc);
  if (!spec.ok()) {
    if (spec.error().message.empty()) Fail("spec error without a message", spec.error().ToString());
    Note("spec: " + spec.error().ToString());
    return 0;
  }
  Bound(&*spec);
  Result<SimResult> a = Simulate(*spec);
  if (!a.ok()) {
    Note("simulate: " + a.error().ToString());
    return 0;
  }
  Note("simulated " + std::to_string(a->ram_bytes) + " bytes of RAM: " +
       std::to_string(a->total_time_s) + " s, " + std::to_string(a->dirty_sync_count) + " syncs");
  CheckTime(a->total_time_s, "total_time_s");
  CheckTime(a->downtime_s, "downtime_s");
  CheckTime(a->precopy_time_s, "precopy_time_s");
  CheckTime(a->setup_time_s, "setup_time_s");
  Result<SimResult> b = Simulate(*spec);
  if (!b.ok() || b->outcome != a->outcome || b->total_time_s != a->total_time_s ||
      b->transferred_bytes != a->transferred_bytes || b->dirty_sync_count != a->dirty_sync_count) {
    Fail("Simulate is not deterministic", spec->name);
  }
  return 0;
}
