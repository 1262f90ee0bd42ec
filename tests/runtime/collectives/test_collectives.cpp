// SPDX-License-Identifier: MIT
// The collective schedules on the host: the algorithm table is complete, every schedule of
// every algorithm and collective gives the right result when replayed (against float64), groups
// are parsed and refused as docs/collectives.md says, and a run on the machine equals the
// replay bit for bit (one run per test case: SystemC elaborates once per process).
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "runtime/collectives/kernel.h"
#include "runtime/collectives/schedule.h"

using namespace dojosim;
using namespace dojosim::runtime::collectives;

namespace {

hw::HardwareConfig tiny() {
  hw::HardwareConfig c;
  c.die.nodes_x = 4;
  c.die.nodes_y = 4;
  c.die.disabled.clear();
  return c;
}

CollectiveProblem problem(const hw::HardwareConfig& c, Collective op, const char* algo,
                          const char* group, uint64_t bytes, runtime::DType dtype) {
  CollectiveProblem p;
  p.op = op;
  p.dtype = dtype;
  p.bytes = bytes;
  p.group = parse_group(c, group);
  p.root = static_cast<uint32_t>(p.group.members.size() - 1);
  p.algorithm = algo;
  return p;
}

}  // namespace

TEST_CASE("every algorithm file in runtime/collectives/algorithms is registered, and only those",
          "[registry]") {
  std::set<std::string> files, names;
  for (const AlgorithmEntry& e : algorithm_registry()) {
    files.insert(std::filesystem::path(e.file).stem().string());
    CHECK(names.insert(e.name).second);
  }
  int count = 0;
  for (const auto& f : std::filesystem::directory_iterator(std::string(DOJOSIM_SOURCE_DIR) +
                                                           "/runtime/collectives/algorithms")) {
    if (f.path().extension() != ".cpp") continue;
    ++count;
    INFO(f.path().string());
    CHECK(files.count(f.path().stem().string()) == 1);
  }
  CHECK(count == int(files.size()));
}

TEST_CASE("every schedule replayed on the host gives the collective's result", "[schedule]") {
  const hw::HardwareConfig c = tiny();
  const Collective ops[] = {Collective::AllReduce, Collective::ReduceScatter, Collective::AllGather,
                            Collective::Broadcast};
  // The whole mesh, a rectangle, and a list with rows of different lengths; sizes that do not
  // divide by the group.
  for (const char* group : {"all", "1:0..2:3", "0:0+1:0+2:0+3:0+0:1+1:1+0:2+3:3+2:2"})
    for (Collective op : ops)
      for (const char* algo : {"ring", "2d", "halving-doubling"})
        for (runtime::DType dtype : {runtime::DType::Bf16, runtime::DType::Fp32}) {
          const CollectivePlan plan(c, problem(c, op, algo, group, 4 * 1001 * 16, dtype));
          INFO(group << " " << collective_name(op) << " " << algo);
          const Vectors in = random_inputs(plan, 7);
          const Vectors got = reference_exact(plan, in);
          const Reference64 want = reference_f64(plan, in);
          uint64_t outside = 0, compared = 0;
          for (uint32_t m = 0; m < plan.members(); ++m)
            for (const auto& [a, b] : plan.defined(m))
              for (uint64_t e = a; e < b; ++e, ++compared)
                outside += std::fabs(got[m][e] - want.value[e]) > want.bound[e];
          CHECK(outside == 0);
          // A reduce-scatter defines each element at exactly one member.
          CHECK(compared == (op == Collective::ReduceScatter ? 1 : plan.members()) * plan.count());
        }
}

