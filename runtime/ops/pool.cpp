// SPDX-License-Identifier: MIT
#include "runtime/ops/pool.h"

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

// Stored registers per pass over a window: as many of 4 as a row has, then 2, then 1, so that
// the few registers of a row of 64 channels (ResNet's pools) share one pass.
constexpr int kPasses[] = {4, 2, 1};  // each half the one before (the program's labels)

// The pixels of one axis a window covers inside the image: [begin, end).
struct Span {
  uint32_t begin = 0, end = 0;
};
Span window_span(uint32_t at, uint32_t stride, uint32_t pad, uint32_t kernel, uint32_t size) {
  const int64_t start = int64_t{at} * stride - pad;
  return {static_cast<uint32_t>(std::max<int64_t>(0, start)),
          static_cast<uint32_t>(std::min<int64_t>(size, start + kernel))};
}

struct Window {
  Span h, w;
  uint32_t count() const { return (h.end - h.begin) * (w.end - w.begin); }
};
// The window of output row o (pixel (n, p, q) of y).
Window window_of(const ImageShape& image, const ImageShape& y, const PoolWindow& k, uint32_t o) {
  const uint32_t q = o % y.w, p = o / y.w % y.h;
  return {window_span(p, k.stride_h, k.pad_h, k.kernel_h, image.h),
          window_span(q, k.stride_w, k.pad_w, k.kernel_w, image.w)};
}
// The input row of pixel (h, w) of output row o's image.
uint64_t input_row(const ImageShape& image, const ImageShape& y, uint32_t o, uint32_t h,
                   uint32_t w) {
  return (uint64_t{o / (y.h * y.w)} * image.h + h) * image.w + w;
}

// 1 / count as the kernel multiplies by it, for counts 0 .. kernel_h kernel_w (0 unused).
std::vector<float> reciprocals(const PoolWindow& k) {
  const uint32_t all = k.kernel_h * k.kernel_w;
  std::vector<float> r(all + 1, 0.0f);
  for (uint32_t c = 1; c <= all; ++c)
    r[c] = 1.0f / static_cast<float>(k.count_include_pad ? all : c);
  return r;
}

// ---- The plan: each node's halo and its pulls ----------------------------------------------
struct NodePlan {
  uint64_t lo = 0, hi = 0;  // the input rows its windows read
  std::vector<RowPull> pulls;
};
struct WorkMap {
  uint64_t pulls = 0, recips = 0, scratch = 0, end = 0;
};
struct Plan {
  ImageShape y;
  std::vector<NodePlan> nodes;  // by block of the output
  WorkMap map;
};

Plan make_plan(const PoolProblem& p) {
  const RowSplit &in = p.input, &out = p.output;
  const uint32_t cp = in.col_parts;
  Plan plan;
  plan.y = pool_output_shape(p.op, p.image, p.window);
  plan.nodes.resize(out.blocks());
  uint64_t pulls = 0, scratch = 0;
  for (size_t b = 0; b < out.blocks(); ++b) {
    NodePlan& node = plan.nodes[b];
    node.lo = UINT64_MAX;
    for (uint32_t o = out.row_start[b / cp]; o < out.row_start[b / cp + 1]; ++o) {
      const Window win = window_of(p.image, plan.y, p.window, o);
      node.lo = std::min(node.lo, input_row(p.image, plan.y, o, win.h.begin, win.w.begin));
      node.hi = std::max(node.hi, input_row(p.image, plan.y, o, win.h.end - 1, win.w.end - 1) + 1);
    }
    pulls += pull_rows(in, p.x, uint32_t(b % cp), node.lo, node.hi, 0).size();
    scratch = std::max(scratch, (node.hi - node.lo) * out.row_bytes(b));
  }
  WorkMap& m = plan.map;
  const std::vector<float> recips = reciprocals(p.window);
  m.pulls = p.work;
  m.recips = m.pulls + mesh::align(pulls * 24, in.vlen);
  m.scratch = m.recips + mesh::align(recips.size() * 4, in.vlen);
  m.end = m.scratch + scratch;
  for (size_t b = 0; b < out.blocks(); ++b) {
    NodePlan& node = plan.nodes[b];
    node.pulls = pull_rows(in, p.x, uint32_t(b % cp), node.lo, node.hi, m.scratch);
  }
  return plan;
}

