// One parser for every size, rate and duration the simulator reads (scenario files and flags),
// so "8GiB", "10Gbit/s", "250MB/s" and "300ms" mean the same thing everywhere.
//
//   sizes      B, KB/kB MB GB TB PB (powers of 1000), KiB MiB GiB TiB PiB (powers of 1024),
//              pages (4096 bytes); a bare number is bytes. "8GiB", "1.5 GB", "262144pages".
//   rates      a size unit per second ("250MB/s", "1GiB/s", "60000pages/s"), or bits per
//              second with powers of 1000 ("10Gbit/s", "800Mbit/s", "10Gbps"); a bare number
//              is bytes per second, as QEMU's max-bandwidth.
//   durations  ns, us, ms, s, min, h ("300ms", "1.5s", "2min"); only 0 may omit the unit.
//
// Numbers are decimal with an optional fraction and exponent; negative values are rejected.
// Units are case sensitive where SI needs it: "Mb" is rejected rather than guessed.
#ifndef RAMSTREAM_SIM_UNITS_H_
#define RAMSTREAM_SIM_UNITS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "sim/status.h"

namespace ramstream::sim {

// Bytes; a fractional result ("1.5B") is an error. Errors carry only a message; callers add
// the field and location.
Result<uint64_t> ParseSize(std::string_view text);
// Bytes per second.
Result<double> ParseRate(std::string_view text);
// Seconds.
Result<double> ParseDuration(std::string_view text);

// Human output with decimal prefixes and 3-4 significant digits: "10.65 GB", "1.25 GB/s",
// "275 ms", "8.52 s".
std::string FormatBytes(double bytes);
std::string FormatRate(double bytes_per_s);
std::string FormatDuration(double seconds);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_UNITS_H_
