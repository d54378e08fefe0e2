#include "sim/scenario.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ramstream::sim {
namespace {

using ::testing::HasSubstr;

Result<SimSpec> FromText(std::string_view text) {
  Result<ScenarioDocument> doc = ScenarioDocument::Parse(text, ScenarioFormat::kText, "t.txtpb");
  if (!doc.ok()) return doc.error();
  return ToSpec(*doc);
}

Result<SimSpec> FromJson(std::string_view text) {
  Result<ScenarioDocument> doc = ScenarioDocument::Parse(text, ScenarioFormat::kJson, "t.json");
  if (!doc.ok()) return doc.error();
  return ToSpec(*doc);
}

TEST(Scenario, TextFormatWithUnits) {
  Result<SimSpec> s = FromText(R"pb(
    name: "db"
    guest {
      blocks { name: "pc.ram" size: "8GiB" }
      blocks { name: "vga.vram" size: "16MiB" nonzero_fraction: 0.1 }
      nonzero_fraction: 0.5
      writers {
        rate: "250MB/s"
        hotcold { working_set: "1GiB" hot_fraction: 0.8 }
      }
      writers {
        rate: "1000pages/s"
        region { block: "vga.vram" }
        uniform {}
      }
    }
    link {
      bandwidth: "10Gbit/s"
      latency: "1ms"
      steps { at: "5s" bandwidth: "1Gbit/s" }
    }
    migration {
      policy: "qemu-7.2"
      max_bandwidth: "unlimited"
      downtime_limit: "300ms"
      auto_converge { enabled: true increment_pct: 5 }
    }
    run { seed: 7 timeout: "10min" }
  )pb");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->name, "db");
  ASSERT_EQ(s->guest.blocks.size(), 2u);
  EXPECT_EQ(s->guest.blocks[0].pages, 2u << 20);
  EXPECT_DOUBLE_EQ(s->guest.blocks[0].nonzero_fraction, 0.5);
  EXPECT_DOUBLE_EQ(s->guest.blocks[1].nonzero_fraction, 0.1);
  ASSERT_EQ(s->guest.writers.size(), 2u);
  EXPECT_EQ(s->guest.writers[0].kind, WriterKind::kHotCold);
  EXPECT_DOUBLE_EQ(s->guest.writers[0].pages_per_s, 250e6 / 4096);
  EXPECT_EQ(s->guest.writers[0].working_set, 1ull << 30);
  EXPECT_DOUBLE_EQ(s->guest.writers[1].pages_per_s, 1000);
  ASSERT_EQ(s->link.steps.size(), 2u);
  EXPECT_DOUBLE_EQ(s->link.steps[1].at, 5);
  EXPECT_DOUBLE_EQ(s->link.steps[1].bytes_per_s, 125e6);
  EXPECT_DOUBLE_EQ(s->link.latency_s, 0.001);
  EXPECT_EQ(*s->migration.max_bandwidth, 0);
  EXPECT_DOUBLE_EQ(*s->migration.downtime_limit_s, 0.3);
  EXPECT_TRUE(s->migration.auto_converge.enabled);
  EXPECT_EQ(s->migration.auto_converge.increment_pct, 5);
  EXPECT_EQ(s->migration.auto_converge.initial_pct, 20);
  EXPECT_EQ(s->run.seed, 7u);
  EXPECT_DOUBLE_EQ(s->run.timeout_s, 600);
}

TEST(Scenario, DefaultsWhenLeftOut) {
  Result<SimSpec> s = FromText(R"pb(guest { ram: "1GiB" })pb");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->guest.blocks[0].name, "pc.ram");
  EXPECT_DOUBLE_EQ(s->guest.blocks[0].nonzero_fraction, 1.0);
  EXPECT_DOUBLE_EQ(s->link.steps[0].bytes_per_s, 1.25e9);
  EXPECT_EQ(s->migration.policy, "qemu-7.2");
  EXPECT_FALSE(s->migration.max_bandwidth.has_value());
  EXPECT_EQ(s->run.seed, 1u);
  EXPECT_TRUE(s->run.series);
}

