// SPDX-License-Identifier: MIT
#include "runtime/graph/plan/plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

namespace dojosim::runtime::graph {
namespace {

constexpr size_t kNever = std::numeric_limits<size_t>::max();

uint64_t bytes_of(const Tensor& t) {
  return uint64_t(element_count(t.shape)) * element_bytes(t.dtype);
}

// The planner's state while it walks the ops.
class Planner {
 public:
  Planner(const Graph& g, const Analysis& a, const hw::HardwareConfig& config)
      : g_(g), a_(a), config_(config) {
    plan_.machine = plan_machine(config);
    for (size_t i = 0; i < g.ops.size(); ++i)
      for (const std::string& name : g.ops[i].inputs) readers_[name].push_back(i);
  }

  Plan run() {
    const PlanMachine& m = plan_.machine;
    // Host tensors are in HBM from the start, checked in the order ops first read them.
    for (size_t i = 0; i < g_.ops.size(); ++i)
      for (const std::string& name : g_.ops[i].inputs) {
        const Tensor& t = *g_.find_tensor(name);
        if (is_source(t.role) && !hbm_.count(name)) put_in_hbm(t, g_.ops[i]);
        if (t.role == Role::Weight && readers_[name].front() == i)
          plan_.weight_bytes += bytes_of(t);
      }
    for (size_t i = 0; i < g_.ops.size(); ++i) plan_op(i);
    for (const OpPlan& row : plan_.ops) {
      plan_.cycles += row.cycles;
      plan_.flop += row.flop;
      plan_.hbm_bytes += row.hbm_bytes;
      plan_.sram_high_water = std::max(plan_.sram_high_water, row.sram_high_water);
    }
    plan_.seconds = plan_.cycles / (m.clock_ghz * 1e9);
    // The graph's share of peak: its FLOP over each op's cycles at the peak of its dtype.
    double capacity = 0;
    for (size_t i = 0; i < plan_.ops.size(); ++i)
      capacity += plan_.ops[i].cycles * peak_of(g_.ops[i]);
    plan_.peak_pct = capacity > 0 ? 100 * plan_.flop / capacity : 0;
    return std::move(plan_);
  }

 private:
  struct Placed {
    Layout layout;
    uint64_t block = 0;  // bytes on the busiest node
  };

  double peak_of(const Op& op) const {
    const Tensor& t = *g_.find_tensor(op.inputs[0]);
    const DType d = t.dtype == DType::Int32 ? g_.find_tensor(op.outputs[0])->dtype : t.dtype;
    return plan_.machine.peak_flop(d);
  }

  size_t next_reader(const std::string& name, size_t after) const {
    const auto it = readers_.find(name);
    if (it == readers_.end()) return kNever;  // a graph output: kept to the end
    for (size_t r : it->second)
      if (r > after) return r;
    return kNever;
  }

  bool dead_after(const std::string& name, size_t i) const {
    const auto it = readers_.find(name);
    return it != readers_.end() && it->second.back() <= i;
  }

  std::string fits_neither(const Tensor& t, const Op& op) const {
    return fmt::format(
        "{}op '{}' ({}): tensor '{}' ({} bytes) fits neither in SRAM ({} bytes per node for "
        "tensors) nor in HBM ({} of {} bytes free)",
        !op.origin.empty()  ? op.origin + ": "
        : g_.source.empty() ? ""
                            : g_.source + ": ",
        op.name, op.type, t.name, bytes_of(t), plan_.machine.sram_bytes,
        plan_.machine.hbm_bytes - std::min(hbm_used_, plan_.machine.hbm_bytes),
        plan_.machine.hbm_bytes);
  }

  void put_in_hbm(const Tensor& t, const Op& op) {
    if (hbm_used_ + bytes_of(t) > plan_.machine.hbm_bytes) throw GraphError(fits_neither(t, op));
    hbm_.insert(t.name);
    hbm_used_ += bytes_of(t);
  }

