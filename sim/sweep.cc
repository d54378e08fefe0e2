#include "sim/sweep.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <utility>

#include "sim/internal/json_locator.h"
#include "sim/internal/proto_paths.h"
#include "sim/sweep.pb.h"
#include "sim/units.h"

namespace ramstream::sim {

namespace gpb = google::protobuf;
using internal::ParentPath;
using internal::TextErrors;

namespace {

constexpr uint64_t kPage = 4096;
// More points than this is almost certainly a typo (and the row index would not fit a plot).
constexpr uint64_t kMaxPoints = 100'000'000;
constexpr uint32_t kMaxAxisValues = 100'000;

const std::vector<AxisInfo> kAxes = {
    {AxisParam::kBandwidth, "bandwidth", AxisKind::kRate, "link rate, constant (10Gbit/s)"},
    {AxisParam::kDirtyRate, "dirty_rate", AxisKind::kRate,
     "page-write rate of the scenario's single writer (250MB/s, 60000pages/s)"},
    {AxisParam::kWorkingSet, "working_set", AxisKind::kSize,
     "hotcold: hot set size; other workloads: size of the region written"},
    {AxisParam::kDowntimeLimit, "downtime_limit", AxisKind::kDuration, "downtime limit (300ms)"},
    {AxisParam::kMaxBandwidth, "max_bandwidth", AxisKind::kRate,
     "sender rate limit (QEMU max-bandwidth; 0 = unlimited)"},
    {AxisParam::kRam, "ram", AxisKind::kSize, "guest RAM, one block pc.ram (8GiB)"},
    {AxisParam::kPolicy, "policy", AxisKind::kName, "ideal | qemu-2010 | qemu-7.2 | qemu-10"},
    {AxisParam::kAutoConverge, "auto_converge", AxisKind::kSwitch, "on | off"},
    {AxisParam::kXbzrleCache, "xbzrle_cache", AxisKind::kSize,
     "XBZRLE on with this cache size (64MiB), or off (qemu-7.2)"},
    {AxisParam::kMultifdChannels, "multifd_channels", AxisKind::kCount,
     "multifd with this many channels (1-255), or off / 0 (qemu-7.2)"},
};

// multifd-channels' bounds (QEMU's, and the simulator's).
constexpr uint32_t kMaxChannels = 255;

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

// Shortest decimal that reads back as `v`, without an exponent (the unit parser's input).
std::string Decimal(double v) {
  char buf[400];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

// "12.5 Gbit/s": 3-4 significant digits with a decimal prefix.
std::string FormatBits(double bytes_per_s) {
  static constexpr const char* kPrefix[] = {"", "k", "M", "G", "T", "P"};
  double v = bytes_per_s * 8;
  size_t i = 0;
  while (i + 1 < std::size(kPrefix) && std::fabs(v) >= 1000) {
    v /= 1000;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g %sbit/s", v, kPrefix[i]);
  return buf;
}

const AxisInfo* FindAxis(std::string_view name) {
  std::string n(name);
  for (char& c : n) {
    if (c == '-') c = '_';
  }
  for (const AxisInfo& a : kAxes) {
    if (a.name == n) return &a;
  }
  return nullptr;
}

std::string AxisNames() {
  std::string s;
  for (const AxisInfo& a : kAxes) {
    if (!s.empty()) s += ", ";
    s += a.name;
  }
  return s;
}

// A generated (range) or counted value: written to the scenario in base units, labelled for people.
AxisValue NumberValue(const AxisInfo& axis, double x, bool bits) {
  AxisValue v;
  switch (axis.kind) {
    case AxisKind::kRate:
      v.number = x;
      v.text = Decimal(x) + "B/s";
      v.label = bits ? FormatBits(x) : FormatRate(x);
      break;
    case AxisKind::kSize: {
      // Sizes must be whole pages: round to the nearest (at least one).
      const double pages = std::max(1.0, std::round(x / static_cast<double>(kPage)));
      const uint64_t bytes = static_cast<uint64_t>(pages) * kPage;
      v.number = static_cast<double>(bytes);
      v.text = std::to_string(bytes);
      constexpr uint64_t kMiB = uint64_t{1} << 20;
      v.label = bytes % kMiB == 0 ? std::to_string(bytes / kMiB) + " MiB" : FormatBytes(v.number);
      break;
    }
    case AxisKind::kCount: {
      const uint32_t n = static_cast<uint32_t>(std::round(x));
      v.number = n;
      v.text = std::to_string(n);
      v.label = n == 0 ? "off" : v.text;
      break;
    }
    default:  // kDuration
      v.number = x;
      v.text = Decimal(x) + "s";
      v.label = FormatDuration(x);
      break;
  }
  return v;
}

// Parses one value of an axis; the error message says what was expected.
Result<AxisValue> ParseValue(const AxisInfo& axis, std::string_view raw) {
  AxisValue v;
  v.text = Trim(raw);
  v.label = v.text;
  if (v.text.empty()) return MakeError("", "empty value");
  switch (axis.kind) {
    case AxisKind::kRate: {
      std::string t = v.text;
      if (t == "unlimited") t = "0";  // max_bandwidth's spelling of 0
      Result<double> r = ParseRate(t);
      if (!r.ok()) return r.error();
      v.number = *r;
      return v;
    }
    case AxisKind::kSize: {
      if (axis.param == AxisParam::kXbzrleCache && v.text == "off") {
        v.number = 0;  // XBZRLE disabled
        return v;
      }
      Result<uint64_t> r = ParseSize(v.text);
      if (!r.ok()) return r.error();
      v.number = static_cast<double>(*r);
      return v;
    }
    case AxisKind::kDuration: {
      Result<double> r = ParseDuration(v.text);
      if (!r.ok()) return r.error();
      v.number = *r;
      return v;
    }
    case AxisKind::kName:
      v.number = std::numeric_limits<double>::quiet_NaN();
      return v;
    case AxisKind::kSwitch:
      if (v.text == "on" || v.text == "true" || v.text == "1") {
        v.text = v.label = "on";
        v.number = 1;
        return v;
      }
      if (v.text == "off" || v.text == "false" || v.text == "0") {
        v.text = v.label = "off";
        v.number = 0;
        return v;
      }
      return MakeError("", "\"" + v.text + "\": expected on or off");
    case AxisKind::kCount: {
      uint32_t n = 0;  // "off"
      const char* end = v.text.data() + v.text.size();
      if (v.text != "off" &&
          (std::from_chars(v.text.data(), end, n).ptr != end || n > kMaxChannels)) {
        return MakeError(
            "", "\"" + v.text + "\": expected 0-" + std::to_string(kMaxChannels) + " or off");
      }
      return NumberValue(axis, n, false);
    }
  }
  return v;
}

// Values of a range; errors carry only a message and the sub-field ("from", "to", "points",
// "scale") in `field`.
Result<std::vector<AxisValue>> ExpandRange(const AxisInfo& axis, const std::string& from,
                                           const std::string& to, uint64_t points,
                                           const std::string& scale, bool* log_scale) {
  if (axis.kind == AxisKind::kName || axis.kind == AxisKind::kSwitch) {
    return MakeError("", std::string(axis.name) + " takes a list of values, not a range");
  }
  Result<AxisValue> a = ParseValue(axis, from);
  if (!a.ok()) return MakeError("from", a.error().message);
  Result<AxisValue> b = ParseValue(axis, to);
  if (!b.ok()) return MakeError("to", b.error().message);
  if (points == 0 || points > kMaxAxisValues) {
    return MakeError("points", "need 1 to " + std::to_string(kMaxAxisValues) + " points, got " +
                                   std::to_string(points));
  }
  const bool log = scale == "log";
  if (!log && !scale.empty() && scale != "linear" && scale != "lin") {
    return MakeError("scale", "unknown scale \"" + scale + "\" (use linear or log)");
  }
  if (log && (a->number <= 0 || b->number <= 0)) {
    return MakeError("from", "a log range needs both ends above 0");
  }
  *log_scale = log;
  // Label rates in bits per second when the range was written that way.
  const bool bits = from.find("bit") != std::string::npos || from.find("bps") != std::string::npos;
  std::vector<AxisValue> values;
  for (uint64_t k = 0; k < points; ++k) {
    const double f = points == 1 ? 0.0 : static_cast<double>(k) / static_cast<double>(points - 1);
    double x = log ? a->number * std::pow(b->number / a->number, f)
                   : a->number + (b->number - a->number) * f;
    if (k + 1 == points && points > 1) x = b->number;  // the end exactly, not pow's rounding
    if (k == 0) x = a->number;
    values.push_back(NumberValue(axis, x, bits));
    // Rounding (counts, whole pages) or from == to would repeat a value: identical points.
    if (values.size() >= 2 && values.back().number == values[values.size() - 2].number) {
      return MakeError("points", "the range repeats " + values.back().label +
                                     ": use fewer points or a list of values");
    }
  }
  return values;
}

// --- Locations in the sweep file (for axes and an inline base).

uint64_t Fnv1a(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

class Sweep::Locations {
 public:
  // Text format: the parse tree; JSON: the locator.
  std::unique_ptr<gpb::TextFormat::ParseInfoTree> tree;
  std::optional<internal::JsonLocator> json;

  std::optional<std::pair<int, int>> Find(const std::string& path) const {
    if (json) {
      const internal::JsonLocator::Entry* e = json->Find(path);
      if (e == nullptr) return std::nullopt;
      return std::make_pair(e->line, e->column);
    }
    return internal::TextLocation(tree.get(), pb::Sweep::descriptor(), path);
  }

  // The error at `path` (or its closest parent that appeared) of `file`.
  Error At(const std::string& file, const std::string& path, std::string message) const {
    Error e;
    e.file = file;
    e.field = path;
    e.message = std::move(message);
    for (std::string p = path; !p.empty(); p = ParentPath(p)) {
      if (auto loc = Find(p)) {
        e.line = loc->first;
        e.column = loc->second;
        break;
      }
    }
    return e;
  }
};

const std::vector<AxisInfo>& AxisTable() { return kAxes; }

Sweep::Sweep() = default;
Sweep::~Sweep() = default;
Sweep::Sweep(Sweep&&) noexcept = default;
Sweep& Sweep::operator=(Sweep&&) noexcept = default;

Sweep Sweep::FromScenario(ScenarioDocument base) {
  Sweep s;
  s.base_ = std::move(base);
  s.name_ = s.base_.message().name();
  return s;
}

Result<Sweep> Sweep::Parse(std::string_view text, ScenarioFormat format, std::string filename,
                           const std::string& base_dir) {
  Sweep sweep;
  sweep.filename_ = filename;
  auto locations = std::make_shared<Locations>();
  pb::Sweep msg;
  if (format == ScenarioFormat::kText) {
    locations->tree = std::make_unique<gpb::TextFormat::ParseInfoTree>();
    TextErrors errors;
    gpb::TextFormat::Parser parser;
    parser.RecordErrorsTo(&errors);
    parser.WriteLocationsTo(locations->tree.get());
    if (!parser.ParseFromString(std::string(text), &msg)) {
      Error e = errors.error_.value_or(Error{});
      if (e.message.empty()) e.message = "not a valid sweep in text format";
      e.file = filename;
      return e;
    }
  } else {
    Result<internal::JsonLocator> locator = internal::JsonLocator::Scan(text);
    if (!locator.ok()) {
      Error e = locator.error();
      e.file = filename;
      e.message = "bad JSON: " + e.message;
      return e;
    }
    if (std::optional<Error> e = internal::CheckJsonSchema(*locator, pb::Sweep::descriptor())) {
      e->file = filename;
      return *e;
    }
    gpb::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    const auto status = gpb::util::JsonStringToMessage(std::string(text), &msg, options);
    if (!status.ok()) {
      Error e;
      e.file = filename;
      e.message = "bad sweep JSON: " + std::string(status.message());
      return e;
    }
    locations->json = std::move(locator.value());
  }
  sweep.locations_ = locations;
  sweep.name_ = msg.name();
  sweep.same_seed_ = msg.same_seed();

  if (msg.has_base()) {
    sweep.base_.message() = msg.base();
    sweep.inline_base_ = true;
  } else if (!msg.base_file().empty()) {
    std::filesystem::path p(msg.base_file());
    if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
    Result<ScenarioDocument> doc = ScenarioDocument::Load(p.string());
    if (!doc.ok()) {
      if (doc.error().line != 0) return doc.error();
      return locations->At(filename, "base_file", doc.error().ToString());
    }
    sweep.base_ = std::move(doc.value());
  } else {
    return locations->At(filename, "", "no base scenario: set base { ... } or base_file");
  }
  if (sweep.name_.empty()) sweep.name_ = sweep.base_.message().name();

  for (int i = 0; i < msg.axes_size(); ++i) {
    const pb::Axis& a = msg.axes(i);
    const std::string path = "axes[" + std::to_string(i) + "]";
    const AxisInfo* info = FindAxis(a.param());
    if (info == nullptr) {
      return locations->At(filename, path + ".param",
                           "unknown parameter \"" + a.param() + "\" (use " + AxisNames() + ")");
    }
    for (const SweepAxis& other : sweep.axes_) {
      if (other.param == info->param) {
        return locations->At(filename, path + ".param",
                             "parameter " + std::string(info->name) + " is swept twice");
      }
    }
    SweepAxis axis;
    axis.param = info->param;
    axis.name = info->name;
    axis.kind = info->kind;
    const bool has_range = a.has_range();
    if (has_range == (a.values_size() > 0)) {
      return locations->At(filename, path, "give either values or a range");
    }
    if (has_range) {
      const pb::Range& r = a.range();
      Result<std::vector<AxisValue>> v =
          ExpandRange(*info, r.from(), r.to(), r.points(), r.scale(), &axis.log_scale);
      if (!v.ok()) {
        const std::string sub = v.error().field.empty() ? "" : "." + v.error().field;
        return locations->At(filename, path + ".range" + sub, v.error().message);
      }
      axis.values = std::move(v.value());
    } else {
      for (int k = 0; k < a.values_size(); ++k) {
        Result<AxisValue> v = ParseValue(*info, a.values(k));
        if (!v.ok()) {
          return locations->At(filename, path + ".values[" + std::to_string(k) + "]",
                               v.error().message);
        }
        axis.values.push_back(std::move(v.value()));
      }
    }
    sweep.axes_.push_back(std::move(axis));
  }
  return sweep;
}

Result<Sweep> Sweep::Load(const std::string& path) {
  std::string text;
  bool json = false;
  if (std::optional<Error> e = internal::ReadDocument(path, "sweep", &text, &json)) return *e;
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return Parse(text, json ? ScenarioFormat::kJson : ScenarioFormat::kText, path, dir);
}

std::optional<Error> Sweep::AddVary(std::string_view spec) {
  const size_t eq = spec.find('=');
  if (eq == std::string_view::npos) {
    return MakeError("--vary", "\"" + std::string(spec) +
                                   "\": expected NAME=VALUES (e.g. bandwidth=1Gbit/s..40Gbit/s:"
                                   "log:16 or policy=ideal,qemu-7.2)");
  }
  const std::string name = Trim(spec.substr(0, eq));
  const std::string values = Trim(spec.substr(eq + 1));
  const AxisInfo* info = FindAxis(name);
  const std::string field = "--vary " + name;
  if (info == nullptr) {
    return MakeError("--vary", "unknown parameter \"" + name + "\" (use " + AxisNames() + ")");
  }
  SweepAxis axis;
  axis.param = info->param;
  axis.name = info->name;
  axis.kind = info->kind;
  const size_t dots = values.find("..");
  if (dots != std::string::npos) {
    // FROM..TO:POINTS or FROM..TO:SCALE:POINTS
    const std::string from = values.substr(0, dots);
    std::string rest = values.substr(dots + 2);
    const size_t c1 = rest.find(':');
    if (c1 == std::string::npos) {
      return MakeError(
          field, "range \"" + values + "\": expected FROM..TO:POINTS or " + "FROM..TO:log:POINTS");
    }
    const std::string to = rest.substr(0, c1);
    std::string tail = rest.substr(c1 + 1);
    std::string scale;
    const size_t c2 = tail.find(':');
    if (c2 != std::string::npos) {
      scale = tail.substr(0, c2);
      tail = tail.substr(c2 + 1);
    }
    uint64_t points = 0;
    const auto [ptr, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), points);
    if (ec != std::errc() || ptr != tail.data() + tail.size()) {
      return MakeError(field,
                       "range \"" + values + "\": POINTS \"" + tail + "\" is not a whole number");
    }
    Result<std::vector<AxisValue>> v = ExpandRange(*info, from, to, points, scale, &axis.log_scale);
    if (!v.ok()) return MakeError(field, "range \"" + values + "\": " + v.error().message);
    axis.values = std::move(v.value());
  } else {
    std::string_view rest = values;
    while (true) {
      const size_t comma = rest.find(',');
      Result<AxisValue> v = ParseValue(*info, rest.substr(0, comma));
      if (!v.ok()) return MakeError(field, v.error().message);
      axis.values.push_back(std::move(v.value()));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  for (SweepAxis& a : axes_) {
    if (a.param == axis.param) {
      a = std::move(axis);
      return std::nullopt;
    }
  }
  axes_.push_back(std::move(axis));
  return std::nullopt;
}

uint64_t Sweep::size() const {
  uint64_t n = 1;
  for (const SweepAxis& a : axes_) {
    if (a.values.empty()) return 0;
    if (n > kMaxPoints / a.values.size()) return kMaxPoints + 1;
    n *= a.values.size();
  }
  return n;
}

std::vector<size_t> Sweep::Coordinates(uint64_t point) const {
  std::vector<size_t> c(axes_.size());
  for (size_t i = axes_.size(); i-- > 0;) {
    const uint64_t n = axes_[i].values.size();
    c[i] = static_cast<size_t>(point % n);
    point /= n;
  }
  return c;
}

std::string Sweep::Describe(uint64_t point) const {
  const std::vector<size_t> c = Coordinates(point);
  std::string s;
  for (size_t i = 0; i < axes_.size(); ++i) {
    if (!s.empty()) s += ", ";
    s += axes_[i].name + "=" + axes_[i].values[c[i]].label;
  }
  return s;
}

uint64_t Sweep::SeedFor(uint64_t point) const {
  const pb::Run& run = base_.message().run();
  const uint64_t base_seed = run.has_seed() ? run.seed() : 1;
  if (same_seed_) return base_seed;
  // The point's values (not its index), so adding values to an axis keeps the other points'
  // seeds and results.
  const std::vector<size_t> c = Coordinates(point);
  uint64_t h = Fnv1a("ramstream-sweep-seed");
  for (size_t i = 0; i < axes_.size(); ++i) {
    h = Fnv1a(axes_[i].name, h);
    h = Fnv1a("=", h);
    h = Fnv1a(axes_[i].values[c[i]].text, h);
    h = Fnv1a(";", h);
  }
  return SplitMix(base_seed ^ SplitMix(h));
}

Error Sweep::LocateBaseError(Error error) const {
  if (error.line != 0 || !error.file.empty()) return error;
  Error located = base_.Locate(error);
  if (located.line != 0 || located.field.rfind("--", 0) == 0) return located;
  if (inline_base_ && locations_ != nullptr && !error.field.empty()) {
    return locations_->At(filename_, "base." + error.field, error.message);
  }
  if (inline_base_ && located.file.empty()) located.file = filename_;
  return located;
}

Result<SimSpec> Sweep::PointSpec(uint64_t point) const {
  const std::vector<size_t> coords = Coordinates(point);
  ScenarioDocument doc;
  doc.message() = base_.message();
  ScenarioOverrides o;
  std::optional<bool> auto_converge;
  bool xbzrle_off = false;
  for (size_t i = 0; i < axes_.size(); ++i) {
    const AxisValue& v = axes_[i].values[coords[i]];
    switch (axes_[i].param) {
      case AxisParam::kBandwidth:
        o.bandwidth = v.text;
        break;
      case AxisParam::kDirtyRate:
        o.dirty_rate = v.text;
        break;
      case AxisParam::kWorkingSet:
        o.working_set = v.text;
        break;
      case AxisParam::kDowntimeLimit:
        o.downtime_limit = v.text;
        break;
      case AxisParam::kMaxBandwidth:
        o.max_bandwidth = v.text;
        break;
      case AxisParam::kRam:
        o.ram = v.text;
        break;
      case AxisParam::kPolicy:
        o.policy = v.text;
        break;
      case AxisParam::kAutoConverge:
        auto_converge = v.number != 0;
        break;
      case AxisParam::kXbzrleCache:
        if (v.text == "off") {
          xbzrle_off = true;
        } else {
          o.xbzrle_cache = v.text;
        }
        break;
      case AxisParam::kMultifdChannels:
        o.multifd_channels = static_cast<uint32_t>(v.number);
        break;
    }
  }
  o.seed = SeedFor(point);
  o.no_series = true;
  const auto point_error = [&](Error e) {
    // A field set by an axis: ApplyOverrides named it by its `simulate` flag.
    if (e.field.rfind("--", 0) == 0) {
      std::string name = e.field.substr(2);
      for (char& c : name) {
        if (c == '-') c = '_';
      }
      if (FindAxis(name) != nullptr) {
        e.field = "axis " + name;
      } else {
        for (const SweepAxis& a : axes_) {
          if (a.param == AxisParam::kDirtyRate || a.param == AxisParam::kWorkingSet) {
            e.field = "axis " + a.name;
          }
        }
      }
      e.file = filename_;
    } else {
      e = LocateBaseError(std::move(e));
    }
    e.message = "point " + std::to_string(point) + " (" + Describe(point) + "): " + e.message;
    return e;
  };
  if (std::optional<Error> e = ApplyOverrides(o, &doc)) return point_error(*e);
  if (auto_converge) {
    doc.message().mutable_migration()->mutable_auto_converge()->set_enabled(*auto_converge);
    doc.MarkOverride("migration.auto_converge", "--auto-converge");
  }
  if (xbzrle_off) {
    doc.message().mutable_migration()->mutable_xbzrle()->set_enabled(false);
    doc.MarkOverride("migration.xbzrle", "--xbzrle-cache");
  }
  Result<SimSpec> spec = ToSpec(doc);
  if (!spec.ok()) return point_error(spec.error());
  return spec;
}

std::optional<Error> Sweep::Validate() const {
  const uint64_t n = size();
  if (n == 0) return MakeError("axes", "an axis has no values");
  if (n > kMaxPoints) {
    return MakeError("axes", "more than " + std::to_string(kMaxPoints) + " points");
  }
  {
    Result<SimSpec> spec = ToSpec(base_);
    if (!spec.ok()) return LocateBaseError(spec.error());
  }
  for (uint64_t p : {uint64_t{0}, n - 1}) {
    Result<SimSpec> spec = PointSpec(p);
    if (!spec.ok()) return spec.error();
  }
  return std::nullopt;
}

std::string Sweep::Id() const {
  std::string text;
  gpb::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.PrintToString(base_.message(), &text);
  uint64_t h = Fnv1a("ramstream-sweep-v1;");
  h = Fnv1a(text, h);
  h = Fnv1a(same_seed_ ? ";same_seed" : ";derived_seed", h);
  for (const SweepAxis& a : axes_) {
    h = Fnv1a(";" + a.name + ":", h);
    for (const AxisValue& v : a.values) h = Fnv1a(v.text + ",", h);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<uint64_t> ShardPoints(uint64_t size, uint64_t index, uint64_t count) {
  std::vector<uint64_t> points;
  if (count == 0) return points;
  for (uint64_t p = index; p < size; p += count) points.push_back(p);
  return points;
}

std::optional<Error> ParseShard(std::string_view text, uint64_t* index, uint64_t* count) {
  const size_t slash = text.find('/');
  const auto bad = [&](const std::string& why) {
    return MakeError("--shard", "\"" + std::string(text) + "\": " + why);
  };
  if (slash == std::string_view::npos) return bad("expected I/N, e.g. 0/4");
  const std::string_view a = text.substr(0, slash);
  const std::string_view b = text.substr(slash + 1);
  auto r1 = std::from_chars(a.data(), a.data() + a.size(), *index);
  auto r2 = std::from_chars(b.data(), b.data() + b.size(), *count);
  if (r1.ec != std::errc() || r1.ptr != a.data() + a.size() || r2.ec != std::errc() ||
      r2.ptr != b.data() + b.size()) {
    return bad("expected I/N with whole numbers, e.g. 0/4");
  }
  if (*count == 0) return bad("N must be at least 1");
  if (*index >= *count) {
    return bad("I must be in 0.." + std::to_string(*count - 1) + " (shards count from 0)");
  }
  return std::nullopt;
}

}  // namespace ramstream::sim
