#include "fuzz/proto/ram_stream_mutator.h"

#include <cstring>
#include <span>
#include <string>

#include "fuzz/proto/proto_to_stream.h"
#include "fuzz/proto/ram_stream.pb.h"

namespace ramstream::fuzz {
namespace {

const std::string kPkg = "ramstream.fuzz.proto.";

protomut::ProtoMutator& Mutator() {
  static protomut::ProtoMutator* m = [] {
    auto* p = new protomut::ProtoMutator();
    ConfigureRamStreamMutator(p);
    return p;
  }();
  return *m;
}

proto::RamStream Parse(const uint8_t* data, size_t size) {
  proto::RamStream msg;
  if (!ParseRamStream(std::as_bytes(std::span<const uint8_t>(data, size)), &msg)) msg.Clear();
  NormalizeRamStream(&msg);
  return msg;
}

size_t Emit(const proto::RamStream& msg, uint8_t* out, size_t max_size) {
  const std::string bytes = msg.SerializePartialAsString();
  if (bytes.size() > max_size) return 0;
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  return bytes.size();
}

}  // namespace

void ConfigureRamStreamMutator(protomut::ProtoMutator* m) {
  const uint64_t tib = uint64_t{1} << 40;
  // Offsets and lengths at the fuzz layout's block ends (fuzz/dialect_config.cc), a page,
  // and the decoder limits.
  const std::vector<uint64_t> lengths = {0,       0x1000,  0x1800,       0x4000,
                                         0x8000,  0x10000, 0x20000,      0x3f000,
                                         0x40000, tib,     tib + 0x1000, ~uint64_t{0} - 0xfff};
  m->AddInterestingValues(kPkg + "PageRef.raw_offset", lengths);
  m->AddInterestingValues(kPkg + "Block.raw_used_length", lengths);
  m->AddInterestingValues(kPkg + "MemSize.raw_total", lengths);
  m->AddInterestingValues(kPkg + "RawHeader.address", lengths);
  m->AddInterestingValues(kPkg + "PageRef.page_index", {0, 1, 3, 7, 15, 63, 64, 255, 256});
  m->AddInterestingValues(kPkg + "Block.pages",
                          {0, 1, 2, 4, 8, 16, 64, 256, uint64_t{1} << 28, (uint64_t{1} << 28) + 1});
  const std::vector<uint64_t> flags = {0x01,  0x02,  0x04,  0x08,  0x10, 0x20, 0x40, 0x80,
                                       0x100, 0x200, 0x400, 0x800, 0x22, 0x28, 0x1c};
  m->AddInterestingValues(kPkg + "PageRef.extra_flags", flags);
  m->AddInterestingValues(kPkg + "RawHeader.flags", flags);
  m->AddInterestingValues(kPkg + "Zero.fill", {0, 1, 0xff});
  m->AddInterestingValues(kPkg + "Xbzrle.raw_encoding", {0, 1, 2, 0xff});
  m->AddInterestingValues(kPkg + "Xbzrle.raw_length", {0, 1, 2, 3, 4095, 4096, 4097, 0xffff});
  m->AddInterestingValues(kPkg + "XbzrleRun.skip", {0, 1, 127, 128, 4095, 4096, 0x3fff});
  m->AddInterestingValues(kPkg + "CompressedPage.raw_length", {0, 1, 4110, 4111, 0xffffffff});
  m->AddInterestingValues(kPkg + "RamStream.config",
                          {0, 1, 2, 3, 6, 8, 16, 32, 33, 34, 64, 65, 128, 0xff});
  // The config word picks the dialect and loader set-up (ram_proto_fuzzer) or the cut of the
  // canaries' two loads: one field against every record's, so it gets the weight of 16 edits.
  // Without it, AFL++ (which fuzzes one corpus entry at length) found the stale-block canary
  // from the seed corpus in 2 of 5 runs of 300 s, where one change of the config was enough.
  m->SetEditWeight(kPkg + "RamStream.config", 16);
  m->AddTokens(kPkg + "BlockName.raw",
               {"pc.ram", "pc.bios", "/rom@etc/acpi/tables", "0000:00:02.0/vga.vram",
                std::string("pc\0ram", 6), std::string(255, 'k'), std::string(256, 'k')});
  m->AddTokens(kPkg + "RamStream.chunk_plan", {std::string(1, '\0'), "\x8c", "\x9c\x8c", "\x07"});
  m->AddTokens(kPkg + "RawRecord.data",
               {std::string("\0\0\0\0\0\0\0\x10", 8), std::string("\0\0\0\0\0\0\x10\x28", 8),
                std::string("\x06pc.ram", 7)});
  m->AddPostProcessor(proto::RamStream::descriptor(), [](google::protobuf::Message* msg, uint64_t) {
    NormalizeRamStream(static_cast<proto::RamStream*>(msg));
  });
}

size_t MutateRamStream(uint8_t* data, size_t size, size_t max_size, uint64_t seed) {
  proto::RamStream msg = Parse(data, size);
  protomut::ProtoMutator& m = Mutator();
  m.Seed(seed);
  m.Mutate(&msg, max_size);
  return Emit(msg, data, max_size);
}

size_t CrossOverRamStream(const uint8_t* data1, size_t size1, const uint8_t* data2, size_t size2,
                          uint8_t* out, size_t max_out_size, uint64_t seed) {
  proto::RamStream msg = Parse(data1, size1);
  const proto::RamStream donor = Parse(data2, size2);
  protomut::ProtoMutator& m = Mutator();
  m.Seed(seed);
  m.CrossOver(donor, &msg, max_out_size);
  return Emit(msg, out, max_out_size);
}

}  // namespace ramstream::fuzz
