// SPDX-License-Identifier: MIT
#include "runtime/matmul.h"

#include <fmt/format.h>

#include <stdexcept>

namespace dojosim::runtime {

std::string_view matmul_init_name(MatmulInit i) {
  switch (i) {
    case MatmulInit::Zero:
      return "zero";
    case MatmulInit::Bias:
      return "bias";
    case MatmulInit::Accumulate:
      return "accumulate";
  }
  return "?";
}

MatmulShape operand_shape(MatmulInit init, const MatmulOperands& ops) {
  const MatmulShape s{ops.a.rows, ops.b.cols, ops.a.cols};
  if (ops.b.rows != s.k)
    throw std::invalid_argument(
        fmt::format("matmul operands: A is {}x{} but B is {}x{}; B needs "
                    "{} rows",
                    ops.a.rows, ops.a.cols, ops.b.rows, ops.b.cols, s.k));
  if (s.m == 0 || s.n == 0 || s.k == 0)
    throw std::invalid_argument(
        fmt::format("matmul block {}x{}x{}: every dimension must be at "
                    "least 1",
                    s.m, s.n, s.k));
  if (init == MatmulInit::Bias && ops.bias.size() != s.n)
    throw std::invalid_argument(
        fmt::format("matmul operands: bias has {} values; C has n = {} "
                    "columns",
                    ops.bias.size(), s.n));
  if (init == MatmulInit::Accumulate && (ops.c.rows != s.m || ops.c.cols != s.n))
    throw std::invalid_argument(
        fmt::format("matmul operands: accumulating into a {}x{} C; the "
                    "block is {}x{}",
                    ops.c.rows, ops.c.cols, s.m, s.n));
  return s;
}

}  // namespace dojosim::runtime
