// Sweep definitions, point expansion, seeds, rows, resume files and merging.
#include "sim/sweep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "sim/simulate.h"
#include "sim/sweep_closed_form.h"
#include "sim/sweep_run.h"
#include "sim/sweep_table.h"

namespace ramstream::sim {
namespace {

using ::testing::HasSubstr;

const std::string kSweepsDir = RAMSTREAM_SIM_SWEEPS_DIR;

Sweep MustParse(const std::string& text) {
  Result<Sweep> s = Sweep::Parse(text, ScenarioFormat::kText, "t.textproto", "");
  EXPECT_TRUE(s.ok()) << s.error().ToString();
  return std::move(s.value());
}

constexpr const char* kWorked = R"pb(
  base {
    guest {
      ram: "8GiB"
      writers {
        rate: "250MB/s"
        sequential {}
      }
    }
    link { bandwidth: "10Gbit/s" }
    migration { policy: "ideal" downtime_limit: "300ms" }
    run { timeout: "1min" }
  }
)pb";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream b;
  b << in.rdbuf();
  return b.str();
}

// 1-based line of the first occurrence of `needle` in `text`.
int LineOf(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  return at == std::string::npos
             ? 0
             : 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

std::string TempPath(const std::string& name) {
  const auto dir =
      std::filesystem::temp_directory_path() /
      ("sim_sweep_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TEST(SweepTest, EveryExampleSweepParsesAndValidates) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kSweepsDir)) {
    Result<Sweep> s = Sweep::Load(entry.path().string());
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    EXPECT_FALSE(s->axes().empty()) << entry.path();
    EXPECT_EQ(s->Validate(), std::nullopt) << entry.path();
    ++n;
  }
  EXPECT_GE(n, 4);
}

TEST(SweepTest, ExampleSweepSizes) {
  const auto size = [](const std::string& name) {
    Result<Sweep> s = Sweep::Load(kSweepsDir + "/" + name);
    EXPECT_TRUE(s.ok()) << s.error().ToString();
    return s.ok() ? s->size() : 0;
  };
  EXPECT_EQ(size("hotcold-bandwidth-dirty-rate.textproto"), 144u);
  EXPECT_EQ(size("database-downtime-bandwidth.textproto"), 64u);
  EXPECT_EQ(size("auto-converge-memory-bound.json"), 12u);
  EXPECT_EQ(size("worked-example-grid.textproto"), 6u);
  EXPECT_EQ(size("multifd-cpu-bound.textproto"), 12u);
}

// sim/sweeps/multifd-cpu-bound.textproto at 9.1 and 40 Gbit/s: with 5 us per page one thread
// is slower than the link; multifd overlaps the two, down to the page cost alone.
TEST(SweepTest, MultifdCpuBoundExampleOutcomes) {
  Result<Sweep> s = Sweep::Load(kSweepsDir + "/multifd-cpu-bound.textproto");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  // A point that cannot be simulated fails the test and yields an empty result, whose zero
  // times then fail the figures below too.
  const auto run = [&](uint64_t point) {
    Result<SimSpec> spec = s->PointSpec(point);
    if (!spec.ok()) {
      ADD_FAILURE() << spec.error().ToString();
      return SimResult{};
    }
    Result<SimResult> r = Simulate(*spec);
    if (!r.ok()) {
      ADD_FAILURE() << r.error().ToString();
      return SimResult{};
    }
    EXPECT_TRUE(r->converged()) << point;
    return *r;
  };
  ASSERT_EQ(s->Describe(3), "multifd_channels=off, bandwidth=9.146 Gbit/s");
  ASSERT_EQ(s->Describe(9), "multifd_channels=2, bandwidth=9.146 Gbit/s");
  const SimResult off = run(3);
  const SimResult on = run(9);
  EXPECT_FALSE(off.multifd.enabled);
  EXPECT_EQ(on.multifd.pages, on.bytes.normal_pages);
  EXPECT_NEAR(off.total_time_s, 19.20, 0.05);
  EXPECT_NEAR(on.total_time_s, 11.31, 0.05);
  // 40 Gbit/s: the link takes 0.8 us a page, the scan 5 us.
  const SimResult fast = run(11);
  EXPECT_NEAR(fast.total_time_s - fast.downtime_s,
              static_cast<double>(fast.bytes.normal_pages + fast.bytes.zero_pages) * 5e-6, 0.3);
}

TEST(SweepTest, LogRangeHitsBothEndsExactly) {
  Sweep s = MustParse(std::string(kWorked) +
                      R"pb(axes {
                             param: "bandwidth"
                             range { from: "1Gbit/s" to: "40Gbit/s" points: 16 scale: "log" }
                           })pb");
  ASSERT_EQ(s.axes().size(), 1u);
  const std::vector<AxisValue>& v = s.axes()[0].values;
  ASSERT_EQ(v.size(), 16u);
  EXPECT_EQ(v.front().number, 1.25e8);
  EXPECT_EQ(v.back().number, 5e9);
  EXPECT_EQ(v.front().label, "1 Gbit/s");
  EXPECT_EQ(v.back().label, "40 Gbit/s");
  EXPECT_TRUE(s.axes()[0].log_scale);
  // Constant ratio between neighbours.
  EXPECT_NEAR(v[1].number / v[0].number, std::pow(40.0, 1.0 / 15), 1e-9);
}

