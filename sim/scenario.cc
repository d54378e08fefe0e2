#include "sim/scenario.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <utility>
#include <vector>

#include "protocol/wire_format.h"
#include "sim/internal/json_locator.h"
#include "sim/internal/proto_paths.h"
#include "sim/models/trace.h"
#include "sim/simulate.h"
#include "sim/units.h"

namespace ramstream::sim {
namespace {

namespace gpb = google::protobuf;
using internal::ParentPath;
using internal::TextErrors;
constexpr uint64_t kPage = protocol::kPageSize;

constexpr std::string_view kDefaultScenario = R"pb(
  name: "default"
  description: "4 GiB guest with a database-like 32 MiB hot set, 10 Gbit/s link, QEMU 7.2 defaults"
  guest {
    ram: "4GiB"
    writers {
      rate: "100MB/s"
      hotcold { working_set: "32MiB" hot_fraction: 0.9 }
    }
  }
  link { bandwidth: "10Gbit/s" }
  migration { policy: "qemu-7.2" }
)pb";

}  // namespace

// Positions of the fields in the source text.
class ScenarioDocument::Locations {
 public:
  virtual ~Locations() = default;
  // 1-based line and column of the field at `path`, if it appeared in the source.
  virtual std::optional<std::pair<int, int>> Find(const std::string& path) const = 0;
};

namespace {

class TextLocations : public ScenarioDocument::Locations {
 public:
  TextLocations() : tree_(std::make_unique<gpb::TextFormat::ParseInfoTree>()) {}
  gpb::TextFormat::ParseInfoTree* tree() { return tree_.get(); }

  std::optional<std::pair<int, int>> Find(const std::string& path) const override {
    return internal::TextLocation(tree_.get(), pb::Scenario::descriptor(), path);
  }

 private:
  std::unique_ptr<gpb::TextFormat::ParseInfoTree> tree_;
};

class JsonLocations : public ScenarioDocument::Locations {
 public:
  explicit JsonLocations(internal::JsonLocator locator) : locator_(std::move(locator)) {}
  std::optional<std::pair<int, int>> Find(const std::string& path) const override {
    const internal::JsonLocator::Entry* e = locator_.Find(path);
    if (e == nullptr) return std::nullopt;
    return std::make_pair(e->line, e->column);
  }
  const internal::JsonLocator& locator() const { return locator_; }

 private:
  internal::JsonLocator locator_;
};

}  // namespace

ScenarioDocument::ScenarioDocument() = default;
ScenarioDocument::~ScenarioDocument() = default;
ScenarioDocument::ScenarioDocument(ScenarioDocument&&) noexcept = default;
ScenarioDocument& ScenarioDocument::operator=(ScenarioDocument&&) noexcept = default;

Result<ScenarioDocument> ScenarioDocument::Parse(std::string_view text, ScenarioFormat format,
                                                 std::string filename) {
  ScenarioDocument doc;
  doc.filename_ = std::move(filename);
  if (format == ScenarioFormat::kText) {
    auto locations = std::make_unique<TextLocations>();
    TextErrors errors;
    gpb::TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    parser.WriteLocationsTo(locations->tree());
    if (!parser.ParseFromString(std::string(text), &doc.message_)) {
      Error e = errors.error_.value_or(Error{});
      if (e.message.empty()) e.message = "not a valid scenario in text format";
      e.file = doc.filename_;
      return e;
    }
    doc.locations_ = std::move(locations);
    return doc;
  }
  Result<internal::JsonLocator> locator = internal::JsonLocator::Scan(text);
  if (!locator.ok()) {
    Error e = locator.error();
    e.file = doc.filename_;
    e.message = "bad JSON: " + e.message;
    return e;
  }
  if (std::optional<Error> e = internal::CheckJsonSchema(*locator, pb::Scenario::descriptor())) {
    e->file = doc.filename_;
    return *e;
  }
  gpb::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  const auto status = gpb::util::JsonStringToMessage(std::string(text), &doc.message_, options);
  if (!status.ok()) {
    Error e;
    e.file = doc.filename_;
    e.message = "bad scenario JSON: " + std::string(status.message());
    return e;
  }
  doc.locations_ = std::make_unique<JsonLocations>(std::move(locator.value()));
  return doc;
}

Result<ScenarioDocument> ScenarioDocument::Load(const std::string& path) {
  std::string text;
  bool json = false;
  if (std::optional<Error> e = internal::ReadDocument(path, "scenario", &text, &json)) return *e;
  return Parse(text, json ? ScenarioFormat::kJson : ScenarioFormat::kText, path);
}

