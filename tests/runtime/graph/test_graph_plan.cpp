// SPDX-License-Identifier: MIT
// The graph planner (runtime/graph/plan/plan.h) on small graphs written here: liveness and SRAM
// reuse, spills to HBM, weight prefetch behind the previous op, redistributions, determinism,
// and the refusal of a graph that fits neither SRAM nor HBM.
#include <catch2/catch.hpp>
#include <string>

#include "hw/config/config_io.h"
#include "runtime/graph/io.h"
#include "runtime/graph/op_table.h"
#include "runtime/graph/plan/plan.h"
#include "runtime/graph/validate.h"

using namespace dojosim;
using namespace dojosim::runtime::graph;

namespace {

hw::HardwareConfig tiny(const std::vector<std::string>& sets = {}) {
  return hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml", sets).config;
}

struct Planned {
  Graph graph;
  Plan plan;
};

Planned plan_of(const std::string& yaml, const hw::HardwareConfig& config = tiny()) {
  Planned p{parse_graph_yaml(yaml, "test.graph.yaml"), {}};
  p.plan = plan_graph(p.graph, validate(p.graph), config);
  return p;
}

const OpPlan& op_named(const Plan& p, const std::string& name) {
  for (const OpPlan& r : p.ops)
    if (r.op == name) return r;
  FAIL("no op " << name);
  return p.ops.front();
}

// A chain of relus over [rows, 1024] fp32 tensors: x -> a -> b -> c -> d.
std::string relu_chain(int rows) {
  std::string t = "[" + std::to_string(rows) + ", 1024]";
  return "version: 1\ntensors:\n"
         "  - {name: x, shape: " +
         t +
         ", dtype: fp32, role: input}\n"
         "  - {name: a, shape: " +
         t +
         ", dtype: fp32}\n"
         "  - {name: b, shape: " +
         t +
         ", dtype: fp32}\n"
         "  - {name: c, shape: " +
         t +
         ", dtype: fp32}\n"
         "  - {name: d, shape: " +
         t +
         ", dtype: fp32}\n"
         "ops:\n"
         "  - {name: ra, type: relu, inputs: [x], outputs: [a]}\n"
         "  - {name: rb, type: relu, inputs: [a], outputs: [b]}\n"
         "  - {name: rc, type: relu, inputs: [b], outputs: [c]}\n"
         "  - {name: rd, type: relu, inputs: [c], outputs: [d]}\n";
}

}  // namespace

TEST_CASE("every op of the op table has a cost model", "[plan]") {
  const std::vector<std::string> costed = costed_op_types();
  for (const OpSpec& spec : op_table())
    CHECK(std::find(costed.begin(), costed.end(), std::string(spec.name)) != costed.end());
  CHECK(costed.size() == op_table().size());
}

TEST_CASE("liveness: the SRAM of a tensor nobody reads again is reused", "[plan]") {
  // 1024 rows on 16 nodes: 64 rows x 4 KiB = 256 KiB per node and tensor. Each relu holds its
  // input and its output only: the dead tensors before it are freed.
  const Planned p = plan_of(relu_chain(1024));
  const uint64_t block = 64 * 1024 * 4;
  for (const OpPlan& r : p.plan.ops) CHECK(r.sram_high_water == 2 * block);
  CHECK(p.plan.spills == 0);
  CHECK(p.plan.sram_high_water == 2 * block);
}

TEST_CASE("activations spill to HBM when SRAM is full and are loaded back", "[plan]") {
  // 1600 rows: 400 KiB per node and tensor; a and b stay live until e: at rd, a, b, c and d
  // (1600 KiB) pass the 1248 KiB of tiny's nodes, so a (read last, first by name) spills.
  std::string yaml = relu_chain(1600);
  yaml.insert(yaml.find("ops:"), "  - {name: e, shape: [1600, 1024], dtype: fp32}\n");
  yaml += "  - {name: re, type: add, inputs: [a, b], outputs: [e]}\n";
  const Planned p = plan_of(yaml);
  const OpPlan& rd = op_named(p.plan, "rd");
  REQUIRE(rd.spilled == std::vector<std::string>{"a"});
  CHECK(rd.hbm_bytes >= 1600 * 1024 * 4);  // a written
  const OpPlan& re = op_named(p.plan, "re");
  CHECK(re.inputs_at[0] == "hbm");  // a loaded back
  CHECK(re.inputs_at[1].rfind("sram", 0) == 0);
  CHECK(p.plan.spills >= 1);
  for (const OpPlan& r : p.plan.ops) CHECK(r.sram_high_water <= p.plan.machine.sram_bytes);
}

