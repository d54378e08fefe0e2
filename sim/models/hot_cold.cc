#include "sim/models/hot_cold.h"

namespace ramstream::sim {
namespace {

Region Cold(const Region& region, uint64_t hot_first, uint64_t hot_pages) {
  const uint64_t hot_end = hot_first + hot_pages;
  return region.Slice(0, hot_first).Then(region.Slice(hot_end, region.pages() - hot_end));
}

}  // namespace

HotColdWriter::HotColdWriter(const Region& region, uint64_t hot_first, uint64_t hot_pages,
                             double pages_per_s, double hot_fraction, uint64_t seed,
                             uint64_t stream)
    : hot_(region.Slice(hot_first, hot_pages), pages_per_s * hot_fraction, seed, 2 * stream),
      cold_(Cold(region, hot_first, hot_pages), pages_per_s * (1 - hot_fraction), seed,
            2 * stream + 1) {}

}  // namespace ramstream::sim
