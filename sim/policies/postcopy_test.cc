// The postcopy switch of the "qemu-7.2" policy (QEMU 7.2 migration.c postcopy_start,
// migration_iteration_run; ram.c ram_postcopy_send_discard_bitmap, ram_save_queue_pages): when
// it happens, what the switch writes, QEMU's downtime and byte split, page requests.
#include <gtest/gtest.h>

#include <string>

#include "sim/report.h"
#include "sim/scenario.h"
#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

constexpr double kLink = 100e6 / 8;  // 100 Mbit/s

// A 16 MiB guest (4096 pages, all holding data) on a 100 Mbit/s link with 1 ms latency,
// 100 KiB of device state, 2 ms resume time; `writers` and `postcopy` are text format.
Result<SimResult> RunSmall(const std::string& writers, const std::string& postcopy,
                           const std::string& timeout = "20s") {
  const std::string text = "guest { ram: \"16MiB\" " + writers +
                           " }\n"
                           "link { bandwidth: \"100Mbit/s\" latency: \"1ms\" }\n"
                           "migration { policy: \"qemu-7.2\" max_bandwidth: \"unlimited\"\n"
                           "  downtime_limit: \"30ms\" device_state: \"100KiB\"\n"
                           "  resume_time: \"2ms\" " +
                           postcopy +
                           " }\n"
                           "run { seed: 1 timeout: \"" +
                           timeout + "\" series: false }\n";
  Result<ScenarioDocument> doc = ScenarioDocument::Parse(text, ScenarioFormat::kText, "p.txtpb");
  if (!doc.ok()) return doc.error();
  Result<SimSpec> spec = ToSpec(*doc);
  if (!spec.ok()) return spec.error();
  return Simulate(*spec);
}

constexpr const char* kHotWriter =
    "writers { rate: \"40MB/s\" region { size: \"4MiB\" } uniform {} }";

TEST(PostcopyTest, AtOnceEveryPageGoesAfterTheSwitch) {
  Result<SimResult> r = RunSmall("", "postcopy { enabled: true after: \"0s\" }");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->outcome, Outcome::kPostcopy);
  EXPECT_FALSE(r->converged());
  EXPECT_TRUE(r->completed());
  const PostcopyStats& pc = r->postcopy;
  EXPECT_TRUE(pc.started);
  EXPECT_TRUE(pc.requested);
  // The first loop (threshold still 0) switches: nothing was sent in precopy.
  EXPECT_EQ(r->ram_precopy_bytes, 0u);
  EXPECT_EQ(r->ram_downtime_bytes, 0u);
  EXPECT_EQ(r->ram_postcopy_bytes, r->ram_transferred_bytes);
  EXPECT_EQ(r->ram_transferred_bytes, 4096u * 4104 + 7 + 8 * r->iterations);
  EXPECT_EQ(r->dirty_sync_count, 2u);  // setup, and the switch (no completion sync)
  // One run of dirty pages in "pc.ram": a 30-byte discard command (5 + 3 + 6 + 16).
  EXPECT_EQ(pc.discard_bytes, 30u);
  // PACKAGED header and length, LISTEN, PING, RUN, the device state.
  EXPECT_EQ(pc.package_bytes, 5u + 4 + 5 + 9 + 5 + 102400);
  // QEMU's downtime: VM stopped -> package written (discard, PING 2, package); the guest runs
  // on the destination one latency (1 ms) and the resume time (2 ms) later.
  const uint64_t stopped_bytes = 30 + 9 + pc.package_bytes;
  EXPECT_EQ(r->downtime_bytes, stopped_bytes);
  EXPECT_NEAR(r->downtime_s, static_cast<double>(stopped_bytes) / kLink, 1e-12);
  EXPECT_NEAR(pc.resume_s - pc.start_s, r->downtime_s + 0.003, 1e-12);
  EXPECT_EQ(pc.requests, 0u);
  EXPECT_EQ(pc.pages, 4096u);
  EXPECT_DOUBLE_EQ(pc.guest_speed, 1.0);
  // Every byte on the wire: header, MEM_SIZE, the 26 setup command bytes, ...
  EXPECT_NEAR(r->total_time_s, static_cast<double>(r->transferred_bytes) / kLink + 0.001, 1e-9);
  EXPECT_DOUBLE_EQ(pc.end_s, r->total_time_s);
  EXPECT_DOUBLE_EQ(pc.time_s, pc.end_s - pc.resume_s);
}

TEST(PostcopyTest, TheCapabilityAloneAddsTheSetupCommands) {
  Result<SimResult> off = RunSmall("", "");
  Result<SimResult> on = RunSmall("", "postcopy { enabled: true }");
  ASSERT_TRUE(off.ok() && on.ok());
  // OPEN_RETURN_PATH (5) and POSTCOPY_ADVISE (5 + 16).
  EXPECT_EQ(on->transferred_bytes, off->transferred_bytes + 26);
  EXPECT_EQ(on->ram_transferred_bytes, off->ram_transferred_bytes);
  EXPECT_NEAR(on->total_time_s, off->total_time_s + 26 / kLink, 1e-12);
  EXPECT_FALSE(on->postcopy.requested);
  EXPECT_FALSE(on->postcopy.started);
  EXPECT_TRUE(on->postcopy.enabled);
  const nlohmann::ordered_json j = ResultToJson(*on, false);
  ASSERT_TRUE(j.contains("postcopy"));
  EXPECT_EQ(j["postcopy"]["started"], false);
  EXPECT_FALSE(ResultToJson(*off, false).contains("postcopy"));
}

