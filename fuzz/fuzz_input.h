// How the RAM-stream fuzz targets read their input: the stream itself first, then a small
// trailer of parameters read from the END of the input, as zstd's fuzz data producer does, so
// that mutations of the stream and of the parameters stay independent:
//
//   +----------------------+-------------+-------------------+-----+
//   | stream bytes         | config be16 | plan bytes (n)    |  n' |   n = n' & 0x1f
//   +----------------------+-------------+-------------------+-----+
//
// Missing trailer bytes read as zero, so every input is valid. `config` selects dialect and
// loader options (targets that do not vary them ignore it); the plan bytes give the chunk
// sizes the stream is fed in (none: a fixed cycle of small and page-sized chunks).
#ifndef RAMSTREAM_FUZZ_FUZZ_INPUT_H_
#define RAMSTREAM_FUZZ_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ramstream::fuzz {

// Consumes parameters from the end of a byte span; the front stays the payload.
class TailReader {
 public:
  explicit TailReader(std::span<const std::byte> data) : data_(data) {}
  // 0 once the input is exhausted.
  uint8_t U8();
  // Big-endian: the byte nearer the end of the input is the low byte.
  uint16_t Be16();
  // Up to `n` bytes just before what was consumed so far, in input order.
  std::span<const std::byte> Take(size_t n);
  // What is left at the front.
  std::span<const std::byte> rest() const { return data_; }

 private:
  std::span<const std::byte> data_;
};

// Chunk sizes for feeding a stream, cycling over the plan bytes. Small sizes dominate because
// chunk boundaries inside headers and counted strings are where resumable decoders break.
class ChunkPlan {
 public:
  // An empty plan cycles through kDefaultSizes.
  explicit ChunkPlan(std::span<const std::byte> plan = {});
  // A plan that feeds the whole input in one call.
  static ChunkPlan Whole();

  // The size of the next chunk (>= 1), given `left` bytes remain (the result is <= left when
  // left > 0).
  size_t Next(size_t left);
  // Restarts the cycle, so one plan can drive several passes identically.
  void Reset() {
    next_ = 0;
    in_burst_ = 0;
    bursts_left_ = bursts_;
  }
  // Bounds the chunks of a `stream_size`-byte stream to about `max_chunks`. When the plan
  // would need more, it is applied in bursts: whole cycles of its sizes (at least
  // kMinBurstChunks chunks), the first at the start of the stream, each of the others after
  // one chunk that skips ahead so that the bursts left spread evenly over the bytes left.
  // Feeding a large stream in 1-byte chunks costs one decoder call per byte and made a fuzz
  // input's time depend on its plan more than on anything else; a decoder's chunk handling
  // is local to the field a boundary splits, which the bursts still reach all over the
  // stream. Plans that fit are unchanged.
  void Fit(size_t stream_size, size_t max_chunks);
  static constexpr size_t kMinBurstChunks = 16;

  // The chunk size one plan byte stands for: 1..128 for bytes below 0x80, else 2^k + j up to
  // 16 KiB + 7 (page-sized chunks and their neighbours).
  static size_t SizeForByte(uint8_t b);
  // protobuf's kBlockSizes and a page plus one: boundaries land everywhere in a few passes,
  // without the cost of feeding a large input one byte at a time (a plan of 0x00 does that).
  static constexpr size_t kDefaultSizes[] = {1, 2, 3, 5, 7, 13, 32, 1024, 4097};

 private:
  struct WholeTag {};
  explicit ChunkPlan(WholeTag) : whole_(true) {}

  std::vector<uint32_t> sizes_;  // one cycle: SizeForByte of each plan byte, or kDefaultSizes
  size_t next_ = 0;
  bool whole_ = false;
  size_t bursts_ = 0;        // 0: no bursts (the plan fits)
  size_t burst_chunks_ = 0;  // chunks per burst
  size_t burst_bytes_ = 0;   // bytes per burst (unless cut short by the end)
  size_t in_burst_ = 0;      // chunks of the current burst so far
  size_t bursts_left_ = 0;   // including the current one
};

// Config bits used by the dialect-varying targets. Each bit is documented where it is read
// (ram_load_dialects_fuzzer.cc).
struct FuzzInput {
  std::span<const std::byte> stream;
  uint16_t config = 0;
  std::span<const std::byte> plan;
};

// Splits a fuzz input per the layout above.
FuzzInput SplitInput(std::span<const std::byte> data);

// The inverse of SplitInput, for the seed generator: stream + config + plan (at most 31 plan
// bytes; more are dropped).
std::vector<std::byte> JoinInput(std::span<const std::byte> stream, uint16_t config,
                                 std::span<const std::byte> plan);

}  // namespace ramstream::fuzz

#endif  // RAMSTREAM_FUZZ_FUZZ_INPUT_H_