TEST_CASE("weights load from HBM during the previous op", "[plan]") {
  const Planned p = plan_of(
      "version: 1\ntensors:\n"
      "  - {name: x, shape: [512, 512], dtype: bf16, role: input}\n"
      "  - {name: w1, shape: [512, 512], dtype: bf16, role: weight}\n"
      "  - {name: w2, shape: [512, 512], dtype: bf16, role: weight}\n"
      "  - {name: y1, shape: [512, 512], dtype: bf16}\n"
      "  - {name: y2, shape: [512, 512], dtype: bf16}\n"
      "ops:\n"
      "  - {name: mm1, type: matmul, inputs: [x, w1], outputs: [y1]}\n"
      "  - {name: mm2, type: matmul, inputs: [y1, w2], outputs: [y2]}\n");
  const double load = 512.0 * 512 * 2 / p.plan.machine.hbm_bytes_per_cycle;
  const OpPlan& mm1 = p.plan.ops[0];
  const OpPlan& mm2 = p.plan.ops[1];
  CHECK(mm1.hidden_load_cycles == 0);  // nothing runs before the first op
  CHECK(mm1.hbm_cycles == Approx(2 * load));
  CHECK(mm2.hidden_load_cycles == Approx(std::min(load, mm1.cycles)));
  CHECK(mm2.hbm_cycles == Approx(load - mm2.hidden_load_cycles).margin(1e-6));
  CHECK(mm2.inputs_at[1] == "hbm");
  CHECK(p.plan.weight_bytes == 2 * 512 * 512 * 2);
}

TEST_CASE("an input in another layout than the op reads is redistributed", "[plan]") {
  // t = transpose(x) moves every element (a layout op's own redistribution); s = t + u reads
  // u in t's layout, as it already is: nothing moves.
  const Planned p = plan_of(
      "version: 1\ntensors:\n"
      "  - {name: x, shape: [256, 512], dtype: fp32, role: input}\n"
      "  - {name: y, shape: [512, 256], dtype: fp32, role: input}\n"
      "  - {name: w, shape: [256, 256], dtype: fp32, role: weight}\n"
      "  - {name: t, shape: [512, 256], dtype: fp32}\n"
      "  - {name: u, shape: [512, 256], dtype: fp32}\n"
      "  - {name: m, shape: [512, 256], dtype: fp32}\n"
      "  - {name: s, shape: [512, 256], dtype: fp32}\n"
      "  - {name: r, shape: [512, 256], dtype: fp32}\n"
      "ops:\n"
      "  - {name: tr, type: transpose, inputs: [x], outputs: [t], attributes: {perm: [1, 0]}}\n"
      "  - {name: act, type: relu, inputs: [y], outputs: [u]}\n"
      "  - {name: sum, type: add, inputs: [t, u], outputs: [s]}\n"
      "  - {name: mm, type: matmul, inputs: [s, w], outputs: [m]}\n"
      "  - {name: res, type: add, inputs: [m, u], outputs: [r]}\n");
  const OpPlan& tr = op_named(p.plan, "tr");
  CHECK(tr.mapping == "redistribute");
  CHECK(tr.redistribution_cycles > 0);
  const OpPlan& sum = op_named(p.plan, "sum");
  CHECK(sum.redistributed.empty());
  CHECK(sum.redistribution_cycles == 0);
  // res runs where the matmul left m; u follows unless the matmul's layout is the row split.
  const OpPlan& mm = op_named(p.plan, "mm");
  const OpPlan& res = op_named(p.plan, "res");
  const bool same = mm.outputs_at[0] == sum.outputs_at[0];
  CHECK(res.redistributed.size() == (same ? 0u : 1u));
  CHECK((res.redistribution_cycles > 0) == !same);
  CHECK(p.plan.redistributions >= 1);
}

