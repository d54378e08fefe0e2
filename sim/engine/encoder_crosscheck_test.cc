// The simulator's arithmetic byte accounting against the real codec: every page record the
// simulator sends is replayed through protocol::Encoder (zero or data pages, same blocks, same
// order), and the byte counts must agree exactly. The stream is then decoded and loaded.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "protocol/encoder.h"
#include "protocol/guest_memory.h"
#include "protocol/loader.h"
#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

class EncoderReplay : public SendObserver {
 public:
  EncoderReplay() : encoder_(protocol::EncoderOptions{}, &stream_), data_(protocol::kPageSize) {
    for (size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<std::byte>(i * 7 + 1);
  }
  void OnSetup(const RamState& ram) override {
    std::vector<protocol::BlockInfo> blocks;
    for (const RamBlockLayout& b : ram.blocks()) {
      blocks.push_back(protocol::BlockInfo{b.name, b.pages * protocol::kPageSize, {}, {}});
    }
    encoder_.WriteMemSize(blocks);
  }
  void OnPage(size_t block, uint64_t page, bool zero, bool named) override {
    const std::vector<std::byte>& content = zero ? zero_ : data_;
    const uint64_t saved = encoder_.stats().continue_saved_bytes;
    encoder_.WritePage(static_cast<uint32_t>(block), page * protocol::kPageSize, content);
    // The encoder decides CONTINUE on its own; it must agree page by page.
    EXPECT_EQ(named, encoder_.stats().continue_saved_bytes == saved);
  }
  void OnEos() override { encoder_.WriteEos(); }

  const protocol::EncoderStats& stats() const { return encoder_.stats(); }
  const std::vector<std::byte>& stream() const { return stream_; }

 private:
  std::vector<std::byte> stream_;
  protocol::Encoder encoder_;
  std::vector<std::byte> data_;
  std::vector<std::byte> zero_ = std::vector<std::byte>(protocol::kPageSize);
};

SimSpec SmallGuest(const char* policy) {
  SimSpec s;
  s.guest.blocks = {{"pc.ram", 4096, 0.3}, {"pc.bios", 64, 0.9}, {"vga.vram", 512, 0.05}};
  WriterSpec hot;
  hot.kind = WriterKind::kHotCold;
  hot.pages_per_s = 2'000;
  hot.working_set = 64 * 4096;
  hot.hot_offset = 1024 * 4096;
  WriterSpec vga;
  vga.kind = WriterKind::kUniform;
  vga.pages_per_s = 50;
  vga.region.block = "vga.vram";
  s.guest.writers = {hot, vga};
  s.link.steps = {{0, 20e6}};
  s.migration.policy = policy;
  s.migration.max_bandwidth = 8e6;
  s.migration.downtime_limit_s = 0.1;
  s.run.timeout_s = 60;  // it converges in a few seconds; this only bounds a regression
  return s;
}

class CrossCheck : public ::testing::TestWithParam<const char*> {};

TEST_P(CrossCheck, SimulatedBytesEqualEncodedBytes) {
  EncoderReplay replay;
  Result<SimResult> r = Simulate(SmallGuest(GetParam()), &replay);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->converged());
  const StreamCounters& c = r->bytes;
  const protocol::EncoderStats& e = replay.stats();
  EXPECT_EQ(e.normal_pages, c.normal_pages);
  EXPECT_EQ(e.zero_pages, c.zero_pages);
  EXPECT_EQ(e.page_record_bytes, c.page_record_bytes());
  EXPECT_EQ(e.continue_saved_bytes, c.continue_saved_bytes);
  EXPECT_EQ(e.eos, c.eos_records);
  EXPECT_EQ(e.bytes, c.page_record_bytes() + c.eos_bytes() + c.mem_size_bytes);
  EXPECT_GE(r->iterations, 2u);
  EXPECT_GT(c.named_records, 3u);  // block changes across passes
}

TEST_P(CrossCheck, TheStreamLoads) {
  EncoderReplay replay;
  Result<SimResult> r = Simulate(SmallGuest(GetParam()), &replay);
  ASSERT_TRUE(r.ok());
  protocol::GuestMemory memory;
  protocol::Loader loader(protocol::LoaderOptions{}, &memory);
  EXPECT_EQ(loader.Feed(replay.stream(), /*end_of_input=*/true), protocol::LoadStatus::kDone)
      << loader.error().ToString();
  EXPECT_EQ(loader.stats().named_records, r->bytes.named_records);
  EXPECT_EQ(loader.stats().continue_saved_bytes, r->bytes.continue_saved_bytes);
  EXPECT_EQ(loader.stats().bytes, replay.stream().size());
}

std::string PolicyName(const ::testing::TestParamInfo<const char*>& param) {
  std::string n = param.param;
  for (char& ch : n) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Policies, CrossCheck, ::testing::Values("ideal", "qemu-2010", "qemu-7.2"),
                         PolicyName);

}  // namespace
}  // namespace ramstream::sim
