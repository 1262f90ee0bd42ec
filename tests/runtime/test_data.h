// SPDX-License-Identifier: MIT
// Test helpers: reproducible random operands and comparisons that say where they differ.
#pragma once

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/reference.h"
#include "runtime/tensor.h"

namespace dojosim::test {

// Values in [-1, 1] in steps of 1/1000 from a fixed generator (mt19937 is the same everywhere).
inline runtime::Matrix random_matrix(uint32_t rows, uint32_t cols, uint32_t seed) {
  std::mt19937 gen(seed);
  runtime::Matrix m(rows, cols);
  for (float& v : m.values) v = static_cast<float>(static_cast<int>(gen() % 2001) - 1000) / 1000.0f;
  return m;
}

// `rows` indices in [0, bound) (labels, token ids) from a fixed generator.
inline std::vector<int32_t> random_indices(uint32_t rows, uint32_t bound, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<int32_t> v(rows);
  for (int32_t& i : v) i = static_cast<int32_t>(gen() % bound);
  return v;
}

inline uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Every element has the same bits; on the first difference, fails naming it.
inline void require_bit_exact(const runtime::Matrix& got, const runtime::Matrix& want) {
  REQUIRE(got.rows == want.rows);
  REQUIRE(got.cols == want.cols);
  for (uint32_t r = 0; r < got.rows; ++r)
    for (uint32_t c = 0; c < got.cols; ++c)
      if (bits(got.at(r, c)) != bits(want.at(r, c)))
        FAIL(fmt::format("C[{}][{}] = {} (0x{:08x}), the reference says {} (0x{:08x})", r, c,
                         got.at(r, c), bits(got.at(r, c)), want.at(r, c), bits(want.at(r, c))));
}

// Every element within the reference's bound.
inline void require_within(const runtime::Matrix& got, const runtime::Reference64& ref) {
  REQUIRE(got.rows == ref.rows);
  REQUIRE(got.cols == ref.cols);
  for (uint32_t r = 0; r < got.rows; ++r)
    for (uint32_t c = 0; c < got.cols; ++c) {
      const double err = std::fabs(double(got.at(r, c)) - ref.at(r, c));
      if (!(err <= ref.bound_at(r, c)))
        FAIL(fmt::format("C[{}][{}] = {} is {:.3g} from the float64 value {}; the bound is {:.3g}",
                         r, c, got.at(r, c), err, ref.at(r, c), ref.bound_at(r, c)));
    }
}

}  // namespace dojosim::test
