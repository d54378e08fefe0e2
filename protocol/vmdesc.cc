#include "protocol/vmdesc.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "protocol/internal/endian.h"
#include "protocol/qevm.h"

namespace ramstream::protocol {
namespace {

using Json = nlohmann::json;

// Walks the JSON tree into flat items. Every failure names the JSON path, since a vmdesc is
// thousands of lines and "bad vmdesc" alone would not help anyone.
class Flattener {
 public:
  Flattener(uint64_t offset, const VmdescLimits& limits) : offset_(offset), limits_(limits) {}

  Error error;

  bool Device(const Json& d, const std::string& where, VmdescDevice* out) {
    if (!d.is_object()) return Fail(where + " is not an object");
    if (!String(d, "name", where, &out->name) ||
        !Uint32(d, "instance_id", where, &out->instance_id)) {
      return false;
    }
    if (out->name.empty() || out->name.size() > 255) {
      return Fail(where + ".name must be 1 to 255 bytes (a section idstr)");
    }
    device_ = out;
    return State(d, where, 0, "", &out->vmsd_name, &out->version);
  }

 private:
  // A vmstate: its vmsd name and version, its fields, then its subsections in stream order.
  bool State(const Json& s, const std::string& where, uint32_t depth, const std::string& prefix,
             std::string* vmsd_name, uint32_t* version) {
    if (depth > limits_.max_depth) {
      return Fail(where + " nests deeper than " + std::to_string(limits_.max_depth), true);
    }
    if (!String(s, "vmsd_name", where, vmsd_name) || !Uint32(s, "version", where, version)) {
      return false;
    }
    if (auto it = s.find("fields"); it != s.end()) {
      if (!it->is_array()) return Fail(where + ".fields is not an array");
      for (size_t i = 0; i < it->size(); ++i) {
        if (!Field((*it)[i], where + ".fields[" + std::to_string(i) + "]", depth, prefix)) {
          return false;
        }
      }
    }
    if (auto it = s.find("subsections"); it != s.end()) {
      if (!it->is_array()) return Fail(where + ".subsections is not an array");
      for (size_t i = 0; i < it->size(); ++i) {
        const std::string at = where + ".subsections[" + std::to_string(i) + "]";
        const Json& sub = (*it)[i];
        if (!sub.is_object()) return Fail(at + " is not an object");
        VmdescItem item;
        item.kind = VmdescItem::Kind::kSubsection;
        item.depth = depth + 1;
        const size_t slot = device_->items.size();
        if (!Add(std::move(item), 0)) return false;
        std::string name;
        uint32_t v = 0;
        if (!State(sub, at, depth + 1, "", &name, &v)) return false;
        if (name.empty() || name.size() > 255) {
          return Fail(at + ".vmsd_name must be 1 to 255 bytes (it is sent with a length byte)");
        }
        // 0x05, length byte, the name, be32 version.
        if (!AddBytes(2 + name.size() + 4)) return false;
        device_->items[slot].path = name;
        device_->items[slot].version = v;
        // Fields of the subsection were added with their own names; say whose they are.
        for (size_t k = slot + 1; k < device_->items.size(); ++k) {
          VmdescItem& f = device_->items[k];
          if (f.kind == VmdescItem::Kind::kField && f.depth == depth + 1) {
            f.path = name + "." + f.path;
          }
        }
      }
    }
    return true;
  }

  bool Field(const Json& f, const std::string& where, uint32_t depth, const std::string& prefix) {
    if (!f.is_object()) return Fail(where + " is not an object");
    VmdescItem item;
    item.kind = VmdescItem::Kind::kField;
    item.depth = depth;
    std::string name;
    if (!String(f, "name", where, &name)) return false;
    if (auto it = f.find("type"); it != f.end()) {
      if (!it->is_string()) return Fail(where + ".type is not a string");
      item.type = it->get<std::string>();
    }
    uint32_t size = 0;
    if (!Uint32(f, "size", where, &size)) return false;
    item.element_size = size;
    uint64_t count = 1;
    // A compressed array is listed once, with the size of one element and the count.
    if (auto it = f.find("array_len"); it != f.end()) {
      uint32_t n = 0;
      if (!Uint32(f, "array_len", where, &n)) return false;
      if (n == 0) return Fail(where + ".array_len is 0 (QEMU lists no empty array)");
      count = n;
      item.path = prefix + name + "[0.." + std::to_string(n) + ")";
    } else if (auto ix = f.find("index"); ix != f.end()) {
      uint32_t i = 0;
      if (!Uint32(f, "index", where, &i)) return false;
      item.path = prefix + name + "[" + std::to_string(i) + "]";
    } else {
      item.path = prefix + name;
    }
    // "struct" members describe what is inside these bytes; walking needs only the size.
    item.bytes = uint64_t{size} * count;
    return Add(std::move(item), item.bytes);
  }

