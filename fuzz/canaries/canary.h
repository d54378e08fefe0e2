// What every canary fuzz target does with one input stream (the raw and the proto target
// differ only in how they get the bytes): two loads through the 2010 loader of
// ram_load_2010.h, with the destination's blocks freed and re-created in between.
//
//   load 1: the first section (one ram_load call: records up to the first EOS); or, when
//           cut > 0, the first `cut` records of the input, one ram_load call per section,
//           after which the connection drops (-EIO)
//   ------  every block freed, and allocated again with the same name and length
//   load 2: the rest of the input, one ram_load call per section, while they succeed
//
// Load 1 is what an incoming migration's setup section carries (MEM_SIZE and, from a 2010
// sender, the first pages), or a migration that broke off after `cut` records; re-creating
// the blocks stands for a device unplug and re-plug or the retry into the same process. Only
// canary 4 makes anything of the second load. The cut comes from the input (the trailer's
// config for raw inputs, RamStream.config for protos): without it, a second load can only
// start after an EOS, and the fuzzer must first place one exactly on a record boundary inside
// a run of records, which at 14k exec/s took more than a minute from the seed corpus. The
// cut spans sections because a 7.2-style stream names its first page only in the second
// section: a cut confined to the setup section (MEM_SIZE, EOS) never leaves a block behind.
//
// Canary 5 adds a differential oracle: ramstream's own Loader (qemu-7.2 rules) runs on the
// same bytes, and when it rejects a record's flags as an unknown combination that the 2010
// loader accepted, the target aborts with "ramstream canary oracle: ...".
#ifndef RAMSTREAM_FUZZ_CANARIES_CANARY_H_
#define RAMSTREAM_FUZZ_CANARIES_CANARY_H_

#include <cstddef>
#include <span>

namespace ramstream::canary {

// Runs both loads (and canary 5's oracle) on `stream` in a fresh "process": every static of
// the 2010 loader starts from its initial value, so an input behaves the same on every run.
// `cut`: see above; 0 = load 1 is the first section.
void RunCanary(std::span<const std::byte> stream, size_t cut);

}  // namespace ramstream::canary

#endif  // RAMSTREAM_FUZZ_CANARIES_CANARY_H_
