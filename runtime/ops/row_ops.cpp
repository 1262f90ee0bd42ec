// SPDX-License-Identifier: MIT
#include "runtime/ops/row_ops.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>

#include "hw/node/node.h"
#include "isa/global_address.h"
#include "isa/instructions.h"
#include "isa/lanes.h"
#include "isa/vector_math.h"
#include "runtime/ops/embedding.h"
#include "runtime/ops/program.h"
#include "runtime/ops/schedule.h"

namespace dojosim::runtime::ops {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
// The cross-entropy's semaphore for the row groups' sums (rounds use 1, 2, 3, the backward
// layernorm's 4 too) and the column sums' tree's.
constexpr int kLossSemaphore = 4;
constexpr int kTreeSemaphore = 5;

uint32_t float_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// The machine's vmax (isa/lanes.h): IEEE maximumNumber.
float vmax(float a, float b) {
  return isa::lanes::max_number(a, b);
}

// ---- What each op does in its rounds ------------------------------------------------------
// A round reduces every row (sum or max of a per-piece value), exchanges the partials between
// the nodes of a row and turns the totals into one fp32 per row (ROWVAL1, ROWVAL2).
// Vector registers: v2 the x piece (fp32), v5 gamma's, v8 beta's, v10 the mask, v11 scratch,
// v16 the accumulator / totals, v17 and v18 the row's values of rounds 1 and 2, v19 scale,
// v20 1/D, v21 epsilon. A round with `second` also sums into v15 in the same pass and stores
// that partial into the next round's slot, which then has no pass (`pass` false), only the
// exchange; `row_init` runs at each row's start (after the rows' values), a6 walks the labels.
// The backward ops: v3 dy's piece (v6 its bf16 register), v28 and v29 the rows' values of
// rounds 3 and 4, v30 and v31 the column sums' accumulators (dgamma, dbeta).
struct Round {
  bool max;                           // max (else sum)
  std::vector<const char*> piece;     // accumulate one piece into v16
  std::vector<const char*> finalize;  // totals in v16 -> the row's value in v16
  std::vector<const char*> row_init = {};
  bool second = false, pass = true;
  bool dy = false, gamma = false;  // the pass also loads dy's piece (v3), gamma's (v5)
  bool masked = true;              // the pass loads the op's mask (v10)
};
struct OpShape {
  std::string_view name;
  std::vector<Round> rounds;
  std::vector<const char*> output;  // y of one piece, left in `result`
  const char* result;
  bool gamma, beta;
  int mask;  // 0 none, 1 additive (0 / -inf), 2 multiplicative (1 / 0)
  bool loss = false;  // no output pass: the rows' values of the last round summed to one loss
  bool labels = false;                        // reads labels (the one-hot's constants in v24..v27)
  bool dy = false;                            // the output pass loads dy's piece (v3)
  std::vector<const char*> output_init = {};  // at each row's start in the output pass
  // The mask as a row of pieces (in the work area, walked by s5) rather than from the table by
  // each row's valid count: the backward ops, which have no causal limit.
  bool mask_row = false;
  // Column sums: 0, 1 (dgamma) or 2 (and dbeta); `output` adds the piece's terms to their
  // accumulators v30 (and v31), loaded before it and stored after.
  int sums = 0;
};

const OpShape& shape_of(RowOp op) {
  static const OpShape kSoftmax{
      "softmax",
      {{true, {"vmul.fp32 v11, v2, v19", "vadd.fp32 v11, v11, v10", "vmax.fp32 v16, v16, v11"}, {}},
       {false,
        {"vmul.fp32 v11, v2, v19", "vadd.fp32 v11, v11, v10", "vsub.fp32 v11, v11, v17",
         "vexp.fp32 v11, v11", "vadd.fp32 v16, v16, v11"},
        {"vrecip.fp32 v16, v16"}}},
      {"vmul.fp32 v12, v2, v19", "vadd.fp32 v12, v12, v10", "vsub.fp32 v12, v12, v17",
       "vexp.fp32 v12, v12", "vmul.fp32 v12, v12, v18"},
      "v12",
      false,
      false,
      1};
  static const OpShape kLayerNorm{
      "layernorm",
      {{false, {"vadd.fp32 v16, v16, v2"}, {"vmul.fp32 v16, v16, v20"}},
       {false,
        {"vsub.fp32 v11, v2, v17", "vmul.fp32 v11, v11, v10", "vfma.fp32 v16, v11, v11"},
        {"vmul.fp32 v16, v16, v20", "vadd.fp32 v16, v16, v21", "vrsqrt.fp32 v16, v16"}}},
      {"vsub.fp32 v12, v2, v17", "vmul.fp32 v12, v12, v18", "vfma.fp32 v8, v12, v5"},
      "v8",
      true,
      true,
      2};
  static const OpShape kRmsNorm{
      "rmsnorm",
      {{false,
        {"vfma.fp32 v16, v2, v2"},
        {"vmul.fp32 v16, v16, v20", "vadd.fp32 v16, v16, v21", "vrsqrt.fp32 v16, v16"}}},
      {"vmul.fp32 v12, v2, v17", "vmul.fp32 v12, v12, v5"},
      "v12",
      true,
      false,
      0};
  // Round 2's pass also sums x times a one-hot of the label into v15 (round 3's partial):
  // v22 the label's column in this block, v23 the piece's columns, v24 LANES, v26 1 and v27 0
  // (all fp32: exact integers); one-hot = max(1 - d^2, 0) for d = column - label, so exactly
  // one lane of the row adds x, the others 0. Its instructions sit between the exponential's,
  // which they do not depend on. No address depends on a label: the cycles do not depend on
  // them (nor on sim.values). In round 3's finalize a5 points at the rows' slot of ROWVAL3 and
  // t4 is SLOTBYTES, so the rows' m (ROWVAL1) and log S (ROWVAL2) are two and one slots below.
  static const OpShape kCrossEntropy{
      "softmax_cross_entropy",
      {{true, {"vadd.fp32 v11, v2, v10", "vmax.fp32 v16, v16, v11"}, {}},
       {false,
        {"vadd.fp32 v11, v2, v10", "vsub.fp32 v12, v23, v22", "vsub.fp32 v11, v11, v17",
         "vmul.fp32 v12, v12, v12", "vexp.fp32 v11, v11", "vsub.fp32 v12, v26, v12",
         "vmax.fp32 v12, v12, v27", "vfma.fp32 v15, v2, v12", "vadd.fp32 v23, v23, v24",
         "vadd.fp32 v16, v16, v11"},
        {"vlog.fp32 v16, v16"},
        {"vbcast.fp32 v15, zero", "lw      t0, 0(a6)", "vbcast.fp32 v22, t0",
         "vsub.fp32 v22, v22, v25", "ld      t0, LANEIDX(s1)", "vle     v23, 0(t0)",
         "addi    a6, a6, 4"},
        true},
       {false,
        {},
        {"sub     t0, a5, t4", "vle     v12, 0(t0)", "sub     t0, t0, t4", "vle     v13, 0(t0)",
         "vsub.fp32 v16, v13, v16", "vadd.fp32 v16, v16, v12"},
        {},
        false,
        false}},
      {},
      "",
      false,
      false,
      1,
      true,
      true};
  // The backward ops (row_ops.h gives their formulas).
  static const OpShape kSoftmaxBackward = [] {
    Round sum{false, {"vfma.fp32 v16, v3, v2"}, {}};
    sum.dy = true;
    OpShape o{"softmax_backward",
              {sum},
              {"vsub.fp32 v12, v3, v17", "vmul.fp32 v12, v12, v2", "vmul.fp32 v12, v12, v19"},
              "v12",
              false,
              false,
              0};
    o.dy = true;
    return o;
  }();
  // Rounds 1 and 2 are the forward's (mean, r); round 3 sums g = dy gamma into v16 and
  // g xhat into v15 in one pass (round 4 only exchanges those).
  static const OpShape kLayerNormBackward = [] {
    OpShape o = kLayerNorm;
    o.name = "layernorm_backward";
    Round sums{false,
               {"vsub.fp32 v12, v2, v17", "vmul.fp32 v13, v3, v5", "vmul.fp32 v12, v12, v18",
                "vadd.fp32 v16, v16, v13", "vfma.fp32 v15, v13, v12"},
               {"vmul.fp32 v16, v16, v20"},
               {"vbcast.fp32 v15, zero"},
               true};
    sums.dy = sums.gamma = true;
    sums.masked = false;  // g is 0 past the row's end (dy and gamma are)
    o.rounds.push_back(sums);
    o.rounds.push_back({false, {}, {"vmul.fp32 v16, v16, v20"}, {}, false, false});
    o.rounds[0].masked = false;  // the sum of x: its padding is 0
    o.mask_row = true;
    // xhat (v12) and g (v13) interleaved, the column sums' terms among them (v30 += dy xhat,
    // v31 += dy), dx masked past the row's end.
    o.output = {"vsub.fp32 v12, v2, v17",  "vmul.fp32 v13, v3, v5",   "vmul.fp32 v12, v12, v18",
                "vsub.fp32 v13, v13, v28", "vadd.fp32 v31, v31, v3",  "vmul.fp32 v11, v12, v29",
                "vfma.fp32 v30, v3, v12",  "vsub.fp32 v13, v13, v11", "vmul.fp32 v13, v13, v18",
                "vmul.fp32 v13, v13, v10"};
    o.result = "v13";
    o.beta = false;
    o.dy = true;
    o.sums = 2;
    return o;
  }();
  // Round 2 sums g x and turns it into k = mean(g x) r r (r, round 1's value, one slot below).
  static const OpShape kRmsNormBackward = [] {
    OpShape o = kRmsNorm;
    o.name = "rmsnorm_backward";
    Round gx{false,
             {"vmul.fp32 v13, v3, v5", "vfma.fp32 v16, v13, v2"},
             {"vmul.fp32 v16, v16, v20", "sub     t0, a5, t4", "vle     v12, 0(t0)",
              "vmul.fp32 v16, v16, v12", "vmul.fp32 v16, v16, v12"}};
    gx.dy = gx.gamma = true;
    o.rounds.push_back(gx);
    // x r (v12), g (v13), x k (v11); v30 += dy x r among them.
    o.output = {"vmul.fp32 v12, v2, v17", "vmul.fp32 v13, v3, v5",   "vmul.fp32 v11, v2, v18",
                "vfma.fp32 v30, v3, v12", "vsub.fp32 v13, v13, v11", "vmul.fp32 v13, v13, v17"};
    o.result = "v13";
    o.dy = true;
    o.sums = 1;
    return o;
  }();
  // The loss's rounds 1 and 2 with 1/S instead of log S; the output pass builds the one-hot as
  // the loss's round 2 does (v22 the label's column in this block, v23 the piece's columns).
  static const OpShape kCrossEntropyBackward = [] {
    OpShape o{"softmax_cross_entropy_backward",
              {{true, {"vadd.fp32 v11, v2, v10", "vmax.fp32 v16, v16, v11"}, {}},
               {false,
                {"vadd.fp32 v11, v2, v10", "vsub.fp32 v11, v11, v17", "vexp.fp32 v11, v11",
                 "vadd.fp32 v16, v16, v11"},
                {"vrecip.fp32 v16, v16"}}},
              {"vadd.fp32 v11, v2, v10", "vsub.fp32 v12, v23, v22", "vsub.fp32 v11, v11, v17",
               "vmul.fp32 v12, v12, v12", "vexp.fp32 v11, v11", "vsub.fp32 v12, v26, v12",
               "vmul.fp32 v11, v11, v18", "vmax.fp32 v12, v12, v27", "vadd.fp32 v23, v23, v24",
               "vsub.fp32 v11, v11, v12", "vmul.fp32 v11, v11, v19"},
              "v11",
              false,
              false,
              1};
    o.labels = true;
    o.mask_row = true;
    o.output_init = {"lw      t0, 0(a4)",       "vbcast.fp32 v22, t0", "vsub.fp32 v22, v22, v25",
                     "ld      t0, LANEIDX(s1)", "vle     v23, 0(t0)",  "addi    a4, a4, 4"};
    return o;
  }();
  // In the enum's order.
  static const OpShape* const kShapes[] = {
      &kSoftmax,         &kLayerNorm,         &kRmsNorm,         &kCrossEntropy,
      &kSoftmaxBackward, &kLayerNormBackward, &kRmsNormBackward, &kCrossEntropyBackward};
  return *kShapes[static_cast<size_t>(op)];
}

// ---- The work area and the per-node arguments ----------------------------------------------
struct WorkMap {
  uint64_t masks = 0, valid = 0, peers = 0, gather = 0, rowval = 0, slot_bytes = 0;
  uint64_t loss_gather = 0, loss_mine = 0, lane_index = 0, end = 0;  // the cross-entropy's
  // The column sums: per sum acc_regs fp32 registers (an even count, so a bf16 sum converts
  // pairs), then one slot of all sums per tree level for the children's partials.
  uint64_t acc = 0, acc_regs = 0, sums_bytes = 0, tree = 0;
  uint64_t mask_row = 0;  // a row's pieces' masks (OpShape::mask_row)
};
// fp32 pieces of the longest block row (a bf16 register is two).
uint64_t pieces_per_row(const RowSplit& s) {
  uint64_t regs = 0;
  for (size_t b = 0; b < s.blocks(); ++b) regs = std::max<uint64_t>(regs, s.chunks(b));
  return regs * (s.dtype == DType::Bf16 ? 2 : 1);
}
// Tree levels of the column sums over n row blocks: ceil(log2 n).
uint32_t tree_levels(uint32_t n) {
  uint32_t levels = 0;
  while ((1u << levels) < n) ++levels;
  return levels;
}
// Row block i of n in the column sums' tree: its children i + 1, i + 2, i + 4, ... (slots 0, 1,
// 2, ...) while i is a multiple of twice the step; its parent i - 2^k (k its lowest set bit),
// where it lands in slot k.
struct TreeNode {
  uint32_t children = 0, parent = 0, slot = 0;
};
TreeNode tree_node(uint32_t i, uint32_t n) {
  TreeNode t;
  while (i % (2u << t.children) == 0 && i + (1u << t.children) < n) ++t.children;
  if (i > 0) {
    while (!(i & (1u << t.slot))) ++t.slot;
    t.parent = i - (1u << t.slot);
  }
  return t;
}
// The loss gradient's factor: scale, times fp32(1 / rows) for the mean (one fp32 product).
float gradient_factor(const RowOpParams& p, uint32_t rows) {
  return p.mean ? p.scale * (1.0f / static_cast<float>(rows)) : p.scale;
}
WorkMap work_map(RowOp op, const RowSplit& s, uint64_t at) {
  const uint64_t rounds = shape_of(op).rounds.size();
  const uint64_t vlen = s.vlen, lanes = vlen / 4;
  uint32_t rows = 0;
  for (size_t b = 0; b < s.blocks(); ++b) rows = std::max(rows, s.block_rows(b));
  WorkMap w;
  w.slot_bytes = mesh::align(uint64_t{rows} * 4, vlen);
  w.masks = at;
  w.valid = w.masks + (lanes + 1) * vlen;
  w.peers = w.valid + w.slot_bytes;
  w.gather = w.peers + mesh::align(8 * s.col_parts, vlen);
  w.rowval = w.gather + rounds * s.col_parts * w.slot_bytes;
  w.end = w.rowval + rounds * w.slot_bytes;
  if (shape_of(op).loss) {
    w.loss_gather = w.end;  // slot i: row group i's sum
    w.loss_mine = w.loss_gather + s.row_parts * vlen;
    w.end = w.loss_mine + vlen;
  }
  if (shape_of(op).labels) {
    w.lane_index = w.end;
    w.end = w.lane_index + vlen;
  }
  if (shape_of(op).mask_row) {
    w.mask_row = w.end;
    w.end += uint64_t(pieces_per_row(s)) * vlen;
  }
  if (const int sums = shape_of(op).sums) {
    w.acc_regs = mesh::align(pieces_per_row(s), 2);
    w.sums_bytes = uint64_t(sums) * w.acc_regs * vlen;
    w.acc = w.end;
    w.tree = w.acc + w.sums_bytes;
    w.end = w.tree + tree_levels(s.row_parts) * w.sums_bytes;
  }
  return w;
}

struct Node {
  uint64_t x = 0, out = 0, gamma = 0, beta = 0, rows = 0, registers = 0, row_bytes = 0;
  uint64_t masks = 0, valid = 0, peers = 0, npeers = 0, gather1 = 0, gather2 = 0, gather3 = 0,
           myslot1 = 0, myslot2 = 0, myslot3 = 0, slot_bytes = 0, rowval1 = 0, rowval2 = 0,
           rowval3 = 0, row_chunks = 0;
  uint64_t inv_d = 0, epsilon = 0, scale = 0;
  uint64_t labels = 0, col0f = 0, lanesf = 0, one = 0, lane_index = 0, head = 0, group = 0,
           waits = 0, loss_dst = 0, loss_gather = 0, loss_mine = 0, inv_rows = 0, mean = 0,
           loss_bf16 = 0;
  uint64_t gather4 = 0, myslot4 = 0, rowval4 = 0, dy_off = 0;
  uint64_t acc = 0, acc_db = 0, acc_regs = 0, sums_bytes = 0, tree = 0, children = 0, parent = 0,
           dgamma = 0, dbeta = 0, sum_registers = 0, sums_bf16 = 0, mask_row = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"X", [](N n) { return n.x; }},
      {"OUT", [](N n) { return n.out; }},
      {"GAMMA", [](N n) { return n.gamma; }},
      {"BETA", [](N n) { return n.beta; }},
      {"ROWS", [](N n) { return n.rows; }},
      {"REGISTERS", [](N n) { return n.registers; }},  // stored registers per row
      {"ROWBYTES", [](N n) { return n.row_bytes; }},
      {"MASKS", [](N n) { return n.masks; }},  // mask k: lanes below k kept
      {"VALID", [](N n) { return n.valid; }},  // per row: columns of this block it reduces
      {"PEERS", [](N n) { return n.peers; }},  // the other nodes' gather buffers (global)
      {"NPEERS", [](N n) { return n.npeers; }},
      {"GATHER1", [](N n) { return n.gather1; }},  // slot j: partials of column block j
      {"GATHER2", [](N n) { return n.gather2; }},
      {"GATHER3", [](N n) { return n.gather3; }},
      {"MYSLOT1", [](N n) { return n.myslot1; }},
      {"MYSLOT2", [](N n) { return n.myslot2; }},
      {"MYSLOT3", [](N n) { return n.myslot3; }},
      {"SLOTBYTES", [](N n) { return n.slot_bytes; }},
      {"ROWVAL1", [](N n) { return n.rowval1; }},  // per row: the value of round 1
      {"ROWVAL2", [](N n) { return n.rowval2; }},
      {"ROWVAL3", [](N n) { return n.rowval3; }},
      {"ROWCHUNKS", [](N n) { return n.row_chunks; }},  // registers of rows in a slot
      {"INVD", [](N n) { return n.inv_d; }},
      {"EPSILON", [](N n) { return n.epsilon; }},
      {"SCALE", [](N n) { return n.scale; }},
      // The cross-entropy: labels, this block's columns, the row groups' sums.
      {"LABELS", [](N n) { return n.labels; }},  // per row of the block, as fp32
      {"COL0F", [](N n) { return n.col0f; }},    // fp32: this block's first column
      {"LANESF", [](N n) { return n.lanesf; }},  // fp32: LANES
      {"ONE", [](N n) { return n.one; }},
      {"LANEIDX", [](N n) { return n.lane_index; }},  // fp32 0, 1, ..., LANES - 1
      {"HEAD", [](N n) { return n.head; }},           // 1 on column block 0 of a row group
      {"GROUP", [](N n) { return n.group; }},         // the row block i
      {"WAITS", [](N n) { return n.waits; }},         // on the first node: row groups - 1
      {"LOSSDST", [](N n) { return n.loss_dst; }},    // slot i on the first node (global)
      {"LOSSGATHER", [](N n) { return n.loss_gather; }},
      {"LOSSMINE", [](N n) { return n.loss_mine; }},
      {"INVROWS", [](N n) { return n.inv_rows; }},  // fp32 1 / rows
      {"MEAN", [](N n) { return n.mean; }},
      {"LOSSBF16", [](N n) { return n.loss_bf16; }},
      {"GATHER4", [](N n) { return n.gather4; }},
      {"MYSLOT4", [](N n) { return n.myslot4; }},
      {"ROWVAL4", [](N n) { return n.rowval4; }},
      // The backward ops: dy at X + DYOFF; the column sums.
      {"DYOFF", [](N n) { return n.dy_off; }},
      {"ACC", [](N n) { return n.acc; }},           // dgamma's accumulators (fp32)
      {"ACCDB", [](N n) { return n.acc_db; }},      // dbeta's
      {"ACCREGS", [](N n) { return n.acc_regs; }},  // registers of all sums
      {"SUMSBYTES", [](N n) { return n.sums_bytes; }},
      {"TREE", [](N n) { return n.tree; }},  // slot k: the partials of child i + 2^k
      {"CHILDREN", [](N n) { return n.children; }},
      {"PARENT", [](N n) { return n.parent; }},  // global: my slot at the parent; 0 on block 0
      {"DGAMMA", [](N n) { return n.dgamma; }},
      {"DBETA", [](N n) { return n.dbeta; }},
      {"SUMREGS", [](N n) { return n.sum_registers; }},  // stored registers of a sum
      {"SUMSBF16", [](N n) { return n.sums_bf16; }},
      {"MASKROW", [](N n) { return n.mask_row; }},  // the pieces' masks of a row
  };
  return block;
}

