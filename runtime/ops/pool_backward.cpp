// SPDX-License-Identifier: MIT
#include "runtime/ops/pool_backward.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>

#include "hw/node/node.h"
#include "isa/lanes.h"
#include "runtime/ops/program.h"

namespace dojosim::runtime::ops {
namespace {

namespace lanes = isa::lanes;

// [begin, end) along one axis.
struct Range {
  uint32_t begin = 0, end = 0;
  bool empty() const { return begin >= end; }
};
// The pixels window `at` covers inside an axis of `size`: [at stride - pad, + kernel), clipped.
Range window_span(uint32_t at, uint32_t stride, uint32_t pad, uint32_t kernel, uint32_t size) {
  const int64_t start = int64_t{at} * stride - pad;
  return {uint32_t(std::max<int64_t>(0, start)), uint32_t(std::min<int64_t>(size, start + kernel))};
}
// The windows (of `out` along the axis) that hold pixel `at`: at stride - pad <= i < + kernel.
Range windows_of(uint32_t at, uint32_t stride, uint32_t pad, uint32_t kernel, uint32_t out) {
  const int64_t first = int64_t{at} + pad - kernel + 1;  // the window's start must reach `at`
  const int64_t begin = first <= 0 ? 0 : (first + stride - 1) / stride;
  const int64_t end = std::min<int64_t>(out, (int64_t{at} + pad) / stride + 1);
  return {uint32_t(begin), uint32_t(std::max(begin, end))};
}

// What the tables say, from the shapes alone: per input row h (column w) its windows, per window
// row p (column q) its pixels, per window 1 / count (avg).
struct Tables {
  ImageShape y;
  std::vector<Range> p_of_h, q_of_w, h_of_p, w_of_q;
  std::vector<float> recips;  // by p Q + q
};
Tables tables_of(PoolOp op, const ImageShape& x, const PoolWindow& k) {
  Tables t;
  t.y = pool_output_shape(op, x, k);
  for (uint32_t h = 0; h < x.h; ++h)
    t.p_of_h.push_back(windows_of(h, k.stride_h, k.pad_h, k.kernel_h, t.y.h));
  for (uint32_t w = 0; w < x.w; ++w)
    t.q_of_w.push_back(windows_of(w, k.stride_w, k.pad_w, k.kernel_w, t.y.w));
  for (uint32_t p = 0; p < t.y.h; ++p)
    t.h_of_p.push_back(window_span(p, k.stride_h, k.pad_h, k.kernel_h, x.h));
  for (uint32_t q = 0; q < t.y.w; ++q)
    t.w_of_q.push_back(window_span(q, k.stride_w, k.pad_w, k.kernel_w, x.w));
  for (uint32_t p = 0; p < t.y.h; ++p)
    for (uint32_t q = 0; q < t.y.w; ++q) {
      const uint32_t count = k.count_include_pad ? k.kernel_h * k.kernel_w
                                                 : (t.h_of_p[p].end - t.h_of_p[p].begin) *
                                                       (t.w_of_q[q].end - t.w_of_q[q].begin);
      t.recips.push_back(1.0f / float(count));  // as avg_pool's and global_avg_pool's
    }
  return t;
}

// ---- The plan: each node's rows of dy and x, and its pulls ---------------------------------
struct NodePlan {
  uint64_t dy_lo = 0, dy_hi = 0, x_lo = 0, x_hi = 0;  // rows its pixels' windows read
  std::vector<RowPull> pulls;
};
struct WorkMap {
  uint64_t pulls = 0, p_of_h = 0, q_of_w = 0, h_of_p = 0, w_of_q = 0, recips = 0;
  uint64_t dy_rows = 0, x_rows = 0, end = 0;
};
struct Plan {
  Tables t;
  std::vector<NodePlan> nodes;  // by block of dx
  WorkMap map;
};

Plan make_plan(const PoolBackwardProblem& p) {
  const RowSplit& dx = p.grad;
  const uint32_t cp = dx.col_parts;
  const bool max = p.op == PoolOp::Max;
  Plan plan;
  plan.t = tables_of(p.op, p.image, p.window);
  const Tables& t = plan.t;
  const ImageShape &x = p.image, &y = t.y;
  plan.nodes.resize(dx.blocks());
  uint64_t pulls = 0, dy_rows = 0, x_rows = 0;
  for (size_t b = 0; b < dx.blocks(); ++b) {
    NodePlan& node = plan.nodes[b];
    node.dy_lo = node.x_lo = UINT64_MAX;
    for (uint32_t o = dx.row_start[b / cp]; o < dx.row_start[b / cp + 1]; ++o) {
      const uint64_t n = o / (x.h * x.w);
      const Range ps = t.p_of_h[o / x.w % x.h], qs = t.q_of_w[o % x.w];
      if (ps.empty() || qs.empty()) continue;
      node.dy_lo = std::min(node.dy_lo, (n * y.h + ps.begin) * y.w + qs.begin);
      node.dy_hi = std::max(node.dy_hi, (n * y.h + ps.end - 1) * y.w + qs.end);
      const Range h0 = t.h_of_p[ps.begin], w0 = t.w_of_q[qs.begin];
      const Range h1 = t.h_of_p[ps.end - 1], w1 = t.w_of_q[qs.end - 1];
      node.x_lo = std::min(node.x_lo, (n * x.h + h0.begin) * x.w + w0.begin);
      node.x_hi = std::max(node.x_hi, (n * x.h + h1.end - 1) * x.w + w1.end);
    }
    if (node.dy_lo == UINT64_MAX) node.dy_lo = node.x_lo = 0;  // no window holds its pixels
    if (!max) node.x_lo = node.x_hi = 0;
    const uint32_t j = uint32_t(b % cp);
    pulls += pull_rows(p.dy, p.dy_at, j, node.dy_lo, node.dy_hi, 0).size() +
             pull_rows(dx, p.x, j, node.x_lo, node.x_hi, 0).size();
    dy_rows = std::max(dy_rows, (node.dy_hi - node.dy_lo) * dx.row_bytes(j));
    x_rows = std::max(x_rows, (node.x_hi - node.x_lo) * dx.row_bytes(j));
  }
  WorkMap& m = plan.map;
  const auto table = [&](uint64_t bytes) { return mesh::align(bytes, dx.vlen); };
  m.pulls = p.work;
  m.p_of_h = m.pulls + table(pulls * 24);
  m.q_of_w = m.p_of_h + table(t.p_of_h.size() * 8);
  m.h_of_p = m.q_of_w + table(t.q_of_w.size() * 8);
  m.w_of_q = m.h_of_p + table(t.h_of_p.size() * 8);
  m.recips = m.w_of_q + table(t.w_of_q.size() * 8);
  m.dy_rows = m.recips + table(t.recips.size() * 4);
  m.x_rows = m.dy_rows + dy_rows;
  m.end = m.x_rows + x_rows;
  for (size_t b = 0; b < dx.blocks(); ++b) {
    NodePlan& node = plan.nodes[b];
    const uint32_t j = uint32_t(b % cp);
    node.pulls = pull_rows(p.dy, p.dy_at, j, node.dy_lo, node.dy_hi, m.dy_rows);
    const std::vector<RowPull> xs = pull_rows(dx, p.x, j, node.x_lo, node.x_hi, m.x_rows);
    node.pulls.insert(node.pulls.end(), xs.begin(), xs.end());
  }
  return plan;
}

// ---- The program ---------------------------------------------------------------------------
struct Node {
  uint64_t rows = 0, out = 0, row_bytes = 0, npulls = 0, pulls = 0, dy_base = 0, x_base = 0;
  uint64_t o0 = 0, n0 = 0, h0 = 0, w0 = 0, h = 0, w = 0, p = 0, q = 0;
  uint64_t p_of_h = 0, q_of_w = 0, h_of_p = 0, w_of_q = 0, recips = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"ROWS", [](N n) { return n.rows; }},  // rows of dx here
      {"OUT", [](N n) { return n.out; }},
      {"ROWBYTES", [](N n) { return n.row_bytes; }},
      {"NPULLS", [](N n) { return n.npulls; }},
      {"PULLS", [](N n) { return n.pulls; }},     // per pull: source (global), destination, bytes
      {"DYBASE", [](N n) { return n.dy_base; }},  // dy row r at DYBASE + r ROWBYTES (scratch)
      {"XBASE", [](N n) { return n.x_base; }},    // x row r at XBASE + r ROWBYTES (scratch)
      {"O0", [](N n) { return n.o0; }},           // the first row's index and pixel (n, h, w)
      {"N0", [](N n) { return n.n0; }},
      {"H0", [](N n) { return n.h0; }},
      {"W0", [](N n) { return n.w0; }},
      {"H", [](N n) { return n.h; }},
      {"W", [](N n) { return n.w; }},
      {"P", [](N n) { return n.p; }},
      {"Q", [](N n) { return n.q; }},
      {"POFH", [](N n) { return n.p_of_h; }},    // per h: the windows' rows [begin, end), 2 words
      {"QOFW", [](N n) { return n.q_of_w; }},    // per w: the windows' columns
      {"HOFP", [](N n) { return n.h_of_p; }},    // per p: the window's pixel rows [begin, end)
      {"WOFQ", [](N n) { return n.w_of_q; }},    // per q: its pixel columns
      {"RECIPS", [](N n) { return n.recips; }},  // fp32 1 / count by p Q + q
  };
  return block;
}

