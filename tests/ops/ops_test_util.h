// SPDX-License-Identifier: MIT
// What the runtime/ops tests share: the machine they run on.
#pragma once

#include <string>

#include "hw/config/config_io.h"

namespace dojosim::ops_test {

inline hw::HardwareConfig tiny() {
  return hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml").config;
}

}  // namespace dojosim::ops_test