TEST(SweepTest, SizeRangesRoundToWholePages) {
  Sweep s = MustParse(std::string(kWorked) + R"pb(axes {
                                                    param: "ram"
                                                    range { from: "1GiB" to: "2GiB" points: 3 }
                                                  })pb");
  for (const AxisValue& v : s.axes()[0].values) {
    EXPECT_EQ(std::fmod(v.number, 4096.0), 0.0) << v.text;
  }
  EXPECT_EQ(s.axes()[0].values[1].label, "1536 MiB");
}

TEST(SweepTest, PointsAreRowMajorLastAxisFastest) {
  Sweep s = MustParse(std::string(kWorked) + R"pb(
    axes {
      param: "bandwidth"
      values: [ "1Gbit/s", "10Gbit/s", "40Gbit/s" ]
    }
    axes {
      param: "dirty_rate"
      values: [ "250MB/s", "2GB/s" ]
    }
  )pb");
  EXPECT_EQ(s.size(), 6u);
  EXPECT_EQ(s.Coordinates(0), (std::vector<size_t>{0, 0}));
  EXPECT_EQ(s.Coordinates(1), (std::vector<size_t>{0, 1}));
  EXPECT_EQ(s.Coordinates(5), (std::vector<size_t>{2, 1}));
  EXPECT_EQ(s.Describe(3), "bandwidth=10Gbit/s, dirty_rate=2GB/s");
  Result<SimSpec> spec = s.PointSpec(3);
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  EXPECT_EQ(spec->link.steps.front().bytes_per_s, 1.25e9);
  EXPECT_EQ(spec->guest.writers[0].pages_per_s * 4096, 2e9);
  EXPECT_FALSE(spec->run.series);
}

TEST(SweepTest, SeedsComeFromTheValuesNotTheIndex) {
  Sweep a = MustParse(std::string(kWorked) + R"pb(axes {
                                                    param: "bandwidth"
                                                    values: [ "1Gbit/s", "10Gbit/s" ]
                                                  })pb");
  Sweep b = MustParse(std::string(kWorked) + R"pb(axes {
                                                    param: "bandwidth"
                                                    values: [ "10Gbit/s" ]
                                                  })pb");
  EXPECT_NE(a.SeedFor(0), a.SeedFor(1));
  EXPECT_EQ(a.SeedFor(1), b.SeedFor(0));
  Sweep same = MustParse(std::string(kWorked) + R"pb(same_seed: true
                                                     axes {
                                                       param: "bandwidth"
                                                       values: [ "1Gbit/s", "10Gbit/s" ]
                                                     })pb");
  EXPECT_EQ(same.SeedFor(0), 1u);
  EXPECT_EQ(same.SeedFor(1), 1u);
}

