// SPDX-License-Identifier: MIT
#include "runtime/ops/cast.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>

#include "hw/node/node.h"
#include "isa/lanes.h"
#include "runtime/ops/program.h"

namespace dojosim::runtime::ops {
namespace {

constexpr uint32_t kPieceLanes = 16;  // fp32 lanes of a 64 B register
constexpr unsigned kMaxThreads = 8;   // cast_seed mixes the thread into 3 bits

// One node's work.
struct Node {
  uint64_t x = 0, y = 0, rows = 0, x_row = 0, y_row = 0, pieces = 0, x_pieces = 0;
  uint64_t seeds[kMaxThreads] = {};
  float factor = 1;
  uint64_t factor_at = 0;  // the factor's fp32 scalar in SRAM instead (0: FACTOR)
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"X", [](N n) { return n.x; }},
      {"Y", [](N n) { return n.y; }},
      {"FACTORAT", [](N n) { return n.factor_at; }},
      {"ROWS", [](N n) { return n.rows; }},
      {"XROW", [](N n) { return n.x_row; }},        // bytes of a stored row of x
      {"YROW", [](N n) { return n.y_row; }},        // and of y
      {"PIECES", [](N n) { return n.pieces; }},     // fp32 pieces of a row of y
      {"XPIECES", [](N n) { return n.x_pieces; }},  // and of x
      {"FACTOR", [](N n) { return uint64_t{isa::lanes::float_bits(n.factor)}; }},
      // Thread t reads SEED0 + 8 t.
      {"SEED0", [](N n) { return n.seeds[0]; }},
      {"SEED1", [](N n) { return n.seeds[1]; }},
      {"SEED2", [](N n) { return n.seeds[2]; }},
      {"SEED3", [](N n) { return n.seeds[3]; }},
      {"SEED4", [](N n) { return n.seeds[4]; }},
      {"SEED5", [](N n) { return n.seeds[5]; }},
      {"SEED6", [](N n) { return n.seeds[6]; }},
      {"SEED7", [](N n) { return n.seeds[7]; }},
  };
  return block;
}

uint32_t pieces_per_register(DType d) {
  return d == DType::Bf16 ? 2 : 1;
}