// ---- The program ---------------------------------------------------------------------------
struct Node {
  uint64_t rows = 0, out = 0, row_bytes = 0, registers = 0, npulls = 0, pulls = 0, base = 0;
  uint64_t n0 = 0, p0 = 0, q0 = 0;
  uint64_t h = 0, w = 0, p = 0, q = 0, kh = 0, kw = 0, sh = 0, sw = 0, ph = 0, pw = 0;
  uint64_t w_bytes = 0, recips = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"ROWS", [](N n) { return n.rows; }},  // rows of y here
      {"OUT", [](N n) { return n.out; }},
      {"ROWBYTES", [](N n) { return n.row_bytes; }},
      {"REGISTERS", [](N n) { return n.registers; }},  // stored registers per row
      {"NPULLS", [](N n) { return n.npulls; }},
      {"PULLS", [](N n) { return n.pulls; }},  // per pull: source (global), destination, bytes
      {"BASE", [](N n) { return n.base; }},    // input row r is at BASE + r ROWBYTES (scratch)
      {"N0", [](N n) { return n.n0; }},        // the first row's pixel (n, p, q)
      {"P0", [](N n) { return n.p0; }},
      {"Q0", [](N n) { return n.q0; }},
      {"H", [](N n) { return n.h; }},
      {"W", [](N n) { return n.w; }},
      {"P", [](N n) { return n.p; }},
      {"Q", [](N n) { return n.q; }},
      {"KH", [](N n) { return n.kh; }},
      {"KW", [](N n) { return n.kw; }},
      {"SH", [](N n) { return n.sh; }},
      {"SW", [](N n) { return n.sw; }},
      {"PH", [](N n) { return n.ph; }},
      {"PW", [](N n) { return n.pw; }},
      {"WBYTES", [](N n) { return n.w_bytes; }},  // W ROWBYTES: one image row down
      {"RECIPS", [](N n) { return n.recips; }},   // fp32 1 / count by count
  };
  return block;
}

