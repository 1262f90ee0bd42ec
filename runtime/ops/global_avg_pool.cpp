// SPDX-License-Identifier: MIT
#include "runtime/ops/global_avg_pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "hw/node/node.h"
#include "isa/global_address.h"
#include "runtime/ops/program.h"

namespace dojosim::runtime::ops {
namespace {

// Stored registers per pass of the summing loop (bf16: two fp32 accumulators each): 4 while a
// row has that many, then 2, then 1.
constexpr int kPasses[] = {4, 2, 1};  // each half the one before (the program's labels)

uint32_t parts_of(DType dtype) {
  return dtype == DType::Bf16 ? 2 : 1;
}

// Row blocks of the input that hold rows of image n: [first, last].
std::pair<uint32_t, uint32_t> blocks_of_image(const RowSplit& in, const ImageShape& image,
                                              uint32_t n) {
  const uint32_t hw = image.h * image.w;
  const auto block = [&](uint32_t row) {
    return static_cast<uint32_t>(std::upper_bound(in.row_start.begin(), in.row_start.end(), row) -
                                 in.row_start.begin() - 1);
  };
  return {block(n * hw), block((n + 1) * hw - 1)};
}

// ---- The plan: what each node does, derived on the host from the two splits ---------------
struct Segment {
  uint64_t rows = 0, dest = 0;  // its rows of one image; the global address of its slot
};
struct NodePlan {
  std::vector<Segment> segments;  // in row order
  std::vector<uint64_t> slots;    // per row of y held here: the partials it adds
  uint64_t part_bytes = 0;        // a partial: the column block as fp32 registers
  uint64_t expect() const {
    uint64_t e = 0;
    for (uint64_t s : slots) e += s;
    return e;
  }
};
struct WorkMap {
  uint64_t segments = 0, slots = 0, stage = 0, gather = 0, end = 0;
};
struct Plan {
  std::vector<NodePlan> nodes;  // by block index of the input (y's blocks are a prefix)
  WorkMap map;
};

Plan make_plan(const GlobalAvgPoolProblem& p) {
  const RowSplit &in = p.input, &out = p.output;
  const uint32_t cp = in.col_parts, hw = p.image.h * p.image.w;
  Plan plan;
  plan.nodes.resize(in.blocks());
  // Where each row of y starts in its node's gather area (in slots).
  std::vector<uint64_t> base(p.image.n);
  for (uint32_t i = 0; i < out.row_parts; ++i) {
    uint64_t at = 0;
    for (uint32_t n = out.row_start[i]; n < out.row_start[i + 1]; ++n) {
      const auto [first, last] = blocks_of_image(in, p.image, n);
      base[n] = at;
      at += last - first + 1;
      for (uint32_t j = 0; j < cp; ++j) plan.nodes[i * cp + j].slots.push_back(last - first + 1);
    }
  }
  uint64_t segments = 0, rows_out = 0, part = 0, gather = 0;
  for (size_t b = 0; b < in.blocks(); ++b) {
    NodePlan& node = plan.nodes[b];
    node.part_bytes = uint64_t{in.chunks(b)} * parts_of(in.dtype) * in.vlen;
    const uint32_t r0 = in.row_start[b / cp], r1 = in.row_start[b / cp + 1];
    segments = std::max<uint64_t>(segments, (r1 - 1) / hw - r0 / hw + 1);
    rows_out = std::max<uint64_t>(rows_out, node.slots.size());
    part = std::max(part, node.part_bytes);
    gather = std::max(gather, node.expect() * node.part_bytes);
  }
  WorkMap& m = plan.map;
  m.segments = p.work;
  m.slots = m.segments + mesh::align(segments * 16, in.vlen);
  m.stage = m.slots + mesh::align(rows_out * 8, in.vlen);
  m.gather = m.stage + part;
  m.end = m.gather + gather;
  // Each segment's destination: slot k (its row block from the image's first) of row n.
  for (size_t b = 0; b < in.blocks(); ++b) {
    const uint32_t i = static_cast<uint32_t>(b / cp), j = b % cp;
    const uint32_t r0 = in.row_start[i], r1 = in.row_start[i + 1];
    for (uint32_t n = r0 / hw; n <= (r1 - 1) / hw; ++n) {
      const uint32_t rows = std::min(r1, (n + 1) * hw) - std::max(r0, n * hw);
      const uint32_t k = i - blocks_of_image(in, p.image, n).first;
      const uint32_t holder =
          static_cast<uint32_t>(std::upper_bound(out.row_start.begin(), out.row_start.end(), n) -
                                out.row_start.begin() - 1);
      const hw::Coord c = out.nodes[holder * cp + j];
      const uint64_t offset = m.gather + (base[n] + k) * plan.nodes[b].part_bytes;
      plan.nodes[b].segments.push_back(
          {rows, isa::global_address(static_cast<uint32_t>(c.x), static_cast<uint32_t>(c.y),
                                     static_cast<uint32_t>(offset))});
    }
  }
  return plan;
}

// ---- The program ---------------------------------------------------------------------------
struct Node {
  uint64_t x = 0, row_bytes = 0, registers = 0, nsegs = 0, segs = 0, stage = 0, part_bytes = 0;
  uint64_t nout = 0, slots = 0, gather = 0, expect = 0, out = 0, inv = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"X", [](N n) { return n.x; }},
      {"ROWBYTES", [](N n) { return n.row_bytes; }},
      {"REGISTERS", [](N n) { return n.registers; }},  // stored registers per row
      {"NSEGS", [](N n) { return n.nsegs; }},
      {"SEGS", [](N n) { return n.segs; }},  // per segment: its rows, its slot (global)
      {"STAGE", [](N n) { return n.stage; }},
      {"PARTBYTES", [](N n) { return n.part_bytes; }},
      {"NOUT", [](N n) { return n.nout; }},    // rows of y here
      {"SLOTS", [](N n) { return n.slots; }},  // per row of y: its partials
      {"GATHER", [](N n) { return n.gather; }},
      {"EXPECT", [](N n) { return n.expect; }},  // partials to wait for
      {"OUT", [](N n) { return n.out; }},
      {"INV", [](N n) { return n.inv; }},  // fp32 bits of 1 / (H W)
  };
  return block;
}

