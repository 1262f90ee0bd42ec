// SPDX-License-Identifier: MIT
#include "runtime/graph/plan/op_cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "hw/config/derived.h"
#include "hw/config/machine_params.h"
#include "isa/timing.h"
#include "runtime/graph/op_table.h"
#include "runtime/mesh/conv2d.h"
#include "runtime/mesh/estimate.h"
#include "runtime/ops/image.h"

namespace dojosim::runtime::graph {
namespace {

// The SIMD kernel's fixed cost per call, as the matmul kernel's (runtime/mesh/estimate.cpp).
constexpr double kCallCycles = 60;
// NOTE: an assumption, not measured yet: issuing one push and the receiver's semaphore wait.
constexpr double kPushCycles = 30;
// Sub-meshes tried for a batch of matmuls: the mesh cut into up to this many parts per axis.
constexpr uint32_t kMaxCutsPerAxis = 6;

// How cost_op treats each op type; every op of ops.def has one (tests check).
enum class Kind : uint8_t {
  Matmul,
  BatchMatmul,
  Conv2d,
  Conv2dGradInput,
  Conv2dGradWeight,
  Elementwise,
  AllReduce,
  Row,
  Loss,
  Pool,
  PoolGradient,
  GlobalPool,
  ColumnSum,
  Gather,
  Scatter,
  Reshape,
  Transpose,
  Concat,
  Split
};
struct KindRow {
  Kind kind;
  int reductions;       // row ops: cross-node reductions per row (there and back each)
  int column_sums = 0;  // the norms' backward: sums over the rows (dgamma, dbeta), up a tree;
                        // ColumnSum: how many sums over the rows (0: one)
};
const std::map<std::string, KindRow>& kinds() {
  static const std::map<std::string, KindRow> table = {
      {"matmul", {Kind::Matmul, 0}},
      {"batch_matmul", {Kind::BatchMatmul, 0}},
      {"conv2d", {Kind::Conv2d, 0}},
      {"conv2d_grad_input", {Kind::Conv2dGradInput, 0}},
      {"conv2d_grad_weight", {Kind::Conv2dGradWeight, 0}},
      {"bias_add", {Kind::Elementwise, 0}},
      {"add", {Kind::Elementwise, 0}},
      {"sub", {Kind::Elementwise, 0}},
      {"mul", {Kind::Elementwise, 0}},
      {"scale", {Kind::Elementwise, 0}},
      {"cast", {Kind::Elementwise, 0}},
      {"relu", {Kind::Elementwise, 0}},
      {"relu_backward", {Kind::Elementwise, 0}},
      {"gelu", {Kind::Elementwise, 0}},
      {"gelu_backward", {Kind::Elementwise, 0}},
      {"silu", {Kind::Elementwise, 0}},
      {"silu_backward", {Kind::Elementwise, 0}},
      {"batchnorm", {Kind::Elementwise, 0}},
      {"batchnorm_backward", {Kind::ColumnSum, 0, 2}},        // dscale, dbias
      {"batchnorm_train", {Kind::ColumnSum, 0, 2}},           // mean, variance
      {"batchnorm_train_backward", {Kind::ColumnSum, 0, 2}},  // dscale, dbias
      {"reduce_sum", {Kind::ColumnSum, 0}},
      {"layernorm", {Kind::Row, 2}},
      {"layernorm_backward", {Kind::Row, 4, 2}},  // mean, var, sum g, sum g xhat
      {"rmsnorm", {Kind::Row, 1}},
      {"rmsnorm_backward", {Kind::Row, 2, 1}},  // sum x^2, sum g x
      {"softmax", {Kind::Row, 2}},
      {"softmax_backward", {Kind::Row, 1}},  // sum dy y
      {"max_pool", {Kind::Pool, 0}},
      {"avg_pool", {Kind::Pool, 0}},
      {"global_avg_pool", {Kind::GlobalPool, 0}},
      {"max_pool_backward", {Kind::PoolGradient, 0}},
      {"avg_pool_backward", {Kind::PoolGradient, 0}},
      {"global_avg_pool_backward", {Kind::PoolGradient, 0}},
      {"embedding", {Kind::Gather, 0}},
      {"embedding_backward", {Kind::Scatter, 0}},
      {"reshape", {Kind::Reshape, 0}},
      {"transpose", {Kind::Transpose, 0}},
      {"concat", {Kind::Concat, 0}},
      {"split", {Kind::Split, 0}},
      {"softmax_cross_entropy", {Kind::Loss, 3}},  // max, sum of exponentials, the label's logit
      {"softmax_cross_entropy_backward", {Kind::Row, 2}},  // max, sum of exponentials
      {"allreduce", {Kind::AllReduce, 0}},
      {"sgd_update", {Kind::Elementwise, 0}},
      {"adamw_update", {Kind::Elementwise, 0}},
      {"unscale_factor", {Kind::Elementwise, 0}},     // one element
      {"loss_scale_update", {Kind::Elementwise, 0}},  // one element
  };
  return table;
}

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}
double log2_ceil(uint64_t n) {
  return n <= 1 ? 0 : std::ceil(std::log2(double(n)));
}

runtime::DType runtime_dtype(DType t) {
  return t == DType::Bf16   ? runtime::DType::Bf16
         : t == DType::Cfp8 ? runtime::DType::Cfp8
                            : runtime::DType::Fp32;
}

uint64_t tensor_bytes(const Tensor& t) {
  return uint64_t(element_count(t.shape)) * element_bytes(t.dtype);
}

// Everything one op's costing reads.
struct Ctx {
  const PlanMachine& m;
  const hw::HardwareConfig& config;
  const Graph& g;
  const Op& op;
  const OpFacts& facts;
  const InputLayouts& now;
  MatmulMemo& memo;
  std::vector<const Tensor*> in, out;
  std::string where() const {
    return fmt::format("{}op '{}' ({})", op.origin.empty() ? "" : op.origin + ": ", op.name,
                       op.type);
  }
  // The cost of moving input j into `want` from where it is now (nothing from HBM: the load
  // lands in the layout it needs).
  double move_in(size_t j, const Layout& want, uint64_t bytes) const {
    return now[j] && *now[j] != want ? redistribution_cycles(m, bytes) : 0;
  }
};

OpContext context_of(const Ctx& c) {
  OpContext context{c.op, c.in, c.op.outputs.size(), find_op(c.op.type)};
  return context;
}

// ---- matmul-like ops: the mappings' estimates ----

struct MatmulJob {
  MatmulShape shape;
  uint64_t batch = 1;
  bool transpose_a = false, transpose_b = false;
  std::string a_view = "";  // "im2col": A is built from the input, `a_bytes` moved to place it
  uint64_t a_bytes = 0, b_bytes = 0;
};

// A mesh (the whole machine, or a sub-mesh rectangle) and how many batch items run at once.
struct Mesh {
  hw::HardwareConfig config;
  uint64_t groups = 1;
  std::string name;  // "" for the whole mesh, "6x5" for a sub-mesh
};

std::vector<Mesh> meshes_for(const Ctx& c, uint64_t batch) {
  std::vector<Mesh> out{{c.config, 1, ""}};
  if (batch <= 1) return out;
  const hw::MachineParams params = hw::machine_params(c.config);
  const uint32_t w = c.m.width, h = c.m.height;
  for (uint32_t kx = 1; kx <= std::min(kMaxCutsPerAxis, w); ++kx)
    for (uint32_t ky = 1; ky <= std::min(kMaxCutsPerAxis, h); ++ky) {
      if (kx * ky == 1) continue;
      const uint32_t tw = w / kx, th = h / ky;
      uint64_t groups = 0;  // rectangles without a disabled node
      for (uint32_t i = 0; i < kx; ++i)
        for (uint32_t j = 0; j < ky; ++j) {
          bool whole = true;
          for (const hw::Coord& d : params.disabled)
            whole &= !(uint32_t(d.x) >= i * tw && uint32_t(d.x) < (i + 1) * tw &&
                       uint32_t(d.y) >= j * th && uint32_t(d.y) < (j + 1) * th);
          groups += whole;
        }
      if (groups < 2) continue;
      Mesh sub{c.config, std::min<uint64_t>(groups, batch), fmt::format("{}x{}", tw, th)};
      sub.config.machine.scope = hw::MachineScope::Die;
      sub.config.die.nodes_x = tw;
      sub.config.die.nodes_y = th;
      sub.config.die.disabled.clear();
      out.push_back(std::move(sub));
    }
  return out;
}

struct MatmulChoice {
  MatmulEstimate e;
  MeshMatmulPlan plan;
  const Mesh* mesh = nullptr;
  double cycles = 0, total = 0;
};

OpCost matmul_cost(const Ctx& c, const MatmulJob& whole) {
  MatmulJob job = whole;  // cut into panels of rows below when nothing else fits
  const runtime::DType dtype = runtime_dtype(c.in[0]->dtype);
  const uint32_t elem = element_bytes(c.out[0]->dtype);
  std::vector<Mesh> meshes = meshes_for(c, job.batch);
  std::string why;
  // The layouts a plan reads A and B in and leaves C in; 1d's rows are the row split's.
  const auto layouts = [&](const MatmulChoice& ch) {
    const uint64_t g = ch.mesh->groups, rg = ch.plan.grid_rows, cg = ch.plan.grid_cols;
    const std::string by =
        ch.mesh->name.empty()
            ? std::string(mapping_name(ch.plan.mapping))
            : fmt::format("{} x {} {}", g, mapping_name(ch.plan.mapping), ch.mesh->name);
    const bool rows = by == "1d";
    const int64_t m = int64_t(job.batch) * job.shape.m, n = job.shape.n, k = job.shape.k;
    Layout a{job.transpose_a ? k : m, job.transpose_a ? m : k, g * rg, rows ? 1 : cg,
             rows && !job.transpose_a && job.a_view.empty()
                 ? "rows"
                 : by + " A" + job.a_view + (job.transpose_a ? "^T" : "")};
    Layout b{job.transpose_b ? n : k, job.transpose_b ? k : n, rg, cg,
             by + " B" + (job.transpose_b ? "^T" : "")};
    if (job.batch > 1) b.rows *= int64_t(job.batch), b.row_parts *= g;
    Layout out{m, n, g * rg, cg, rows ? "rows" : by};
    return std::vector<Layout>{a, b, out};
  };
  // Tried in this order until one fits: operands and C resident in SRAM; C of each round of a
  // batch written to HBM; operands streamed from HBM too (summa's host placement).
  enum class Mode { Resident, COut, Streamed };
  const auto consider = [&](Mode mode) {
    MeshMatmulOptions options;
    if (mode == Mode::Streamed) options.placement = OperandPlacement::Host;
    MatmulChoice best;
    for (const Mesh& mesh : meshes)
      for (const MatmulMapping& mapping : matmul_mappings()) {
        options.mapping = mapping;
        MatmulChoice ch;
        ch.mesh = &mesh;
        const std::string key =
            fmt::format("{} {} {}x{}x{} {} {}", mesh.name, dtype_name(dtype), job.shape.m,
                        job.shape.n, job.shape.k, mapping_name(mapping), int(options.placement));
        auto found = c.memo.entries.find(key);
        if (found == c.memo.entries.end()) {
          MatmulMemo::Entry entry;
          entry.estimate = estimate_matmul(mesh.config, dtype, job.shape, mapping, options);
          if (entry.estimate.fits) entry.plan = plan_matmul(mesh.config, dtype, job.shape, options);
          found = c.memo.entries.emplace(key, std::move(entry)).first;
        }
        ch.e = found->second.estimate;
        const bool report = mesh.name.empty() && mode == Mode::Resident;
        if (!ch.e.fits) {
          if (report) why += fmt::format("; {}: {}", mapping_name(mapping), ch.e.why);
          continue;
        }
        ch.plan = found->second.plan;
        const uint64_t rounds = ceil_div(job.batch, mesh.groups);
        const std::vector<Layout> l = layouts(ch);
        // C's blocks of the earlier rounds stay beside the buffers of the current one.
        const uint64_t kept =
            mode == Mode::COut ? 0 : (rounds - 1) * l[2].block_bytes(elem) / rounds;
        if (ch.e.sram_bytes + kept > c.m.sram_bytes) {
          if (report)
            why += fmt::format("; {}: {} bytes per node, {} for tensors", mapping_name(mapping),
                               ch.e.sram_bytes + kept, c.m.sram_bytes);
          continue;
        }
        ch.cycles = double(rounds) * ch.e.cycles;
        ch.total = ch.cycles + c.move_in(0, l[0], job.a_bytes) + c.move_in(1, l[1], job.b_bytes);
        if (!best.mesh || ch.total < best.total) best = std::move(ch);
      }
    return best;
  };
  Mode mode = Mode::Resident;
  MatmulChoice best = consider(mode);
  if (!best.mesh && job.batch > 1) best = consider(mode = Mode::COut);
  if (!best.mesh) best = consider(mode = Mode::Streamed);
  // Then A's rows in panels on the whole mesh, each panel's A read from HBM and its C written
  // there, as a batch of smaller matmuls.
  uint64_t panels = 1;
  while (!best.mesh && panels < whole.shape.m) {
    panels *= 2;
    job.shape.m = uint32_t(ceil_div(whole.shape.m, panels));
    job.batch = whole.batch * panels;
    meshes = {Mesh{c.config, 1, ""}};
    best = consider(mode = Mode::COut);
  }
  if (!best.mesh)
    throw GraphError(fmt::format("{}: matmul {}x{}x{}{}: no mapping fits in SRAM{}", c.where(),
                                 job.shape.m, job.shape.n, job.shape.k,
                                 job.batch > 1 ? fmt::format(" x {}", job.batch) : "", why));
  OpCost cost;
  const std::vector<Layout> l = layouts(best);
  cost.mapping = l[2].by == "rows" ? "1d" : l[2].by;
  if (panels > 1)
    cost.mapping += fmt::format(", {} panels", panels);
  else if (job.batch > 1 && best.mesh->name.empty())
    cost.mapping += fmt::format(", {} in turn", job.batch);
  cost.nodes = best.e.nodes * best.mesh->groups;
  cost.cycles = best.cycles;
  cost.inputs = {l[0], l[1]};
  cost.outputs = {l[2]};
  const bool streamed = mode == Mode::Streamed;
  cost.gathered = {streamed || panels > 1, streamed};
  cost.move_bytes = {job.a_bytes, job.b_bytes};
  const uint64_t rounds = ceil_div(job.batch, best.mesh->groups);
  cost.work_bytes =
      best.e.sram_bytes + (mode == Mode::COut ? 0 : (rounds - 1) * l[2].block_bytes(elem) / rounds);
  cost.work_includes_operands = true;
  if (streamed) cost.streamed_hbm_bytes += job.a_bytes + job.b_bytes;
  if (panels > 1) cost.streamed_hbm_bytes += job.a_bytes;
  if (mode == Mode::COut) {
    cost.outputs_in_hbm = true;
    cost.streamed_hbm_bytes += tensor_bytes(*c.out[0]);
  }
  cost.cycles = std::max(cost.cycles, double(cost.streamed_hbm_bytes) / c.m.hbm_bytes_per_cycle);
  // The run's own copies on each node around a bf16 or cfp8 matmul (run/transfer.h): A gathered
  // into its tiles a k-step of a 16-row panel at a time, about kGatherCycles per 128 bytes; C
  // laid from its tiles into whole rows, about kScatterCycles per 32-bit word of 16 tile rows.
  // Measured on d1 with tests/runtime/graph/data/conv3x3_b32.graph.yaml: 33,000 and 9,200
  // cycles per node. Added after the choice of mapping (every mapping has them).
  if (dtype != runtime::DType::Fp32) {
    constexpr double kGatherCycles = 13, kScatterCycles = 8;
    const double nodes = double(std::max<uint64_t>(cost.nodes, 1));
    const double a = double(whole.batch) * whole.shape.m * whole.shape.k * element_bytes(dtype);
    const double out = double(whole.batch) * whole.shape.m * whole.shape.n * elem;
    const double tiling = (kGatherCycles * a / 128 + kScatterCycles * out / 32) / nodes;
    cost.cycles += tiling;
    cost.tiling = tiling;
  }
  return cost;
}

OpCost cost_matmul(const Ctx& c, bool batched) {
  const OpContext ctx = context_of(c);
  const Shape& a = c.in[0]->shape;
  const Shape& b = c.in[1]->shape;
  MatmulJob job;
  job.transpose_a = ctx.bool_attr("transpose_a");
  job.transpose_b = ctx.bool_attr("transpose_b");
  const int64_t m = a[a.size() - (job.transpose_a ? 1 : 2)];
  const int64_t k = a[a.size() - (job.transpose_a ? 2 : 1)];
  const int64_t n = b[b.size() - (job.transpose_b ? 2 : 1)];
  const int64_t lead = element_count(a) / (m * k);
  job.shape = MatmulShape{uint32_t(batched ? m : lead * m), uint32_t(n), uint32_t(k)};
  job.batch = batched ? uint64_t(lead) : 1;
  job.a_bytes = tensor_bytes(*c.in[0]);
  job.b_bytes = tensor_bytes(*c.in[1]);
  return matmul_cost(c, job);
}

// A convolution as `groups` matmuls of `shape` whose A is built from input 0 (`a_view`, e.g.
// " im2col"; "" when A is input 0 as it is) and whose B is input 1.
OpCost conv_matmul_cost(const Ctx& c, MatmulShape shape, uint64_t groups, const char* a_view) {
  MatmulJob job;
  job.shape = shape;
  job.batch = groups;
  job.a_view = a_view;
  job.a_bytes = uint64_t(job.shape.m) * job.shape.k * job.batch * element_bytes(c.in[0]->dtype);
  job.b_bytes = tensor_bytes(*c.in[1]);
  return matmul_cost(c, job);
}

OpCost cost_conv2d(const Ctx& c) {
  const OpContext ctx = context_of(c);
  const Shape& x = c.in[0]->shape;
  const Shape& w = c.in[1]->shape;
  const auto stride = ctx.int2_attr("stride"), pad = ctx.int2_attr("padding"),
             dil = ctx.int2_attr("dilation");
  const int64_t groups = ctx.int_attr("groups");
  Conv2dShape s;
  s.n = uint32_t(x[0]), s.h = uint32_t(x[1]), s.w = uint32_t(x[2]), s.c = uint32_t(x[3] / groups);
  s.r = uint32_t(w[0]), s.s = uint32_t(w[1]), s.k = uint32_t(w[3] / groups);
  s.stride_h = uint32_t(stride[0]), s.stride_w = uint32_t(stride[1]);
  s.pad_h = uint32_t(pad[0]), s.pad_w = uint32_t(pad[1]);
  s.dilation_h = uint32_t(dil[0]), s.dilation_w = uint32_t(dil[1]);
  const bool plain = s.r == 1 && s.s == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h == 0 &&
                     s.pad_w == 0 && groups == 1;
  // A 1x1 convolution of stride 1 reads its input as it is; others read its windows (im2col),
  // R S times the bytes for a 3x3, placed from the input by pushes.
  return conv_matmul_cost(c, mesh::Conv2dKernel::matmul_shape(s), uint64_t(groups),
                          plain ? "" : " im2col");
}

// The gradients of conv2d run as one matmul per group as conv2d does (run/run.cpp): dx =
// windows of dy [N H W, R S K/G] x w [R S K/G, C/G]; dw = im2col(x)^T [R S C/G, N P Q] x dy
// [N P Q, K/G]. Their A is built by pushes from dy or x, as conv2d's im2col.
OpCost cost_conv2d_grad(const Ctx& c, bool weight) {
  const OpContext ctx = context_of(c);
  const int64_t groups = ctx.int_attr("groups");
  const Shape& out = c.out[0]->shape;
  const auto g = [&](int64_t v) { return uint32_t(v / groups); };
  if (!weight) {  // dy [N, P, Q, K], w [R, S, C/G, K] -> dx [N, H, W, C]
    const Shape& w = c.in[1]->shape;
    return conv_matmul_cost(
        c, {uint32_t(out[0] * out[1] * out[2]), g(out[3]), uint32_t(w[0] * w[1]) * g(w[3])},
        uint64_t(groups), " windows of dy");
  }
  const Shape& dy = c.in[1]->shape;  // x [N, H, W, C], dy [N, P, Q, K] -> dw [R, S, C/G, K]
  return conv_matmul_cost(
      c, {uint32_t(out[0] * out[1] * out[2]), g(out[3]), uint32_t(dy[0] * dy[1] * dy[2])},
      uint64_t(groups), " im2col^T");
}

// ---- SIMD ops ----

double lanes(const PlanMachine& m, DType t) {
  return double(m.vlen_bytes) / std::max<uint32_t>(2, element_bytes(t));
}

// A push tree over `n` nodes carrying `bytes` per push: log2 n pushes deep, n - 1 hops in all.
double tree_cycles(const PlanMachine& m, uint64_t n, double bytes) {
  if (n <= 1) return 0;
  return log2_ceil(n) * (kPushCycles + std::ceil(bytes / m.link_bytes)) +
         double(n - 1) * m.hop_cycles;
}

// The SIMD work of `elements` per node at `flop_per_element`, against the SRAM ports.
double simd_cycles(const PlanMachine& m, DType t, double elements, double flop_per_element,
                   double read_bytes, double write_bytes) {
  const double compute = elements * std::max(1.0, flop_per_element) / lanes(m, t);
  const double sram = std::max(read_bytes / (2.0 * m.vlen_bytes), write_bytes / m.vlen_bytes);
  return std::max(compute, sram) + kCallCycles + m.barrier_cycles;
}

// Small operands (bias, gamma, statistics) are broadcast whole to every node.
Layout everywhere(const Shape& s) {
  Layout l = matrix_view(s);
  l.by = "all";
  return l;
}

OpCost cost_simd(const Ctx& c, const KindRow& kind) {
  OpCost cost;
  // The largest input leads: the op runs where its elements are when they are in SRAM.
  size_t lead = 0;
  for (size_t j = 1; j < c.in.size(); ++j)
    if (element_count(c.in[j]->shape) > element_count(c.in[lead]->shape)) lead = j;
  const Shape& lead_shape = c.in[lead]->shape;
  // Pooling reads whole image rows (its halo aside) and ids are gathered by rows, so both take
  // the row split.
  const bool where_it_is = c.now[lead] && kind.kind != Kind::Pool &&
                           kind.kind != Kind::PoolGradient && c.in[lead]->dtype != DType::Int32;
  const Layout lay = where_it_is ? *c.now[lead] : row_split(lead_shape, c.m.nodes);
  cost.mapping = lay.by == "rows" ? "simd rows" : "simd in " + lay.by;
  cost.nodes = lay.parts();
  const uint64_t lead_elements = uint64_t(element_count(lead_shape));
  double read = 0;
  for (size_t j = 0; j < c.in.size(); ++j) {
    const bool full = uint64_t(element_count(c.in[j]->shape)) == lead_elements;
    Layout want = full ? lay : everywhere(c.in[j]->shape);
    if (full)
      want.rows = matrix_view(c.in[j]->shape).rows, want.cols = matrix_view(c.in[j]->shape).cols;
    read += double(want.block_bytes(element_bytes(c.in[j]->dtype)));
    cost.inputs.push_back(want);
    cost.gathered.push_back(false);
  }
  double write = 0;
  for (const Tensor* t : c.out) {
    Layout l =
        uint64_t(element_count(t->shape)) == lead_elements ? lay : row_split(t->shape, c.m.nodes);
    if (kind.kind == Kind::Loss) l = Layout{1, 1, 1, 1, "rows"};
    if (l.by == lay.by) l.rows = matrix_view(t->shape).rows, l.cols = matrix_view(t->shape).cols;
    write += double(l.block_bytes(element_bytes(t->dtype)));
    cost.outputs.push_back(l);
  }
  const double elements = double(lay.block_bytes(1));
  const double work = double(std::max<uint64_t>(lead_elements, element_count(c.out[0]->shape)));
  const DType t = c.in[lead]->dtype == DType::Int32 ? c.out[0]->dtype : c.in[lead]->dtype;
  cost.cycles = simd_cycles(c.m, t, elements, c.facts.flop / work, read, write);
  const uint64_t rows_here = ceil_div(uint64_t(lay.rows), lay.row_parts);
  switch (kind.kind) {
    case Kind::AllReduce: {
      // groups.h: a reduce-scatter and an all-gather between the nodes at the same place of
      // the G groups, each moving (G - 1) / G of every node's block, which crosses the cut
      // between neighbouring groups (as many links as the group is high or wide); between
      // them G - 1 adds on a G-th of the block, one kernel call each.
      const double groups = double(context_of(c).int_attr("groups"));
      const double block = double(lay.block_bytes(element_bytes(c.in[0]->dtype)));
      const double side = std::max<double>(1, std::max(c.m.width, c.m.height));
      cost.cycles = cost.cycles / groups + (groups - 2) * (kCallCycles + c.m.barrier_cycles);
      cost.cycles += 2 * ((groups - 1) / groups * block * side / (2 * c.m.link_bytes) +
                          std::sqrt(groups) * double(c.m.width + c.m.height) * c.m.hop_cycles);
      break;
    }
    case Kind::Row:
    case Kind::Loss:
      // Rows cut over col_parts nodes: each reduction's partials go up a tree and back.
      cost.cycles += 2.0 * kind.reductions * tree_cycles(c.m, lay.col_parts, 4.0 * rows_here);
      // The column sums: fp32 partials of a node's columns up a tree of the row blocks.
      cost.cycles +=
          kind.column_sums *
          tree_cycles(c.m, lay.row_parts, 4.0 * double(ceil_div(lay.cols, lay.col_parts)));
      if (kind.kind == Kind::Loss)  // the loss of every row, summed on one node
        cost.cycles += tree_cycles(c.m, lay.parts(), 4);
      break;
    case Kind::Pool: {
      const OpContext ctx = context_of(c);
      const auto k = ctx.int2_attr("kernel"), s = ctx.int2_attr("stride");
      const Shape& x = lead_shape;  // NHWC
      const double halo_rows = double(std::max<int64_t>(0, k[0] - s[0]));
      const double halo = halo_rows * double(x[2] * x[3] * element_bytes(c.in[0]->dtype));
      cost.cycles += lay.row_parts > 1 ? std::ceil(halo / c.m.link_bytes) + c.m.hop_cycles : 0;
      cost.outputs[0] = row_split(c.out[0]->shape, c.m.nodes);
      break;
    }
    case Kind::PoolGradient: {
      // runtime/ops/pool_backward.h: per pixel, register and window holding the pixel, a chain
      // of dependent loads and SIMD ops (max: a pass over the window's positions, then its
      // masks) and the window's addresses; latency, not SIMD throughput, sets the pace.
      const OpContext ctx = context_of(c);
      const Shape& x = c.in[1]->shape;  // NHWC
      const bool global = c.op.type == "global_avg_pool_backward";
      const bool max = c.op.type == "max_pool_backward";
      const std::vector<int64_t> k =
          global ? std::vector<int64_t>{x[1], x[2]} : ctx.int2_attr("kernel");
      const std::vector<int64_t> s = global ? std::vector<int64_t>{1, 1} : ctx.int2_attr("stride");
      const double windows =
          global ? 1.0 : double(k[0]) / double(s[0]) * double(k[1]) / double(s[1]);
      const isa::TimingParams& timing = c.config.node.core.timing_params;
      using T = isa::TimingClass;
      const double load = timing.of(T::VLoad).latency, simd = timing.of(T::Simd).latency,
                   alu = timing.of(T::Alu).latency;
      const double pieces = c.in[0]->dtype == DType::Bf16 ? 2 : 1;
      const double visit = max ? double(k[0] * k[1]) * (load + pieces * simd + 3 * alu) +
                                     pieces * 10 * simd + 12 * alu
                               : load + pieces * simd + 12 * alu;
      const double registers = std::ceil(double(ceil_div(uint64_t(lay.cols), lay.col_parts)) /
                                         lanes(c.m, c.in[0]->dtype));
      cost.cycles += double(rows_here) * registers * windows * visit;
      const double halo_rows = global ? 0.0 : double(std::max<int64_t>(0, k[0] - s[0]));
      const double halo = halo_rows * double(x[2] * x[3] * element_bytes(c.in[0]->dtype));
      cost.cycles += lay.row_parts > 1 ? std::ceil(halo / c.m.link_bytes) + c.m.hop_cycles : 0;
      cost.outputs[0] = row_split(c.out[0]->shape, c.m.nodes);
      break;
    }
    case Kind::GlobalPool: {
      // Each image's partial sums over the nodes that hold its pixels, then one row per image.
      const Shape& x = lead_shape;
      const uint64_t per_image = std::max<uint64_t>(1, lay.parts() / uint64_t(x[0]));
      cost.cycles += tree_cycles(c.m, per_image, 4.0 * double(x[3]));
      cost.outputs[0] = row_split(c.out[0]->shape, c.m.nodes);
      break;
    }
    case Kind::ColumnSum: {
      // The sums over rows (runtime/ops/global_avg_pool.h with sum), one thread per node: its
      // rows, four registers a pass, a load's latency and the adds (bf16: and widenings) per
      // row of a pass; then on the node of the output's column block, per register a chain of
      // an add (and the loop's two instructions) per node's partial. The batchnorms' forms that
      // sum twice say so (column_sums); a sum over every axis sums the row of C sums again as a
      // column. Their elementwise steps are in simd_cycles from the op's FLOP.
      const Layout& x = lay;
      const isa::TimingParams& timing = c.config.node.core.timing_params;
      const double vl = timing.of(isa::TimingClass::VLoad).latency,
                   sl = timing.of(isa::TimingClass::Simd).latency;
      const double parts = c.in[lead]->dtype == DType::Bf16 ? 2 : 1;
      const auto sums = [&](double rows, double row_parts, double cols_here) {
        const double registers = std::ceil(cols_here / lanes(c.m, c.in[lead]->dtype));
        return rows / row_parts * std::ceil(registers / 4) * (vl + 4 * parts * parts + 3) +
               registers * parts * (row_parts * (sl + 2) + vl + sl) +
               tree_cycles(c.m, uint64_t(row_parts), 4.0 * cols_here);
      };
      // The run sums on a split of its own (more column blocks on a large mesh).
      const ops::RowSplit s = ops::split_for_row_sums(
          c.config, c.in[lead]->dtype == DType::Bf16 ? runtime::DType::Bf16 : runtime::DType::Fp32,
          ops::ImageShape{1, uint32_t(x.rows), 1, uint32_t(x.cols)},
          row_sums_gather_bytes(c.config));
      const double cols_here = double(ceil_div(uint64_t(x.cols), s.col_parts));
      cost.cycles +=
          std::max(1, kind.column_sums) * sums(double(x.rows), double(s.row_parts), cols_here);
      for (size_t o = 0; o < c.out.size(); ++o)
        if (uint64_t(element_count(c.out[o]->shape)) != lead_elements)
          cost.outputs[o] = row_split(c.out[o]->shape, c.m.nodes);
      if (element_count(c.out[0]->shape) == 1 && x.cols > 1)
        cost.cycles += sums(double(x.cols), double(std::min<uint64_t>(c.m.nodes, x.cols)), 1) +
                       redistribution_cycles(c.m, 4 * uint64_t(x.cols));
      break;
    }
    case Kind::Scatter: {
      // runtime/ops/embedding_backward.h, one thread per node: zero its table rows' fp32
      // accumulators, scan every id, pull and add the rows whose id is here (ids spread
      // evenly), round bf16 at the end. A register's add is a chain: the row's load, the
      // widenings, the accumulator's load, the add, the store.
      const isa::TimingParams& timing = c.config.node.core.timing_params;
      const double vl = timing.of(isa::TimingClass::VLoad).latency,
                   sl = timing.of(isa::TimingClass::Simd).latency,
                   cvt = timing.of(isa::TimingClass::Convert).latency;
      const Tensor& dy = *c.in[1];
      const bool bf16 = dy.dtype == DType::Bf16;
      const Layout out = row_split(c.out[0]->shape, c.m.nodes);
      const double registers =
          std::ceil(double(ceil_div(uint64_t(out.cols), out.col_parts)) / lanes(c.m, dy.dtype));
      const double rows = double(matrix_view(dy.shape).rows);
      const double table_rows = std::ceil(double(out.rows) / double(out.row_parts));
      const double matched = std::ceil(rows / double(out.row_parts));
      const double add = 2 * vl + sl + (bf16 ? 2 * cvt : 0) + 6;
      cost.cycles = kCallCycles + rows * 3 + matched * registers * add +
                    table_rows * registers * (bf16 ? 2 * 2 + vl + 2 * cvt + 4 : 2) +
                    std::ceil(matched / 16) * tree_cycles(c.m, 2, double(tensor_bytes(dy)) / rows);
      cost.outputs[0] = out;
      break;
    }
    case Kind::Gather: {
      // The table stays in HBM; each node pulls its rows.
      cost.gathered[1] = true;
      cost.inputs[1] = matrix_view(c.in[1]->shape);
      cost.outputs[0] = row_split(c.out[0]->shape, c.m.nodes);
      cost.streamed_hbm_bytes = tensor_bytes(*c.out[0]);
      cost.cycles =
          std::max(cost.cycles, double(cost.streamed_hbm_bytes) / c.m.hbm_bytes_per_cycle);
      break;
    }
    default:
      break;
  }
  return cost;
}

// ---- layout ops ----

// A redistribution into the row split (the op's whole cost).
OpCost moved(const Ctx& c) {
  OpCost cost;
  cost.mapping = "redistribute";
  cost.nodes = c.m.nodes;
  for (const Tensor* t : c.in) {
    cost.inputs.push_back(row_split(t->shape, c.m.nodes));
    cost.gathered.push_back(false);
  }
  uint64_t bytes = 0;
  for (size_t j = 0; j < c.in.size(); ++j)
    if (c.now[j]) cost.inputs[j] = *c.now[j];
  for (const Tensor* t : c.out) {
    cost.outputs.push_back(row_split(t->shape, c.m.nodes));
    bytes += tensor_bytes(*t);
  }
  cost.cycles = redistribution_cycles(c.m, bytes) + c.m.barrier_cycles;
  cost.moves = cost.cycles;
  return cost;
}

// Each node keeps its own elements: outputs in `out`, nothing moves.
OpCost view(const std::vector<Layout>& in, std::vector<Layout> out) {
  OpCost cost;
  cost.mapping = "view";
  cost.nodes = in[0].parts();
  cost.inputs = in;
  cost.gathered.assign(in.size(), false);
  cost.outputs = std::move(out);
  return cost;
}

// Row-split input j as it is now, or as it will be loaded.
Layout current(const Ctx& c, size_t j) {
  return c.now[j] ? *c.now[j] : row_split(c.in[j]->shape, c.m.nodes);
}

Layout with_view(Layout l, const Shape& s) {
  const Layout v = matrix_view(s);
  l.rows = v.rows, l.cols = v.cols;
  return l;
}

OpCost cost_layout(const Ctx& c, Kind kind) {
  const OpContext ctx = context_of(c);
  const Layout in = current(c, 0);
  const bool whole_rows = in.col_parts == 1 && in.rows % int64_t(in.row_parts) == 0;
  const int64_t rank = int64_t(c.in[0]->shape.size());
  switch (kind) {
    case Kind::Reshape: {
      // A view when every node keeps whole rows: the last axis is cut into rows (each node's
      // rows become rows x (in.cols / out.cols)), or evenly split rows are joined.
      const Layout out = matrix_view(c.out[0]->shape);
      const int64_t per_node = in.rows / int64_t(in.row_parts) * in.cols;
      const bool cut = in.col_parts == 1 && in.cols % out.cols == 0;
      const bool joined =
          whole_rows && per_node % out.cols == 0 && out.rows % int64_t(in.row_parts) == 0;
      if (cut || joined) return view({in}, {with_view(in, c.out[0]->shape)});
      return moved(c);
    }
    case Kind::Transpose: {
      // Size-1 axes aside, an order that keeps the axes in place moves nothing.
      const std::vector<int64_t> perm = ctx.ints_attr("perm");
      int64_t last = -1;
      bool kept = true;
      for (int64_t axis : perm) {
        if (c.in[0]->shape[size_t(axis)] == 1) continue;
        kept &= axis > last;
        last = axis;
      }
      if (kept && whole_rows) return view({in}, {with_view(in, c.out[0]->shape)});
      return moved(c);
    }
    case Kind::Split:
    case Kind::Concat: {
      int64_t axis = ctx.int_attr("axis");
      if (axis < 0) axis += rank;
      std::vector<Layout> ins;
      bool same = whole_rows && axis == rank - 1;
      for (size_t j = 0; j < c.in.size(); ++j) {
        const Layout l = current(c, j);
        same &=
            l.rows == in.rows && l.row_parts == in.row_parts && l.col_parts == 1 && l.by == in.by;
        ins.push_back(l);
      }
      if (!same) return moved(c);
      std::vector<Layout> outs;
      for (const Tensor* t : c.out) outs.push_back(with_view(in, t->shape));
      OpCost cost = view(ins, outs);
      if (kind == Kind::Concat) {  // a local copy into one block per node
        cost.mapping = "local copy";
        const double bytes = double(outs[0].block_bytes(element_bytes(c.out[0]->dtype)));
        cost.cycles = simd_cycles(c.m, c.out[0]->dtype, 0, 0, bytes, bytes);
      }
      return cost;
    }
    default:
      return moved(c);
  }
}

}  // namespace

