// The RAM loader of QEMU 0.13 (a55bbe31, 2010) re-created for canary fuzz targets: `ram_load`
// version 4 with `host_from_stream_offset` and its function-static block pointer, against a
// destination whose blocks are real heap allocations. See fuzz/canaries/README.md.
//
// The code is the 2010 logic with every later fix applied, so that it loads correct streams
// and rejects the malformed ones. Each canary build (-DRAMSTREAM_CANARY=<n>, n = 1..6) takes
// exactly one fix out again, so that one historical bug is live per binary and any report the
// fuzzer gets from that binary can be checked against the one bug it is supposed to find:
//
//   1 NullAfterFailedLookup   unknown idstr: NULL host dereferenced (fixed 492fb99c4bef,
//                             0ff1f9f58571)
//   2 ContinueWithoutBlock    CONTINUE before any block was named: NULL host dereferenced
//                             (same fixes)
//   3 OffsetPastBlock         CVE-2014-7840: offset never compared with the block length
//                             (fixed 0be839a27013)
//   4 StaleLastBlock          the remembered block survives into the next load, after the
//                             blocks were freed and re-created (never fixed upstream;
//                             755e8d7cb6ce only moved it, §3.2 of the spec)
//   5 UnknownFlagsIgnored     flags outside the known combinations handled bit by bit and
//                             otherwise ignored (fixed db80facefa62)
//   6 MemSizeUnbounded        the MEM_SIZE loop trusts its total: no check of each length
//                             against what remains, no check for the end of the stream
//                             (fixed fb787f81e749)
//
// Never linked into ramstream_protocol or the CLI: only fuzz/CMakeLists.txt's canary section
// builds this file.
#ifndef RAMSTREAM_FUZZ_CANARIES_RAM_LOAD_2010_H_
#define RAMSTREAM_FUZZ_CANARIES_RAM_LOAD_2010_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ramstream::canary {

inline constexpr uint64_t kPageSize = 4096;
// The flags of 2010 (docs/ram-stream-format.md §3.1); COMPRESS is today's ZERO.
inline constexpr uint64_t kFlagCompress = 0x02;
inline constexpr uint64_t kFlagMemSize = 0x04;
inline constexpr uint64_t kFlagPage = 0x08;
inline constexpr uint64_t kFlagEos = 0x10;
inline constexpr uint64_t kFlagContinue = 0x20;

// The harness's own bounds on what the destination allocates, so that no input can exhaust
// memory through a correct loader (the proto converter caps sizes for the same reason).
inline constexpr uint64_t kMaxBlockBytes = uint64_t{64} << 20;
inline constexpr uint64_t kMaxTotalBytes = uint64_t{256} << 20;
inline constexpr size_t kMaxBlocks = 64;

// QEMUFile's read side as the 2010 loader used it: reading past the end yields zeros and sets
// a sticky error that the loader tests once per record.
class StreamReader {
 public:
  explicit StreamReader(std::span<const std::byte> data) : data_(data) {}
  uint8_t GetByte();
  uint64_t GetBe64();
  // Copies up to `n` bytes into `dst`; a short read sets the error.
  void GetBuffer(uint8_t* dst, size_t n);
  bool error() const { return error_; }
  size_t position() const { return pos_; }
  bool at_end() const { return pos_ >= data_.size(); }

 private:
  std::span<const std::byte> data_;
  size_t pos_ = 0;
  bool error_ = false;
};

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

// A RAMBlock: a separate heap object (so that a pointer kept to a freed one is a
// use-after-free ASan sees) whose host memory is its own heap allocation of exactly `length`
// bytes (so that a write past it lands in ASan's redzone).
struct RamBlock {
  std::string idstr;
  uint64_t length = 0;
  std::unique_ptr<uint8_t[], FreeDeleter> host;
};

// ram_list: the destination's blocks, created by MEM_SIZE entries as at a55bbe31 (the stream
// defines the layout, like ramstream's loader without a destination layout).
class Destination {
 public:
  RamBlock* Find(const std::string& idstr) const;
  // nullptr when the harness bounds above, or page alignment, forbid the block.
  RamBlock* Create(const std::string& idstr, uint64_t length);
  // Frees every block and allocates a new one with the same name and length in its place,
  // as a device unplug and re-plug (or a later incoming load into the same process) does.
  void Recreate();
  const std::vector<std::unique_ptr<RamBlock>>& blocks() const { return blocks_; }

 private:
  std::vector<std::unique_ptr<RamBlock>> blocks_;
  uint64_t total_ = 0;
};

enum class LoadResult : uint8_t { kOk, kInvalid, kIoError };

// Offsets (in the reader's data) of the record headers RamLoad accepted, for the differential
// oracle of canary 5; nullptr to skip recording.
using AcceptedRecords = std::vector<size_t>;

// One call of the 2010 `ram_load(f, opaque, 4)`: records up to and including the first EOS.
// `records_left`, when not null, is how many more records the transport delivers: at zero the
// connection is gone and the load fails as a read past the end does (-EIO), before any byte of
// the next record is consumed.
LoadResult RamLoad2010(StreamReader& f, Destination& dest, AcceptedRecords* accepted,
                       size_t* records_left = nullptr);

// The start of a new load in the same process. Every fixed build forgets the remembered block
// here (what ramstream does with its per-load state); canary 4 does not.
void BeginLoad();
// A new process: all statics back to their initial values. The canary targets call it once
// per input, so that every input behaves the same however often it is run.
void ResetProcess();

}  // namespace ramstream::canary

#endif  // RAMSTREAM_FUZZ_CANARIES_RAM_LOAD_2010_H_