  bool Add(VmdescItem item, uint64_t bytes) {
    if (++items_ > limits_.max_items) {
      return Fail("more than " + std::to_string(limits_.max_items) + " fields and subsections",
                  true);
    }
    device_->items.push_back(std::move(item));
    return AddBytes(bytes);
  }

  bool AddBytes(uint64_t bytes) {
    device_->total_bytes += bytes;
    if (device_->total_bytes > limits_.max_device_bytes) {
      return Fail("device " + device_->name + " takes more than " +
                      std::to_string(limits_.max_device_bytes) + " bytes",
                  true);
    }
    return true;
  }

  bool String(const Json& o, const char* key, const std::string& where, std::string* out) {
    auto it = o.find(key);
    if (it == o.end() || !it->is_string()) {
      return Fail(where + "." + key + " is missing or not a string");
    }
    *out = it->get<std::string>();
    return true;
  }

  bool Uint32(const Json& o, const char* key, const std::string& where, uint32_t* out) {
    auto it = o.find(key);
    if (it == o.end() || !it->is_number_integer() || it->get<int64_t>() < 0 ||
        it->get<int64_t>() > std::numeric_limits<uint32_t>::max()) {
      return Fail(where + "." + key + " is missing or not an integer in 0..2^32-1");
    }
    *out = static_cast<uint32_t>(it->get<int64_t>());
    return true;
  }

  bool Fail(std::string message, bool limit = false) {
    error = Error{limit ? Code::kLimitExceeded : Code::kBadVmdesc, offset_,
                  "VMDESCRIPTION " + std::move(message)};
    return false;
  }

  uint64_t offset_;
  VmdescLimits limits_;
  VmdescDevice* device_ = nullptr;
  uint64_t items_ = 0;
};

}  // namespace

const VmdescDevice* Vmdesc::Find(std::string_view idstr, uint32_t instance_id) const {
  auto it = index.find(std::pair<std::string, uint32_t>(idstr, instance_id));
  return it == index.end() ? nullptr : &devices[it->second];
}

Result<Vmdesc> ParseVmdesc(std::string_view json, uint64_t offset, const VmdescLimits& limits) {
  const Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  auto bad = [offset](std::string why) {
    return Error{Code::kBadVmdesc, offset, "VMDESCRIPTION " + std::move(why)};
  };
  if (j.is_discarded()) return bad("is not valid JSON");
  if (!j.is_object()) return bad("is not an object");
  Vmdesc out;
  if (auto it = j.find("page_size"); it != j.end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() > (1u << 30)) {
      return bad("page_size is not a page size");
    }
    out.page_size = it->get<uint32_t>();
  }
  auto devices = j.find("devices");
  if (devices == j.end()) return out;  // nothing described: every section is resynced
  if (!devices->is_array()) return bad("\"devices\" is not an array");
  Flattener flat(offset, limits);
  out.devices.resize(devices->size());
  for (size_t i = 0; i < devices->size(); ++i) {
    const std::string where = "devices[" + std::to_string(i) + "]";
    if (!flat.Device((*devices)[i], where, &out.devices[i])) return flat.error;
    const VmdescDevice& d = out.devices[i];
    if (!out.index.emplace(std::pair(d.name, d.instance_id), i).second) {
      return bad(where + " describes " + d.name + " instance " + std::to_string(d.instance_id) +
                 " a second time");
    }
  }
  return out;
}

std::optional<std::string_view> FindTrailingVmdesc(std::span<const std::byte> tail) {
  // Valid JSON holds no raw control bytes, so no 0x06 lies inside the text: the first match
  // from the end is the record header, or there is none.
  if (tail.size() < 7) return std::nullopt;
  for (size_t p = tail.size() - 6; p >= 1; --p) {
    if (tail[p] != std::byte{kQevmVmdescription}) continue;
    const uint64_t n = internal::LoadBe32(tail.data() + p + 1);
    if (tail[p - 1] == std::byte{0} && n == tail.size() - p - 5 && tail[p + 5] == std::byte{'{'}) {
      return std::string_view(reinterpret_cast<const char*>(tail.data() + p + 5), n);
    }
  }
  return std::nullopt;
}

}  // namespace ramstream::protocol