std::string op_name(PoolOp op) {
  return fmt::format("{}_backward", pool_name(op));
}

std::string program_text(PoolOp op, DType dtype, uint32_t vlen) {
  const bool max = op == PoolOp::Max, bf16 = dtype == DType::Bf16;
  const int pieces = bf16 ? 2 : 1;  // fp32 registers per stored register
  codegen::AsmWriter w;
  w.raw(fmt::format(
      "# {} ({}), one thread per node. Pull the dy rows (and x rows) of the windows that hold\n"
      "# this node's pixels, wait for them, then per pixel and register of its row add each\n"
      "# window's share of dy in window order (p, then q) into fp32 accumulators.",
      op_name(op), dtype_name(dtype)));
  args().declare(w);
  w.equ("VLEN", vlen);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  w.op("ld      s2, ROWS(s1)");
  w.op("beqz    s2, exit                # no rows of dx here");
  w.comment("the halo: pull every row the windows read (semaphore 1)");
  write_pull_loop(w, "pulled");
  w.op("vbcast.fp32 v30, zero");
  if (max) {
    w.op("li      t0, 0x3f800000");
    w.op("vbcast.fp32 v29, t0           # 1");
    w.op("li      t0, 0x7f000000");
    w.op("vbcast.fp32 v28, t0           # 2^127: d 2^127 2^127 >= 1 for every d > 0");
    w.op("li      t0, 0xff800000");
    w.op("vbcast.fp32 v31, t0           # -inf: the max of no positions");
  }
  w.op("ld      s3, O0(s1)");
  w.op("ld      s6, N0(s1)");
  w.op("ld      s4, H0(s1)");
  w.op("ld      s5, W0(s1)");
  w.op("ld      s8, OUT(s1)");
  w.op("ld      s7, ROWBYTES(s1)");

  // Loads a stored register at `addr` as fp32 pieces v{to}, v{to + 1} (via v{raw} for bf16).
  const auto load = [&](const char* addr, int to, int raw) {
    if (!bf16) return w.op("vle     v{}, 0({})", to, addr);
    w.op("vle     v{}, 0({})", raw, addr);
    for (int k = 0; k < 2; ++k) w.op("vcvt.fp32.bf16 v{}, v{}, {}", to + k, raw, k);
  };
  // v{to} = [v{to} > 0] (0 or 1) for the pieces.
  const auto positive = [&](int to) {
    w.op("vmul.fp32 v{}, v{}, v28", to, to);
    w.op("vmul.fp32 v{}, v{}, v28", to, to);
    w.op("vmax.fp32 v{}, v{}, v30", to, to);
    w.op("vmin.fp32 v{}, v{}, v29", to, to);
  };

  w.label("pixel");
  w.comment("the windows that hold pixel (h, w): rows [s10, a4), columns [a6, a7)");
  w.op("ld      t0, POFH(s1)");
  w.op("slli    t1, s4, 3");
  w.op("add     t0, t0, t1");
  w.op("lwu     s10, 0(t0)");
  w.op("lwu     a4, 4(t0)");
  w.op("ld      t0, QOFW(s1)");
  w.op("slli    t1, s5, 3");
  w.op("add     t0, t0, t1");
  w.op("lwu     a6, 0(t0)");
  w.op("lwu     a7, 4(t0)");
  w.op("li      s9, 0                   # the register's byte offset in the row");
  w.label("register");
  for (int k = 0; k < pieces; ++k) w.op("vbcast.fp32 v{}, zero", 16 + k);
  w.op("bge     s10, a4, store          # no window holds the pixel");
  w.op("bge     a6, a7, store");
  if (max) {
    w.comment("s0: the pixel's x; v4..: its value");
    w.op("mul     t0, s3, s7");
    w.op("ld      t1, XBASE(s1)");
    w.op("add     t0, t0, t1");
    w.op("add     s0, t0, s9");
    load("s0", 4, 6);
  }
  w.op("mv      a3, s10");
  w.label("window_p");
  w.comment("s11: dy (n, p, q), one row on per q; ra: the window's entry of RECIPS (avg) or WOFQ");
  w.op("ld      t1, P(s1)");
  w.op("mul     t0, s6, t1");
  w.op("add     t0, t0, a3");
  w.op("ld      t1, Q(s1)");
  w.op("mul     t2, a3, t1");
  w.op("mul     t0, t0, t1");
  w.op("add     t0, t0, a6");
  w.op("mul     t0, t0, s7");
  w.op("ld      t1, DYBASE(s1)");
  w.op("add     t0, t0, t1");
  w.op("add     s11, t0, s9");
  if (!max) {
    w.op("add     t2, t2, a6");
    w.op("slli    t2, t2, 2");
    w.op("ld      t1, RECIPS(s1)");
    w.op("add     ra, t2, t1");
  } else {
    w.op("ld      t1, WOFQ(s1)");
    w.op("slli    t2, a6, 3");
    w.op("add     ra, t1, t2");
  }
  w.op("mv      a5, a6");
  w.label("window_q");
  w.comment("dy (n, p, q): v0.. (fp32 pieces)");
  load("s11", 0, 2);
  if (!max) {
    w.op("lw      t0, 0(ra)");
    w.op("vbcast.fp32 v12, t0           # 1 / count of window (p, q)");
    for (int k = 0; k < pieces; ++k) w.op("vfma.fp32 v{}, v{}, v12", 16 + k, k);
  } else {
    w.comment("window (p, q): pixel rows [t2, t3), columns [t4, t5)");
    w.op("ld      t0, HOFP(s1)");
    w.op("slli    t1, a3, 3");
    w.op("add     t0, t0, t1");
    w.op("lwu     t2, 0(t0)");
    w.op("lwu     t3, 4(t0)");
    w.op("lwu     t4, 0(ra)");
    w.op("lwu     t5, 4(ra)");
    for (int k = 0; k < pieces; ++k) {
      w.op("vmv     v{}, v31                # max before the pixel", 8 + k);
      w.op("vmv     v{}, v31                # max after it", 10 + k);
    }
    w.op("ld      t1, H(s1)");
    w.op("mul     t0, s6, t1");
    w.op("add     t0, t0, t2");
    w.op("ld      t1, W(s1)");
    w.op("mul     a1, t1, s7              # one pixel row down");
    w.op("mul     t0, t0, t1");
    w.op("add     t0, t0, t4");
    w.op("mul     t0, t0, s7");
    w.op("ld      t1, XBASE(s1)");
    w.op("add     t0, t0, t1");
    w.op("add     a0, t0, s9              # the window's first position");
    w.op("sub     a2, t5, t4");
    w.label("position_h");
    w.op("mv      t6, a0");
    w.op("mv      t1, a2");
    w.label("position_w");
    w.op("beq     t6, s0, position_next   # the pixel itself");
    load("t6", 13, 12);
    w.op("bltu    t6, s0, position_before");
    for (int k = 0; k < pieces; ++k) w.op("vmax.fp32 v{}, v{}, v{}", 10 + k, 10 + k, 13 + k);
    w.op("j       position_next");
    w.label("position_before");
    for (int k = 0; k < pieces; ++k) w.op("vmax.fp32 v{}, v{}, v{}", 8 + k, 8 + k, 13 + k);
    w.label("position_next");
    w.op("add     t6, t6, s7");
    w.op("addi    t1, t1, -1");
    w.op("bnez    t1, position_w");
    w.op("add     a0, a0, a1");
    w.op("addi    t2, t2, 1");
    w.op("blt     t2, t3, position_h");
    w.comment("first = [x - before > 0] (1 - [after - x > 0]); acc += dy first");
    for (int k = 0; k < pieces; ++k) {
      w.op("vsub.fp32 v18, v{}, v{}", 4 + k, 8 + k);
      positive(18);
      w.op("vsub.fp32 v19, v{}, v{}", 10 + k, 4 + k);
      positive(19);
      w.op("vsub.fp32 v19, v29, v19");
      w.op("vmul.fp32 v18, v18, v19");
      w.op("vfma.fp32 v{}, v{}, v18", 16 + k, k);
    }
  }
  w.op("add     s11, s11, s7");
  w.op("addi    ra, ra, {}", max ? 8 : 4);
  w.op("addi    a5, a5, 1");
  w.op("blt     a5, a7, window_q");
  w.op("addi    a3, a3, 1");
  w.op("blt     a3, a4, window_p");
  w.label("store");
  w.op("add     t0, s8, s9");
  if (bf16) {
    for (int k = 0; k < 2; ++k) w.op("vcvt.bf16.fp32 v24, v{}, {}", 16 + k, k);
    w.op("vse     v24, 0(t0)");
  } else {
    w.op("vse     v16, 0(t0)");
  }
  w.op("addi    s9, s9, VLEN");
  w.op("blt     s9, s7, register");

  w.op("add     s8, s8, s7");
  w.op("addi    s3, s3, 1");
  w.op("addi    s5, s5, 1");
  w.op("ld      t0, W(s1)");
  w.op("bne     s5, t0, pixel_done");
  w.op("li      s5, 0");
  w.op("addi    s4, s4, 1");
  w.op("ld      t0, H(s1)");
  w.op("bne     s4, t0, pixel_done");
  w.op("li      s4, 0");
  w.op("addi    s6, s6, 1");
  w.label("pixel_done");
  w.op("addi    s2, s2, -1");
  w.op("bnez    s2, pixel");
  w.op("j       exit");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

mesh::NodeProgram build_program(PoolOp op, DType dtype, uint32_t vlen) {
  return mesh::assemble_program(program_text(op, dtype, vlen),
                                fmt::format("{}_{}.s", op_name(op), dtype_name(dtype)));
}

}  // namespace

