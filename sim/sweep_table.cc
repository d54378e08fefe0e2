#include "sim/sweep_table.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sim/report.h"
#include "sim/sweep_closed_form.h"

namespace ramstream::sim {
namespace {

using nlohmann::ordered_json;

constexpr double kPage = 4096;

// Report keys that the inputs group already holds (they echo the point's inputs).
bool IsInputKey(const std::string& key) {
  return key == "scenario" || key == "policy" || key == "seed" || key == "ram_bytes" ||
         key == "max_bandwidth" || key == "downtime_limit_s";
}

// Scalars of the report, nested objects flattened with '_' ("bytes_by_kind.page" ->
// "bytes_page"), arrays (syncs, series) left out. `null_values`: the keys only.
void FlattenReport(const ordered_json& j, bool null_values, ordered_json* out) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (IsInputKey(it.key()) || it->is_array()) continue;
    if (it->is_object()) {
      std::string prefix = it.key();
      if (prefix == "bytes_by_kind") prefix = "bytes";
      for (auto in = it->begin(); in != it->end(); ++in) {
        (*out)[prefix + "_" + in.key()] = null_values ? ordered_json() : *in;
      }
      continue;
    }
    (*out)[it.key()] = null_values ? ordered_json() : *it;
  }
}

ordered_json Number(double v) { return std::isfinite(v) ? ordered_json(v) : ordered_json(); }

std::string ShortestDouble(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string CsvField(const ordered_json& v) {
  switch (v.type()) {
    case ordered_json::value_t::null:
      return "";
    case ordered_json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case ordered_json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case ordered_json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case ordered_json::value_t::number_float: {
      const double d = v.get<double>();
      return std::isfinite(d) ? ShortestDouble(d) : "";
    }
    case ordered_json::value_t::string: {
      std::string s = v.get<std::string>();
      for (char& c : s) {
        if (c == '\n' || c == '\r') c = ' ';
      }
      if (s.find_first_of(",\"") == std::string::npos && (s.empty() || s.front() != ' ')) {
        return s;
      }
      std::string q = "\"";
      for (char c : s) {
        if (c == '"') q += '"';
        q += c;
      }
      return q + "\"";
    }
    default:
      return v.dump();
  }
}

Error FileError(const std::string& file, int line, std::string message) {
  Error e;
  e.file = file;
  e.line = line;
  e.message = std::move(message);
  return e;
}

std::vector<std::string> SplitCsvHeader(std::string_view line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    const size_t comma = line.find(',', i);
    out.emplace_back(line.substr(i, comma == std::string_view::npos ? line.npos : comma - i));
    if (comma == std::string_view::npos) break;
    i = comma + 1;
  }
  return out;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty();
}

}  // namespace

Result<SweepFormat> SweepFormatForPath(const std::string& path) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".csv") return SweepFormat::kCsv;
  if (ext == ".jsonl" || ext == ".ndjson") return SweepFormat::kJsonLines;
  Error e;
  e.file = path;
  e.message = "unknown output format: name the file *.csv or *.jsonl";
  return e;
}

ordered_json SweepRow(const Sweep& sweep, const std::string& sweep_id, uint64_t point,
                      const SimSpec* spec, const SimResult* result, const std::string& error) {
  ordered_json r;
  r["point"] = point;
  r["sweep_id"] = sweep_id;
  r["points_total"] = sweep.size();
  const std::vector<size_t> coords = sweep.Coordinates(point);
  for (size_t i = 0; i < sweep.axes().size(); ++i) {
    const SweepAxis& a = sweep.axes()[i];
    const AxisValue& v = a.values[coords[i]];
    if (a.kind == AxisKind::kName) {
      r["axis_" + a.name] = v.text;
    } else {
      r["axis_" + a.name] = Number(v.number);
      r["axis_" + a.name + "_label"] = v.label;
    }
  }
  // Inputs as the point ran.
  const ordered_json null;
  r["scenario"] = spec ? ordered_json(spec->name) : null;
  r["policy"] = spec ? ordered_json(spec->migration.policy) : null;
  r["seed"] = spec ? ordered_json(spec->run.seed) : null;
  if (spec) {
    uint64_t ram = 0;
    for (const RamBlockSpec& b : spec->guest.blocks) ram += b.pages * 4096;
    r["ram_bytes"] = ram;
  } else {
    r["ram_bytes"] = null;
  }
  r["link_bandwidth"] =
      spec && !spec->link.steps.empty() ? Number(spec->link.steps.front().bytes_per_s) : null;
  r["max_bandwidth"] = result ? Number(result->max_bandwidth) : null;
  r["downtime_limit_s"] = result ? Number(result->downtime_limit_s) : null;
  r["auto_converge"] = spec ? ordered_json(spec->migration.auto_converge.enabled) : null;
  if (spec) {
    const std::vector<WriterSpec>& writers =
        spec->guest.phases.empty() ? spec->guest.writers : spec->guest.phases.front().writers;
    double rate = 0;
    ordered_json working_set;
    for (const WriterSpec& w : writers) {
      rate += w.pages_per_s * kPage;
      if (w.kind == WriterKind::kHotCold && working_set.is_null()) working_set = w.working_set;
    }
    r["write_rate"] = Number(rate);
    r["working_set"] = working_set;
    r["timeout_s"] = Number(spec->run.timeout_s);
  } else {
    r["write_rate"] = null;
    r["working_set"] = null;
    r["timeout_s"] = null;
  }
  // Results.
  if (result) {
    FlattenReport(ResultToJson(*result, false, /*fixed_shape=*/true), false, &r);
  } else {
    FlattenReport(ResultToJson(SimResult{}, false, /*fixed_shape=*/true), true, &r);
  }
  ClosedFormPrediction model;
  if (spec && result) {
    model = PredictClosedForm(*spec, result->max_bandwidth, result->downtime_limit_s);
  }
  const bool have = model.applicable;
  const bool conv = have && model.converged;
  r["model_converged"] = have ? ordered_json(model.converged) : null;
  r["model_rounds"] = have ? ordered_json(model.rounds) : null;
  r["model_total_time_s"] = conv ? Number(model.total_time_s) : null;
  r["model_downtime_s"] = conv ? Number(model.downtime_s) : null;
  r["model_transferred_bytes"] = conv ? Number(model.transferred_bytes) : null;
  r["error"] = error;
  return r;
}

