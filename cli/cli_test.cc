// Runs the ramstream binary as a user would and checks exit codes, JSON and output bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "protocol/testing/streams.h"

namespace ramstream::cli {
namespace {

namespace fs = std::filesystem;
using protocol::testing::StreamBuilder;

struct Outcome {
  int exit_code;
  std::string out;
};

// Runs a shell command line; stdout and the exit code of its last command.
Outcome Shell(const std::string& command) {
  const std::string cmd = command + " 2>/dev/null";
  std::FILE* p = popen(cmd.c_str(), "r");
  Outcome r{-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

Outcome Ramstream(const std::string& args) {
  return Shell(std::string(RAMSTREAM_BINARY) + " " + args);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ramstream_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& bytes) const {
    std::ofstream(Path(name), std::ios::binary) << bytes;
  }
  std::string Read(const std::string& name) const {
    std::ifstream f(Path(name), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  // A 64 KiB image: some random pages, the rest zero.
  std::string Image(uint64_t seed) const {
    std::string img(65536, '\0');
    std::mt19937_64 rng(seed);
    for (size_t p = 0; p < 16; p += 3) {
      for (size_t i = 0; i < 4096; ++i) img[p * 4096 + i] = static_cast<char>(rng());
    }
    return img;
  }
  fs::path dir_;
};

TEST_F(CliTest, EncodeThenInspectAndExtract) {
  Write("ram.img", Image(1));
  Write("bios.img", Image(2).substr(0, 8192));
  ASSERT_EQ(Ramstream("encode --block pc.ram=" + Path("ram.img") +
                      " --block pc.bios=" + Path("bios.img") + " -o " + Path("a.mig"))
                .exit_code,
            0);
  const Outcome inspect = Ramstream("inspect --json " + Path("a.mig"));
  ASSERT_EQ(inspect.exit_code, 0);
  const auto j = nlohmann::json::parse(inspect.out);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["format"], "qevm");
  EXPECT_EQ(j["machine"], "pc-i440fx-7.2");
  ASSERT_EQ(j["blocks"].size(), 2u);
  EXPECT_EQ(j["blocks"][0]["idstr"], "pc.ram");
  EXPECT_EQ(j["blocks"][0]["used_length"], 65536);
  EXPECT_EQ(j["blocks"][1]["used_length"], 8192);
  // pc.ram: pages 0,3,6,9,12,15 hold data; pc.bios: page 0.
  EXPECT_EQ(j["records"]["page"], 7);
  EXPECT_EQ(j["records"]["zero"], 16 + 2 - 7);
  EXPECT_EQ(j["records"]["named"], 2);
  EXPECT_EQ(j["records"]["continue"], 16);
  EXPECT_EQ(j["records"]["eos"], 3);
  EXPECT_EQ(j["records"]["mem_size"], 1);
  EXPECT_EQ(j["continue_saved_bytes"], 15 * 7 + 1 * 8);
  // One PART: its page records (7 PAGE, 11 ZERO, two idstrs) and its EOS.
  EXPECT_EQ(j["ram_transferred"], 7 * 4104 + 11 * 9 + (1 + 6) + (1 + 7) + 8);

  ASSERT_EQ(
      Ramstream("extract " + Path("a.mig") + " --block pc.ram -o " + Path("out.img")).exit_code, 0);
  EXPECT_EQ(Read("out.img"), Read("ram.img"));
  const Outcome all = Ramstream("extract " + Path("a.mig") + " --all " + Path("blocks"));
  ASSERT_EQ(all.exit_code, 0);
  EXPECT_EQ(Read("blocks/pc.bios.bin"), Read("bios.img"));
}

TEST_F(CliTest, TemplateSpliceReplacesOneBlockAndKeepsTheRest) {
  Write("ram.img", Image(1));
  Write("bios.img", Image(2).substr(0, 8192));
  Write("ram2.img", Image(3));
  ASSERT_EQ(Ramstream("encode --block pc.ram=" + Path("ram.img") +
                      " --block pc.bios=" + Path("bios.img") + " -o " + Path("t.mig"))
                .exit_code,
            0);
  ASSERT_EQ(Ramstream("encode --template " + Path("t.mig") + " --block pc.ram=" + Path("ram2.img") +
                      " -o " + Path("s.mig"))
                .exit_code,
            0);
  ASSERT_EQ(Ramstream("extract " + Path("s.mig") + " --all " + Path("b")).exit_code, 0);
  EXPECT_EQ(Read("b/pc.ram.bin"), Read("ram2.img"));
  EXPECT_EQ(Read("b/pc.bios.bin"), Read("bios.img"));
  EXPECT_EQ(Ramstream("encode --template " + Path("t.mig") + " --block nosuch=" + Path("ram2.img") +
                      " -o " + Path("x.mig"))
                .exit_code,
            2);
}

TEST_F(CliTest, RejectedStreamExitsOneWithCodeAndOffset) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos();
  const uint64_t at = s.size();
  s.Page("pc.ram", 8192, 1).Eos();
  Write("bad.ram", std::string(reinterpret_cast<const char*>(s.bytes().data()), s.size()));
  const Outcome r = Ramstream("inspect --json " + Path("bad.ram"));
  EXPECT_EQ(r.exit_code, 1);
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["format"], "ram");
  EXPECT_EQ(j["error"]["code"], "offset_out_of_range");
  EXPECT_EQ(j["error"]["offset"], at);
  const Outcome human = Ramstream("inspect " + Path("bad.ram"));
  EXPECT_EQ(human.exit_code, 1);
  EXPECT_THAT(human.out, ::testing::HasSubstr("REJECTED: offset_out_of_range at offset " +
                                              std::to_string(at)));
  EXPECT_EQ(Ramstream("extract " + Path("bad.ram") + " --all " + Path("d")).exit_code, 1);
}

TEST_F(CliTest, StandardInputAndDialects) {
  StreamBuilder s;
  s.MemSize({{"pc.ram", 8192}}).Eos().Zero("pc.ram", 0, 7).Eos();
  Write("fill.ram", std::string(reinterpret_cast<const char*>(s.bytes().data()), s.size()));
  EXPECT_EQ(Ramstream("inspect - < " + Path("fill.ram")).exit_code, 0);
  EXPECT_EQ(Ramstream("inspect --dialect qemu-2010 " + Path("fill.ram")).exit_code, 0);
  const Outcome q10 = Ramstream("inspect --json --dialect qemu-10 " + Path("fill.ram"));
  EXPECT_EQ(q10.exit_code, 1);
  EXPECT_EQ(nlohmann::json::parse(q10.out)["error"]["code"], "bad_zero_fill");
}

TEST_F(CliTest, UsageAndIoErrorsExitTwo) {
  EXPECT_EQ(Ramstream("inspect " + Path("missing")).exit_code, 2);
  Write("x", "x");
  EXPECT_EQ(Ramstream("inspect --dialect qemu-9 " + Path("x")).exit_code, 2);
  EXPECT_EQ(Ramstream("inspect --format tar " + Path("x")).exit_code, 2);
  EXPECT_EQ(Ramstream("extract " + Path("x")).exit_code, 2);
  EXPECT_EQ(Ramstream("nosuchcommand").exit_code, 2);
}

// A real QEMU 7.2 file (corpus/golden): a file is read twice, its trailing vmdesc first, so
// every device section is walked field by field; a pipe cannot be, and falls back to resync.
TEST_F(CliTest, RealQemuFileIsWalkedWithItsVmdesc) {
  const std::string mig =
      std::string(RAMSTREAM_SOURCE_DIR) + "/corpus/golden/valid/qemu72-pc-16m-paused.mig";
  auto sections = [](const Outcome& o) {
    EXPECT_EQ(o.exit_code, 0);
    return nlohmann::json::parse(o.out)["sections"];
  };
  nlohmann::json s = sections(Ramstream("inspect --json " + mig));
  EXPECT_EQ(s["device_walked"], 30);
  EXPECT_EQ(s["device_skipped"], 0);
  // Standard input redirected from the file is still seekable; a pipe is not.
  s = sections(Ramstream("inspect --json - < " + mig));
  EXPECT_EQ(s["device_walked"], 30);
  s = sections(Shell("cat " + mig + " | " + RAMSTREAM_BINARY + " inspect --json -"));
  EXPECT_EQ(s["device_walked"], 0);
  EXPECT_EQ(s["device_skipped"], 30);
  s = sections(Ramstream("inspect --json --no-vmdesc " + mig));
  EXPECT_EQ(s["device_skipped"], 30);

  const Outcome o = Ramstream("inspect --json --devices " + mig);
  ASSERT_EQ(o.exit_code, 0);
  const nlohmann::json devices = nlohmann::json::parse(o.out)["devices"];
  ASSERT_EQ(devices.size(), 30u);
  EXPECT_EQ(devices[0]["idstr"], "timer");
  EXPECT_EQ(devices[0]["how"], "vmdesc");
  EXPECT_EQ(devices[0]["fields"][0],
            nlohmann::json({{"path", "cpu_ticks_offset"},
                            {"offset", devices[0]["offset"].get<uint64_t>() + 19},
                            {"bytes", 8},
                            {"type", "int64"},
                            {"value", "0"}}));
  // The paused guest sits at the reset vector: eip 0xfff0, A20 mask all ones (int32 -1).
  std::map<std::string, std::string> cpu;
  for (const auto& d : devices) {
    if (d["idstr"] != "cpu") continue;
    for (const auto& f : d["fields"]) {
      if (f.contains("value")) cpu[f["path"]] = f["value"];
    }
  }
  EXPECT_EQ(cpu["env.eip"], "65520");
  EXPECT_EQ(cpu["env.a20_mask"], "-1");
  EXPECT_EQ(cpu["env.regs[0..16)"], "0 0 397233 0 ...");
}

}  // namespace
}  // namespace ramstream::cli
