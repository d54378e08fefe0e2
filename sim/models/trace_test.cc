#include "sim/models/trace.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

using ::testing::HasSubstr;

// The error of parsing `text`, which must fail.
Error ParseError(const std::string& text) {
  Result<Trace> r = ParseTrace(text, "t.trace");
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? Error{} : r.error();
}

TEST(TraceParseTest, RecordsBlocksAndRepeat) {
  Result<Trace> r = ParseTrace(
      "# a comment\n"
      "ramstream-trace 1\n"
      "\n"
      "at 250ms 0-99,4096   # trailing comment\n"
      "block pc.bios\n"
      "during 1s 1.1s 7,3-4\n"
      "block *\n"
      "at 1.1s 5\n"
      "repeat 2s\n",
      "t.trace");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->records.size(), 3u);
  EXPECT_EQ(r->records[0].line, 4);
  EXPECT_DOUBLE_EQ(r->records[0].start_s, 0.25);
  EXPECT_DOUBLE_EQ(r->records[0].end_s, 0.25);
  EXPECT_EQ(r->records[0].block, "");
  EXPECT_EQ(r->records[0].page_count, 101u);
  EXPECT_EQ(r->records[1].block, "pc.bios");
  EXPECT_DOUBLE_EQ(r->records[1].end_s, 1.1);
  ASSERT_EQ(r->records[1].pages.size(), 2u);
  EXPECT_EQ(r->records[1].pages[0].first, 7u);
  EXPECT_EQ(r->records[1].pages[1].first, 3u);
  EXPECT_EQ(r->records[1].pages[1].end, 5u);
  EXPECT_EQ(r->records[1].page_count, 3u);
  EXPECT_EQ(r->records[2].block, "");
  EXPECT_DOUBLE_EQ(r->repeat_s, 2.0);
}

TEST(TraceParseTest, ErrorsNameTheLine) {
  Error e = ParseError("at 1s 5\n");
  EXPECT_EQ(e.file, "t.trace");
  EXPECT_EQ(e.line, 1);
  EXPECT_THAT(e.message, HasSubstr("ramstream-trace 1"));

  EXPECT_THAT(ParseError("ramstream-trace 2\n").message, HasSubstr("unsupported trace version"));
  EXPECT_EQ(ParseError("").line, 0);

  e = ParseError("ramstream-trace 1\n\nwrite 1s 5\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_THAT(e.message, HasSubstr("unknown record \"write\""));

  e = ParseError("ramstream-trace 1\nat 1s 5-x\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_THAT(e.message, HasSubstr("\"5-x\": expected a page index or a range"));

  e = ParseError("ramstream-trace 1\nat 1s 9-3\n");
  EXPECT_THAT(e.message, HasSubstr("ends before it starts"));

  e = ParseError("ramstream-trace 1\nat 1s 1,,2\n");
  EXPECT_THAT(e.message, HasSubstr("page list item \"\""));

  e = ParseError("ramstream-trace 1\nat 1 5\n");
  EXPECT_EQ(e.line, 2);
  EXPECT_THAT(e.message, HasSubstr("time \"1\""));

  e = ParseError("ramstream-trace 1\nat 2s 1\nat 1s 2\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_THAT(e.message, HasSubstr("in order of start time (line 2 starts later)"));

  e = ParseError("ramstream-trace 1\nduring 2s 2s 1\n");
  EXPECT_THAT(e.message, HasSubstr("must end after it starts"));

  e = ParseError("ramstream-trace 1\nduring 0s 3s 1\nrepeat 2s\n");
  EXPECT_EQ(e.line, 3);
  EXPECT_THAT(e.message, HasSubstr("shorter than the record on line 2"));

  e = ParseError("ramstream-trace 1\nrepeat 2s\nat 1s 1\n");
  EXPECT_THAT(e.message, HasSubstr("nothing may follow \"repeat\""));

  e = ParseError("ramstream-trace 1\nat 1s\n");
  EXPECT_THAT(e.message, HasSubstr("expected \"at TIME PAGES\""));
}