std::string program_text(PoolOp op, DType dtype, uint32_t vlen) {
  const bool max = op == PoolOp::Max, bf16 = dtype == DType::Bf16;
  // max works on the stored lanes; avg on fp32 pieces (bf16: two per stored register).
  const int pieces = !max && bf16 ? 2 : 1;
  const std::string lanes = max ? std::string(dtype_name(dtype)) : "fp32";
  codegen::AsmWriter w;
  w.raw(fmt::format(
      "# {} ({}), one thread per node. Pull the input rows this node's windows read into the\n"
      "# scratch, wait for them, then per output pixel combine its window's rows (h, then w),\n"
      "# 4 registers per pass while a row has that many, then 2, then 1.",
      pool_name(op), dtype_name(dtype)));
  args().declare(w);
  w.equ("VLEN", vlen);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  w.op("ld      s2, ROWS(s1)");
  w.op("beqz    s2, exit                # no rows of y here");
  w.comment("the halo: pull every input row the windows read (semaphore 1)");
  write_pull_loop(w);
  if (max) {
    w.op("li      t0, {}", bf16 ? "0xff80" : "0xff800000");
    w.op("vbcast.{} v31, t0          # -inf: the start of every max", dtype_name(dtype));
  }
  w.op("ld      s3, N0(s1)");
  w.op("ld      s4, P0(s1)");
  w.op("ld      s5, Q0(s1)");
  w.op("ld      a2, OUT(s1)");
  w.op("ld      s6, ROWBYTES(s1)");
  w.op("ld      s7, WBYTES(s1)");

  w.label("out_row");
  w.comment("the window's rows [hs, he) and columns [ws, we), clipped to the image");
  const auto span = [&](const char* at, const char* stride, const char* pad, const char* kernel,
                        const char* size, const char* begin, const char* end, const char* tag) {
    w.op("ld      {}, {}(s1)", end, stride);
    w.op("mul     {}, {}, {}", begin, at, end);
    w.op("ld      {}, {}(s1)", end, pad);
    w.op("sub     {}, {}, {}", begin, begin, end);
    w.op("ld      {}, {}(s1)", end, kernel);
    w.op("add     {}, {}, {}", end, begin, end);
    w.op("bgez    {}, {}_low", begin, tag);
    w.op("li      {}, 0", begin);
    w.label(fmt::format("{}_low", tag));
    w.op("ld      t4, {}(s1)", size);
    w.op("bge     t4, {}, {}_high", end, tag);
    w.op("mv      {}, t4", end);
    w.label(fmt::format("{}_high", tag));
  };
  span("s4", "SH", "PH", "KH", "H", "t0", "t1", "h");
  span("s5", "SW", "PW", "KW", "W", "t2", "t3", "w");
  w.op("sub     a4, t1, t0              # rows of the window");
  w.op("sub     a5, t3, t2              # columns");
  w.op("ld      t4, H(s1)");
  w.op("mul     t1, s3, t4");
  w.op("add     t1, t1, t0");
  w.op("ld      t4, W(s1)");
  w.op("mul     t1, t1, t4");
  w.op("add     t1, t1, t2              # the window's first input row");
  w.op("mul     t1, t1, s6");
  w.op("ld      t4, BASE(s1)");
  w.op("add     a0, t4, t1");
  if (!max) {
    w.op("mul     t4, a4, a5");
    w.op("slli    t4, t4, 2");
    w.op("ld      t3, RECIPS(s1)");
    w.op("add     t4, t4, t3");
    w.op("lw      t4, 0(t4)");
    w.op("vbcast.fp32 v30, t4           # 1 / count");
  }
  w.op("mv      a1, a0");
  w.op("mv      a6, a2");
  w.op("ld      t5, REGISTERS(s1)");

  // A pass over n stored registers at a1 -> a6: accumulators v16.. (n x pieces).
  const auto pass = [&](int n, const std::string& tag) {
    for (int k = 0; k < n * pieces; ++k) {
      if (max)
        w.op("vmv     v{}, v31", 16 + k);
      else
        w.op("vbcast.fp32 v{}, zero", 16 + k);
    }
    w.op("mv      t0, a1");
    w.op("mv      t1, a4");
    w.label(fmt::format("{}_h", tag));
    w.op("mv      t2, t0");
    w.op("mv      t3, a5");
    w.label(fmt::format("{}_w", tag));
    for (int i = 0; i < n; ++i) w.op("vle     v{}, {}(t2)", i, i * vlen);
    if (max) {
      for (int i = 0; i < n; ++i) w.op("vmax.{} v{}, v{}, v{}", lanes, 16 + i, 16 + i, i);
    } else if (!bf16) {
      for (int i = 0; i < n; ++i) w.op("vadd.fp32 v{}, v{}, v{}", 16 + i, 16 + i, i);
    } else {  // every widening first, so that no add waits for the one just before it
      for (int k = 0; k < n * 2; ++k) w.op("vcvt.fp32.bf16 v{}, v{}, {}", 4 + k, k / 2, k % 2);
      for (int k = 0; k < n * 2; ++k) w.op("vadd.fp32 v{}, v{}, v{}", 16 + k, 16 + k, 4 + k);
    }
    w.op("add     t2, t2, s6");
    w.op("addi    t3, t3, -1");
    w.op("bnez    t3, {}_w", tag);
    w.op("add     t0, t0, s7");
    w.op("addi    t1, t1, -1");
    w.op("bnez    t1, {}_h", tag);
    if (max || !bf16) {
      for (int i = 0; i < n; ++i) {
        if (!max) w.op("vmul.fp32 v{}, v{}, v30", 16 + i, 16 + i);
        w.op("vse     v{}, {}(a6)", 16 + i, i * vlen);
      }
    } else {
      for (int k = 0; k < n * 2; ++k) w.op("vmul.fp32 v{}, v{}, v30", 16 + k, 16 + k);
      for (int k = 0; k < n * 2; ++k)
        w.op("vcvt.bf16.fp32 v{}, v{}, {}", 24 + k / 2, 16 + k, k % 2);
      for (int i = 0; i < n; ++i) w.op("vse     v{}, {}(a6)", 24 + i, i * vlen);
    }
    w.op("addi    a1, a1, {}", n * vlen);
    w.op("addi    a6, a6, {}", n * vlen);
    w.op("addi    t5, t5, -{}", n);
  };
  for (int n : kPasses) {
    w.label(fmt::format("registers_by_{}", n));
    w.op("addi    t6, t5, -{}", n);
    w.op("bltz    t6, {}", n == 1 ? "next_pixel" : fmt::format("registers_by_{}", n / 2));
    pass(n, fmt::format("window_by_{}", n));
    w.op("j       registers_by_{}", n);
  }

  w.label("next_pixel");
  w.op("add     a2, a2, s6");
  w.op("addi    s5, s5, 1");
  w.op("ld      t0, Q(s1)");
  w.op("bne     s5, t0, pixel_done");
  w.op("li      s5, 0");
  w.op("addi    s4, s4, 1");
  w.op("ld      t0, P(s1)");
  w.op("bne     s4, t0, pixel_done");
  w.op("li      s4, 0");
  w.op("addi    s3, s3, 1");
  w.label("pixel_done");
  w.op("addi    s2, s2, -1");
  w.op("bnez    s2, out_row");
  w.op("j       exit");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

mesh::NodeProgram build_program(PoolOp op, DType dtype, uint32_t vlen) {
  return mesh::assemble_program(program_text(op, dtype, vlen),
                                fmt::format("{}_{}.s", pool_name(op), dtype_name(dtype)));
}

std::string describe(PoolOp op, const ImageShape& image, DType dtype) {
  return fmt::format("{} {} {}", pool_name(op), image.str(), dtype_name(dtype));
}

}  // namespace