TEST_CASE(
    "column rings both ways, in one level or two, gathers direct or by ring: every column length "
    "reduces and gathers",
    "[schedule]") {
  // Rows of `cols` members keyed 0..cols-1 (the last row short by one when asked), replayed
  // with exact small integers: after an all-reduce every element is the sum over members,
  // after a reduce-scatter every owner holds the sum of its leaves, after an all-gather every
  // member holds every owner's leaves. Schedule::finish() throws if two sends meet. In two
  // levels (rows = K x G, e.g. 4, 6, 9, 12, 20) the leaves of a column lie by place in the group.
  for (bool direct : {false, true})
    for (bool two_levels : {false, true})
      for (uint32_t rows = 2; rows <= 21; ++rows)
        for (uint32_t cols : {2u, 3u})
          for (bool short_row : {false, true})
            for (Collective op :
                 {Collective::AllReduce, Collective::ReduceScatter, Collective::AllGather}) {
              INFO(rows << " rows of " << cols << (short_row ? ", the last short" : "") << " "
                        << collective_name(op) << (two_levels ? ", columns in two levels" : "")
                        << (direct ? ", gathers direct" : ""));
              std::vector<std::vector<uint32_t>> grid;
              std::vector<uint32_t> key;
              for (uint32_t r = 0; r < rows; ++r) {
                grid.emplace_back();
                for (uint32_t c = 0; c < cols - (short_row && r + 1 == rows); ++c) {
                  grid.back().push_back(static_cast<uint32_t>(key.size()));
                  key.push_back(c);
                }
              }
              const uint32_t n = static_cast<uint32_t>(key.size());
              Schedule s = two_level(op, grid, key, 0, true, two_levels, direct);
              const uint64_t count = 7 * n + 3;  // uneven over the leaves
              REQUIRE_NOTHROW(s.finish(count, n));
              // Each column phase: about rows / 2 rounds, not rows - 1.
              const uint32_t column = (rows + 1) / 2, row = cols - 1;
              CHECK(s.rounds() <=
                    (op == Collective::AllReduce ? 2 * (row + column) : row + column));
              // A direct gather: one round a column level.
              if (direct && op == Collective::AllGather) CHECK(s.rounds() <= row + 2);
              std::vector<uint64_t> first{0};
              for (const Leaf& l : s.leaves) first.push_back(first.back() + l.elements);
              std::vector<std::vector<double>> v(n, std::vector<double>(count, 0));
              for (uint32_t m = 0; m < n; ++m)
                for (size_t p = 0; p < s.leaves.size(); ++p)
                  for (uint64_t e = first[p]; e < first[p + 1]; ++e)
                    v[m][e] = op == Collective::AllGather ? (s.leaves[p].owner == m ? m + 1.0 : 0.0)
                                                          : m + 1.0;
              for (size_t i = 0; i < s.transfers.size();) {
                size_t end = i;
                while (end < s.transfers.size() && s.transfers[end].round == s.transfers[i].round)
                  ++end;
                std::vector<std::vector<double>> payload;
                for (size_t k = i; k < end; ++k) {
                  const Transfer& t = s.transfers[k];
                  payload.emplace_back(v[t.from].begin() + first[t.first],
                                       v[t.from].begin() + first[t.last]);
                }
                for (size_t k = i; k < end; ++k) {
                  const Transfer& t = s.transfers[k];
                  for (uint64_t e = first[t.first]; e < first[t.last]; ++e)
                    v[t.to][e] = (t.reduce ? v[t.to][e] : 0) + payload[k - i][e - first[t.first]];
                }
                i = end;
              }
              const double sum = n * (n + 1) / 2.0;
              uint64_t wrong = 0;
              for (uint32_t m = 0; m < n; ++m)
                for (size_t p = 0; p < s.leaves.size(); ++p)
                  for (uint64_t e = first[p]; e < first[p + 1]; ++e) {
                    const uint32_t owner = s.leaves[p].owner;
                    if (op == Collective::AllReduce) wrong += v[m][e] != sum;
                    if (op == Collective::ReduceScatter && owner == m) wrong += v[m][e] != sum;
                    if (op == Collective::AllGather) wrong += v[m][e] != owner + 1.0;
                  }
              CHECK(wrong == 0);
            }
}

TEST_CASE("semaphores go to the (sender, lane) pairs that carry pieces: 2d on d1 keeps four lanes",
          "[plan]") {
  // Two levels of column rings both ways and direct gathers: a member hears from its row
  // neighbour and from up to seven others in its column (the short row's members, from two
  // columns), a semaphore per sender and lane would need more than 32 at four lanes; but a
  // column transfer of a few leaves lies in one or two lanes' pieces.
  const hw::HardwareConfig c;  // d1
  const CollectivePlan plan(
      c, problem(c, Collective::AllReduce, "2d", "all", 64 << 20, runtime::DType::Bf16));
  CHECK(plan.kernel().lanes() == 4);
}

TEST_CASE("leaves hold whole 64 B vectors when every owner can have one: no padding moves",
          "[plan]") {
  // d1, 64 MiB bf16: 94,786 elements a member over 354 owners, 360 leaves of 2d: each a
  // multiple of 32 elements (the last takes the 2 left over), owners within one vector of each
  // other. 4 KiB: fewer elements than a vector per owner, so shares as before.
  const hw::HardwareConfig c;  // d1
  const CollectivePlan plan(
      c, problem(c, Collective::AllReduce, "2d", "all", 64 << 20, runtime::DType::Bf16));
  const std::vector<Leaf>& leaves = plan.schedule().leaves;
  uint64_t total = 0;
  for (size_t p = 0; p + 1 < leaves.size(); ++p) {
    total += leaves[p].elements;
    CHECK(leaves[p].elements % 32 == 0);
  }
  CHECK(total + leaves.back().elements == plan.count());
  std::map<uint32_t, uint64_t> share;
  for (const Leaf& l : leaves) share[l.owner] += l.elements;
  uint64_t least = ~0ull, most = 0;
  for (const auto& [owner, e] : share) {
    least = std::min(least, e);
    most = std::max(most, e);
  }
  CHECK(most - least <= 32 + 2);
  const CollectivePlan small(
      c, problem(c, Collective::AllReduce, "2d", "all", 4096, runtime::DType::Bf16));
  uint64_t owned = 0;
  for (const Leaf& l : small.schedule().leaves) owned += l.elements > 0;
  CHECK(owned == small.count());  // 5 elements, one each for the first five owners
}