TEST(SweepTest, VaryFlagForms) {
  Sweep s = Sweep::FromScenario(ScenarioDocument::Default());
  EXPECT_EQ(s.AddVary("bandwidth=1Gbit/s..40Gbit/s:log:16"), std::nullopt);
  EXPECT_EQ(s.AddVary("downtime-limit=100ms..1s:10"), std::nullopt);
  EXPECT_EQ(s.AddVary("policy=ideal,qemu-7.2"), std::nullopt);
  EXPECT_EQ(s.AddVary("auto_converge=on,off"), std::nullopt);
  ASSERT_EQ(s.axes().size(), 4u);
  EXPECT_EQ(s.size(), 16u * 10 * 2 * 2);
  EXPECT_FALSE(s.axes()[1].log_scale);
  EXPECT_DOUBLE_EQ(s.axes()[1].values[1].number, 0.2);
  // Same parameter again replaces the axis.
  EXPECT_EQ(s.AddVary("bandwidth=10Gbit/s"), std::nullopt);
  EXPECT_EQ(s.axes().size(), 4u);
  EXPECT_EQ(s.size(), 10u * 2 * 2);
}

TEST(SweepTest, VaryErrorsNameTheFlagAndTheProblem) {
  Sweep s = Sweep::FromScenario(ScenarioDocument::Default());
  std::optional<Error> e = s.AddVary("bandwith=1Gbit/s");
  ASSERT_TRUE(e);
  EXPECT_THAT(e->ToString(), HasSubstr("unknown parameter \"bandwith\""));
  e = s.AddVary("bandwidth=10Gb/s");
  ASSERT_TRUE(e);
  EXPECT_THAT(e->ToString(), HasSubstr("--vary bandwidth: "));
  EXPECT_THAT(e->ToString(), HasSubstr("unknown unit"));
  e = s.AddVary("bandwidth=1Gbit/s..2Gbit/s:log:x");
  ASSERT_TRUE(e);
  EXPECT_THAT(e->message, HasSubstr("POINTS \"x\""));
  e = s.AddVary("policy=a..b:3");
  ASSERT_TRUE(e);
  EXPECT_THAT(e->message, HasSubstr("takes a list of values"));
  e = s.AddVary("bandwidth=1Gbit/s..1Gbit/s:3");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ToString(),
            "--vary bandwidth: range \"1Gbit/s..1Gbit/s:3\": the range repeats 1 Gbit/s: use "
            "fewer points or a list of values");
  e = s.AddVary("xbzrle_cache=64MiB,lots");
  ASSERT_TRUE(e);
  EXPECT_THAT(e->ToString(), HasSubstr("--vary xbzrle_cache: "));
}

TEST(SweepTest, FileErrorsCarryLineColumnAndField) {
  const std::string text = std::string(kWorked) + R"pb(
    axes {
      param: "bandwidth"
      values: [ "1Gbit/s", "10 Gb/s" ]
    }
  )pb";
  Result<Sweep> s = Sweep::Parse(text, ScenarioFormat::kText, "bad.textproto", "");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, "bad.textproto");
  EXPECT_EQ(s.error().field, "axes[0].values[1]");
  EXPECT_EQ(s.error().line, LineOf(text, "values: ["));
  EXPECT_THAT(s.error().message, HasSubstr("unknown unit"));
}

TEST(SweepTest, InlineBaseErrorsPointIntoTheSweepFile) {
  const std::string text = R"pb(base {
                                  guest {
                                    ram: "8GiB"
                                    writers {
                                      rate: "250 MB per s"
                                      sequential {}
                                    }
                                  }
                                }
                                axes { param: "bandwidth" values: "1Gbit/s" }
  )pb";
  Result<Sweep> s = Sweep::Parse(text, ScenarioFormat::kText, "inline.textproto", "");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  std::optional<Error> e = s->Validate();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->file, "inline.textproto");
  EXPECT_EQ(e->line, LineOf(text, "rate: \"250 MB per s\""));
  EXPECT_EQ(e->field, "base.guest.writers[0].rate");
}

TEST(SweepTest, JsonErrorsCarryLines) {
  Result<Sweep> s = Sweep::Parse(R"({
  "base_file": "x.textproto",
  "axes": [
    {"param": "bandwidth", "values": [10]}
  ]
})",
                                 ScenarioFormat::kJson, "bad.json", "");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().line, 4);
  EXPECT_THAT(s.error().message, HasSubstr("expected a string"));
}

