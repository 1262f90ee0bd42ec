// SPDX-License-Identifier: MIT
#include "hw/noc/routing.h"

#include "hw/noc/routing/policies.h"

namespace dojosim::hw {
namespace {

struct Entry {
  std::string_view name;
  std::unique_ptr<Routing> (*make)();
};

// The registry: a new policy adds one line here.
const Entry kPolicies[] = {
    {"xy", [] { return std::unique_ptr<Routing>(new DorXy); }},
    {"yx", [] { return std::unique_ptr<Routing>(new DorYx); }},
};

}  // namespace

std::unique_ptr<Routing> make_routing(std::string_view name) {
  for (const Entry& e : kPolicies)
    if (e.name == name) return e.make();
  return nullptr;
}

std::vector<std::string> routing_names() {
  std::vector<std::string> names;
  for (const Entry& e : kPolicies) names.emplace_back(e.name);
  return names;
}

}  // namespace dojosim::hw