// ---- The program ---------------------------------------------------------------------------
class Writer {
 public:
  Writer(const OpShape& op, DType dtype, uint32_t vlen) : op_(op), dtype_(dtype), vlen_(vlen) {}

  std::string text() {
    w_.raw(fmt::format(
        "# {} over the last axis ({}), one thread per node. Per round: reduce each row's\n"
        "# columns on this node, push the partials to the other nodes of the row, wait for\n"
        "# theirs, combine the slots in column-block order. Then the output pass.",
        op_.name, dtype_name(dtype_)));
    args().declare(w_);
    w_.equ("VLEN", vlen_);
    w_.equ("LANES", vlen_ / 4);
    w_.raw("\n    .text\n    .globl _start\n_start:");
    w_.op("la      s1, args");
    w_.op("ld      s2, ROWS(s1)");
    w_.op("beqz    s2, exit                # no block on this node");
    w_.op("ld      s6, ROWBYTES(s1)");
    w_.op("ld      s7, MASKS(s1)");
    for (auto [name, reg] : {std::pair{"SCALE", "v19"}, {"INVD", "v20"}, {"EPSILON", "v21"}}) {
      w_.op("ld      t0, {}(s1)", name);
      w_.op("vbcast.fp32 {}, t0", reg);
    }
    if (op_.dy) w_.op("ld      s8, DYOFF(s1)            # dy at X + s8");
    if (op_.labels) {
      w_.comment("the one-hot's constants: LANES, this block's first column, 1 and 0 (fp32)");
      for (auto [name, reg] : {std::pair{"LANESF", "v24"}, {"COL0F", "v25"}, {"ONE", "v26"}}) {
        w_.op("ld      t0, {}(s1)", name);
        w_.op("vbcast.fp32 {}, t0", reg);
      }
      w_.op("vbcast.fp32 v27, zero");
    }
    for (size_t k = 0; k < op_.rounds.size(); ++k) round(k + 1, op_.rounds[k]);
    if (op_.loss)
      loss();
    else
      output();
    if (op_.sums) columns();
    w_.op("j       exit");
    w_.exit_program();
    args().reserve(w_);
    return w_.text();
  }