TEST(SweepTest, PointErrorsNameThePointAndAxis) {
  Sweep s = MustParse(std::string(kWorked) + R"pb(axes {
                                                    param: "ram"
                                                    values: [ "8GiB", "8000B" ]
                                                  })pb");
  Result<SimSpec> spec = s.PointSpec(1);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.error().field, "axis ram");
  EXPECT_THAT(spec.error().message, HasSubstr("point 1 (ram=8000B)"));
  EXPECT_TRUE(s.PointSpec(0).ok());
}

TEST(SweepTest, AutoConvergeOffOverridesTheBase) {
  Result<Sweep> s = Sweep::Load(kSweepsDir + "/auto-converge-memory-bound.json");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  Result<SimSpec> off = s->PointSpec(0);
  Result<SimSpec> on = s->PointSpec(6);
  ASSERT_TRUE(off.ok() && on.ok());
  EXPECT_FALSE(off->migration.auto_converge.enabled);
  EXPECT_TRUE(on->migration.auto_converge.enabled);
}

TEST(SweepTest, XbzrleCacheAxisTurnsXbzrleOnOrOff) {
  Sweep s = Sweep::FromScenario(ScenarioDocument::Default());
  ASSERT_EQ(s.AddVary("xbzrle_cache=off,256MiB"), std::nullopt);
  Result<SimSpec> off = s.PointSpec(0);
  Result<SimSpec> on = s.PointSpec(1);
  ASSERT_TRUE(off.ok() && on.ok());
  EXPECT_FALSE(off->migration.xbzrle.enabled);
  EXPECT_TRUE(on->migration.xbzrle.enabled);
  EXPECT_EQ(on->migration.xbzrle.cache_bytes, uint64_t{256} << 20);
}

TEST(SweepTest, MultifdChannelsAxisCountsChannelsOrTurnsMultifdOff) {
  Sweep s = Sweep::FromScenario(ScenarioDocument::Default());
  ASSERT_EQ(s.AddVary("multifd-channels=off,2,16"), std::nullopt);
  ASSERT_EQ(s.axes().size(), 1u);
  EXPECT_EQ(s.axes()[0].name, "multifd_channels");
  EXPECT_EQ(s.axes()[0].values[0].label, "off");
  EXPECT_EQ(s.axes()[0].values[0].number, 0);
  EXPECT_EQ(s.axes()[0].values[2].label, "16");
  Result<SimSpec> off = s.PointSpec(0);
  Result<SimSpec> sixteen = s.PointSpec(2);
  ASSERT_TRUE(off.ok() && sixteen.ok());
  EXPECT_EQ(off->migration.multifd.channels, 0u);
  EXPECT_EQ(sixteen->migration.multifd.channels, 16u);
  // A log range of counts: whole numbers, both ends exact.
  ASSERT_EQ(s.AddVary("multifd_channels=1..8:log:4"), std::nullopt);
  std::vector<double> counts;
  for (const AxisValue& v : s.axes()[0].values) counts.push_back(v.number);
  EXPECT_EQ(counts, (std::vector<double>{1, 2, 4, 8}));
  EXPECT_EQ(s.axes()[0].values[3].text, "8");

  std::optional<Error> e = s.AddVary("multifd_channels=1..3:5");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ToString(),
            "--vary multifd_channels: range \"1..3:5\": the range repeats 2: use fewer points "
            "or a list of values");
  e = s.AddVary("multifd_channels=2,256");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ToString(), "--vary multifd_channels: \"256\": expected 0-255 or off");
  e = s.AddVary("multifd_channels=two");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->ToString(), "--vary multifd_channels: \"two\": expected 0-255 or off");
  ASSERT_EQ(s.AddVary("multifd_channels=off"), std::nullopt);
  EXPECT_EQ(s.axes()[0].values[0].text, "0");

  // A policy without multifd: the point's error names the axis.
  Sweep ideal = MustParse(std::string(kWorked) + R"pb(
    axes { param: "multifd_channels" values: "0" values: "2" }
  )pb");
  EXPECT_TRUE(ideal.PointSpec(0).ok());
  Result<SimSpec> bad = ideal.PointSpec(1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().field, "axis multifd_channels");
  EXPECT_THAT(bad.error().message, HasSubstr("point 1 (multifd_channels=2)"));
  EXPECT_THAT(bad.error().message, HasSubstr("qemu-7.2 only"));
}

