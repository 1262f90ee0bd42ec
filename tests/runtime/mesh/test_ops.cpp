// SPDX-License-Identifier: MIT
// The op interface of runtime/mesh: the mapping registry, the node-local relayout op, and ops
// run back to back on one machine (the Executor) with a result staying in node SRAM.
#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <set>
#include <string>

#include "../test_data.h"
#include "hw/config/config_io.h"
#include "hw/node/node.h"
#include "runtime/layout.h"
#include "runtime/mesh/executor.h"
#include "runtime/mesh/mesh_matmul.h"
#include "runtime/mesh/op.h"
#include "runtime/mesh/relayout.h"

using namespace dojosim;
using namespace dojosim::runtime;

namespace {

MatmulOperands operands(Matrix a, Matrix b) {
  MatmulOperands ops;
  ops.a = std::move(a), ops.b = std::move(b);
  return ops;
}

hw::HardwareConfig tiny() {
  return hw::load_config(std::string(DOJOSIM_SOURCE_DIR) + "/configs/tiny.yaml").config;
}

std::string stem(const std::string& path) {
  return std::filesystem::path(path).stem().string();
}

// Two matmuls whose ownership lines up: 1d-cols leaves node p holding C1's column block p
// (fp32, C tile layout); ksplit with its K ranges equal to those blocks needs exactly
// A2[:, K_p] = C1[:, block p] on node p (bf16, A layout). Between them a relayout converts each
// node's block where it lies. The SRAM of each op starts above the previous op's.
struct Chain {
  static constexpr uint32_t M = 32, N1 = 256, K1 = 48, N2 = 40;
  hw::HardwareConfig config = tiny();
  std::unique_ptr<mesh::PlannedMatmul> first, second;
  std::unique_ptr<mesh::RelayoutKernel> relayout;

  Chain() {
    MeshMatmulOptions o1;
    o1.mapping = parse_mapping("1d-cols");
    first = mesh::find_mapping("1d-cols").plan(config,
                                               {DType::Bf16, {M, N1, K1}, MatmulInit::Zero, o1});
    // SRAM, each op above the one before: the first op's data, the second's, the relayout's.
    MeshMatmulOptions o2;
    o2.mapping = parse_mapping("ksplit");
    o2.k_chunk = N1 / first->plan().grid_cols;  // one of 1d-cols' column blocks per node
    second = mesh::find_mapping("ksplit").plan(
        config, {DType::Bf16, {M, N2, N1}, MatmulInit::Zero, o2, first->data_end()});
    const std::vector<mesh::Shard> c = first->shards(mesh::Operand::C),
                                   a = second->shards(mesh::Operand::A);
    REQUIRE(c.size() == a.size());
    std::vector<mesh::RelayoutPair> pairs;
    for (size_t i = 0; i < c.size(); ++i) pairs.push_back({c[i], a[i]});
    relayout = std::make_unique<mesh::RelayoutKernel>(config, pairs, second->data_end());
  }
};

}  // namespace

TEST_CASE("every mapping file in runtime/mesh/mappings is registered, and only those",
          "[registry]") {
  // A mapping that compiles but is not in mappings.def would only fail when someone names it.
  const auto& registry = mesh::mapping_registry();
  std::set<std::string> files, names;
  for (const mesh::MappingEntry& e : registry) {
    files.insert(stem(e.mapping.file()));
    CHECK(names.insert(std::string(e.name)).second);  // each name once
    CHECK(mapping_name(parse_mapping(std::string(e.name))) == e.name);
  }
  int count = 0;
  for (const auto& f : std::filesystem::directory_iterator(std::string(DOJOSIM_SOURCE_DIR) +
                                                           "/runtime/mesh/mappings")) {
    if (f.path().extension() != ".cpp") continue;
    ++count;
    INFO(f.path().string());
    CHECK(files.count(f.path().stem().string()) == 1);
  }
  CHECK(count == int(files.size()));
  CHECK(matmul_mappings().size() == registry.size());
  CHECK_THROWS_WITH(parse_mapping("systolic"),
                    "mapping 'systolic': expected one of summa, 1d, 1d-cols, cannon, ksplit, auto");
}

