// Tests of the reflection-based mutator (fuzz/proto/mutator.h) on the RamStream schema, and of
// the converter (fuzz/proto/proto_to_stream.h): determinism for a seed, size bounds, validity
// after post-processing, reach over the schema, crossover, and converted streams that load.
#include "fuzz/proto/mutator.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "fuzz/oracles.h"
#include "fuzz/proto/proto_to_stream.h"
#include "fuzz/proto/ram_stream.pb.h"
#include "fuzz/proto/ram_stream_mutator.h"
#include "protocol/loader.h"
#include "protocol/xbzrle.h"

namespace ramstream::fuzz {
namespace {

using proto::RamStream;

RamStream FromText(const std::string& text) {
  RamStream m;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &m)) << text;
  return m;
}

const char* kSmallStream = R"pb(
  records {
    mem_size {
      blocks {
        name { known: PC_RAM }
        pages: 4
      }
    }
  }
  records { eos {} }
  records {
    page {
      ref {
        block { index: 0 }
        page_index: 1
      }
      data { seed: "ab" }
    }
  }
  records { zero { ref { use_continue: true page_index: 2 } } }
  records {
    xbzrle {
      ref { use_continue: true page_index: 1 }
      runs {
        runs { skip: 0 data: "x" }
        runs { skip: 10 data: "yz" }
      }
    }
  }
  records { eos {} }
)pb";

protomut::ProtoMutator Configured(uint64_t seed) {
  protomut::ProtoMutator m(seed);
  ConfigureRamStreamMutator(&m);
  return m;
}

// Runs n mutations from `start` with one mutator seeded once; returns every intermediate
// serialisation.
std::vector<std::string> Chain(const RamStream& start, uint64_t seed, int n, size_t max_size) {
  protomut::ProtoMutator m = Configured(seed);
  RamStream msg = start;
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    m.Mutate(&msg, max_size);
    out.push_back(msg.SerializeAsString());
  }
  return out;
}

TEST(ProtoMutatorTest, SameSeedSameMutants) {
  const RamStream start = FromText(kSmallStream);
  EXPECT_EQ(Chain(start, 42, 300, 4096), Chain(start, 42, 300, 4096));
}

TEST(ProtoMutatorTest, DifferentSeedsDiverge) {
  const RamStream start = FromText(kSmallStream);
  EXPECT_NE(Chain(start, 1, 50, 4096), Chain(start, 2, 50, 4096));
}

TEST(ProtoMutatorTest, EngineEntryPointIsDeterministicPerSeed) {
  const std::string in = FromText(kSmallStream).SerializeAsString();
  for (uint64_t seed = 0; seed < 50; ++seed) {
    std::vector<uint8_t> a(in.begin(), in.end()), b(in.begin(), in.end());
    a.resize(8192);
    b.resize(8192);
    const size_t na = MutateRamStream(a.data(), in.size(), a.size(), seed);
    const size_t nb = MutateRamStream(b.data(), in.size(), b.size(), seed);
    ASSERT_EQ(na, nb);
    EXPECT_EQ(std::vector<uint8_t>(a.begin(), a.begin() + na),
              std::vector<uint8_t>(b.begin(), b.begin() + nb));
  }
}

// One mutation of kSmallStream per seed; how many of them changed only `config`.
int ConfigOnlyEdits(protomut::ProtoMutator& m, int seeds) {
  const RamStream start = FromText(kSmallStream);
  int n = 0;
  for (int seed = 0; seed < seeds; ++seed) {
    RamStream msg = start;
    m.Seed(seed);
    m.Mutate(&msg, 4096);
    RamStream without = msg;
    without.set_config(start.config());
    if (msg.config() != start.config() &&
        without.SerializeAsString() == start.SerializeAsString()) {
      ++n;
    }
  }
  return n;
}

TEST(ProtoMutatorTest, EditWeightMakesConfigEditsProportionallyMoreLikely) {
  protomut::ProtoMutator plain(0);
  ConfigureRamStreamMutator(&plain);
  plain.SetEditWeight("ramstream.fuzz.proto.RamStream.config", 1);
  protomut::ProtoMutator weighted(0);
  ConfigureRamStreamMutator(&weighted);  // weight 16
  const int seeds = 4000;
  const int rare = ConfigOnlyEdits(plain, seeds);
  const int often = ConfigOnlyEdits(weighted, seeds);
  // kSmallStream offers a few dozen edits, so unweighted the config is a few percent of them
  // and weighted about 16 times as many, less what saturates: at least 5x, and most edits
  // still go to the records.
  EXPECT_GT(rare, 0);
  EXPECT_GT(often, 5 * rare) << "plain " << rare << ", weighted " << often;
  EXPECT_LT(often, seeds * 3 / 4);
}

TEST(ProtoMutatorTest, StaysWithinSizeBound) {
  for (size_t bound : {64u, 200u, 1000u}) {
    protomut::ProtoMutator m = Configured(bound);
    RamStream msg;
    for (int i = 0; i < 2000; ++i) {
      m.Mutate(&msg, bound);
      ASSERT_LE(msg.ByteSizeLong(), bound) << "after mutation " << i;
    }
  }
}

TEST(ProtoMutatorTest, OversizedInputShrinksToBound) {
  RamStream big = FromText(kSmallStream);
  for (int i = 0; i < 5; ++i) big.MergeFrom(FromText(kSmallStream));
  ASSERT_GT(big.ByteSizeLong(), 100u);
  protomut::ProtoMutator m = Configured(7);
  EXPECT_TRUE(m.Mutate(&big, 100));
  EXPECT_LE(big.ByteSizeLong(), 100u);
}

