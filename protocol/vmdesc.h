// The VMDESCRIPTION JSON that QEMU appends after EOF (spec section 2.3): for every device
// (FULL) section, the fields and subsections it wrote, each with the bytes it took. With it a
// reader can walk device state field by field instead of guessing its end by footer resync.
//
//   std::optional<std::string_view> json = FindTrailingVmdesc(last_bytes_of_file);
//   Result<Vmdesc> d = ParseVmdesc(*json);
//   options.vmdesc = std::make_shared<const Vmdesc>(std::move(d.value()));
//
// The vmdesc arrives only at the end of the stream, so a seekable file is read twice (its tail,
// then the whole); a pipe falls back to footer resync.
#ifndef RAMSTREAM_PROTOCOL_VMDESC_H_
#define RAMSTREAM_PROTOCOL_VMDESC_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/error.h"

namespace ramstream::protocol {

// One thing a device section holds, in stream order. A subsection header (0x05, counted name,
// be32 version) comes before that subsection's own fields.
struct VmdescItem {
  enum class Kind : uint8_t { kField, kSubsection };
  Kind kind = Kind::kField;
  // kField: "name", "name[3]" for an array element the vmdesc lists on its own, or
  // "name[0..8)" for a compressed array; fields of a subsection are prefixed with its vmsd
  // name and '.', as in "cpu/xsave.xmm_regs". kSubsection: the subsection's vmsd name.
  std::string path;
  std::string type;    // vmstate type ("uint32", "buffer", "struct", ...); "" for kSubsection
  uint64_t bytes = 0;  // kField: bytes in the stream (size × array_len)
  uint32_t element_size = 0;  // kField: bytes of one element
  uint32_t version = 0;       // kSubsection: its be32 version_id
  uint32_t depth = 0;         // 0 for the section's own fields, +1 per subsection level
};

struct VmdescDevice {
  std::string name;  // the section idstr
  uint32_t instance_id = 0;
  std::string vmsd_name;
  uint32_t version = 0;  // equals the section's version_id
  std::vector<VmdescItem> items;
  uint64_t total_bytes = 0;  // what the items take, subsection headers included
};

struct Vmdesc {
  uint32_t page_size = 0;
  std::vector<VmdescDevice> devices;
  // nullptr when the vmdesc does not describe (idstr, instance_id).
  const VmdescDevice* Find(std::string_view idstr, uint32_t instance_id) const;

  std::map<std::pair<std::string, uint32_t>, size_t, std::less<>> index;  // into devices
};

struct VmdescLimits {
  uint32_t max_depth = 16;                 // struct / subsection nesting
  uint32_t max_items = 1u << 20;           // over all devices
  uint64_t max_device_bytes = 1ull << 30;  // per device, like QevmLimits
};

// Parses and checks the JSON (shape of spec section 2.3). Errors are Code::kBadVmdesc at
// `offset` (where the VMDESCRIPTION record starts), with the JSON path of what is wrong, e.g.
// devices[2].fields[5].size; kLimitExceeded past `limits`.
Result<Vmdesc> ParseVmdesc(std::string_view json, uint64_t offset = 0,
                           const VmdescLimits& limits = {});

// The JSON text of the VMDESCRIPTION that ends a file, found from the file's last bytes:
// 0x00 (EOF), 0x06, be32 n, then exactly n bytes of text starting with '{' up to the end.
// Unlike analyze-migration.py's "last NUL" rule this takes the length field at its word, so
// JSON holding NUL-free text of any shape is found. nullopt when the tail does not end so.
std::optional<std::string_view> FindTrailingVmdesc(std::span<const std::byte> tail);

}  // namespace ramstream::protocol

#endif  // RAMSTREAM_PROTOCOL_VMDESC_H_