std::string program_text(DType dtype, uint32_t vlen) {
  const uint32_t parts = parts_of(dtype);
  codegen::AsmWriter w;
  w.raw(fmt::format(
      "# global_avg_pool ({}), one thread per node. Per segment (this node's rows of one image):\n"
      "# sum the rows of each column register in fp32 lanes, 4, 2 or 1 registers per pass, push "
      "the\n"
      "# partial into its slot on the node holding y's row. Then, where rows of y are held: wait\n"
      "# for every partial, add the slots in order, multiply by 1 / (H W).",
      dtype_name(dtype)));
  args().declare(w);
  w.equ("VLEN", vlen);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  w.op("ld      s2, NSEGS(s1)");
  w.op("beqz    s2, gather");
  w.op("ld      a0, X(s1)                # the segment's first row");
  w.op("ld      a3, SEGS(s1)");
  w.op("ld      s6, ROWBYTES(s1)");
  w.label("segment");
  w.op("ld      s4, 0(a3)                # its rows");
  w.op("ld      s5, 8(a3)                # its slot");
  w.op("ld      a2, STAGE(s1)");
  w.op("mv      a1, a0                   # the column register's first row");
  w.op("ld      t5, REGISTERS(s1)");
  // A pass over n stored registers: accumulators v16.. (one per fp32 piece), rows in order.
  const auto pass = [&](int n, const std::string& label) {
    for (uint32_t k = 0; k < n * parts; ++k) w.op("vbcast.fp32 v{}, zero", 16 + k);
    w.op("mv      t0, a1");
    w.op("mv      t1, s4");
    w.label(label);
    for (int i = 0; i < n; ++i) w.op("vle     v{}, {}(t0)", i, i * vlen);
    // bf16: every widening first, so that no add waits for the one just before it.
    if (dtype == DType::Fp32)
      for (int i = 0; i < n; ++i) w.op("vadd.fp32 v{}, v{}, v{}", 16 + i, 16 + i, i);
    else {
      for (int i = 0; i < n * 2; ++i) w.op("vcvt.fp32.bf16 v{}, v{}, {}", 4 + i, i / 2, i % 2);
      for (int i = 0; i < n * 2; ++i) w.op("vadd.fp32 v{}, v{}, v{}", 16 + i, 16 + i, 4 + i);
    }
    w.op("add     t0, t0, s6");
    w.op("addi    t1, t1, -1");
    w.op("bnez    t1, {}", label);
    for (uint32_t k = 0; k < n * parts; ++k) w.op("vse     v{}, {}(a2)", 16 + k, k * vlen);
    for (uint32_t q = 0; q < parts; ++q)  // (n x parts x VLEN may pass addi's 2047)
      w.op("addi    a2, a2, {}", n * vlen);
    w.op("addi    a1, a1, {}", n * vlen);
    w.op("addi    t5, t5, -{}", n);
  };
  for (int n : kPasses) {
    w.label(fmt::format("registers_by_{}", n));
    w.op("addi    t6, t5, -{}", n);
    w.op("bltz    t6, {}", n == 1 ? "partial_done" : fmt::format("registers_by_{}", n / 2));
    pass(n, fmt::format("rows_by_{}", n));
    w.op("j       registers_by_{}", n);
  }
  w.label("partial_done");
  w.op("ld      t2, STAGE(s1)");
  w.op("ld      t3, PARTBYTES(s1)");
  w.op("push    s5, t2, t3, 1            # the stage is read now: free again at once");
  w.op("mul     t4, s4, s6");
  w.op("add     a0, a0, t4");
  w.op("addi    a3, a3, 16");
  w.op("addi    s2, s2, -1");
  w.op("bnez    s2, segment");

  w.label("gather");
  w.op("ld      s2, NOUT(s1)");
  w.op("beqz    s2, exit");
  w.op("ld      t1, EXPECT(s1)");
  w.op("swait   1, t1                   # every partial of this node's rows of y");
  w.op("ld      t0, INV(s1)");
  w.op("vbcast.fp32 v30, t0");
  w.op("ld      a4, GATHER(s1)           # row's slot 0");
  w.op("ld      a3, SLOTS(s1)");
  w.op("ld      a2, OUT(s1)");
  w.op("ld      s6, PARTBYTES(s1)");
  w.op("ld      s7, ROWBYTES(s1)");
  w.label("out_row");
  w.op("ld      s4, 0(a3)                # its slots");
  w.op("mv      a1, a4");
  w.op("mv      a6, a2");
  w.op("ld      t5, REGISTERS(s1)");
  w.label("out_register");
  for (uint32_t q = 0; q < parts; ++q) w.op("vle     v{}, {}(a1)", 16 + q, q * vlen);
  w.op("mv      t0, a1");
  w.op("addi    t1, s4, -1");
  w.label("slot");
  w.op("beqz    t1, slots_done");
  w.op("add     t0, t0, s6");
  for (uint32_t q = 0; q < parts; ++q) w.op("vle     v{}, {}(t0)", 2 + q, q * vlen);
  for (uint32_t q = 0; q < parts; ++q) w.op("vadd.fp32 v{}, v{}, v{}", 16 + q, 16 + q, 2 + q);
  w.op("addi    t1, t1, -1");
  w.op("j       slot");
  w.label("slots_done");
  for (uint32_t q = 0; q < parts; ++q) w.op("vmul.fp32 v{}, v{}, v30", 16 + q, 16 + q);
  if (dtype == DType::Bf16) {
    for (uint32_t q = 0; q < parts; ++q) w.op("vcvt.bf16.fp32 v14, v{}, {}", 16 + q, q);
    w.op("vse     v14, 0(a6)");
  } else {
    w.op("vse     v16, 0(a6)");
  }
  w.op("addi    a1, a1, {}", parts * vlen);
  w.op("addi    a6, a6, VLEN");
  w.op("addi    t5, t5, -1");
  w.op("bnez    t5, out_register");
  w.op("mul     t2, s4, s6");
  w.op("add     a4, a4, t2");
  w.op("add     a2, a2, s7");
  w.op("addi    a3, a3, 8");
  w.op("addi    s2, s2, -1");
  w.op("bnez    s2, out_row");
  w.op("j       exit");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

mesh::NodeProgram build_program(DType dtype, uint32_t vlen) {
  return mesh::assemble_program(program_text(dtype, vlen),
                                fmt::format("global_avg_pool_{}.s", dtype_name(dtype)));
}

std::string describe(const ImageShape& image, DType dtype) {
  return fmt::format("global_avg_pool {} {}", image.str(), dtype_name(dtype));
}

uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// The factor of the sums: 1 / (H W), or 1 for a sum.
float inverse_pixels(const ImageShape& image, bool sum) {
  return sum ? 1.0f : 1.0f / static_cast<float>(image.h * image.w);
}

}  // namespace