TEST(Scenario, BadUnitNamesLineAndField) {
  Result<SimSpec> s = FromText(
      "guest {\n  ram: \"4GiB\"\n  writers {\n    rate: \"250 Mb/s\"\n"
      "    uniform {}\n  }\n}\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().file, "t.txtpb");
  EXPECT_EQ(s.error().line, 4);
  EXPECT_EQ(s.error().field, "guest.writers[0].rate");
  EXPECT_THAT(s.error().message, HasSubstr("unknown unit \"Mb/s\""));
  EXPECT_THAT(s.error().ToString(), HasSubstr("t.txtpb:4:5: guest.writers[0].rate: "));
}

// Found by sim_scenario_fuzzer: a key with an unclosed bracket split into no path at all.
TEST(Scenario, JsonKeyWithAnUnclosedBracketIsAnError) {
  Result<SimSpec> s = FromJson("{\n  \"a[\": 1}");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().line, 2);
  EXPECT_EQ(s.error().field, "a[");
  EXPECT_EQ(s.error().message, "malformed key \"a[\"");
}

TEST(Scenario, TextSyntaxErrorHasLine) {
  Result<SimSpec> s = FromText("guest {\n  ram: \"4GiB\"\n  bogus: 3\n}\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().line, 3);
  EXPECT_THAT(s.error().message, HasSubstr("bogus"));
}

TEST(Scenario, ValidationErrorsAreLocated) {
  Result<SimSpec> s = FromText(
      "guest {\n  ram: \"1GiB\"\n  writers {\n    rate: \"1MB/s\"\n    region { block: \"nope\" }\n"
      "    uniform {}\n  }\n}\n");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().field, "guest.writers[0].region.block");
  EXPECT_EQ(s.error().line, 5);
  EXPECT_THAT(s.error().message, HasSubstr("no RAM block \"nope\""));
  Result<SimSpec> p = FromText("guest { ram: \"1GiB\" }\nmigration { policy: \"qemu-9\" }\n");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().line, 2);
  EXPECT_THAT(p.error().message,
              HasSubstr("unknown policy \"qemu-9\" (use ideal, qemu-2010, qemu-7.2, qemu-10)"));
  Result<SimSpec> page = FromText("guest { ram: \"1000B\" }");
  ASSERT_FALSE(page.ok());
  EXPECT_THAT(page.error().message, HasSubstr("multiple of the 4096-byte page"));
  Result<SimSpec> model = FromText("guest { ram: \"1GiB\" writers { rate: \"1MB/s\" } }");
  ASSERT_FALSE(model.ok());
  EXPECT_THAT(model.error().message, HasSubstr("choose a write model"));
}

TEST(Scenario, JsonWithCamelCaseAndLines) {
  Result<SimSpec> s = FromJson(R"({
  "name": "j",
  "guest": {"ram": "2GiB", "nonzeroFraction": 0.25,
            "writers": [{"rate": "10MB/s", "zipf": {"s": 1.1}}]},
  "link": {"bandwidth": "1Gbit/s"},
  "migration": {"policy": "ideal", "downtime_limit": "30ms"},
  "run": {"seed": "42"}
})");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_DOUBLE_EQ(s->guest.blocks[0].nonzero_fraction, 0.25);
  EXPECT_EQ(s->guest.writers[0].kind, WriterKind::kZipf);
  EXPECT_DOUBLE_EQ(s->guest.writers[0].zipf_s, 1.1);
  EXPECT_EQ(s->run.seed, 42u);
  EXPECT_EQ(s->migration.policy, "ideal");
}

TEST(Scenario, JsonErrorsHaveLines) {
  Result<SimSpec> unknown =
      FromJson("{\n  \"guest\": {\"ram\": \"1GiB\"},\n  \"link\": {\"bandwith\": \"1Gbit/s\"}\n}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().line, 3);
  EXPECT_THAT(unknown.error().message, HasSubstr("unknown field \"bandwith\" in Link"));
  Result<SimSpec> type = FromJson("{\"guest\": {\n\"ram\": 4096}}");
  ASSERT_FALSE(type.ok());
  EXPECT_EQ(type.error().line, 2);
  EXPECT_EQ(type.error().field, "guest.ram");
  EXPECT_THAT(type.error().message, HasSubstr("expected a string"));
  Result<SimSpec> syntax = FromJson("{\"guest\": {\"ram\": \"1GiB\",}}");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().line, 1);
  EXPECT_THAT(syntax.error().message, HasSubstr("bad JSON"));
  Result<SimSpec> unit =
      FromJson("{\"guest\": {\"ram\": \"1GiB\"},\n \"link\": {\n \"bandwidth\": \"fast\"}}");
  ASSERT_FALSE(unit.ok());
  EXPECT_EQ(unit.error().line, 3);
  EXPECT_EQ(unit.error().field, "link.bandwidth");
}