std::vector<std::string> SweepColumns(const Sweep& sweep) {
  std::vector<std::string> cols;
  const ordered_json row = SweepRow(sweep, "", 0, nullptr, nullptr, "");
  for (auto it = row.begin(); it != row.end(); ++it) cols.push_back(it.key());
  return cols;
}

std::string SweepHeader(SweepFormat format, const std::vector<std::string>& columns) {
  if (format == SweepFormat::kJsonLines) return "";
  std::string h;
  for (const std::string& c : columns) {
    if (!h.empty()) h += ',';
    h += c;
  }
  return h + "\n";
}

std::string SweepLine(SweepFormat format, const ordered_json& row) {
  if (format == SweepFormat::kJsonLines) {
    return row.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n";
  }
  std::string line;
  bool first = true;
  for (auto it = row.begin(); it != row.end(); ++it) {
    if (!first) line += ',';
    first = false;
    line += CsvField(*it);
  }
  return line + "\n";
}

Result<SweepFileContents> ReadSweepFile(const std::string& path) {
  Result<SweepFormat> format = SweepFormatForPath(path);
  if (!format.ok()) return format.error();
  std::ifstream in(path, std::ios::binary);
  if (!in) return FileError(path, 0, "cannot open the sweep output");
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  SweepFileContents out;
  out.format = *format;
  size_t pos = 0;
  int line_no = 0;
  std::vector<std::string> columns;
  bool have_id = false;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      out.partial_tail = true;  // an interrupted write
      break;
    }
    ++line_no;
    const std::string line = text.substr(pos, nl + 1 - pos);
    const std::string_view body(line.data(), line.size() - 1);
    pos = nl + 1;
    uint64_t point = 0;
    uint64_t total = 0;
    std::string id;
    if (out.format == SweepFormat::kCsv && line_no == 1) {
      if (body.rfind("point,sweep_id,points_total,", 0) != 0) {
        return FileError(path, 1,
                         "not a ramstream sweep CSV (the header must start with "
                         "point,sweep_id,points_total)");
      }
      out.header = line;
      out.complete_bytes = pos;
      continue;
    }
    if (out.format == SweepFormat::kCsv) {
      // The first three fields are never quoted.
      const size_t c1 = body.find(',');
      const size_t c2 = c1 == body.npos ? body.npos : body.find(',', c1 + 1);
      const size_t c3 = c2 == body.npos ? body.npos : body.find(',', c2 + 1);
      const std::vector<std::string> f = SplitCsvHeader(body.substr(0, c3));
      if (f.size() < 3 || !ParseU64(f[0], &point) || !ParseU64(f[2], &total)) {
        return FileError(path, line_no, "malformed row: expected point,sweep_id,points_total,...");
      }
      id = f[1];
    } else {
      const ordered_json j = ordered_json::parse(body, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("point") ||
          !j["point"].is_number_unsigned() || !j.contains("sweep_id") ||
          !j["sweep_id"].is_string() || !j.contains("points_total") ||
          !j["points_total"].is_number_unsigned()) {
        return FileError(path, line_no,
                         "malformed row: expected a JSON object with point, sweep_id and "
                         "points_total");
      }
      point = j["point"].get<uint64_t>();
      total = j["points_total"].get<uint64_t>();
      id = j["sweep_id"].get<std::string>();
      std::vector<std::string> keys;
      for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
      if (columns.empty()) {
        columns = keys;
        out.header.clear();
        for (const std::string& k : keys) out.header += k + ",";
      } else if (keys != columns) {
        return FileError(path, line_no, "row keys differ from the first row's");
      }
    }
    if (!have_id) {
      out.sweep_id = id;
      out.points_total = total;
      have_id = true;
    } else if (id != out.sweep_id || total != out.points_total) {
      return FileError(path, line_no,
                       "row of another sweep (sweep_id " + id + ", expected " + out.sweep_id + ")");
    }
    if (point >= total) {
      return FileError(path, line_no,
                       "point " + std::to_string(point) + " is outside the sweep's " +
                           std::to_string(total) + " points");
    }
    out.rows.emplace_back(point, line);
    out.complete_bytes = pos;
  }
  if (out.format == SweepFormat::kCsv && out.header.empty() && !out.partial_tail && !text.empty()) {
    return FileError(path, 1, "not a ramstream sweep CSV");
  }
  return out;
}