RowSplit global_avg_pool_output(const hw::HardwareConfig& config, const RowSplit& input,
                                const ImageShape& image) {
  return split_rows(config, input.dtype, image.n, image.c, input.col_parts);
}

uint64_t global_avg_pool_work_bytes(const GlobalAvgPoolProblem& problem) {
  GlobalAvgPoolProblem p = problem;
  p.work = 0;
  return make_plan(p).map.end;
}

GlobalAvgPoolKernel::GlobalAvgPoolKernel(const hw::HardwareConfig& config,
                                         const GlobalAvgPoolProblem& problem)
    : problem_(problem), config_(config) {
  const RowSplit &in = problem.input, &out = problem.output;
  const std::string what = describe(problem.image, in.dtype);
  check_image_split(what, in, problem.image);
  if (out.rows != problem.image.n || out.cols != problem.image.c || out.dtype != in.dtype ||
      out.col_start != in.col_start)
    throw std::invalid_argument(fmt::format(
        "{}: the output split holds [{}, {}] {} in {} column blocks: expected [{}, {}] {} in the "
        "input's {}",
        what, out.rows, out.cols, dtype_name(out.dtype), out.col_parts, problem.image.n,
        problem.image.c, dtype_name(in.dtype), in.col_parts));
  program_ = build_program(in.dtype, in.vlen);
  std::tie(begin_, end_) =
      check_regions(config, what, program_,
                    {{"x", problem.x, in.bytes()},
                     {"out", problem.out, out.bytes()},
                     {"work", problem.work, global_avg_pool_work_bytes(problem)}},
                    1, kStackBytes);
}