 private:
  std::string label(std::string_view what) { return fmt::format("{}_{}", what, ++labels_); }
  int parts() const { return dtype_ == DType::Bf16 ? 2 : 1; }

  // The piece q of the stored register at `ptr` (loaded into `raw` for bf16) into `fp32`.
  void piece(const char* ptr, const char* raw, const char* fp32, int q) {
    if (dtype_ == DType::Fp32)
      w_.op("vle     {}, 0({})", fp32, ptr);
    else {
      if (q == 0) w_.op("vle     {}, 0({})", raw, ptr);
      w_.op("vcvt.fp32.bf16 {}, {}, {}", fp32, raw, q);
    }
  }
  // v10 = the mask of the next piece from t2 (the row's valid lanes left); t2 -= LANES.
  void mask() {
    if (!op_.mask) return;
    if (op_.mask_row) {
      w_.op("vle     v10, 0(s5)              # the piece's mask");
      w_.op("addi    s5, s5, VLEN");
      return;
    }
    const std::string low = label("mask_low"), high = label("mask_high");
    w_.op("mv      t3, t2");
    w_.op("bge     t3, zero, {}", low);
    w_.op("li      t3, 0");
    w_.label(low);
    w_.op("li      t4, LANES");
    w_.op("bge     t4, t3, {}", high);
    w_.op("mv      t3, t4");
    w_.label(high);
    w_.op("li      t4, VLEN");
    w_.op("mul     t3, t3, t4");
    w_.op("add     t3, t3, s7");
    w_.op("vle     v10, 0(t3)              # lanes below the count kept");
    w_.op("addi    t2, t2, -LANES");
  }
  void row_values(int rounds_done) {
    if (rounds_done >= 1) {
      w_.op("lw      t0, 0(a5)");
      w_.op("vbcast.fp32 v17, t0             # the row's value of round 1");
    }
    if (rounds_done >= 2) {
      w_.op("lw      t0, 0(a7)");
      w_.op("vbcast.fp32 v18, t0             # and of round 2");
    }
    if (rounds_done >= 3) {
      w_.op("ld      t1, SLOTBYTES(s1)");
      w_.op("add     t6, a7, t1");
      w_.op("lw      t0, 0(t6)");
      w_.op("vbcast.fp32 v28, t0             # of round 3");
    }
    if (rounds_done >= 4) {
      w_.op("add     t6, t6, t1");
      w_.op("lw      t0, 0(t6)");
      w_.op("vbcast.fp32 v29, t0             # of round 4");
    }
  }
  // The pieces of dy (v3) and gamma (v5) beside x's, where a pass reads them.
  void dy_pointer(bool dy) {
    if (dy) w_.op("add     t1, a1, s8");
  }
  void more_pieces(bool dy, bool gamma, int q) {
    if (dy) piece("t1", "v6", "v3", q);
    if (gamma) piece("s4", "v4", "v5", q);
  }

  void round(int k, const Round& r) {
    if (r.pass) reduce(k, r);
    exchange(k, r);
  }

  void reduce(int k, const Round& r) {
    const std::string row = label(fmt::format("round{}_row", k)),
                      reg = label(fmt::format("round{}_register", k));
    w_.comment(
        fmt::format("round {}: each row's {} over this node's columns", k, r.max ? "max" : "sum"));
    w_.op("li      s3, 0");
    w_.op("ld      a0, X(s1)");
    w_.op("ld      a3, VALID(s1)");
    w_.op("ld      a4, MYSLOT{}(s1)", k);
    w_.op("ld      a5, ROWVAL1(s1)");
    w_.op("ld      a7, ROWVAL2(s1)");
    if (op_.labels && !r.row_init.empty()) w_.op("ld      a6, LABELS(s1)");
    if (r.second) w_.op("ld      a2, MYSLOT{}(s1)", k + 1);
    w_.label(row);
    if (r.max) {
      w_.op("li      t0, 0xff800000");
      w_.op("vbcast.fp32 v16, t0             # -inf");
    } else {
      w_.op("vbcast.fp32 v16, zero");
    }
    w_.op("lw      t2, 0(a3)");
    row_values(k - 1);
    for (const char* i : r.row_init) w_.op("{}", i);
    w_.op("mv      a1, a0");
    if (r.gamma) w_.op("ld      s4, GAMMA(s1)");
    if (op_.mask_row && r.masked) w_.op("ld      s5, MASKROW(s1)");
    w_.op("ld      t5, REGISTERS(s1)");
    w_.label(reg);
    dy_pointer(r.dy);
    for (int q = 0; q < parts(); ++q) {
      piece("a1", "v1", "v2", q);
      more_pieces(r.dy, r.gamma, q);
      if (r.masked) mask();
      for (const char* i : r.piece) w_.op("{}", i);
    }
    w_.op("addi    a1, a1, VLEN");
    if (r.gamma) w_.op("addi    s4, s4, VLEN");
    w_.op("addi    t5, t5, -1");
    w_.op("bnez    t5, {}", reg);
    w_.op("{}.fp32 v11, v16", r.max ? "vredmax" : "vredsum");
    w_.op("vmv.x.fp32 t0, v11");
    w_.op("sw      t0, 0(a4)               # this node's partial of the row");
    if (r.second) {
      w_.op("vredsum.fp32 v11, v15");
      w_.op("vmv.x.fp32 t0, v11");
      w_.op("sw      t0, 0(a2)               # and of the next round's sum");
      w_.op("addi    a2, a2, 4");
    }
    w_.op("addi    a4, a4, 4");
    w_.op("addi    a3, a3, 4");
    w_.op("addi    a5, a5, 4");
    w_.op("addi    a7, a7, 4");
    w_.op("add     a0, a0, s6");
    w_.op("addi    s3, s3, 1");
    w_.op("blt     s3, s2, {}", row);
  }

  void exchange(int k, const Round& r) {
    const std::string push = label(fmt::format("round{}_push", k)),
                      wait = label(fmt::format("round{}_wait", k)),
                      combine = label(fmt::format("round{}_combine", k)),
                      slot = label(fmt::format("round{}_slot", k)),
                      slots_done = label(fmt::format("round{}_slots_done", k));
    w_.comment("push the partials into slot j of every other node of the row, then wait");
    w_.op("ld      t0, PEERS(s1)");
    w_.op("ld      t1, NPEERS(s1)");
    w_.op("ld      t3, MYSLOT{}(s1)", k);
    w_.op("ld      t4, SLOTBYTES(s1)");
    w_.op("ld      t6, GATHER{}(s1)", k);
    w_.op("ld      a6, GATHER1(s1)");
    w_.op("sub     t6, t6, a6              # round {}'s buffers from round 1's", k);
    w_.label(push);
    w_.op("beqz    t1, {}", wait);
    w_.op("ld      a6, 0(t0)");
    w_.op("add     a6, a6, t6");
    w_.op("push    a6, t3, t4, {}", k);
    w_.op("addi    t0, t0, 8");
    w_.op("addi    t1, t1, -1");
    w_.op("j       {}", push);
    w_.label(wait);
    w_.op("ld      t1, NPEERS(s1)");
    w_.op("swait   {}, t1", k);

    w_.comment("combine the slots in column-block order, LANES rows at a time");
    w_.op("ld      a4, GATHER{}(s1)", k);
    w_.op("ld      a5, ROWVAL{}(s1)", k);
    w_.op("ld      t5, ROWCHUNKS(s1)");
    w_.op("ld      t4, SLOTBYTES(s1)");
    w_.label(combine);
    w_.op("vle     v16, 0(a4)");
    w_.op("mv      a6, a4");
    w_.op("ld      t1, NPEERS(s1)");
    w_.label(slot);
    w_.op("beqz    t1, {}", slots_done);
    w_.op("add     a6, a6, t4");
    w_.op("vle     v11, 0(a6)");
    w_.op("{}.fp32 v16, v16, v11", r.max ? "vmax" : "vadd");
    w_.op("addi    t1, t1, -1");
    w_.op("j       {}", slot);
    w_.label(slots_done);
    for (const char* i : r.finalize) w_.op("{}", i);
    w_.op("vse     v16, 0(a5)");
    w_.op("addi    a4, a4, VLEN");
    w_.op("addi    a5, a5, VLEN");
    w_.op("addi    t5, t5, -1");
    w_.op("bnez    t5, {}", combine);
  }

  // The cross-entropy's loss from the rows' values of the last round (ROWVAL3).
  void loss() {
    const std::string add = label("loss_add"), head = label("loss_first_node"),
                      slot = label("loss_slot"), slots_done = label("loss_slots_done"),
                      store = label("loss_store"), fp32 = label("loss_fp32");
    w_.comment("the loss: column block 0 of each row group adds its rows' losses in row order");
    w_.op("ld      t0, HEAD(s1)");
    w_.op("beqz    t0, exit                # another column block: done");
    w_.op("vbcast.fp32 v16, zero");
    w_.op("ld      a5, ROWVAL3(s1)");
    w_.op("mv      t5, s2");
    w_.label(add);
    w_.op("lw      t0, 0(a5)");
    w_.op("vbcast.fp32 v11, t0");
    w_.op("vadd.fp32 v16, v16, v11");
    w_.op("addi    a5, a5, 4");
    w_.op("addi    t5, t5, -1");
    w_.op("bnez    t5, {}", add);
    w_.comment("row group i > 0 pushes its sum into slot i on the first node, which adds them");
    w_.op("ld      t1, GROUP(s1)");
    w_.op("beqz    t1, {}", head);
    w_.op("ld      t3, LOSSMINE(s1)");
    w_.op("vse     v16, 0(t3)");
    w_.op("ld      t0, LOSSDST(s1)");
    w_.op("li      t4, VLEN");
    w_.op("push    t0, t3, t4, {}", kLossSemaphore);
    w_.op("j       exit");
    w_.label(head);
    w_.op("ld      t1, WAITS(s1)");
    w_.op("swait   {}, t1", kLossSemaphore);
    w_.op("ld      a4, LOSSGATHER(s1)");
    w_.label(slot);
    w_.op("beqz    t1, {}", slots_done);
    w_.op("addi    a4, a4, VLEN");
    w_.op("vle     v11, 0(a4)");
    w_.op("vadd.fp32 v16, v16, v11");
    w_.op("addi    t1, t1, -1");
    w_.op("j       {}", slot);
    w_.label(slots_done);
    w_.op("ld      t0, MEAN(s1)");
    w_.op("beqz    t0, {}", store);
    w_.op("ld      t0, INVROWS(s1)");
    w_.op("vbcast.fp32 v11, t0");
    w_.op("vmul.fp32 v16, v16, v11");
    w_.label(store);
    w_.op("ld      t0, LOSSBF16(s1)");
    w_.op("beqz    t0, {}", fp32);
    w_.op("vcvt.bf16.fp32 v14, v16, 0      # a bf16 loss: both halves from the fp32 lanes");
    w_.op("vcvt.bf16.fp32 v14, v16, 1");
    w_.op("vmv     v16, v14");
    w_.label(fp32);
    w_.op("ld      t0, OUT(s1)");
    w_.op("vse     v16, 0(t0)              # the loss, in every lane");
  }