double PlanMachine::peak_flop(DType t) const {
  return t == DType::Bf16 ? peak_flop_bf16 : t == DType::Cfp8 ? peak_flop_cfp8 : peak_flop_fp32;
}

PlanMachine plan_machine(const hw::HardwareConfig& config) {
  PlanMachine m;
  const hw::MachineParams params = hw::machine_params(config);
  m.width = uint32_t(params.width), m.height = uint32_t(params.height);
  m.nodes = config.runtime_nodes().size();  // a data-parallel group's, or the machine's
  m.sram_bytes = config.node.core.sram_bytes - kReservedSramBytes;
  m.vlen_bytes = config.node.core.vlen_bytes;
  m.link_bytes = config.noc.link_bytes_per_cycle;
  m.hop_cycles = config.noc.router_latency_cycles;
  m.barrier_cycles = params.barrier_latency
                         ? double(params.barrier_latency)
                         : 2.0 * (params.width + params.height) * params.noc.router_latency;
  m.clock_ghz = config.node.core.clock_ghz;
  const double gb_per_s = std::min(hw::host_hbm_gb_per_s(config, hw::Scale::Machine),
                                   hw::host_link_gb_per_s(config, hw::Scale::Machine));
  m.hbm_bytes_per_cycle = gb_per_s / m.clock_ghz;
  m.hbm_bytes = uint64_t(hw::host_capacity_gib(config, hw::Scale::Machine) * double(1ull << 30));
  const double n = double(m.nodes);
  m.peak_flop_bf16 = n * hw::peak_flop_per_cycle(config, hw::Precision::Bf16);
  m.peak_flop_cfp8 = n * hw::peak_flop_per_cycle(config, hw::Precision::Cfp8);
  m.peak_flop_fp32 = n * hw::peak_flop_per_cycle(config, hw::Precision::Fp32);
  return m;
}

