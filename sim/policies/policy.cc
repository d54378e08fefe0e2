#include "sim/policies/policy.h"

#include "sim/policies/ideal.h"
#include "sim/policies/qemu_10.h"
#include "sim/policies/qemu_2010.h"
#include "sim/policies/qemu_7_2.h"

namespace ramstream::sim {

std::unique_ptr<Policy> MakePolicy(std::string_view name) {
  if (name == "ideal") return std::make_unique<IdealPolicy>();
  if (name == "qemu-2010") return std::make_unique<Qemu2010Policy>();
  if (name == "qemu-7.2") return std::make_unique<Qemu72Policy>();
  if (name == "qemu-10") return std::make_unique<Qemu10Policy>();
  return nullptr;
}

std::vector<std::string_view> PolicyNames() {
  return {"ideal", "qemu-2010", "qemu-7.2", "qemu-10"};
}

}  // namespace ramstream::sim