TEST(SweepTest, ClosedFormReproducesTheWorkedExample) {
  Sweep s = MustParse(kWorked);
  Result<SimSpec> spec = s.PointSpec(0);
  ASSERT_TRUE(spec.ok());
  const ClosedFormPrediction p = PredictClosedForm(*spec, 0, 0.3);
  ASSERT_TRUE(p.applicable);
  EXPECT_TRUE(p.converged);
  EXPECT_EQ(p.rounds, 2u);
  EXPECT_NEAR(p.transferred_bytes, 10.65e9, 0.01e9);
  EXPECT_NEAR(p.total_time_s, 8.52, 0.01);
  EXPECT_NEAR(p.downtime_s, 0.275, 0.001);
  // rho = 2: never.
  spec->link.steps = {{0, 1.25e8}};
  EXPECT_FALSE(PredictClosedForm(*spec, 0, 0.3).converged);
}

// The worked-example grid, run: specific outcomes, and the model agrees on each.
TEST(SweepTest, WorkedExampleGridOutcomes) {
  Result<Sweep> s = Sweep::Load(kSweepsDir + "/worked-example-grid.textproto");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  std::vector<nlohmann::ordered_json> rows;
  SweepRunOptions opts;
  opts.threads = 2;
  opts.on_row = [&](uint64_t, const nlohmann::ordered_json& row) {
    rows.push_back(row);
    return true;
  };
  const SweepRunSummary sum = RunSweep(*s, ShardPoints(s->size(), 0, 1), opts);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(sum.errors, 0u);
  EXPECT_EQ(sum.converged, 3u);
  const std::vector<bool> want = {false, false, true, false, true, true};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["point"].get<uint64_t>(), i);
    EXPECT_EQ(rows[i]["converged"].get<bool>(), want[i]) << i;
    EXPECT_EQ(rows[i]["model_converged"].get<bool>(), want[i]) << i;
  }
  // 10 Gbit/s, 250 MB/s: the worked example (0.275 s downtime, 10.65 GB) within 1%.
  EXPECT_NEAR(rows[2]["downtime_s"].get<double>(), 0.275, 0.00275);
  EXPECT_NEAR(rows[2]["transferred_bytes"].get<double>(), 10.65e9, 0.1065e9);
  EXPECT_EQ(rows[2]["outcome"], "converged");
  EXPECT_EQ(rows[0]["outcome"], "timeout");
  // Every row has exactly the header's columns, in order.
  const std::vector<std::string> cols = SweepColumns(*s);
  for (const auto& row : rows) {
    std::vector<std::string> keys;
    for (auto it = row.begin(); it != row.end(); ++it) keys.push_back(it.key());
    EXPECT_EQ(keys, cols);
  }
}

// Rows are identical whatever the thread count or shard.
TEST(SweepTest, RowsDoNotDependOnThreadsOrShards) {
  Result<Sweep> s = Sweep::Load(kSweepsDir + "/worked-example-grid.textproto");
  ASSERT_TRUE(s.ok());
  const auto run = [&](const std::vector<uint64_t>& points, int threads) {
    std::map<uint64_t, std::string> out;
    SweepRunOptions opts;
    opts.threads = threads;
    opts.on_row = [&](uint64_t p, const nlohmann::ordered_json& row) {
      out[p] = SweepLine(SweepFormat::kCsv, row);
      return true;
    };
    RunSweep(*s, points, opts);
    return out;
  };
  const auto one = run(ShardPoints(6, 0, 1), 1);
  const auto two = run(ShardPoints(6, 0, 1), 2);
  EXPECT_EQ(one, two);
  auto sharded = run(ShardPoints(6, 0, 4), 1);
  for (uint64_t i = 1; i < 4; ++i) sharded.merge(run(ShardPoints(6, i, 4), 2));
  EXPECT_EQ(one, sharded);
}