  void drop_from_hbm(const Tensor& t) {
    if (hbm_.erase(t.name)) hbm_used_ -= bytes_of(t);
  }

  // Moves a resident tensor to HBM; returns the cycles of writing it (none if HBM holds it).
  double spill(const Tensor& t, const Op& op, OpPlan& row) {
    double cycles = 0;
    if (!hbm_.count(t.name)) {
      put_in_hbm(t, op);
      cycles = double(bytes_of(t)) / plan_.machine.hbm_bytes_per_cycle;
      row.hbm_bytes += bytes_of(t);
      row.spilled.push_back(t.name);
      plan_.spills += 1;
    }
    sram_.erase(t.name);
    return cycles;
  }

  uint64_t resident_bytes(const std::set<std::string>& except) const {
    uint64_t sum = 0;
    for (const auto& [name, placed] : sram_)
      if (!except.count(name)) sum += placed.block;
    return sum;
  }

  void plan_op(size_t i) {
    const PlanMachine& m = plan_.machine;
    const Op& op = g_.ops[i];
    OpPlan row;
    row.op = op.name, row.type = op.type, row.flop = a_.ops[i].flop;
    InputLayouts now;
    for (const std::string& name : op.inputs)
      now.push_back(sram_.count(name) ? &sram_.at(name).layout : nullptr);
    const OpCost cost = cost_op(m, config_, g_, op, a_.ops[i], now, memo_);
    row.mapping = cost.mapping, row.nodes = cost.nodes;
    std::set<std::string> own(op.inputs.begin(), op.inputs.end());
    own.insert(op.outputs.begin(), op.outputs.end());

    // Inputs: redistributed in SRAM, or loaded from HBM in the layout the op reads.
    double redistribution = 0, writes = 0;
    uint64_t load_bytes = 0, load_blocks = 0;
    std::vector<std::string> loaded;
    for (size_t j = 0; j < op.inputs.size(); ++j) {
      const Tensor& t = *g_.find_tensor(op.inputs[j]);
      if (cost.gathered[j]) {  // read in HBM where it is
        if (sram_.count(t.name)) writes += spill(t, op, row);
        row.inputs_at.push_back("hbm");
        continue;
      }
      const uint64_t block = cost.inputs[j].block_bytes(element_bytes(t.dtype));
      if (const auto it = sram_.find(t.name); it != sram_.end()) {
        if (it->second.layout != cost.inputs[j]) {
          const uint64_t moved = j < cost.move_bytes.size() ? cost.move_bytes[j] : bytes_of(t);
          redistribution += redistribution_cycles(m, moved);
          row.redistributed.push_back(t.name);
          plan_.redistributions += 1;
          it->second = {cost.inputs[j], block};
        }
        row.inputs_at.push_back("sram " + it->second.layout.text());
        continue;
      }
      load_bytes += bytes_of(t);
      load_blocks += block;
      loaded.push_back(t.name);
      sram_[t.name] = {cost.inputs[j], block};
      row.inputs_at.push_back("hbm");
    }
    if (cost.moves > 0) plan_.redistributions += 1;

    // What the op needs beside every other resident tensor; spill the furthest-read first.
    uint64_t own_bytes = cost.work_bytes;
    if (!cost.work_includes_operands) {
      for (size_t j = 0; j < op.inputs.size(); ++j)
        if (!cost.gathered[j]) own_bytes += sram_.at(op.inputs[j]).block;
      for (size_t k = 0; k < op.outputs.size(); ++k)
        own_bytes +=
            cost.outputs[k].block_bytes(element_bytes(g_.find_tensor(op.outputs[k])->dtype));
    }
    if (resident_bytes(own) + own_bytes > m.sram_bytes) {
      std::vector<std::pair<size_t, std::string>> victims;
      for (const auto& [name, placed] : sram_)
        if (!own.count(name)) victims.emplace_back(next_reader(name, i), name);
      std::sort(victims.begin(), victims.end(), [](const auto& x, const auto& y) {
        return x.first != y.first ? x.first > y.first : x.second < y.second;
      });
      for (const auto& [next, name] : victims) {
        if (resident_bytes(own) + own_bytes <= m.sram_bytes) break;
        writes += spill(*g_.find_tensor(name), op, row);
      }
    }
    // Still too large: the op streams its own tensors through HBM.
    const bool streams = resident_bytes(own) + own_bytes > m.sram_bytes;
    const bool outputs_to_hbm = streams || cost.outputs_in_hbm;
    uint64_t streamed = cost.streamed_hbm_bytes;
    if (streams) {
      for (const std::string& name : op.inputs) {
        const Tensor& t = *g_.find_tensor(name);
        if (sram_.count(name)) writes += spill(t, op, row);
        streamed += bytes_of(t);
      }
      for (const std::string& name : op.outputs) streamed += bytes_of(*g_.find_tensor(name));
      std::fill(row.inputs_at.begin(), row.inputs_at.end(), "hbm");
      load_bytes = load_blocks = 0;
      own_bytes = 0;
    }
    // A matmul's buffers hold its operands' blocks: its resident inputs are not added again.
    row.sram_high_water = resident_bytes(own) + own_bytes;

    // Loads run during the previous op when it left SRAM for them.
    const double load_cycles = double(load_bytes) / m.hbm_bytes_per_cycle;
    double exposed = load_cycles;
    if (i > 0 && load_bytes > 0) {
      OpPlan& prev = plan_.ops.back();
      if (prev.sram_high_water + load_blocks <= m.sram_bytes) {
        row.hidden_load_cycles = std::min(load_cycles, prev.cycles);
        exposed -= row.hidden_load_cycles;
        prev.sram_high_water += load_blocks;
      }
    }
    const double stream_cycles = double(streamed) / m.hbm_bytes_per_cycle;
    row.hbm_bytes += load_bytes + streamed;
    row.compute_cycles = cost.cycles - cost.moves - cost.tiling;
    row.redistribution_cycles = redistribution + cost.moves + cost.tiling;
    row.hbm_cycles = writes + exposed + std::max(0.0, stream_cycles - cost.cycles);
    row.cycles = redistribution + writes + exposed + std::max(cost.cycles, stream_cycles);
    const double capacity = row.cycles * peak_of(op);
    row.peak_pct = capacity > 0 ? 100 * row.flop / capacity : 0;

    // Outputs, then the SRAM of tensors nobody reads again.
    for (size_t k = 0; k < op.outputs.size(); ++k) {
      const Tensor& t = *g_.find_tensor(op.outputs[k]);
      if (outputs_to_hbm) {
        put_in_hbm(t, op);
        row.outputs_at.push_back("hbm");
      } else {
        sram_[t.name] = {cost.outputs[k], cost.outputs[k].block_bytes(element_bytes(t.dtype))};
        row.outputs_at.push_back("sram " + cost.outputs[k].text());
      }
    }
    for (const std::string& name : op.inputs)
      if (dead_after(name, i)) {
        sram_.erase(name);
        const Tensor& t = *g_.find_tensor(name);
        if (!is_source(t.role)) drop_from_hbm(t);
      }
    plan_.ops.push_back(std::move(row));
  }

  const Graph& g_;
  const Analysis& a_;
  const hw::HardwareConfig& config_;
  Plan plan_;
  std::map<std::string, std::vector<size_t>> readers_;  // tensor -> ops reading it, in order
  std::map<std::string, Placed> sram_;                  // resident tensors
  std::set<std::string> hbm_;                           // tensors with a copy in HBM
  uint64_t hbm_used_ = 0;
  MatmulMemo memo_;
};

}  // namespace

Plan plan_graph(const Graph& g, const Analysis& analysis, const hw::HardwareConfig& config) {
  return Planner(g, analysis, config).run();
}

}  // namespace dojosim::runtime::graph