void GlobalAvgPoolKernel::place(hw::Machine& machine) const {
  const Plan plan = make_plan(problem_);
  for (size_t b = 0; b < plan.nodes.size(); ++b) {
    std::vector<uint64_t> table;
    for (const Segment& s : plan.nodes[b].segments) table.insert(table.end(), {s.rows, s.dest});
    isa::Sram& sram = machine.node(problem_.input.nodes[b])->sram();
    sram.write(plan.map.segments, table.data(), table.size() * 8);
    const std::vector<uint64_t>& slots = plan.nodes[b].slots;
    if (!slots.empty()) sram.write(plan.map.slots, slots.data(), slots.size() * 8);
  }
}

void GlobalAvgPoolKernel::write_args(hw::Machine& machine) const {
  const Plan plan = make_plan(problem_);
  const RowSplit& in = problem_.input;
  for (size_t b = 0; b < plan.nodes.size(); ++b) {
    const NodePlan& node = plan.nodes[b];
    Node n;
    n.x = problem_.x, n.row_bytes = in.row_bytes(b), n.registers = in.chunks(b);
    n.nsegs = node.segments.size(), n.segs = plan.map.segments, n.stage = plan.map.stage;
    n.part_bytes = node.part_bytes;
    n.nout = node.slots.size(), n.slots = plan.map.slots, n.gather = plan.map.gather;
    n.expect = node.expect(), n.out = problem_.out;
    n.inv = float_bits(inverse_pixels(problem_.image, problem_.sum));
    const std::vector<uint64_t> v = args().values(n);
    machine.node(in.nodes[b])->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

double GlobalAvgPoolKernel::estimate_cycles() const {
  const RowSplit& in = problem_.input;
  const Plan plan = make_plan(problem_);
  const LoopCosts c = loop_costs(config_.node.core.timing_params);
  const double parts = parts_of(in.dtype);
  // One thread, in order: a row of a pass issues its loads, waits for the first, then the
  // SIMD unit takes the widenings and the adds one after another (the other loads and the
  // widenings' latency hide behind them).
  const auto pass = [&](double n, double rows) {
    const double simd = n * parts * (in.dtype == DType::Bf16 ? 2 : 1) * c.simd_occupancy;
    const double row = c.vload_latency + simd + c.branch_per_unit;
    return rows * row + n * parts * c.store_occupancy + c.loop_overhead;
  };
  double summed = 0, combined = 0;
  for (size_t b = 0; b < plan.nodes.size(); ++b) {
    const NodePlan& node = plan.nodes[b];
    const uint64_t registers = in.chunks(b);
    double cycles = 0;
    for (const Segment& s : node.segments) {
      cycles += c.row_overhead;
      uint64_t left = registers;
      for (int n : kPasses) {
        cycles += double(left / n) * pass(n, double(s.rows));
        left %= n;
      }
    }
    summed = std::max(summed, cycles);
    // The combine: per register of a row of y, its slots' loads and adds in a chain.
    double rows = 0;
    for (uint64_t slots : node.slots)
      rows +=
          c.row_overhead + double(registers) * (c.vload_latency +
                                                double(slots) * (c.vload_latency + c.simd_latency) +
                                                c.simd_latency + c.loop_overhead);
    combined = std::max(combined, rows);
  }
  // The last partial's push: its bytes at the link's width and the hops across the mesh.
  const double part = double(plan.nodes.front().part_bytes);
  const double push =
      part / config_.noc.link_bytes_per_cycle +
      config_.noc.router_latency_cycles * double(config_.mesh_width() + config_.mesh_height());
  return c.prologue + summed + push + combined;
}

Matrix global_avg_pool_reference(const RowSplit& in, const ImageShape& image, const Matrix& x,
                                 bool sum) {
  const Matrix q = quantized(x, in.dtype, {});
  const uint32_t hw = image.h * image.w;
  const float inv = inverse_pixels(image, sum);
  Matrix y(image.n, image.c);
  for (uint32_t n = 0; n < image.n; ++n) {
    const auto [first, last] = blocks_of_image(in, image, n);
    for (uint32_t c = 0; c < image.c; ++c) {
      float total = 0;
      for (uint32_t i = first; i <= last; ++i) {
        float partial = 0;
        const uint32_t r0 = std::max(in.row_start[i], n * hw),
                       r1 = std::min(in.row_start[i + 1], (n + 1) * hw);
        for (uint32_t r = r0; r < r1; ++r) partial += q.at(r, c);
        total = i == first ? partial : total + partial;
      }
      const float v = total * inv;
      y.at(n, c) = in.dtype == DType::Fp32 ? v : quantize(in.dtype, v, {});
    }
  }
  return y;
}

Reference64 global_avg_pool_reference_f64(DType dtype, const ImageShape& image, const Matrix& x,
                                          bool sum) {
  const Matrix q = quantized(x, dtype, {});
  const double hw = double(image.h) * image.w, u = std::ldexp(1.0, -24);
  const double divisor = sum ? 1.0 : hw;  // a sum's factor 1 is exact: gamma(H W) would do
  const double u_out = dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  // H W - 1 additions in fp32, 1/(H W) rounded to fp32, the product rounded: gamma(H W + 1).
  const double gamma = (hw + 1) * u / (1 - (hw + 1) * u);
  Reference64 ref{image.n, image.c, {}, {}};
  for (uint32_t n = 0; n < image.n; ++n)
    for (uint32_t c = 0; c < image.c; ++c) {
      double total = 0, magnitude = 0;
      for (uint32_t r = n * image.h * image.w; r < (n + 1) * image.h * image.w; ++r) {
        total += q.at(r, c);
        magnitude += std::fabs(q.at(r, c));
      }
      const double v = total / divisor;
      ref.value.push_back(v);
      ref.bound.push_back(magnitude / divisor * gamma * (1 + u_out) + std::fabs(v) * u_out);
    }
  return ref;
}

ImageOpRun run_global_avg_pool(Executor& executor, DType dtype, const ImageShape& image,
                               const Matrix& x, ImageOpOptions options) {
  const std::string what = describe(image, dtype);
  ImageOpRun result;
  GlobalAvgPoolProblem p;
  p.image = image;
  p.input = split_image(executor.config(), dtype, image, options.col_parts);
  if (x.rows != p.input.rows || x.cols != p.input.cols)
    throw std::invalid_argument(fmt::format("{}: x is [{}, {}]: expected [{}, {}] (N H W, C)", what,
                                            x.rows, x.cols, p.input.rows, p.input.cols));
  p.output = global_avg_pool_output(executor.config(), p.input, image);
  p.sum = options.sum;
  mesh::SramMap map(build_program(dtype, p.input.vlen), options.sram_from);
  map.at = mesh::align(map.at, p.input.vlen);  // regions start on a VLEN boundary
  p.x = map.take(p.input.bytes());
  p.out = map.take(p.output.bytes());
  p.work = map.take(global_avg_pool_work_bytes(p));
  const GlobalAvgPoolKernel kernel(executor.config(), p);
  hw::Machine& m = executor.machine();
  write_tensor(m, p.input, p.x, x);
  kernel.place(m);
  result.input = p.input, result.output = p.output;
  result.estimate = kernel.estimate_cycles();
  result.run = executor.run(kernel);
  if (result.run.ok) result.out = read_tensor(m, p.output, p.out);
  return result;
}

}  // namespace dojosim::runtime::ops