RowSplit pool_backward_dy(const hw::HardwareConfig& config, PoolOp op, const RowSplit& grad,
                          const ImageShape& image, const PoolWindow& window) {
  return split_image(config, grad.dtype, pool_output_shape(op, image, window), grad.col_parts);
}

uint64_t pool_backward_work_bytes(const PoolBackwardProblem& problem) {
  PoolBackwardProblem p = problem;
  p.work = 0;
  return make_plan(p).map.end;
}

PoolWindow global_window(const ImageShape& image) {
  PoolWindow k;
  k.kernel_h = image.h, k.kernel_w = image.w;
  return k;
}

PoolBackwardKernel::PoolBackwardKernel(const hw::HardwareConfig& config,
                                       const PoolBackwardProblem& problem)
    : problem_(problem) {
  const RowSplit &dx = problem.grad, &dy = problem.dy;
  const std::string what =
      fmt::format("{} {} {}", op_name(problem.op), problem.image.str(), dtype_name(dx.dtype));
  check_image_split(what, dx, problem.image);
  const ImageShape y = pool_output_shape(problem.op, problem.image, problem.window);
  if (dy.rows != y.pixels() || dy.cols != y.c || dy.dtype != dx.dtype ||
      dy.col_start != dx.col_start)
    throw std::invalid_argument(fmt::format(
        "{}: dy's split holds [{}, {}] {} in {} column blocks: expected [{}, {}] {} in dx's {}",
        what, dy.rows, dy.cols, dtype_name(dy.dtype), dy.col_parts, y.pixels(), y.c,
        dtype_name(dx.dtype), dx.col_parts));
  program_ = build_program(problem.op, dx.dtype, dx.vlen);
  std::vector<Region> regions = {{"dy", problem.dy_at, dy.bytes()},
                                 {"out", problem.out, dx.bytes()},
                                 {"work", problem.work, pool_backward_work_bytes(problem)}};
  if (problem.op == PoolOp::Max) regions.push_back({"x", problem.x, dx.bytes()});
  std::tie(begin_, end_) = check_regions(config, what, program_, regions, 1, kStackBytes);
}