TEST(PostcopyTest, FaultsAreRequestedAndServedFirst) {
  Result<SimResult> r = RunSmall(kHotWriter, "postcopy { enabled: true after: \"2s\" }");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_EQ(r->outcome, Outcome::kPostcopy);
  const PostcopyStats& pc = r->postcopy;
  // migrate-start-postcopy at 2 s: the next loop (after the running 50 ms iteration) switches.
  EXPECT_GE(pc.start_s, 2.0);
  EXPECT_LT(pc.start_s, 2.05 + 0.02);
  EXPECT_DOUBLE_EQ(pc.requested_s, pc.start_s);
  EXPECT_EQ(pc.pages, 880u);     // the 4 MiB working set still to send at the switch
  EXPECT_EQ(pc.requests, 265u);  // of which the guest touched these first
  EXPECT_LT(pc.guest_speed, 0.5);
  EXPECT_GT(pc.guest_speed, 0.2);
  EXPECT_EQ(r->ram_precopy_bytes + r->ram_downtime_bytes + r->ram_postcopy_bytes,
            r->ram_transferred_bytes);
  EXPECT_EQ(r->ram_downtime_bytes, 0u);
  // The 880 PAGE records (the first names its block again), then 8 bytes per iteration.
  EXPECT_EQ((r->ram_postcopy_bytes - 880u * 4104 - 7) % 8, 0u);
  EXPECT_LT(r->ram_postcopy_bytes - 880u * 4104 - 7, 8u * r->iterations);
  // Downtime as QEMU measures it: the guest resumes one latency and the resume time later.
  EXPECT_NEAR(pc.resume_s - pc.start_s - r->downtime_s, 0.003, 1e-12);
  EXPECT_NE(FormatTable(*r).find("completed in postcopy"), std::string::npos);
}

TEST(PostcopyTest, MaxPostcopyBandwidthPacesTheRest) {
  Result<SimResult> r =
      RunSmall("", "postcopy { enabled: true after: \"0s\" max_postcopy_bandwidth: \"4MB/s\" }");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  // 16.8 MB at 400 kB per 100 ms window, the last ones once pending < threshold unthrottled.
  EXPECT_GT(r->postcopy.time_s, 3.5);
  EXPECT_LT(r->postcopy.time_s, 4.3);
  Result<SimResult> free = RunSmall("", "postcopy { enabled: true after: \"0s\" }");
  ASSERT_TRUE(free.ok());
  EXPECT_LT(free->postcopy.time_s, 1.4);  // 16.8 MB at 12.5 MB/s
}

TEST(PostcopyTest, NoSwitchWhenPrecopyConvergesFirst) {
  Result<SimResult> r = RunSmall("", "postcopy { enabled: true after: \"100s\" }");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->converged());
  EXPECT_FALSE(r->postcopy.requested);
  EXPECT_FALSE(r->postcopy.started);
  EXPECT_EQ(r->ram_postcopy_bytes, 0u);
  EXPECT_EQ(r->ram_precopy_bytes + r->ram_downtime_bytes, r->ram_transferred_bytes);
}

TEST(PostcopyTest, TheTimeoutStillEndsAPostcopyPhase) {
  // 16.8 MB at 1 MB/s would take 16 s after the switch; the run gives up at 5 s.
  Result<SimResult> r =
      RunSmall("", "postcopy { enabled: true after: \"0s\" max_postcopy_bandwidth: \"1MB/s\" }");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kPostcopy);  // 20 s timeout: it completes
  Result<SimResult> t = RunSmall(
      "", "postcopy { enabled: true after: \"0s\" max_postcopy_bandwidth: \"1MB/s\" }", "5s");
  ASSERT_TRUE(t.ok()) << t.error().ToString();
  EXPECT_EQ(t->outcome, Outcome::kTimeout);
  EXPECT_FALSE(t->completed());
  EXPECT_TRUE(t->postcopy.started);
  EXPECT_GT(t->postcopy.pages, 0u);
  EXPECT_EQ(t->remaining_bytes, (4096 - t->postcopy.pages) * 4096);
  EXPECT_EQ(t->ram_precopy_bytes + t->ram_postcopy_bytes, t->ram_transferred_bytes);
}

TEST(PostcopyTest, AfterSyncsSwitchesOnceTheCountIsReached) {
  Result<SimResult> r = RunSmall(kHotWriter, "postcopy { enabled: true after_syncs: 3 }");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->postcopy.started);
  // Syncs 1 (setup) and 2, 3 in precopy; the switch's sync is the 4th, at the stop.
  ASSERT_EQ(r->syncs.size(), 4u);
  EXPECT_EQ(r->dirty_sync_count, 4u);
  EXPECT_DOUBLE_EQ(r->syncs[3].t_s, r->postcopy.start_s);
  EXPECT_DOUBLE_EQ(r->syncs[2].t_s, r->postcopy.requested_s);
}

}  // namespace
}  // namespace ramstream::sim
