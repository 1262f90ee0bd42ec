// SPDX-License-Identifier: MIT
// Collectives as node programs: all-reduce, reduce-scatter, all-gather and broadcast over a
// group of nodes, in bf16 or fp32, by one of the algorithms of algorithms.def (ring, 2d,
// halving-doubling, hierarchical), run by an Executor (runtime/mesh/executor.h) with pushes
// between the nodes. docs/collectives.md is the user's page.
//
// The data: `bytes` is what the group holds in all (a die's gradients spread over its nodes);
// each member holds a vector of count = bytes / (element bytes x members) elements (rounded
// down), nccl-tests' "size" per member. The vector is cut into leaves, each owned by one member
// (the algorithm decides who owns what); a reduce-scatter leaves every member with the sums of
// the leaves it owns, an all-gather starts from them. Leaves are padded to 64 B in SRAM.
//
// Order of use: plan_collective() (checks everything, throws std::invalid_argument naming what
// is wrong, before any simulation), then run_collective() (places the inputs, runs, reads back),
// then the caller checks results against reference_exact() (the schedule replayed on the host:
// bit for bit) and reference_f64().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hw/config/hardware_config.h"
#include "hw/machine/outcome.h"
#include "runtime/tensor.h"

namespace dojosim::hw {
class TraceWriter;
}

namespace dojosim::runtime::collectives {

enum class Collective : uint8_t { AllReduce, ReduceScatter, AllGather, Broadcast };
/// "allreduce", "reduce_scatter", "all_gather", "broadcast" (the CLI's workload kinds).
std::string_view collective_name(Collective c);
/// The nccl-tests bus-bandwidth factor: 2(n-1)/n all-reduce, (n-1)/n reduce-scatter and
/// all-gather, 1 broadcast.
double bus_factor(Collective c, uint32_t members);

/// The algorithm table of docs/collectives.md, generated from algorithms.def (`dojosim doc
/// collectives`; scripts/gen-docs.sh splices it in).
std::string algorithm_reference_markdown();

/// Who takes part, in the order members are numbered.
struct Group {
  std::vector<hw::Coord> members;
  std::string text;  // as given ("all", a rectangle, a list): for reports
};
/// "all" (every usable node, row by row), "X0:Y0..X1:Y1" (a rectangle, corners included) or
/// "X:Y+X:Y+..." (a list). Throws std::invalid_argument naming the bad member: outside the
/// mesh, disabled, named twice; or a group of fewer than two members.
Group parse_group(const hw::HardwareConfig& config, std::string_view text);

struct CollectiveProblem {
  Collective op = Collective::AllReduce;
  DType dtype = DType::Bf16;  // bf16 or fp32 sums
  uint64_t bytes = 0;         // the group's data in all (see above)
  Group group;
  uint32_t root = 0;               // broadcast: the member whose vector everyone gets
  std::string algorithm = "auto";  // a name of algorithms.def, or auto: the lowest estimate
};

/// One algorithm's estimate for a problem, or why it does not apply.
struct AlgorithmEstimate {
  std::string name;
  bool applies = false;
  std::string why;  // when it does not apply
  double cycles = 0;
  uint32_t rounds = 0;
};

struct Schedule;  // schedule.h
class CollectiveKernel;

/// A problem planned: the algorithm chosen, its schedule and node program.
class CollectivePlan {
 public:
  CollectivePlan(const hw::HardwareConfig& config, const CollectiveProblem& problem);
  ~CollectivePlan();
  const CollectiveProblem& problem() const { return problem_; }
  uint32_t members() const { return static_cast<uint32_t>(problem_.group.members.size()); }
  uint64_t count() const { return count_; }  // elements of each member's vector
  uint64_t member_bytes() const { return count_ * element_bytes(problem_.dtype); }
  const std::string& algorithm() const { return algorithm_; }
  const std::string& why() const { return why_; }  // why this algorithm (auto or as asked)
  const std::vector<AlgorithmEstimate>& estimates() const { return estimates_; }
  double estimate_cycles() const;
  const Schedule& schedule() const { return *schedule_; }
  const CollectiveKernel& kernel() const { return *kernel_; }
  /// The leaves a member owns as element ranges [begin, end) of its vector.
  std::vector<std::pair<uint64_t, uint64_t>> owned(uint32_t member) const;
  /// The elements of member m's vector the collective defines after the run: all of them,
  /// or (reduce-scatter) the ones it owns.
  std::vector<std::pair<uint64_t, uint64_t>> defined(uint32_t member) const;

  /// The lower bound on time from the links the group can use: every member's bytes through
  /// its node's injection and ejection links, and the bytes that must cross each die edge
  /// between members. `limit` says which one binds.
  struct Bound {
    double seconds = 0, busbw_gb_per_s = 0;
    std::string limit;
  };
  Bound bound(const hw::HardwareConfig& config) const;

 private:
  CollectiveProblem problem_;
  uint64_t count_ = 0;
  std::string algorithm_, why_;
  std::vector<AlgorithmEstimate> estimates_;
  std::unique_ptr<Schedule> schedule_;
  std::unique_ptr<CollectiveKernel> kernel_;
};

/// Each member's vector (values already in the dtype), members in group order.
using Vectors = std::vector<std::vector<float>>;
/// Seeded inputs, uniform in [-1, 1) rounded to the dtype; for all-gather only the owned
/// leaves matter, for broadcast only the root's vector.
Vectors random_inputs(const CollectivePlan& plan, uint64_t seed);

struct CollectiveResult {
  bool ok = false;
  std::string outcome;  // "finished", or the machine's trap / deadlock / limit report
  hw::MachineOutcome ended = hw::MachineOutcome::Finished;
  uint64_t cycles = 0;
  double seconds = 0;
  Vectors out;  // each member's vector after the run (empty with sim.values off)
  uint64_t mesh_link_bytes = 0, die_edge_bytes = 0;
  /// Where the members' threads spent their cycles (hw/stats/run_report.h buckets), in %.
  std::vector<std::pair<std::string, double>> time_split;
};
/// Runs the plan on a fresh machine (one per process: SystemC elaborates once). `inputs` may
/// be empty with sim.values off (timing only: nothing is written or read back). `trace`, if
/// given, gets the run's timeline (the members' threads, their DMAs, the links).
CollectiveResult run_collective(const hw::HardwareConfig& config, const CollectivePlan& plan,
                                const Vectors& inputs, hw::TraceWriter* trace = nullptr);

/// Every member's vector after the collective as the schedule computes it on the host, in the
/// algorithm's order of additions, each rounded as the node's vadd rounds: bit for bit.
Vectors reference_exact(const CollectivePlan& plan, const Vectors& inputs);

/// The float64 result and a bound on the error of any order of n-1 additions rounded to the
/// dtype: (n-1) u sum |x| / (1 - (n-1) u), u the dtype's unit roundoff (0 for gathers and
/// broadcasts, which must copy exactly).
struct Reference64 {
  std::vector<double> value, bound;  // per element of a member's vector
};
Reference64 reference_f64(const CollectivePlan& plan, const Vectors& inputs);

}  // namespace dojosim::runtime::collectives