std::string_view pool_name(PoolOp op) {
  return op == PoolOp::Max ? "max_pool" : "avg_pool";
}

ImageShape pool_output_shape(PoolOp op, const ImageShape& image, const PoolWindow& k) {
  const std::string what = fmt::format("{} {}", pool_name(op), image.str());
  if (k.kernel_h < 1 || k.kernel_w < 1 || k.stride_h < 1 || k.stride_w < 1)
    throw std::invalid_argument(
        fmt::format("{}: kernel [{}, {}], stride [{}, {}]: expected each at least 1", what,
                    k.kernel_h, k.kernel_w, k.stride_h, k.stride_w));
  if (2 * k.pad_h > k.kernel_h || 2 * k.pad_w > k.kernel_w)
    throw std::invalid_argument(
        fmt::format("{}: padding [{}, {}] is more than half the kernel [{}, {}]", what, k.pad_h,
                    k.pad_w, k.kernel_h, k.kernel_w));
  if (image.h + 2 * k.pad_h < k.kernel_h || image.w + 2 * k.pad_w < k.kernel_w)
    throw std::invalid_argument(
        fmt::format("{}: kernel [{}, {}] is larger than the padded image [{}, {}]", what,
                    k.kernel_h, k.kernel_w, image.h + 2 * k.pad_h, image.w + 2 * k.pad_w));
  return {image.n, (image.h + 2 * k.pad_h - k.kernel_h) / k.stride_h + 1,
          (image.w + 2 * k.pad_w - k.kernel_w) / k.stride_w + 1, image.c};
}

RowSplit pool_output(const hw::HardwareConfig& config, PoolOp op, const RowSplit& input,
                     const ImageShape& image, const PoolWindow& window) {
  const ImageShape y = pool_output_shape(op, image, window);
  return split_image(config, input.dtype, y, input.col_parts);
}

uint64_t pool_work_bytes(const PoolProblem& problem) {
  PoolProblem p = problem;
  p.work = 0;
  return make_plan(p).map.end;
}

PoolKernel::PoolKernel(const hw::HardwareConfig& config, const PoolProblem& problem)
    : problem_(problem), config_(config) {
  const RowSplit &in = problem.input, &out = problem.output;
  const std::string what = describe(problem.op, problem.image, in.dtype);
  check_image_split(what, in, problem.image);
  const ImageShape y = pool_output_shape(problem.op, problem.image, problem.window);
  if (out.rows != y.pixels() || out.cols != y.c || out.dtype != in.dtype ||
      out.col_start != in.col_start)
    throw std::invalid_argument(fmt::format(
        "{}: the output split holds [{}, {}] {} in {} column blocks: expected [{}, {}] {} in the "
        "input's {}",
        what, out.rows, out.cols, dtype_name(out.dtype), out.col_parts, y.pixels(), y.c,
        dtype_name(in.dtype), in.col_parts));
  program_ = build_program(problem.op, in.dtype, in.vlen);
  std::tie(begin_, end_) = check_regions(config, what, program_,
                                         {{"x", problem.x, in.bytes()},
                                          {"out", problem.out, out.bytes()},
                                          {"work", problem.work, pool_work_bytes(problem)}},
                                         1, kStackBytes);
}

