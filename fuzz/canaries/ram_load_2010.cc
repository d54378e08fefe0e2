// The 2010 RAM loader with one fix taken out per canary build; see ram_load_2010.h for the
// list and fuzz/canaries/canaries.json for what each canary's report must look like.
//
// Written from the description in docs/ram-stream-format.md §3.2, §3.3 and §3.8 (the 2010
// column); the names follow QEMU's so that reports read like the historical ones.
#include "fuzz/canaries/ram_load_2010.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#ifndef RAMSTREAM_CANARY
#define RAMSTREAM_CANARY 0  // every fix applied: no canary
#endif

namespace ramstream::canary {
namespace {

constexpr int kCanary = RAMSTREAM_CANARY;
static_assert(kCanary >= 0 && kCanary <= 6, "RAMSTREAM_CANARY is 0 (none) or 1..6");

// host_from_stream_offset's function-static `block`: the block the last named page record
// referred to, which CONTINUE records use. It outlives a load, which is canary 4's bug.
RamBlock* last_block = nullptr;

// Why HostFromStreamOffset found no host address.
enum class Miss : uint8_t { kNone, kNoBlock, kUnknownBlock, kOffsetPastBlock };

bool OffsetInBlock(const RamBlock& block, uint64_t offset) {
  // Canary 3, CVE-2014-7840: 2010 never compared the offset with the block, so a record could
  // write anywhere after the block's host memory. 0be839a27013 added this test on both the
  // CONTINUE and the lookup path. Offsets are page aligned and lengths are whole pages, so
  // offset < length keeps the whole page inside the block.
  if constexpr (kCanary == 3) return true;
  return offset < block.length;
}

uint8_t* HostFromStreamOffset(StreamReader& f, const Destination& dest, uint64_t offset,
                              uint64_t flags, Miss* miss) {
  *miss = Miss::kNone;
  if (flags & kFlagContinue) {
    // 2010 printed "Ack, bad migration stream!" here and returned NULL.
    if (last_block == nullptr) {
      *miss = Miss::kNoBlock;
      return nullptr;
    }
    if (!OffsetInBlock(*last_block, offset)) {
      *miss = Miss::kOffsetPastBlock;
      return nullptr;
    }
    return last_block->host.get() + offset;
  }
  const uint8_t len = f.GetByte();
  char id[256];
  f.GetBuffer(reinterpret_cast<uint8_t*>(id), len);
  id[len] = '\0';
  // The 2010 lookup walked ram_list with the static itself as its cursor: a miss leaves it
  // NULL (so a following CONTINUE misses too) and a hit leaves it on the block.
  last_block = nullptr;
  for (const auto& block : dest.blocks()) {
    if (block->idstr == std::string_view(id)) {
      last_block = block.get();
      break;
    }
  }
  if (last_block == nullptr) {
    // 2010: "Can't find block %s!", then NULL.
    *miss = Miss::kUnknownBlock;
    return nullptr;
  }
  if (!OffsetInBlock(*last_block, offset)) {
    *miss = Miss::kOffsetPastBlock;
    return nullptr;
  }
  return last_block->host.get() + offset;
}

// Whether the caller goes on with a NULL host address. The 2010 callers never tested it;
// 492fb99c4bef added the test on the COMPRESS path and 0ff1f9f58571 on the PAGE path.
// Canaries 1 and 2 leave it out only for the miss they are about, so that the other miss
// still ends the load and each binary has one live bug.
constexpr bool DereferencesNull(Miss miss) {
  if constexpr (kCanary == 1) return miss == Miss::kUnknownBlock;
  if constexpr (kCanary == 2) return miss == Miss::kNoBlock;
  return false;
}

// The MEM_SIZE block list: entries until the lengths have counted `total` down to zero.
LoadResult ReadMemSizeList(StreamReader& f, Destination& dest, uint64_t total) {
  uint64_t remaining = total;
  while (remaining != 0) {
    const uint8_t len = f.GetByte();
    char id[256];
    f.GetBuffer(reinterpret_cast<uint8_t*>(id), len);
    id[len] = '\0';
    const uint64_t length = f.GetBe64();
    // Canary 6: the 2010 loop trusted the total. A length larger than what remains wraps the
    // unsigned count around, and past the end of the stream every entry reads as an empty
    // name of length 0, which never counts anything down: the loop spins for ever.
    // fb787f81e749 ended it at the first unknown name (what zeros read as); QEMU still never
    // checks the total itself (spec §3.3), so the fixed form does what a robust reader does.
    if constexpr (kCanary != 6) {
      if (f.error()) return LoadResult::kIoError;
      if (length > remaining) return LoadResult::kInvalid;
    }
    const std::string name(id);
    if (const RamBlock* block = dest.Find(name)) {
      if (block->length != length) return LoadResult::kInvalid;
    } else if (dest.Create(name, length) == nullptr) {
      return LoadResult::kInvalid;
    }
    remaining -= length;
  }
  return LoadResult::kOk;
}

}  // namespace

uint8_t StreamReader::GetByte() {
  if (pos_ >= data_.size()) {
    error_ = true;
    return 0;
  }
  return static_cast<uint8_t>(data_[pos_++]);
}

uint64_t StreamReader::GetBe64() {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | GetByte();
  return v;
}

void StreamReader::GetBuffer(uint8_t* dst, size_t n) {
  const size_t avail = std::min(n, data_.size() - std::min(pos_, data_.size()));
  // Like qemu_get_buffer, nothing is touched when nothing is left: a NULL destination only
  // faults when there are bytes to copy.
  if (avail != 0) std::memcpy(dst, data_.data() + pos_, avail);
  pos_ += avail;
  if (avail < n) error_ = true;
}

RamBlock* Destination::Find(const std::string& idstr) const {
  for (const auto& block : blocks_) {
    if (block->idstr == idstr) return block.get();
  }
  return nullptr;
}

RamBlock* Destination::Create(const std::string& idstr, uint64_t length) {
  // Real RAM blocks are whole pages; the bounds keep a correct loader's memory small.
  if (length % kPageSize != 0 || length > kMaxBlockBytes || length > kMaxTotalBytes - total_ ||
      blocks_.size() >= kMaxBlocks) {
    return nullptr;
  }
  auto block = std::make_unique<RamBlock>();
  block->idstr = idstr;
  block->length = length;
  // calloc: large blocks come straight from mmap, so only the pages a stream writes cost.
  block->host.reset(static_cast<uint8_t*>(std::calloc(length, 1)));
  if (block->host == nullptr && length != 0) return nullptr;
  total_ += length;
  blocks_.push_back(std::move(block));
  return blocks_.back().get();
}

void Destination::Recreate() {
  std::vector<std::unique_ptr<RamBlock>> fresh;
  for (const auto& old : blocks_) {
    auto block = std::make_unique<RamBlock>();
    block->idstr = old->idstr;
    block->length = old->length;
    block->host.reset(static_cast<uint8_t*>(std::calloc(old->length, 1)));
    fresh.push_back(std::move(block));
  }
  // The old blocks are freed here; ASan's quarantine keeps their memory from being reused
  // at once, so a pointer still aimed at one is reported as use-after-free.
  blocks_ = std::move(fresh);
}

LoadResult RamLoad2010(StreamReader& f, Destination& dest, AcceptedRecords* accepted,
                       size_t* records_left) {
  uint64_t flags = 0;
  do {
    if (records_left != nullptr) {
      if (*records_left == 0) return LoadResult::kIoError;
      --*records_left;
    }
    const size_t record = f.position();
    uint64_t addr = f.GetBe64();
    flags = addr & (kPageSize - 1);
    addr &= ~(kPageSize - 1);

    // Canary 5: 2010 tested each flag bit on its own (MEM_SIZE; then COMPRESS, else PAGE;
    // then EOS ends the loop) and ignored every other bit, so PAGE|EOS or FULL (0x01) went
    // through. db80facefa62 made the loader require one known flag, CONTINUE aside.
    if constexpr (kCanary != 5) {
      const uint64_t kind = flags & ~kFlagContinue;
      if (kind != kFlagCompress && kind != kFlagMemSize && kind != kFlagPage && kind != kFlagEos) {
        return LoadResult::kInvalid;
      }
    }

    if (flags & kFlagMemSize) {
      const LoadResult r = ReadMemSizeList(f, dest, addr);
      if (r != LoadResult::kOk) return r;
    }
    if (flags & kFlagCompress) {
      Miss miss;
      uint8_t* host = HostFromStreamOffset(f, dest, addr, flags, &miss);
      if (host == nullptr && !DereferencesNull(miss)) return LoadResult::kInvalid;
      const uint8_t ch = f.GetByte();
      std::memset(host, ch, kPageSize);
    } else if (flags & kFlagPage) {
      Miss miss;
      uint8_t* host = HostFromStreamOffset(f, dest, addr, flags, &miss);
      if (host == nullptr && !DereferencesNull(miss)) return LoadResult::kInvalid;
      f.GetBuffer(host, kPageSize);
    }
    if (f.error()) return LoadResult::kIoError;
    if (accepted != nullptr) accepted->push_back(record);
  } while (!(flags & kFlagEos));
  return LoadResult::kOk;
}

void BeginLoad() {
  // Canary 4: the static is not reset, so a load that opens with CONTINUE writes through the
  // block the previous load named, which may have been freed since. Nothing upstream resets
  // it even today (755e8d7cb6ce moved it into MigrationIncomingState, spec §3.2); the fixed
  // form keeps it per load, as ramstream's Loader does.
  if constexpr (kCanary != 4) last_block = nullptr;
}

void ResetProcess() { last_block = nullptr; }

}  // namespace ramstream::canary