uint64_t Layout::block_bytes(uint32_t element) const {
  return ceil_div(uint64_t(rows), row_parts) * ceil_div(uint64_t(cols), col_parts) * element;
}

bool Layout::operator==(const Layout& o) const {
  return rows == o.rows && cols == o.cols && row_parts == o.row_parts && col_parts == o.col_parts &&
         by == o.by;
}

std::string Layout::text() const {
  return fmt::format("{} {}x{}", by, row_parts, col_parts);
}

Layout matrix_view(const Shape& s) {
  Layout l;
  l.cols = s.empty() ? 1 : s.back();
  l.rows = element_count(s) / l.cols;
  return l;
}

Layout row_split(const Shape& s, uint64_t nodes) {
  Layout l = matrix_view(s);
  l.row_parts = std::min<uint64_t>(uint64_t(l.rows), nodes);
  l.col_parts = std::min<uint64_t>(uint64_t(l.cols), nodes / l.row_parts);
  return l;
}

double redistribution_cycles(const PlanMachine& m, uint64_t bytes) {
  const double per_node = double(bytes) / double(m.nodes) / m.link_bytes;
  const double cut = double(bytes) / 4 / (std::min(m.width, m.height) * m.link_bytes);
  return std::ceil(std::max(per_node, cut)) + double(m.width + m.height) * m.hop_cycles;
}

