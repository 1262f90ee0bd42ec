// SPDX-License-Identifier: MIT
// The global address encoding has one definition, isa/global_address.h; kernels/include/dojo.h
// restates it in C. These tests fail when the two disagree, whether dojo.h is read by a C
// compiler (dojo_h_host.c) or a C++ one (included here).
#include <catch2/catch.hpp>

#include <cstdint>

#include "isa/global_address.h"
#include "kernels/include/dojo.h"

extern "C" uint64_t dojo_h_host_global_addr(uint32_t x, uint32_t y, uint32_t offset);
extern "C" uint64_t dojo_h_host_host_bit(void);

using namespace dojosim::isa;

namespace {

struct Case {
  uint32_t x, y, offset;
};
// Corners of every field, values past a field's width (masked), and ordinary mesh positions.
constexpr Case kCases[] = {
    {0, 0, 0},
    {1, 0, 0},
    {0, 1, 0},
    {0, 0, 1},
    {17, 19, 0x13FFC0},
    {89, 99, 0x1000},
    {0x7FFF, 0xFFFF, 0xFFFFFFFF},
    {0x8000, 0x10000, 0x80000000},  // one past each field: masked to 0
    {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF},
    {0x12345, 0x6789A, 0xDEADBEEF},
};

}  // namespace

TEST_CASE("dojo.h's dojo_global_addr in C equals isa::global_address for every field's corners",
          "[global_address]") {
  for (const Case& c : kCases) {
    INFO("x " << c.x << ", y " << c.y << ", offset " << c.offset);
    CHECK(dojo_h_host_global_addr(c.x, c.y, c.offset) == global_address(c.x, c.y, c.offset));
  }
  CHECK(dojo_h_host_host_bit() == kHostBit);
}

TEST_CASE("dojo.h read as C++ states the same field constants as isa/global_address.h",
          "[global_address]") {
  STATIC_REQUIRE(DOJO_GLOBAL_X_SHIFT == kGlobalXShift);
  STATIC_REQUIRE(DOJO_GLOBAL_Y_SHIFT == kGlobalYShift);
  STATIC_REQUIRE(DOJO_GLOBAL_X_MASK == kGlobalXMask);
  STATIC_REQUIRE(DOJO_GLOBAL_Y_MASK == kGlobalYMask);
  STATIC_REQUIRE(DOJO_GLOBAL_HOST_BIT == kHostBit);
  for (const Case& c : kCases)
    CHECK(dojo_global_addr(c.x, c.y, c.offset) == global_address(c.x, c.y, c.offset));
}

TEST_CASE("global_x, global_y and global_offset invert global_address within the field widths",
          "[global_address]") {
  for (const Case& c : kCases) {
    const uint64_t g = global_address(c.x, c.y, c.offset);
    CHECK_FALSE(is_host_address(g));
    CHECK(global_x(g) == (c.x & kGlobalXMask));
    CHECK(global_y(g) == (c.y & kGlobalYMask));
    CHECK(global_offset(g) == c.offset);
  }
  CHECK(is_host_address(host_address(0x1234)));
  CHECK(host_offset(host_address(0x1234)) == 0x1234);
}
