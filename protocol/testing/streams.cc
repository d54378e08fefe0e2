#include "protocol/testing/streams.h"

#include <algorithm>
#include <numeric>

#include "protocol/internal/endian.h"
#include "protocol/wire_format.h"

namespace ramstream::protocol::testing {

StreamBuilder& StreamBuilder::Header(uint64_t address, uint32_t flags) {
  return Be64(address | flags);
}

StreamBuilder& StreamBuilder::U8(uint8_t v) {
  bytes_.push_back(std::byte{v});
  return *this;
}

StreamBuilder& StreamBuilder::Be16(uint16_t v) {
  bytes_.resize(bytes_.size() + 2);
  internal::StoreBe16(bytes_.data() + bytes_.size() - 2, v);
  return *this;
}

StreamBuilder& StreamBuilder::Be32(uint32_t v) {
  bytes_.resize(bytes_.size() + 4);
  internal::StoreBe32(bytes_.data() + bytes_.size() - 4, v);
  return *this;
}

StreamBuilder& StreamBuilder::Be64(uint64_t v) {
  bytes_.resize(bytes_.size() + 8);
  internal::StoreBe64(bytes_.data() + bytes_.size() - 8, v);
  return *this;
}

StreamBuilder& StreamBuilder::Raw(std::span<const std::byte> b) {
  bytes_.insert(bytes_.end(), b.begin(), b.end());
  return *this;
}

StreamBuilder& StreamBuilder::Counted(std::string_view s) {
  U8(static_cast<uint8_t>(s.size()));
  for (char c : s) bytes_.push_back(static_cast<std::byte>(c));
  return *this;
}

StreamBuilder& StreamBuilder::MemSize(const std::vector<std::pair<std::string, uint64_t>>& blocks) {
  uint64_t total = 0;
  for (const auto& b : blocks) total += b.second;
  return MemSizeTotal(total, blocks);
}

StreamBuilder& StreamBuilder::MemSizeTotal(
    uint64_t total, const std::vector<std::pair<std::string, uint64_t>>& blocks) {
  Header(total, kFlagMemSize);
  for (const auto& [id, len] : blocks) {
    Counted(id);
    Be64(len);
  }
  return *this;
}

StreamBuilder& StreamBuilder::Zero(std::string_view idstr, uint64_t offset, uint8_t fill) {
  Header(offset, kFlagZero | (idstr.empty() ? kFlagContinue : 0));
  if (!idstr.empty()) Counted(idstr);
  return U8(fill);
}

StreamBuilder& StreamBuilder::Page(std::string_view idstr, uint64_t offset, uint8_t pattern) {
  Header(offset, kFlagPage | (idstr.empty() ? kFlagContinue : 0));
  if (!idstr.empty()) Counted(idstr);
  return Raw(PatternPage(pattern));
}

StreamBuilder& StreamBuilder::Xbzrle(std::string_view idstr, uint64_t offset,
                                     std::span<const std::byte> delta) {
  Header(offset, kFlagXbzrle | (idstr.empty() ? kFlagContinue : 0));
  if (!idstr.empty()) Counted(idstr);
  U8(kXbzrleEncoding);
  Be16(static_cast<uint16_t>(delta.size()));
  return Raw(delta);
}

StreamBuilder& StreamBuilder::Eos() { return Header(0, kFlagEos); }

Bytes PatternPage(uint8_t pattern) {
  Bytes page(kPageSize);
  for (size_t i = 0; i < kPageSize; ++i) {
    page[i] = static_cast<std::byte>(pattern ^ (i * 31 >> 3));
  }
  return page;
}

DecodeOutcome DecodeAll(std::span<const std::byte> bytes, const DecoderOptions& options,
                        size_t chunk) {
  DecodeOutcome out;
  Decoder d(options);
  if (chunk == 0) chunk = std::max<size_t>(bytes.size(), 1);
  size_t pos = 0;
  do {
    const size_t n = std::min(chunk, bytes.size() - pos);
    const bool last = pos + n == bytes.size();
    // Copy each chunk so a decoder that kept a view into an old chunk reads freed memory
    // (ASan then reports it).
    Bytes piece(bytes.begin() + pos, bytes.begin() + pos + n);
    d.Feed(piece, last);
    pos += n;
    Record r;
    for (;;) {
      const Step s = d.Next(&r);
      if (s == Step::kRecord) {
        out.records.emplace_back(r);
        continue;
      }
      if (s == Step::kNeedInput) break;
      if (s == Step::kError) out.error = d.error();
      return out;
    }
  } while (pos < bytes.size());
  out.error = Error{Code::kInternal, pos, "decoder asked for input after end_of_input"};
  return out;
}

LoadOutcome LoadAll(std::span<const std::byte> bytes, const LoaderOptions& options, size_t chunk,
                    Backing backing) {
  GuestMemoryOptions mo;
  mo.backing = backing;
  GuestMemory mem(mo);
  Loader loader(options, &mem);
  if (chunk == 0) chunk = std::max<size_t>(bytes.size(), 1);
  size_t pos = 0;
  LoadStatus st = LoadStatus::kError;
  if (loader.error().ok()) {
    do {
      const size_t n = std::min(chunk, bytes.size() - pos);
      const bool last = pos + n == bytes.size();
      Bytes piece(bytes.begin() + pos, bytes.begin() + pos + n);
      st = loader.Feed(piece, last);
      pos += n;
    } while (st == LoadStatus::kNeedInput && pos < bytes.size());
  }
  return LoadOutcome{st, loader.error(), loader.stats(), mem.Digest()};
}

}  // namespace ramstream::protocol::testing
