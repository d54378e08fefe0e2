// Oracles shared by the fuzz targets: each check aborts (a crash the fuzzer reports) when
// ramstream breaks one of its own contracts, never because the input is malformed. Malformed
// input must end in a named Error; what crashes is a Code::kInternal, a decoder that asks for
// input after end_of_input or stops making progress, two chunkings of the same bytes that
// disagree, a page written outside the one a record validated, or two memory backings that
// end with different contents. See docs/STYLE.md item 11 and the wuffs / zstd fuzz designs.
// Which target checks which property: CheckRamLoad and RamLoadChecks below, and the table in
// fuzz/README.md.
#ifndef RAMSTREAM_FUZZ_ORACLES_H_
#define RAMSTREAM_FUZZ_ORACLES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "fuzz/fuzz_input.h"
#include "protocol/decoder.h"
#include "protocol/error.h"
#include "protocol/guest_memory.h"
#include "protocol/loader.h"
#include "protocol/records.h"

namespace ramstream::fuzz {

// Prints "ramstream fuzz oracle failed at file:line: ..." and aborts.
[[noreturn]] void OracleFailure(const char* file, int line, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

#define RAMSTREAM_FUZZ_CHECK(cond, ...)                                             \
  do {                                                                              \
    if (!(cond)) ::ramstream::fuzz::OracleFailure(__FILE__, __LINE__, __VA_ARGS__); \
  } while (0)

// Guest memory held by one load. Sized so that the loads an input costs stay far below
// libFuzzer's and OSS-Fuzz's RSS limits (2 GiB / 2.5 GiB) even under ASan.
inline constexpr uint64_t kFuzzResidentLimit = uint64_t{64} << 20;
// CheckRamLoad's Loader::Feed pass uses dense backing when the blocks add up to no more than
// this (sparse above): a dense load allocates and checks every page of every block, so larger
// ones would cost exec/s, and dense memory's code does not depend on block size.
inline constexpr uint64_t kDenseCompareLimit = uint64_t{512} << 10;

// A chunked pass feeds at most about this many chunks (ChunkPlan::Fit, in evenly spaced
// bursts of the plan's sizes): a plan of 1-byte chunks over a 40 KiB input would otherwise
// cost 40,000 decoder calls. Measured over 100,000 ram_load_fuzzer inputs from the seed
// corpus: 540 chunks per input on average, 90 % of them in the 6 % of inputs needing over
// 1,000; 37 on average under this budget.
inline constexpr size_t kMaxChunksPerPass = 128;

// Decoder limits for fuzzing. The sparse backing's page tables count against the resident
// limit (one pointer per 4 MiB of declared block), so with the default 256 TiB MEM_SIZE total a
// small input would spend the whole limit on tables and stop early; 1 TiB keeps the tables
// for one page at the end of a block at 2 MiB, leaving the limit to pages.
protocol::DecoderLimits FuzzLimits();

using protocol::OwnedRecord;

// What one pass over a stream produced.
struct Trace {
  bool kept_records = false;
  std::vector<OwnedRecord> records;  // filled only when kept_records
  uint64_t record_count = 0;
  protocol::Step end = protocol::Step::kError;  // kEnd or kError
  protocol::Error error;                        // decoder or loader error (kError)
  uint64_t position = 0;                        // absolute decoder position at the end
};

// Called for each decoded record while its views are valid; a non-ok Error (a loader error)
// ends the pass with that error.
using RecordSink = std::function<protocol::Error(const protocol::Record&)>;

// Decodes `stream`, fed in the chunks of `plan` (each its own ASan-poisoned place in a reused
// arena, so ASan sees any view kept into an earlier chunk or read past the current one), and
// checks the decoder's contract after every call:
//  - Code::kInternal never appears; kNeedInput never follows end_of_input, and only comes
//    back once every fed byte is consumed;
//  - each record starts where the previous one ended and accounts exactly for the bytes it
//    consumed (RecordSize); at most two follow-up actions share one header, so a decoder
//    that stops consuming cannot emit forever;
//  - records are well formed for the dialect (flags, alignment, payload sizes, idstrs, the
//    MEM_SIZE list adding up to its total, limits);
//  - kEnd only at the end of the input right after an EOS; errors lie inside the consumed
//    range at the record that failed, and are sticky.
Trace DecodeChecked(std::span<const std::byte> stream, const protocol::DecoderOptions& options,
                    ChunkPlan plan, bool keep_records, const RecordSink& sink = nullptr);

// How to set up one load.
struct LoadConfig {
  protocol::LoaderOptions options;
  protocol::Backing backing = protocol::Backing::kSparse;
  uint64_t resident_limit = kFuzzResidentLimit;
  // Blocks the memory holds before the loader starts (a destination without a layout).
  std::vector<std::pair<std::string, uint64_t>> preset_blocks;
};

struct LoadResult {
  Trace trace;
  protocol::LoadStats stats;
  std::string digest;
  uint64_t resident_bytes = 0;
  uint64_t block_bytes = 0;  // sum of used_length over the memory's blocks at the end
};

// Decoder + Loader::Apply record by record (the QEVM parser's path), with DecodeChecked's
// oracles plus, for version-4 page records the loader accepts:
//  - the page lies inside its block and then holds exactly what the record says (PAGE bytes,
//    ZERO fill, the XBZRLE delta applied to what the page held before, the inflated page),
//    checked against a model of every targeted page's expected contents;
//  - resident memory grows by at most one page per record (not at all for dense backing),
//    and not at all for a record the loader rejects;
//  - at the end (when pass.check_untargeted_writes), memory holds exactly the model: no
//    non-zero page that no accepted record targeted, and no targeted page changed after its
//    last record (a write past a page, or one from a record that failed);
//  - the loader's counters match the records applied.
// Memory comes from a per-thread pool (GuestMemory::Reset), so a load allocates nothing once
// warm; `digest` is that memory's GuestMemory::Digest.
struct PassOptions {
  bool keep_records = false;
  bool check_untargeted_writes = false;
};
LoadResult LoadChecked(std::span<const std::byte> stream, const LoadConfig& config, ChunkPlan plan,
                       PassOptions pass);

// Loader::Feed, the production path: status oracles (no kNeedInput after end_of_input, all
// fed bytes consumed on kNeedInput, sticky errors, no kInternal).
LoadResult LoadFed(std::span<const std::byte> stream, const LoadConfig& config, ChunkPlan plan);

// Abort unless both passes ended the same way (records when both kept them; error code and
// offset; message too when `same_messages`).
void ExpectSameTrace(const Trace& a, const Trace& b, bool same_messages, const char* what);
// ExpectSameTrace plus counters and digest; resident bytes too when `same_backing`.
void ExpectSameLoad(const LoadResult& a, const LoadResult& b, bool same_backing, const char* what);

// Which of the ram_load properties CheckRamLoad checks; where each one lives is listed in
// fuzz/README.md ("Which target checks what").
enum class RamLoadChecks : uint8_t {
  // One pass: Decoder + Apply on sparse memory with the whole stream as one chunk and every
  // LoadChecked oracle (page model, untargeted writes, counters), while a second decoder is
  // fed the plan's chunks in lockstep and must yield the same records, end and error
  // (offset, code, message) one for one. ram_load_fuzzer.
  kCore,
  // kCore, then Loader::Feed in the plan's chunks on dense memory when the blocks add up to
  // at most kDenseCompareLimit (else sparse): same end, error, counters, block table and
  // contents (the model) as the core pass, so Feed vs Apply and dense vs sparse in one
  // comparison. And, when an exact dialect's load failed, Loader::Feed of just the bytes
  // before the failing record: they end there (cleanly, truncated, or in the same error)
  // and load the same memory and counters, so nothing from the failing record was written
  // or counted. ram_load_dialects_fuzzer, ram_proto_fuzzer.
  kAll,
};

// The ram_load property set on one stream, fed per `plan_bytes` (ChunkPlan) where chunked.
void CheckRamLoad(std::span<const std::byte> stream, const LoadConfig& config,
                  std::span<const std::byte> plan_bytes,
                  RamLoadChecks checks = RamLoadChecks::kAll);

// Records written back with AppendRecord.
std::vector<std::byte> WriteRecords(const std::vector<OwnedRecord>& records);

}  // namespace ramstream::fuzz

#endif  // RAMSTREAM_FUZZ_ORACLES_H_
