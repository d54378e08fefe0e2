// RunCanary: two loads per input, and canary 5's differential oracle (see canary.h).
#include "fuzz/canaries/canary.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "fuzz/canaries/ram_load_2010.h"
#include "fuzz/oracles.h"
#include "protocol/dialect.h"
#include "protocol/error.h"
#include "protocol/guest_memory.h"
#include "protocol/loader.h"

#ifndef RAMSTREAM_CANARY
#define RAMSTREAM_CANARY 0
#endif

namespace ramstream::canary {
namespace {

constexpr bool kDifferential = RAMSTREAM_CANARY == 5;

// Canary 5 is silent: ignoring a flag corrupts nothing a sanitizer sees. ramstream's Loader is
// the reference. Only its unknown-flags verdict is compared, and only on a record the 2010
// loader accepted at the same offset: the two loaders differ on purpose elsewhere (XBZRLE,
// COMPRESS_PAGE and the 7.2 idstr checks do not exist in 2010), and once they disagree about
// a record's length their later offsets mean different things.
[[maybe_unused]] void CheckFlagsAgainstRamstream(std::span<const std::byte> stream,
                                                 const AcceptedRecords& accepted) {
  protocol::GuestMemoryOptions mo;
  mo.backing = protocol::Backing::kDiscard;  // only the verdict on flags matters
  protocol::GuestMemory memory(mo);
  protocol::LoaderOptions options;
  options.decoder.dialect = protocol::Dialect::Qemu72();
  options.decoder.limits = fuzz::FuzzLimits();
  protocol::Loader loader(options, &memory);
  if (loader.Feed(stream, /*end_of_input=*/true) != protocol::LoadStatus::kError) return;
  const protocol::Error& e = loader.error();
  if (e.code != protocol::Code::kUnknownFlags) return;
  if (!std::binary_search(accepted.begin(), accepted.end(), static_cast<size_t>(e.offset))) return;
  std::fprintf(stderr,
               "ramstream canary oracle: the 2010 loader accepted the record at offset %llu, "
               "whose flags ramstream rejects: %s\n",
               static_cast<unsigned long long>(e.offset), e.message.c_str());
  std::abort();
}

}  // namespace

void RunCanary(std::span<const std::byte> stream, size_t cut) {
  ResetProcess();
  Destination dest;
  StreamReader f(stream);
  AcceptedRecords accepted;
  AcceptedRecords* record = kDifferential ? &accepted : nullptr;

  BeginLoad();
  LoadResult first;
  bool cut_off = false;
  if (cut == 0) {
    first = RamLoad2010(f, dest, record);
  } else {
    // One incoming migration: a ram_load call per section, the remembered block carried from
    // one to the next as QEMU does, until the connection drops after `cut` records. A 7.2-style
    // stream names its first page only in the second section (the setup section holds
    // MEM_SIZE and EOS), so a cut inside the first section alone could never leave a block
    // behind for load 2.
    size_t records_left = cut;
    do {
      first = RamLoad2010(f, dest, record, &records_left);
    } while (first == LoadResult::kOk && !f.at_end());
    cut_off = records_left == 0 && first == LoadResult::kIoError;
  }
  if ((first == LoadResult::kOk || cut_off) && !f.at_end()) {
    dest.Recreate();
    BeginLoad();
    while (!f.at_end() && RamLoad2010(f, dest, record) == LoadResult::kOk) {
    }
  }
  // Offsets were recorded in stream order, so they are sorted.
  if constexpr (kDifferential) CheckFlagsAgainstRamstream(stream, accepted);
}

}  // namespace ramstream::canary