TEST(TraceParseTest, LimitsAreEnforced) {
  TraceLimits limits;
  limits.max_records = 2;
  Result<Trace> r = ParseTrace("ramstream-trace 1\nat 0s 1\nat 0s 2\nat 0s 3\n", "t", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line, 4);
  EXPECT_THAT(r.error().message, HasSubstr("limit of 2 records"));
  limits = TraceLimits{};
  limits.max_file_bytes = 10;
  r = ParseTrace("ramstream-trace 1\n", "t", limits);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("larger than the limit of 10 bytes"));
  EXPECT_THAT(LoadTrace("/nonexistent/x.trace").error().message, HasSubstr("cannot open"));
}

TEST(TraceCheckTest, PagesMustLieInsideTheirBlock) {
  const std::vector<RamBlockSpec> blocks = {{"pc.ram", 100, 1.0}, {"pc.bios", 10, 1.0}};
  Result<Trace> ok = ParseTrace("ramstream-trace 1\nat 0s 0-109\nblock pc.bios\nat 0s 9\n", "t");
  ASSERT_TRUE(ok.ok());
  EXPECT_FALSE(CheckTrace(*ok, blocks).has_value());

  Result<Trace> past = ParseTrace("ramstream-trace 1\nblock pc.bios\nat 0s 5\nat 1s 8-10\n", "t");
  ASSERT_TRUE(past.ok());
  std::optional<Error> e = CheckTrace(*past, blocks);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->line, 4);
  EXPECT_THAT(e->message, HasSubstr("page 10 is past the end of block \"pc.bios\" (10 pages)"));

  Result<Trace> guest = ParseTrace("ramstream-trace 1\nat 0s 110\n", "t");
  ASSERT_TRUE(guest.ok());
  EXPECT_THAT(CheckTrace(*guest, blocks)->message,
              HasSubstr("page 110 is past the end of guest RAM (110 pages)"));

  Result<Trace> unknown = ParseTrace("ramstream-trace 1\nblock vga.vram\nat 0s 1\n", "t");
  ASSERT_TRUE(unknown.ok());
  EXPECT_THAT(CheckTrace(*unknown, blocks)->message, HasSubstr("no RAM block \"vga.vram\""));
}

// Pages written since the last call (the dirty log, drained by a sync).
uint64_t Written(RamState& ram) { return ram.SyncLog(); }

std::shared_ptr<const Trace> Parsed(const std::string& text) {
  Result<Trace> r = ParseTrace(text, "t");
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return std::make_shared<const Trace>(std::move(*r));
}

TEST(TraceWriterTest, AtAndDuringWritesComeDueOnTime) {
  RamState ram({{"pc.ram", 1000, 1.0}, {"pc.bios", 64, 1.0}}, ZeroLayout::kSpread);
  TraceWriter w(Parsed("ramstream-trace 1\n"
                       "during 0s 1s 0-99\n"
                       "at 500ms 900-909\n"
                       "block pc.bios\n"
                       "at 600ms 0-3\n"),
                ram);
  w.Apply(0, 0.25, 1.0, ram, nullptr);
  EXPECT_EQ(Written(ram), 25u);  // pages 0..24 of 100 spread over 1 s
  w.Apply(0.25, 0.5, 1.0, ram, nullptr);
  EXPECT_EQ(Written(ram), 25u);  // 500 ms itself is not yet due
  w.Apply(0.5, 0.55, 1.0, ram, nullptr);
  EXPECT_EQ(Written(ram), 5u + 10u);
  // Throttled to half speed: 0.5 s of wall time is 0.25 s of guest time (0.55 -> 0.8).
  w.Apply(0.55, 1.05, 0.5, ram, nullptr);
  EXPECT_EQ(Written(ram), 25u + 4u);
  EXPECT_TRUE(ram.dirty().Test(ram.blocks()[1].first_bit + 3));
  w.Apply(1.05, 10, 1.0, ram, nullptr);
  EXPECT_EQ(Written(ram), 20u);
  w.Apply(10, 20, 1.0, ram, nullptr);
  EXPECT_EQ(Written(ram), 0u);  // no repeat: the guest stops writing
  EXPECT_NEAR(w.TouchRate(0.5), 100.0, 1e-9);
  EXPECT_DOUBLE_EQ(w.TouchRate(1.5), 0.0);
}

