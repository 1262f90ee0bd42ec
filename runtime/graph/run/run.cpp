// SPDX-License-Identifier: MIT
#include "runtime/graph/run/run.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>

#include "runtime/graph/autodiff.h"
#include "runtime/graph/op_table.h"
#include "runtime/graph/run/groups.h"
#include "runtime/mesh/estimate.h"
#include "runtime/mesh/executor.h"
#include "runtime/ops/activation.h"
#include "runtime/ops/batchnorm.h"
#include "runtime/ops/batchnorm_train.h"
#include "runtime/ops/cast.h"
#include "runtime/ops/elementwise.h"
#include "runtime/ops/embedding.h"
#include "runtime/ops/embedding_backward.h"
#include "runtime/ops/global_avg_pool.h"
#include "runtime/ops/loss_scale.h"
#include "runtime/ops/optimizer.h"
#include "runtime/ops/pool.h"
#include "runtime/ops/pool_backward.h"
#include "runtime/ops/row_ops.h"

namespace dojosim::runtime::graph_run {
namespace {

namespace g = dojosim::runtime::graph;
constexpr size_t kNever = std::numeric_limits<size_t>::max();

// SRAM below this holds the kernels' program images; the transfer tables follow.
constexpr uint64_t kProgramBytes = 64 * 1024;
constexpr uint64_t kTableBytes = 32 * 1024;

[[noreturn]] void refuse(const g::Op& op, const std::string& what) {
  throw g::GraphError(fmt::format("{}: op '{}' ({}): {}", op.origin, op.name, op.type, what));
}

DType runtime_dtype(g::DType t) {
  return t == g::DType::Bf16 ? DType::Bf16 : DType::Fp32;
}

// A tensor as the matrix the kernels see: the last axis is cols, the others rows.
std::pair<uint32_t, uint32_t> matrix_of(const g::Shape& s) {
  if (s.empty()) return {1, 1};
  return {uint32_t(g::element_count(s) / s.back()), uint32_t(s.back())};
}

int64_t int_attr(const g::Op& op, const std::string& name, int64_t fallback) {
  const auto it = op.attributes.find(name);
  return it == op.attributes.end() ? fallback : std::get<int64_t>(it->second);
}
double float_attr(const g::Op& op, const std::string& name, double fallback) {
  const auto it = op.attributes.find(name);
  if (it == op.attributes.end()) return fallback;
  if (const auto* i = std::get_if<int64_t>(&it->second)) return double(*i);
  return std::get<double>(it->second);
}
bool bool_attr(const g::Op& op, const std::string& name) {
  const auto it = op.attributes.find(name);
  return it != op.attributes.end() && std::get<bool>(it->second);
}
std::vector<int64_t> ints_attr(const g::Op& op, const std::string& name) {
  const auto it = op.attributes.find(name);
  if (it == op.attributes.end()) return {};
  if (const auto* i = std::get_if<int64_t>(&it->second)) return {*i};
  return std::get<std::vector<int64_t>>(it->second);
}
// An Int2 attribute: [h, w] or one number for both.
std::pair<uint32_t, uint32_t> pair_attr(const g::Op& op, const std::string& name, int64_t dflt) {
  std::vector<int64_t> v = ints_attr(op, name);
  if (v.empty()) v = {dflt};
  return {uint32_t(v[0]), uint32_t(v.size() > 1 ? v[1] : v[0])};
}

bool is_elementwise(const std::string& type) {
  return type == "add" || type == "sub" || type == "mul" || type == "bias_add" || type == "relu" ||
         type == "relu_backward";
}
bool is_row_op(const std::string& type) {
  return type == "softmax" || type == "layernorm" || type == "rmsnorm";
}
// The backward row ops, by the forward's row op they differentiate.
const std::map<std::string, ops::RowOp>& row_grads() {
  static const std::map<std::string, ops::RowOp> table = {
      {"softmax_backward", ops::RowOp::SoftmaxBackward},
      {"layernorm_backward", ops::RowOp::LayerNormBackward},
      {"rmsnorm_backward", ops::RowOp::RmsNormBackward},
      {"softmax_cross_entropy_backward", ops::RowOp::SoftmaxCrossEntropyBackward}};
  return table;
}
bool is_row_grad(const std::string& type) {
  return row_grads().count(type) > 0;
}
// Labels a run takes: the loss's and its gradient's second input.
bool takes_labels(const std::string& type) {
  return type == "softmax_cross_entropy" || type == "softmax_cross_entropy_backward";
}
bool is_activation(const std::string& type) {
  return type == "gelu" || type == "silu" || type == "scale" || type == "gelu_backward" ||
         type == "silu_backward";
}
// Gradient ops whose inputs are dy and x of one shape and dtype.
bool is_dy_x(const std::string& type) {
  return type == "relu_backward" || type == "gelu_backward" || type == "silu_backward" ||
         type == "batchnorm_backward" || type == "batchnorm_train_backward";
}
bool is_image_op(const std::string& type) {
  return type == "max_pool" || type == "avg_pool" || type == "global_avg_pool";
}
bool is_pool_gradient(const std::string& type) {
  return type == "max_pool_backward" || type == "avg_pool_backward" ||
         type == "global_avg_pool_backward";
}
std::string word_attr(const g::Op& op, const std::string& name, const std::string& fallback) {
  const auto it = op.attributes.find(name);
  return it == op.attributes.end() ? fallback : std::get<std::string>(it->second);
}
bool same_split(const ops::RowSplit& a, const ops::RowSplit& b) {
  return a.dtype == b.dtype && a.rows == b.rows && a.cols == b.cols && a.row_start == b.row_start &&
         a.col_start == b.col_start && a.nodes == b.nodes;
}
// reduce_sum as image sums (run_reduce_sum).
struct ReduceSumForm {
  bool every = false;  // every axis: the sums of [h, c], then of that row
  uint32_t n = 1, h = 1, c = 1;
};
ReduceSumForm reduce_sum_form(const g::Shape& x, const g::Op& op);

bool is_layout_op(const std::string& type) {
  return type == "reshape" || type == "transpose" || type == "concat" || type == "split";
}

// The gather every layout op, im2col and operand map is: the same map the machine's transfer
// follows, applied to host values (one source of truth for what a map means).
Matrix gather(const std::vector<const Matrix*>& sources, uint32_t rows, uint32_t cols,
              const ElementMap& map) {
  Matrix out(rows, cols);
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t c = 0; c < cols;) {
      const Source s = map.at(r, c);
      const uint32_t len = std::max(1u, std::min(s.len, cols - c));
      if (s.input >= 0) {
        const Matrix& m = *sources[size_t(s.input)];
        std::copy_n(&m.values[size_t{s.row} * m.cols + s.col], len, &out.at(r, c));
      }
      c += len;
    }
  return out;
}

// Maps of the layout ops, through the elements' flat (row-major) index.
std::vector<int64_t> strides_of(const g::Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

// A transposed read: destination (r, c) is source (row0 + c, col0 + r); `down` (transfer.h)
// runs along that source row for the rest of the destination's `rows` rows.
ElementMap transposed(uint32_t row0, uint32_t col0, uint32_t rows) {
  return {[row0, col0](uint32_t r, uint32_t c) {
            return Source{0, row0 + c, col0 + r, 1};
          },
          false,
          [row0, col0, rows](uint32_t c, uint32_t r) {
            return Source{0, row0 + c, col0 + r, rows - r};
          }};
}

// im2col of a convolution's input: row (n, y, x) holds the window of output (n, y, x), column
// (i, j, ch) its tap (i, j) of channel c0 + ch, ch among a group's cg channels; taps outside
// the image are zeros.
ElementMap im2col(const Conv2dShape& s, uint32_t p, uint32_t q, uint32_t cg, uint32_t c0) {
  return {[s, p, q, cg, c0](uint32_t r, uint32_t c) {
    const uint32_t n = r / (p * q), y = r / q % p, xo = r % q;
    const uint32_t ch = c % cg, tap = c / cg, i = tap / s.s, j = tap % s.s;
    const int64_t h = int64_t(y) * s.stride_h - s.pad_h + int64_t(i) * s.dilation_h;
    const int64_t wi = int64_t(xo) * s.stride_w - s.pad_w + int64_t(j) * s.dilation_w;
    if (h < 0 || h >= s.h || wi < 0 || wi >= s.w) return Source{-1, 0, 0, cg - ch};
    return Source{0, uint32_t((int64_t(n) * s.h + h) * s.w + wi), c0 + ch, cg - ch};
  }};
}

// An SRAM allocation; freed when the last tensor using it (a reshape shares it) lets go.
struct Buffer {
  Buffer(SramAllocator& a, uint64_t at) : alloc(a), address(at) {}
  ~Buffer() { alloc.give_back(address); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  SramAllocator& alloc;
  uint64_t address;
};

// Where one tensor is during the run.
struct Home {
  ops::RowSplit split;  // its home layout
  std::shared_ptr<Buffer> buffer;
  Placement sram, hbm;
  bool in_sram = false, in_hbm = false;
};

// A later op's B loaded from HBM during the current op (Runner::prefetch_next): the planned
// matmul and its buffers, which that op's matmul takes over, and what the load cost.
struct Prefetch {
  size_t op = 0;  // the op whose first product it serves
  std::string b;
  DType dtype = DType::Bf16;
  MatmulShape shape;
  std::unique_ptr<mesh::PlannedMatmul> kernel;
  std::shared_ptr<Buffer> region;
  TransferStats stats;  // the issuing program's: its bytes, copies and cycles
  // Cycles: the issuing program's start and end (the runs after it go on beside the pulls).
  uint64_t issued = 0, beside = 0;
  uint64_t op_begin = 0;  // where the op it serves began (the op before ended)
  bool taken = false;     // the op's matmul took the kernel and B in place
};

class Runner {
 public:
  // One runner per data-parallel group (`config`'s region; group `group` of `gang`), or one
  // for the whole machine (no gang). The executor and HBM are the machine's, shared.
  Runner(const hw::HardwareConfig& config, const g::Graph& graph, const g::Analysis& a,
         const g::Plan& p, const RunOptions& options, Executor& executor, HbmAllocator& hbm,
         Gang* gang = nullptr, size_t group = 0)
      : config_(config),
        g_(graph),
        a_(a),
        p_(p),
        options_(options),
        values_(config.sim.values),
        executor_(executor),
        sram_(kProgramBytes + kTableBytes, config.node.core.sram_bytes - g::kReservedSramBytes),
        hbm_(hbm),
        moves_(executor_, config_, sram_, kProgramBytes, kTableBytes, options.staging),
        gang_(gang),
        group_(group),
        trace_(group == 0 ? options.trace : nullptr) {
    for (size_t i = 0; i < g_.ops.size(); ++i)
      for (const std::string& name : g_.ops[i].inputs) readers_[name].push_back(i);
    // Made-up values must suit their readers: variances positive, ids below the table's rows,
    // labels below the logits' classes.
    for (const g::Op& op : g_.ops) {
      if (op.type == "batchnorm" || op.type == "batchnorm_backward" ||
          op.type == "batchnorm_train_backward")
        positive_.insert(op.inputs[4]);
      if (op.type == "embedding")
        id_range_[op.inputs[0]] = int32_t(g_.find_tensor(op.inputs[1])->shape[0]);
      if (op.type == "embedding_backward")
        id_range_[op.inputs[0]] = int32_t(int_attr(op, "vocab", 1));
      if (takes_labels(op.type))
        id_range_[op.inputs[1]] = int32_t(g_.find_tensor(op.inputs[0])->shape.back());
    }
    for (const g::Tensor& t : g_.tensors) {
      const auto [rows, cols] = matrix_of(t.shape);
      Home& h = homes_[t.name];
      h.split = ops::split_rows(config_, runtime_dtype(t.dtype), rows, cols);
      if (g::is_source(t.role) && values_) ref_[t.name] = host_values(t);
    }
    // Given labels out of range are bad input: refused before anything runs.
    if (values_)
      for (const g::Op& op : g_.ops)
        if (takes_labels(op.type) && ref_.count(op.inputs[1])) try {
            ops::check_labels(int_values(op.inputs[1]), uint32_t(id_range_.at(op.inputs[1])));
          } catch (const std::invalid_argument& e) {
            const g::Tensor& t = tensor(op.inputs[1]);
            throw g::GraphError(fmt::format("{}: tensor '{}' (labels of op '{}'): {}", t.origin,
                                            t.name, op.name, e.what()));
          }
  }

  GraphRun run() {
    GraphRun r;
    r.checked = options_.check && values_;
    for (size_t i = 0; i < g_.ops.size(); ++i) {
      const g::Op& op = g_.ops[i];
      OpRun o;
      o.op = op.name, o.type = op.type;
      o.flop = a_.ops[i].flop;
      o.estimate = i < p_.ops.size() ? p_.ops[i].cycles : 0;
      op_ = &o;
      index_ = i;
      const uint64_t begin = executor_.machine().cycles();
      if (prefetch_ && prefetch_->op == i) {
        // B was loaded during the op before: the issuing program and what the load left exposed
        // after that op's step are this op's moves; the rest it hid.
        o.moves += prefetch_->stats;
        o.prefetch_bytes = prefetch_->stats.bytes_from_hbm;
        prefetch_->op_begin = begin;
      }
      try {
        run_attempts(op);
      } catch (const std::invalid_argument& e) {
        refuse(op, e.what());
      } catch (const std::runtime_error& e) {
        if (dynamic_cast<const g::GraphError*>(&e)) throw;
        throw std::runtime_error(
            fmt::format("{}: op '{}' ({}): {}", op.origin, op.name, op.type, e.what()));
      }
      if (r.checked) check_outputs(op);
      if (prefetch_ && prefetch_->op == i) settle_prefetch();  // not taken: the op started over
      free_dead(i);
      if (trace_) {
        trace_->graph_span(0, "ops", fmt::format("{} ({})", op.name, op.type), begin,
                           executor_.machine().cycles());
        if (o.collective_groups)
          trace_->graph_span(3, "collectives",
                             fmt::format("{}: all-reduce of {} B over {} groups", op.name,
                                         o.collective_bytes, o.collective_groups),
                             begin, executor_.machine().cycles());
      }
      o.cycles = o.kernel_cycles + o.moves.cycles;
      const g::Tensor& t = *g_.find_tensor(op.outputs[0]);
      const double peak = p_.machine.peak_flop(t.dtype);
      o.peak_pct = o.cycles && peak > 0 ? 100 * o.flop / (double(o.cycles) * peak) : 0;
      o.sram_in_use = sram_.in_use();
      r.cycles += o.cycles, r.kernel_cycles += o.kernel_cycles, r.move_cycles += o.moves.cycles;
      r.flop += o.flop, r.estimate += o.estimate;
      r.moves += o.moves;
      r.prefetch_bytes += o.prefetch_bytes, r.prefetch_hidden_cycles += o.prefetch_hidden_cycles;
      r.ops.push_back(std::move(o));
    }
    double capacity = 0;
    for (size_t i = 0; i < r.ops.size(); ++i)
      capacity += double(r.ops[i].cycles) *
                  p_.machine.peak_flop(g_.find_tensor(g_.ops[i].outputs[0])->dtype);
    r.peak_pct = capacity > 0 ? 100 * r.flop / capacity : 0;
    r.seconds = double(r.cycles) / (config_.node.core.clock_ghz * 1e9);
    r.sram_high_water = sram_.high_water();
    r.hbm_bytes = hbm_.in_use();
    for (const g::Tensor& t : g_.tensors)
      if (!g::is_source(t.role) && !readers_.count(t.name) && values_) {
        Home& h = homes_.at(t.name);
        r.outputs[t.name] = read_placement(executor_.machine(), h.in_sram ? h.sram : h.hbm);
      }
    return r;
  }

 private:
  // ---- values -------------------------------------------------------------------------------

  // A host tensor's values, rounded to its dtype: given, or made up (uniform in [-1, 1], a
  // weight's scaled by 1/sqrt(fan in), variances positive) from the seed and its position;
  // optimizer state starts at zero, as before a first update, a master weight as its weight.
  Matrix host_values(const g::Tensor& t) const {
    return host_values(t, t.role, size_t(&t - g_.tensors.data()));
  }
  // As the tensor at `index` of the graph with that role would have them.
  // Tensor parallel: a split tensor is given or made up whole, then cut.
  Matrix host_values(const g::Tensor& t, g::Role role, size_t index) const {
    const auto slice = options_.slices.find(t.name);
    if (slice == options_.slices.end()) return whole_values(t, role, index);
    return part_of(whole_values(t, role, index), slice->second);
  }
  // A host tensor's values as they would be were it not split.
  Matrix whole_values(const g::Tensor& split, g::Role role, size_t index) const {
    g::Tensor t = split;
    const auto slice = options_.slices.find(t.name);
    if (slice != options_.slices.end()) t.shape = slice->second.full;
    const auto [rows, cols] = matrix_of(t.shape);
    const auto given = options_.values.find(t.name);
    // Data parallel: `groups` replicas, this group in replica `replica` (the tensor-parallel
    // groups of one replica share its batch).
    const size_t groups = data_groups(), replica = group_ / tensor_groups();
    const bool data_parallel = groups > 1;
    Matrix m;
    if (given != options_.values.end()) {
      m = given->second;
      // Data parallel: an input given for every replica's batch, replica r's rows its r-th part.
      if (data_parallel && role == g::Role::Input && m.rows == rows * groups && m.cols == cols) {
        Matrix part(rows, cols);
        std::copy_n(m.values.begin() + long(size_t(rows) * cols * replica), part.values.size(),
                    part.values.begin());
        m = std::move(part);
      }
      if (m.rows != rows || m.cols != cols)
        throw g::GraphError(
            fmt::format("{}: tensor '{}': values of {}x{} given; expected {}x{}{}", t.origin,
                        t.name, m.rows, m.cols, rows, cols,
                        data_parallel && role == g::Role::Input
                            ? fmt::format(" (or {}x{}: every group's)", rows * groups, cols)
                            : ""));
    } else {
      m = Matrix(rows, cols);
      // A master weight (the training step's master/W of a bf16 weight W, which the step's
      // first cast makes) starts from the values W would be given or made up as a weight.
      if (role == g::Role::OptimizerState)
        if (const g::Tensor* w = g_.find_tensor(g::weight_of_master(t.name)))
          return quantized(whole_values(*w, g::Role::Weight, size_t(w - g_.tensors.data())),
                           DType::Fp32, {});
      if (role == g::Role::OptimizerState) return m;
      // Each data-parallel replica makes up its own batch; the weights are every replica's.
      const uint64_t group = data_parallel && role == g::Role::Input ? replica : 0;
      std::mt19937_64 rng(options_.seed * 0x9E3779B97F4A7C15ull + index +
                          group * 0xD1B54A32D192ED03ull);
      std::uniform_real_distribution<float> u(-1.0f, 1.0f);
      const float scale =
          role == g::Role::Weight && rows > 1 ? 1.0f / std::sqrt(float(rows)) : 1.0f;
      const auto ids = id_range_.find(t.name);
      if (ids != id_range_.end()) {
        std::uniform_int_distribution<int32_t> id(0, ids->second - 1);
        for (float& v : m.values) v = float(id(rng));
        return m;
      }
      const bool positive = positive_.count(t.name) > 0;
      for (float& v : m.values) v = positive ? 0.5f + 0.5f * (u(rng) + 1.0f) : u(rng) * scale;
    }
    if (t.dtype == g::DType::Int32) return m;
    return quantized(m, runtime_dtype(t.dtype), {});
  }

  // The run's tensor-parallel groups (of each data-parallel replica), and the replicas.
  size_t tensor_groups() const { return std::max<size_t>(1, options_.tensor_groups); }
  size_t data_groups() const { return (gang_ ? gang_->groups() : 1) / tensor_groups(); }

  // This group's part of a split tensor's whole values: part group % T of T.
  Matrix part_of(const Matrix& whole, const g::TensorSlice& slice) const {
    const size_t groups = tensor_groups(), part = group_ % groups;
    const bool columns = slice.axis + 1 == slice.full.size();
    const uint32_t rows = columns ? whole.rows : whole.rows / uint32_t(groups),
                   cols = columns ? whole.cols / uint32_t(groups) : whole.cols;
    Matrix m(rows, cols);
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < cols; ++c)
        m.at(r, c) = columns ? whole.at(r, uint32_t(part) * cols + c)
                             : whole.at(uint32_t(part) * rows + r, c);
    return m;
  }

  const Matrix& ref(const std::string& name) const { return ref_.at(name); }
  // An int32 host tensor's values (held as floats, exact below 2^24).
  std::vector<int32_t> int_values(const std::string& name) const {
    std::vector<int32_t> v;
    for (float f : ref(name).values) v.push_back(int32_t(f));
    return v;
  }

  // ---- SRAM ---------------------------------------------------------------------------------

  size_t next_reader(const std::string& name) const {
    const auto it = readers_.find(name);
    if (it == readers_.end()) return kNever;
    for (size_t r : it->second)
      if (r >= index_) return r;
    return kNever;
  }

  // `bytes` of SRAM on every node. When no free piece is large enough but the free bytes are,
  // and the op may still start over, throws Fragmented (run_attempts joins the pieces); else
  // spills resident tensors the current op does not use, the one read furthest ahead first,
  // until the allocation fits. `lasting`: a tensor that outlives the op (SramAllocator: from
  // the top).
  std::shared_ptr<Buffer> allocate(uint64_t bytes, const std::string& what, bool lasting = false) {
    for (;;) {
      const uint64_t at = sram_.take(bytes, lasting);
      if (at != UINT64_MAX) {
        attempt_bytes_ += sram_.in_use_pieces().at(at);
        return std::make_shared<Buffer>(sram_, at);
      }
      // Joining the pieces moves bytes within each node: cheaper than spilling to HBM and
      // loading back.
      if (may_restart_ && !op_ran_ && sram_.free_bytes() >= bytes)
        throw Fragmented{attempt_bytes_ + bytes};
      std::string victim;
      size_t furthest = 0;
      for (auto& [name, h] : homes_) {
        if (!h.in_sram || h.buffer.use_count() > 1 || uses_now(name)) continue;
        const size_t next = next_reader(name);
        if (victim.empty() || next > furthest) victim = name, furthest = next;
      }
      if (victim.empty())
        throw g::GraphError(fmt::format(
            "{}: op '{}' ({}): {} needs {} bytes of SRAM per node; {} are free in pieces of at "
            "most {}, and no resident tensor can make room (the run keeps an op's tensors in "
            "SRAM: streaming them through HBM, as the plan may, is not run yet)",
            g_.ops[index_].origin, g_.ops[index_].name, g_.ops[index_].type, what, bytes,
            sram_.free_bytes(), sram_.largest_free()));
      spill(victim);
    }
  }

  bool uses_now(const std::string& name) const {
    const g::Op& op = g_.ops[index_];
    return std::count(op.inputs.begin(), op.inputs.end(), name) ||
           std::count(op.outputs.begin(), op.outputs.end(), name);
  }

  void spill(const std::string& name) {
    Home& h = homes_.at(name);
    if (!h.in_hbm) {
      h.hbm = in_hbm(h.sram, hbm_);
      const bool ran = op_ran_;  // a spill leaves the op free to start over
      move({{{&h.sram}, &h.hbm, identity_map(h.sram.cols), false}},
           fmt::format("spill of '{}'", name));
      op_ran_ = ran;
      h.in_hbm = true;
    }
    h.buffer.reset();
    h.in_sram = false;
    op_->spilled.push_back(name);
  }

  void free_dead(size_t i) {
    for (const std::string& name : g_.ops[i].inputs) {
      const auto& readers = readers_.at(name);
      if (readers.back() != i) continue;
      Home& h = homes_.at(name);
      h.buffer.reset();
      h.in_sram = false;
    }
  }

  // ---- fragmented SRAM: an op that starts over ---------------------------------------------

  // Runs the op. While it has run nothing on the machine but spills, an allocation that fails on
  // fragmented SRAM (enough free bytes, no piece large enough) throws Fragmented: the attempt is
  // undone, a stretch as large as everything it took is cleared (make_room), and the op runs
  // again. Nothing of an undone attempt ran, so the op's result and cycles are those of its last
  // attempt plus the moves that made room.
  void run_attempts(const g::Op& op) {
    struct Before {
      std::string name;
      bool in_sram;
      ops::RowSplit split;
    };
    for (int attempt = 1;; ++attempt) {
      std::vector<Before> before;
      for (const auto* names : {&op.inputs, &op.outputs})
        for (const std::string& n : *names) {
          const Home& h = homes_.at(n);
          before.push_back({n, h.in_sram, h.split});
        }
      op_ran_ = false;
      attempt_bytes_ = 0;
      may_restart_ = attempt < kAttempts;
      try {
        run_op(op);
        return;
      } catch (const Fragmented& f) {
        // The attempt's buffers held by the op's locals are back already; what it made resident
        // was never filled (its moves were still pending).
        for (const Before& b : before) {
          Home& h = homes_.at(b.name);
          if (b.in_sram || !h.in_sram) continue;
          h.buffer.reset();
          h.in_sram = false;
          h.split = b.split;
        }
        for (const std::string& n : op.outputs) ref_.erase(n), f64_.erase(n);
        pending_.clear(), images_.clear(), vectors_.clear();
        // The next attempt loads B before the op: the prefetch's buffers are free once its
        // pulls have landed.
        if (prefetch_ && prefetch_->op == index_) settle_prefetch();
        op_->how.clear();
        make_room(std::min(f.bytes, sram_.free_bytes()));
      }
    }
  }
  static constexpr int kAttempts = 4;
  struct Fragmented {
    uint64_t bytes;  // what the attempt took, with the allocation that failed
  };

  // Clears one stretch of `bytes` of SRAM on every node, where that moves the fewest bytes: the
  // resident tensors in it move to free pieces outside it (copies on each node, moves of the op
  // that needed the room), or spill to HBM where no piece is large enough. Only between attempts
  // of an op, when nothing holds an address of theirs but their homes.
  void make_room(uint64_t bytes) {
    std::map<uint64_t, std::vector<std::string>> owners;  // a buffer's homes (reshape views)
    for (auto& [name, h] : homes_)
      if (h.in_sram) owners[h.buffer->address].push_back(name);
    const auto& used = sram_.in_use_pieces();
    // Candidates: stretches that start at the bottom or right after a piece, or end at the top
    // or right before one.
    std::vector<uint64_t> starts{sram_.begin(), sram_.end() - bytes};
    for (const auto& [at, size] : used) {
      starts.push_back(at + size);
      if (at >= sram_.begin() + bytes) starts.push_back(at - bytes);
    }
    SramAllocator::Range best;
    uint64_t least = UINT64_MAX;
    for (const uint64_t x : starts) {
      if (x < sram_.begin() || x + bytes > sram_.end()) continue;
      uint64_t cost = 0;
      for (const auto& [at, size] : used)
        if (at < x + bytes && x < at + size) cost += owners.count(at) ? size : UINT64_MAX / 2;
      if (cost < least) least = cost, best = {x, x + bytes};
    }
    if (least >= UINT64_MAX / 2) return;  // a piece no tensor owns: the next attempt reports it
    std::vector<uint64_t> inside;
    for (const auto& [at, size] : used)
      if (at < best.end && best.begin < at + size) inside.push_back(at);
    // The copies run together, in one node program: each goes to free SRAM, which no other
    // copy reads or writes.
    std::deque<Placement> dests;
    std::vector<Transfers::Move> copies;
    std::vector<std::pair<uint64_t, std::shared_ptr<Buffer>>> moved;  // old address, new buffer
    for (const uint64_t at : inside) {
      const std::vector<std::string>& names = owners.at(at);
      const uint64_t to = sram_.take(used.at(at), true, best);
      if (to == UINT64_MAX) {
        for (const std::string& n : names) spill(n);
        continue;
      }
      const Placement& from = homes_.at(names.front()).sram;
      copies.push_back({{&from}, &dests.emplace_back(in_sram(from, to)), identity_map(from.cols)});
      moved.emplace_back(at, std::make_shared<Buffer>(sram_, to));
      op_->relocated.push_back(names.front());
    }
    if (copies.empty()) return;
    move(copies, fmt::format("{} tensor(s) moved within SRAM to make room", copies.size()));
    for (const auto& [at, buffer] : moved)
      for (const std::string& n : owners.at(at)) {
        Home& h = homes_.at(n);
        h.sram = in_sram(h.sram, buffer->address);
        h.buffer = buffer;
      }
  }

  // ---- tensors in place ---------------------------------------------------------------------

  const g::Tensor& tensor(const std::string& name) const { return *g_.find_tensor(name); }

  // Where a tensor is now: SRAM if resident, else HBM (a host tensor's home layout is written
  // to HBM on first use).
  const Placement& where(const std::string& name) {
    Home& h = homes_.at(name);
    if (h.in_sram) return h.sram;
    if (!h.in_hbm) {
      if (!g::is_source(tensor(name).role))
        throw std::logic_error(fmt::format("tensor '{}' is used before it is produced", name));
      h.hbm = in_hbm(row_split_placement(h.split, 0), hbm_);
      if (values_) write_placement(executor_.machine(), h.hbm, ref(name));
      h.in_hbm = true;
    }
    return h.hbm;
  }

  // The tensor resident in SRAM in its home layout.
  const Placement& resident(const std::string& name) {
    Home& h = homes_.at(name);
    if (h.in_sram) return h.sram;
    const Placement& from = where(name);
    std::shared_ptr<Buffer> b = allocate(h.split.bytes(), fmt::format("tensor '{}'", name), true);
    h.sram = row_split_placement(h.split, b->address);
    pending_.push_back({{&from}, &h.sram, identity_map(h.split.cols), false});
    h.buffer = std::move(b);
    h.in_sram = true;
    return h.sram;
  }

  // A tensor repeated over a rows x cols destination (a broadcast): itself when it has that
  // size, its one element everywhere (a captured x * 0.125), or its rows over and over (a [S, S]
  // mask over [B, H, S, S] scores: the trailing axes). The machine's fill and the host reference
  // both read through it.
  ElementMap repeated(const std::string& name, uint32_t rows, uint32_t cols) const {
    const auto [own_rows, own_cols] = matrix_of(tensor(name).shape);
    if (own_rows == rows && own_cols == cols) return identity_map(cols);
    if (own_rows * own_cols == 1) return {[](uint32_t, uint32_t) { return Source{}; }, false};
    return {[own_rows, own_cols](uint32_t r, uint32_t c) {
              return Source{0, r % own_rows, c, own_cols - c};
            },
            false};
  }

  // The SRAM address of a tensor held as `split` (repeated over it where it is smaller): where it
  // is if its home is that split, else a copy moved into it (kept alive by `temps` until the op
  // ends).
  uint64_t input_in(const std::string& name, const ops::RowSplit& split,
                    std::vector<std::shared_ptr<Buffer>>& temps) {
    if (same_split(homes_.at(name).split, split)) return resident(name).shards.front().address;
    std::shared_ptr<Buffer> b =
        allocate(split.bytes(), fmt::format("'{}' in another layout", name));
    const Placement& dest = vectors_.emplace_back(row_split_placement(split, b->address));
    fill(name, dest, repeated(name, split.rows, split.cols), false);
    temps.push_back(b);
    return b->address;
  }

  // Fills `dest` (which must live until the op's kernel runs) with a tensor through `map`, with
  // the op's other input moves. A host tensor's values are laid out for the destination before
  // the run (a weight in HBM in its reader's layout) and pulled as they are.
  void fill(const std::string& name, const Placement& dest, const ElementMap& map, bool zero_fill) {
    if (g::is_source(tensor(name).role)) {
      const Placement& image = images_.emplace_back(in_hbm(dest, hbm_));
      if (values_) {
        const Matrix m = gather({&ref(name)}, dest.rows, dest.cols, map);
        write_placement(executor_.machine(), image, m);
      }
      pending_.push_back({{&image}, &dest, identity_map(dest.cols), zero_fill});
      return;
    }
    pending_.push_back({{&where(name)}, &dest, map, zero_fill});
  }

  // The op's input moves so far, in one run: loads from HBM and redistributions overlap.
  void flush_moves() {
    if (pending_.empty()) return;
    move(pending_, fmt::format("inputs of '{}'", g_.ops[index_].name));
    pending_.clear();
    images_.clear();
  }

  // A fresh output in its home layout (or in `split`, the layout its kernel writes), in SRAM.
  Home& produce(const std::string& name, const ops::RowSplit* split = nullptr) {
    Home& h = homes_.at(name);
    if (split) h.split = *split;
    h.buffer = allocate(h.split.bytes(), fmt::format("output '{}'", name), true);
    h.sram = row_split_placement(h.split, h.buffer->address);
    h.in_sram = true;
    h.in_hbm = false;
    return h;
  }

  // Moves as one step of the op (transfer.h), on the trace's "moves" track.
  void move(const std::vector<Transfers::Move>& moves, const std::string& what) {
    op_ran_ = true;
    // After a prefetch left exposed, the machine's next run starts when its last pull landed.
    const uint64_t begin = std::max(executor_.machine().cycles(), landed_);
    op_->moves += moves_.move(moves, what);
    if (trace_) trace_->graph_span(2, "moves", what, begin, executor_.machine().cycles());
  }

  void kernel(const mesh::Kernel& k, const std::string& what) {
    // B prefetched for this kernel: the input moves wait for it (or a drain does).
    const bool b_in_flight = prefetch_ && prefetch_->op == index_ && prefetch_->taken;
    if (b_in_flight) executor_.set_leave_in_flight(false);
    flush_moves();
    if (b_in_flight) settle_prefetch();
    op_ran_ = true;
    vectors_.clear();
    if (k.program().end > kProgramBytes)
      throw std::logic_error(
          fmt::format("{}: its program ends at SRAM byte {}, past the {} "
                      "kept for programs",
                      what, k.program().end, kProgramBytes));
    prefetch_next();
    const Executor::Run r = executor_.run(k);
    if (!r.ok) throw std::runtime_error(fmt::format("{}: {}", what, r.outcome));
    op_->kernel_cycles += r.cycles;
    if (trace_) trace_->graph_span(1, "kernels", what, r.start, r.start + r.cycles);
  }

  // ---- the next op's weight, loaded during this op ------------------------------------------

  // The first matrix product an op runs, when its B may come from the host: a matmul (not
  // batched) or a conv2d of one group, its B's map as run_matmul and run_conv2d give it.
  struct Product {
    std::string b;
    DType dtype;
    MatmulShape shape;
    ElementMap bmap;
  };
  std::optional<Product> first_product(const g::Op& op) const {
    if (op.type == "matmul") {
      const g::Shape& sa = tensor(op.inputs[0]).shape;
      const g::Shape& sb = tensor(op.inputs[1]).shape;
      const bool tra = bool_attr(op, "transpose_a"), trb = bool_attr(op, "transpose_b");
      if (tra && sa.size() > 2) return std::nullopt;  // refused when it runs
      const uint32_t k = uint32_t(sa[sa.size() - (tra ? 2 : 1)]);
      const uint32_t n = uint32_t(sb[sb.size() - (trb ? 2 : 1)]);
      const uint32_t rows = uint32_t(g::element_count(sa) / k);
      ElementMap bmap = trb ? transposed(0, 0, k) : ElementMap{[n](uint32_t r, uint32_t c) {
        return Source{0, r, c, n - c};
      }};
      return Product{
          op.inputs[1], runtime_dtype(tensor(op.inputs[0]).dtype), {rows, n, k}, std::move(bmap)};
    }
    if (op.type == "conv2d" && int_attr(op, "groups", 1) == 1) {
      const g::Shape& w = tensor(op.inputs[1]).shape;
      const Conv2dShape s = conv_shape(op, tensor(op.inputs[0]).shape, uint32_t(w[0]),
                                       uint32_t(w[1]), uint32_t(w[3]));
      const uint32_t kg = s.k;
      return Product{op.inputs[1],
                     runtime_dtype(tensor(op.inputs[0]).dtype),
                     {s.n * s.p() * s.q(), kg, s.r * s.s * s.c},
                     {[kg](uint32_t r, uint32_t c) {
                        return Source{0, r, c, kg - c};
                      },
                      true}};
    }
    return std::nullopt;
  }

  // Where SRAM allows it (the plan's rule: the next op's matmul buffers fit beside this op's,
  // and its outputs after them, without a spill), plans the next op's first product now, takes
  // its buffers, and issues the pulls of its B from HBM (a host tensor) in a program that leaves
  // them in flight. Every run after it leaves them in flight too (this op's kernel and moves,
  // the next op's moves up to its last one before its kernel: Executor::set_leave_in_flight),
  // so they land beside that work, competing with it for links, DIPs and DMA queues, until
  // the next op's kernel() waits for them (settle_prefetch()). Called right before this op's
  // kernel: an op without one (a layout op) loads the next op's B before it, as without
  // prefetch (beside a redistribution, the pulls hold the mesh's edge links it needs: measured
  // on GPT-2's context.merge, 118 cycles became 6,908 to hide about as many of proj's load).
  bool prefetch_next() {
    if (!options_.prefetch || gang_ || prefetch_ || index_ + 1 >= g_.ops.size()) return false;
    const size_t next = index_ + 1;
    const g::Op& op = g_.ops[next];
    const std::optional<Product> pr = first_product(op);
    if (!pr || !g::is_source(tensor(pr->b).role)) return false;
    std::unique_ptr<mesh::PlannedMatmul> k;
    std::shared_ptr<Buffer> region;
    MeshMatmulOptions options;
    options.placement = OperandPlacement::Sram;
    for (const MatmulMapping& m : mapping_order(next, pr->dtype, pr->shape)) {
      options.mapping = m;
      mesh::MatmulProblem problem{pr->dtype, pr->shape, MatmulInit::Zero, options, sram_.begin()};
      const mesh::Mapping& mapping = mesh::find_mapping(mapping_name(m));
      try {
        const auto sized = mapping.plan(config_, problem);
        const uint64_t at = sram_.take(sized->data_end() - sized->data_begin());
        if (at == UINT64_MAX) return false;  // no room: B loads before its op
        region = std::make_shared<Buffer>(sram_, at);
        problem.sram_from = at;
        k = mapping.plan(config_, problem);
        break;
      } catch (const std::invalid_argument&) {
        region.reset();
      }
    }
    if (!k) return false;
    uint64_t outputs = 0;
    for (const std::string& name : op.outputs) outputs += homes_.at(name).split.bytes();
    if (sram_.largest_free() < outputs) return false;
    const Placement pb{pr->shape.k, pr->shape.n, pr->dtype, k->shards(mesh::Operand::B)};
    const Placement image = in_hbm(pb, hbm_);
    if (values_)
      write_placement(executor_.machine(), image,
                      gather({&ref(pr->b)}, pb.rows, pb.cols, pr->bmap));
    const uint64_t begin = executor_.machine().cycles();
    const std::optional<TransferStats> stats =
        moves_.prefetch({{{&image}, &pb, identity_map(pb.cols), true}},
                        fmt::format("prefetch of '{}' for '{}'", pr->b, op.name));
    if (!stats) return false;
    op_ran_ = true;
    prefetch_ = std::make_unique<Prefetch>();
    Prefetch& f = *prefetch_;
    f.op = next, f.b = pr->b, f.dtype = pr->dtype, f.shape = pr->shape;
    f.kernel = std::move(k), f.region = std::move(region);
    f.stats = *stats;
    f.issued = begin, f.beside = executor_.machine().cycles();
    executor_.set_leave_in_flight(true);
    return true;
  }

  // The prefetch's pulls have landed (a drain waits for them if no run did): what of the load
  // ran beside the runs after it (hidden) and how long it delayed the run after the one that
  // waited (exposed: the current op's moves, with the drain), then its buffers are the op's
  // matmul's alone (or free, when it did not take them: the op started over).
  void settle_prefetch() {
    executor_.set_leave_in_flight(false);
    const Executor::Run d = executor_.drain();
    if (!d.ok) throw std::runtime_error(fmt::format("waiting for a prefetch: {}", d.outcome));
    Prefetch& f = *prefetch_;
    const uint64_t landed = std::max(executor_.carried_done(), f.beside);
    const uint64_t end = std::max(executor_.carried_end(), f.beside);
    const uint64_t exposed = landed > end ? landed - end : 0;
    op_->moves.cycles += exposed + d.cycles;
    // Hidden: what of the load ran before this op began, during the op before (the rest ran
    // beside this op's own input moves, as a load before the op does).
    if (f.op == index_) op_->prefetch_hidden_cycles = std::min(landed, f.op_begin) - f.beside;
    landed_ = landed;
    if (trace_)
      trace_->graph_span(2, "moves",
                         fmt::format("prefetch of '{}' for '{}'", f.b, g_.ops[f.op].name), f.issued,
                         landed);
    prefetch_.reset();
  }

  // ---- ops ----------------------------------------------------------------------------------

  void run_op(const g::Op& op) {
    if (op.type == "matmul" || op.type == "batch_matmul")
      run_matmul(op);
    else if (op.type == "conv2d")
      run_conv2d(op);
    else if (op.type == "conv2d_grad_input")
      run_conv2d_grad_input(op);
    else if (op.type == "conv2d_grad_weight")
      run_conv2d_grad_weight(op);
    else if (is_elementwise(op.type))
      run_elementwise(op);
    else if (is_row_op(op.type))
      run_row_op(op);
    else if (op.type == "softmax_cross_entropy")
      run_cross_entropy(op);
    else if (is_row_grad(op.type))
      run_row_grad(op);
    else if (is_activation(op.type))
      run_activation(op);
    else if (op.type == "batchnorm")
      run_batchnorm(op);
    else if (op.type == "batchnorm_backward")
      run_batchnorm_backward(op);
    else if (op.type == "batchnorm_train")
      run_batchnorm_train(op);
    else if (op.type == "batchnorm_train_backward")
      run_batchnorm_train_backward(op);
    else if (op.type == "embedding")
      run_embedding(op);
    else if (op.type == "embedding_backward")
      run_embedding_backward(op);
    else if (op.type == "reduce_sum")
      run_reduce_sum(op);
    else if (is_image_op(op.type))
      run_image_op(op);
    else if (is_pool_gradient(op.type))
      run_pool_gradient(op);
    else if (is_layout_op(op.type))
      run_layout(op);
    else if (g::is_update(op.type))
      run_optimizer(op);
    else if (op.type == "cast")
      run_cast(op);
    else if (op.type == "allreduce")
      run_allreduce(op);
    else if (op.type == "unscale_factor" || op.type == "loss_scale_update")
      run_loss_scale(op);
    else
      refuse(op, "no node kernel runs it yet");
  }

  // One exchange step between the groups (Gang::exchange), on the trace's "moves" track.
  void exchange(const std::vector<Placement>& to, const std::vector<Placement>& from,
                const Matrix* mine, std::vector<const Matrix*>& all, const std::string& what) {
    op_ran_ = true;
    const uint64_t begin = executor_.machine().cycles();
    op_->moves += gang_->exchange(to, from, mine, all, what);
    if (trace_) trace_->graph_span(2, "moves", what, begin, executor_.machine().cycles());
  }

  // Piece q of every node's block of `s` seen as vector registers ([q P, (q + 1) P) of its
  // rows of registers): a RowSplit of one register per row over the nodes that have some.
  static ops::RowSplit piece_split(const ops::RowSplit& s, uint64_t registers, size_t q) {
    ops::RowSplit p;
    p.dtype = s.dtype, p.vlen = s.vlen;
    p.cols = s.lanes(), p.col_parts = 1, p.col_start = {0, p.cols};
    p.row_start = {0};
    for (size_t b = 0; b < s.blocks(); ++b) {
      const uint64_t have = uint64_t(s.block_rows(b)) * s.chunks(b);
      const uint64_t from = q * registers, to = std::min(have, (q + 1) * registers);
      if (to <= from) continue;
      p.nodes.push_back(s.nodes[b]);
      p.row_start.push_back(p.row_start.back() + uint32_t(to - from));
    }
    p.row_parts = uint32_t(p.nodes.size());
    p.rows = p.row_start.back();
    return p;
  }

  // allreduce: the sum of x over the data-parallel groups (groups.h): a reduce-scatter and an
  // all-gather between the nodes at the same place of every group. Node b's block, as vector
  // registers, is cut into G pieces of P registers (the last ones shorter or empty); group q
  // sums piece q of every node, adding the G groups' pieces in group order, so every group
  // ends with the same sum.
  void run_allreduce(const g::Op& op) {
    const size_t all = gang_ ? gang_->groups() : 1;
    check_allreduce(op, all);
    // The groups summed over: `groups` of them, `stride` apart, in the block of groups x stride
    // holding this group; `group_` is members[me].
    const size_t groups = size_t(int_attr(op, "groups", 0)),
                 stride = size_t(int_attr(op, "stride", 1));
    const size_t block = group_ / (groups * stride) * (groups * stride) + group_ % stride;
    std::vector<size_t> members;
    for (size_t k = 0; k < groups; ++k) members.push_back(block + k * stride);
    const size_t me = (group_ - block) / stride;
    const std::string& x = op.inputs[0];
    const ops::RowSplit& split = homes_.at(x).split;
    uint64_t most = 0;  // registers of the largest block
    for (size_t b = 0; b < split.blocks(); ++b)
      most = std::max<uint64_t>(most, uint64_t(split.block_rows(b)) * split.chunks(b));
    const uint64_t piece = (most + groups - 1) / groups, piece_bytes = piece * split.vlen;
    std::vector<ops::RowSplit> pieces;
    for (size_t q = 0; q < groups; ++q) pieces.push_back(piece_split(split, piece, q));
    const uint64_t x_at = resident(x).shards.front().address;
    Home& out = produce(op.outputs[0], &split);
    const uint64_t sum_at = out.buffer->address;
    std::vector<std::shared_ptr<Buffer>> buffers;  // the other members' piece, by member
    std::vector<uint64_t> slot(groups, 0);
    for (size_t s = 0; s < groups; ++s)
      if (s != me) {
        buffers.push_back(allocate(piece_bytes, "another group's piece"));
        slot[s] = buffers.back()->address;
      }
    const auto at = [&](const ops::RowSplit& p, uint64_t address) {
      return p.nodes.empty() ? Placement{} : row_split_placement(p, address);
    };
    // Reduce-scatter: piece q of x to member q, into its slot for this member. The exchange is
    // between every group of the run; the others are not sent to here.
    std::vector<Placement> to(all), from(all);
    for (size_t q = 0; q < groups; ++q) {
      to[members[q]] = at(pieces[q], x_at + q * piece_bytes);
      from[members[q]] = at(pieces[me], slot[q]);
    }
    std::vector<const Matrix*> everyone, refs;
    flush_moves();  // x loaded, after every allocation: until here the op may start over
    exchange(to, from, values_ ? &ref(x) : nullptr, everyone,
             fmt::format("reduce-scatter of '{}' over {} groups", x, groups));
    for (size_t m : members) refs.push_back(everyone.empty() ? nullptr : everyone[m]);
    // This member's piece summed in member order, into the output.
    // (A group whose piece is empty everywhere, a small tensor's, waits out the others' adds.)
    const ops::RowSplit& mine = pieces[me];
    const uint64_t offset = me * piece_bytes;
    const auto term = [&](size_t s) { return s == me ? x_at + offset : slot[s]; };
    for (size_t s = 1; s < groups; ++s) {
      if (mine.nodes.empty()) {
        op_ran_ = true;
        op_->kernel_cycles += gang_->idle().cycles;
        continue;
      }
      elementwise_step(op, ops::ElementwiseOp::Add, mine, s == 1 ? term(0) : sum_at + offset,
                       term(s), false, sum_at + offset, "sum");
    }
    // All-gather: every member's summed piece to the others, where it lies in the output.
    std::vector<const Matrix*> again;
    to.assign(all, Placement{});
    from.assign(all, Placement{});
    for (size_t s = 0; s < groups; ++s) {
      to[members[s]] = at(mine, sum_at + me * piece_bytes);
      from[members[s]] = at(pieces[s], sum_at + s * piece_bytes);
    }
    exchange(to, from, nullptr, again,
             fmt::format("all-gather of '{}' over {} groups", op.outputs[0], groups));
    op_->how = fmt::format("reduce-scatter, {} adds, all-gather", groups - 1);
    const g::Tensor& t = *g_.find_tensor(x);
    op_->collective_bytes = uint64_t(g::element_count(t.shape)) * g::element_bytes(t.dtype);
    op_->collective_groups = uint32_t(groups);
    if (values_) {
      Matrix acc =
          ops::elementwise_reference(ops::ElementwiseOp::Add, split.dtype, *refs[0], *refs[1]);
      for (size_t s = 2; s < groups; ++s)
        acc = ops::elementwise_reference(ops::ElementwiseOp::Add, split.dtype, acc, *refs[s]);
      ref_[op.outputs[0]] = std::move(acc);
      // Any order of n - 1 additions: within gamma_{n-1} of the sum of magnitudes.
      Reference64 f;
      f.rows = split.rows, f.cols = split.cols;
      const double u = std::ldexp(1.0, split.dtype == DType::Bf16 ? -8 : -24),
                   n = double(groups - 1);
      const double gamma = n * u / (1 - n * u);
      for (size_t i = 0; i < size_t{f.rows} * f.cols; ++i) {
        double v = 0, magnitude = 0;
        for (const Matrix* m : refs) v += m->values[i], magnitude += std::abs(m->values[i]);
        f.value.push_back(v);
        f.bound.push_back(gamma * magnitude);
      }
      f64_[op.outputs[0]] = std::move(f);
    }
  }

  // The matmul mappings to try for op `i`'s product, in order: the plan's, the estimate's best,
  // then the others.
  std::vector<MatmulMapping> mapping_order(size_t i, DType dtype, MatmulShape shape) const {
    MeshMatmulOptions options;
    options.placement = OperandPlacement::Sram;
    std::vector<MatmulMapping> order;
    const std::string planned = i < p_.ops.size() ? p_.ops[i].mapping : "";
    for (const MatmulMapping& m : matmul_mappings())
      if (mapping_name(m) == planned) order.push_back(m);
    try {
      const MatmulMapping best = choose_mapping(config_, dtype, shape, options);
      if (order.empty() || mapping_name(order[0]) != mapping_name(best)) order.push_back(best);
    } catch (const std::invalid_argument&) {
    }
    for (const MatmulMapping& m : matmul_mappings())
      if (std::none_of(order.begin(), order.end(),
                       [&](const MatmulMapping& o) { return mapping_name(o) == mapping_name(m); }))
        order.push_back(m);
    return order;
  }

  // One matmul on the mesh: A and B filled through their maps into the mapping's shards, C
  // moved into rows [row0, row0 + M) of `out`'s home.
  struct Operand {
    std::string name;
    ElementMap map;
  };
  // C = A B into rows [row0, + m) and columns [col0, + n) of `out` (a batch item, a group of a
  // grouped convolution).
  // With c_transposed, C^T lands there instead: C's column j is row row0 + j of `out`.
  void matmul(const g::Op& op, DType dtype, MatmulShape shape, const Operand& a, const Operand& b,
              const std::string& out, uint32_t row0, Matrix* out_ref, uint32_t col0 = 0,
              bool c_transposed = false) {
    MeshMatmulOptions options;
    options.placement = OperandPlacement::Sram;
    // The first mapping in mapping_order() that plans: its data region sized at the bottom of
    // the free SRAM, then planned again where the region is. Or the one prefetch_next() planned
    // with B loaded during the op before.
    std::unique_ptr<mesh::PlannedMatmul> k;
    std::shared_ptr<Buffer> region;
    std::string why;
    bool b_loaded = false;
    if (prefetch_ && prefetch_->op == index_ && !prefetch_->taken && prefetch_->b == b.name &&
        row0 == 0 && col0 == 0 && !c_transposed && prefetch_->dtype == dtype &&
        prefetch_->shape.m == shape.m && prefetch_->shape.n == shape.n &&
        prefetch_->shape.k == shape.k) {
      k = std::move(prefetch_->kernel);
      region = prefetch_->region;  // held by the prefetch too until its pulls have landed
      prefetch_->taken = true;
      b_loaded = true;
    }
    for (const MatmulMapping& m :
         k ? std::vector<MatmulMapping>{} : mapping_order(index_, dtype, shape)) {
      options.mapping = m;
      mesh::MatmulProblem problem{dtype, shape, MatmulInit::Zero, options, sram_.begin()};
      const mesh::Mapping& mapping = mesh::find_mapping(mapping_name(m));
      try {
        const auto sized = mapping.plan(config_, problem);
        region = allocate(sized->data_end() - sized->data_begin(),
                          fmt::format("the {} matmul's buffers", mapping_name(m)));
        problem.sram_from = region->address;
        k = mapping.plan(config_, problem);
        break;
      } catch (const std::invalid_argument& e) {
        why += fmt::format("{}{}: {}", why.empty() ? "" : "; ", mapping_name(m), e.what());
        region.reset();
      }
    }
    if (!k) refuse(op, fmt::format("no matmul mapping fits: {}", why));
    op_->how = mapping_name(k->plan().mapping);

    const auto shards = [&](mesh::Operand which, uint32_t rows, uint32_t cols, DType t) {
      return Placement{rows, cols, t, k->shards(which)};
    };
    const Placement pa = shards(mesh::Operand::A, shape.m, shape.k, dtype);
    const Placement pb = shards(mesh::Operand::B, shape.k, shape.n, dtype);
    fill(a.name, pa, a.map, true);
    if (!b_loaded) fill(b.name, pb, b.map, true);
    kernel(*k, fmt::format("matmul '{}'", op.name));

    Home& o = homes_.at(out);
    const Placement pc = shards(mesh::Operand::C, shape.m, shape.n, DType::Fp32);
    const uint32_t rows = shape.m, cols = o.split.cols;
    const ElementMap to_rows =
        c_transposed
            ? ElementMap{[row0, m = shape.m, col0, n = shape.n, cols](uint32_t r, uint32_t c) {
                if (r < row0 || r >= row0 + n) return Source{-1, 0, 0, cols - c};
                if (c < col0) return Source{-1, 0, 0, col0 - c};
                if (c >= col0 + m) return Source{-1, 0, 0, cols - c};
                return Source{0, c - col0, r - row0, 1};
              }}
            : ElementMap{[row0, rows, col0, n = shape.n, cols](uint32_t r, uint32_t c) {
                if (r < row0 || r >= row0 + rows) return Source{-1, 0, 0, cols - c};
                if (c < col0) return Source{-1, 0, 0, col0 - c};
                if (c >= col0 + n) return Source{-1, 0, 0, cols - c};
                return Source{0, r - row0, c - col0, col0 + n - c};
              }};
    if (c_transposed) {
      // C^T goes to out an element per DMA. A mapping that splits k leaves C whole on one
      // node, which would issue every one of them: C's column blocks first move whole (a DMA
      // per tile) to the nodes that hold their rows of out, and those push the elements.
      std::shared_ptr<Buffer> spread_buffer;
      const Placement spread = spread_columns(pc, o, row0, spread_buffer, op);
      if (!spread.shards.empty()) {
        move({{{&pc}, &spread, identity_map(pc.cols), false, true}},
             fmt::format("C of '{}' by column blocks", op.name));
        move({{{&spread}, &o.sram, to_rows, false, true}}, fmt::format("C of '{}'", op.name));
        region.reset();
        spread_buffer.reset();
      } else {
        move({{{&pc}, &o.sram, to_rows, false, true}}, fmt::format("C of '{}'", op.name));
        region.reset();
      }
    } else {
      move({{{&pc}, &o.sram, to_rows, false, true}}, fmt::format("C of '{}'", op.name));
      region.reset();
    }

    if (out_ref) {
      MatmulOperands v;
      v.a = gather({&ref(a.name)}, shape.m, shape.k, a.map);
      v.b = gather({&ref(b.name)}, shape.k, shape.n, b.map);
      const Matrix c =
          quantized(reference_mesh_matmul_exact(dtype, {}, MatmulInit::Zero, v, k->plan()),
                    o.split.dtype, {});
      for (uint32_t r = 0; r < shape.m; ++r)
        if (c_transposed)
          for (uint32_t j = 0; j < shape.n; ++j)
            out_ref->at(row0 + j, col0 + r) = c.values[size_t{r} * shape.n + j];
        else
          std::copy_n(&c.values[size_t{r} * shape.n], shape.n, &out_ref->at(row0 + r, col0));
      // float64, and for a bf16 output one more rounding of C.
      const Reference64 r =
          reference_matmul_f64(dtype, {}, MatmulInit::Zero, v, k->plan().padded_k);
      Reference64& whole = f64_.at(out);
      const double u = o.split.dtype == DType::Bf16 ? std::ldexp(1.0, -8) : 0.0;
      for (size_t e = 0; e < r.value.size(); ++e) {
        const size_t i = e / shape.n, j = e % shape.n;
        const size_t at = c_transposed ? (row0 + j) * size_t{cols} + col0 + i
                                       : (row0 + i) * size_t{cols} + col0 + j;
        whole.value[at] = r.value[e];
        whole.bound[at] = r.bound[e] + u * (std::abs(r.value[e]) + r.bound[e]);
      }
    }
  }

  // C (fp32 tiles) cut into its column blocks, each in out's dtype on the node that holds
  // out's row row0 + its first column (C^T's rows), stacked at one address of every node
  // (`buffer`); no shards when C already lies on as many nodes as it has column blocks.
  Placement spread_columns(const Placement& c, const Home& out, uint32_t row0,
                           std::shared_ptr<Buffer>& buffer, const g::Op& op) {
    Placement spread{c.rows, c.cols, out.split.dtype, {}};
    std::set<std::pair<int, int>> c_nodes;
    for (const mesh::Shard& s : c.shards) c_nodes.insert({s.node.x, s.node.y});
    std::map<std::pair<int, int>, uint64_t> per_node;
    uint64_t most = 0;
    for (const mesh::Shard& s : c.shards) {
      if (s.in_host) return {};
      const uint32_t width = s.layout.block_cols;
      for (uint32_t c0 = s.c0; c0 < s.c1; c0 += width) {
        mesh::Shard piece = s;
        piece.c0 = c0, piece.c1 = std::min(s.c1, c0 + width);
        piece.layout.dtype = out.split.dtype;
        piece.layout.cols = width;
        piece.layout.blocks_column_major = false;
        const uint32_t row = row0 + c0;
        for (const mesh::Shard& h : out.sram.shards)
          if (row >= h.r0 && row < h.r1) piece.node = h.node;
        uint64_t& at = per_node[{piece.node.x, piece.node.y}];
        piece.address = at;
        at += mesh::align(piece.layout.bytes(), 64);
        most = std::max(most, at);
        spread.shards.push_back(piece);
      }
    }
    if (c_nodes.size() >= spread.shards.size()) return {};
    buffer = allocate(most, fmt::format("C of '{}' by column blocks", op.name));
    for (mesh::Shard& s : spread.shards) s.address += buffer->address;
    return spread;
  }

  // An output's float64 reference, filled item by item (matmul()).
  void f64_of_rows(const std::string& name, uint32_t rows, uint32_t cols) {
    Reference64& r = f64_[name];
    r.rows = rows, r.cols = cols;
    r.value.assign(size_t{rows} * cols, 0.0);
    r.bound.assign(size_t{rows} * cols, 0.0);
  }

  void run_matmul(const g::Op& op) {
    const g::Tensor &ta = tensor(op.inputs[0]), &tb = tensor(op.inputs[1]);
    const bool batched = op.type == "batch_matmul";
    const bool tra = bool_attr(op, "transpose_a"), trb = bool_attr(op, "transpose_b");
    const g::Shape& sa = ta.shape;
    const g::Shape& sb = tb.shape;
    const uint32_t m = uint32_t(sa[sa.size() - (tra ? 1 : 2)]);
    const uint32_t k = uint32_t(sa[sa.size() - (tra ? 2 : 1)]);
    const uint32_t n = uint32_t(sb[sb.size() - (trb ? 2 : 1)]);
    // matmul: A's leading axes are rows of one product; batch_matmul: one product per item.
    const uint32_t items = batched ? uint32_t(g::element_count(sa) / (int64_t(m) * k)) : 1;
    const uint32_t rows = batched ? m : uint32_t(g::element_count(sa) / k);
    if (!batched && tra && sa.size() > 2) refuse(op, "transpose_a on more than two axes");
    const DType dtype = runtime_dtype(ta.dtype);
    produce(op.outputs[0]);
    Matrix out_ref;
    if (values_) {
      out_ref = Matrix(homes_.at(op.outputs[0]).split.rows, n);
      f64_of_rows(op.outputs[0], out_ref.rows, n);
    }
    for (uint32_t item = 0; item < items; ++item) {
      // Item `item` of A is rows [item * rows, ...) of A's matrix (or of A^T's).
      const uint32_t a0 = item * (tra ? k : rows), b0 = batched ? item * (trb ? n : k) : 0;
      const ElementMap amap =
          tra ? transposed(a0, 0, m) : ElementMap{[a0, k](uint32_t r, uint32_t c) {
            return Source{0, a0 + r, c, k - c};
          }};
      const ElementMap bmap =
          trb ? transposed(b0, 0, k) : ElementMap{[b0, n](uint32_t r, uint32_t c) {
            return Source{0, b0 + r, c, n - c};
          }};
      matmul(op, dtype, {rows, n, k}, {op.inputs[0], amap}, {op.inputs[1], bmap}, op.outputs[0],
             item * rows, values_ ? &out_ref : nullptr);
    }
    if (values_) ref_[op.outputs[0]] = std::move(out_ref);
    if (items > 1) op_->how = fmt::format("{} x {}", items, op_->how);
  }

  // The forward convolution of a conv2d op or of its gradients: x [N, H, W, C] (`x`) by an R x
  // S window to K channels, with the op's stride, padding and dilation.
  static Conv2dShape conv_shape(const g::Op& op, const g::Shape& x, uint32_t r, uint32_t s_,
                                uint32_t k) {
    Conv2dShape s;
    s.n = uint32_t(x[0]), s.h = uint32_t(x[1]), s.w = uint32_t(x[2]), s.c = uint32_t(x[3]);
    s.r = r, s.s = s_, s.k = k;
    std::tie(s.stride_h, s.stride_w) = pair_attr(op, "stride", 1);
    std::tie(s.pad_h, s.pad_w) = pair_attr(op, "padding", 0);
    std::tie(s.dilation_h, s.dilation_w) = pair_attr(op, "dilation", 1);
    return s;
  }

  // An output of `rows` x `cols` whose reference the matmuls of a convolution fill group by
  // group.
  Matrix conv_output(const std::string& name, uint32_t rows, uint32_t cols) {
    produce(name);
    if (!values_) return {};
    f64_of_rows(name, rows, cols);
    return Matrix(rows, cols);
  }
  void conv_done(const g::Op& op, Matrix&& out_ref, uint32_t groups) {
    if (values_) ref_[op.outputs[0]] = std::move(out_ref);
    if (groups > 1) op_->how = fmt::format("{} groups x {}", groups, op_->how);
  }

  void run_conv2d(const g::Op& op) {
    const g::Shape& x = tensor(op.inputs[0]).shape;
    const g::Shape& w = tensor(op.inputs[1]).shape;
    // Grouped (and depthwise) convolution: one im2col and matmul per group, group j reading
    // channels [j C/G, (j + 1) C/G) and writing output channels [j K/G, (j + 1) K/G).
    const uint32_t groups = uint32_t(int_attr(op, "groups", 1));
    const Conv2dShape s = conv_shape(op, x, uint32_t(w[0]), uint32_t(w[1]), uint32_t(w[3]));
    const uint32_t cg = s.c / groups, kg = s.k / groups;
    const uint32_t p = s.p(), q = s.q();
    Matrix out_ref = conv_output(op.outputs[0], s.n * p * q, s.k);
    for (uint32_t group = 0; group < groups; ++group) {
      const uint32_t c0 = group * cg;
      const ElementMap windows = im2col(s, p, q, cg, c0);
      // The weight [R, S, C/G, K] is the [R S C/G, K] matrix of its rows; the group's columns.
      const uint32_t k0 = group * kg;
      const ElementMap weights{[k0, kg](uint32_t r, uint32_t c) {
                                 return Source{0, r, k0 + c, kg - c};
                               },
                               groups == 1};
      matmul(op, runtime_dtype(tensor(op.inputs[0]).dtype), {s.n * p * q, kg, s.r * s.s * cg},
             {op.inputs[0], windows}, {op.inputs[1], weights}, op.outputs[0], 0,
             values_ ? &out_ref : nullptr, k0);
    }
    conv_done(op, std::move(out_ref), groups);
  }

  // dx = the gradient of conv2d's x, one matmul per group as run_conv2d: row (n, h, w) of A
  // holds, at column (i, j, k), dy at the output pixel whose tap (i, j) reads pixel (h, w) (zero
  // where no output pixel does: padding, or between the taps of a stride); B row (i, j, k),
  // column c is w[i, j, c, k]. Group g writes dx's channels [g C/G, (g + 1) C/G).
  void run_conv2d_grad_input(const g::Op& op) {
    const g::Shape& dy = tensor(op.inputs[0]).shape;
    const g::Shape& w = tensor(op.inputs[1]).shape;
    const uint32_t groups = uint32_t(int_attr(op, "groups", 1));
    const Conv2dShape s =
        conv_shape(op, tensor(op.outputs[0]).shape, uint32_t(w[0]), uint32_t(w[1]), uint32_t(w[3]));
    const uint32_t cg = s.c / groups, kg = s.k / groups, p = uint32_t(dy[1]), q = uint32_t(dy[2]);
    Matrix out_ref = conv_output(op.outputs[0], s.n * s.h * s.w, s.c);
    for (uint32_t group = 0; group < groups; ++group) {
      const uint32_t c0 = group * cg, k0 = group * kg;
      const ElementMap taps{[s, p, q, kg, k0](uint32_t r, uint32_t c) {
        const uint32_t n = r / (s.h * s.w), h = r / s.w % s.h, wi = r % s.w;
        const uint32_t k = c % kg, tap = c / kg, i = tap / s.s, j = tap % s.s;
        const int64_t y = int64_t(h) + s.pad_h - int64_t(i) * s.dilation_h;
        const int64_t x = int64_t(wi) + s.pad_w - int64_t(j) * s.dilation_w;
        if (y < 0 || x < 0 || y % s.stride_h || x % s.stride_w || y / s.stride_h >= p ||
            x / s.stride_w >= q)
          return Source{-1, 0, 0, kg - k};
        const uint32_t row = uint32_t((int64_t(n) * p + y / s.stride_h) * q + x / s.stride_w);
        return Source{0, row, k0 + k, kg - k};
      }};
      // w^T within each tap: `down` runs along the weight's rows (transfer.h).
      const ElementMap weights{[cg, kg, k0](uint32_t r, uint32_t c) {
                                 return Source{0, r / kg * cg + c, k0 + r % kg, 1};
                               },
                               false,
                               [cg, kg, k0](uint32_t c, uint32_t r) {
                                 return Source{0, r / kg * cg + c, k0 + r % kg, kg - r % kg};
                               }};
      matmul(op, runtime_dtype(tensor(op.inputs[0]).dtype), {s.n * s.h * s.w, cg, s.r * s.s * kg},
             {op.inputs[0], taps}, {op.inputs[1], weights}, op.outputs[0], 0,
             values_ ? &out_ref : nullptr, c0);
    }
    conv_done(op, std::move(out_ref), groups);
  }

  // dw = the gradient of conv2d's w, one matmul per group: A = im2col(x) transposed, row
  // (i, j, c) and column (n, p, q) the input pixel tap (i, j) of output pixel (n, p, q) reads
  // (zero in the padding); B = dy as [N P Q, K/G], the group's columns. Group g writes dw's
  // columns [g K/G, (g + 1) K/G), every row (R S C/G of them, in RSCK order).
  void run_conv2d_grad_weight(const g::Op& op) {
    const g::Shape& dy = tensor(op.inputs[1]).shape;
    const g::Shape& dw = tensor(op.outputs[0]).shape;
    const uint32_t groups = uint32_t(int_attr(op, "groups", 1));
    const Conv2dShape s = conv_shape(op, tensor(op.inputs[0]).shape, uint32_t(dw[0]),
                                     uint32_t(dw[1]), uint32_t(dw[3]));
    const uint32_t cg = s.c / groups, kg = s.k / groups, p = uint32_t(dy[1]), q = uint32_t(dy[2]);
    Matrix out_ref = conv_output(op.outputs[0], s.r * s.s * cg, s.k);
    for (uint32_t group = 0; group < groups; ++group) {
      const uint32_t c0 = group * cg, k0 = group * kg;
      // Destination (r, c): tap r / cg, channel r % cg of output pixel c. Along a row a
      // source each; down a column (`down`, transfer.h) the tap's channels in one source row.
      const auto window_t = [s, p, q, cg, c0](uint32_t r, uint32_t c, bool down) {
        const uint32_t ch = r % cg, tap = r / cg, i = tap / s.s, j = tap % s.s;
        const uint32_t n = c / (p * q), y = c / q % p, xo = c % q;
        const int64_t h = int64_t(y) * s.stride_h - s.pad_h + int64_t(i) * s.dilation_h;
        const int64_t wi = int64_t(xo) * s.stride_w - s.pad_w + int64_t(j) * s.dilation_w;
        const uint32_t len = down ? cg - ch : 1;
        if (h < 0 || h >= s.h || wi < 0 || wi >= s.w) return Source{-1, 0, 0, len};
        return Source{0, uint32_t((int64_t(n) * s.h + h) * s.w + wi), c0 + ch, len};
      };
      const ElementMap windows_t{
          [window_t](uint32_t r, uint32_t c) { return window_t(r, c, false); }, false,
          [window_t](uint32_t c, uint32_t r) { return window_t(r, c, true); }};
      const ElementMap dys{[k0, kg](uint32_t r, uint32_t c) {
                             return Source{0, r, k0 + c, kg - c};
                           },
                           groups == 1};
      // An operand stored transposed comes element by element: dw = im2col(x)^T dy gathers
      // N P Q x R S C/G elements one at a time; dw^T = dy^T im2col(x) gathers dy^T (N P Q x
      // K/G) instead, and writes dw^T back (R S C/G x K/G) after the kernel, im2col(x) coming
      // in runs of C/G. The second pays for its write only when it gathers several times fewer
      // (tiny, [4, 28, 28, 32] bf16, 3x3: 324,111 cycles against 676,279; a 3x3 layer of 3 to 4
      // channels: 2,576 against 2,138).
      const uint64_t npq = uint64_t(s.n) * p * q, taps = uint64_t(s.r) * s.s * cg;
      if (4 * (npq * kg + taps * kg) < npq * taps) {
        const ElementMap dys_t = transposed(0, k0, kg);
        const ElementMap windows = im2col(s, p, q, cg, c0);
        matmul(op, runtime_dtype(tensor(op.inputs[0]).dtype), {kg, uint32_t(taps), uint32_t(npq)},
               {op.inputs[1], dys_t}, {op.inputs[0], windows}, op.outputs[0], 0,
               values_ ? &out_ref : nullptr, k0, true);
        continue;
      }
      matmul(op, runtime_dtype(tensor(op.inputs[0]).dtype), {s.r * s.s * cg, kg, s.n * p * q},
             {op.inputs[0], windows_t}, {op.inputs[1], dys}, op.outputs[0], 0,
             values_ ? &out_ref : nullptr, k0);
    }
    conv_done(op, std::move(out_ref), groups);
  }

  // A one-element tensor on every node of `split` (one register each): a kernel's scalar
  // operand, moved once to each node rather than repeated over a vector's columns.
  std::shared_ptr<Buffer> scalar_in(const std::string& name, const ops::RowSplit& split,
                                    uint64_t& address) {
    std::shared_ptr<Buffer> b = allocate(split.vlen, fmt::format("scalar '{}'", name));
    address = b->address;
    fill(name, vectors_.emplace_back(scalar_placement(split, address)), repeated(name, 1, 1),
         false);
    return b;
  }

  // A [cols] vector where a kernel on `split` reads it: column block j on every node of it; a
  // one-element tensor is broadcast over the cols (a captured x * 0.125).
  std::shared_ptr<Buffer> vector_in(const std::string& name, const ops::RowSplit& split,
                                    uint64_t& address) {
    std::shared_ptr<Buffer> b = allocate(split.vector_bytes(), fmt::format("vector '{}'", name));
    address = b->address;
    fill(name, vectors_.emplace_back(vector_placement(split, address)),
         repeated(name, 1, split.cols), false);
    return b;
  }

  void run_elementwise(const g::Op& op) {
    const ops::ElementwiseOp kind = ops::parse_elementwise(op.type);
    const std::string& x = op.inputs[0];
    const ops::RowSplit& split = homes_.at(x).split;
    ops::ElementwiseProblem problem;
    problem.op = kind;
    problem.split = split;
    problem.a = resident(x).shards.front().address;
    std::shared_ptr<Buffer> vec;
    std::vector<std::shared_ptr<Buffer>> temps;
    const bool binary = ops::elementwise_operands(kind) == 2;
    if (binary) {
      const std::string& y = op.inputs[1];
      const bool scalar =
          g::element_count(tensor(y).shape) == 1 && tensor(y).shape != tensor(x).shape;
      problem.b_vector = scalar || (tensor(y).shape.size() == 1 && tensor(x).shape.size() > 1);
      if (problem.b_vector)
        vec = vector_in(y, split, problem.b);
      else
        problem.b = input_in(y, split, temps);
    }
    Home& out = produce(op.outputs[0], &split);
    problem.out = out.buffer->address;
    op_->how = "simd rows";
    kernel(ops::ElementwiseKernel(config_, problem), fmt::format("{} '{}'", op.type, op.name));
    if (values_) {
      // b as the kernel reads it: one row over the rows (a vector), or the whole matrix.
      const uint32_t b_rows = problem.b_vector ? 1 : split.rows;
      const Matrix b = binary ? gather({&ref(op.inputs[1])}, b_rows, split.cols,
                                       repeated(op.inputs[1], b_rows, split.cols))
                              : Matrix();
      ref_[op.outputs[0]] = ops::elementwise_reference(kind, split.dtype, ref(x), b);
      f64_[op.outputs[0]] = ops::elementwise_reference_f64(kind, split.dtype, ref(x), b);
    }
  }

  // A row op's kernel (its buffers placed): its work area written, then run.
  void row_kernel(const g::Op& op, const ops::RowOpProblem& problem) {
    const ops::RowOpKernel k(config_, problem);
    k.place(executor_.machine());
    const uint32_t parts = problem.split.col_parts;
    op_->how = parts > 1 ? fmt::format("simd rows, {} nodes per row", parts) : "simd rows";
    kernel(k, fmt::format("{} '{}'", op.type, op.name));
  }

  void run_row_op(const g::Op& op) {
    const std::string& x = op.inputs[0];
    const ops::RowSplit& split = homes_.at(x).split;
    ops::RowOpProblem problem;
    problem.op = op.type == "softmax"     ? ops::RowOp::Softmax
                 : op.type == "layernorm" ? ops::RowOp::LayerNorm
                                          : ops::RowOp::RmsNorm;
    problem.split = split;
    problem.x = resident(x).shards.front().address;
    if (op.type == "softmax") {
      problem.params.scale = float(float_attr(op, "scale", 1.0));
      problem.params.causal = bool_attr(op, "causal");
      const g::Shape& s = tensor(x).shape;
      if (problem.params.causal) problem.params.causal_rows = uint32_t(s[s.size() - 2]);
    } else {
      problem.params.epsilon = float(float_attr(op, "epsilon", op.type == "rmsnorm" ? 1e-6 : 1e-5));
    }
    std::shared_ptr<Buffer> gamma, beta;
    if (op.inputs.size() > 1) gamma = vector_in(op.inputs[1], split, problem.gamma);
    if (op.inputs.size() > 2) beta = vector_in(op.inputs[2], split, problem.beta);
    std::shared_ptr<Buffer> work =
        allocate(ops::row_op_work_bytes(problem.op, split), "row op scratch");
    problem.work = work->address;
    Home& out = produce(op.outputs[0], &split);
    problem.out = out.buffer->address;
    row_kernel(op, problem);
    if (values_) {
      const auto vec = [&](size_t i) {
        return op.inputs.size() > i ? ref(op.inputs[i]).values : std::vector<float>{};
      };
      ref_[op.outputs[0]] =
          ops::row_op_reference(problem.op, split, problem.params, ref(x), vec(1), vec(2));
      f64_[op.outputs[0]] =
          ops::row_op_reference_f64(problem.op, split, problem.params, ref(x), vec(1), vec(2));
    }
  }

  // The loss: the labels (int32, a host input) written into the SRAM of the logits' nodes before
  // the op, as an embedding's ids (not timed); the scalar lands on the logits' first node, where
  // its home (one row of one column) is put.
  void run_cross_entropy(const g::Op& op) {
    const std::string &x = op.inputs[0], &labels = op.inputs[1], &loss = op.outputs[0];
    const ops::RowSplit& split = homes_.at(x).split;
    ops::RowOpProblem problem;
    problem.op = ops::RowOp::SoftmaxCrossEntropy;
    problem.split = split;
    problem.params.mean = word_attr(op, "reduction", "mean") == "mean";
    problem.params.loss_dtype = runtime_dtype(tensor(loss).dtype);
    problem.x = resident(x).shards.front().address;
    std::shared_ptr<Buffer> ids = allocate(ops::embedding_ids_bytes(split), "labels");
    problem.labels = ids->address;
    std::vector<int32_t> label_values;
    if (values_) {
      label_values = int_values(labels);
      ops::write_labels(executor_.machine(), split, problem.labels, label_values);
    }
    std::shared_ptr<Buffer> work =
        allocate(ops::row_op_work_bytes(problem.op, split), "cross-entropy scratch");
    problem.work = work->address;
    ops::RowSplit one = homes_.at(loss).split;
    if (one.blocks() != 1) throw std::logic_error("a scalar's home is one block");
    one.nodes = {split.nodes.front()};
    problem.out = produce(loss, &one).buffer->address;
    row_kernel(op, problem);
    if (values_) {
      ref_[loss] = ops::cross_entropy_reference(split, problem.params, ref(x), label_values);
      f64_[loss] = ops::cross_entropy_reference_f64(split, problem.params, ref(x), label_values);
    }
  }

  // A backward row op on the split of x (the forward's input; y for softmax, the logits for the
  // loss): dy moved into it if it lies elsewhere, dx written in it, dgamma and dbeta where the
  // kernel's column sums end (gradient_split()).
  void run_row_grad(const g::Op& op) {
    const ops::RowOp kind = row_grads().at(op.type);
    const bool loss = kind == ops::RowOp::SoftmaxCrossEntropyBackward;
    const std::string& x = op.inputs[loss ? 0 : 1];
    const ops::RowSplit split = homes_.at(x).split;
    ops::RowOpProblem problem;
    problem.op = kind;
    problem.split = split;
    problem.params.scale = float(float_attr(op, "scale", 1.0));
    problem.params.mean = word_attr(op, "reduction", "mean") == "mean";
    problem.params.epsilon =
        float(float_attr(op, "epsilon", kind == ops::RowOp::RmsNormBackward ? 1e-6 : 1e-5));
    const int sums = ops::row_grad_column_sums(kind);
    if (sums) problem.params.sums_dtype = runtime_dtype(tensor(op.outputs[1]).dtype);
    problem.x = resident(x).shards.front().address;
    std::vector<std::shared_ptr<Buffer>> temps;
    if (!loss) problem.dy = input_in(op.inputs[0], split, temps);
    std::shared_ptr<Buffer> gamma, ids;
    if (sums) gamma = vector_in(op.inputs[2], split, problem.gamma);
    ops::RowGradInputs in;
    if (loss) {
      ids = allocate(ops::embedding_ids_bytes(split), "labels");
      problem.labels = ids->address;
      if (values_) {
        in.labels = int_values(op.inputs[1]);
        ops::write_labels(executor_.machine(), split, problem.labels, in.labels);
      }
    }
    std::shared_ptr<Buffer> work = allocate(ops::row_op_work_bytes(kind, split), "row op scratch");
    problem.work = work->address;
    problem.out = produce(op.outputs[0], &split).buffer->address;
    // dgamma and dbeta end on x's first row block in its column blocks; the ops that read a
    // [D] vector take it in its home layout, so the sums move there after the kernel.
    const ops::RowSplit sum_split = ops::gradient_split(split, problem.params.sums_dtype);
    std::vector<std::shared_ptr<Buffer>> sum_buffers;
    for (int k = 0; k < sums; ++k) {
      sum_buffers.push_back(allocate(sum_split.bytes(), "column sums"));
      (k == 0 ? problem.dgamma : problem.dbeta) = sum_buffers.back()->address;
    }
    row_kernel(op, problem);
    for (int k = 0; k < sums; ++k) {
      const std::string& name = op.outputs[size_t(1 + k)];
      const Placement from = row_split_placement(sum_split, sum_buffers[size_t(k)]->address);
      move({{{&from}, &produce(name).sram, identity_map(sum_split.cols), false}},
           fmt::format("'{}' of '{}' into its layout", name, op.name));
    }
    if (!values_) return;
    in.x = ref(x);
    if (!loss) in.dy = ref(op.inputs[0]);  // the shape of x: the validator checked
    if (sums) in.gamma = ref(op.inputs[2]).values;
    const ops::RowGrad r = ops::row_grad_reference(kind, split, problem.params, in);
    ops::RowGrad64 f = ops::row_grad_reference_f64(kind, split, problem.params, in);
    ref_[op.outputs[0]] = r.dx, f64_[op.outputs[0]] = std::move(f.dx);
    if (sums > 0) ref_[op.outputs[1]] = r.dgamma, f64_[op.outputs[1]] = std::move(f.dgamma);
    if (sums > 1) ref_[op.outputs[2]] = r.dbeta, f64_[op.outputs[2]] = std::move(f.dbeta);
  }

  // An activation, scale, or an activation's gradient (inputs dy, x: x in dy's layout).
  void run_activation(const g::Op& op) {
    ops::ActivationProblem problem;
    problem.op = ops::parse_activation(op.type, word_attr(op, "approximate", "none"));
    const bool gradient = ops::activation_takes_dy(problem.op);
    const std::string& x = op.inputs[gradient ? 1 : 0];
    const ops::RowSplit& split = homes_.at(op.inputs[0]).split;
    problem.split = split;
    problem.factor = float(float_attr(op, "factor", 1.0));
    std::vector<std::shared_ptr<Buffer>> temps;
    if (gradient) problem.dy = resident(op.inputs[0]).shards.front().address;
    problem.x = gradient ? input_in(x, split, temps) : resident(x).shards.front().address;
    problem.out = produce(op.outputs[0], &split).buffer->address;
    op_->how = "simd rows";
    kernel(ops::ActivationKernel(config_, problem), fmt::format("{} '{}'", op.type, op.name));
    if (values_) {
      const Matrix* dy = gradient ? &ref(op.inputs[0]) : nullptr;
      ref_[op.outputs[0]] =
          ops::activation_reference(problem.op, split.dtype, ref(x), dy, problem.factor);
      f64_[op.outputs[0]] =
          ops::activation_reference_f64(problem.op, split.dtype, ref(x), dy, problem.factor);
    }
  }

  void run_batchnorm(const g::Op& op) {
    const std::string& x = op.inputs[0];
    const ops::RowSplit& split = homes_.at(x).split;
    ops::BatchNormProblem problem;
    problem.split = split;
    problem.epsilon = float(float_attr(op, "epsilon", 1e-5));
    problem.x = resident(x).shards.front().address;
    std::vector<std::shared_ptr<Buffer>> vectors;
    uint64_t* at[] = {&problem.scale, &problem.bias, &problem.mean, &problem.variance};
    for (size_t i = 0; i < 4; ++i) vectors.push_back(vector_in(op.inputs[i + 1], split, *at[i]));
    std::shared_ptr<Buffer> work = allocate(ops::batchnorm_work_bytes(split), "batchnorm scratch");
    problem.work = work->address;
    problem.out = produce(op.outputs[0], &split).buffer->address;
    op_->how = "simd rows";
    kernel(ops::BatchNormKernel(config_, problem), fmt::format("{} '{}'", op.type, op.name));
    if (values_) {
      const ops::BatchNormChannels c{ref(op.inputs[1]).values, ref(op.inputs[2]).values,
                                     ref(op.inputs[3]).values, ref(op.inputs[4]).values};
      ref_[op.outputs[0]] = ops::batchnorm_reference(split.dtype, problem.epsilon, ref(x), c);
      f64_[op.outputs[0]] = ops::batchnorm_reference_f64(split.dtype, problem.epsilon, ref(x), c);
    }
  }

  // x [R, C] of a batchnorm op as the image [1, R, 1, C] the sums over rows read.
  struct RowsOf {
    uint32_t rows, cols;
    ops::ImageShape image;
    ops::RowSplit split;
  };
  RowsOf rows_of(const std::string& x) const {
    const auto [rows, cols] = matrix_of(tensor(x).shape);
    const ops::ImageShape image{1, rows, 1, cols};
    return {rows, cols, image,
            ops::split_for_row_sums(config_, runtime_dtype(tensor(x).dtype), image,
                                    g::row_sums_gather_bytes(config_))};
  }

  // What both batchnorm backward ops read, on dy's image split: dy, x, the scale, mean and
  // variance vectors (inputs 2 to 4), the constant vectors 0 and 1 (the host writes them like a
  // program's constants) and batchnorm's scratch; normalise() runs batchnorm's kernel on them.
  struct NormGradOperands {
    RowsOf in;
    float eps = 0;
    std::vector<std::shared_ptr<Buffer>> temps;
    uint64_t dy = 0, x = 0, scale = 0, mean = 0, variance = 0, zero = 0, one = 0;
    std::shared_ptr<Buffer> work;
  };
  NormGradOperands norm_grad_operands(const g::Op& op) {
    NormGradOperands n;
    n.in = rows_of(op.inputs[0]);
    n.eps = float(float_attr(op, "epsilon", 1e-5));
    const ops::RowSplit& split = n.in.split;
    n.dy = input_in(op.inputs[0], split, n.temps);
    n.x = input_in(op.inputs[1], split, n.temps);
    n.temps.push_back(vector_in(op.inputs[2], split, n.scale));
    n.temps.push_back(vector_in(op.inputs[3], split, n.mean));
    n.temps.push_back(vector_in(op.inputs[4], split, n.variance));
    const auto constant = [&](float v) {
      n.temps.push_back(allocate(split.vector_bytes(), fmt::format("{}'s constants", op.type)));
      ops::write_vector(executor_.machine(), split, n.temps.back()->address,
                        std::vector<float>(n.in.cols, v));
      return n.temps.back()->address;
    };
    n.zero = constant(0.0f), n.one = constant(1.0f);
    n.work = allocate(ops::batchnorm_work_bytes(split), "batchnorm scratch");
    return n;
  }
  // out = batchnorm(in; scale a, bias b, mean m, the op's variance).
  void normalise(const g::Op& op, const NormGradOperands& n, uint64_t in, uint64_t a, uint64_t b,
                 uint64_t m, uint64_t out, const char* what) {
    ops::BatchNormProblem p;
    p.split = n.in.split;
    p.epsilon = n.eps;
    p.x = in, p.scale = a, p.bias = b, p.mean = m, p.variance = n.variance;
    p.work = n.work->address;
    p.out = out;
    kernel(ops::BatchNormKernel(config_, p), fmt::format("{} '{}' ({})", op.type, op.name, what));
  }

  // batchnorm_backward (inference form) from kernels that exist, with constant vectors (0, 1)
  // the host writes like a program's constants:
  //   dx = batchnorm(dy; scale, bias 0, mean 0, variance) = dy a, a = scale rsqrt(variance + eps)
  //   x^ = batchnorm(x; scale 1, bias 0, mean, variance) = (x - mean) rstd, as the forward folds it
  //   dscale = the sums over rows of mul(dy, x^); dbias = the sums over rows of dy
  // (reduce_sum's sums: fp32, global_avg_pool's order). bf16: x^ and dy x^ are bf16 values.
  void run_batchnorm_backward(const g::Op& op) {
    const std::string &dy = op.inputs[0], &x = op.inputs[1];
    const NormGradOperands n = norm_grad_operands(op);
    const ops::RowSplit& split = n.in.split;
    const ops::ImageShape& image = n.in.image;
    const DType dtype = split.dtype;
    const float eps = n.eps;
    const uint32_t cols = n.in.cols;
    // Mixed precision (a bf16 network's batchnorm parameters in fp32, as PyTorch's autocast
    // keeps them): dy x^ and dy are widened to fp32 (exactly) before their sums, so dscale and
    // dbias are the fp32 sums, not rounded to bf16.
    const DType sums_dtype = runtime_dtype(tensor(op.outputs[1]).dtype);
    const ops::RowSplit sums_split = ops::with_dtype(split, sums_dtype);
    // The large buffers are taken before the first kernel: until then, where SRAM is in pieces,
    // the op may start over with the pieces joined (run_attempts). One fp32 buffer serves both
    // sums in turn, and x^ is given back once widened: the sums' own buffers come after.
    const uint64_t dx = produce(op.outputs[0], &split).buffer->address;
    std::shared_ptr<Buffer> xhat = allocate(split.bytes(), "batchnorm_backward's x^");
    std::shared_ptr<Buffer> wide;
    if (sums_dtype != dtype) wide = allocate(sums_split.bytes(), "batchnorm_backward's fp32 terms");
    normalise(op, n, n.dy, n.scale, n.zero, n.zero, dx, "dx");
    normalise(op, n, n.x, n.one, n.zero, n.mean, xhat->address, "x^");
    elementwise_step(op, ops::ElementwiseOp::Mul, split, n.dy, xhat->address, false, xhat->address,
                     "dy x^");
    const auto sum = [&](uint64_t at, const std::string& out, const char* what) {
      if (wide) {
        ops::CastProblem widen;
        widen.in = split, widen.out = sums_split;
        widen.x = at, widen.y = wide->address;
        kernel(ops::CastKernel(config_, widen),
               fmt::format("{} '{}' ({} to fp32)", op.type, op.name, what));
        at = widen.y;
        xhat.reset();
      }
      row_sums(op, image, sums_split, at, &out);
    };
    sum(xhat->address, op.outputs[1], "dy x^");
    sum(n.dy, op.outputs[2], "dy");
    op_->how = "simd rows, sums over rows";
    if (!values_) return;
    const std::vector<float> zeros(cols, 0.0f), ones(cols, 1.0f);
    const std::vector<float>&sc = ref(op.inputs[2]).values, &mu = ref(op.inputs[3]).values,
          &var = ref(op.inputs[4]).values;
    const Matrix x_hat = ops::batchnorm_reference(dtype, eps, ref(x), {ones, zeros, mu, var});
    const Matrix t = ops::elementwise_reference(ops::ElementwiseOp::Mul, dtype, ref(dy), x_hat);
    ref_[op.outputs[0]] = ops::batchnorm_reference(dtype, eps, ref(dy), {sc, zeros, zeros, var});
    ref_[op.outputs[1]] = ops::global_avg_pool_reference(sums_split, image, t, true);
    ref_[op.outputs[2]] = ops::global_avg_pool_reference(sums_split, image, ref(dy), true);
    f64_[op.outputs[0]] =
        ops::batchnorm_reference_f64(dtype, eps, ref(dy), {sc, zeros, zeros, var});
    f64_[op.outputs[1]] = ops::batchnorm_dscale_f64(dtype, eps, ref(dy), ref(x), mu, var);
    f64_[op.outputs[2]] = ops::global_avg_pool_reference_f64(dtype, image, ref(dy), true);
  }

  // ---- batchnorm in training, composed from kernels that exist (runtime/ops/batchnorm_train.h)

  // One step of a composed op: out = a op b on `split` (b a [C] vector over the rows with
  // b_vector), or out = factor a (scale).
  void elementwise_step(const g::Op& op, ops::ElementwiseOp kind, const ops::RowSplit& split,
                        uint64_t a, uint64_t b, bool b_vector, uint64_t out, const char* what) {
    ops::ElementwiseProblem p;
    p.op = kind;
    p.split = split;
    p.a = a, p.b = b, p.b_vector = b_vector, p.out = out;
    kernel(ops::ElementwiseKernel(config_, p), fmt::format("{} '{}' ({})", op.type, op.name, what));
  }
  void scale_step(const g::Op& op, const ops::RowSplit& split, uint64_t x, float factor,
                  uint64_t out, const char* what) {
    ops::ActivationProblem p;
    p.op = ops::ActivationOp::Scale;
    p.split = split;
    p.x = x, p.out = out, p.factor = factor;
    kernel(ops::ActivationKernel(config_, p), fmt::format("{} '{}' ({})", op.type, op.name, what));
  }
  // A [C] row lying as `from` at `at` moved (with the op's next kernel) into a vector where a
  // kernel on `split` reads it.
  std::shared_ptr<Buffer> as_vector(const ops::RowSplit& from, uint64_t at,
                                    const ops::RowSplit& split, uint64_t& address) {
    std::shared_ptr<Buffer> b = allocate(split.vector_bytes(), "a vector of sums");
    address = b->address;
    const Placement& source = vectors_.emplace_back(row_split_placement(from, at));
    const Placement& dest = vectors_.emplace_back(vector_placement(split, address));
    pending_.push_back({{&source}, &dest, identity_map(split.cols), false});
    return b;
  }

  // batchnorm_train: the batch statistics in two passes over x, each sum over rows on the
  // machine (partials pushed between nodes), then y by batchnorm's kernel:
  //   mean = fp32(1/R) sum(x); d = x - mean; variance = fp32(1/R) sum(d d)
  //   y = batchnorm(x; scale, bias, mean, variance)
  // mean and variance lie where their sums end (the sums' layout), y in x's image split.
  void run_batchnorm_train(const g::Op& op) {
    const std::string& x = op.inputs[0];
    const RowsOf in = rows_of(x);
    const ops::RowSplit& split = in.split;
    const float eps = float(float_attr(op, "epsilon", 1e-5));
    const float f = ops::batchnorm_train_factor(in.rows);
    std::vector<std::shared_ptr<Buffer>> temps;
    const uint64_t x_at = input_in(x, split, temps);
    const std::string &y = op.outputs[0], &mean = op.outputs[1], &variance = op.outputs[2];
    const auto statistic = [&](uint64_t rows_at, const std::string& name, const char* what) {
      const auto [sums, at] = row_sums(op, in.image, split, rows_at, nullptr);
      scale_step(op, sums, at->address, f, produce(name, &sums).buffer->address, what);
    };
    statistic(x_at, mean, "mean");
    uint64_t mean_at = 0, variance_at = 0, scale_at = 0, bias_at = 0;
    temps.push_back(vector_in(mean, split, mean_at));
    std::shared_ptr<Buffer> d = allocate(split.bytes(), "batchnorm_train's x - mean");
    elementwise_step(op, ops::ElementwiseOp::Sub, split, x_at, mean_at, true, d->address,
                     "x - mean");
    elementwise_step(op, ops::ElementwiseOp::Mul, split, d->address, d->address, false, d->address,
                     "(x - mean)^2");
    statistic(d->address, variance, "variance");
    d.reset();
    temps.push_back(vector_in(variance, split, variance_at));
    temps.push_back(vector_in(op.inputs[1], split, scale_at));
    temps.push_back(vector_in(op.inputs[2], split, bias_at));
    std::shared_ptr<Buffer> work = allocate(ops::batchnorm_work_bytes(split), "batchnorm scratch");
    ops::BatchNormProblem p;
    p.split = split;
    p.epsilon = eps;
    p.x = x_at, p.scale = scale_at, p.bias = bias_at, p.mean = mean_at, p.variance = variance_at;
    p.work = work->address;
    p.out = produce(y, &split).buffer->address;
    kernel(ops::BatchNormKernel(config_, p), fmt::format("{} '{}' (y)", op.type, op.name));
    op_->how = "simd rows, sums over rows";
    if (!values_) return;
    const std::vector<float>&scale = ref(op.inputs[1]).values, &bias = ref(op.inputs[2]).values;
    ops::BatchNormTrainOutputs r = ops::batchnorm_train_reference(split, eps, ref(x), scale, bias);
    ops::BatchNormTrainOutputs64 e =
        ops::batchnorm_train_reference_f64(split.dtype, eps, ref(x), scale, bias);
    ref_[y] = std::move(r.y), ref_[mean] = std::move(r.mean),
    ref_[variance] = std::move(r.variance);
    f64_[y] = std::move(e.y), f64_[mean] = std::move(e.mean),
    f64_[variance] = std::move(e.variance);
  }

  // batchnorm_train_backward, with constant vectors (0, 1) the host writes like a program's
  // constants and f = fp32(1/R):
  //   x^ = batchnorm(x; 1, 0, mean, variance); dscale = the sums over rows of dy x^; dbias of dy
  //   dx = batchnorm(dy - f dbias - x^ (f dscale); scale, 0, 0, variance)
  //      = scale rstd (dy - dbias / R - x^ dscale / R)
  // f dbias and f dscale are scaled where the sums end and moved into vectors over the rows.
  void run_batchnorm_train_backward(const g::Op& op) {
    const std::string &dy = op.inputs[0], &x = op.inputs[1];
    NormGradOperands n = norm_grad_operands(op);
    const RowsOf& in = n.in;
    const ops::RowSplit& split = in.split;
    const float eps = n.eps;
    const float f = ops::batchnorm_train_factor(in.rows);
    std::vector<std::shared_ptr<Buffer>>& temps = n.temps;
    const uint64_t dy_at = n.dy;
    std::shared_ptr<Buffer> xhat = allocate(split.bytes(), "batchnorm_train_backward's x^");
    std::shared_ptr<Buffer> t = allocate(split.bytes(), "batchnorm_train_backward's dy x^");
    normalise(op, n, n.x, n.one, n.zero, n.mean, xhat->address, "x^");
    elementwise_step(op, ops::ElementwiseOp::Mul, split, dy_at, xhat->address, false, t->address,
                     "dy x^");
    const ops::RowSplit sums = row_sums(op, in.image, split, t->address, &op.outputs[1]).first;
    row_sums(op, in.image, split, dy_at, &op.outputs[2]);
    // f dscale and f dbias where the sums lie, then as vectors over the rows.
    const auto mean_of = [&](const std::string& name, const char* what) {
      std::shared_ptr<Buffer> m = allocate(sums.bytes(), fmt::format("{}'s means", op.type));
      scale_step(op, sums, homes_.at(name).sram.shards.front().address, f, m->address, what);
      uint64_t at = 0;
      temps.push_back(as_vector(sums, m->address, split, at));
      temps.push_back(std::move(m));
      return at;
    };
    const uint64_t mean_t = mean_of(op.outputs[1], "dscale / R");
    const uint64_t mean_dy = mean_of(op.outputs[2], "dbias / R");
    elementwise_step(op, ops::ElementwiseOp::Sub, split, dy_at, mean_dy, true, t->address,
                     "dy - dbias / R");
    elementwise_step(op, ops::ElementwiseOp::Mul, split, xhat->address, mean_t, true, xhat->address,
                     "x^ dscale / R");
    elementwise_step(op, ops::ElementwiseOp::Sub, split, t->address, xhat->address, false,
                     t->address, "their difference");
    xhat.reset();
    normalise(op, n, t->address, n.scale, n.zero, n.zero,
              produce(op.outputs[0], &split).buffer->address, "dx");
    op_->how = "simd rows, sums over rows";
    if (!values_) return;
    const std::vector<float>&sc = ref(op.inputs[2]).values, &mu = ref(op.inputs[3]).values,
          &var = ref(op.inputs[4]).values;
    ops::BatchNormTrainGradients r =
        ops::batchnorm_train_backward_reference(split, eps, ref(dy), ref(x), sc, mu, var);
    ops::BatchNormTrainGradients64 e =
        ops::batchnorm_train_backward_reference_f64(split.dtype, eps, ref(dy), ref(x), sc, mu, var);
    ref_[op.outputs[0]] = std::move(r.dx), f64_[op.outputs[0]] = std::move(e.dx);
    ref_[op.outputs[1]] = std::move(r.dscale), f64_[op.outputs[1]] = std::move(e.dscale);
    ref_[op.outputs[2]] = std::move(r.dbias), f64_[op.outputs[2]] = std::move(e.dbias);
  }

  // Ids (int32, a host input) written into the SRAM of the output's nodes before the op; the
  // table in HBM, in one DIP; each node pulls its rows' table rows (runtime/ops/embedding.h).
  void run_embedding(const g::Op& op) {
    const std::string &ids_name = op.inputs[0], &table_name = op.inputs[1];
    Home& out = homes_.at(op.outputs[0]);
    const ops::RowSplit split = out.split;
    ops::EmbeddingProblem problem;
    problem.output = split;
    problem.vocabulary = uint32_t(tensor(table_name).shape[0]);
    std::shared_ptr<Buffer> ids = allocate(ops::embedding_ids_bytes(split), "embedding ids");
    problem.ids = ids->address;
    problem.table = hbm_.take(split.nodes.front(),
                              uint64_t{problem.vocabulary} * ops::embedding_table_row_bytes(split));
    std::vector<int32_t> id_values;
    if (values_) {
      id_values = int_values(ids_name);
      ops::check_ids(id_values, problem.vocabulary);
      ops::write_ids(executor_.machine(), split, problem.ids, id_values);
      ops::write_embedding_table(executor_.machine(), split, problem.table, ref(table_name));
    }
    problem.out = produce(op.outputs[0]).buffer->address;
    op_->how = "pulls from HBM";
    kernel(ops::EmbeddingKernel(config_, problem), fmt::format("{} '{}'", op.type, op.name));
    if (values_) {
      ref_[op.outputs[0]] = ops::embedding_reference(split.dtype, id_values, ref(table_name));
      f64_[op.outputs[0]] = ops::embedding_reference_f64(split.dtype, id_values, ref(table_name));
    }
  }

  // The sums over rows of the image `image` lying as `input` at `at` (global_avg_pool with
  // factor 1) into `out` (produced in the kernel's layout), or with out null into a buffer of
  // its own (returned). The layout they are written in is the result's split.
  std::pair<ops::RowSplit, std::shared_ptr<Buffer>> row_sums(const g::Op& op,
                                                             const ops::ImageShape& image,
                                                             const ops::RowSplit& input,
                                                             uint64_t at, const std::string* out) {
    ops::GlobalAvgPoolProblem problem;
    problem.image = image;
    problem.input = input;
    problem.output = ops::global_avg_pool_output(config_, input, image);
    problem.x = at;
    problem.sum = true;
    std::shared_ptr<Buffer> work =
        allocate(ops::global_avg_pool_work_bytes(problem), fmt::format("{}'s sums", op.type));
    problem.work = work->address;
    std::shared_ptr<Buffer> temp;
    if (out) {
      problem.out = produce(*out, &problem.output).buffer->address;
    } else {
      temp = allocate(problem.output.bytes(), fmt::format("{}'s sums", op.type));
      problem.out = temp->address;
    }
    const ops::GlobalAvgPoolKernel k(config_, problem);
    k.place(executor_.machine());
    kernel(k, fmt::format("{} '{}' (sums over rows)", op.type, op.name));
    return {problem.output, temp};
  }

  // reduce_sum as global_avg_pool's sums (factor 1): over the axes before the last, x as the
  // image [N, H, 1, C] (N the axes before the summed ones, H the summed ones); over every axis,
  // [R, C] summed to [C] as one image, then that row moved into a column [C, 1] and summed
  // again as the image [1, C, 1, 1]. Each sum in fp32 in global_avg_pool's order.
  void run_reduce_sum(const g::Op& op) {
    const std::string& x = op.inputs[0];
    const ReduceSumForm form = reduce_sum_form(tensor(x).shape, op);
    const DType dtype = runtime_dtype(tensor(x).dtype);
    op_->how = "simd rows";
    const ops::ImageShape first{form.n, form.h, 1, form.c};
    const ops::RowSplit input =
        ops::split_for_row_sums(config_, dtype, first, g::row_sums_gather_bytes(config_));
    std::vector<std::shared_ptr<Buffer>> temps;
    const uint64_t at = input_in(x, input, temps);
    const bool twice = form.every && form.c > 1;
    const auto [row_split, row] = row_sums(op, first, input, at, twice ? nullptr : &op.outputs[0]);
    Matrix row_ref;
    if (values_) row_ref = ops::global_avg_pool_reference(input, first, ref(x), true);
    if (twice) {
      const ops::ImageShape second{1, form.c, 1, 1};
      const ops::RowSplit column = ops::split_image(config_, dtype, second);
      const Placement from = row_split_placement(row_split, row->address);
      std::shared_ptr<Buffer> b = allocate(column.bytes(), "reduce_sum's column");
      const Placement to = row_split_placement(column, b->address);
      move({{{&from},
             &to,
             {[](uint32_t r, uint32_t) {
               return Source{0, 0, r, 1};
             }},
             false}},
           fmt::format("row of '{}' into a column", op.name));
      row_sums(op, second, column, b->address, &op.outputs[0]);
      if (values_) {
        Matrix col(form.c, 1);
        col.values = row_ref.values;
        row_ref = ops::global_avg_pool_reference(column, second, col, true);
      }
      op_->how = "simd rows, then the column";
    }
    if (values_) {
      ref_[op.outputs[0]] = std::move(row_ref);
      // float64: every axis is one image of all the elements (one column).
      Matrix all = ref(x);
      if (form.every) all.rows = uint32_t(all.values.size()), all.cols = 1;
      const ops::ImageShape whole = form.every ? ops::ImageShape{1, all.rows, 1, 1} : first;
      f64_[op.outputs[0]] = ops::global_avg_pool_reference_f64(dtype, whole, all, true);
    }
  }

  // The ids (int32, a host input) written into the SRAM of every node of dtable before the op,
  // as the forward's; dy where it lies; dtable in the kernel's layout (runtime/ops/
  // embedding_backward.h).
  void run_embedding_backward(const g::Op& op) {
    const std::string &ids_name = op.inputs[0], &dy = op.inputs[1];
    ops::EmbeddingBackwardProblem problem;
    problem.dy = homes_.at(dy).split;
    problem.dy_at = resident(dy).shards.front().address;
    const uint32_t vocabulary = uint32_t(int_attr(op, "vocab", 1));
    problem.output = ops::embedding_backward_output(config_, problem.dy, vocabulary);
    std::shared_ptr<Buffer> ids =
        allocate(ops::embedding_backward_ids_bytes(problem.dy), "embedding_backward ids");
    problem.ids = ids->address;
    std::shared_ptr<Buffer> work =
        allocate(ops::embedding_backward_work_bytes(problem), "embedding_backward scratch");
    problem.work = work->address;
    std::vector<int32_t> id_values;
    if (values_) {
      id_values = int_values(ids_name);
      ops::check_ids(id_values, vocabulary);
      ops::write_embedding_backward_ids(executor_.machine(), problem.output, problem.ids,
                                        id_values);
    }
    problem.out = produce(op.outputs[0], &problem.output).buffer->address;
    op_->how = "pulls of dy's rows";
    const ops::EmbeddingBackwardKernel k(config_, problem);
    k.place(executor_.machine());
    kernel(k, fmt::format("{} '{}'", op.type, op.name));
    if (values_) {
      const DType dtype = problem.dy.dtype;
      ref_[op.outputs[0]] =
          ops::embedding_backward_reference(dtype, vocabulary, id_values, ref(dy));
      f64_[op.outputs[0]] =
          ops::embedding_backward_reference_f64(dtype, vocabulary, id_values, ref(dy));
    }
  }

  // Pools on an NHWC batch held as [N H W, C] in split_image()'s layout; the output in the
  // layout the kernel writes.
  void run_image_op(const g::Op& op) {
    const std::string& x = op.inputs[0];
    const g::Shape& s = tensor(x).shape;
    const ops::ImageShape image{uint32_t(s[0]), uint32_t(s[1]), uint32_t(s[2]), uint32_t(s[3])};
    const DType dtype = runtime_dtype(tensor(x).dtype);
    const ops::RowSplit input = ops::split_image(config_, dtype, image);
    std::vector<std::shared_ptr<Buffer>> temps;
    const uint64_t at = input_in(x, input, temps);
    op_->how = "simd rows";
    if (op.type == "global_avg_pool") {
      ops::GlobalAvgPoolProblem problem;
      problem.image = image;
      problem.input = input;
      problem.output = ops::global_avg_pool_output(config_, input, image);
      problem.x = at;
      std::shared_ptr<Buffer> work =
          allocate(ops::global_avg_pool_work_bytes(problem), "global_avg_pool scratch");
      problem.work = work->address;
      problem.out = produce(op.outputs[0], &problem.output).buffer->address;
      const ops::GlobalAvgPoolKernel k(config_, problem);
      k.place(executor_.machine());
      kernel(k, fmt::format("{} '{}'", op.type, op.name));
      if (values_) {
        ref_[op.outputs[0]] = ops::global_avg_pool_reference(input, image, ref(x));
        f64_[op.outputs[0]] = ops::global_avg_pool_reference_f64(dtype, image, ref(x));
      }
      return;
    }
    ops::PoolProblem problem;
    problem.op = op.type == "max_pool" ? ops::PoolOp::Max : ops::PoolOp::Avg;
    std::tie(problem.window.kernel_h, problem.window.kernel_w) = pair_attr(op, "kernel", 1);
    std::tie(problem.window.stride_h, problem.window.stride_w) = pair_attr(op, "stride", 1);
    std::tie(problem.window.pad_h, problem.window.pad_w) = pair_attr(op, "padding", 0);
    problem.window.count_include_pad = bool_attr(op, "count_include_pad");
    problem.image = image;
    problem.input = input;
    problem.output = ops::pool_output(config_, problem.op, input, image, problem.window);
    problem.x = at;
    std::shared_ptr<Buffer> work = allocate(ops::pool_work_bytes(problem), "pool scratch");
    problem.work = work->address;
    problem.out = produce(op.outputs[0], &problem.output).buffer->address;
    const ops::PoolKernel k(config_, problem);
    k.place(executor_.machine());
    kernel(k, fmt::format("{} '{}'", op.type, op.name));
    if (values_) {
      ref_[op.outputs[0]] = ops::pool_reference(problem.op, dtype, image, problem.window, ref(x));
      f64_[op.outputs[0]] =
          ops::pool_reference_f64(problem.op, dtype, image, problem.window, ref(x));
    }
  }

  // The pools' gradients: dx in split_image()'s layout, dy read with its column blocks (and x,
  // for max, as dx is held); global_avg_pool's is avg_pool's over one window of the image.
  void run_pool_gradient(const g::Op& op) {
    const std::string &dy = op.inputs[0], &x = op.inputs[1];
    const g::Shape& s = tensor(x).shape;
    ops::PoolBackwardProblem problem;
    problem.image = {uint32_t(s[0]), uint32_t(s[1]), uint32_t(s[2]), uint32_t(s[3])};
    problem.op = op.type == "max_pool_backward" ? ops::PoolOp::Max : ops::PoolOp::Avg;
    ops::PoolWindow& k = problem.window;
    if (op.type == "global_avg_pool_backward") {
      k = ops::global_window(problem.image);
    } else {
      std::tie(k.kernel_h, k.kernel_w) = pair_attr(op, "kernel", 1);
      std::tie(k.stride_h, k.stride_w) = pair_attr(op, "stride", 1);
      std::tie(k.pad_h, k.pad_w) = pair_attr(op, "padding", 0);
      k.count_include_pad = bool_attr(op, "count_include_pad");
    }
    const DType dtype = runtime_dtype(tensor(dy).dtype);
    problem.grad = ops::split_image(config_, dtype, problem.image);
    problem.dy = ops::pool_backward_dy(config_, problem.op, problem.grad, problem.image, k);
    std::vector<std::shared_ptr<Buffer>> temps;
    problem.dy_at = input_in(dy, problem.dy, temps);
    if (problem.op == ops::PoolOp::Max) problem.x = input_in(x, problem.grad, temps);
    std::shared_ptr<Buffer> work =
        allocate(ops::pool_backward_work_bytes(problem), fmt::format("{} scratch", op.type));
    problem.work = work->address;
    problem.out = produce(op.outputs[0], &problem.grad).buffer->address;
    const ops::PoolBackwardKernel kernel_of(config_, problem);
    kernel_of.place(executor_.machine());
    op_->how = "simd rows";
    kernel(kernel_of, fmt::format("{} '{}'", op.type, op.name));
    if (values_) {
      const Matrix& xs = problem.op == ops::PoolOp::Max ? ref(x) : Matrix();
      ref_[op.outputs[0]] =
          ops::pool_backward_reference(problem.op, dtype, problem.image, k, ref(dy), xs);
      f64_[op.outputs[0]] =
          ops::pool_backward_reference_f64(problem.op, dtype, problem.image, k, ref(dy), xs);
    }
  }

  // Reshape, transpose, concat, split: each output element is an input element; a reshape that
  // keeps the matrix view keeps the tensor where it is.
  // The update runs where the weight is: the gradient and the state are brought into its layout,
  // the new weight and state are written beside them (runtime/ops/optimizer.h).
  void run_optimizer(const g::Op& op) {
    const std::string& w = op.inputs[0];
    const ops::RowSplit split = homes_.at(w).split;
    ops::OptimizerProblem problem;
    problem.kind = op.type == "sgd_update" ? ops::OptimizerKind::Sgd : ops::OptimizerKind::AdamW;
    // The attributes with the op table's defaults (they differ between the two updates).
    const g::OpContext a{op, {}, op.outputs.size(), g::find_op(op.type)};
    ops::OptimizerParams& p = problem.params;
    p.lr = a.float_attr("lr");
    p.weight_decay = a.float_attr("weight_decay");
    if (problem.kind == ops::OptimizerKind::Sgd) {
      p.momentum = a.float_attr("momentum");
    } else {
      p.beta1 = a.float_attr("beta1");
      p.beta2 = a.float_attr("beta2");
      p.epsilon = a.float_attr("epsilon");
      p.step = a.int_attr("step");
    }
    problem.split = split;
    problem.w = resident(w).shards.front().address;
    std::vector<std::shared_ptr<Buffer>> temps;
    problem.grad = input_in(op.inputs[1], split, temps);
    // Dynamic loss scaling: the gradients' unscaling factor, on every node (loss_scale.h).
    const size_t n_states = ops::optimizer_states(problem.kind);
    const bool unscaled = op.inputs.size() > 2 + n_states;
    std::shared_ptr<Buffer> factor;
    if (unscaled) factor = scalar_in(op.inputs.back(), split, problem.unscale);
    for (size_t i = 2; i < 2 + n_states; ++i)
      problem.states.push_back(input_in(op.inputs[i], split, temps));
    problem.w_out = produce(op.outputs[0], &split).buffer->address;
    for (size_t o = 1; o < op.outputs.size(); ++o)
      problem.states_out.push_back(produce(op.outputs[o], &split).buffer->address);
    op_->how = "simd rows";
    kernel(ops::OptimizerKernel(config_, problem), fmt::format("{} '{}'", op.type, op.name));
    if (values_) {
      std::vector<Matrix> states;
      for (size_t i = 2; i < 2 + n_states; ++i) states.push_back(ref(op.inputs[i]));
      const float f = unscaled ? ref(op.inputs.back()).values.at(0) : 1.0f;
      const bool skip = !std::isfinite(f);
      std::vector<Matrix> r = ops::optimizer_reference(problem.kind, p, ref(w), ref(op.inputs[1]),
                                                       states, unscaled ? &f : nullptr);
      Matrix grad = ref(op.inputs[1]);
      if (unscaled && !skip)
        for (float& v : grad.values) v = isa::lanes::canonical(v * f);
      std::vector<Reference64> r64 =
          ops::optimizer_reference_f64(problem.kind, p, ref(w), grad, states);
      for (size_t o = 0; o < op.outputs.size(); ++o) {
        if (skip) r64[o] = exactly(r[o]);  // the old values, whatever the gradient holds
        ref_[op.outputs[o]] = std::move(r[o]);
        f64_[op.outputs[o]] = std::move(r64[o]);
      }
    }
  }

  // A result known exactly: its values with bound 0.
  static Reference64 exactly(const Matrix& m) {
    Reference64 r;
    r.rows = m.rows, r.cols = m.cols;
    r.value.assign(m.values.begin(), m.values.end());
    r.bound.assign(m.values.size(), 0.0);
    return r;
  }

  // Dynamic loss scaling's scalars (runtime/ops/loss_scale.h), on the node that holds them.
  void run_loss_scale(const g::Op& op) {
    ops::LossScaleProblem p;
    p.split = ops::split_rows(config_, DType::Fp32, 1, 1);
    std::vector<std::shared_ptr<Buffer>> temps;
    if (op.type == "unscale_factor") {
      p.op = ops::LossScaleOp::UnscaleFactor;
      p.check = input_in(op.inputs[0], p.split, temps);
      p.scale = input_in(op.inputs[1], p.split, temps);
      p.out = produce(op.outputs[0], &p.split).buffer->address;
    } else {
      const g::OpContext a{op, {}, op.outputs.size(), g::find_op(op.type)};
      p.params.growth = a.float_attr("growth");
      p.params.backoff = a.float_attr("backoff");
      p.params.interval = a.int_attr("interval");
      p.check = input_in(op.inputs[0], p.split, temps);
      p.scale = input_in(op.inputs[1], p.split, temps);
      p.good = input_in(op.inputs[2], p.split, temps);
      p.scale_out = produce(op.outputs[0], &p.split).buffer->address;
      p.good_out = produce(op.outputs[1], &p.split).buffer->address;
    }
    op_->how = "simd, one node";
    kernel(ops::LossScaleKernel(config_, p), fmt::format("{} '{}'", op.type, op.name));
    if (!values_) return;
    const auto scalar = [](float v) {
      Matrix m(1, 1);
      m.values[0] = v;
      return m;
    };
    const auto exact = [&](const std::string& name, float v) {
      ref_[name] = scalar(v);
      f64_[name] = exactly(ref_[name]);
    };
    if (op.type == "unscale_factor") {
      exact(op.outputs[0], ops::unscale_factor_reference(ref(op.inputs[0]).values.at(0),
                                                         ref(op.inputs[1]).values.at(0)));
      return;
    }
    const ops::LossScaleState next = ops::loss_scale_update_reference(
        p.params, ref(op.inputs[0]).values.at(0), ref(op.inputs[1]).values.at(0),
        ref(op.inputs[2]).values.at(0));
    exact(op.outputs[0], next.scale);
    exact(op.outputs[1], next.good);
  }

  // x moved into the partition of the narrower side's split (whole bf16 registers are whole
  // fp32 registers too), then converted where it lies (runtime/ops/cast.h).
  void run_cast(const g::Op& op) {
    const std::string &x = op.inputs[0], &y = op.outputs[0];
    const DType from = runtime_dtype(tensor(x).dtype), to = runtime_dtype(tensor(y).dtype);
    const auto [rows, cols] = matrix_of(tensor(x).shape);
    const ops::RowSplit base =
        ops::split_rows(config_, to == DType::Bf16 ? to : from, uint32_t(rows), uint32_t(cols));
    ops::CastProblem p;
    p.in = ops::with_dtype(base, from);
    p.out = ops::with_dtype(base, to);
    p.factor = float(float_attr(op, "factor", 1.0));
    p.rounding = word_attr(op, "rounding", "nearest") == "stochastic" ? isa::Rounding::Stochastic
                                                                      : isa::Rounding::NearestEven;
    // The op's stream: its seed attribute mixed into the run's.
    p.seed = config_.sim.seed ^ (uint64_t(int_attr(op, "seed", 0)) * 0xD1B54A32D192ED03ull);
    std::vector<std::shared_ptr<Buffer>> temps;
    p.x = input_in(x, p.in, temps);
    // A factor that is a tensor (dynamic loss scaling's scale): on every node, read there.
    std::shared_ptr<Buffer> factor;
    if (op.inputs.size() > 1) factor = scalar_in(op.inputs[1], p.in, p.factor_at);
    p.y = produce(y, &p.out).buffer->address;
    op_->how = "simd rows";
    kernel(ops::CastKernel(config_, p), fmt::format("{} '{}'", op.type, op.name));
    if (values_) {
      if (factor) p.factor = ref(op.inputs[1]).values.at(0);
      ref_[y] = ops::cast_reference(p, ref(x), ops::cast_threads(config_));
      f64_[y] = ops::cast_reference_f64(p, ref(x));
    }
  }

  void run_layout(const g::Op& op) {
    const g::Shape& in0 = tensor(op.inputs[0]).shape;
    if (op.type == "reshape" && matrix_of(in0) == matrix_of(tensor(op.outputs[0]).shape)) {
      const std::string& x = op.inputs[0];
      resident(x);
      flush_moves();  // a host tensor is loaded now: the view is read from SRAM right after
      Home& out = homes_.at(op.outputs[0]);
      out.buffer = homes_.at(x).buffer;
      out.sram = homes_.at(x).sram;
      out.in_sram = true;
      op_->how = "view";
      if (values_) ref_[op.outputs[0]] = ref(x);
      return;
    }
    std::vector<Transfers::Move> moves;
    std::vector<ElementMap> maps;
    std::vector<const Placement*> from;
    for (const std::string& name : op.inputs) from.push_back(&where(name));
    for (size_t o = 0; o < op.outputs.size(); ++o) maps.push_back(layout_map(op, o));
    for (size_t o = 0; o < op.outputs.size(); ++o)
      moves.push_back({from, &produce(op.outputs[o]).sram, maps[o], false});
    move(moves, fmt::format("{} '{}'", op.type, op.name));
    op_->how = "redistribution";
    if (values_) {
      std::vector<const Matrix*> values;
      for (const std::string& name : op.inputs) values.push_back(&ref(name));
      for (size_t o = 0; o < op.outputs.size(); ++o) {
        const auto [rows, cols] = matrix_of(tensor(op.outputs[o]).shape);
        ref_[op.outputs[o]] = gather(values, rows, cols, maps[o]);
      }
    }
  }

  // Output `o`'s element (r, c) of a layout op as (input, row, col) of the inputs' matrices.
  ElementMap layout_map(const g::Op& op, size_t o) const {
    const g::Shape out = tensor(op.outputs[o]).shape;
    const uint32_t ocols = matrix_of(out).second;
    std::vector<g::Shape> ins;
    for (const std::string& name : op.inputs) ins.push_back(tensor(name).shape);
    const int64_t rank = int64_t(out.size());
    const auto axis_of = [&](int64_t a) { return a < 0 ? a + rank : a; };
    if (op.type == "reshape")
      return {[ocols = ocols, icols = matrix_of(ins[0]).second](uint32_t r, uint32_t c) {
        const uint64_t flat = uint64_t(r) * ocols + c;
        const uint32_t ir = uint32_t(flat / icols), ic = uint32_t(flat % icols);
        return Source{0, ir, ic, std::min(ocols - c, icols - ic)};
      }};
    if (op.type == "transpose") {
      const std::vector<int64_t> perm = ints_attr(op, "perm");
      const std::vector<int64_t> in_strides = strides_of(ins[0]);
      const uint32_t icols = matrix_of(ins[0]).second;
      const bool last_kept = perm.back() == rank - 1;
      return {[out, perm, in_strides, icols, last_kept, ocols = ocols](uint32_t r, uint32_t c) {
        uint64_t flat = uint64_t(r) * ocols + c, in = 0;
        for (size_t i = out.size(); i-- > 0;) {
          in += (flat % uint64_t(out[i])) * uint64_t(in_strides[size_t(perm[i])]);
          flat /= uint64_t(out[i]);
        }
        return Source{0, uint32_t(in / icols), uint32_t(in % icols), last_kept ? ocols - c : 1};
      }};
    }
    // concat and split: along `axis`, output index i is input part j's index i - offset.
    const int64_t axis = axis_of(int_attr(op, "axis", -1));
    if (op.type == "concat") {
      std::vector<int64_t> starts{0};
      for (const g::Shape& s : ins) starts.push_back(starts.back() + s[size_t(axis)]);
      return {[out, ins, starts, axis, ocols = ocols](uint32_t r, uint32_t c) {
        const std::vector<int64_t> idx = unflatten(out, uint64_t(r) * ocols + c);
        const size_t j = size_t(std::upper_bound(starts.begin(), starts.end(), idx[size_t(axis)]) -
                                starts.begin() - 1);
        std::vector<int64_t> in = idx;
        in[size_t(axis)] -= starts[j];
        const uint32_t icols = uint32_t(ins[j].back());
        const uint64_t flat = flatten(ins[j], in);
        const uint32_t len = axis == int64_t(out.size()) - 1
                                 ? uint32_t(starts[j + 1] - idx[size_t(axis)])
                                 : ocols - c;
        return Source{int(j), uint32_t(flat / icols), uint32_t(flat % icols), len};
      }};
    }
    int64_t offset = 0;
    for (size_t j = 0; j < o; ++j) offset += tensor(op.outputs[j]).shape[size_t(axis)];
    return {[out, in = ins[0], offset, axis, ocols = ocols](uint32_t r, uint32_t c) {
      std::vector<int64_t> idx = unflatten(out, uint64_t(r) * ocols + c);
      idx[size_t(axis)] += offset;
      const uint32_t icols = uint32_t(in.back());
      const uint64_t flat = flatten(in, idx);
      return Source{0, uint32_t(flat / icols), uint32_t(flat % icols), ocols - c};
    }};
  }

  static std::vector<int64_t> unflatten(const g::Shape& s, uint64_t flat) {
    std::vector<int64_t> idx(s.size());
    for (size_t i = s.size(); i-- > 0;) {
      idx[i] = int64_t(flat % uint64_t(s[i]));
      flat /= uint64_t(s[i]);
    }
    return idx;
  }
  static uint64_t flatten(const g::Shape& s, const std::vector<int64_t>& idx) {
    uint64_t flat = 0;
    for (size_t i = 0; i < s.size(); ++i) flat = flat * uint64_t(s[i]) + uint64_t(idx[i]);
    return flat;
  }

  // ---- the check ----------------------------------------------------------------------------

  void check_outputs(const g::Op& op) {
    for (const std::string& name : op.outputs) {
      const Home& h = homes_.at(name);
      const Matrix got = read_placement(executor_.machine(), h.in_sram ? h.sram : h.hbm);
      const Matrix& want = ref(name);
      for (uint32_t r = 0; r < want.rows; ++r)
        for (uint32_t c = 0; c < want.cols; ++c) {
          const float a = got.at(r, c), b = want.at(r, c);
          // NOTE: a NaN is a NaN: the machine's is canonical, a host reference's may carry
          // another sign (x86 gives -nan for inf - inf; an overflowed step's gradients hold them).
          if (std::memcmp(&a, &b, sizeof a) != 0 && !(std::isnan(a) && std::isnan(b)))
            throw std::runtime_error(fmt::format(
                "{}: op '{}' ({}): output '{}' differs from the reference at row {}, column {} "
                "of its {}x{} matrix: {} on the machine, {} in the reference",
                op.origin, op.name, op.type, name, r, c, want.rows, want.cols, a, b));
        }
      // Within its bound of the float64 result from the same inputs (the op's documented
      // bound; layout ops copy and have none).
      const auto f = f64_.find(name);
      if (f == f64_.end()) continue;
      const Reference64& x = f->second;
      // The bounds are relative, valid in the normal range; below it a result rounds to a
      // multiple of the dtype's smallest subnormal, half of which is allowed besides.
      const double subnormal = std::ldexp(1.0, tensor(name).dtype == g::DType::Bf16 ? -134 : -150);
      for (uint32_t r = 0; r < x.rows; ++r)
        for (uint32_t c = 0; c < x.cols; ++c) {
          const double v = x.at(r, c), bound = x.bound_at(r, c) + subnormal,
                       err = std::abs(got.at(r, c) - v);
          if (!std::isfinite(v)) continue;
          // An overflow (a sum that passed the largest float on the way): the bound holds while
          // nothing overflows; an Inf or NaN was checked bit for bit against the reference.
          if (!std::isfinite(got.at(r, c))) continue;
          if (err > bound)
            throw std::runtime_error(fmt::format(
                "{}: op '{}' ({}): output '{}' at row {}, column {} is {}, {} from the float64 "
                "value {}: past its bound {}",
                op.origin, op.name, op.type, name, r, c, got.at(r, c), err, v, bound));
          if (bound > 0) op_->bound_used = std::max(op_->bound_used, err / bound);
        }
      f64_.erase(f);
    }
  }

  const hw::HardwareConfig& config_;
  const g::Graph& g_;
  const g::Analysis& a_;
  const g::Plan& p_;
  const RunOptions& options_;
  bool values_;
  Executor& executor_;
  SramAllocator sram_;
  HbmAllocator& hbm_;
  Transfers moves_;
  Gang* gang_;
  size_t group_;
  hw::TraceWriter* trace_;  // group 0's runner writes the graph's tracks
  std::map<std::string, Home> homes_;
  std::map<std::string, Matrix> ref_;
  std::map<std::string, Reference64> f64_;  // the current op's outputs in float64, with bounds
  std::map<std::string, std::vector<size_t>> readers_;
  std::set<std::string> positive_;           // made up positive (batchnorm's variances)
  std::map<std::string, int32_t> id_range_;  // made up in [0, V) (embedding's ids)
  OpRun* op_ = nullptr;
  size_t index_ = 0;
  // The current attempt of the op (run_attempts): has it run anything on the machine but
  // spills, the SRAM it has taken, may it start over.
  bool op_ran_ = false, may_restart_ = false;
  uint64_t attempt_bytes_ = 0;
  // The current op's input moves, run together before its kernel, and the placements they name.
  std::vector<Transfers::Move> pending_;
  std::deque<Placement> images_, vectors_;
  // The next op's B, loaded during this op (prefetch_next), until that op's matmul takes it.
  std::unique_ptr<Prefetch> prefetch_;
  uint64_t landed_ = 0;  // when the last prefetch's last pull landed
};

}  // namespace

namespace {

// reduce_sum's axes as a run takes them: a run of axes ending just before the last (x as the
// image [n, h, 1, c]), or every axis (x as [n h, c] summed, then that row); else a
// std::invalid_argument saying what is run.
ReduceSumForm reduce_sum_form(const g::Shape& x, const g::Op& op) {
  const int64_t rank = int64_t(x.size());
  std::vector<int64_t> axes = ints_attr(op, "axes");
  for (int64_t& a : axes) a = a < 0 ? a + rank : a;
  std::sort(axes.begin(), axes.end());
  ReduceSumForm f;
  f.every = axes.empty() || int64_t(axes.size()) == rank;
  const auto product = [&](int64_t from, int64_t to) {
    int64_t p = 1;
    for (int64_t i = from; i < to; ++i) p *= x[size_t(i)];
    return uint32_t(p);
  };
  if (f.every) {
    f.c = rank ? uint32_t(x.back()) : 1;
    f.h = rank ? product(0, rank - 1) : 1;
    return f;
  }
  const bool run =
      axes.back() == rank - 2 && axes.back() - axes.front() + 1 == int64_t(axes.size());
  if (!run)
    throw std::invalid_argument(fmt::format(
        "reduce_sum over axes {}: a run sums every axis, or a run of axes that ends just before "
        "the last (as [..., C] -> [C], a bias's gradient)",
        g::shape_string(ints_attr(op, "axes"))));
  f.n = product(0, axes.front());
  f.h = product(axes.front(), rank - 1);
  f.c = uint32_t(x.back());
  return f;
}

}  // namespace

// What a backward row op's kernel takes: dy and x of one dtype (it reads both in it), dgamma and
// dbeta of one dtype (one conversion at the end of their sums), the last axis.
void check_row_grad(const g::Op& op, const g::Graph& graph) {
  const auto dtype = [&](const std::string& name) { return graph.find_tensor(name)->dtype; };
  if (op.type != "softmax_cross_entropy_backward" && dtype(op.inputs[0]) != dtype(op.inputs[1]))
    refuse(op, fmt::format("dy '{}' is {} and '{}' {}: a run takes them in one dtype", op.inputs[0],
                           g::dtype_name(dtype(op.inputs[0])), op.inputs[1],
                           g::dtype_name(dtype(op.inputs[1]))));
  if (op.outputs.size() == 3 && dtype(op.outputs[1]) != dtype(op.outputs[2]))
    refuse(op, fmt::format("dgamma '{}' is {} and dbeta '{}' {}: a run writes them in one dtype",
                           op.outputs[1], g::dtype_name(dtype(op.outputs[1])), op.outputs[2],
                           g::dtype_name(dtype(op.outputs[2]))));
  if (op.type == "softmax_backward") {
    const int64_t axis = int_attr(op, "axis", -1);
    const int64_t rank = int64_t(graph.find_tensor(op.inputs[0])->shape.size());
    if (axis != -1 && axis != rank - 1)
      refuse(op, fmt::format("softmax_backward along axis {}: a run takes the last axis", axis));
  }
}

void check_allreduce(const g::Op& op, size_t run_groups) {
  const int64_t groups = int_attr(op, "groups", 0), stride = int_attr(op, "stride", 1);
  if (groups < 2 || stride < 1 || run_groups % size_t(groups * stride) != 0)
    throw g::GraphError(fmt::format(
        "{}: op '{}' (allreduce) sums over {} groups {} apart; the run has {} (--data-parallel "
        "times --tensor-parallel), which they must divide",
        op.origin, op.name, groups, stride, run_groups));
}

void check_runnable(const g::Graph& graph, const g::Analysis& a, size_t groups) {
  (void)a;
  for (const g::Op& op : graph.ops)
    if (op.type == "allreduce") check_allreduce(op, groups);
  std::set<std::string> ids;  // int32 tensors the run takes: embedding's ids, the loss's labels
  for (const g::Op& op : graph.ops) {
    if (op.type == "embedding" || op.type == "embedding_backward") ids.insert(op.inputs[0]);
    if (takes_labels(op.type)) ids.insert(op.inputs[1]);
  }
  for (const g::Tensor& t : graph.tensors)
    if (t.dtype != g::DType::Fp32 && t.dtype != g::DType::Bf16 && !ids.count(t.name))
      throw g::GraphError(fmt::format(
          "{}: tensor '{}' ({}): a graph run holds fp32 and bf16 tensors, and int32 ids of an "
          "embedding or labels of a loss, so far",
          t.origin, t.name, g::dtype_name(t.dtype)));
  for (const g::Op& op : graph.ops) {
    const auto shape = [&](size_t i) -> const g::Shape& {
      return graph.find_tensor(op.inputs[i])->shape;
    };
    // The SIMD kernels write their output in their input's dtype (matmul's C converts).
    const g::Tensor &in0 = *graph.find_tensor(op.inputs[0]),
                    &out0 = *graph.find_tensor(op.outputs[0]);
    if ((is_elementwise(op.type) || is_row_op(op.type) || is_row_grad(op.type) ||
         is_activation(op.type) || is_image_op(op.type) || is_pool_gradient(op.type) ||
         op.type == "batchnorm" || op.type == "reduce_sum") &&
        in0.dtype != out0.dtype)
      refuse(op,
             fmt::format("output '{}' is {} and input '{}' {}: a run keeps the input's dtype "
                         "through this op (a conversion in it is not run yet)",
                         out0.name, g::dtype_name(out0.dtype), in0.name, g::dtype_name(in0.dtype)));
    // batchnorm_backward widens a bf16 dy's terms for an fp32 scale's sums; nothing else mixes.
    const g::DType scale_dtype =
        (op.type == "batchnorm_backward" || op.type == "batchnorm_train_backward")
            ? graph.find_tensor(op.inputs[2])->dtype
            : in0.dtype;
    if (scale_dtype != in0.dtype && !(op.type == "batchnorm_backward" &&
                                      in0.dtype == g::DType::Bf16 && scale_dtype == g::DType::Fp32))
      refuse(op, fmt::format("scale '{}' is {} and dy '{}' {}: a run gives dscale and dbias dy's "
                             "dtype, or fp32 for a bf16 dy (batchnorm_backward; a conversion in "
                             "the op is not run otherwise)",
                             op.inputs[2], g::dtype_name(graph.find_tensor(op.inputs[2])->dtype),
                             in0.name, g::dtype_name(in0.dtype)));
    if (is_dy_x(op.type)) {
      const g::Tensor& x = *graph.find_tensor(op.inputs[1]);
      if (x.dtype != in0.dtype)
        refuse(op, fmt::format("x '{}' is {} and dy '{}' {}: a run takes them in one dtype (a "
                               "conversion in the op is not run yet)",
                               x.name, g::dtype_name(x.dtype), in0.name, g::dtype_name(in0.dtype)));
    }
    if (op.type == "matmul" || op.type == "batch_matmul" || is_layout_op(op.type) ||
        op.type == "relu" || op.type == "relu_backward" || op.type == "bias_add" ||
        op.type == "layernorm" || op.type == "rmsnorm" || is_activation(op.type) ||
        is_image_op(op.type) || op.type == "batchnorm" || op.type == "batchnorm_backward" ||
        op.type == "batchnorm_train" || op.type == "batchnorm_train_backward" ||
        op.type == "embedding" || op.type == "embedding_backward" ||
        op.type == "softmax_cross_entropy" || op.type == "cast" || op.type == "unscale_factor" ||
        op.type == "loss_scale_update")
      continue;
    if (op.type == "allreduce") {
      if (in0.dtype != g::DType::Fp32)
        refuse(op, fmt::format("tensor '{}' is {}: an all-reduce sums fp32", in0.name,
                               g::dtype_name(in0.dtype)));
      continue;
    }
    if (is_row_grad(op.type)) {
      check_row_grad(op, graph);
      continue;
    }
    if (op.type == "conv2d" || op.type == "conv2d_grad_input" || op.type == "conv2d_grad_weight")
      continue;
    if (g::is_update(op.type)) {
      for (const std::string& name : op.inputs)
        if (graph.find_tensor(name)->dtype != g::DType::Fp32)
          refuse(op, fmt::format("tensor '{}' is {}: an update takes fp32 master weights, "
                                 "gradients and state",
                                 name, g::dtype_name(graph.find_tensor(name)->dtype)));
      continue;
    }
    if (op.type == "conv2d" || op.type == "conv2d_grad_input" || op.type == "conv2d_grad_weight")
      continue;
    if (is_pool_gradient(op.type)) {
      const g::Tensor& x = *graph.find_tensor(op.inputs[1]);
      if (op.type == "max_pool_backward" && x.dtype != in0.dtype)
        refuse(op, fmt::format("x '{}' is {} and dy '{}' {}: a run compares x in dy's dtype "
                               "(a conversion in it is not run yet)",
                               x.name, g::dtype_name(x.dtype), in0.name, g::dtype_name(in0.dtype)));
      continue;
    }
    if (op.type == "add" || op.type == "sub" || op.type == "mul") {
      const g::Shape &x = shape(0), &y = shape(1);
      const bool trailing =
          y.size() < x.size() && std::equal(y.begin(), y.end(), x.end() - long(y.size()));
      if (x == y || trailing || g::element_count(y) == 1) continue;
      refuse(op, fmt::format("tensor '{}' {} broadcast over '{}' {}: a run takes equal shapes, "
                             "one element or the trailing axes of the first",
                             op.inputs[1], g::shape_string(y), op.inputs[0], g::shape_string(x)));
    }
    if (op.type == "reduce_sum") {
      try {
        const ReduceSumForm f = reduce_sum_form(shape(0), op);
        if (f.every && f.c > 1 && in0.dtype != g::DType::Fp32)
          refuse(op, fmt::format("reduce_sum of {} '{}' over every axis: a run sums its rows to "
                                 "[C] and would round those sums to {} before the last sum; "
                                 "sum fp32, or over the axes before the last",
                                 g::dtype_name(in0.dtype), in0.name, g::dtype_name(in0.dtype)));
      } catch (const std::invalid_argument& e) {
        refuse(op, e.what());
      }
      continue;
    }
    if (op.type == "softmax") {
      const int64_t axis = int_attr(op, "axis", -1), rank = int64_t(shape(0).size());
      if (axis != -1 && axis != rank - 1)
        refuse(op, fmt::format("softmax along axis {}: a run takes the last axis", axis));
      continue;
    }
    refuse(op, "no node kernel runs it yet (--plan estimates it)");
  }
}

namespace {

// The groups' runs as one: their ops (the same steps, the same cycles), and each output once
// where every group holds the same values (the updated weights), else every group's rows in
// group order (the loss of each group's batch).
// The parts of a split output (tensor parallel) joined whole, along its axis.
Matrix joined(const std::vector<const Matrix*>& parts, const g::TensorSlice& slice) {
  const bool columns = slice.axis + 1 == slice.full.size();
  const uint32_t n = uint32_t(parts.size()), rows = parts[0]->rows, cols = parts[0]->cols;
  Matrix whole(columns ? rows : rows * n, columns ? cols * n : cols);
  for (uint32_t t = 0; t < n; ++t)
    for (uint32_t i = 0; i < rows; ++i)
      for (uint32_t j = 0; j < cols; ++j)
        whole.at(columns ? i : t * rows + i, columns ? t * cols + j : j) = parts[t]->at(i, j);
  return whole;
}

// The groups' runs as one: their ops (the same steps, the same cycles), and each output once.
// Group g is part g % T of replica g / T (T tensor-parallel parts, 1 without): a split output
// is its replica's parts joined; an output every replica holds alike (the updated weights)
// comes once, else every replica's rows in replica order (the loss of each replica's batch).
GraphRun merge_groups(std::vector<GraphRun>& runs,
                      const std::map<std::string, g::TensorSlice>& slices, size_t parts) {
  for (size_t g = 1; g < runs.size(); ++g) {
    runs[0].checked = runs[0].checked && runs[g].checked;
    runs[0].sram_high_water = std::max(runs[0].sram_high_water, runs[g].sram_high_water);
    runs[0].hbm_bytes = std::max(runs[0].hbm_bytes, runs[g].hbm_bytes);
  }
  for (size_t first = 0; first < runs.size(); first += parts)
    for (auto& [name, m] : runs[first].outputs) {
      const auto slice = slices.find(name);
      if (slice == slices.end()) continue;
      std::vector<const Matrix*> of;
      for (size_t t = 0; t < parts; ++t) of.push_back(&runs[first + t].outputs.at(name));
      m = joined(of, slice->second);
    }
  GraphRun r = std::move(runs.front());
  for (auto& [name, m] : r.outputs) {
    bool same = true;
    for (size_t g = parts; g < runs.size() && same; g += parts)
      same = runs[g].outputs.at(name).values == m.values;
    if (same) continue;
    r.varying.push_back(name);
    for (size_t g = parts; g < runs.size(); g += parts) {
      const Matrix& o = runs[g].outputs.at(name);
      m.values.insert(m.values.end(), o.values.begin(), o.values.end());
      m.rows += o.rows;
    }
  }
  return r;
}

}  // namespace

GraphRun run_graph(const hw::HardwareConfig& config, const g::Graph& graph, const g::Analysis& a,
                   const g::Plan& p, const RunOptions& options) {
  check_runnable(graph, a, std::max(1u, options.groups));
  const uint64_t kept = kProgramBytes + kTableBytes + g::kReservedSramBytes;
  if (config.node.core.sram_bytes <= kept)
    throw g::GraphError(fmt::format(
        "node.sram_bytes = {}: a graph run keeps {} bytes of every node's SRAM for programs, DMA "
        "tables and stacks, and needs more for tensors",
        config.node.core.sram_bytes, kept));
  const uint32_t groups = std::max(1u, options.groups);
  const std::vector<hw::HardwareConfig::Region> regions =
      groups > 1 ? group_regions(config, groups,
                                 options.tensor_groups <= 1        ? "data parallel"
                                 : options.tensor_groups == groups ? "tensor parallel"
                                                                   : "data and tensor parallel")
                 : std::vector<hw::HardwareConfig::Region>{};
  Executor executor(config);
  executor.keep(kProgramBytes, config.node.core.sram_bytes - g::kReservedSramBytes);
  if (options.trace) executor.machine().set_trace(options.trace);
  HbmAllocator hbm(executor.machine());
  if (groups == 1) {
    Runner runner(config, graph, a, p, options, executor, hbm);
    return runner.run();
  }
  // Data or tensor parallel: a runner per group, planning in turns (groups.h).
  std::vector<hw::HardwareConfig> configs;
  for (const hw::HardwareConfig::Region& r : regions) configs.push_back(in_region(config, r));
  Gang gang(executor, config, groups, kProgramBytes, kTableBytes);
  std::vector<std::unique_ptr<Runner>> runners;
  for (size_t i = 0; i < groups; ++i)
    runners.push_back(
        std::make_unique<Runner>(configs[i], graph, a, p, options, executor, hbm, &gang, i));
  std::vector<GraphRun> runs(groups);
  gang.run([&](size_t i) { runs[i] = runners[i]->run(); });
  GraphRun r = merge_groups(runs, options.slices, std::max(1u, options.tensor_groups));
  r.groups = groups;
  r.tensor_groups = std::max(1u, options.tensor_groups);
  r.group_text = regions_text(regions);
  return r;
}

namespace {

std::string parallel_name(const GraphRun& r) {
  return r.tensor_groups == 1          ? "data parallel"
         : r.tensor_groups == r.groups ? "tensor parallel"
                                       : "data and tensor parallel";
}

// An all-reduce's bandwidths as nccl-tests reports them: algbw = bytes / time, busbw = algbw x
// 2 (G - 1) / G, what each group's links carry.
struct CollectiveRates {
  double algbw_gb_s = 0, busbw_gb_s = 0;
};
CollectiveRates collective_rates(const OpRun& o, const hw::HardwareConfig& config) {
  if (!o.cycles) return {};
  const double seconds = double(o.cycles) / (config.node.core.clock_ghz * 1e9);
  const double algbw = double(o.collective_bytes) / seconds / 1e9;
  const double g = o.collective_groups;
  return {algbw, algbw * 2 * (g - 1) / g};
}

// The all-reduces between groups, one row each, after the graph's totals.
std::string collectives_text(const GraphRun& r, const hw::HardwareConfig& config) {
  std::string rows;
  size_t count = 0, name_w = 22;
  uint64_t cycles = 0;
  for (const OpRun& o : r.ops)
    if (o.collective_groups) name_w = std::max(name_w, o.op.size());
  for (const OpRun& o : r.ops) {
    if (!o.collective_groups) continue;
    const CollectiveRates rates = collective_rates(o, config);
    rows += fmt::format("    {:<{}} {:>12} {:>7} {:>10} {:>11.2f} {:>11.2f}\n", o.op, name_w,
                        o.collective_bytes, o.collective_groups, o.cycles, rates.algbw_gb_s,
                        rates.busbw_gb_s);
    ++count, cycles += o.cycles;
  }
  if (!count) return "";
  return fmt::format(
             "  collectives: {} all-reduces between the groups, {} cycles ({:.1f}% of the graph)\n"
             "    {:<{}} {:>12} {:>7} {:>10} {:>11} {:>11}\n",
             count, cycles, r.cycles ? 100.0 * double(cycles) / double(r.cycles) : 0.0, "op",
             name_w, "bytes", "groups", "cycles", "algbw GB/s", "busbw GB/s") +
         rows;
}

}  // namespace

std::string run_text(const GraphRun& r, const hw::HardwareConfig& config) {
  // Columns as wide as their longest entry (a backward op's name and type are long).
  size_t op_w = 22, type_w = 14, how_w = 26;
  for (const OpRun& o : r.ops)
    op_w = std::max(op_w, o.op.size()), type_w = std::max(type_w, o.type.size()),
    how_w = std::max(how_w, o.how.size());
  std::string s = fmt::format(
      "\n{:<{}} {:<{}} {:<{}} {:>12} {:>12} {:>12} {:>12} {:>7} {:>10} {:>9}\n", "op", op_w, "type",
      type_w, "how", how_w, "cycles", "kernels", "moves", "plan", "% peak", "HBM B", "SRAM B");
  for (const OpRun& o : r.ops) {
    s += fmt::format("{:<{}} {:<{}} {:<{}} {:>12} {:>12} {:>12} {:>12.0f} {:>7.2f} {:>10} {:>9}\n",
                     o.op, op_w, o.type, type_w, o.how, how_w, o.cycles, o.kernel_cycles,
                     o.moves.cycles, o.estimate, o.peak_pct,
                     o.moves.bytes_from_hbm + o.moves.bytes_to_hbm, o.sram_in_use);
    // What the op moved out of its way first, a line each.
    const auto first = [&](const std::vector<std::string>& names, const char* what) {
      if (!names.empty())
        s += fmt::format("{:<{}} {}: {}\n", "", op_w, what, fmt::join(names, ", "));
    };
    first(o.spilled, "spilled to HBM first");
    first(o.relocated, "moved within SRAM first (fragmented)");
    if (o.prefetch_bytes)
      s += fmt::format(
          "{:<{}} prefetched during the op before: {} B from HBM, {} cycles of the load "
          "hidden\n",
          "", op_w, o.prefetch_bytes, o.prefetch_hidden_cycles);
  }
  s += fmt::format(
      "\ngraph: {} cycles ({:.3f} us at {} GHz) in one machine run, {:.2f}% of peak; the plan "
      "estimated {:.0f}\n",
      r.cycles, r.seconds * 1e6, config.node.core.clock_ghz, r.peak_pct, r.estimate);
  s += fmt::format(
      "  kernels {} cycles (the sum of the ops run alone, operands placed by the host), moves {} "
      "(loads, redistributions, spills)\n",
      r.kernel_cycles, r.move_cycles);
  if (r.groups > 1)
    s += fmt::format(
        "  {}: {} groups of {}, {}, running every step at once; FLOP, bytes and peak shares "
        "above are each group's\n",
        parallel_name(r), r.groups, r.group_text,
        r.tensor_groups == 1          ? "each with its own batch"
        : r.tensor_groups == r.groups ? "each with its part of the split layers"
                                      : fmt::format("{} replicas of {} with their own batch, each "
                                                    "group with its part of the split layers",
                                                    r.groups / r.tensor_groups, r.tensor_groups));
  s += fmt::format(
      "  moved: {} B between nodes, {} B within nodes, {} B from HBM, {} B to HBM, in {} DMA "
      "copies\n",
      r.moves.bytes_between_nodes, r.moves.bytes_local, r.moves.bytes_from_hbm,
      r.moves.bytes_to_hbm, r.moves.copies);
  if (r.prefetch_bytes)
    s += fmt::format(
        "  prefetched: {} B of it loaded during the op before their reader's, {} cycles of those "
        "loads hidden\n",
        r.prefetch_bytes, r.prefetch_hidden_cycles);
  s += fmt::format(
      "  SRAM used per node at most {} B; HBM taken {} B (HBM B: read and written by the op's "
      "moves; SRAM B: in use on every node after it)\n",
      r.sram_high_water, r.hbm_bytes);
  s += collectives_text(r, config);
  double used = 0;
  for (const OpRun& o : r.ops) used = std::max(used, o.bound_used);
  s += r.checked ? fmt::format(
                       "check: every op's outputs equal the reference bit for bit, and "
                       "are within their bound of float64 (at most {:.1f}% of it used)\n",
                       100 * used)
                 : "check: skipped (sim.values off)\n";
  return s;
}

nlohmann::ordered_json run_json(const GraphRun& r, const hw::HardwareConfig& config) {
  nlohmann::ordered_json collectives = nlohmann::ordered_json::array();
  for (const OpRun& o : r.ops)
    if (o.collective_groups) {
      const CollectiveRates rates = collective_rates(o, config);
      collectives.push_back({{"op", o.op},
                             {"collective", "allreduce"},
                             {"bytes", o.collective_bytes},
                             {"groups", o.collective_groups},
                             {"cycles", o.cycles},
                             {"algbw_gb_s", rates.algbw_gb_s},
                             {"busbw_gb_s", rates.busbw_gb_s}});
    }
  nlohmann::ordered_json ops = nlohmann::ordered_json::array();
  for (const OpRun& o : r.ops)
    ops.push_back({{"op", o.op},
                   {"type", o.type},
                   {"how", o.how},
                   {"cycles", o.cycles},
                   {"kernel_cycles", o.kernel_cycles},
                   {"move_cycles", o.moves.cycles},
                   {"plan_cycles", o.estimate},
                   {"flop", o.flop},
                   {"peak_pct", o.peak_pct},
                   {"bytes_between_nodes", o.moves.bytes_between_nodes},
                   {"bytes_from_hbm", o.moves.bytes_from_hbm},
                   {"bytes_to_hbm", o.moves.bytes_to_hbm},
                   {"transpose_bands", o.moves.bands},
                   {"dma_copies", o.moves.copies},
                   {"bytes_gathered", o.moves.bytes_gathered},
                   {"bytes_untiled", o.moves.bytes_untiled},
                   {"prefetch_bytes", o.prefetch_bytes},
                   {"prefetch_hidden_cycles", o.prefetch_hidden_cycles},
                   {"sram_in_use", o.sram_in_use},
                   {"f64_bound_used", o.bound_used},
                   {"spilled", o.spilled},
                   {"relocated", o.relocated}});
  nlohmann::ordered_json outputs = nlohmann::ordered_json::array();
  for (const auto& [name, m] : r.outputs) outputs.push_back(name);
  return {{"ops", ops},
          {"collectives", collectives},
          {"outputs", outputs},
          {"totals",
           {{"cycles", r.cycles},
            {"seconds", r.seconds},
            {"kernel_cycles", r.kernel_cycles},
            {"move_cycles", r.move_cycles},
            {"plan_cycles", r.estimate},
            {"flop", r.flop},
            {"peak_pct", r.peak_pct},
            {"bytes_between_nodes", r.moves.bytes_between_nodes},
            {"bytes_within_nodes", r.moves.bytes_local},
            {"bytes_from_hbm", r.moves.bytes_from_hbm},
            {"bytes_to_hbm", r.moves.bytes_to_hbm},
            {"prefetch_bytes", r.prefetch_bytes},
            {"prefetch_hidden_cycles", r.prefetch_hidden_cycles},
            {"sram_high_water", r.sram_high_water},
            {"hbm_bytes", r.hbm_bytes},
            {"checked", r.checked},
            {"groups", r.groups},
            {"parallel", r.groups == 1                 ? "none"
                         : r.tensor_groups == 1        ? "data"
                         : r.tensor_groups == r.groups ? "tensor"
                                                       : "data+tensor"},
            {"tensor_groups", r.tensor_groups},
            {"varying_outputs", r.varying}}}};
}

}  // namespace dojosim::runtime::graph_run
