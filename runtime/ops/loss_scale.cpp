// SPDX-License-Identifier: MIT
#include "runtime/ops/loss_scale.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <tuple>

#include "hw/node/node.h"
#include "isa/lanes.h"
#include "isa/vector_math.h"
#include "runtime/ops/program.h"

namespace dojosim::runtime::ops {
namespace {

// The largest interval whose "interval - 1/2" is exact in fp32 (the count is compared with it).
constexpr int64_t kMaxInterval = int64_t{1} << 23;

struct Node {
  uint64_t work = 0;  // 1 on the node that holds the scalars; the others leave at once
  uint64_t out = 0, check = 0, scale = 0, good = 0, scale_out = 0, good_out = 0;
  float growth = 0, backoff = 0, threshold = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  const auto bits = [](float v) { return uint64_t{isa::lanes::float_bits(v)}; };
  static const codegen::ArgBlock<Node> block = {
      {"WORK", [](N n) { return n.work; }},
      {"OUT", [](N n) { return n.out; }},
      {"CHECK", [](N n) { return n.check; }},
      {"SCALE", [](N n) { return n.scale; }},
      {"GOOD", [](N n) { return n.good; }},
      {"SCALEOUT", [](N n) { return n.scale_out; }},
      {"GOODOUT", [](N n) { return n.good_out; }},
      {"GROWTH", [bits](N n) { return bits(n.growth); }},
      {"BACKOFF", [bits](N n) { return bits(n.backoff); }},
      {"THRESHOLD", [bits](N n) { return bits(n.threshold); }},  // interval - 1/2
  };
  return block;
}

std::string program_text(LossScaleOp op, uint32_t vlen) {
  codegen::AsmWriter w;
  w.raw(
      op == LossScaleOp::UnscaleFactor
          ? "# The gradients' unscaling factor: OUT = 1 / SCALE (vrecip) + (CHECK - CHECK), which\n"
            "# is NaN after an overflow, in lane 0, the padding lanes 0. Thread 0 of the node "
            "with\n"
            "# WORK computes; the others leave."
          : "# The loss scale's update (GradScaler): after an overflow (CHECK not finite) the\n"
            "# scale backs off and the count of good steps restarts; after INTERVAL good steps\n"
            "# it grows (unless that overflows). No branch on the values: every choice is a\n"
            "# vgate between two values, one of them +0. Thread 0 of the node with WORK computes;\n"
            "# the others leave.");
  args().declare(w);
  w.equ("VLEN", vlen);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("csrr    t0, threadid");
  w.op("bnez    t0, exit");
  w.op("la      s1, args");
  w.op("ld      t0, WORK(s1)");
  w.op("beqz    t0, exit                  # a node without the scalars");
  w.op("li      t0, 0x3f800000");
  w.op("vbcast.fp32 v23, t0                # 1");
  w.op("vredsum.fp32 v24, v23              # lane 0 only (a mask)");
  if (op == LossScaleOp::UnscaleFactor) {
    w.op("ld      a0, CHECK(s1)");
    w.op("ld      a1, SCALE(s1)");
    w.op("ld      a3, OUT(s1)");
    w.op("vle     v1, 0(a0)");
    w.op("vle     v2, 0(a1)");
    w.op("vsub.fp32 v1, v1, v1               # 0, or NaN after an overflow");
    w.op("vrecip.fp32 v2, v2");
    w.op("vgate.fp32 v2, v2, v24             # the padding lanes back to 0");
    w.op("vadd.fp32 v2, v2, v1");
    w.op("vse     v2, 0(a3)");
    w.exit_program();
    args().reserve(w);
    return w.text();
  }
  w.op("ld      a0, CHECK(s1)");
  w.op("ld      a1, SCALE(s1)");
  w.op("ld      a2, GOOD(s1)");
  w.op("ld      a3, SCALEOUT(s1)");
  w.op("ld      a4, GOODOUT(s1)");
  w.op("lw      t0, GROWTH(s1)");
  w.op("vbcast.fp32 v20, t0");
  w.op("lw      t0, BACKOFF(s1)");
  w.op("vbcast.fp32 v21, t0");
  w.op("lw      t0, THRESHOLD(s1)");
  w.op("vbcast.fp32 v22, t0");
  w.op("vle     v1, 0(a0)                 # the check");
  w.op("vle     v2, 0(a1)                 # S");
  w.op("vle     v3, 0(a2)                 # good steps");
  w.op("vsub.fp32 v4, v1, v1               # 0, or NaN when the check is not finite");
  w.op("vadd.fp32 v4, v4, v23");
  w.op("vgate.fp32 v4, v23, v4             # ok: 1 when the gradients were finite, else 0");
  w.op("vsub.fp32 v5, v23, v4              # overflow: 1 - ok");
  w.op("vadd.fp32 v6, v3, v23              # good + 1");
  w.op("vsub.fp32 v7, v6, v22");
  w.op("vgate.fp32 v7, v23, v7             # due: good + 1 reached the interval");
  w.op("vmul.fp32 v8, v2, v20              # S growth");
  w.op("vsub.fp32 v9, v8, v8");
  w.op("vadd.fp32 v9, v9, v23");
  w.op("vgate.fp32 v9, v23, v9             # 1 when S growth is finite");
  w.op("vmul.fp32 v9, v9, v7               # grow: due and finite");
  w.op("vsub.fp32 v10, v23, v9");
  w.op("vgate.fp32 v11, v8, v9");
  w.op("vgate.fp32 v12, v2, v10");
  w.op("vadd.fp32 v11, v11, v12            # S after a good step");
  w.op("vmul.fp32 v12, v2, v21             # S after an overflow");
  w.op("vgate.fp32 v11, v11, v4");
  w.op("vgate.fp32 v12, v12, v5");
  w.op("vadd.fp32 v11, v11, v12            # S'");
  w.op("vgate.fp32 v11, v11, v24");
  w.op("vsub.fp32 v13, v23, v7");
  w.op("vgate.fp32 v13, v6, v13            # good + 1 unless due");
  w.op("vgate.fp32 v13, v13, v4            # and 0 after an overflow: good'");
  w.op("vgate.fp32 v13, v13, v24");
  w.op("vse     v11, 0(a3)");
  w.op("vse     v13, 0(a4)");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

}  // namespace

LossScaleKernel::LossScaleKernel(const hw::HardwareConfig& config, const LossScaleProblem& problem)
    : problem_(problem), threads_(config.node.core.threads) {
  const RowSplit& s = problem.split;
  const bool update = problem.op == LossScaleOp::Update;
  const std::string what = update ? "loss scale update" : "unscale factor";
  if (s.dtype != DType::Fp32 || s.rows != 1 || s.cols != 1 || s.blocks() != 1)
    throw std::invalid_argument(
        fmt::format("{}: expected one fp32 element on one node, got [{}, {}] {} on {} nodes", what,
                    s.rows, s.cols, dtype_name(s.dtype), s.blocks()));
  const LossScaleParams& p = problem.params;
  if (update) {
    if (!(p.growth > 1) || !std::isfinite(p.growth))
      throw std::invalid_argument(
          fmt::format("{}: growth {}: expected more than 1", what, p.growth));
    if (!(p.backoff > 0 && p.backoff < 1))
      throw std::invalid_argument(
          fmt::format("{}: backoff {}: expected between 0 and 1", what, p.backoff));
    if (p.interval < 1 || p.interval > kMaxInterval)
      throw std::invalid_argument(fmt::format(
          "{}: interval {}: expected a whole number from 1 to {}", what, p.interval, kMaxInterval));
  }
  program_ = mesh::assemble_program(program_text(problem.op, s.vlen),
                                    update ? "loss_scale_update.s" : "unscale_factor.s");
  const uint64_t b = s.bytes();
  const std::vector<Region> regions =
      update
          ? std::vector<Region>{{"check", problem.check, b},
                                {"scale", problem.scale, b},
                                {"good", problem.good, b},
                                {"scale_out", problem.scale_out, b},
                                {"good_out", problem.good_out, b}}
          : std::vector<Region>{
                {"check", problem.check, b}, {"scale", problem.scale, b}, {"out", problem.out, b}};
  std::tie(begin_, end_) = check_regions(config, what, program_, regions, threads_, kStackBytes);
}

void LossScaleKernel::write_args(hw::Machine& machine) const {
  const LossScaleProblem& p = problem_;
  Node n{1,
         p.out,
         p.check,
         p.scale,
         p.good,
         p.scale_out,
         p.good_out,
         float(p.params.growth),
         float(p.params.backoff),
         float(double(p.params.interval) - 0.5)};
  const std::vector<uint64_t> v = args().values(n);
  machine.node(p.split.nodes.front())->sram().write(program_.args, v.data(), v.size() * 8);
}

float unscale_factor_reference(float check, float scale) {
  return isa::lanes::canonical(isa::vector_recip(scale) + isa::lanes::canonical(check - check));
}

LossScaleState loss_scale_update_reference(const LossScaleParams& p, float check, float scale,
                                           float good) {
  if (!std::isfinite(check)) return {isa::lanes::canonical(scale * float(p.backoff)), 0.0f};
  const float successful = good + 1.0f;
  if (successful >= float(double(p.interval) - 0.5)) {
    const float grown = isa::lanes::canonical(scale * float(p.growth));
    return {std::isfinite(grown) ? grown : scale, 0.0f};
  }
  return {scale, successful};
}

}  // namespace dojosim::runtime::ops