void PoolKernel::place(hw::Machine& machine) const {
  const Plan plan = make_plan(problem_);
  const std::vector<float> recips = reciprocals(problem_.window);
  for (size_t b = 0; b < plan.nodes.size(); ++b) {
    std::vector<uint64_t> table;
    for (const RowPull& p : plan.nodes[b].pulls)
      table.insert(table.end(), {p.source, p.dest, p.bytes});
    isa::Sram& sram = machine.node(problem_.output.nodes[b])->sram();
    sram.write(plan.map.pulls, table.data(), table.size() * 8);
    sram.write(plan.map.recips, recips.data(), recips.size() * 4);
  }
}

void PoolKernel::write_args(hw::Machine& machine) const {
  const Plan plan = make_plan(problem_);
  const RowSplit& out = problem_.output;
  const PoolWindow& k = problem_.window;
  const ImageShape &x = problem_.image, &y = plan.y;
  for (size_t b = 0; b < plan.nodes.size(); ++b) {
    const NodePlan& node = plan.nodes[b];
    const uint32_t o0 = out.row_start[b / out.col_parts];
    Node n;
    n.rows = out.block_rows(b), n.out = problem_.out, n.row_bytes = out.row_bytes(b);
    n.registers = out.chunks(b), n.npulls = node.pulls.size(), n.pulls = plan.map.pulls;
    n.base = plan.map.scratch - node.lo * n.row_bytes;  // modulo 2^64, as the core adds
    n.n0 = o0 / (y.h * y.w), n.p0 = o0 / y.w % y.h, n.q0 = o0 % y.w;
    n.h = x.h, n.w = x.w, n.p = y.h, n.q = y.w, n.kh = k.kernel_h, n.kw = k.kernel_w;
    n.sh = k.stride_h, n.sw = k.stride_w, n.ph = k.pad_h, n.pw = k.pad_w;
    n.w_bytes = uint64_t{x.w} * n.row_bytes, n.recips = plan.map.recips;
    const std::vector<uint64_t> v = args().values(n);
    machine.node(out.nodes[b])->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

double PoolKernel::estimate_cycles() const {
  const RowSplit& out = problem_.output;
  const Plan plan = make_plan(problem_);
  const LoopCosts c = loop_costs(config_.node.core.timing_params);
  const bool bf16_avg = problem_.op == PoolOp::Avg && out.dtype == DType::Bf16;
  const double link = config_.noc.link_bytes_per_cycle, hop = config_.noc.router_latency_cycles;
  // A window element of a pass: one load latency, then the SIMD unit's ops on the pass's
  // registers one after another (bf16 avg: a widening and an add per fp32 piece).
  const auto element = [&](double n) {
    return c.vload_latency + n * (bf16_avg ? 4 : 1) * c.simd_occupancy + c.branch_per_unit;
  };
  const auto pass = [&](double n, const Window& win) {
    const double rows = win.h.end - win.h.begin, cols = win.w.end - win.w.begin;
    return rows * (cols * element(n) + c.loop_overhead) + n * (bf16_avg ? 4 : 1) + c.loop_overhead +
           c.simd_latency;
  };
  double most = 0;
  for (size_t b = 0; b < plan.nodes.size(); ++b) {
    const NodePlan& node = plan.nodes[b];
    // The pulls arrive over the node's ejection link, after a request's round trip.
    double bytes = 0;
    for (const RowPull& p : node.pulls) bytes += double(p.bytes);
    double cycles = bytes / link + 2 * hop * (config_.mesh_width() + config_.mesh_height());
    const uint64_t registers = out.chunks(b);
    for (uint32_t o = out.row_start[b / out.col_parts]; o < out.row_start[b / out.col_parts + 1];
         ++o) {
      const Window win = window_of(problem_.image, plan.y, problem_.window, o);
      // Per pixel: the window's bounds and first row, loads and multiplies in a chain.
      cycles += 6 * c.row_overhead;
      uint64_t left = registers;
      for (int n : kPasses) {
        cycles += double(left / n) * pass(n, win);
        left %= n;
      }
    }
    most = std::max(most, cycles);
  }
  return c.prologue + most;
}

Matrix pool_reference(PoolOp op, DType dtype, const ImageShape& image, const PoolWindow& window,
                      const Matrix& x) {
  const ImageShape y = pool_output_shape(op, image, window);
  const Matrix q = quantized(x, dtype, {});
  const std::vector<float> recips = reciprocals(window);
  Matrix out(y.pixels(), y.c);
  for (uint32_t o = 0; o < y.pixels(); ++o) {
    const Window win = window_of(image, y, window, o);
    for (uint32_t c = 0; c < y.c; ++c) {
      float acc = op == PoolOp::Max ? -std::numeric_limits<float>::infinity() : 0.0f;
      for (uint32_t h = win.h.begin; h < win.h.end; ++h)
        for (uint32_t w = win.w.begin; w < win.w.end; ++w) {
          const float v = q.at(static_cast<uint32_t>(input_row(image, y, o, h, w)), c);
          acc = op == PoolOp::Max ? isa::lanes::max_number(acc, v) : acc + v;
        }
      if (op == PoolOp::Avg) acc *= recips[win.count()];
      out.at(o, c) = dtype == DType::Fp32 ? acc : quantize(dtype, acc, {});
    }
  }
  return out;
}

Reference64 pool_reference_f64(PoolOp op, DType dtype, const ImageShape& image,
                               const PoolWindow& window, const Matrix& x) {
  const ImageShape y = pool_output_shape(op, image, window);
  const Matrix q = quantized(x, dtype, {});
  const double u = std::ldexp(1.0, -24), u_out = dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  Reference64 ref{y.pixels(), y.c, {}, {}};
  for (uint32_t o = 0; o < y.pixels(); ++o) {
    const Window win = window_of(image, y, window, o);
    const double count = win.count();
    const double divisor = window.count_include_pad ? window.kernel_h * window.kernel_w : count;
    for (uint32_t c = 0; c < y.c; ++c) {
      double best = -INFINITY, sum = 0, magnitude = 0;
      for (uint32_t h = win.h.begin; h < win.h.end; ++h)
        for (uint32_t w = win.w.begin; w < win.w.end; ++w) {
          const double v = q.at(static_cast<uint32_t>(input_row(image, y, o, h, w)), c);
          best = std::max(best, v);
          sum += v;
          magnitude += std::fabs(v);
        }
      if (op == PoolOp::Max) {
        ref.value.push_back(best);  // a max of the dtype's values is one of them: exact
        ref.bound.push_back(0);
      } else {
        // count - 1 fp32 additions, 1/divisor rounded to fp32, the product: gamma(count + 1).
        const double v = sum / divisor, gamma = (count + 1) * u / (1 - (count + 1) * u);
        ref.value.push_back(v);
        ref.bound.push_back(magnitude / divisor * gamma * (1 + u_out) + std::fabs(v) * u_out);
      }
    }
  }
  return ref;
}

ImageOpRun run_pool(Executor& executor, PoolOp op, DType dtype, const ImageShape& image,
                    const PoolWindow& window, const Matrix& x, ImageOpOptions options) {
  const std::string what = describe(op, image, dtype);
  PoolProblem p;
  p.op = op, p.image = image, p.window = window;
  p.input = split_image(executor.config(), dtype, image, options.col_parts);
  if (x.rows != p.input.rows || x.cols != p.input.cols)
    throw std::invalid_argument(fmt::format("{}: x is [{}, {}]: expected [{}, {}] (N H W, C)", what,
                                            x.rows, x.cols, p.input.rows, p.input.cols));
  p.output = pool_output(executor.config(), op, p.input, image, window);
  mesh::SramMap map(build_program(op, dtype, p.input.vlen), options.sram_from);
  map.at = mesh::align(map.at, p.input.vlen);  // regions start on a VLEN boundary
  p.x = map.take(p.input.bytes());
  p.out = map.take(p.output.bytes());
  p.work = map.take(pool_work_bytes(p));
  const PoolKernel kernel(executor.config(), p);
  hw::Machine& m = executor.machine();
  write_tensor(m, p.input, p.x, x);
  kernel.place(m);
  ImageOpRun result;
  result.input = p.input, result.output = p.output;
  result.estimate = kernel.estimate_cycles();
  result.run = executor.run(kernel);
  if (result.run.ok) result.out = read_tensor(m, p.output, p.out);
  return result;
}

}  // namespace dojosim::runtime::ops