void PoolBackwardKernel::place(hw::Machine& machine) const {
  const Plan plan = make_plan(problem_);
  const WorkMap& m = plan.map;
  const auto ranges = [](const std::vector<Range>& v) {
    std::vector<uint32_t> words;
    for (const Range& r : v) words.insert(words.end(), {r.begin, r.end});
    return words;
  };
  const std::pair<uint64_t, std::vector<uint32_t>> tables[] = {{m.p_of_h, ranges(plan.t.p_of_h)},
                                                               {m.q_of_w, ranges(plan.t.q_of_w)},
                                                               {m.h_of_p, ranges(plan.t.h_of_p)},
                                                               {m.w_of_q, ranges(plan.t.w_of_q)}};
  for (size_t b = 0; b < plan.nodes.size(); ++b) {
    std::vector<uint64_t> pulls;
    for (const RowPull& p : plan.nodes[b].pulls)
      pulls.insert(pulls.end(), {p.source, p.dest, p.bytes});
    isa::Sram& sram = machine.node(problem_.grad.nodes[b])->sram();
    sram.write(m.pulls, pulls.data(), pulls.size() * 8);
    for (const auto& [at, words] : tables) sram.write(at, words.data(), words.size() * 4);
    sram.write(m.recips, plan.t.recips.data(), plan.t.recips.size() * 4);
  }
}

