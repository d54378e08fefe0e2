#include "sim/models/factory.h"

#include <utility>
#include <vector>

#include "protocol/wire_format.h"
#include "sim/models/hot_cold.h"
#include "sim/models/sequential.h"
#include "sim/models/trace.h"
#include "sim/models/uniform.h"
#include "sim/models/zipf.h"

namespace ramstream::sim {
namespace {

constexpr uint64_t kPage = protocol::kPageSize;

std::unique_ptr<WriteModel> BuildWriter(const WriterSpec& w, const RamState& ram, uint64_t seed,
                                        uint64_t stream) {
  Region region = ResolveRegion(ram, w.region);
  switch (w.kind) {
    case WriterKind::kUniform:
      return std::make_unique<UniformWriter>(std::move(region), w.pages_per_s, seed, stream);
    case WriterKind::kHotCold:
      return std::make_unique<HotColdWriter>(region, w.hot_offset / kPage, w.working_set / kPage,
                                             w.pages_per_s, w.hot_fraction, seed, stream);
    case WriterKind::kZipf:
      return std::make_unique<ZipfWriter>(std::move(region), w.pages_per_s, w.zipf_s, seed, stream);
    case WriterKind::kSequential:
      return std::make_unique<SequentialWriter>(std::move(region), w.pages_per_s, w.start / kPage,
                                                w.descending);
    case WriterKind::kTrace:
      return std::make_unique<TraceWriter>(w.trace, ram);
  }
  return nullptr;
}

std::unique_ptr<WriteModel> BuildAll(const std::vector<WriterSpec>& writers, const RamState& ram,
                                     uint64_t seed, uint64_t* stream) {
  std::vector<std::unique_ptr<WriteModel>> parts;
  for (const WriterSpec& w : writers) parts.push_back(BuildWriter(w, ram, seed, (*stream)++));
  if (parts.size() == 1) return std::move(parts.front());
  return std::make_unique<CompositeModel>(std::move(parts));
}

}  // namespace

Region ResolveRegion(const RamState& ram, const RegionSpec& spec) {
  int block = -1;
  uint64_t pages_total = ram.total_pages();
  if (!spec.block.empty()) {
    for (size_t i = 0; i < ram.blocks().size(); ++i) {
      if (ram.blocks()[i].name == spec.block) {
        block = static_cast<int>(i);
        pages_total = ram.blocks()[i].pages;
      }
    }
  }
  const uint64_t first = spec.offset / kPage;
  const uint64_t pages = spec.size == 0 ? pages_total - first : spec.size / kPage;
  return Region::Of(ram, block, first, pages);
}

std::unique_ptr<WriteModel> BuildGuestModel(const GuestSpec& guest, const RamState& ram,
                                            uint64_t seed) {
  uint64_t stream = 0;
  if (guest.phases.empty()) return BuildAll(guest.writers, ram, seed, &stream);
  std::vector<PhasedModel::Phase> phases;
  for (const PhaseSpec& p : guest.phases) {
    phases.push_back(PhasedModel::Phase{p.duration_s, BuildAll(p.writers, ram, seed, &stream)});
  }
  return std::make_unique<PhasedModel>(std::move(phases), guest.repeat_phases);
}

}  // namespace ramstream::sim
