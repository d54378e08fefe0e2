// Codec throughput against memcpy of the same bytes, measured in the same process.
//
//   build/release/bench/codec_bench --benchmark_min_time=1
//
// Each benchmark times its memcpy baseline once (best of several runs, steady_clock) and
// reports `x_memcpy` = its own throughput / the baseline's, so the ratio does not depend on
// the machine. Targets (issue 2): decode+load of CONTINUE PAGE records >= 0.8x memcpy,
// ZERO records >= 200 M records/s, encode of a half-zero image >= 0.8x memcpy.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "protocol/encoder.h"
#include "protocol/loader.h"

namespace ramstream::protocol {
namespace {

using Bytes = std::vector<std::byte>;

// Seconds per byte of memcpy from src to dst (both pre-faulted), best of 5.
double MemcpySecondsPerByte(const Bytes& src, Bytes& dst) {
  double best = 1e30;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    std::memcpy(dst.data(), src.data(), src.size());
    benchmark::ClobberMemory();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  return best / static_cast<double>(src.size());
}

void FillRandom(std::byte* p, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i + 8 <= n; i += 8) {
    const uint64_t w = rng();
    std::memcpy(p + i, &w, 8);
  }
}

// One block of `pages` data pages, every page after the first with CONTINUE.
Bytes PageDenseStream(uint64_t pages) {
  const std::vector<BlockInfo> blocks = {{"pc.ram", pages * kPageSize, {}, {}}};
  Bytes image(pages * kPageSize);
  FillRandom(image.data(), image.size(), 1);
  Bytes out;
  out.reserve(pages * (kPageSize + 16) + 64);
  Encoder enc({}, &out);
  enc.WriteMemSize(blocks);
  for (uint64_t p = 0; p < pages; ++p) {
    enc.WritePage(0, p * kPageSize, std::span<const std::byte>(&image[p * kPageSize], kPageSize));
  }
  enc.WriteEos();
  return out;
}

// Decode + load into dense, pre-faulted guest memory; the argument is the chunk size fed per
// call (0: the whole stream at once).
void BM_DecodeLoad_PageDense(benchmark::State& state) {
  const uint64_t pages = 16384;  // 64 MiB: larger than the caches, like a real stream
  const Bytes stream = PageDenseStream(pages);
  const size_t chunk = state.range(0) ? static_cast<size_t>(state.range(0)) : stream.size();
  GuestMemoryOptions mo;
  mo.backing = Backing::kDense;
  GuestMemory mem(mo);
  (void)mem.AddBlock("pc.ram", pages * kPageSize);
  std::memset(mem.PageForWrite(0, 0), 1, pages * kPageSize);  // dense: contiguous; fault in
  Bytes dst(stream.size());
  std::memset(dst.data(), 1, dst.size());
  const double baseline = MemcpySecondsPerByte(stream, dst);
  for (auto _ : state) {
    Loader loader({}, &mem);
    LoadStatus st = LoadStatus::kNeedInput;
    for (size_t pos = 0; pos < stream.size(); pos += chunk) {
      const size_t n = std::min(chunk, stream.size() - pos);
      st = loader.Feed(std::span<const std::byte>(&stream[pos], n), pos + n == stream.size());
    }
    if (st != LoadStatus::kDone) state.SkipWithError(loader.error().ToString().c_str());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["memcpy_GBps"] = 1e-9 / baseline;
  state.counters["x_memcpy"] = benchmark::Counter(baseline * static_cast<double>(stream.size()),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DecodeLoad_PageDense)->Arg(0)->Arg(65536)->Arg(4096)->Unit(benchmark::kMillisecond);

// ZERO records with CONTINUE into sparse memory: the shape of a mostly idle guest.
void BM_DecodeLoad_ZeroDense(benchmark::State& state) {
  const uint64_t records = 1 << 22;  // 4 M records, 16 GiB of guest memory
  const std::vector<BlockInfo> blocks = {{"pc.ram", records * kPageSize, {}, {}}};
  Bytes stream;
  stream.reserve(records * 9 + 64);
  Encoder enc({}, &stream);
  enc.WriteMemSize(blocks);
  const Bytes zero(kPageSize);
  for (uint64_t p = 0; p < records; ++p) enc.WritePage(0, p * kPageSize, zero);
  enc.WriteEos();
  for (auto _ : state) {
    GuestMemory mem;
    Loader loader({}, &mem);
    if (loader.Feed(stream, true) != LoadStatus::kDone) {
      state.SkipWithError(loader.error().ToString().c_str());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(records), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DecodeLoad_ZeroDense)->Unit(benchmark::kMillisecond);

// Encode an image of which every other page is zero; the argument is the image size in MiB.
void BM_Encode_HalfZero(benchmark::State& state) {
  const uint64_t bytes = static_cast<uint64_t>(state.range(0)) << 20;
  const uint64_t pages = bytes / kPageSize;
  Bytes image(bytes);
  for (uint64_t p = 0; p < pages; p += 2) FillRandom(&image[p * kPageSize], kPageSize, p);
  const std::vector<BlockInfo> blocks = {{"pc.ram", bytes, {}, {}}};
  Bytes out;
  out.resize(bytes / 2 + pages * 16 + 64);  // fault the output in once, outside the timing
  out.clear();
  Bytes dst(bytes);
  std::memset(dst.data(), 1, dst.size());
  const double baseline = MemcpySecondsPerByte(image, dst);
  for (auto _ : state) {
    out.clear();
    Encoder enc({}, &out);
    enc.WriteMemSize(blocks);
    for (uint64_t p = 0; p < pages; ++p) {
      enc.WritePage(0, p * kPageSize, std::span<const std::byte>(&image[p * kPageSize], kPageSize));
    }
    enc.WriteEos();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["memcpy_GBps"] = 1e-9 / baseline;
  state.counters["x_memcpy"] = benchmark::Counter(baseline * static_cast<double>(bytes),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Encode_HalfZero)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ramstream::protocol

BENCHMARK_MAIN();
