#include "fuzz/proto/proto_to_stream.h"

#include <google/protobuf/text_format.h>
#include <zlib.h>

#include <algorithm>
#include <string>
#include <utility>

#include "protocol/wire_format.h"

namespace ramstream::fuzz {
namespace {

using protocol::kPageSize;
namespace pb = proto;

constexpr int kMaxRecords = 64;
constexpr int kMaxBlocks = 16;
constexpr int kMaxRuns = 64;
constexpr size_t kMaxSmallBytes = 64;
constexpr size_t kMaxRawBytes = 8192;
constexpr size_t kMaxName = 256;
constexpr size_t kMaxPlan = 31;

std::string Name(const pb::BlockName& n) {
  if (n.name_case() == pb::BlockName::kRaw) {
    return n.raw().substr(0, protocol::kMaxIdstrLen);
  }
  switch (n.known()) {
    case pb::PC_BIOS:
      return "pc.bios";
    case pb::PC_ROM:
      return "pc.rom";
    case pb::ACPI_TABLES:
      return "/rom@etc/acpi/tables";
    case pb::TABLE_LOADER:
      return "/rom@etc/table-loader";
    case pb::ACPI_RSDP:
      return "/rom@etc/acpi/rsdp";
    case pb::VGA_VRAM:
      return "0000:00:02.0/vga.vram";
    default:
      return "pc.ram";
  }
}

// splitmix64: a page's pseudo-random bytes from its seed, the same on every platform.
uint64_t Mix(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<std::byte> PatternPage(const pb::Pattern& p) {
  std::vector<std::byte> page(kPageSize);
  const std::string& seed = p.seed();
  switch (p.kind() % 4) {
    case 0:  // the seed repeated (an empty seed: a zero page)
      if (!seed.empty()) {
        for (size_t i = 0; i < kPageSize; ++i) page[i] = std::byte(seed[i % seed.size()]);
      }
      break;
    case 1:  // the seed mixed with the position: no two lines alike
      for (size_t i = 0; i < kPageSize; ++i) {
        const auto s = seed.empty() ? 0 : static_cast<uint8_t>(seed[i % seed.size()]);
        page[i] = std::byte(static_cast<uint8_t>(s ^ (i * 31 >> 3)));
      }
      break;
    case 2:  // the seed, then zeros: a mostly empty page
      std::copy_n(reinterpret_cast<const std::byte*>(seed.data()),
                  std::min(seed.size(), page.size()), page.begin());
      break;
    default: {  // pseudo-random from the seed
      uint64_t state = 0;
      for (char c : seed) state = state * 131 + static_cast<uint8_t>(c);
      for (size_t i = 0; i < kPageSize; i += 8) {
        const uint64_t v = Mix(&state);
        for (size_t k = 0; k < 8; ++k) page[i + k] = std::byte(static_cast<uint8_t>(v >> (8 * k)));
      }
      break;
    }
  }
  return page;
}

class Writer {
 public:
  explicit Writer(const ConvertLimits& limits) : limits_(limits) {}

  void Record(const pb::Record& r);
  bool full() const { return out_.size() >= limits_.max_bytes; }
  std::vector<std::byte> Take() { return std::move(out_); }

 private:
  struct Declared {
    std::string name;
    uint64_t used_length;
  };

  void Be(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(std::byte(static_cast<uint8_t>(v >> (8 * i))));
  }
  void Counted(const std::string& s) {
    out_.push_back(std::byte(static_cast<uint8_t>(s.size())));
    Bytes(s);
  }
  void Bytes(const std::string& s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out_.insert(out_.end(), p, p + s.size());
  }
  void Bytes(const std::vector<std::byte>& b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void Header(uint64_t address, uint32_t flags) {
    Be((address & protocol::kAddressMask) | (flags & protocol::kFlagMask), 8);
  }
  uint64_t LengthOf(const std::string& name) const {
    for (const Declared& d : blocks_) {
      if (d.name == name) return d.used_length;
    }
    return 0;
  }
  // The header and idstr of a page record; `base` is the record's own flag.
  void PageHeader(const pb::PageRef& ref, uint32_t base);
  void MemSize(const pb::MemSize& m);
  void Xbzrle(const pb::Xbzrle& x);
  void Compressed(const pb::CompressedPage& c);

  const ConvertLimits& limits_;
  std::vector<std::byte> out_;
  std::vector<Declared> blocks_;  // MEM_SIZE entries so far, one per name (latest length)
  std::string last_named_;        // the block CONTINUE refers to
};

void Writer::PageHeader(const pb::PageRef& ref, uint32_t base) {
  std::string name;
  if (ref.use_continue()) {
    name = last_named_;
  } else if (ref.block().ref_case() == pb::BlockRef::kName) {
    name = Name(ref.block().name());
  } else if (!blocks_.empty()) {
    name = blocks_[ref.block().index() % blocks_.size()].name;
  } else {
    name = "pc.ram";
  }
  uint64_t offset;
  if (ref.has_raw_offset()) {
    offset = ref.raw_offset();
  } else {
    const uint64_t pages = LengthOf(name) / kPageSize;
    offset = (pages ? ref.page_index() % pages : ref.page_index()) * kPageSize;
  }
  uint32_t flags = base | (ref.extra_flags() & protocol::kFlagMask);
  if (ref.use_continue()) flags |= protocol::kFlagContinue;
  Header(offset, flags);
  if (!ref.use_continue()) {
    Counted(name);
    last_named_ = name;
  }
}

void Writer::MemSize(const pb::MemSize& m) {
  std::vector<std::pair<std::string, uint64_t>> entries;
  uint64_t total = 0;
  for (const pb::Block& b : m.blocks()) {
    const uint64_t len = b.has_raw_used_length()
                             ? b.raw_used_length()
                             : std::min(b.pages(), limits_.max_block_pages) * kPageSize;
    entries.emplace_back(Name(b.name()), len);
    total += len;
  }
  if (m.has_raw_total()) total = m.raw_total();
  // The total shares the header with the flags: an unaligned one corrupts them, as it would
  // on the wire.
  Be(total | protocol::kFlagMemSize, 8);
  for (int i = 0; i < m.blocks_size(); ++i) {
    const pb::Block& b = m.blocks(i);
    Counted(entries[i].first);
    Be(entries[i].second, 8);
    if (b.has_page_size()) Be(b.page_size(), 8);
    if (b.has_addr()) Be(b.addr(), 8);
    auto it = std::find_if(blocks_.begin(), blocks_.end(),
                           [&](const Declared& d) { return d.name == entries[i].first; });
    if (it == blocks_.end()) {
      blocks_.push_back({entries[i].first, entries[i].second});
    } else {
      it->used_length = entries[i].second;
    }
  }
}

void Writer::Xbzrle(const pb::Xbzrle& x) {
  PageHeader(x.ref(), protocol::kFlagXbzrle);
  std::string delta;
  if (x.delta_case() == pb::Xbzrle::kRaw) {
    delta = x.raw();
  } else {
    // QEMU's rules: ULEB128 counts of at most two bytes, only the first zrun may be 0, every
    // nzrun at least 1, nothing past the page, and the delta itself at most a page.
    auto uleb = [](uint32_t v) {
      std::string s;
      if (v < 0x80) {
        s.push_back(static_cast<char>(v));
      } else {
        s.push_back(static_cast<char>((v & 0x7f) | 0x80));
        s.push_back(static_cast<char>(v >> 7));
      }
      return s;
    };
    uint64_t d = 0;
    for (int i = 0; i < x.runs().runs_size(); ++i) {
      const pb::XbzrleRun& run = x.runs().runs(i);
      uint64_t zrun = std::min<uint64_t>(run.skip(), protocol::kXbzrleMaxRun);
      if (i > 0 && zrun == 0) zrun = 1;
      if (d + zrun >= kPageSize) break;
      std::string data = run.data().empty() ? std::string(1, '\0') : run.data();
      const uint64_t room = std::min<uint64_t>(kPageSize - d - zrun, protocol::kXbzrleMaxRun);
      if (data.size() > room) data.resize(room);
      const std::string piece =
          uleb(static_cast<uint32_t>(zrun)) + uleb(static_cast<uint32_t>(data.size())) + data;
      if (delta.size() + piece.size() > kPageSize) break;
      delta += piece;
      d += zrun + data.size();
    }
  }
  out_.push_back(std::byte(static_cast<uint8_t>(x.has_raw_encoding() ? x.raw_encoding() : 0x01)));
  Be(x.has_raw_length() ? x.raw_length() : delta.size(), 2);
  Bytes(delta);
}

void Writer::Compressed(const pb::CompressedPage& c) {
  PageHeader(c.ref(), protocol::kFlagCompressPage);
  const std::vector<std::byte> page = PatternPage(c.data());
  uLongf len = compressBound(kPageSize);
  std::vector<std::byte> z(len);
  if (compress2(reinterpret_cast<Bytef*>(z.data()), &len,
                reinterpret_cast<const Bytef*>(page.data()), kPageSize, 1) != Z_OK) {
    len = 0;
  }
  z.resize(len);
  if (c.corrupt_at() != 0 && !z.empty()) z[c.corrupt_at() % z.size()] ^= std::byte{0x5a};
  Be(c.has_raw_length() ? c.raw_length() : z.size(), 4);
  Bytes(z);
}

void Writer::Record(const pb::Record& r) {
  switch (r.kind_case()) {
    case pb::Record::kMemSize:
      MemSize(r.mem_size());
      break;
    case pb::Record::kZero:
      PageHeader(r.zero().ref(), protocol::kFlagZero);
      out_.push_back(std::byte(static_cast<uint8_t>(r.zero().fill())));
      break;
    case pb::Record::kPage:
      PageHeader(r.page().ref(), protocol::kFlagPage);
      Bytes(PatternPage(r.page().data()));
      break;
    case pb::Record::kXbzrle:
      Xbzrle(r.xbzrle());
      break;
    case pb::Record::kCompressed:
      Compressed(r.compressed());
      break;
    case pb::Record::kEos:
      Header(0, protocol::kFlagEos);
      break;
    case pb::Record::kMultifdFlush:
      Header(0, protocol::kFlagMultifdFlush);
      break;
    case pb::Record::kHook:
      Header(0, protocol::kFlagHook);
      break;
    case pb::Record::kRawHeader:
      Header(r.raw_header().address(), r.raw_header().flags());
      break;
    case pb::Record::kRaw:
      Bytes(r.raw().data());
      break;
    case pb::Record::KIND_NOT_SET:
      break;
  }
}

void Truncate(std::string* s, size_t n) {
  if (s->size() > n) s->resize(n);
}

void NormalizeRef(pb::PageRef* ref) {
  if (ref->has_block() && ref->block().ref_case() == pb::BlockRef::kName &&
      ref->block().name().name_case() == pb::BlockName::kRaw) {
    Truncate(ref->mutable_block()->mutable_name()->mutable_raw(), kMaxName);
  }
}

}  // namespace

std::vector<std::byte> ProtoToStream(const pb::RamStream& stream, const ConvertLimits& limits) {
  Writer w(limits);
  const int n = std::min<int>(stream.records_size(), static_cast<int>(limits.max_records));
  for (int i = 0; i < n && !w.full(); ++i) w.Record(stream.records(i));
  return w.Take();
}

bool ParseRamStream(std::span<const std::byte> data, pb::RamStream* stream) {
  if (!data.empty() && data[0] == std::byte{'#'}) {
    google::protobuf::TextFormat::Parser parser;
    parser.AllowPartialMessage(true);
    return parser.ParseFromString(
        std::string(reinterpret_cast<const char*>(data.data()), data.size()), stream);
  }
  return stream->ParsePartialFromArray(data.data(), static_cast<int>(data.size()));
}

void NormalizeRamStream(pb::RamStream* s) {
  while (s->records_size() > kMaxRecords) s->mutable_records()->RemoveLast();
  Truncate(s->mutable_chunk_plan(), kMaxPlan);
  for (pb::Record& r : *s->mutable_records()) {
    switch (r.kind_case()) {
      case pb::Record::kMemSize: {
        auto* blocks = r.mutable_mem_size()->mutable_blocks();
        while (blocks->size() > kMaxBlocks) blocks->RemoveLast();
        for (pb::Block& b : *blocks) {
          if (b.name().name_case() == pb::BlockName::kRaw) {
            Truncate(b.mutable_name()->mutable_raw(), kMaxName);
          }
        }
        break;
      }
      case pb::Record::kZero:
        if (r.zero().has_ref()) NormalizeRef(r.mutable_zero()->mutable_ref());
        break;
      case pb::Record::kPage:
        if (r.page().has_ref()) NormalizeRef(r.mutable_page()->mutable_ref());
        if (r.page().has_data()) {
          Truncate(r.mutable_page()->mutable_data()->mutable_seed(), kMaxSmallBytes);
        }
        break;
      case pb::Record::kXbzrle: {
        pb::Xbzrle* x = r.mutable_xbzrle();
        if (x->has_ref()) NormalizeRef(x->mutable_ref());
        if (x->delta_case() == pb::Xbzrle::kRaw) Truncate(x->mutable_raw(), kMaxRawBytes);
        if (x->delta_case() == pb::Xbzrle::kRuns) {
          auto* runs = x->mutable_runs()->mutable_runs();
          while (runs->size() > kMaxRuns) runs->RemoveLast();
          for (pb::XbzrleRun& run : *runs) Truncate(run.mutable_data(), kMaxSmallBytes);
        }
        break;
      }
      case pb::Record::kCompressed:
        if (r.compressed().has_ref()) NormalizeRef(r.mutable_compressed()->mutable_ref());
        if (r.compressed().has_data()) {
          Truncate(r.mutable_compressed()->mutable_data()->mutable_seed(), kMaxSmallBytes);
        }
        break;
      case pb::Record::kRaw:
        Truncate(r.mutable_raw()->mutable_data(), kMaxRawBytes);
        break;
      default:
        break;
    }
  }
}

}  // namespace ramstream::fuzz
