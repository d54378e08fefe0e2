#include "sim/units.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ramstream::sim {
namespace {

using ::testing::HasSubstr;

TEST(ParseSize, BinaryDecimalAndPageUnits) {
  EXPECT_EQ(*ParseSize("8GiB"), 8ull << 30);
  EXPECT_EQ(*ParseSize("1TiB"), 1ull << 40);
  EXPECT_EQ(*ParseSize("512KiB"), 512ull << 10);
  EXPECT_EQ(*ParseSize("250MB"), 250'000'000ull);
  EXPECT_EQ(*ParseSize("1.5GB"), 1'500'000'000ull);
  EXPECT_EQ(*ParseSize("1.1GB"), 1'100'000'000ull);
  EXPECT_EQ(*ParseSize("10pages"), 40960ull);
  EXPECT_EQ(*ParseSize("4096"), 4096ull);
  EXPECT_EQ(*ParseSize("4096B"), 4096ull);
  EXPECT_EQ(*ParseSize(" 8 GiB "), 8ull << 30);
  EXPECT_EQ(*ParseSize("0"), 0ull);
  EXPECT_EQ(*ParseSize("1e3B"), 1000ull);
}

TEST(ParseSize, RejectsAmbiguousOrMalformed) {
  EXPECT_THAT(ParseSize("8G").error().message, HasSubstr("unknown unit \"G\""));
  EXPECT_THAT(ParseSize("8Gb").error().message, HasSubstr("unknown unit"));
  EXPECT_THAT(ParseSize("-1GiB").error().message, HasSubstr("negative"));
  EXPECT_THAT(ParseSize("GiB").error().message, HasSubstr("does not start with a number"));
  EXPECT_THAT(ParseSize("").error().message, HasSubstr("empty"));
  EXPECT_THAT(ParseSize("1.5B").error().message, HasSubstr("whole number of bytes"));
  EXPECT_THAT(ParseSize("inf").error().message, HasSubstr("does not start with a number"));
  EXPECT_THAT(ParseSize("100000PiB").error().message, HasSubstr("too large"));
}

TEST(ParseRate, BitsBytesAndPagesPerSecond) {
  EXPECT_DOUBLE_EQ(*ParseRate("10Gbit/s"), 1.25e9);
  EXPECT_DOUBLE_EQ(*ParseRate("10Gbps"), 1.25e9);
  EXPECT_DOUBLE_EQ(*ParseRate("1Gbit/s"), 1.25e8);
  EXPECT_DOUBLE_EQ(*ParseRate("800Mbit/s"), 1e8);
  EXPECT_DOUBLE_EQ(*ParseRate("250MB/s"), 2.5e8);
  EXPECT_DOUBLE_EQ(*ParseRate("128MiB/s"), 128.0 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(*ParseRate("15000pages/s"), 15000.0 * 4096);
  EXPECT_DOUBLE_EQ(*ParseRate("33554432"), 33554432.0);  // QEMU's max-bandwidth is bytes/s
  EXPECT_DOUBLE_EQ(*ParseRate("0"), 0.0);
}

TEST(ParseRate, RejectsUnknownUnits) {
  EXPECT_THAT(ParseRate("10Gb/s").error().message, HasSubstr("unknown unit \"Gb/s\""));
  EXPECT_THAT(ParseRate("10GB").error().message, HasSubstr("unknown unit \"GB\""));
  EXPECT_THAT(ParseRate("fast").error().message, HasSubstr("does not start with a number"));
}

TEST(ParseDuration, Units) {
  EXPECT_DOUBLE_EQ(*ParseDuration("300ms"), 0.3);
  EXPECT_DOUBLE_EQ(*ParseDuration("1.5s"), 1.5);
  EXPECT_DOUBLE_EQ(*ParseDuration("2min"), 120.0);
  EXPECT_DOUBLE_EQ(*ParseDuration("1h"), 3600.0);
  EXPECT_DOUBLE_EQ(*ParseDuration("250us"), 250e-6);
  EXPECT_DOUBLE_EQ(*ParseDuration("10ns"), 10e-9);
  EXPECT_DOUBLE_EQ(*ParseDuration("0"), 0.0);
}

TEST(ParseDuration, NonZeroNeedsAUnit) {
  EXPECT_THAT(ParseDuration("300").error().message, HasSubstr("needs a unit"));
  EXPECT_THAT(ParseDuration("3 days").error().message, HasSubstr("unknown unit \"days\""));
}

TEST(Format, HumanReadable) {
  EXPECT_EQ(FormatBytes(10.65e9), "10.65 GB");
  EXPECT_EQ(FormatBytes(343.6e6), "343.6 MB");
  EXPECT_EQ(FormatRate(1.25e9), "1.25 GB/s");
  EXPECT_EQ(FormatDuration(0.275), "275 ms");
  EXPECT_EQ(FormatDuration(8.52), "8.52 s");
}

}  // namespace
}  // namespace ramstream::sim