  void output() {
    const std::string row = label("output_row"), reg = label("output_register");
    if (op_.sums) {
      const std::string zero = label("sums_zero");
      w_.comment("the column sums' accumulators start at 0");
      w_.op("vbcast.fp32 v30, zero");
      w_.op("ld      t0, ACC(s1)");
      w_.op("ld      t5, ACCREGS(s1)");
      w_.label(zero);
      w_.op("vse     v30, 0(t0)");
      w_.op("addi    t0, t0, VLEN");
      w_.op("addi    t5, t5, -1");
      w_.op("bnez    t5, {}", zero);
    }
    w_.comment(op_.sums ? "output: every row from its values; its terms of the column sums"
                        : "output: every row from its values");
    w_.op("li      s3, 0");
    w_.op("ld      a0, X(s1)");
    w_.op("ld      a2, OUT(s1)");
    w_.op("ld      a3, VALID(s1)");
    w_.op("ld      a5, ROWVAL1(s1)");
    w_.op("ld      a7, ROWVAL2(s1)");
    if (op_.labels) w_.op("ld      a4, LABELS(s1)");
    w_.label(row);
    w_.op("lw      t2, 0(a3)");
    row_values(static_cast<int>(op_.rounds.size()));
    for (const char* i : op_.output_init) w_.op("{}", i);
    w_.op("mv      a1, a0");
    w_.op("mv      a6, a2");
    w_.op("ld      s4, GAMMA(s1)");
    w_.op("ld      s5, {}(s1)", op_.mask_row ? "MASKROW" : "BETA");
    if (op_.sums) {
      w_.op("ld      s10, ACC(s1)");
      w_.op("ld      s11, ACCDB(s1)");
    }
    w_.op("ld      t5, REGISTERS(s1)");
    w_.label(reg);
    dy_pointer(op_.dy);
    for (int q = 0; q < parts(); ++q) {
      piece("a1", "v1", "v2", q);
      more_pieces(op_.dy, op_.gamma, q);
      if (op_.beta) piece("s5", "v7", "v8", q);
      // The sums' accumulators load first: their latency hides behind the output's chain.
      if (op_.sums) w_.op("vle     v30, 0(s10)");
      if (op_.sums > 1) w_.op("vle     v31, 0(s11)");
      mask();
      for (const char* i : op_.output) w_.op("{}", i);
      if (dtype_ == DType::Bf16) w_.op("vcvt.bf16.fp32 v14, {}, {}", op_.result, q);
      if (op_.sums) {
        w_.op("vse     v30, 0(s10)");
        if (op_.sums > 1) w_.op("vse     v31, 0(s11)");
        w_.op("addi    s10, s10, VLEN");
        w_.op("addi    s11, s11, VLEN");
      }
    }
    w_.op("vse     {}, 0(a6)", dtype_ == DType::Bf16 ? "v14" : op_.result);
    w_.op("addi    a1, a1, VLEN");
    w_.op("addi    a6, a6, VLEN");
    if (op_.gamma) w_.op("addi    s4, s4, VLEN");
    if (op_.beta) w_.op("addi    s5, s5, VLEN");
    w_.op("addi    t5, t5, -1");
    w_.op("bnez    t5, {}", reg);
    w_.op("add     a0, a0, s6");
    w_.op("add     a2, a2, s6");
    w_.op("addi    a3, a3, 4");
    w_.op("addi    a5, a5, 4");
    w_.op("addi    a7, a7, 4");
    w_.op("addi    s3, s3, 1");
    w_.op("blt     s3, s2, {}", row);
  }
  // The column sums: the children's partials added in slot order, then pushed up the tree, or on
  // row block 0 stored in the sums' dtype.
  void columns() {
    const std::string slot = label("tree_slot"), add = label("tree_add"), send = label("tree_send"),
                      store = label("sums_store");
    w_.comment("column sums: add the children's partials (slot k from block i + 2^k) in order");
    w_.op("ld      t1, CHILDREN(s1)");
    w_.op("beqz    t1, {}", send);
    w_.op("swait   {}, t1", kTreeSemaphore);
    w_.op("ld      a4, TREE(s1)");
    w_.label(slot);
    w_.op("ld      t0, ACC(s1)");
    w_.op("mv      a6, a4");
    w_.op("ld      t5, ACCREGS(s1)");
    w_.label(add);
    w_.op("vle     v30, 0(t0)");
    w_.op("vle     v31, 0(a6)");
    w_.op("vadd.fp32 v30, v30, v31");
    w_.op("vse     v30, 0(t0)");
    w_.op("addi    t0, t0, VLEN");
    w_.op("addi    a6, a6, VLEN");
    w_.op("addi    t5, t5, -1");
    w_.op("bnez    t5, {}", add);
    w_.op("ld      t4, SUMSBYTES(s1)");
    w_.op("add     a4, a4, t4");
    w_.op("addi    t1, t1, -1");
    w_.op("bnez    t1, {}", slot);
    w_.label(send);
    w_.op("ld      t0, PARENT(s1)");
    w_.op("beqz    t0, {}", store);
    w_.op("ld      t3, ACC(s1)");
    w_.op("ld      t4, SUMSBYTES(s1)");
    w_.op("push    t0, t3, t4, {}          # my partials into my slot at the parent",
          kTreeSemaphore);
    w_.op("j       exit");
    w_.label(store);
    store_sum("ACC", "DGAMMA");
    if (op_.sums > 1) store_sum("ACCDB", "DBETA");
  }
  // A sum's fp32 accumulators into its output: as they are, or pairs into bf16 registers.
  void store_sum(const char* from, const char* to) {
    const std::string fp32 = label("sum_fp32"), bf16 = label("sum_bf16"), done = label("sum_done");
    w_.op("ld      t0, {}(s1)", from);
    w_.op("ld      a6, {}(s1)", to);
    w_.op("ld      t5, SUMREGS(s1)");
    w_.op("ld      t1, SUMSBF16(s1)");
    w_.op("beqz    t1, {}", fp32);
    w_.label(bf16);
    w_.op("vle     v30, 0(t0)");
    w_.op("addi    t0, t0, VLEN");
    w_.op("vle     v31, 0(t0)");
    w_.op("addi    t0, t0, VLEN");
    w_.op("vcvt.bf16.fp32 v14, v30, 0");
    w_.op("vcvt.bf16.fp32 v14, v31, 1");
    w_.op("vse     v14, 0(a6)");
    w_.op("addi    a6, a6, VLEN");
    w_.op("addi    t5, t5, -1");
    w_.op("bnez    t5, {}", bf16);
    w_.op("j       {}", done);
    w_.label(fp32);
    w_.op("vle     v30, 0(t0)");
    w_.op("vse     v30, 0(a6)");
    w_.op("addi    t0, t0, VLEN");
    w_.op("addi    a6, a6, VLEN");
    w_.op("addi    t5, t5, -1");
    w_.op("bnez    t5, {}", fp32);
    w_.label(done);
  }

  const OpShape& op_;
  DType dtype_;
  uint32_t vlen_;
  codegen::AsmWriter w_;
  int labels_ = 0;
};

mesh::NodeProgram build_program(RowOp op, DType dtype, uint32_t vlen) {
  return mesh::assemble_program(Writer(shape_of(op), dtype, vlen).text(),
                                fmt::format("{}_{}.s", row_op_name(op), dtype_name(dtype)));
}

// Columns of row `r` that block column j reduces: all of its columns, or under the causal
// mask those up to the row's limit.
uint32_t valid_columns(const RowSplit& s, const RowOpParams& p, uint32_t r, uint32_t j) {
  const uint32_t c0 = s.col_start[j], c1 = s.col_start[j + 1];
  if (!p.causal) return c1 - c0;
  const uint32_t sq = p.causal_rows ? p.causal_rows : s.rows;
  const int64_t limit = int64_t{r % sq} + s.cols - sq + 1;  // columns [0, limit) visible
  return static_cast<uint32_t>(std::clamp<int64_t>(limit - c0, 0, c1 - c0));
}

std::string describe(RowOp op, const RowSplit& s) {
  return fmt::format("{} [{}, {}] {}", row_op_name(op), s.rows, s.cols, dtype_name(s.dtype));
}

void check_params(RowOp op, const RowSplit& s, const RowOpParams& p) {
  if (!p.causal) return;
  const uint32_t sq = p.causal_rows ? p.causal_rows : s.rows;
  if (op != RowOp::Softmax)
    throw std::invalid_argument(fmt::format("{}: causal: only softmax masks", describe(op, s)));
  if (s.rows % sq || sq > s.cols)
    throw std::invalid_argument(fmt::format(
        "{}: causal with Sq = {}: expected Sq to divide the rows and be at most the {} columns",
        describe(op, s), sq, s.cols));
}

}  // namespace

std::string_view row_op_name(RowOp op) {
  return shape_of(op).name;
}

bool is_row_grad(RowOp op) {
  return op >= RowOp::SoftmaxBackward;
}

int row_grad_column_sums(RowOp op) {
  return shape_of(op).sums;
}

RowSplit gradient_split(const RowSplit& x, DType dtype) {
  RowSplit g = x;
  g.dtype = dtype;
  g.rows = 1, g.row_parts = 1;
  g.row_start = {0, 1};
  g.nodes.resize(x.col_parts);
  return g;
}

uint64_t row_op_work_bytes(RowOp op, const RowSplit& split) {
  return work_map(op, split, 0).end;
}

void write_labels(hw::Machine& machine, const RowSplit& split, uint64_t address,
                  const std::vector<int32_t>& labels) {
  std::vector<int32_t> bits;
  for (int32_t l : labels) bits.push_back(static_cast<int32_t>(float_bits(static_cast<float>(l))));
  write_ids(machine, split, address, bits);
}

void check_labels(const std::vector<int32_t>& labels, uint32_t classes) {
  for (size_t r = 0; r < labels.size(); ++r)
    if (labels[r] < 0 || uint32_t(labels[r]) >= classes)
      throw std::invalid_argument(
          fmt::format("label {} at row {} is out of range: expected 0 <= label < C = {}", labels[r],
                      r, classes));
}

