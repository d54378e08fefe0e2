#include "sim/models/trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include "sim/units.h"

namespace ramstream::sim {
namespace {

Error TraceError(const std::string& file, int line, std::string message) {
  Error e;
  e.file = file;
  e.line = line;
  e.message = std::move(message);
  return e;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

bool ParseIndex(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "0-99,4096" -> ranges in list order; "" on success, else what is wrong.
std::string ParsePages(std::string_view text, std::vector<PageRange>* out, uint64_t* count) {
  size_t i = 0;
  while (i <= text.size()) {
    size_t end = text.find(',', i);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = text.substr(i, end - i);
    const size_t dash = item.find('-');
    uint64_t first = 0;
    uint64_t last = 0;
    const bool ok =
        dash == std::string_view::npos
            ? ParseIndex(item, &first) && ((last = first), true)
            : ParseIndex(item.substr(0, dash), &first) && ParseIndex(item.substr(dash + 1), &last);
    if (!ok) {
      return "page list item \"" + std::string(item) +
             "\": expected a page index or a range FIRST-LAST";
    }
    if (last < first || last == UINT64_MAX) {
      return "page range \"" + std::string(item) + "\" ends before it starts";
    }
    out->push_back(PageRange{first, last + 1});
    *count += last + 1 - first;
    i = end + 1;
  }
  return "";
}

}  // namespace

Result<Trace> ParseTrace(std::string_view text, const std::string& filename,
                         const TraceLimits& limits) {
  Trace trace;
  trace.file = filename;
  if (text.size() > limits.max_file_bytes) {
    return TraceError(
        filename, 0,
        "trace is larger than the limit of " + std::to_string(limits.max_file_bytes) + " bytes");
  }
  std::string block;
  bool header = false;
  uint64_t ranges = 0;
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    const std::vector<std::string_view> f = Fields(line);
    if (f.empty()) continue;
    const auto fail = [&](std::string message) {
      return TraceError(filename, line_no, std::move(message));
    };
    if (!header) {
      if (f.size() != 2 || f[0] != "ramstream-trace") {
        return fail("expected the header \"ramstream-trace 1\" first");
      }
      if (f[1] != "1") return fail("unsupported trace version \"" + std::string(f[1]) + "\"");
      header = true;
      continue;
    }
    if (trace.repeat_s > 0) return fail("nothing may follow \"repeat\"");
    const auto duration = [&](std::string_view s, double* out) -> std::optional<Error> {
      Result<double> r = ParseDuration(s);
      if (!r.ok()) return fail("time \"" + std::string(s) + "\": " + r.error().message);
      *out = *r;
      return std::nullopt;
    };
    if (f[0] == "block") {
      if (f.size() != 2) return fail("expected \"block NAME\" (or \"block *\")");
      block = f[1] == "*" ? "" : std::string(f[1]);
      continue;
    }
    if (f[0] == "repeat") {
      if (f.size() != 2) return fail("expected \"repeat PERIOD\"");
      double period = 0;
      if (auto e = duration(f[1], &period)) return *e;
      if (!(period > 0)) return fail("the repeat period must be > 0");
      for (const TraceRecord& r : trace.records) {
        if (r.end_s > period || r.start_s >= period) {
          return fail("the repeat period is shorter than the record on line " +
                      std::to_string(r.line));
        }
      }
      trace.repeat_s = period;
      trace.repeat_line = line_no;
      continue;
    }
    TraceRecord rec;
    rec.line = line_no;
    rec.block = block;
    std::string_view pages;
    if (f[0] == "at") {
      if (f.size() != 3) return fail("expected \"at TIME PAGES\"");
      if (auto e = duration(f[1], &rec.start_s)) return *e;
      rec.end_s = rec.start_s;
      pages = f[2];
    } else if (f[0] == "during") {
      if (f.size() != 4) return fail("expected \"during START END PAGES\"");
      if (auto e = duration(f[1], &rec.start_s)) return *e;
      if (auto e = duration(f[2], &rec.end_s)) return *e;
      if (!(rec.end_s > rec.start_s)) return fail("the interval must end after it starts");
      pages = f[3];
    } else {
      return fail("unknown record \"" + std::string(f[0]) + "\" (use at, during, block or repeat)");
    }
    if (!trace.records.empty() && rec.start_s < trace.records.back().start_s) {
      return fail("records must be in order of start time (line " +
                  std::to_string(trace.records.back().line) + " starts later)");
    }
    if (std::string e = ParsePages(pages, &rec.pages, &rec.page_count); !e.empty()) {
      return fail(e);
    }
    ranges += rec.pages.size();
    if (trace.records.size() + 1 > limits.max_records || ranges > limits.max_ranges) {
      return fail("trace exceeds the limit of " + std::to_string(limits.max_records) +
                  " records or " + std::to_string(limits.max_ranges) + " page ranges");
    }
    trace.records.push_back(std::move(rec));
  }
  if (!header) return TraceError(filename, 0, "empty trace: expected \"ramstream-trace 1\"");
  return trace;
}

Result<Trace> LoadTrace(const std::string& path, const TraceLimits& limits) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return TraceError(path, 0, "cannot open the trace file");
  const std::streamoff size = in.tellg();
  if (size < 0 || static_cast<uint64_t>(size) > limits.max_file_bytes) {
    return TraceError(
        path, 0,
        "trace is larger than the limit of " + std::to_string(limits.max_file_bytes) + " bytes");
  }
  std::string text(static_cast<size_t>(size), '\0');
  in.seekg(0);
  in.read(text.data(), size);
  if (!in) return TraceError(path, 0, "cannot read the trace file");
  return ParseTrace(text, path, limits);
}

std::optional<Error> CheckTrace(const Trace& trace, const std::vector<RamBlockSpec>& blocks) {
  uint64_t total = 0;
  for (const RamBlockSpec& b : blocks) total += b.pages;
  for (const TraceRecord& r : trace.records) {
    uint64_t pages = total;
    if (!r.block.empty()) {
      auto it = std::find_if(blocks.begin(), blocks.end(),
                             [&](const RamBlockSpec& b) { return b.name == r.block; });
      if (it == blocks.end()) {
        return TraceError(trace.file, r.line, "no RAM block \"" + r.block + "\" in the guest");
      }
      pages = it->pages;
    }
    for (const PageRange& p : r.pages) {
      if (p.end > pages) {
        return TraceError(
            trace.file, r.line,
            "page " + std::to_string(p.end - 1) + " is past the end of " +
                (r.block.empty() ? std::string("guest RAM") : "block \"" + r.block + "\"") + " (" +
                std::to_string(pages) + " pages)");
      }
    }
  }
  return std::nullopt;
}

TraceWriter::TraceWriter(std::shared_ptr<const Trace> trace, const RamState& ram)
    : trace_(std::move(trace)) {
  for (const TraceRecord& r : trace_->records) {
    int block = -1;
    for (size_t b = 0; b < ram.blocks().size(); ++b) {
      if (ram.blocks()[b].name == r.block) block = static_cast<int>(b);
    }
    Region region;
    for (const PageRange& p : r.pages) {
      region = region.Then(Region::Of(ram, block, p.first, p.end - p.first));
    }
    regions_.push_back(std::move(region));
  }
  applied_.assign(trace_->records.size(), 0);
}

void TraceWriter::Advance(RamState& ram, double tau) {
  const std::vector<TraceRecord>& recs = trace_->records;
  for (size_t i = first_open_; i < recs.size() && recs[i].start_s < tau; ++i) {
    const TraceRecord& r = recs[i];
    uint64_t due = r.page_count;
    if (r.end_s > r.start_s && tau < r.end_s) {
      // Page k of the record is written at start + k * (end - start) / n. The tolerance
      // keeps sums of short intervals (0.25 + 0.25 + 0.05) from rounding a page early.
      const double k = std::ceil(
          (tau - r.start_s) / (r.end_s - r.start_s) * static_cast<double>(r.page_count) - 1e-9);
      due = std::min(r.page_count, static_cast<uint64_t>(k));
    }
    if (due > applied_[i]) {
      regions_[i].TouchRange(ram, applied_[i], due - applied_[i]);
      applied_[i] = due;
    }
  }
  while (first_open_ < recs.size() && applied_[first_open_] == recs[first_open_].page_count &&
         recs[first_open_].start_s < tau) {
    ++first_open_;
  }
}

void TraceWriter::Apply(double t0, double t1, double speed, RamState& ram,
                        const ZeroPageWindow* /*window*/) {
  if (!(t1 > t0) || !(speed > 0)) return;
  clock_ += speed * (t1 - t0);
  const double period = trace_->repeat_s;
  if (period <= 0) {
    Advance(ram, clock_);
    return;
  }
  while (true) {
    const double cycle_start = static_cast<double>(cycle_) * period;
    if (clock_ < cycle_start + period) {
      Advance(ram, clock_ - cycle_start);
      return;
    }
    Advance(ram, period);  // the rest of this cycle
    ++cycle_;
    std::fill(applied_.begin(), applied_.end(), 0);
    first_open_ = 0;
  }
}

double TraceWriter::TouchRate(double t) const {
  const std::vector<TraceRecord>& recs = trace_->records;
  double tau = t;
  if (trace_->repeat_s > 0) tau = std::fmod(t, trace_->repeat_s);
  // `during` records covering tau; records are sorted by start, so look back a little.
  auto it = std::upper_bound(recs.begin(), recs.end(), tau,
                             [](double v, const TraceRecord& r) { return v < r.start_s; });
  double rate = 0;
  for (int n = 0; it != recs.begin() && n < 64; ++n) {
    --it;
    if (it->end_s > tau) rate += static_cast<double>(it->page_count) / (it->end_s - it->start_s);
  }
  return rate;
}

}  // namespace ramstream::sim
