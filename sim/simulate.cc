#include "sim/simulate.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "protocol/wire_format.h"
#include "sim/engine/engine.h"
#include "sim/models/factory.h"
#include "sim/models/trace.h"
#include "sim/policies/policy.h"

namespace ramstream::sim {
namespace {

constexpr uint64_t kPage = protocol::kPageSize;

std::string Indexed(const std::string& base, size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

std::optional<Error> ValidateWriter(const WriterSpec& w, const std::string& path,
                                    const GuestSpec& guest) {
  if (!(w.pages_per_s >= 0) || !std::isfinite(w.pages_per_s)) {
    return MakeError(path + ".rate", "must be a finite rate >= 0");
  }
  // The region must fit in its block (or the guest).
  uint64_t space = 0;
  if (w.region.block.empty()) {
    for (const RamBlockSpec& b : guest.blocks) space += b.pages * kPage;
  } else {
    bool found = false;
    for (const RamBlockSpec& b : guest.blocks) {
      if (b.name == w.region.block) {
        space = b.pages * kPage;
        found = true;
      }
    }
    if (!found) return MakeError(path + ".region.block", "no RAM block \"" + w.region.block + "\"");
  }
  if (w.region.offset % kPage != 0) {
    return MakeError(path + ".region.offset", "must be a multiple of the 4096-byte page");
  }
  if (w.region.size % kPage != 0) {
    return MakeError(path + ".region.size", "must be a multiple of the 4096-byte page");
  }
  if (w.region.offset >= space) {
    return MakeError(path + ".region.offset", "is past the end of the RAM it refers to (" +
                                                  std::to_string(space) + " bytes)");
  }
  const uint64_t size = w.region.size == 0 ? space - w.region.offset : w.region.size;
  if (w.region.size > space - w.region.offset) {
    return MakeError(path + ".region.size", "region ends past the end of the RAM it refers to (" +
                                                std::to_string(space) + " bytes)");
  }
  switch (w.kind) {
    case WriterKind::kUniform:
      break;
    case WriterKind::kHotCold:
      if (w.working_set == 0 || w.working_set % kPage != 0) {
        return MakeError(path + ".hotcold.working_set",
                         "must be a non-zero multiple of the 4096-byte page");
      }
      if (w.hot_offset % kPage != 0 || w.hot_offset + w.working_set > size) {
        return MakeError(path + ".hotcold.working_set",
                         "hot set (offset " + std::to_string(w.hot_offset) + ", size " +
                             std::to_string(w.working_set) + ") does not fit in the region (" +
                             std::to_string(size) + " bytes)");
      }
      if (!(w.hot_fraction >= 0 && w.hot_fraction <= 1)) {
        return MakeError(path + ".hotcold.hot_fraction", "must be in [0, 1]");
      }
      break;
    case WriterKind::kZipf:
      if (!(w.zipf_s >= 0 && w.zipf_s <= 10)) {
        return MakeError(path + ".zipf.s", "must be in [0, 10]");
      }
      break;
    case WriterKind::kTrace:
      if (w.trace == nullptr) return MakeError(path + ".trace", "missing: the trace");
      return CheckTrace(*w.trace, guest.blocks);
    case WriterKind::kSequential:
      if (w.start % kPage != 0 || w.start >= size) {
        return MakeError(path + ".sequential.start", "must be a page multiple inside the region (" +
                                                         std::to_string(size) + " bytes)");
      }
      break;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Error> ValidateSpec(const SimSpec& spec) {
  const GuestSpec& g = spec.guest;
  if (g.blocks.empty()) return MakeError("guest", "needs `ram` or at least one block");
  for (size_t i = 0; i < g.blocks.size(); ++i) {
    const RamBlockSpec& b = g.blocks[i];
    const std::string path = Indexed("guest.blocks", i);
    if (b.name.empty() || b.name.size() > protocol::kMaxIdstrLen) {
      return MakeError(path + ".name", "must have 1 to 255 bytes (it is the stream's idstr)");
    }
    if (b.pages == 0) return MakeError(path + ".size", "must be at least one 4096-byte page");
    if (!(b.nonzero_fraction >= 0 && b.nonzero_fraction <= 1)) {
      return MakeError(path + ".nonzero_fraction", "must be in [0, 1]");
    }
    if (b.nonzero_pages) {
      uint64_t next = 0;
      for (const PageRange& r : *b.nonzero_pages) {
        if (r.first < next || r.end <= r.first || r.end > b.pages) {
          const std::string pages = std::to_string(b.pages);
          return MakeError(path + ".nonzero_pages",
                           "page ranges must be in increasing order, disjoint and inside the "
                           "block (" +
                               pages + " pages)");
        }
        next = r.end;
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (g.blocks[j].name == b.name) {
        return MakeError(path + ".name", "duplicate block name \"" + b.name + "\"");
      }
    }
  }
  if (!g.writers.empty() && !g.phases.empty()) {
    return MakeError("guest.phases", "use either writers or phases, not both");
  }
  for (size_t i = 0; i < g.writers.size(); ++i) {
    if (auto e = ValidateWriter(g.writers[i], Indexed("guest.writers", i), g)) return e;
  }
  for (size_t p = 0; p < g.phases.size(); ++p) {
    const std::string path = Indexed("guest.phases", p);
    const PhaseSpec& phase = g.phases[p];
    if (!(phase.duration_s >= 0) || (phase.duration_s == 0 && p + 1 != g.phases.size())) {
      return MakeError(path + ".duration",
                       "must be > 0 (only the last phase may omit it, meaning forever)");
    }
    for (size_t i = 0; i < phase.writers.size(); ++i) {
      if (auto e = ValidateWriter(phase.writers[i], Indexed(path + ".writers", i), g)) return e;
    }
  }
  const LinkSpec& l = spec.link;
  if (l.steps.empty() || l.steps.front().at != 0) {
    return MakeError("link.bandwidth", "the link needs a bandwidth from time 0");
  }
  for (size_t i = 0; i < l.steps.size(); ++i) {
    const std::string path = i == 0 ? "link.bandwidth" : Indexed("link.steps", i - 1);
    if (!(l.steps[i].bytes_per_s >= 0) || !std::isfinite(l.steps[i].bytes_per_s)) {
      return MakeError(path, "bandwidth must be finite and >= 0");
    }
    if (i > 0 && !(l.steps[i].at > l.steps[i - 1].at)) {
      return MakeError(path + ".at", "steps must be in increasing time order, after 0");
    }
  }
  if (!(l.steps.back().bytes_per_s > 0)) {
    return MakeError(
        l.steps.size() == 1 ? "link.bandwidth" : Indexed("link.steps", l.steps.size() - 2),
        "the last bandwidth must be > 0, or the migration could never end");
  }
  if (!(l.latency_s >= 0)) return MakeError("link.latency", "must be >= 0");
  if (!(l.buffer_bytes >= 0) || !std::isfinite(l.buffer_bytes)) {
    return MakeError("link.buffer", "must be a finite size >= 0");
  }
  const MigrationSpec& m = spec.migration;
  std::unique_ptr<Policy> policy = MakePolicy(m.policy);
  if (policy == nullptr) {
    std::string names;
    for (std::string_view n : PolicyNames()) names += (names.empty() ? "" : ", ") + std::string(n);
    return MakeError("migration.policy", "unknown policy \"" + m.policy + "\" (use " + names + ")");
  }
  if (m.max_bandwidth && !(*m.max_bandwidth >= 0)) {
    return MakeError("migration.max_bandwidth", "must be >= 0 (0: unlimited)");
  }
  if (m.downtime_limit_s && !(*m.downtime_limit_s > 0)) {
    return MakeError("migration.downtime_limit", "must be > 0");
  }
  const AutoConvergeSpec& ac = m.auto_converge;
  if (ac.enabled) {
    if (!policy->supports_auto_converge()) {
      return MakeError("migration.auto_converge",
                       "policy \"" + m.policy + "\" has no auto-converge (use qemu-7.2)");
    }
    // QEMU's parameter ranges.
    if (ac.initial_pct < 1 || ac.initial_pct > 99) {
      return MakeError("migration.auto_converge.initial_pct", "must be in [1, 99]");
    }
    if (ac.increment_pct < 1 || ac.increment_pct > 99) {
      return MakeError("migration.auto_converge.increment_pct", "must be in [1, 99]");
    }
    if (ac.max_pct < 1 || ac.max_pct > 99) {
      return MakeError("migration.auto_converge.max_pct", "must be in [1, 99]");
    }
    if (ac.trigger_threshold_pct < 1 || ac.trigger_threshold_pct > 100) {
      return MakeError("migration.auto_converge.trigger_threshold_pct", "must be in [1, 100]");
    }
  }
  if (m.machine_type.size() > 255) {
    return MakeError("migration.machine_type", "must be at most 255 bytes");
  }
  if (!(m.setup_time_s >= 0)) return MakeError("migration.setup_time", "must be >= 0");
  if (!(m.resume_time_s >= 0)) return MakeError("migration.resume_time", "must be >= 0");
  if (m.xbzrle.enabled) {
    if (m.policy != "qemu-7.2" && m.policy != "qemu-10") {
      return MakeError("migration.xbzrle",
                       "policy \"" + m.policy + "\" has no XBZRLE (use qemu-7.2 or qemu-10)");
    }
    if (m.xbzrle.cache_bytes < kPage) {
      return MakeError("migration.xbzrle.cache_size", "must be at least one 4096-byte page");
    }
    if (m.xbzrle.encoded_bytes > 65535) {
      return MakeError("migration.xbzrle.encoded_bytes",
                       "must be at most 65535 (above 4096: every delta overflows)");
    }
  }
  const PostcopySpec& pc = m.postcopy;
  if (pc.enabled) {
    if (m.policy != "qemu-7.2") {
      return MakeError("migration.postcopy",
                       "policy \"" + m.policy + "\" has no postcopy (use qemu-7.2)");
    }
    if (pc.start_after_s && !(*pc.start_after_s >= 0 && std::isfinite(*pc.start_after_s))) {
      return MakeError("migration.postcopy.after", "must be a finite duration >= 0");
    }
    if (!(pc.max_postcopy_bandwidth >= 0) || !std::isfinite(pc.max_postcopy_bandwidth)) {
      return MakeError("migration.postcopy.max_postcopy_bandwidth",
                       "must be a finite rate >= 0 (0: unlimited)");
    }
  } else if (pc.start_after_s || pc.start_after_syncs > 0) {
    return MakeError("migration.postcopy",
                     "after / after_syncs need `enabled: true` (the postcopy-ram capability)");
  }
  if (m.multifd.channels > 0) {
    // QEMU 10's multifd differs (MULTIFD_FLUSH records, zero pages in packets): not modelled.
    if (m.policy != "qemu-7.2") {
      return MakeError("migration.multifd",
                       "multifd is modelled for policy qemu-7.2 only, not \"" + m.policy + "\"");
    }
    if (m.multifd.channels > 255) {
      return MakeError("migration.multifd.channels", "must be in [1, 255] (multifd-channels)");
    }
    // In 7.2 a multifd page never reaches XBZRLE (ram_save_target_page), and postcopy sends
    // pages on the main channel: neither combination is modelled.
    if (m.xbzrle.enabled) {
      return MakeError("migration.multifd", "cannot be combined with xbzrle in this model");
    }
    if (pc.enabled) {
      return MakeError("migration.multifd", "cannot be combined with postcopy in this model");
    }
    if (!(m.multifd.connect_time_s >= 0) || !std::isfinite(m.multifd.connect_time_s)) {
      return MakeError("migration.multifd.connect_time", "must be a finite duration >= 0");
    }
  } else if (m.multifd.connect_time_s != 0) {
    return MakeError("migration.multifd.connect_time", "needs channels > 0 (the capability)");
  }
  if (!(m.page_cost_s >= 0) || !std::isfinite(m.page_cost_s)) {
    return MakeError("migration.page_cost", "must be a finite duration >= 0");
  }
  if (!(spec.run.timeout_s > 0)) return MakeError("run.timeout", "must be > 0");
  return std::nullopt;
}

Result<SimResult> Simulate(const SimSpec& spec, SendObserver* observer) {
  if (std::optional<Error> e = ValidateSpec(spec)) return *e;
  std::unique_ptr<Policy> policy = MakePolicy(spec.migration.policy);
  auto ram = std::make_unique<RamState>(spec.guest.blocks, spec.guest.zero_layout);
  std::unique_ptr<WriteModel> guest = BuildGuestModel(spec.guest, *ram, spec.run.seed);
  EngineOptions options;
  options.timeout_s = spec.run.timeout_s;
  options.max_dirty_syncs = spec.run.max_dirty_syncs;
  options.max_transferred = spec.run.max_transferred;
  options.setup_time_s = spec.migration.setup_time_s;
  options.resume_time_s = spec.migration.resume_time_s;
  options.device_state_bytes = spec.migration.device_state_bytes;
  options.page_cost_s = spec.migration.page_cost_s;
  if (spec.migration.xbzrle.enabled) {
    options.xbzrle_cache_bytes = spec.migration.xbzrle.cache_bytes;
    options.xbzrle_encoded_bytes = spec.migration.xbzrle.encoded_bytes;
  }
  options.postcopy_ram = spec.migration.postcopy.enabled;
  options.multifd_channels = spec.migration.multifd.channels;
  options.multifd_connect_time_s = spec.migration.multifd.connect_time_s;
  options.record_series = spec.run.series;
  Engine engine(options, std::move(ram), std::move(guest),
                Link(spec.link.steps, spec.link.latency_s, spec.link.buffer_bytes), observer);
  policy->Run(engine, spec.migration);
  SimResult result = engine.TakeResult();
  result.scenario = spec.name;
  result.seed = spec.run.seed;
  return result;
}

}  // namespace ramstream::sim