std::optional<Error> MergeSweepFiles(const std::vector<std::string>& inputs,
                                     const std::string& output) {
  if (inputs.empty()) return MakeError("", "no shard files to merge");
  Result<SweepFormat> out_format = SweepFormatForPath(output);
  if (!out_format.ok()) return out_format.error();
  std::vector<std::pair<uint64_t, std::string>> rows;
  std::vector<size_t> origin;  // input index of each row
  std::optional<SweepFileContents> first;
  size_t first_index = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Result<SweepFileContents> f = ReadSweepFile(inputs[i]);
    if (!f.ok()) return f.error();
    if (f->format != *out_format) {
      return FileError(inputs[i], 0, "format differs from the output's (" + output + ")");
    }
    if (f->partial_tail) {
      return FileError(inputs[i], static_cast<int>(f->rows.size()) + 2,
                       "ends in a partial line: this shard did not finish (rerun it with "
                       "--resume)");
    }
    if (!first) {
      first = *f;
      first_index = i;
    } else {
      if (f->format == SweepFormat::kCsv && f->header != first->header) {
        return FileError(inputs[i], 1, "header differs from " + inputs[first_index] + "'s");
      }
      if (!f->rows.empty() && !first->rows.empty() &&
          (f->sweep_id != first->sweep_id || f->points_total != first->points_total ||
           (f->format == SweepFormat::kJsonLines && f->header != first->header))) {
        return FileError(inputs[i], 1,
                         "rows of another sweep (sweep_id " + f->sweep_id + ", " +
                             inputs[first_index] + " has " + first->sweep_id + ")");
      }
      if (first->rows.empty() && !f->rows.empty()) {
        first = *f;
        first_index = i;
      }
    }
    for (auto& r : f->rows) {
      rows.push_back(std::move(r));
      origin.push_back(i);
    }
  }
  std::vector<size_t> order(rows.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rows[a].first < rows[b].first; });
  const uint64_t total = first->rows.empty() ? 0 : first->points_total;
  std::vector<uint64_t> missing;
  uint64_t missing_count = 0;
  uint64_t expect = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const uint64_t p = rows[order[k]].first;
    if (k > 0 && p == rows[order[k - 1]].first) {
      return MakeError("", "point " + std::to_string(p) + " appears twice (in " +
                               inputs[origin[order[k - 1]]] + " and " + inputs[origin[order[k]]] +
                               ")");
    }
    for (; expect < p; ++expect) {
      if (missing.size() < 10) missing.push_back(expect);
      ++missing_count;
    }
    expect = p + 1;
  }
  for (; expect < total; ++expect) {
    if (missing.size() < 10) missing.push_back(expect);
    ++missing_count;
  }
  if (missing_count > 0) {
    std::string list;
    for (uint64_t m : missing) list += (list.empty() ? "" : ", ") + std::to_string(m);
    if (missing_count > missing.size()) list += ", ...";
    return MakeError("", std::to_string(missing_count) + " of " + std::to_string(total) +
                             " points missing (" + list +
                             "): a shard file is missing or "
                             "incomplete");
  }
  const std::string tmp = output + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return FileError(tmp, 0, "cannot write");
    out << first->header.substr(0, first->format == SweepFormat::kCsv ? first->header.size() : 0);
    for (size_t k : order) out << rows[k].second;
    out.flush();
    if (!out) return FileError(tmp, 0, "write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, output, ec);
  if (ec) return FileError(output, 0, "cannot rename " + tmp + ": " + ec.message());
  return std::nullopt;
}

}  // namespace ramstream::sim
