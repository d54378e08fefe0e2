// A validated simulation input in the simulator's own units (bytes, seconds, pages/s): what a
// scenario file or the CLI flags turn into (sim/scenario.h), and what tests build directly.
#ifndef RAMSTREAM_SIM_SPEC_H_
#define RAMSTREAM_SIM_SPEC_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sim/engine/ram_state.h"
#include "sim/models/link.h"

namespace ramstream::sim {

// Where a writer writes: `size` bytes from `offset` of block `block`, or of the whole guest
// RAM (blocks in order) when `block` is empty. size 0: to the end.
struct RegionSpec {
  std::string block;
  uint64_t offset = 0;
  uint64_t size = 0;
};

enum class WriterKind { kUniform, kHotCold, kZipf, kSequential, kTrace };

struct Trace;  // sim/models/trace.h

struct WriterSpec {
  WriterKind kind = WriterKind::kUniform;
  double pages_per_s = 0;  // page writes (touches) per second, before throttling
  RegionSpec region;
  // kHotCold: a hot set of `working_set` bytes at `hot_offset` inside the region receives
  // `hot_fraction` of the writes; the rest of the region receives the others.
  uint64_t working_set = 0;
  double hot_fraction = 0.9;
  uint64_t hot_offset = 0;
  // kZipf: P(rank k) ~ 1/k^s, ranks mapped to pages by a fixed random permutation.
  double zipf_s = 0.99;
  // kSequential: fresh writes from `start` bytes into the region, wrapping at its end.
  bool descending = false;
  uint64_t start = 0;
  // kTrace: the parsed trace (its pages and times; rate and region do not apply).
  std::shared_ptr<const Trace> trace;
};

struct PhaseSpec {
  double duration_s = 0;  // 0 on the last phase: forever
  std::vector<WriterSpec> writers;
};

struct GuestSpec {
  std::vector<RamBlockSpec> blocks;
  ZeroLayout zero_layout = ZeroLayout::kSpread;
  // Either writers (all the time) or phases (one after the other).
  std::vector<WriterSpec> writers;
  std::vector<PhaseSpec> phases;
  bool repeat_phases = false;
};

struct LinkSpec {
  std::vector<Link::Step> steps{{0, 1.25e9}};
  double latency_s = 0;
  double buffer_bytes = 0;  // socket buffering between sender and receiver
};

struct AutoConvergeSpec {
  bool enabled = false;
  // QEMU 7.2 defaults: cpu-throttle-initial, -increment, max-cpu-throttle,
  // throttle-trigger-threshold, cpu-throttle-tailslow.
  int initial_pct = 20;
  int increment_pct = 10;
  int max_pct = 99;
  int trigger_threshold_pct = 50;
  bool tailslow = false;
};

// QEMU's xbzrle capability: a page cache on the sender (PageSender::EnableXbzrle).
struct XbzrleSpec {
  bool enabled = false;
  uint64_t cache_bytes = uint64_t{64} << 20;  // xbzrle-cache-size, QEMU's default 64 MiB
  // Bytes of the delta of a page rewritten since it was cached (pages carry no content in the
  // simulator). 3: one changed byte (zrun, nzrun, byte), what QEMU's own test guest makes;
  // 0: the page is unchanged (not sent); > 4096: overflow (sent as PAGE).
  uint64_t encoded_bytes = 3;
};

// QEMU 7.2's multifd capability without compression (PageSender::EnableMultifd).
struct MultifdSpec {
  uint32_t channels = 0;  // multifd-channels; 0: the capability is off (QEMU's default is 2)
  // From the start of the migration until every channel is connected. ram_save_setup's
  // multifd sync waits for them with dirty logging already on.
  double connect_time_s = 0;
};

// QEMU's postcopy-ram capability and the operator's migrate-start-postcopy (qemu-7.2).
struct PostcopySpec {
  bool enabled = false;  // the capability, on both sides
  // migrate-start-postcopy is issued at this time from the start of the migration, or once
  // dirty-sync-count reaches start_after_syncs (whichever comes first); neither: never.
  std::optional<double> start_after_s;
  uint64_t start_after_syncs = 0;
  double max_postcopy_bandwidth = 0;  // bytes/s after the switch; 0: unlimited (QEMU's default)
};

struct MigrationSpec {
  std::string policy = "qemu-7.2";
  // Unset: the policy's version default (QEMU 7.2: 128 MiB/s, 2010: 32 MiB/s, ideal: none).
  // 0: unlimited.
  std::optional<double> max_bandwidth;
  std::optional<double> downtime_limit_s;  // unset: the policy's default (300 ms / 30 ms)
  AutoConvergeSpec auto_converge;
  XbzrleSpec xbzrle;
  PostcopySpec postcopy;
  MultifdSpec multifd;
  double setup_time_s = 0;          // fixed setup cost before the first page
  double resume_time_s = 0;         // destination restart, added to the downtime
  uint64_t device_state_bytes = 0;  // device sections and vmdesc sent during the downtime
  double page_cost_s = 0;           // sender time per page record (CPU-bound sender)
  std::string machine_type = "pc-i440fx-7.2";  // written in the stream's configuration
};

struct RunSpec {
  uint64_t seed = 1;
  double timeout_s = 3600;       // simulated seconds of pre-copy before giving up
  uint64_t max_dirty_syncs = 0;  // 0: no limit
  uint64_t max_transferred = 0;  // bytes; 0: no limit
  bool series = true;
};

struct SimSpec {
  std::string name;
  GuestSpec guest;
  LinkSpec link;
  MigrationSpec migration;
  RunSpec run;
};

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_SPEC_H_