RowOpKernel::RowOpKernel(const hw::HardwareConfig& config, const RowOpProblem& problem)
    : problem_(problem), core_(config.node.core), config_(config) {
  const RowSplit& s = problem.split;
  const OpShape& op = shape_of(problem.op);
  const std::string what = describe(problem.op, s);
  if (s.dtype != DType::Fp32 && s.dtype != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("{}: dtype {}: expected fp32 or bf16", what, dtype_name(s.dtype)));
  check_params(problem.op, s, problem.params);
  const DType loss = problem.params.loss_dtype;
  if (op.loss && loss != DType::Fp32 && loss != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("{}: the loss's dtype {}: expected fp32 or bf16", what, dtype_name(loss)));
  program_ = build_program(problem.op, s.dtype, s.vlen);
  std::vector<Region> regions = {{"x", problem.x, s.bytes()},
                                 {"out", problem.out, op.loss ? s.vlen : s.bytes()},
                                 {"work", problem.work, row_op_work_bytes(problem.op, s)}};
  if (op.gamma) regions.push_back({"gamma", problem.gamma, s.vector_bytes()});
  if (op.beta) regions.push_back({"beta", problem.beta, s.vector_bytes()});
  if (op.labels) regions.push_back({"labels", problem.labels, embedding_ids_bytes(s)});
  if (op.dy) regions.push_back({"dy", problem.dy, s.bytes()});
  if (op.sums) {
    if (problem.params.sums_dtype != DType::Fp32 && problem.params.sums_dtype != DType::Bf16)
      throw std::invalid_argument(
          fmt::format("{}: the column sums' dtype {}: expected fp32 or bf16", what,
                      dtype_name(problem.params.sums_dtype)));
    const uint64_t bytes = gradient_split(s, problem.params.sums_dtype).bytes();
    regions.push_back({"dgamma", problem.dgamma, bytes});
    if (op.sums > 1) regions.push_back({"dbeta", problem.dbeta, bytes});
  }
  std::tie(begin_, end_) = check_regions(config, what, program_, regions, 1, kStackBytes);
}

void RowOpKernel::place(hw::Machine& machine) const {
  const RowSplit& s = problem_.split;
  const WorkMap m = work_map(problem_.op, s, problem_.work);
  const uint32_t lanes = s.vlen / 4;
  const OpShape& op = shape_of(problem_.op);
  // Mask k keeps lanes below k: additive 0 / -inf or multiplicative 1 / 0.
  std::vector<float> masks;
  for (uint32_t k = 0; k <= lanes; ++k)
    for (uint32_t l = 0; l < lanes; ++l)
      masks.push_back(op.mask == 1 ? (l < k ? 0.0f : -kInf) : (l < k ? 1.0f : 0.0f));
  for (size_t b = 0; b < s.blocks(); ++b) {
    const uint32_t i = static_cast<uint32_t>(b / s.col_parts), j = b % s.col_parts;
    isa::Sram& sram = machine.node(s.nodes[b])->sram();
    sram.write(m.masks, masks.data(), masks.size() * 4);
    std::vector<uint32_t> valid;
    for (uint32_t r = s.row_start[i]; r < s.row_start[i + 1]; ++r)
      valid.push_back(valid_columns(s, problem_.params, r, j));
    sram.write(m.valid, valid.data(), valid.size() * 4);
    std::vector<uint64_t> peers;
    for (uint32_t k = 0; k < s.col_parts; ++k)
      if (k != j) {
        const hw::Coord c = s.nodes[i * s.col_parts + k];
        peers.push_back(isa::global_address(static_cast<uint32_t>(c.x), static_cast<uint32_t>(c.y),
                                            static_cast<uint32_t>(m.gather + j * m.slot_bytes)));
      }
    if (!peers.empty()) sram.write(m.peers, peers.data(), peers.size() * 8);
    if (op.mask_row) {
      // Lane l of piece q keeps column q LANES + l of the block: the masks' table, by piece.
      std::vector<float> row;
      const uint32_t cols = s.block_cols(b);
      for (uint32_t q = 0; q < s.chunks(b) * (s.lanes() / lanes); ++q) {
        const uint32_t keep = std::min(lanes, cols > q * lanes ? cols - q * lanes : 0);
        row.insert(row.end(), masks.begin() + keep * lanes, masks.begin() + (keep + 1) * lanes);
      }
      sram.write(m.mask_row, row.data(), row.size() * 4);
    }
    if (op.labels) {
      std::vector<float> index(lanes);
      for (uint32_t l = 0; l < lanes; ++l) index[l] = static_cast<float>(l);
      sram.write(m.lane_index, index.data(), lanes * 4);
    }
  }
}

