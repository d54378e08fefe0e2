// Golden results: every scenario in sim/scenarios/ runs and its JSON report (without the time
// series) must match <name>.expected.json. Integers must be equal, other numbers equal to 1e-9
// relative. To regenerate after an intended change:
//   RAMSTREAM_UPDATE_GOLDEN=1 ./sim_golden_test
// and review the diff.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/report.h"
#include "sim/scenario.h"
#include "sim/simulate.h"

namespace ramstream::sim {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

std::vector<fs::path> Scenarios() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(RAMSTREAM_SIM_SCENARIOS_DIR)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".expected.json")) continue;
    if (name.ends_with(".textproto") || name.ends_with(".json")) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

fs::path ExpectedPath(const fs::path& scenario) {
  return scenario.parent_path() / (scenario.stem().string() + ".expected.json");
}

// Appends one line per difference, with the JSON path.
void Compare(const ordered_json& want, const ordered_json& got, const std::string& path,
             std::vector<std::string>* diffs) {
  if (diffs->size() > 20) return;
  if (want.is_number() && got.is_number()) {
    if (want.is_number_integer() && got.is_number_integer()) {
      if (want != got) diffs->push_back(path + ": want " + want.dump() + ", got " + got.dump());
      return;
    }
    const double a = want.get<double>();
    const double b = got.get<double>();
    if (std::fabs(a - b) > 1e-9 * std::max(std::fabs(a), std::fabs(b)) + 1e-12) {
      diffs->push_back(path + ": want " + want.dump() + ", got " + got.dump());
    }
    return;
  }
  if (want.type() != got.type()) {
    diffs->push_back(path + ": want " + want.dump() + ", got " + got.dump());
    return;
  }
  if (want.is_object()) {
    for (auto it = want.begin(); it != want.end(); ++it) {
      if (!got.contains(it.key())) {
        diffs->push_back(path + "." + it.key() + ": missing");
        continue;
      }
      Compare(it.value(), got[it.key()], path + "." + it.key(), diffs);
    }
    for (auto it = got.begin(); it != got.end(); ++it) {
      if (!want.contains(it.key())) diffs->push_back(path + "." + it.key() + ": unexpected");
    }
    return;
  }
  if (want.is_array()) {
    if (want.size() != got.size()) {
      diffs->push_back(path + ": want " + std::to_string(want.size()) + " elements, got " +
                       std::to_string(got.size()));
    }
    for (size_t i = 0; i < std::min(want.size(), got.size()); ++i) {
      Compare(want[i], got[i], path + "[" + std::to_string(i) + "]", diffs);
    }
    return;
  }
  if (want != got) diffs->push_back(path + ": want " + want.dump() + ", got " + got.dump());
}

class GoldenTest : public ::testing::TestWithParam<fs::path> {};

TEST_P(GoldenTest, MatchesExpectedJson) {
  const fs::path scenario = GetParam();
  Result<ScenarioDocument> doc = ScenarioDocument::Load(scenario.string());
  ASSERT_TRUE(doc.ok()) << doc.error().ToString();
  Result<SimSpec> spec = ToSpec(*doc);
  ASSERT_TRUE(spec.ok()) << spec.error().ToString();
  Result<SimResult> result = Simulate(*spec);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  const ordered_json got = ResultToJson(*result, /*with_series=*/false);
  const fs::path expected_path = ExpectedPath(scenario);
  const char* update = std::getenv("RAMSTREAM_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(expected_path) << got.dump(2) << "\n";
    GTEST_SKIP() << "wrote " << expected_path;
  }
  std::ifstream in(expected_path);
  ASSERT_TRUE(in.good()) << "missing " << expected_path << " (RAMSTREAM_UPDATE_GOLDEN=1 writes it)";
  const ordered_json want = ordered_json::parse(in);
  std::vector<std::string> diffs;
  Compare(want, got, "$", &diffs);
  std::string all;
  for (const std::string& d : diffs) all += "\n  " + d;
  EXPECT_TRUE(diffs.empty()) << scenario.filename() << " differs from its golden file:" << all;
}

std::string Name(const ::testing::TestParamInfo<fs::path>& info) {
  std::string n = info.param.stem().string();
  for (char& c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Scenarios, GoldenTest, ::testing::ValuesIn(Scenarios()), Name);

TEST(GoldenScenarios, ThereAreExamples) { EXPECT_GE(Scenarios().size(), 3u); }

}  // namespace
}  // namespace ramstream::sim