TEST(Scenario, MultifdFieldAndItsErrors) {
  Result<SimSpec> s = FromText("guest { ram: \"1GiB\" }\nmigration { multifd { channels: 4 } }\n");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->migration.multifd.channels, 4u);
  EXPECT_EQ(s->migration.multifd.connect_time_s, 0.0);
  Result<SimSpec> connect = FromText(
      "guest { ram: \"1GiB\" }\nmigration { multifd { channels: 2 connect_time: \"1.5s\" } }\n");
  ASSERT_TRUE(connect.ok()) << connect.error().ToString();
  EXPECT_DOUBLE_EQ(connect->migration.multifd.connect_time_s, 1.5);
  Result<SimSpec> unit = FromText(
      "guest { ram: \"1GiB\" }\nmigration {\n  multifd {\n    channels: 2\n"
      "    connect_time: \"soon\"\n  }\n}\n");
  ASSERT_FALSE(unit.ok());
  EXPECT_EQ(unit.error().field, "migration.multifd.connect_time");
  EXPECT_EQ(unit.error().line, 5);
  Result<SimSpec> policy = FromText(
      "guest { ram: \"1GiB\" }\nmigration {\n  policy: \"qemu-2010\"\n"
      "  multifd { channels: 2 }\n}\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().field, "migration.multifd");
  EXPECT_EQ(policy.error().line, 4);
  EXPECT_THAT(policy.error().message, HasSubstr("qemu-7.2 only"));
}

TEST(Scenario, DefaultScenarioIsValid) {
  ScenarioDocument doc = ScenarioDocument::Default();
  Result<SimSpec> s = ToSpec(doc);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->name, "default");
  EXPECT_EQ(s->guest.writers.size(), 1u);
}

TEST(Scenario, PostcopyFieldsAndTheirErrors) {
  Result<SimSpec> s = FromText(
      "guest { ram: \"1GiB\" }\nmigration {\n  postcopy { enabled: true after: \"5s\"\n"
      "    after_syncs: 3 max_postcopy_bandwidth: \"1Gbit/s\" }\n}\n");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE(s->migration.postcopy.enabled);
  EXPECT_DOUBLE_EQ(*s->migration.postcopy.start_after_s, 5.0);
  EXPECT_EQ(s->migration.postcopy.start_after_syncs, 3u);
  EXPECT_DOUBLE_EQ(s->migration.postcopy.max_postcopy_bandwidth, 125e6);

  Result<SimSpec> unit = FromText(
      "guest { ram: \"1GiB\" }\nmigration {\n  postcopy {\n    enabled: true\n"
      "    after: \"5 weeks\"\n  }\n}\n");
  ASSERT_FALSE(unit.ok());
  EXPECT_EQ(unit.error().field, "migration.postcopy.after");
  EXPECT_EQ(unit.error().line, 5);
  Result<SimSpec> policy = FromText(
      "guest { ram: \"1GiB\" }\nmigration {\n  policy: \"ideal\"\n"
      "  postcopy { enabled: true }\n}\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().field, "migration.postcopy");
  EXPECT_EQ(policy.error().line, 4);
  EXPECT_THAT(policy.error().message, HasSubstr("has no postcopy (use qemu-7.2)"));
  Result<SimSpec> off =
      FromText("guest { ram: \"1GiB\" }\nmigration {\n  postcopy { after_syncs: 2 }\n}\n");
  ASSERT_FALSE(off.ok());
  EXPECT_EQ(off.error().line, 3);
  EXPECT_THAT(off.error().message, HasSubstr("need `enabled: true`"));
  Result<SimSpec> json = FromJson(
      "{\"guest\": {\"ram\": \"1GiB\"},\n \"migration\": {\"postcopy\": {\"enabled\": true,\n"
      "  \"maxPostcopyBandwidth\": \"fast\"}}}");
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.error().field, "migration.postcopy.max_postcopy_bandwidth");
  EXPECT_EQ(json.error().line, 3);
}