std::string_view DefaultScenarioText() { return kDefaultScenario; }

ScenarioDocument ScenarioDocument::Default() {
  Result<ScenarioDocument> doc =
      Parse(kDefaultScenario, ScenarioFormat::kText, "<built-in default scenario>");
  return std::move(doc.value());  // a unit test parses it too
}

Error ScenarioDocument::Locate(Error error) const {
  if (error.field.empty()) {
    if (error.file.empty()) error.file = filename_;
    return error;
  }
  for (std::string p = error.field; !p.empty(); p = ParentPath(p)) {
    auto it = overrides_.find(p);
    if (it != overrides_.end()) {
      error.field = it->second;
      return error;
    }
  }
  error.file = filename_;
  if (locations_ != nullptr) {
    for (std::string p = error.field; !p.empty(); p = ParentPath(p)) {
      if (auto loc = locations_->Find(p)) {
        error.line = loc->first;
        error.column = loc->second;
        break;
      }
    }
  }
  return error;
}

// --- Conversion to a SimSpec.

namespace {

// Unit parsing with the error placed on `path`.
class Converter {
 public:
  explicit Converter(const ScenarioDocument& doc) : doc_(doc) {}

  bool Size(const std::string& text, const std::string& path, uint64_t* out) {
    if (text.empty()) return true;
    Result<uint64_t> r = ParseSize(text);
    if (!r.ok()) return Fail(path, r.error().message);
    *out = *r;
    return true;
  }
  bool PageSize(const std::string& text, const std::string& path, uint64_t* out) {
    if (!Size(text, path, out)) return false;
    if (*out % kPage != 0) {
      return Fail(path, "size \"" + text + "\" is not a multiple of the 4096-byte page");
    }
    return true;
  }
  bool Rate(const std::string& text, const std::string& path, double* out) {
    if (text.empty()) return true;
    Result<double> r = ParseRate(text);
    if (!r.ok()) return Fail(path, r.error().message);
    *out = *r;
    return true;
  }
  bool Duration(const std::string& text, const std::string& path, double* out) {
    if (text.empty()) return true;
    Result<double> r = ParseDuration(text);
    if (!r.ok()) return Fail(path, r.error().message);
    *out = *r;
    return true;
  }
  bool Fail(const std::string& path, std::string message) {
    if (!error_) error_ = doc_.Locate(MakeError(path, std::move(message)));
    return false;
  }
  // An error located elsewhere (a trace file and its line).
  bool Fail(Error error) {
    if (!error_) error_ = std::move(error);
    return false;
  }
  const ScenarioDocument& doc() const { return doc_; }
  const Error& error() const { return *error_; }