TEST(TraceWriterTest, RepeatStartsOver) {
  RamState ram({{"pc.ram", 64, 1.0}}, ZeroLayout::kSpread);
  TraceWriter w(Parsed("ramstream-trace 1\nat 0s 7\nduring 50ms 100ms 10-14\nrepeat 100ms\n"), ram);
  w.Apply(0, 0.01, 1.0, ram, nullptr);
  EXPECT_EQ(Written(ram), 1u);
  w.Apply(0.01, 0.09, 1.0, ram, nullptr);
  EXPECT_EQ(Written(ram), 4u);  // 10..13 (14 is due at 90 ms)
  ram.MarkAllDirty();
  // Cycles 0 (rest), 1 and 2 (at 200 ms): everything is written again, so the log holds the
  // six pages; a page already in the migration bitmap adds nothing at a sync.
  w.Apply(0.09, 0.21, 1.0, ram, nullptr);
  EXPECT_EQ(ram.log_pages(), 6u);
  EXPECT_NEAR(w.TouchRate(1.06), 100.0, 1e-9);  // 5 pages over 50 ms, cycle 10
}

// End to end with the closed-form policy, where every step can be counted by hand. 1000
// pages at 1000 page records per second: round 0 takes about 1 s.
TEST(TraceWriterTest, IdealPolicyReplaysExactly) {
  const std::string path = ::testing::TempDir() + "/ideal.trace";
  {
    FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(
        "ramstream-trace 1\n"
        "at 500ms 900-999   # ahead of the walk: sent in round 0, dirty again at the sync\n"
        "at 600ms 0-49      # behind it\n"
        "during 1.02s 1.12s 200-209   # during round 1 (150 pages, about 150 ms)\n",
        f);
    std::fclose(f);
  }
  Result<Trace> trace = LoadTrace(path);
  ASSERT_TRUE(trace.ok()) << trace.error().ToString();
  SimSpec spec;
  spec.guest.blocks = {{"pc.ram", 1000, 1.0}};
  WriterSpec w;
  w.kind = WriterKind::kTrace;
  w.trace = std::make_shared<const Trace>(std::move(*trace));
  spec.guest.writers = {w};
  spec.link.steps = {{0, 4104.0 * 1000}};
  spec.migration.policy = "ideal";
  // Threshold: 41040 bytes, 10 page records.
  spec.migration.downtime_limit_s = 0.01;
  Result<SimResult> r = Simulate(spec);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->converged());
  // Round 0: 1000 pages; round 1: the 150 written in round 0; stop-and-copy: the 10 of round
  // 1, which fit under the threshold.
  EXPECT_EQ(r->bytes.normal_pages, 1160u);
  EXPECT_EQ(r->bytes.zero_pages, 0u);
  ASSERT_GE(r->syncs.size(), 3u);
  EXPECT_EQ(r->syncs[1].new_pages, 150u);
  EXPECT_EQ(r->syncs[2].new_pages, 10u);
}

TEST(TraceWriterTest, SpecValidationReportsTheTraceLine) {
  Result<Trace> trace = ParseTrace("ramstream-trace 1\nat 0s 1\nat 1s 5000\n", "big.trace");
  ASSERT_TRUE(trace.ok());
  SimSpec spec;
  spec.guest.blocks = {{"pc.ram", 1000, 1.0}};
  WriterSpec w;
  w.kind = WriterKind::kTrace;
  w.trace = std::make_shared<const Trace>(std::move(*trace));
  spec.guest.writers = {w};
  Result<SimResult> r = Simulate(spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ToString(),
            "big.trace:3: page 5000 is past the end of guest RAM (1000 pages)");
}

}  // namespace
}  // namespace ramstream::sim