TEST(SweepTest, ShardsPartitionThePoints) {
  std::set<uint64_t> all;
  size_t n = 0;
  for (uint64_t i = 0; i < 3; ++i) {
    for (uint64_t p : ShardPoints(10, i, 3)) {
      all.insert(p);
      ++n;
    }
  }
  EXPECT_EQ(n, 10u);
  EXPECT_EQ(all.size(), 10u);
  uint64_t i = 0;
  uint64_t c = 0;
  EXPECT_EQ(ParseShard("2/3", &i, &c), std::nullopt);
  EXPECT_EQ(i, 2u);
  EXPECT_EQ(c, 3u);
  std::optional<Error> e = ParseShard("3/3", &i, &c);
  ASSERT_TRUE(e);
  EXPECT_THAT(e->message, HasSubstr("0..2"));
}

TEST(SweepTest, CsvQuotesOnlyWhenNeeded) {
  nlohmann::ordered_json row;
  row["point"] = 3;
  row["a"] = "x,y";
  row["b"] = "say \"hi\"";
  row["c"] = 0.275;
  row["d"] = nullptr;
  row["e"] = true;
  EXPECT_EQ(SweepLine(SweepFormat::kCsv, row), "3,\"x,y\",\"say \"\"hi\"\"\",0.275,,true\n");
}

TEST(SweepTest, ReadBackFindsRowsAndAPartialTail) {
  const std::string path = TempPath("partial.csv");
  {
    std::ofstream out(path, std::ios::binary);
    out << "point,sweep_id,points_total,x\n0,abc,3,1\n1,abc,3,2\n2,abc,3";
  }
  Result<SweepFileContents> f = ReadSweepFile(path);
  ASSERT_TRUE(f.ok()) << f.error().ToString();
  EXPECT_EQ(f->rows.size(), 2u);
  EXPECT_TRUE(f->partial_tail);
  EXPECT_EQ(f->complete_bytes,
            std::string("point,sweep_id,points_total,x\n0,abc,3,1\n1,abc,3,2\n").size());
  EXPECT_EQ(f->sweep_id, "abc");
}

TEST(SweepTest, ReadBackRejectsMixedSweeps) {
  const std::string path = TempPath("mixed.csv");
  {
    std::ofstream out(path, std::ios::binary);
    out << "point,sweep_id,points_total,x\n0,abc,3,1\n1,def,3,2\n";
  }
  Result<SweepFileContents> f = ReadSweepFile(path);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().line, 3);
  EXPECT_THAT(f.error().message, HasSubstr("another sweep"));
}

TEST(SweepTest, MergeChecksDuplicatesAndMissingPoints) {
  const std::string a = TempPath("a.csv");
  const std::string b = TempPath("b.csv");
  const std::string out = TempPath("out.csv");
  const std::string h = "point,sweep_id,points_total,x\n";
  const auto write = [](const std::string& p, const std::string& text) {
    std::ofstream o(p, std::ios::binary);
    o << text;
  };
  write(a, h + "0,abc,4,1\n2,abc,4,3\n");
  write(b, h + "1,abc,4,2\n");
  std::optional<Error> e = MergeSweepFiles({a, b}, out);
  ASSERT_TRUE(e);
  EXPECT_THAT(e->message, HasSubstr("1 of 4 points missing (3)"));
  write(b, h + "1,abc,4,2\n3,abc,4,4\n");
  EXPECT_EQ(MergeSweepFiles({a, b}, out), std::nullopt);
  EXPECT_EQ(ReadAll(out), h + "0,abc,4,1\n1,abc,4,2\n2,abc,4,3\n3,abc,4,4\n");
  write(b, h + "1,abc,4,2\n2,abc,4,3\n3,abc,4,4\n");
  e = MergeSweepFiles({a, b}, out);
  ASSERT_TRUE(e);
  EXPECT_THAT(e->message, HasSubstr("point 2 appears twice"));
  write(b, h + "1,xyz,4,2\n3,xyz,4,4\n");
  e = MergeSweepFiles({a, b}, out);
  ASSERT_TRUE(e);
  EXPECT_THAT(e->message, HasSubstr("another sweep"));
}

}  // namespace
}  // namespace ramstream::sim