OpCost cost_op(const PlanMachine& m, const hw::HardwareConfig& config, const Graph& g, const Op& op,
               const OpFacts& facts, const InputLayouts& now, MatmulMemo& memo) {
  Ctx c{m, config, g, op, facts, now, memo, {}, {}};
  for (const std::string& name : op.inputs) c.in.push_back(g.find_tensor(name));
  for (const std::string& name : op.outputs) c.out.push_back(g.find_tensor(name));
  const KindRow& kind = kinds().at(op.type);
  switch (kind.kind) {
    case Kind::Matmul:
      return cost_matmul(c, false);
    case Kind::BatchMatmul:
      return cost_matmul(c, true);
    case Kind::Conv2d:
      return cost_conv2d(c);
    case Kind::Conv2dGradInput:
    case Kind::Conv2dGradWeight:
      return cost_conv2d_grad(c, kind.kind == Kind::Conv2dGradWeight);
    case Kind::Reshape:
    case Kind::Transpose:
    case Kind::Concat:
    case Kind::Split:
      return cost_layout(c, kind.kind);
    default:
      return cost_simd(c, kind);
  }
}

std::vector<std::string> costed_op_types() {
  std::vector<std::string> out;
  for (const auto& [name, row] : kinds()) out.push_back(name);
  return out;
}

}  // namespace dojosim::runtime::graph