 private:
  const ScenarioDocument& doc_;
  std::optional<Error> error_;
};

std::string At(const std::string& base, int i) { return base + "[" + std::to_string(i) + "]"; }

bool ConvertWriter(Converter& c, const pb::Writer& w, const std::string& path, WriterSpec* out) {
  if (w.model_case() == pb::Writer::kTrace) {
    out->kind = WriterKind::kTrace;
    std::filesystem::path file = w.trace().file();
    if (file.empty()) return c.Fail(path + ".trace.file", "missing: the trace file");
    if (file.is_relative() && !c.doc().filename().empty()) {
      file = std::filesystem::path(c.doc().filename()).parent_path() / file;
    }
    Result<Trace> trace = LoadTrace(file.string());
    if (!trace.ok()) return c.Fail(trace.error());
    out->trace = std::make_shared<const Trace>(std::move(*trace));
    return true;
  }
  if (w.rate().empty()) return c.Fail(path + ".rate", "missing: the writer's page-write rate");
  double bytes_per_s = 0;
  if (!c.Rate(w.rate(), path + ".rate", &bytes_per_s)) return false;
  out->pages_per_s = bytes_per_s / static_cast<double>(kPage);
  out->region.block = w.region().block();
  if (!c.PageSize(w.region().offset(), path + ".region.offset", &out->region.offset) ||
      !c.PageSize(w.region().size(), path + ".region.size", &out->region.size)) {
    return false;
  }
  switch (w.model_case()) {
    case pb::Writer::kUniform:
      out->kind = WriterKind::kUniform;
      return true;
    case pb::Writer::kHotcold: {
      out->kind = WriterKind::kHotCold;
      const pb::HotCold& h = w.hotcold();
      if (h.working_set().empty()) {
        return c.Fail(path + ".hotcold.working_set", "missing: the hot set's size");
      }
      if (h.has_hot_fraction()) out->hot_fraction = h.hot_fraction();
      return c.PageSize(h.working_set(), path + ".hotcold.working_set", &out->working_set) &&
             c.PageSize(h.hot_offset(), path + ".hotcold.hot_offset", &out->hot_offset);
    }
    case pb::Writer::kZipf:
      out->kind = WriterKind::kZipf;
      if (w.zipf().has_s()) out->zipf_s = w.zipf().s();
      return true;
    case pb::Writer::kSequential:
      out->kind = WriterKind::kSequential;
      out->descending = w.sequential().descending();
      return c.PageSize(w.sequential().start(), path + ".sequential.start", &out->start);
    case pb::Writer::kTrace:  // handled above
    case pb::Writer::MODEL_NOT_SET:
      break;
  }
  return c.Fail(path, "choose a write model: uniform, hotcold, zipf, sequential or trace");
}

bool ConvertWriters(Converter& c, const gpb::RepeatedPtrField<pb::Writer>& writers,
                    const std::string& path, std::vector<WriterSpec>* out) {
  for (int i = 0; i < writers.size(); ++i) {
    WriterSpec w;
    if (!ConvertWriter(c, writers[i], At(path, i), &w)) return false;
    out->push_back(w);
  }
  return true;
}

// "0-159,200,768-4863": page indices and inclusive ranges (sim/scenario.proto Block).
bool ParsePageRanges(Converter& c, const std::string& text, const std::string& path,
                     std::vector<PageRange>* out) {
  size_t i = 0;
  while (i < text.size()) {
    size_t end = text.find(',', i);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(i, end - i);
    unsigned long long first = 0;
    unsigned long long last = 0;
    char tail = 0;
    const int n = std::sscanf(item.c_str(), "%llu-%llu%c", &first, &last, &tail);
    if (n == 1 && item.find('-') == std::string::npos) {
      last = first;
    } else if (n != 2 || item.empty() || item[0] < '0' || item[0] > '9') {
      return c.Fail(path, "\"" + item + "\": expected a page index or a range FIRST-LAST");
    }
    if (last < first || last == ~0ULL) {
      return c.Fail(path, "\"" + item + "\": the range ends before it starts");
    }
    out->push_back(PageRange{first, last + 1});
    i = end + 1;
  }
  return true;
}

bool ConvertGuest(Converter& c, const pb::Guest& g, GuestSpec* out) {
  const double fraction = g.has_nonzero_fraction() ? g.nonzero_fraction() : 1.0;
  if (!(fraction >= 0 && fraction <= 1)) {
    return c.Fail("guest.nonzero_fraction", "must be in [0, 1]");
  }
  if (!g.ram().empty() && g.blocks_size() > 0) {
    return c.Fail("guest.ram", "use either ram or blocks, not both");
  }
  if (!g.ram().empty()) {
    uint64_t bytes = 0;
    if (!c.PageSize(g.ram(), "guest.ram", &bytes)) return false;
    if (bytes == 0) return c.Fail("guest.ram", "must be at least one 4096-byte page");
    out->blocks.push_back(RamBlockSpec{"pc.ram", bytes / kPage, fraction});
  }
  for (int i = 0; i < g.blocks_size(); ++i) {
    const pb::Block& b = g.blocks(i);
    const std::string path = At("guest.blocks", i);
    uint64_t bytes = 0;
    if (b.size().empty()) return c.Fail(path + ".size", "missing: the block's size");
    if (!c.PageSize(b.size(), path + ".size", &bytes)) return false;
    out->blocks.push_back(RamBlockSpec{b.name(), bytes / kPage,
                                       b.has_nonzero_fraction() ? b.nonzero_fraction() : fraction});
    if (b.has_nonzero_pages()) {
      std::vector<PageRange> ranges;
      if (!ParsePageRanges(c, b.nonzero_pages(), path + ".nonzero_pages", &ranges)) return false;
      out->blocks.back().nonzero_pages = std::move(ranges);
    }
  }
  if (g.zero_layout().empty() || g.zero_layout() == "spread") {
    out->zero_layout = ZeroLayout::kSpread;
  } else if (g.zero_layout() == "front") {
    out->zero_layout = ZeroLayout::kFront;
  } else {
    return c.Fail("guest.zero_layout",
                  "unknown layout \"" + g.zero_layout() + "\" (use spread or front)");
  }
  if (!ConvertWriters(c, g.writers(), "guest.writers", &out->writers)) return false;
  for (int p = 0; p < g.phases_size(); ++p) {
    const std::string path = At("guest.phases", p);
    PhaseSpec phase;
    if (!c.Duration(g.phases(p).duration(), path + ".duration", &phase.duration_s) ||
        !ConvertWriters(c, g.phases(p).writers(), path + ".writers", &phase.writers)) {
      return false;
    }
    out->phases.push_back(std::move(phase));
  }
  out->repeat_phases = g.repeat_phases();
  return true;
}

bool ConvertLink(Converter& c, const pb::Link& l, LinkSpec* out) {
  double rate = 10e9 / 8;
  if (!c.Rate(l.bandwidth(), "link.bandwidth", &rate)) return false;
  out->steps = {{0, rate}};
  for (int i = 0; i < l.steps_size(); ++i) {
    const std::string path = At("link.steps", i);
    Link::Step step;
    if (l.steps(i).at().empty()) return c.Fail(path + ".at", "missing: when the step starts");
    if (l.steps(i).bandwidth().empty()) return c.Fail(path + ".bandwidth", "missing");
    if (!c.Duration(l.steps(i).at(), path + ".at", &step.at) ||
        !c.Rate(l.steps(i).bandwidth(), path + ".bandwidth", &step.bytes_per_s)) {
      return false;
    }
    out->steps.push_back(step);
  }
  uint64_t buffer = 0;
  if (!c.Size(l.buffer(), "link.buffer", &buffer)) return false;
  out->buffer_bytes = static_cast<double>(buffer);
  return c.Duration(l.latency(), "link.latency", &out->latency_s);
}

bool ConvertMigration(Converter& c, const pb::Migration& m, MigrationSpec* out) {
  if (!m.policy().empty()) out->policy = m.policy();
  if (m.max_bandwidth() == "unlimited") {
    out->max_bandwidth = 0;
  } else if (!m.max_bandwidth().empty()) {
    double v = 0;
    if (!c.Rate(m.max_bandwidth(), "migration.max_bandwidth", &v)) return false;
    out->max_bandwidth = v;
  }
  if (!m.downtime_limit().empty()) {
    double v = 0;
    if (!c.Duration(m.downtime_limit(), "migration.downtime_limit", &v)) return false;
    out->downtime_limit_s = v;
  }
  const pb::AutoConverge& a = m.auto_converge();
  AutoConvergeSpec& ac = out->auto_converge;
  ac.enabled = a.enabled();
  ac.tailslow = a.tailslow();
  // Clamp to int range first; ValidateSpec checks QEMU's ranges.
  const auto pct = [](uint32_t v) { return static_cast<int>(std::min<uint32_t>(v, 1000)); };
  if (a.has_initial_pct()) ac.initial_pct = pct(a.initial_pct());
  if (a.has_increment_pct()) ac.increment_pct = pct(a.increment_pct());
  if (a.has_max_pct()) ac.max_pct = pct(a.max_pct());
  if (a.has_trigger_threshold_pct()) ac.trigger_threshold_pct = pct(a.trigger_threshold_pct());
  if (!m.machine_type().empty()) out->machine_type = m.machine_type();
  out->xbzrle.enabled = m.xbzrle().enabled();
  if (m.xbzrle().has_encoded_bytes()) out->xbzrle.encoded_bytes = m.xbzrle().encoded_bytes();
  if (!c.Size(m.xbzrle().cache_size(), "migration.xbzrle.cache_size", &out->xbzrle.cache_bytes)) {
    return false;
  }
  out->multifd.channels = m.multifd().channels();
  if (!c.Duration(m.multifd().connect_time(), "migration.multifd.connect_time",
                  &out->multifd.connect_time_s)) {
    return false;
  }
  const pb::Postcopy& p = m.postcopy();
  PostcopySpec& pc = out->postcopy;
  pc.enabled = p.enabled();
  pc.start_after_syncs = p.after_syncs();
  if (!p.after().empty()) {
    double v = 0;
    if (!c.Duration(p.after(), "migration.postcopy.after", &v)) return false;
    pc.start_after_s = v;
  }
  if (p.max_postcopy_bandwidth() != "unlimited" &&
      !c.Rate(p.max_postcopy_bandwidth(), "migration.postcopy.max_postcopy_bandwidth",
              &pc.max_postcopy_bandwidth)) {
    return false;
  }
  return c.Duration(m.setup_time(), "migration.setup_time", &out->setup_time_s) &&
         c.Duration(m.resume_time(), "migration.resume_time", &out->resume_time_s) &&
         c.Size(m.device_state(), "migration.device_state", &out->device_state_bytes) &&
         c.Duration(m.page_cost(), "migration.page_cost", &out->page_cost_s);
}

bool ConvertRun(Converter& c, const pb::Run& r, RunSpec* out) {
  if (r.has_seed()) out->seed = r.seed();
  if (r.has_series()) out->series = r.series();
  out->max_dirty_syncs = r.max_dirty_syncs();
  return c.Duration(r.timeout(), "run.timeout", &out->timeout_s) &&
         c.Size(r.max_transferred(), "run.max_transferred", &out->max_transferred);
}

}  // namespace