TEST(ScenarioOverrides, PostcopyFlags) {
  ScenarioDocument doc = ScenarioDocument::Default();
  ScenarioOverrides o;
  o.postcopy_after = "5s";
  o.max_postcopy_bandwidth = "1GB/s";
  ASSERT_FALSE(ApplyOverrides(o, &doc).has_value());
  Result<SimSpec> s = ToSpec(doc);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE(s->migration.postcopy.enabled);
  EXPECT_DOUBLE_EQ(*s->migration.postcopy.start_after_s, 5.0);
  EXPECT_DOUBLE_EQ(s->migration.postcopy.max_postcopy_bandwidth, 1e9);
  ScenarioDocument bad = ScenarioDocument::Default();
  ScenarioOverrides b;
  b.postcopy_after_syncs = 2;
  b.policy = "qemu-2010";
  ASSERT_FALSE(ApplyOverrides(b, &bad).has_value());
  Result<SimSpec> e = ToSpec(bad);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().field, "--postcopy-after-syncs");
}

TEST(ScenarioOverrides, MultifdFlags) {
  ScenarioDocument doc = ScenarioDocument::Default();
  ScenarioOverrides o;
  o.multifd_channels = 4;
  o.multifd_connect_time = "1s";
  ASSERT_FALSE(ApplyOverrides(o, &doc).has_value());
  Result<SimSpec> s = ToSpec(doc);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->migration.multifd.channels, 4u);
  EXPECT_DOUBLE_EQ(s->migration.multifd.connect_time_s, 1.0);
  // A connect time without channels: the error names the flag.
  ScenarioDocument bad = ScenarioDocument::Default();
  ScenarioOverrides b;
  b.multifd_connect_time = "1s";
  ASSERT_FALSE(ApplyOverrides(b, &bad).has_value());
  Result<SimSpec> e = ToSpec(bad);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().field, "--multifd-connect-time");
  EXPECT_EQ(e.error().message, "needs channels > 0 (the capability)");
}

TEST(ScenarioOverrides, FlagsReplaceFieldsAndErrorsNameTheFlag) {
  ScenarioDocument doc = ScenarioDocument::Default();
  ScenarioOverrides o;
  o.ram = "8GiB";
  o.bandwidth = "10Gbit/s";
  o.workload = "sequential";
  o.dirty_rate = "250MB/s";
  o.downtime_limit = "300ms";
  o.policy = "ideal";
  ASSERT_FALSE(ApplyOverrides(o, &doc).has_value());
  Result<SimSpec> s = ToSpec(doc);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->guest.blocks[0].pages, 2u << 20);
  EXPECT_EQ(s->guest.writers[0].kind, WriterKind::kSequential);
  EXPECT_DOUBLE_EQ(s->guest.writers[0].pages_per_s, 250e6 / 4096);
  EXPECT_EQ(s->migration.policy, "ideal");

  ScenarioDocument bad = ScenarioDocument::Default();
  ScenarioOverrides b;
  b.bandwidth = "10Gb/s";
  ASSERT_FALSE(ApplyOverrides(b, &bad).has_value());
  Result<SimSpec> e = ToSpec(bad);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().field, "--bandwidth");
  EXPECT_EQ(e.error().line, 0);
  EXPECT_THAT(e.error().ToString(), HasSubstr("--bandwidth: rate \"10Gb/s\": unknown unit"));
}

TEST(ScenarioOverrides, WorkingSetMeansHotSetOrRegion) {
  ScenarioDocument doc = ScenarioDocument::Default();
  ScenarioOverrides o;
  o.working_set = "128MiB";
  o.hot_fraction = 0.5;
  ASSERT_FALSE(ApplyOverrides(o, &doc).has_value());
  Result<SimSpec> s = ToSpec(doc);
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->guest.writers[0].working_set, 128u << 20);
  EXPECT_DOUBLE_EQ(s->guest.writers[0].hot_fraction, 0.5);

  ScenarioDocument u = ScenarioDocument::Default();
  ScenarioOverrides v;
  v.workload = "uniform";
  v.working_set = "64MiB";
  ASSERT_FALSE(ApplyOverrides(v, &u).has_value());
  Result<SimSpec> t = ToSpec(u);
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->guest.writers[0].kind, WriterKind::kUniform);
  EXPECT_EQ(t->guest.writers[0].region.size, 64u << 20);

  ScenarioDocument z = ScenarioDocument::Default();
  ScenarioOverrides zs;
  zs.zipf_s = 1.2;
  std::optional<Error> err = ApplyOverrides(zs, &z);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->field, "--zipf-s");
}

}  // namespace
}  // namespace ramstream::sim