void RowOpKernel::write_args(hw::Machine& machine) const {
  const RowOpProblem& p = problem_;
  const OpShape& op = shape_of(p.op);
  const RowSplit& s = p.split;
  const WorkMap m = work_map(p.op, s, p.work);
  const float inv_d = 1.0f / static_cast<float>(s.cols);
  const hw::Coord first = s.nodes.front();
  for (size_t b = 0; b < s.blocks(); ++b) {
    const uint32_t i = static_cast<uint32_t>(b / s.col_parts), j = b % s.col_parts;
    Node n;
    n.x = p.x, n.out = p.out, n.gamma = p.gamma, n.beta = p.beta;
    n.rows = s.block_rows(b), n.registers = s.chunks(b), n.row_bytes = s.row_bytes(b);
    n.masks = m.masks, n.valid = m.valid, n.peers = m.peers, n.npeers = s.col_parts - 1;
    n.gather1 = m.gather, n.gather2 = m.gather + s.col_parts * m.slot_bytes;
    n.gather3 = n.gather2 + s.col_parts * m.slot_bytes;
    n.myslot1 = n.gather1 + j * m.slot_bytes, n.myslot2 = n.gather2 + j * m.slot_bytes;
    n.myslot3 = n.gather3 + j * m.slot_bytes;
    n.slot_bytes = m.slot_bytes;
    n.rowval1 = m.rowval, n.rowval2 = m.rowval + m.slot_bytes;
    n.rowval3 = n.rowval2 + m.slot_bytes;
    n.labels = p.labels, n.col0f = float_bits(static_cast<float>(s.col_start[j]));
    n.lanesf = float_bits(static_cast<float>(s.vlen / 4)), n.one = float_bits(1.0f);
    n.lane_index = m.lane_index;
    n.head = j == 0, n.group = i, n.waits = b == 0 ? s.row_parts - 1 : 0;
    n.loss_gather = m.loss_gather, n.loss_mine = m.loss_mine;
    n.loss_dst = isa::global_address(static_cast<uint32_t>(first.x), static_cast<uint32_t>(first.y),
                                     static_cast<uint32_t>(m.loss_gather + i * s.vlen));
    n.inv_rows = float_bits(1.0f / static_cast<float>(s.rows)), n.mean = p.params.mean;
    n.loss_bf16 = p.params.loss_dtype == DType::Bf16;
    n.row_chunks = m.slot_bytes / s.vlen;
    n.inv_d = float_bits(inv_d), n.epsilon = float_bits(p.params.epsilon);
    n.scale = float_bits(p.params.scale);
    if (p.op == RowOp::SoftmaxCrossEntropyBackward)
      n.scale = float_bits(gradient_factor(p.params, s.rows));
    n.gather4 = n.gather3 + s.col_parts * m.slot_bytes, n.myslot4 = n.gather4 + j * m.slot_bytes;
    n.rowval4 = n.rowval3 + m.slot_bytes;
    n.dy_off = p.dy - p.x;  // wraps below X: the add wraps back
    n.mask_row = m.mask_row;
    if (op.sums) {
      const RowSplit g = gradient_split(s, p.params.sums_dtype);
      n.acc = m.acc, n.acc_db = m.acc + m.acc_regs * s.vlen, n.acc_regs = op.sums * m.acc_regs;
      n.sums_bytes = m.sums_bytes, n.tree = m.tree;
      n.dgamma = p.dgamma, n.dbeta = p.dbeta;
      n.sum_registers = g.chunks(j), n.sums_bf16 = g.dtype == DType::Bf16;
      const TreeNode t = tree_node(i, s.row_parts);
      n.children = t.children;
      if (i > 0) {
        const hw::Coord c = s.nodes[t.parent * s.col_parts + j];
        n.parent = isa::global_address(static_cast<uint32_t>(c.x), static_cast<uint32_t>(c.y),
                                       static_cast<uint32_t>(m.tree + t.slot * m.sums_bytes));
      }
    }
    const std::vector<uint64_t> v = args().values(n);
    machine.node(s.nodes[b])->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

double RowOpKernel::estimate_cycles() const {
  const RowSplit& s = problem_.split;
  const OpShape& op = shape_of(problem_.op);
  const isa::TimingParams& t = core_.timing_params;
  using T = isa::TimingClass;
  // One thread, in order: a piece costs the chain of its instructions' latencies (each
  // depends on the one before), after its load (and widening) and its mask's load.
  // An instruction's latency by its timing class in the instruction table.
  const auto latency = [&](const char* insn) {
    const std::string_view i(insn);
    const isa::InstrInfo* in = isa::find_mnemonic(i.substr(0, i.find(' ')));
    if (!in) throw std::logic_error(fmt::format("row op estimate: unknown instruction `{}`", i));
    return double(t.of(in->timing).latency);
  };
  const auto chain = [&](const std::vector<const char*>& body) {
    double c = 0;
    for (const char* i : body) c += latency(i);
    return c;
  };
  // A round with a second sum: its two chains interleave, so the piece is scheduled in order.
  const auto piece_cycles = [&](const Round& r) {
    if (!r.second) return chain(r.piece);
    return schedule(std::vector<std::string>(r.piece.begin(), r.piece.end()), t).cycles;
  };
  const double load =
      t.of(T::VLoad).latency + (s.dtype == DType::Bf16 ? t.of(T::Convert).latency : 0.0);
  const double mask = !op.mask      ? 0
                      : op.mask_row ? t.of(T::VLoad).latency
                                    : t.of(T::Mul).latency + t.of(T::VLoad).latency + 4;
  const double row = t.of(T::Load).latency + t.of(T::SimdReduce).latency + 8;
  const uint32_t parts = s.dtype == DType::Bf16 ? 2 : 1;
  const double hop = config_.noc.router_latency_cycles;
  const double link = config_.noc.link_bytes_per_cycle;
  double most = 0, loss_ready = 0;
  for (size_t b = 0; b < s.blocks(); ++b) {
    const double rows = s.block_rows(b), pieces = double(s.chunks(b)) * parts;
    double cycles = 0;
    for (const Round& r : op.rounds) {
      if (r.pass)
        cycles +=
            rows *
            (row + chain(r.row_init) +
             pieces * (load * (1 + r.dy + r.gamma) + (r.masked ? mask : 0) + piece_cycles(r)));
      // The exchange: each peer's push, then the slowest arrival (hops across the row group).
      const double bytes = rows * 4;
      cycles += s.col_parts > 1
                    ? (s.col_parts - 1) * (2 + bytes / config_.noc.link_bytes_per_cycle) +
                          hop * s.col_parts
                    : 0;
      cycles += std::ceil(rows / (s.vlen / 4)) * (load + s.col_parts * load + chain(r.finalize));
    }
    if (op.loss) {
      if (b % s.col_parts) continue;  // only column block 0 goes on
      // Its rows' losses added one by one, then (row group i > 0) its push to the first node.
      cycles += rows * (t.of(T::Load).latency + 2 * t.of(T::Simd).latency + 2);
      if (b > 0) {
        const hw::Coord a = s.nodes[b], f = s.nodes.front();
        const double hops = std::abs(a.x - f.x) + std::abs(a.y - f.y) + 1;
        cycles += t.of(T::VStore).latency + 2 + s.vlen / link + hop * hops;
      }
      loss_ready = std::max(loss_ready, cycles);
      continue;
    }
    // The backward ops interleave independent chains (the loss's one-hot and exponential, the
    // norms' xhat, g and column sums): scheduled in order.
    const double output =
        op.labels || op.sums
            ? schedule(std::vector<std::string>(op.output.begin(), op.output.end()), t).cycles
            : chain(op.output);
    // The column sums: each piece's accumulators stored (their loads overlap the chain).
    const double column = op.sums ? t.of(T::VStore).latency : 0;
    cycles += rows * (row + chain(op.output_init) +
                      pieces * (load * (1 + op.dy) + mask + output + column));
    if (op.sums) {
      // Up the tree: per level a child's push of its partials, then their adds; the stores.
      const WorkMap w = work_map(problem_.op, s, 0);
      const double regs = double(op.sums) * w.acc_regs;
      const double add = 2 * t.of(T::VLoad).latency + t.of(T::Simd).latency + 4;
      cycles += tree_levels(s.row_parts) * (double(w.sums_bytes) / link + 2 * hop + regs * add) +
                regs * (t.of(T::VLoad).latency + t.of(T::VStore).latency);
    }
    most = std::max(most, cycles);
  }
  // The first node adds the row groups' sums in order, scales for the mean and stores.
  if (op.loss)
    most = loss_ready + (s.row_parts - 1) * (t.of(T::VLoad).latency + t.of(T::Simd).latency + 4) +
           t.of(T::Simd).latency + t.of(T::VStore).latency + 8;
  return most;
}

// ---- References ----------------------------------------------------------------------------
namespace {

// What the node holds and computes: values rounded to the dtype, pieces of `lanes` lanes.
struct RowContext {
  RowOp op;
  const RowSplit& s;
  const RowOpParams& p;
  const Matrix& x;  // rounded
  std::vector<float> gamma, beta;
  uint32_t lanes;

  Matrix dy = {};  // rounded (the backward ops)
  // The value of column c (0 past the row's end, as the padding); of dy and gamma too.
  float at(uint32_t r, uint32_t c) const { return c < s.cols ? x.at(r, c) : 0.0f; }
  float dy_at(uint32_t r, uint32_t c) const { return c < s.cols ? dy.at(r, c) : 0.0f; }
  float gamma_at(uint32_t c) const { return c < s.cols ? gamma[c] : 0.0f; }
  float mask(uint32_t lane_in_block, uint32_t valid) const {
    const int kind = shape_of(op).mask;
    return kind == 1 ? (lane_in_block < valid ? 0.0f : -kInf)
                     : (lane_in_block < valid ? 1.0f : 0.0f);
  }
};

// One round's total of row r: per block, the lanes accumulated piece by piece and reduced in
// lane order; the blocks combined in order. `term(acc, c, mask)` adds column c (past the row's
// end: padding, whose values at() gives as 0).
template <class Term>
float reduce_cols(const RowContext& ctx, uint32_t r, bool is_max, Term term) {
  const RowSplit& s = ctx.s;
  float total = 0;
  for (uint32_t j = 0; j < s.col_parts; ++j) {
    const uint32_t c0 = s.col_start[j], c1 = s.col_start[j + 1];
    const uint32_t valid = valid_columns(s, ctx.p, r, j);
    const uint32_t registers = (c1 - c0 + s.lanes() - 1) / s.lanes();
    const uint32_t pieces = registers * (s.lanes() / ctx.lanes);
    std::vector<float> acc(ctx.lanes, is_max ? -kInf : 0.0f);
    for (uint32_t q = 0; q < pieces; ++q)
      for (uint32_t l = 0; l < ctx.lanes; ++l) {
        const uint32_t in_block = q * ctx.lanes + l;
        acc[l] = term(acc[l], c0 + in_block, ctx.mask(in_block, valid));
      }
    float partial = acc[0];
    for (uint32_t l = 1; l < ctx.lanes; ++l)
      partial = is_max ? vmax(partial, acc[l]) : partial + acc[l];
    total = j == 0 ? partial : is_max ? vmax(total, partial) : total + partial;
  }
  return total;
}
// The same with the term of x's value (and the mask).
template <class Term>
float reduce_row(const RowContext& ctx, uint32_t r, bool is_max, Term term) {
  return reduce_cols(ctx, r, is_max,
                     [&](float acc, uint32_t c, float m) { return term(acc, ctx.at(r, c), m); });
}
// A sum whose term sees x's value and its column.
template <class Term>
float reduce_row_at(const RowContext& ctx, uint32_t r, Term term) {
  return reduce_cols(ctx, r, false,
                     [&](float acc, uint32_t c, float) { return term(acc, ctx.at(r, c), c); });
}
// The cross-entropy takes labels and gives one value: it has functions of its own.
// So do the backward ops (row_grad_reference, run_row_grad).
void refuse_loss(RowOp op, const char* instead) {
  if (shape_of(op).loss)
    throw std::invalid_argument(
        fmt::format("{}: takes labels and gives a scalar: use {}", row_op_name(op), instead));
  if (is_row_grad(op))
    throw std::invalid_argument(
        fmt::format("{}: a backward op: use the row_grad functions", row_op_name(op)));
}

}  // namespace

Matrix row_op_reference(RowOp op, const RowSplit& s, const RowOpParams& p, const Matrix& x,
                        const std::vector<float>& gamma, const std::vector<float>& beta) {
  refuse_loss(op, "cross_entropy_reference");
  RowContext ctx{op, s, p, quantized(x, s.dtype, {}), {}, {}, s.vlen / 4};
  for (float g : gamma) ctx.gamma.push_back(quantize(s.dtype, g, {}));
  for (float b : beta) ctx.beta.push_back(quantize(s.dtype, b, {}));
  const float inv_d = 1.0f / static_cast<float>(s.cols), eps = p.epsilon, scale = p.scale;
  Matrix out(s.rows, s.cols);
  for (uint32_t r = 0; r < s.rows; ++r) {
    float v1 = 0, v2 = 0;
    switch (op) {
      case RowOp::Softmax:
        v1 = reduce_row(ctx, r, true,
                        [&](float acc, float xv, float m) { return vmax(acc, xv * scale + m); });
        v2 = reduce_row(ctx, r, false, [&](float acc, float xv, float m) {
          return acc + isa::vector_exp(xv * scale + m - v1);
        });
        v2 = isa::vector_recip(v2);
        break;
      case RowOp::LayerNorm:
        v1 = reduce_row(ctx, r, false, [](float acc, float xv, float) { return acc + xv; }) * inv_d;
        v2 = reduce_row(ctx, r, false, [&](float acc, float xv, float m) {
          const float d = (xv - v1) * m;
          return std::fma(d, d, acc);
        });
        v2 = isa::vector_rsqrt(v2 * inv_d + eps);
        break;
      case RowOp::RmsNorm:
        v1 = reduce_row(ctx, r, false,
                        [](float acc, float xv, float) { return std::fma(xv, xv, acc); });
        v1 = isa::vector_rsqrt(v1 * inv_d + eps);
        break;
      default:
        break;  // refused above
    }
    for (uint32_t c = 0; c < s.cols; ++c) {
      const float xv = ctx.x.at(r, c);
      float y = 0;
      switch (op) {
        case RowOp::Softmax: {
          uint32_t j = 0;
          while (c >= s.col_start[j + 1]) ++j;
          const float m = ctx.mask(c - s.col_start[j], valid_columns(s, p, r, j));
          y = isa::vector_exp(xv * scale + m - v1) * v2;
          break;
        }
        case RowOp::LayerNorm:
          y = std::fma((xv - v1) * v2, ctx.gamma[c], ctx.beta[c]);
          break;
        case RowOp::RmsNorm:
          y = xv * v1 * ctx.gamma[c];
          break;
        default:
          break;
      }
      out.at(r, c) = s.dtype == DType::Fp32 ? y : quantize(s.dtype, y, {});
    }
  }
  return out;
}

Reference64 row_op_reference_f64(RowOp op, const RowSplit& s, const RowOpParams& p, const Matrix& x,
                                 const std::vector<float>& gamma, const std::vector<float>& beta) {
  refuse_loss(op, "cross_entropy_reference_f64");
  const Matrix q = quantized(x, s.dtype, {});
  std::vector<double> g, b;
  for (float v : gamma) g.push_back(quantize(s.dtype, v, {}));
  for (float v : beta) b.push_back(quantize(s.dtype, v, {}));
  const double u32 = std::ldexp(1.0, -24), n = s.cols;
  const double u_out = s.dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  Reference64 ref{s.rows, s.cols, {}, {}};
  for (uint32_t r = 0; r < s.rows; ++r) {
    const uint32_t sq = p.causal_rows ? p.causal_rows : s.rows;
    const uint32_t visible = p.causal ? r % sq + s.cols - sq + 1 : s.cols;
    double mean = 0, sq_sum = 0, mx = -INFINITY, big = 0;
    for (uint32_t c = 0; c < s.cols; ++c) {
      mean += q.at(r, c) / n;
      sq_sum += double(q.at(r, c)) * q.at(r, c);
      if (c < visible) mx = std::max(mx, double(q.at(r, c)) * p.scale);
      big = std::max(big, std::fabs(double(q.at(r, c)) * p.scale));
    }
    double var = 0, sum = 0;
    for (uint32_t c = 0; c < s.cols; ++c) {
      var += (q.at(r, c) - mean) * (q.at(r, c) - mean) / n;
      if (c < visible) sum += std::exp(double(q.at(r, c)) * p.scale - mx);
    }
    const double rstd = 1.0 / std::sqrt(var + p.epsilon);
    const double rms = 1.0 / std::sqrt(sq_sum / n + p.epsilon);
    for (uint32_t c = 0; c < s.cols; ++c) {
      const double xv = q.at(r, c);
      double v = 0, bound = 0;
      switch (op) {
        case RowOp::Softmax:
          v = c < visible ? std::exp(xv * p.scale - mx) / sum : 0.0;
          // exp's argument is off by a few ulps of |scale x| + |max|; the sum by n roundings.
          bound = v * ((4 * big + n + 8) * u32 + u_out);
          break;
        case RowOp::LayerNorm:
          v = (xv - mean) * rstd * g[c] + b[c];
          // The mean's and the variance's sums (n roundings each), rsqrt, the products.
          bound = (std::fabs(xv) + std::fabs(mean)) * rstd * std::fabs(g[c]) * (n + 10) * u32 +
                  std::fabs(b[c]) * u32 + std::fabs(v) * u_out;
          break;
        case RowOp::RmsNorm:
          v = xv * rms * g[c];
          bound = std::fabs(v) * ((n / 2 + 8) * u32 + u_out);
          break;
        default:
          break;
      }
      ref.value.push_back(v);
      ref.bound.push_back(bound);
    }
  }
  return ref;
}

Matrix cross_entropy_reference(const RowSplit& s, const RowOpParams& p, const Matrix& logits,
                               const std::vector<int32_t>& labels) {
  const RowOp op = RowOp::SoftmaxCrossEntropy;
  const RowContext ctx{op, s, p, quantized(logits, s.dtype, {}), {}, {}, s.vlen / 4};
  std::vector<float> loss(s.rows);
  for (uint32_t r = 0; r < s.rows; ++r) {
    const float m =
        reduce_row(ctx, r, true, [](float acc, float xv, float k) { return vmax(acc, xv + k); });
    const float l = isa::vector_log(reduce_row(ctx, r, false, [&](float acc, float xv, float k) {
      return acc + isa::vector_exp(xv + k - m);
    }));
    // x[label] as the kernel sums x times the one-hot (exact: one term is x, the others 0).
    const float picked = reduce_row_at(ctx, r, [&](float acc, float xv, uint32_t c) {
      const float d = float(c) - float(labels[r]), one_hot = std::max(1.0f - d * d, 0.0f);
      return std::fma(xv, one_hot, acc);
    });
    loss[r] = (m - picked) + l;
  }
  // Each row group's rows in order from 0, then the groups in order.
  float total = 0;
  for (uint32_t i = 0; i < s.row_parts; ++i) {
    float group = 0;
    for (uint32_t r = s.row_start[i]; r < s.row_start[i + 1]; ++r) group = group + loss[r];
    total = i == 0 ? group : total + group;
  }
  if (p.mean) total = total * (1.0f / static_cast<float>(s.rows));
  Matrix out(1, 1);
  out.at(0, 0) = p.loss_dtype == DType::Fp32 ? total : quantize(p.loss_dtype, total, {});
  return out;
}

Reference64 cross_entropy_reference_f64(const RowSplit& s, const RowOpParams& p,
                                        const Matrix& logits, const std::vector<int32_t>& labels) {
  const Matrix q = quantized(logits, s.dtype, {});
  const double u = std::ldexp(1.0, -24), n = s.cols;
  double total = 0, magnitude = 0, bound = 0;
  for (uint32_t r = 0; r < s.rows; ++r) {
    double mx = -INFINITY, sum = 0, range = 0;
    for (uint32_t c = 0; c < s.cols; ++c) mx = std::max(mx, double(q.at(r, c)));
    for (uint32_t c = 0; c < s.cols; ++c) {
      sum += std::exp(q.at(r, c) - mx);
      range = std::max(range, mx - q.at(r, c));
    }
    const double d = mx - q.at(r, uint32_t(labels[r])), l = std::log(sum), loss = d + l;
    total += loss;
    magnitude += std::fabs(loss);
    // exp's argument is off by an ulp of the range; S by n roundings (S >= 1, so log S is off
    // by about S's relative error); then log's, m - x[label]'s and the addition's roundings.
    bound += u * ((range + n + 4) + l + d + 2 * std::fabs(loss));
  }
  // The sum over the rows (a rounding per row and per row group); the mean's 1/rows and product.
  bound += u * (s.rows + s.row_parts + 2) * magnitude;
  if (p.mean) total /= s.rows, bound /= s.rows;
  if (p.loss_dtype == DType::Bf16) bound += std::ldexp(1.0, -8) * (std::fabs(total) + bound);
  return Reference64{1, 1, {total}, {bound}};
}

namespace {

// The backward ops' inputs against the split: x (and dy) rows x cols, gamma cols, labels in
// range. Throws std::invalid_argument naming the op and what was expected.
void check_grad_inputs(RowOp op, const RowSplit& s, const RowGradInputs& in) {
  const std::string what = describe(op, s);
  if (!is_row_grad(op))
    throw std::invalid_argument(fmt::format("{}: not a backward op: use run_row_op", what));
  const OpShape& shape = shape_of(op);
  for (auto [needed, m, name] : {std::tuple{true, &in.x, "x"}, {shape.dy, &in.dy, "dy"}})
    if (needed && (m->rows != s.rows || m->cols != s.cols))
      throw std::invalid_argument(fmt::format("{}: {} is {} x {}: expected {} x {}", what, name,
                                              m->rows, m->cols, s.rows, s.cols));
  if (shape.gamma && in.gamma.size() != s.cols)
    throw std::invalid_argument(
        fmt::format("{}: gamma has {} values: expected {}", what, in.gamma.size(), s.cols));
  if (!shape.labels) return;
  if (in.labels.size() != s.rows)
    throw std::invalid_argument(
        fmt::format("{}: {} labels: expected one per row, {}", what, in.labels.size(), s.rows));
  try {
    check_labels(in.labels, s.cols);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{}: {}", what, e.what()));
  }
}

// The forward norms' row statistics as their kernels compute them (rounds 1 and 2).
std::pair<float, float> layernorm_stats(const RowContext& ctx, uint32_t r, float inv_d, float eps) {
  const float mean =
      reduce_row(ctx, r, false, [](float acc, float xv, float) { return acc + xv; }) * inv_d;
  const float var = reduce_row(ctx, r, false, [&](float acc, float xv, float m) {
    const float d = (xv - mean) * m;
    return std::fma(d, d, acc);
  });
  return {mean, isa::vector_rsqrt(var * inv_d + eps)};
}
float rmsnorm_stat(const RowContext& ctx, uint32_t r, float inv_d, float eps) {
  const float sq =
      reduce_row(ctx, r, false, [](float acc, float xv, float) { return std::fma(xv, xv, acc); });
  return isa::vector_rsqrt(sq * inv_d + eps);
}

}  // namespace

RowGrad row_grad_reference(RowOp op, const RowSplit& s, const RowOpParams& p,
                           const RowGradInputs& in) {
  check_grad_inputs(op, s, in);
  const OpShape& shape = shape_of(op);
  RowContext ctx{op, s, p, quantized(in.x, s.dtype, {}), {}, {}, s.vlen / 4};
  if (shape.dy) ctx.dy = quantized(in.dy, s.dtype, {});
  for (float g : in.gamma) ctx.gamma.push_back(quantize(s.dtype, g, {}));
  const float inv_d = 1.0f / static_cast<float>(s.cols), eps = p.epsilon;
  const float factor = gradient_factor(p, s.rows);
  RowGrad out;
  out.dx = Matrix(s.rows, s.cols);
  // The column sums' partials of each row block (its rows in order from 0), in fp32.
  std::vector<std::vector<float>> dg(s.row_parts, std::vector<float>(s.cols, 0.0f)), db = dg;
  for (uint32_t i = 0; i < s.row_parts; ++i)
    for (uint32_t r = s.row_start[i]; r < s.row_start[i + 1]; ++r) {
      const auto x = [&](uint32_t c) { return ctx.at(r, c); };
      const auto dy = [&](uint32_t c) { return ctx.dy_at(r, c); };
      const auto g = [&](uint32_t c) { return dy(c) * ctx.gamma_at(c); };
      float v1 = 0, v2 = 0, v3 = 0, v4 = 0;
      switch (op) {
        case RowOp::SoftmaxBackward:
          v1 = reduce_cols(ctx, r, false, [&](float acc, uint32_t c, float) {
            return std::fma(dy(c), x(c), acc);
          });
          break;
        case RowOp::LayerNormBackward:
          std::tie(v1, v2) = layernorm_stats(ctx, r, inv_d, eps);
          v3 =
              reduce_cols(ctx, r, false, [&](float acc, uint32_t c, float) { return acc + g(c); }) *
              inv_d;
          v4 = reduce_cols(ctx, r, false,
                           [&](float acc, uint32_t c, float) {
                             return std::fma(g(c), (x(c) - v1) * v2, acc);
                           }) *
               inv_d;
          break;
        case RowOp::RmsNormBackward:
          v1 = rmsnorm_stat(ctx, r, inv_d, eps);
          v2 =
              reduce_cols(ctx, r, false,
                          [&](float acc, uint32_t c, float) { return std::fma(g(c), x(c), acc); }) *
              inv_d * v1 * v1;
          break;
        case RowOp::SoftmaxCrossEntropyBackward:
          v1 = reduce_row(ctx, r, true,
                          [](float acc, float xv, float k) { return vmax(acc, xv + k); });
          v2 = isa::vector_recip(reduce_row(ctx, r, false, [&](float acc, float xv, float k) {
            return acc + isa::vector_exp(xv + k - v1);
          }));
          break;
        default:
          break;  // refused above
      }
      for (uint32_t c = 0; c < s.cols; ++c) {
        float v = 0;
        switch (op) {
          case RowOp::SoftmaxBackward:
            v = (dy(c) - v1) * x(c) * p.scale;
            break;
          case RowOp::LayerNormBackward: {
            const float xhat = (x(c) - v1) * v2;
            v = (g(c) - v3 - xhat * v4) * v2;
            dg[i][c] = std::fma(dy(c), xhat, dg[i][c]);
            db[i][c] = db[i][c] + dy(c);
            break;
          }
          case RowOp::RmsNormBackward:
            v = (g(c) - x(c) * v2) * v1;
            dg[i][c] = std::fma(dy(c), x(c) * v1, dg[i][c]);
            break;
          case RowOp::SoftmaxCrossEntropyBackward: {
            // The one-hot exactly as the kernel builds it: 1 at the label, +0 elsewhere.
            const float d = float(c) - float(in.labels[r]), one_hot = std::max(1.0f - d * d, 0.0f);
            v = (isa::vector_exp(x(c) + 0.0f - v1) * v2 - one_hot) * factor;
            break;
          }
          default:
            break;
        }
        out.dx.at(r, c) = s.dtype == DType::Fp32 ? v : quantize(s.dtype, v, {});
      }
    }
  // Up the tree: a block's children are complete before it adds them (higher blocks first).
  for (uint32_t i = s.row_parts; i-- > 0;)
    for (uint32_t k = 0; k < tree_node(i, s.row_parts).children; ++k)
      for (uint32_t c = 0; c < s.cols; ++c) {
        dg[i][c] = dg[i][c] + dg[i + (1u << k)][c];
        db[i][c] = db[i][c] + db[i + (1u << k)][c];
      }
  const auto sum = [&](const std::vector<float>& v) {
    Matrix m(1, s.cols);
    for (uint32_t c = 0; c < s.cols; ++c)
      m.at(0, c) = p.sums_dtype == DType::Fp32 ? v[c] : quantize(p.sums_dtype, v[c], {});
    return m;
  };
  if (shape.sums > 0) out.dgamma = sum(dg[0]);
  if (shape.sums > 1) out.dbeta = sum(db[0]);
  return out;
}

RowGrad64 row_grad_reference_f64(RowOp op, const RowSplit& s, const RowOpParams& p,
                                 const RowGradInputs& in) {
  check_grad_inputs(op, s, in);
  const OpShape& shape = shape_of(op);
  const Matrix q = quantized(in.x, s.dtype, {});
  const Matrix dq = shape.dy ? quantized(in.dy, s.dtype, {}) : Matrix();
  std::vector<double> gamma(s.cols, 0.0);
  for (uint32_t c = 0; c < in.gamma.size(); ++c) gamma[c] = quantize(s.dtype, in.gamma[c], {});
  const double u = std::ldexp(1.0, -24), n = s.cols;
  const double u_out = s.dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  const double u_sum = p.sums_dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  RowGrad64 ref;
  ref.dx = Reference64{s.rows, s.cols, {}, {}};
  // The column sums: value, the error of their terms, the sum of the terms' magnitudes.
  std::vector<double> dg(s.cols), dg_err(s.cols), dg_abs(s.cols), db(s.cols), db_abs(s.cols);
  // Each bound adds the fp32 errors of the kernel's steps: a sum of n terms n roundings of the
  // sum of their magnitudes, a product or difference one rounding, rsqrt a few ulps.
  for (uint32_t r = 0; r < s.rows; ++r) {
    std::vector<double> x(s.cols), dy(s.cols, 0.0), g(s.cols);
    double sum_dyx = 0, abs_dyx = 0, mean = 0, abs_x = 0, sq = 0, mx = -INFINITY, big = 0;
    for (uint32_t c = 0; c < s.cols; ++c) {
      x[c] = q.at(r, c);
      if (shape.dy) dy[c] = dq.at(r, c);
      g[c] = dy[c] * gamma[c];
      sum_dyx += dy[c] * x[c], abs_dyx += std::fabs(dy[c] * x[c]);
      mean += x[c] / n, abs_x += std::fabs(x[c]) / n, sq += x[c] * x[c];
      mx = std::max(mx, x[c]), big = std::max(big, std::fabs(x[c]));
    }
    double var = 0, sum_exp = 0;
    for (uint32_t c = 0; c < s.cols; ++c) {
      var += (x[c] - mean) * (x[c] - mean) / n;
      sum_exp += std::exp(x[c] - mx);
    }
    const double rstd = 1.0 / std::sqrt(var + p.epsilon);
    const double rms = 1.0 / std::sqrt(sq / n + p.epsilon), e_rms = (n / 2 + 8) * u;
    // layernorm: xhat and its error, the means of g and g xhat; rmsnorm: k = mean(g x) r^2.
    std::vector<double> xhat(s.cols), e_xhat(s.cols);
    double mg = 0, mgx = 0, abs_g = 0, abs_gx = 0, xhat_max = 0, e_xhat_max = 0;
    for (uint32_t c = 0; c < s.cols; ++c) {
      xhat[c] = (x[c] - mean) * rstd;
      e_xhat[c] = (n + 10) * u * rstd * (std::fabs(x[c]) + std::fabs(mean) + abs_x);
      mg += g[c] / n, mgx += g[c] * xhat[c] / n;
      abs_g += std::fabs(g[c]) / n, abs_gx += std::fabs(g[c] * x[c]) / n;
      xhat_max = std::max(xhat_max, std::fabs(xhat[c]));
      e_xhat_max = std::max(e_xhat_max, e_xhat[c]);
    }
    double mean_gx = 0;
    for (uint32_t c = 0; c < s.cols; ++c) mean_gx += g[c] * x[c] / n;
    const double k = mean_gx * rms * rms;
    const double e_k = (n + 2) * u * abs_gx * rms * rms + std::fabs(k) * (2 * e_rms + 3 * u);
    const double e_mgx = abs_g * e_xhat_max + (n + 3) * u * abs_g * xhat_max;
    const double factor = p.mean ? p.scale / s.rows : p.scale;
    for (uint32_t c = 0; c < s.cols; ++c) {
      double v = 0, bound = 0;
      switch (op) {
        case RowOp::SoftmaxBackward:
          v = p.scale * x[c] * (dy[c] - sum_dyx);
          bound = std::fabs(p.scale * x[c]) * (n + 4) * u * (abs_dyx + std::fabs(dy[c])) +
                  3 * u * std::fabs(v);
          break;
        case RowOp::LayerNormBackward: {
          v = rstd * (g[c] - mg - xhat[c] * mgx);
          const double t = std::fabs(g[c]) + std::fabs(mg) + std::fabs(xhat[c] * mgx);
          bound = rstd * (u * std::fabs(g[c]) + (n + 2) * u * abs_g + e_xhat[c] * std::fabs(mgx) +
                          std::fabs(xhat[c]) * e_mgx + 3 * u * t) +
                  (n + 12) * u * std::fabs(v);
          dg[c] += dy[c] * xhat[c], dg_abs[c] += std::fabs(dy[c] * xhat[c]);
          dg_err[c] += std::fabs(dy[c]) * (e_xhat[c] + u * std::fabs(xhat[c]));
          db[c] += dy[c], db_abs[c] += std::fabs(dy[c]);
          break;
        }
        case RowOp::RmsNormBackward:
          v = rms * (g[c] - x[c] * k);
          bound = rms * (u * std::fabs(g[c]) + std::fabs(x[c]) * e_k +
                         2 * u * (std::fabs(g[c]) + std::fabs(x[c] * k))) +
                  (e_rms + u) * std::fabs(v);
          dg[c] += dy[c] * x[c] * rms, dg_abs[c] += std::fabs(dy[c] * x[c] * rms);
          dg_err[c] += std::fabs(dy[c] * x[c] * rms) * (e_rms + 2 * u);
          break;
        case RowOp::SoftmaxCrossEntropyBackward: {
          const double pr = std::exp(x[c] - mx) / sum_exp;
          const double one_hot = int32_t(c) == in.labels[r] ? 1.0 : 0.0;
          v = (pr - one_hot) * factor;
          // As softmax's bound (exp's argument, the sum), then the difference, the factor's two
          // roundings and the product.
          bound = std::fabs(factor) * (pr * (4 * big + n + 8) * u + u * std::fabs(pr - one_hot)) +
                  3 * u * std::fabs(v);
          break;
        }
        default:
          break;  // refused above
      }
      ref.dx.value.push_back(v);
      ref.dx.bound.push_back(bound + u_out * (std::fabs(v) + bound));
    }
  }
  // The sums: a path from a row to block 0 adds at most its block's rows and the tree's levels.
  const double adds = s.rows + tree_levels(s.row_parts) + 2;
  const auto sum = [&](const std::vector<double>& v, const std::vector<double>& err,
                       const std::vector<double>& abs) {
    Reference64 m{1, s.cols, {}, {}};
    for (uint32_t c = 0; c < s.cols; ++c) {
      const double b = err[c] + adds * u * abs[c];
      m.value.push_back(v[c]);
      m.bound.push_back(b + u_sum * (std::fabs(v[c]) + b));
    }
    return m;
  };
  if (shape.sums > 0) ref.dgamma = sum(dg, dg_err, dg_abs);
  if (shape.sums > 1) ref.dbeta = sum(db, std::vector<double>(s.cols, 0.0), db_abs);
  return ref;
}

RowGradRun run_row_grad(Executor& executor, RowOp op, DType dtype, const RowOpParams& params,
                        const RowGradInputs& in, RowOpOptions options) {
  const OpShape& shape = shape_of(op);
  RowGradRun result;
  result.split = split_rows(executor.config(), dtype, in.x.rows, in.x.cols, options.col_parts);
  const RowSplit& s = result.split;
  check_grad_inputs(op, s, in);
  RowOpProblem p;
  p.op = op, p.split = s, p.params = params;
  mesh::SramMap map(build_program(op, dtype, s.vlen), options.sram_from);
  p.x = map.take(s.bytes());
  p.out = map.take(s.bytes());
  if (shape.dy) p.dy = map.take(s.bytes());
  if (shape.gamma) p.gamma = map.take(s.vector_bytes());
  if (shape.labels) p.labels = map.take(embedding_ids_bytes(s));
  const RowSplit sums = gradient_split(s, params.sums_dtype);
  if (shape.sums > 0) p.dgamma = map.take(sums.bytes());
  if (shape.sums > 1) p.dbeta = map.take(sums.bytes());
  p.work = map.take(row_op_work_bytes(op, s));
  const RowOpKernel kernel(executor.config(), p);
  hw::Machine& m = executor.machine();
  write_tensor(m, s, p.x, in.x);
  if (shape.dy) write_tensor(m, s, p.dy, in.dy);
  if (shape.gamma) write_vector(m, s, p.gamma, in.gamma);
  if (shape.labels) write_labels(m, s, p.labels, in.labels);
  kernel.place(m);
  result.estimate = kernel.estimate_cycles();
  result.run = executor.run(kernel);
  if (!result.run.ok) return result;
  result.out.dx = read_tensor(m, s, p.out);
  if (shape.sums > 0) result.out.dgamma = read_tensor(m, sums, p.dgamma);
  if (shape.sums > 1) result.out.dbeta = read_tensor(m, sums, p.dbeta);
  return result;
}

RowOpRun run_cross_entropy(Executor& executor, DType dtype, const RowOpParams& params,
                           const Matrix& logits, const std::vector<int32_t>& labels,
                           RowOpOptions options) {
  const RowOp op = RowOp::SoftmaxCrossEntropy;
  RowOpRun result;
  result.split = split_rows(executor.config(), dtype, logits.rows, logits.cols, options.col_parts);
  const RowSplit& s = result.split;
  if (labels.size() != logits.rows)
    throw std::invalid_argument(fmt::format("{}: {} labels: expected one per row, {}",
                                            describe(op, s), labels.size(), logits.rows));
  try {
    check_labels(labels, logits.cols);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{}: {}", describe(op, s), e.what()));
  }
  RowOpProblem p;
  p.op = op, p.split = s, p.params = params;
  mesh::SramMap map(build_program(op, dtype, s.vlen), options.sram_from);
  p.x = map.take(s.bytes());
  p.out = map.take(s.vlen);
  p.labels = map.take(embedding_ids_bytes(s));
  p.work = map.take(row_op_work_bytes(op, s));
  const RowOpKernel kernel(executor.config(), p);
  hw::Machine& m = executor.machine();
  write_tensor(m, s, p.x, logits);
  write_labels(m, s, p.labels, labels);
  kernel.place(m);
  result.estimate = kernel.estimate_cycles();
  result.run = executor.run(kernel);
  if (result.run.ok) {
    RowSplit one = split_rows(executor.config(), params.loss_dtype, 1, 1);
    one.nodes = {s.nodes.front()};
    result.out = read_tensor(m, one, p.out);
  }
  return result;
}

RowOpRun run_row_op(Executor& executor, RowOp op, DType dtype, const RowOpParams& params,
                    const Matrix& x, const std::vector<float>& gamma,
                    const std::vector<float>& beta, RowOpOptions options) {
  refuse_loss(op, "run_cross_entropy");
  const OpShape& shape = shape_of(op);
  RowOpRun result;
  result.split = split_rows(executor.config(), dtype, x.rows, x.cols, options.col_parts);
  const RowSplit& s = result.split;
  const std::string what = describe(op, s);
  for (auto [needed, v, name] :
       {std::tuple{shape.gamma, &gamma, "gamma"}, {shape.beta, &beta, "beta"}})
    if (needed && v->size() != x.cols)
      throw std::invalid_argument(
          fmt::format("{}: {} has {} values: expected {}", what, name, v->size(), x.cols));
  RowOpProblem p;
  p.op = op, p.split = s, p.params = params;
  mesh::SramMap map(build_program(op, dtype, s.vlen), options.sram_from);
  p.x = map.take(s.bytes());
  p.out = map.take(s.bytes());
  if (shape.gamma) p.gamma = map.take(s.vector_bytes());
  if (shape.beta) p.beta = map.take(s.vector_bytes());
  p.work = map.take(row_op_work_bytes(op, s));
  const RowOpKernel kernel(executor.config(), p);
  hw::Machine& m = executor.machine();
  write_tensor(m, s, p.x, x);
  if (shape.gamma) write_vector(m, s, p.gamma, gamma);
  if (shape.beta) write_vector(m, s, p.beta, beta);
  kernel.place(m);
  result.estimate = kernel.estimate_cycles();
  result.run = executor.run(kernel);
  if (result.run.ok) result.out = read_tensor(m, s, p.out);
  return result;
}

}  // namespace dojosim::runtime::ops