TEST_CASE("groups: rectangles and lists; bad members named, exit before simulation", "[group]") {
  hw::HardwareConfig c = tiny();
  c.die.disabled = {{1, 1}};
  CHECK(parse_group(c, "all").members.size() == 15);
  CHECK(parse_group(c, "0:0..1:0").members.size() == 2);
  CHECK(parse_group(c, "3:3+0:2").members.size() == 2);
  CHECK_THROWS_WITH(parse_group(c, ""), "group=: 0 members: a collective needs at least two");
  CHECK_THROWS_WITH(parse_group(c, "0:0..1:1"),
                    "group=0:0..1:1: node 1:1 is disabled (die.disabled)");
  CHECK_THROWS_WITH(parse_group(c, "0:0+4:0"), "group=0:0+4:0: node 4:0 is outside the 4x4 mesh");
  CHECK_THROWS_WITH(parse_group(c, "0:0+0:0"), "group=0:0+0:0: node 0:0 is named twice");
  CHECK_THROWS_WITH(
      parse_group(c, "0:0+x"),
      "group=0:0+x: 'x' is not a node X:Y (groups: all, X0:Y0..X1:Y1, or X:Y+X:Y+...)");
}

TEST_CASE("a plan refuses an unknown algorithm, one that does not apply, and size 0", "[plan]") {
  const hw::HardwareConfig c = tiny();
  CHECK_THROWS_WITH(CollectivePlan(c, problem(c, Collective::AllReduce, "tree", "all", 4096,
                                              runtime::DType::Fp32)),
                    "algo=tree: expected one of ring, 2d, halving-doubling, hierarchical, auto");
  CHECK_THROWS_WITH(CollectivePlan(c, problem(c, Collective::AllReduce, "hierarchical", "all", 4096,
                                              runtime::DType::Fp32)),
                    "algo=hierarchical does not apply: the group lies in one die: hierarchical "
                    "needs two (ring or 2d covers one die)");
  CHECK_THROWS_WITH(
      CollectivePlan(c, problem(c, Collective::AllReduce, "ring", "all", 0, runtime::DType::Fp32)),
      "bytes=0: less than one fp32 element for each of the 16 members");
}

TEST_CASE("the bound of a group across tiles is the tile edge's, not the die edges'", "[plan]") {
  // Two tiles of one tiny die each, side by side: the boundary at die column 1 is a tile edge
  // of 64 GB/s, narrower than a node's 128 GB/s links and the die edge's 2,000 GB/s.
  hw::HardwareConfig c = tiny();
  c.machine.scope = hw::MachineScope::System;
  c.tile.dies_x = c.tile.dies_y = 1;
  c.tile.host.dips_per_edge = 1;
  c.system.tiles_x = 2;
  c.system.tile_edge_gb_per_s = 64;
  const CollectivePlan plan(
      c, problem(c, Collective::Broadcast, "auto", "0:0+7:0", 1 << 20, runtime::DType::Fp32));
  const CollectivePlan::Bound b = plan.bound(c);
  CHECK(b.limit == "524288 B across the tile boundary at die column 1 over 1 tile edge");
  CHECK(b.seconds == Approx(524288 / 64e9));
  c.machine.scope = hw::MachineScope::Tile;  // the same mesh as two dies of one tile
  c.tile.dies_x = 2;
  const CollectivePlan within(
      c, problem(c, Collective::Broadcast, "auto", "0:0+7:0", 1 << 20, runtime::DType::Fp32));
  CHECK(within.bound(c).limit.find("die boundary") == std::string::npos);  // the node links
}

TEST_CASE("a run on the machine equals the replay bit for bit (2d, uneven rows, bf16)", "[run]") {
  const hw::HardwareConfig c = tiny();
  const CollectivePlan plan(
      c, problem(c, Collective::AllReduce, "2d", "0:0+1:0+2:0+3:0+0:1+1:1+0:2+3:3+2:2", 2 * 777 * 9,
                 runtime::DType::Bf16));
  const Vectors in = random_inputs(plan, 3);
  const CollectiveResult r = run_collective(c, plan, in);
  REQUIRE(r.ok);
  CHECK(r.out == reference_exact(plan, in));
}

TEST_CASE("docs/collectives.md holds the current algorithm table (scripts/gen-docs.sh)", "[docs]") {
  std::ifstream in(std::string(DOJOSIM_SOURCE_DIR) + "/docs/collectives.md");
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string begin = "<!-- BEGIN GENERATED: dojosim doc collectives -->\n";
  const size_t a = doc.find(begin);
  REQUIRE(a != std::string::npos);
  const size_t b = doc.find("<!-- END GENERATED -->", a);
  INFO("run scripts/gen-docs.sh to regenerate docs/collectives.md");
  CHECK(doc.substr(a + begin.size(), b - a - begin.size()) == algorithm_reference_markdown());
}