TEST_CASE("a row op whose rows are split over nodes pays a reduction across them", "[plan]") {
  // The same 1024 elements per node of tiny's 16: whole rows of [16, 1024], or rows of
  // [4, 4096] cut over 4 nodes each, whose mean and variance go up a push tree and back.
  const auto layernorm = [](int rows, int cols) {
    const std::string x = "[" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
    const std::string d = "[" + std::to_string(cols) + "]";
    return plan_of(
               "version: 1\ntensors:\n"
               "  - {name: x, shape: " +
               x +
               ", dtype: fp32, role: input}\n"
               "  - {name: g, shape: " +
               d +
               ", dtype: fp32, role: weight}\n"
               "  - {name: b, shape: " +
               d +
               ", dtype: fp32, role: weight}\n"
               "  - {name: y, shape: " +
               x +
               ", dtype: fp32}\n"
               "ops:\n"
               "  - {name: ln, type: layernorm, inputs: [x, g, b], outputs: [y]}\n")
        .plan.ops[0];
  };
  const OpPlan whole = layernorm(16, 1024), cut = layernorm(4, 4096);
  CHECK(whole.outputs_at[0] == "sram rows 16x1");
  CHECK(cut.outputs_at[0] == "sram rows 4x4");
  CHECK(cut.compute_cycles > whole.compute_cycles);
}

TEST_CASE("a matmul too large for SRAM runs in panels through HBM", "[plan]") {
  // C is 65536 x 256 fp32, 64 MiB: more than tiny's 16 nodes hold, so A's rows go in panels,
  // each read from HBM and its C written there.
  const Planned p = plan_of(
      "version: 1\ntensors:\n"
      "  - {name: x, shape: [65536, 256], dtype: bf16, role: input}\n"
      "  - {name: w, shape: [256, 256], dtype: bf16, role: weight}\n"
      "  - {name: y, shape: [65536, 256], dtype: bf16}\n"
      "ops:\n"
      "  - {name: mm, type: matmul, inputs: [x, w], outputs: [y]}\n");
  const OpPlan& mm = p.plan.ops[0];
  CHECK(mm.mapping.find("panels") != std::string::npos);
  CHECK(mm.inputs_at[0] == "hbm");
  CHECK(mm.outputs_at[0] == "hbm");
  CHECK(mm.hbm_bytes >= uint64_t(65536) * 256 * 2 * 2);  // A read, C written
  CHECK(mm.sram_high_water <= p.plan.machine.sram_bytes);
}

TEST_CASE("the same graph and config give the same plan", "[plan]") {
  const std::string path = std::string(DOJOSIM_SOURCE_DIR) + "/workloads/gpt2_block.graph.yaml";
  const Graph g = load_graph(path);
  const Analysis a = validate(g);
  const hw::HardwareConfig config = tiny();
  CHECK(plan_json(plan_graph(g, a, config)).dump() == plan_json(plan_graph(g, a, config)).dump());
  CHECK(plan_text(plan_graph(g, a, config)) == plan_text(plan_graph(g, a, config)));
}

TEST_CASE("a graph that fits neither SRAM nor HBM is refused naming the op and tensor",
          "[plan][errors]") {
  // 640 MiB in and out of one relu: not in tiny's 20 MiB of SRAM, nor in its one DIP of 1 GiB.
  const std::string yaml =
      "version: 1\ntensors:\n"
      "  - {name: x, shape: [1024, 1024, 160], dtype: fp32, role: input}\n"
      "  - {name: y, shape: [1024, 1024, 160], dtype: fp32}\n"
      "ops:\n"
      "  - {name: big, type: relu, inputs: [x], outputs: [y]}\n";
  const hw::HardwareConfig small_hbm = tiny({"tile.host.dip_capacity_gib=1"});
  CHECK_THROWS_WITH(plan_of(yaml, small_hbm),
                    Catch::Matches("test.graph.yaml:6: op 'big' \\(relu\\): tensor "
                                   "'y' \\(671088640 bytes\\) fits neither in SRAM .* nor in HBM "
                                   "\\(402653184 of 1073741824 bytes free\\)"));
  CHECK_NOTHROW(plan_of(yaml));  // the default DIPs hold it: the op streams through HBM
  CHECK(op_named(plan_of(yaml).plan, "big").outputs_at[0] == "hbm");
}
