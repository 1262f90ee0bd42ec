// SPDX-License-Identifier: MIT
// What a matmul block computes, shared by the node kernel (runtime/matmul_kernel.h) and the
// references (runtime/reference.h): C[m x n] = init + A[m x k] * B[k x n], C in fp32.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/tensor.h"

namespace dojosim::runtime {

/// What C starts from: zero, a bias row (n values, added to every row), or C's old value.
enum class MatmulInit : uint8_t { Zero, Bias, Accumulate };
std::string_view matmul_init_name(MatmulInit i);

/// The block as asked: any sizes of at least 1.
struct MatmulShape {
  uint32_t m = 0, n = 0, k = 0;
};

/// Host values of a block's operands. a and b are rounded to the element type when packed;
/// bias and c are fp32.
struct MatmulOperands {
  Matrix a;                 ///< m x k
  Matrix b;                 ///< k x n
  std::vector<float> bias;  ///< n values (MatmulInit::Bias)
  Matrix c;                 ///< m x n, the C to accumulate into (MatmulInit::Accumulate)
};

/// The shape of ops; throws std::invalid_argument naming the sizes if a, b, bias and c do not
/// fit together for `init`, or a dimension is 0.
MatmulShape operand_shape(MatmulInit init, const MatmulOperands& ops);

}  // namespace dojosim::runtime