Result<SimSpec> ToSpec(const ScenarioDocument& doc) {
  const pb::Scenario& s = doc.message();
  Converter c(doc);
  SimSpec spec;
  spec.name = s.name();
  if (!ConvertGuest(c, s.guest(), &spec.guest) || !ConvertLink(c, s.link(), &spec.link) ||
      !ConvertMigration(c, s.migration(), &spec.migration) || !ConvertRun(c, s.run(), &spec.run)) {
    return c.error();
  }
  if (std::optional<Error> e = ValidateSpec(spec)) return doc.Locate(*e);
  return spec;
}

// --- Flags.

std::optional<Error> ApplyOverrides(const ScenarioOverrides& o, ScenarioDocument* doc) {
  pb::Scenario& s = doc->message();
  if (o.ram) {
    s.mutable_guest()->clear_blocks();
    s.mutable_guest()->set_ram(*o.ram);
    doc->MarkOverride("guest.ram", "--ram");
  }
  if (o.nonzero_fraction) {
    s.mutable_guest()->set_nonzero_fraction(*o.nonzero_fraction);
    for (pb::Block& b : *s.mutable_guest()->mutable_blocks()) b.clear_nonzero_fraction();
    doc->MarkOverride("guest.nonzero_fraction", "--nonzero-fraction");
  }
  if (o.bandwidth) {
    s.mutable_link()->set_bandwidth(*o.bandwidth);
    s.mutable_link()->clear_steps();
    doc->MarkOverride("link.bandwidth", "--bandwidth");
  }
  if (o.max_bandwidth) {
    s.mutable_migration()->set_max_bandwidth(*o.max_bandwidth);
    doc->MarkOverride("migration.max_bandwidth", "--max-bandwidth");
  }
  if (o.downtime_limit) {
    s.mutable_migration()->set_downtime_limit(*o.downtime_limit);
    doc->MarkOverride("migration.downtime_limit", "--downtime-limit");
  }
  if (o.policy) {
    s.mutable_migration()->set_policy(*o.policy);
    doc->MarkOverride("migration.policy", "--policy");
  }
  if (o.auto_converge) {
    s.mutable_migration()->mutable_auto_converge()->set_enabled(true);
    doc->MarkOverride("migration.auto_converge", "--auto-converge");
  }
  if (o.xbzrle_cache) {
    s.mutable_migration()->mutable_xbzrle()->set_enabled(true);
    s.mutable_migration()->mutable_xbzrle()->set_cache_size(*o.xbzrle_cache);
    doc->MarkOverride("migration.xbzrle.cache_size", "--xbzrle-cache");
    doc->MarkOverride("migration.xbzrle", "--xbzrle-cache");
  }
  if (o.postcopy_after) {
    s.mutable_migration()->mutable_postcopy()->set_enabled(true);
    s.mutable_migration()->mutable_postcopy()->set_after(*o.postcopy_after);
    doc->MarkOverride("migration.postcopy.after", "--postcopy-after");
    doc->MarkOverride("migration.postcopy", "--postcopy-after");
  }
  if (o.multifd_channels) {
    s.mutable_migration()->mutable_multifd()->set_channels(*o.multifd_channels);
    doc->MarkOverride("migration.multifd.channels", "--multifd-channels");
    doc->MarkOverride("migration.multifd", "--multifd-channels");
  }
  if (o.multifd_connect_time) {
    s.mutable_migration()->mutable_multifd()->set_connect_time(*o.multifd_connect_time);
    doc->MarkOverride("migration.multifd.connect_time", "--multifd-connect-time");
  }
  if (o.postcopy_after_syncs) {
    s.mutable_migration()->mutable_postcopy()->set_enabled(true);
    s.mutable_migration()->mutable_postcopy()->set_after_syncs(*o.postcopy_after_syncs);
    doc->MarkOverride("migration.postcopy.after_syncs", "--postcopy-after-syncs");
    if (!o.postcopy_after) doc->MarkOverride("migration.postcopy", "--postcopy-after-syncs");
  }
  if (o.max_postcopy_bandwidth) {
    s.mutable_migration()->mutable_postcopy()->set_max_postcopy_bandwidth(
        *o.max_postcopy_bandwidth);
    doc->MarkOverride("migration.postcopy.max_postcopy_bandwidth", "--max-postcopy-bandwidth");
  }
  if (o.timeout) {
    s.mutable_run()->set_timeout(*o.timeout);
    doc->MarkOverride("run.timeout", "--timeout");
  }
  if (o.seed) s.mutable_run()->set_seed(*o.seed);
  if (o.no_series) s.mutable_run()->set_series(false);

  const bool workload =
      o.workload || o.dirty_rate || o.working_set || o.hot_fraction || o.zipf_s || o.trace;
  if (!workload) return std::nullopt;
  const std::string flag = o.workload       ? "--workload"
                           : o.dirty_rate   ? "--dirty-rate"
                           : o.working_set  ? "--working-set"
                           : o.hot_fraction ? "--hot-fraction"
                           : o.zipf_s       ? "--zipf-s"
                                            : "--trace";
  pb::Guest* g = s.mutable_guest();
  if (g->phases_size() > 0 || g->writers_size() > 1) {
    return MakeError(flag,
                     "the scenario has several writers or phases; workload flags set a "
                     "single writer (edit the scenario instead)");
  }
  if (g->writers_size() == 0) {
    if (!o.workload && !o.trace) {
      return MakeError(flag, "the scenario has no writer; choose one with --workload");
    }
    g->add_writers();
  }
  pb::Writer* w = g->mutable_writers(0);
  const std::string path = "guest.writers[0]";
  if (o.workload) {
    const std::string& k = *o.workload;
    // A new model keeps the rate and region, drops the old model's parameters.
    if (k == "uniform") {
      w->mutable_uniform();
    } else if (k == "hotcold") {
      if (!w->has_hotcold()) w->mutable_hotcold();
    } else if (k == "zipf") {
      if (!w->has_zipf()) w->mutable_zipf();
    } else if (k == "sequential") {
      if (!w->has_sequential()) w->mutable_sequential();
    } else if (k == "trace") {
      if (!o.trace && !w->has_trace()) return MakeError("--workload", "trace needs --trace FILE");
      w->mutable_trace();
    } else {
      return MakeError("--workload", "unknown workload \"" + k +
                                         "\" (use uniform, hotcold, zipf, sequential or trace)");
    }
    doc->MarkOverride(path, "--workload");
  }
  if (o.trace) {
    if (o.workload && *o.workload != "trace") {
      return MakeError("--trace", "needs --workload trace (or no --workload)");
    }
    // Relative to the working directory, not to the scenario file.
    std::error_code ec;
    const std::filesystem::path abs = std::filesystem::absolute(*o.trace, ec);
    w->mutable_trace()->set_file(ec ? *o.trace : abs.string());
    doc->MarkOverride(path + ".trace.file", "--trace");
  }
  if (o.dirty_rate) {
    w->set_rate(*o.dirty_rate);
    doc->MarkOverride(path + ".rate", "--dirty-rate");
  }
  if (o.working_set) {
    if (w->has_hotcold()) {
      w->mutable_hotcold()->set_working_set(*o.working_set);
      doc->MarkOverride(path + ".hotcold.working_set", "--working-set");
    } else {
      w->mutable_region()->set_size(*o.working_set);
      doc->MarkOverride(path + ".region.size", "--working-set");
      doc->MarkOverride(path + ".region", "--working-set");
    }
  }
  if (o.hot_fraction) {
    if (!w->has_hotcold()) return MakeError("--hot-fraction", "needs --workload hotcold");
    w->mutable_hotcold()->set_hot_fraction(*o.hot_fraction);
    doc->MarkOverride(path + ".hotcold.hot_fraction", "--hot-fraction");
  }
  if (o.zipf_s) {
    if (!w->has_zipf()) return MakeError("--zipf-s", "needs --workload zipf");
    w->mutable_zipf()->set_s(*o.zipf_s);
    doc->MarkOverride(path + ".zipf.s", "--zipf-s");
  }
  return std::nullopt;
}

}  // namespace ramstream::sim