// A row is done in pairs of pieces q, q + 1 (a bf16 register on either side holds a pair):
// v1 and v2 hold them in fp32; a piece past x's row is zero (a bf16 row of an odd number of
// fp32 pieces); a piece past y's row is not stored.
std::string program_text(DType from, DType to, bool scaled, bool stochastic, bool factor_at) {
  codegen::AsmWriter w;
  w.raw(fmt::format("# cast {} -> {}{}{}: y = round(factor x), row by row, two fp32 pieces a step.",
                    dtype_name(from), dtype_name(to), scaled ? ", scaled" : "",
                    stochastic ? ", stochastic rounding" : ""));
  args().declare(w);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  w.op("csrr    t3, threadid");
  w.op("csrr    t4, nthreads");
  w.op("slli    t0, t3, 3");
  w.op("add     t0, s1, t0");
  w.op("ld      t0, SEED0(t0)             # this thread's stream");
  w.op("csrw    srseed, t0");
  if (factor_at) {
    w.op("ld      t0, FACTORAT(s1)          # the factor is a tensor's");
    w.op("lw      t0, 0(t0)");
  } else {
    w.op("lw      t0, FACTOR(s1)");
  }
  w.op("vbcast.fp32 v30, t0");
  w.op("vbcast.fp32 v31, zero");
  w.op("ld      s2, ROWS(s1)");
  w.op("ld      s3, X(s1)");
  w.op("ld      s4, Y(s1)");
  w.op("ld      s5, XROW(s1)");
  w.op("ld      s6, YROW(s1)");
  w.op("ld      s7, PIECES(s1)");
  w.op("ld      s8, XPIECES(s1)");
  w.op("mv      s9, t3                    # thread t of T takes rows t, t + T, ...");
  w.op("mul     t0, t3, s5");
  w.op("add     s3, s3, t0");
  w.op("mul     t0, t3, s6");
  w.op("add     s4, s4, t0");
  w.op("mul     s5, s5, t4");
  w.op("mul     s6, s6, t4");
  w.label("next_row");
  w.op("bgeu    s9, s2, exit");
  w.op("li      t0, 0                     # q: the first piece of the pair");
  w.label("next_pair");
  w.op("bgeu    t0, s7, row_done");
  w.op("addi    t1, t0, 1");
  if (from == DType::Fp32) {
    w.op("slli    t2, t0, 6");
    w.op("add     t2, s3, t2");
    w.op("vle     v1, 0(t2)");
    w.op("vmv     v2, v31");
    w.op("bgeu    t1, s8, loaded          # no second piece in x's row: zero");
    w.op("vle     v2, 64(t2)");
  } else {
    w.op("slli    t2, t0, 5");
    w.op("add     t2, s3, t2");
    w.op("vle     v0, 0(t2)");
    w.op("vcvt.fp32.bf16 v1, v0, 0");
    w.op("vcvt.fp32.bf16 v2, v0, 1");
  }
  w.label("loaded");
  if (scaled) {
    w.op("vmul.fp32 v1, v1, v30");
    w.op("vmul.fp32 v2, v2, v30");
  }
  if (to == DType::Fp32) {
    w.op("slli    t2, t0, 6");
    w.op("add     t2, s4, t2");
    w.op("vse     v1, 0(t2)");
    w.op("bgeu    t1, s7, stored          # y's row ends at the first piece");
    w.op("vse     v2, 64(t2)");
  } else {
    const char* sr = stochastic ? ".sr" : "";
    w.op("vcvt.bf16.fp32{} v3, v1, 0", sr);
    w.op("vcvt.bf16.fp32{} v3, v2, 1", sr);
    w.op("slli    t2, t0, 5");
    w.op("add     t2, s4, t2");
    w.op("vse     v3, 0(t2)");
  }
  w.label("stored");
  w.op("addi    t0, t0, 2");
  w.op("j       next_pair");
  w.label("row_done");
  w.op("add     s3, s3, s5");
  w.op("add     s4, s4, s6");
  w.op("add     s9, s9, t4");
  w.op("j       next_row");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

mesh::NodeProgram build_program(const CastProblem& p) {
  return mesh::assemble_program(
      program_text(p.in.dtype, p.out.dtype, p.factor != 1.0f || p.factor_at != 0,
                   p.rounding == isa::Rounding::Stochastic && p.out.dtype == DType::Bf16,
                   p.factor_at != 0),
      "cast.s");
}

Node node_work(const CastProblem& p, size_t b, unsigned threads) {
  Node n;
  n.x = p.x, n.y = p.y;
  n.rows = p.in.block_rows(b);
  n.x_row = p.in.row_bytes(b), n.y_row = p.out.row_bytes(b);
  n.pieces = uint64_t{p.out.chunks(b)} * pieces_per_register(p.out.dtype);
  n.x_pieces = uint64_t{p.in.chunks(b)} * pieces_per_register(p.in.dtype);
  for (unsigned t = 0; t < threads; ++t) n.seeds[t] = cast_seed(p.seed, p.in.nodes[b], t);
  n.factor = p.factor;
  n.factor_at = p.factor_at;
  return n;
}

bool same_partition(const RowSplit& a, const RowSplit& b) {
  return a.rows == b.rows && a.cols == b.cols && a.row_parts == b.row_parts &&
         a.col_parts == b.col_parts && a.row_start == b.row_start && a.col_start == b.col_start &&
         a.nodes == b.nodes && a.vlen == b.vlen;
}

}  // namespace