TEST(ProtoMutatorTest, PostProcessedMutantsAreNormalAndRoundTrip) {
  protomut::ProtoMutator m = Configured(3);
  RamStream msg = FromText(kSmallStream);
  for (int i = 0; i < 3000; ++i) {
    m.Mutate(&msg, 1 << 16);
    RamStream again = msg;
    NormalizeRamStream(&again);
    ASSERT_EQ(again.SerializeAsString(), msg.SerializeAsString())
        << "a mutant is not post-processed, mutation " << i;
    ASSERT_LE(msg.records_size(), 64);
    ASSERT_LE(msg.chunk_plan().size(), 31u);
    const std::string bytes = msg.SerializeAsString();
    RamStream parsed;
    ASSERT_TRUE(ParseRamStream(std::as_bytes(std::span<const char>(bytes)), &parsed));
    ASSERT_EQ(parsed.SerializeAsString(), bytes);
  }
}

TEST(ProtoMutatorTest, ReachesEveryRecordKindFromEmpty) {
  protomut::ProtoMutator m = Configured(11);
  RamStream msg;
  std::set<int> kinds;
  for (int i = 0; i < 20000 && kinds.size() < 10; ++i) {
    m.Mutate(&msg, 1 << 14);
    for (const proto::Record& r : msg.records()) {
      if (r.kind_case() != proto::Record::KIND_NOT_SET) kinds.insert(r.kind_case());
    }
  }
  EXPECT_EQ(kinds.size(), 10u);
}

TEST(ProtoMutatorTest, CrossOverTakesDonorSubtrees) {
  const RamStream donor = FromText(R"pb(
    records {
      page {
        ref { page_index: 5 }
        data { seed: "DONOR" }
      }
    }
  )pb");
  bool took = false;
  for (uint64_t seed = 0; seed < 200 && !took; ++seed) {
    protomut::ProtoMutator m = Configured(seed);
    RamStream msg = FromText(kSmallStream);
    m.CrossOver(donor, &msg, 1 << 14);
    ASSERT_LE(msg.ByteSizeLong(), size_t{1} << 14);
    took = msg.DebugString().find("DONOR") != std::string::npos;
  }
  EXPECT_TRUE(took);
}

TEST(ProtoMutatorTest, TextSeedsParse) {
  const std::string text = std::string("# a seed\n") + kSmallStream;
  RamStream msg;
  ASSERT_TRUE(ParseRamStream(std::as_bytes(std::span<const char>(text)), &msg));
  EXPECT_EQ(msg.records_size(), 6);
}

TEST(ProtoToStreamTest, ConsistentMessageLoads) {
  const std::vector<std::byte> bytes = ProtoToStream(FromText(kSmallStream));
  protocol::GuestMemory memory;
  protocol::Loader loader({}, &memory);
  EXPECT_EQ(loader.Feed(bytes, true), protocol::LoadStatus::kDone) << loader.error().ToString();
  EXPECT_EQ(loader.stats().count(protocol::RecordKind::kXbzrle), 1u);
  EXPECT_EQ(loader.stats().continue_records, 2u);
}

TEST(ProtoToStreamTest, XbzrleRunsFollowQemuRules) {
  // Runs that would break the rules (a later zero skip, empty data, a skip past the page)
  // are made valid; the raw escape is left alone.
  const std::vector<std::byte> bytes = ProtoToStream(FromText(R"pb(
    records { mem_size { blocks { pages: 1 } } }
    records {
      xbzrle {
        ref { page_index: 0 }
        runs {
          runs { skip: 0 data: "" }
          runs { skip: 0 data: "abc" }
          runs { skip: 5000 data: "z" }
        }
      }
    }
    records { eos {} }
  )pb"));
  protocol::GuestMemory memory;
  protocol::Loader loader({}, &memory);
  EXPECT_EQ(loader.Feed(bytes, true), protocol::LoadStatus::kDone) << loader.error().ToString();
}

TEST(ProtoToStreamTest, CapsRecordsAndBlockSizes) {
  RamStream msg = FromText(R"pb(
    records { mem_size { blocks { pages: 18446744073709551615 } } }
  )pb");
  for (int i = 0; i < 1000; ++i) msg.add_records()->mutable_eos();
  ConvertLimits limits;
  const std::vector<std::byte> bytes = ProtoToStream(msg, limits);
  // MEM_SIZE header + entry (1 + 6 + 8) + 255 EOS records.
  EXPECT_EQ(bytes.size(), 8u + 15u + 8u * (limits.max_records - 1));
  protocol::GuestMemory memory;
  protocol::LoaderOptions options;
  options.decoder.limits = FuzzLimits();
  protocol::Loader loader(options, &memory);
  EXPECT_EQ(loader.Feed(bytes, true), protocol::LoadStatus::kDone) << loader.error().ToString();
}

// The replay of corpus/ram_proto_fuzzer would skip a seed that does not parse without a word,
// so parsing them is a test of its own; each must also convert to a non-empty stream.
TEST(ProtoSeedsTest, EveryCommittedSeedParses) {
  const std::filesystem::path dir =
      std::filesystem::path(RAMSTREAM_SOURCE_DIR) / "corpus" / "ram_proto_fuzzer";
  int seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream f(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    RamStream msg;
    EXPECT_TRUE(ParseRamStream(std::as_bytes(std::span<const char>(bytes)), &msg)) << entry.path();
    EXPECT_FALSE(ProtoToStream(msg).empty()) << entry.path();
    ++seeds;
  }
  EXPECT_GE(seeds, 5);
}

}  // namespace
}  // namespace ramstream::fuzz
