// Builds the guest's write model from its spec.
#ifndef RAMSTREAM_SIM_MODELS_FACTORY_H_
#define RAMSTREAM_SIM_MODELS_FACTORY_H_

#include <cstdint>
#include <memory>

#include "sim/engine/ram_state.h"
#include "sim/models/write_model.h"
#include "sim/spec.h"

namespace ramstream::sim {

// The region a writer spec names. REQUIRES: a validated spec (the block exists, the range is
// inside it).
Region ResolveRegion(const RamState& ram, const RegionSpec& spec);

// Each writer draws from its own random stream, derived from `seed` and its position, so adding
// a writer leaves the others' draws unchanged. REQUIRES: a validated spec.
std::unique_ptr<WriteModel> BuildGuestModel(const GuestSpec& guest, const RamState& ram,
                                            uint64_t seed);

}  // namespace ramstream::sim

#endif  // RAMSTREAM_SIM_MODELS_FACTORY_H_