uint64_t cast_seed(uint64_t seed, hw::Coord node, unsigned thread) {
  const uint64_t where =
      (uint64_t(uint32_t(node.y)) << 32 | uint64_t(uint32_t(node.x))) << 3 | (thread & 7);
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * (1 + where);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

RowSplit with_dtype(const RowSplit& s, DType dtype) {
  RowSplit out = s;
  out.dtype = dtype;
  return out;
}

unsigned cast_threads(const hw::HardwareConfig& config) {
  return std::min(config.node.core.threads, kMaxThreads);
}

CastKernel::CastKernel(const hw::HardwareConfig& config, const CastProblem& problem)
    : problem_(problem), threads_(cast_threads(config)) {
  const RowSplit &in = problem.in, &out = problem.out;
  const std::string what = fmt::format("cast [{}, {}] {} -> {}", in.rows, in.cols,
                                       dtype_name(in.dtype), dtype_name(out.dtype));
  for (const DType d : {in.dtype, out.dtype})
    if (d != DType::Fp32 && d != DType::Bf16)
      throw std::invalid_argument(
          fmt::format("{}: {} is not run: expected fp32 or bf16", what, dtype_name(d)));
  if (!same_partition(in, out))
    throw std::invalid_argument(
        fmt::format("{}: x and y must be split alike (rows, column blocks, nodes)", what));
  if (in.vlen != kPieceLanes * 4)
    throw std::invalid_argument(fmt::format("{}: expected 64 B vector registers", what));
  // A bf16 side cuts its column blocks at whole bf16 registers: the fp32 side's pieces then
  // pair up inside each block.
  const DType narrow = in.dtype == DType::Bf16 ? in.dtype : out.dtype;
  if (narrow == DType::Bf16)
    for (size_t j = 0; j + 1 < in.col_start.size() - 1; ++j)
      if (in.col_start[j + 1] % 32)
        throw std::invalid_argument(
            fmt::format("{}: column block {} ends at {}, not a whole bf16 register", what, j,
                        in.col_start[j + 1]));
  program_ = build_program(problem);
  std::vector<Region> regions = {{"x", problem.x, in.bytes()}, {"y", problem.y, out.bytes()}};
  if (problem.factor_at) regions.push_back({"factor", problem.factor_at, uint64_t{in.vlen}});
  std::tie(begin_, end_) = check_regions(config, what, program_, regions, threads_, kStackBytes);
}

void CastKernel::write_args(hw::Machine& machine) const {
  for (size_t b = 0; b < problem_.in.blocks(); ++b) {
    const std::vector<uint64_t> v = args().values(node_work(problem_, b, threads_));
    machine.node(problem_.in.nodes[b])
        ->sram()
        .write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

Matrix cast_reference(const CastProblem& p, const Matrix& x, unsigned threads) {
  const RowSplit &in = p.in, &out = p.out;
  Matrix y(in.rows, in.cols);
  const bool stochastic = p.rounding == isa::Rounding::Stochastic;
  for (size_t b = 0; b < in.blocks(); ++b)
    for (unsigned t = 0; t < threads; ++t) {
      isa::StochasticRng rng(cast_seed(p.seed, in.nodes[b], t));
      const uint32_t r0 = in.row_start[b / in.col_parts], c0 = in.col_start[b % in.col_parts];
      const uint32_t cols = in.block_cols(b);
      const uint32_t lanes = out.chunks(b) * out.lanes();  // every lane of y's registers draws
      for (uint32_t r = r0 + t; r < r0 + in.block_rows(b); r += threads)
        for (uint32_t l = 0; l < lanes; ++l) {
          float v = l < cols ? x.at(r, c0 + l) : 0.0f;
          if (p.factor != 1.0f) v = isa::lanes::canonical(v * p.factor);
          if (out.dtype == DType::Bf16) {
            const uint16_t h = isa::f32_to_bf16(
                v, stochastic ? isa::Rounding::Stochastic : isa::Rounding::NearestEven,
                stochastic ? rng.next() : 0);
            v = isa::bf16_to_f32(h);
          }
          if (l < cols) y.at(r, c0 + l) = v;
        }
    }
  return y;
}

Reference64 cast_reference_f64(const CastProblem& p, const Matrix& x) {
  Reference64 r;
  r.rows = x.rows, r.cols = x.cols;
  // The product rounds once in fp32 (relative 2^-24, or 2^-149 below fp32's normal range); a
  // bf16 result within half an ulp (nearest) or one ulp (stochastic): relative 2^-8 or 2^-7, or
  // the ulp of bf16's subnormals, 2^-133.
  const bool bf16 = p.out.dtype == DType::Bf16;
  const bool stochastic = p.rounding == isa::Rounding::Stochastic;
  const double u_product = p.factor != 1.0f ? std::ldexp(1.0, -24) : 0;
  const double u_out = !bf16 ? 0 : std::ldexp(1.0, stochastic ? -7 : -8);
  const double tiny = (p.factor != 1.0f ? std::ldexp(1.0, -149) : 0) +
                      (bf16 ? std::ldexp(1.0, stochastic ? -133 : -134) : 0);
  for (const float v : x.values) {
    const double exact = double(p.factor) * double(v);
    r.value.push_back(exact);
    r.bound.push_back(std::abs(exact) * (u_product + u_out) * (1 + u_product + u_out) + tiny);
  }
  return r;
}

CastRun run_cast(Executor& executor, DType from, DType to, const Matrix& x, CastProblem problem) {
  const RowSplit base =
      split_rows(executor.config(), to == DType::Bf16 ? to : from, x.rows, x.cols);
  problem.in = with_dtype(base, from);
  problem.out = with_dtype(base, to);
  mesh::SramMap map(build_program(problem), 0);
  problem.x = map.take(problem.in.bytes());
  problem.y = map.take(problem.out.bytes());
  const CastKernel kernel(executor.config(), problem);
  hw::Machine& m = executor.machine();
  write_tensor(m, problem.in, problem.x, x);
  CastRun result;
  result.problem = problem;
  result.run = executor.run(kernel);
  if (result.run.ok) result.out = read_tensor(m, problem.out, problem.y);
  return result;
}

}  // namespace dojosim::runtime::ops