void PoolBackwardKernel::write_args(hw::Machine& machine) const {
  const Plan plan = make_plan(problem_);
  const RowSplit& dx = problem_.grad;
  const ImageShape &x = problem_.image, &y = plan.t.y;
  for (size_t b = 0; b < plan.nodes.size(); ++b) {
    const NodePlan& node = plan.nodes[b];
    const uint32_t o0 = dx.row_start[b / dx.col_parts];
    Node n;
    n.rows = dx.block_rows(b), n.out = problem_.out, n.row_bytes = dx.row_bytes(b);
    n.npulls = node.pulls.size(), n.pulls = plan.map.pulls;
    // Modulo 2^64, as the core adds.
    n.dy_base = plan.map.dy_rows - node.dy_lo * n.row_bytes;
    n.x_base = plan.map.x_rows - node.x_lo * n.row_bytes;
    n.o0 = o0, n.n0 = o0 / (x.h * x.w), n.h0 = o0 / x.w % x.h, n.w0 = o0 % x.w;
    n.h = x.h, n.w = x.w, n.p = y.h, n.q = y.w;
    n.p_of_h = plan.map.p_of_h, n.q_of_w = plan.map.q_of_w;
    n.h_of_p = plan.map.h_of_p, n.w_of_q = plan.map.w_of_q, n.recips = plan.map.recips;
    const std::vector<uint64_t> v = args().values(n);
    machine.node(dx.nodes[b])->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

Matrix pool_backward_reference(PoolOp op, DType dtype, const ImageShape& image,
                               const PoolWindow& window, const Matrix& dy, const Matrix& x) {
  const Tables t = tables_of(op, image, window);
  const ImageShape& y = t.y;
  const Matrix qdy = quantized(dy, dtype, {});
  const Matrix qx = op == PoolOp::Max ? quantized(x, dtype, {}) : Matrix();
  const auto lane = [](lanes::BinaryOp o, float a, float b, float c = 0) {
    return lanes::reference::binary_lane(o, a, b, c);
  };
  const float big = std::ldexp(1.0f, 127), inf = std::numeric_limits<float>::infinity();
  // [d > 0] as the kernel's lanes compute it.
  const auto positive = [&](float d) {
    d = lane(lanes::BinaryOp::Mul, lane(lanes::BinaryOp::Mul, d, big), big);
    return lane(lanes::BinaryOp::Min, lane(lanes::BinaryOp::Max, d, 0.0f), 1.0f);
  };
  Matrix out(image.pixels(), image.c);
  for (uint32_t o = 0; o < image.pixels(); ++o) {
    const uint32_t n = o / (image.h * image.w), h = o / image.w % image.h, w = o % image.w;
    const Range ps = t.p_of_h[h], qs = t.q_of_w[w];
    for (uint32_t c = 0; c < image.c; ++c) {
      float acc = 0;
      for (uint32_t p = ps.begin; p < ps.end; ++p)
        for (uint32_t q = qs.begin; q < qs.end; ++q) {
          const float d = qdy.at((n * y.h + p) * y.w + q, c);
          if (op == PoolOp::Avg) {
            acc = lane(lanes::BinaryOp::Fma, d, t.recips[p * y.w + q], acc);
            continue;
          }
          const float a = qx.at(o, c);
          float before = -inf, after = -inf;
          for (uint32_t hh = t.h_of_p[p].begin; hh < t.h_of_p[p].end; ++hh)
            for (uint32_t ww = t.w_of_q[q].begin; ww < t.w_of_q[q].end; ++ww) {
              const uint32_t r = (n * image.h + hh) * image.w + ww;
              if (r < o) before = lane(lanes::BinaryOp::Max, before, qx.at(r, c));
              if (r > o) after = lane(lanes::BinaryOp::Max, after, qx.at(r, c));
            }
          const float first = lane(
              lanes::BinaryOp::Mul, positive(lane(lanes::BinaryOp::Sub, a, before)),
              lane(lanes::BinaryOp::Sub, 1.0f, positive(lane(lanes::BinaryOp::Sub, after, a))));
          acc = lane(lanes::BinaryOp::Fma, d, first, acc);
        }
      out.at(o, c) = dtype == DType::Fp32 ? acc : quantize(dtype, acc, {});
    }
  }
  return out;
}

Reference64 pool_backward_reference_f64(PoolOp op, DType dtype, const ImageShape& image,
                                        const PoolWindow& window, const Matrix& dy,
                                        const Matrix& x) {
  const Tables t = tables_of(op, image, window);
  const ImageShape& y = t.y;
  const Matrix qdy = quantized(dy, dtype, {});
  const Matrix qx = op == PoolOp::Max ? quantized(x, dtype, {}) : Matrix();
  const double u = std::ldexp(1.0, -24), u_out = dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  Reference64 ref{image.pixels(), image.c, {}, {}};
  for (uint32_t o = 0; o < image.pixels(); ++o) {
    const uint32_t n = o / (image.h * image.w), h = o / image.w % image.h, w = o % image.w;
    const Range ps = t.p_of_h[h], qs = t.q_of_w[w];
    for (uint32_t c = 0; c < image.c; ++c) {
      double sum = 0, magnitude = 0, terms = 0;
      for (uint32_t p = ps.begin; p < ps.end; ++p)
        for (uint32_t q = qs.begin; q < qs.end; ++q) {
          const double d = qdy.at((n * y.h + p) * y.w + q, c);
          const Range hs = t.h_of_p[p], ws = t.w_of_q[q];
          double share = 0;
          if (op == PoolOp::Avg) {
            const double count = window.count_include_pad
                                     ? double(window.kernel_h * window.kernel_w)
                                     : double((hs.end - hs.begin) * (ws.end - ws.begin));
            share = d / count;
          } else {  // the first position holding the window's max, in window order
            uint32_t best = 0;
            double most = -INFINITY;
            for (uint32_t hh = hs.begin; hh < hs.end; ++hh)
              for (uint32_t ww = ws.begin; ww < ws.end; ++ww) {
                const uint32_t r = (n * image.h + hh) * image.w + ww;
                if (double(qx.at(r, c)) > most) most = qx.at(r, c), best = r;
              }
            share = best == o ? d : 0;
          }
          sum += share;
          magnitude += std::fabs(share);
          ++terms;
        }
      // Each fma rounds once, 1 / count once more (avg): gamma(terms + 1) of the magnitudes.
      const double gamma = (terms + 1) * u / (1 - (terms + 1) * u);
      ref.value.push_back(sum);
      ref.bound.push_back(magnitude * gamma * (1 + u_out) + std::fabs(sum) * u_out);
    }
  }
  return ref;
}

}  // namespace dojosim::runtime::ops