// The generated program reads like kernels/asm: named arguments and labels.
TEST_CASE("generated programs name their arguments and the labels a reader follows", "[codegen]") {
  Chain chain;
  const std::string& text = chain.first->program().text;
  CHECK(text.find(".equ BUFA0, 128") != std::string::npos);
  CHECK(text.find("mover_A_relay:") != std::string::npos);
  CHECK(text.find("1f") == std::string::npos);
  CHECK(chain.relayout->program().text.find("convert_element:") != std::string::npos);
}

TEST_CASE("relayout turns each node's fp32 C block into the next op's bf16 A block, padding zero",
          "[relayout]") {
  Chain chain;
  Executor executor(chain.config);
  hw::Machine& machine = executor.machine();
  const Matrix c = test::random_matrix(Chain::M, Chain::N1, 7);
  for (const mesh::Shard& s : chain.first->shards(mesh::Operand::C))
    mesh::write_shard(machine, s, c, {});
  // Stale bytes where A goes: the relayout must clear the padding.
  for (const mesh::Shard& s : chain.second->shards(mesh::Operand::A)) {
    const std::vector<uint8_t> stale(s.layout.bytes(), 0xab);
    machine.node(s.node)->sram().write(s.address, stale.data(), stale.size());
  }
  chain.relayout->place(machine);
  const Executor::Run run = executor.run(*chain.relayout);
  REQUIRE(run.ended == hw::MachineOutcome::Finished);
  const Matrix want = mesh::RelayoutKernel::reference(c, DType::Bf16);
  for (const mesh::Shard& s : chain.second->shards(mesh::Operand::A)) {
    std::vector<uint8_t> got(s.layout.bytes());
    machine.node(s.node)->sram().read(s.address, got.data(), got.size());
    INFO(fmt::format("node ({},{})", s.node.x, s.node.y));
    CHECK(got == pack(want.block(s.r0, s.r1, s.c0, s.c1), s.layout));
  }
}

TEST_CASE("two matmuls back to back in one machine: C stays in node SRAM and feeds the next as A",
          "[resident]") {
  Chain chain;
  const Matrix a1 = test::random_matrix(Chain::M, Chain::K1, 1),
               b1 = test::random_matrix(Chain::K1, Chain::N1, 2),
               b2 = test::random_matrix(Chain::N1, Chain::N2, 3);
  Executor executor(chain.config);
  hw::Machine& machine = executor.machine();
  // Every host write before the first run; none between the runs, and C1 never read.
  chain.first->place(machine, operands(a1, b1));
  chain.relayout->place(machine);
  chain.second->place(machine, operands(Matrix(), b2), mesh::Resident{true, false});
  executor.keep(chain.second->data_begin(), chain.relayout->data_end());  // B2, the tables
  REQUIRE(executor.run(*chain.first).ended == hw::MachineOutcome::Finished);
  for (const mesh::Shard& s : chain.first->shards(mesh::Operand::C))
    executor.keep(s.address, s.address + s.layout.bytes());
  REQUIRE(executor.run(*chain.relayout).ended == hw::MachineOutcome::Finished);
  executor.release();
  executor.keep(chain.second->data_begin(), chain.second->data_end());
  const Executor::Run last = executor.run(*chain.second);
  REQUIRE(last.ended == hw::MachineOutcome::Finished);
  CHECK(last.start > 0);  // it ran after the others, on the same machine

  const Matrix c1 = reference_mesh_matmul_exact(DType::Bf16, {}, MatmulInit::Zero, operands(a1, b1),
                                                chain.first->plan());
  const Matrix a2 = mesh::RelayoutKernel::reference(c1, DType::Bf16);
  const Matrix want = reference_mesh_matmul_exact(DType::Bf16, {}, MatmulInit::Zero,
                                                  operands(a2, b2), chain.second->plan());
  test::require_bit_exact(chain.second->read(machine), want);
}
