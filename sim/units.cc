#include "sim/units.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "protocol/wire_format.h"

namespace ramstream::sim {
namespace {

struct Unit {
  std::string_view name;
  double factor;
};

// Size units in bytes. Bare "K", "M", "G" are deliberately absent: QEMU's -m reads them as
// binary, many tools as decimal, so we ask for an explicit KB/KiB.
constexpr std::array<Unit, 13> kSizeUnits = {{
    {"B", 1.0},
    {"KB", 1e3},
    {"kB", 1e3},
    {"MB", 1e6},
    {"GB", 1e9},
    {"TB", 1e12},
    {"PB", 1e15},
    {"KiB", 1024.0},
    {"MiB", 1024.0 * 1024},
    {"GiB", 1024.0 * 1024 * 1024},
    {"TiB", 1024.0 * 1024 * 1024 * 1024},
    {"PiB", 1024.0 * 1024 * 1024 * 1024 * 1024},
    {"pages", static_cast<double>(protocol::kPageSize)},
}};

// Bit-rate units in bytes per second (powers of 1000, as link speeds are quoted).
constexpr std::array<Unit, 11> kBitRateUnits = {{
    {"bit/s", 1.0 / 8},
    {"Kbit/s", 1e3 / 8},
    {"kbit/s", 1e3 / 8},
    {"Mbit/s", 1e6 / 8},
    {"Gbit/s", 1e9 / 8},
    {"Tbit/s", 1e12 / 8},
    {"bps", 1.0 / 8},
    {"kbps", 1e3 / 8},
    {"Kbps", 1e3 / 8},
    {"Mbps", 1e6 / 8},
    {"Gbps", 1e9 / 8},
}};

constexpr std::array<Unit, 8> kDurationUnits = {{
    {"ns", 1e-9},
    {"us", 1e-6},
    {"\xC2\xB5s", 1e-6},  // µs
    {"ms", 1e-3},
    {"s", 1.0},
    {"min", 60.0},
    {"h", 3600.0},
    {"sec", 1.0},
}};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct Split {
  double number = 0;
  std::string_view unit;
};

// Splits "1.5 GiB" into 1.5 and "GiB". The number must be a plain non-negative decimal.
Result<Split> SplitNumber(std::string_view text, std::string_view what) {
  std::string_view s = Trim(text);
  if (s.empty()) return MakeError("", std::string("empty ") + std::string(what));
  if (s.front() == '-') {
    return MakeError("", std::string(what) + " \"" + std::string(text) + "\" is negative");
  }
  if (s.front() == '+') s.remove_prefix(1);
  // from_chars would also accept "inf" and "nan"; insist on a digit or a point first.
  if (s.empty() || !((s.front() >= '0' && s.front() <= '9') || s.front() == '.')) {
    return MakeError(
        "", std::string(what) + " \"" + std::string(text) + "\" does not start with a number");
  }
  Split out;
  auto [ptr, ec] =
      std::from_chars(s.data(), s.data() + s.size(), out.number, std::chars_format::general);
  if (ec != std::errc() || !std::isfinite(out.number)) {
    return MakeError("", std::string(what) + " \"" + std::string(text) + "\" is not a number");
  }
  out.unit = Trim(std::string_view(ptr, static_cast<size_t>(s.data() + s.size() - ptr)));
  return out;
}

template <size_t N>
std::optional<double> Lookup(const std::array<Unit, N>& units, std::string_view name) {
  for (const Unit& u : units) {
    if (u.name == name) return u.factor;
  }
  return std::nullopt;
}

std::string Quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Format(double value, std::string_view unit) {
  // Four significant digits, trailing zeros dropped: "10.65 GB", "343.6 MB", "275 ms".
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.4g %.*s", value, static_cast<int>(unit.size()), unit.data());
  return buf;
}

std::string FormatScaled(double v, std::string_view suffix) {
  static constexpr std::array<std::string_view, 6> kPrefix = {"", "k", "M", "G", "T", "P"};
  size_t i = 0;
  while (i + 1 < kPrefix.size() && std::fabs(v) >= 1000) {
    v /= 1000;
    ++i;
  }
  return Format(v, std::string(kPrefix[i]) + std::string(suffix));
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  Result<Split> split = SplitNumber(text, "size");
  if (!split.ok()) return split.error();
  double factor = 1.0;
  if (!split->unit.empty()) {
    std::optional<double> f = Lookup(kSizeUnits, split->unit);
    if (!f) {
      return MakeError("", "size " + Quoted(text) + ": unknown unit " + Quoted(split->unit) +
                               " (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB or pages)");
    }
    factor = *f;
  }
  const double bytes = split->number * factor;
  if (bytes >= 18446744073709551616.0) {
    return MakeError("", "size " + Quoted(text) + " is too large");
  }
  const double rounded = std::nearbyint(bytes);
  // Decimal prefixes times fractions ("1.1GB") are exact in decimal but not in binary floating
  // point; accept anything within a millionth of a byte of a whole number.
  if (std::fabs(bytes - rounded) > 1e-6 + bytes * 1e-12) {
    return MakeError("", "size " + Quoted(text) + " is not a whole number of bytes");
  }
  return static_cast<uint64_t>(rounded);
}

Result<double> ParseRate(std::string_view text) {
  Result<Split> split = SplitNumber(text, "rate");
  if (!split.ok()) return split.error();
  std::string_view unit = split->unit;
  if (unit.empty()) return split->number;  // bytes per second
  if (std::optional<double> f = Lookup(kBitRateUnits, unit)) return split->number * *f;
  if (unit.size() > 2 && unit.substr(unit.size() - 2) == "/s") {
    if (std::optional<double> f = Lookup(kSizeUnits, unit.substr(0, unit.size() - 2))) {
      return split->number * *f;
    }
  }
  return MakeError("", "rate " + Quoted(text) + ": unknown unit " + Quoted(unit) +
                           " (use B/s, MB/s, GB/s, MiB/s, GiB/s, pages/s, Mbit/s, Gbit/s or "
                           "Gbps)");
}

Result<double> ParseDuration(std::string_view text) {
  Result<Split> split = SplitNumber(text, "duration");
  if (!split.ok()) return split.error();
  if (split->unit.empty()) {
    if (split->number == 0) return 0.0;
    return MakeError(
        "", "duration " + Quoted(text) + " needs a unit (ns, us, ms, s, min or h), e.g. \"300ms\"");
  }
  std::optional<double> f = Lookup(kDurationUnits, split->unit);
  if (!f) {
    return MakeError("", "duration " + Quoted(text) + ": unknown unit " + Quoted(split->unit) +
                             " (use ns, us, ms, s, min or h)");
  }
  return split->number * *f;
}

std::string FormatBytes(double bytes) { return FormatScaled(bytes, "B"); }

std::string FormatRate(double bytes_per_s) { return FormatScaled(bytes_per_s, "B/s"); }

std::string FormatDuration(double seconds) {
  if (std::isinf(seconds)) return "inf";
  if (seconds != 0 && std::fabs(seconds) < 1e-3) return Format(seconds * 1e6, "us");
  if (seconds != 0 && std::fabs(seconds) < 1) return Format(seconds * 1000, "ms");
  if (seconds >= 3600) return Format(seconds / 3600, "h");
  return Format(seconds, "s");
}

}  // namespace ramstream::sim
