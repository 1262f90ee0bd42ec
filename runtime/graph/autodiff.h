// SPDX-License-Identifier: MIT
// Autodiff: the backward of a workload graph as more ops of the same graph (docs/graphs.md,
// "Training"). Reverse mode over the op list: each op that lies between a weight and the loss
// gets its gradient rule (autodiff.cpp, one entry per op type), which emits ops of the op table
// (matmuls with transposes, conv2d_grad_input, relu_backward, reduce_sum, ...). A tensor read
// by several ops gets the sum of their contributions (adds in op order).
//
// The loss is the graph's one output, or the tensor the options name. A loss made by
// softmax_cross_entropy starts the backward itself (d loss = 1, its `scale`); any other loss
// is seeded by a host input `grad_output` of its shape (the PyTorch capture's convention).
// Every weight the loss depends on gets its gradient as the output `grad/WEIGHT` (role
// gradient), in the weight's shape; its dtype is what its backward op gives (a matmul's: the
// weight's; a sum of an fp32 dy: fp32).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/graph/graph.h"
#include "runtime/graph/validate.h"  // GraphError

namespace dojosim::runtime::graph {

/// Dynamic loss scaling, as PyTorch's torch.cuda.amp.GradScaler does it (its defaults): the
/// scale starts at `init`; a step whose unscaled gradients hold an Inf or NaN skips its updates
/// and multiplies the scale by `backoff`; `interval` good steps in a row multiply it by `growth`.
struct DynamicLossScale {
  double init = 65536, growth = 2, backoff = 0.5;
  int64_t interval = 2000;
};
/// The training step's state tensors of dynamic loss scaling (fp32 scalars, optimizer_state).
inline constexpr const char* kLossScaleState = "state/loss_scale";
inline constexpr const char* kGoodStepsState = "state/loss_scale_good_steps";

/// --loss-scale: a number (static scaling) or "dynamic[:init=..][,growth=..][,backoff=..]
/// [,interval=..]". Throws GraphError naming the key, the value and what is expected.
struct LossScaling {
  double scale = 1;  // static
  std::optional<DynamicLossScale> dynamic;
};
LossScaling parse_loss_scale(const std::string& text);

struct BackwardOptions {
  std::string loss;  // empty: the graph's one output
  /// Static loss scaling: the backward starts from loss_scale x d loss (a cross-entropy's
  /// `scale`, or a `scale` op on grad_output), so every gradient carries the factor; the
  /// training step divides it out before the update. Keeps small gradients of a narrow format
  /// above its smallest value; a power of two changes no bit where nothing overflows.
  double loss_scale = 1.0;
  /// Tensor parallel (tensor_parallel.h): the matmuls whose first input's gradient is each
  /// group's partial sum, summed over `groups` by an allreduce before it is used.
  std::set<std::string> partial_input_gradients = {};
  uint32_t groups = 1;
  /// Dynamic loss scaling (with loss_scale 1): the backward starts from d loss times the fp32
  /// scalar kLossScaleState (a tensor the backward declares, role optimizer_state), multiplied
  /// in by a `cast` that takes it as its factor (the product in fp32, rounded once to the loss
  /// gradient's dtype); the training step checks, unscales, skips and updates the scale
  /// (training_step).
  std::optional<DynamicLossScale> dynamic = std::nullopt;
};

/// The graph followed by its backward ops. `g` must be valid (validate()); so is the result. Throws
/// GraphError (one line, the op's origin first) for an op on the path with no gradient rule,
/// an unknown or ambiguous loss, or a loss that is not a float.
Graph with_backward(const Graph& g, const BackwardOptions& options = {});

/// An optimizer of the training step: `kind` "sgd" or "adamw" (the ops sgd_update and
/// adamw_update of ops.def) and the attributes given to every update (lr, momentum, ...).
struct OptimizerOptions {
  std::string kind;
  std::map<std::string, AttrValue> attributes;
  /// Data parallel over this many groups of nodes (runtime/graph/run/groups.h), each with its
  /// own batch: every gradient is divided by the count (each group's loss is its own batch's
  /// mean) and summed over the groups (`allreduce`) before its update.
  uint32_t groups = 1;
  /// With tensor parallel inside each replica: a replica's groups are this many (its tensor-
  /// parallel count), and a gradient sums over the groups holding the same part, this far apart.
  uint32_t group_stride = 1;
};

/// Whether ops of that type are an optimizer's update (sgd_update, adamw_update).
bool is_update(std::string_view type);

/// Parses "sgd:lr=0.1,momentum=0.9" or "adamw:lr=1e-3": the optimizer and its attributes,
/// checked against the op table (names, types). Throws GraphError naming what is wrong and
/// what was expected.
OptimizerOptions parse_optimizer(const std::string& text);

/// The training step: the graph, its backward (with_backward), then one update per weight that
/// has a gradient: sgd_update(W, grad/W, state/W/velocity) or adamw_update(W, grad/W,
/// state/W/m, state/W/v), whose outputs next/W and next/state/W/... are the next step's weight
/// and state (outputs of the graph). The state tensors have the role optimizer_state, fp32, and
/// start at zero in a run unless given.
/// A weight W in another dtype than fp32 (bf16) becomes the working copy of an fp32 master weight
/// master/W (optimizer state, with W's data; a run without data starts it from the values it
/// makes up for W): just before its first reader the step makes the cast W = master/W by
/// stochastic rounding (a seed from W's name, mixed with sim.seed), and the update runs on the
/// master, giving
/// next/master/W. A gradient that is not fp32, or carries a loss scale, or is one group's of
/// several, is first cast to fp32 times 1 / (loss_scale x groups) (grad32/W); with groups, its
/// all-reduce W.allreduce gives grad_mean/W, which the update reads.
Graph training_step(const Graph& g, const BackwardOptions& backward,
                    const OptimizerOptions& optimizer);

/// With dynamic loss scaling (backward.dynamic), every weight's fp32 gradient (after the
/// data-parallel all-reduce if any) is checked as PyTorch checks the scaled gradient: the sum of
/// its x - x (a `sub`, bwd/check/W, and a `reduce_sum`, check/W), added over the weights into
/// `check` (0, or NaN when some gradient overflowed; with tensor parallel summed over a
/// replica's groups by check.allreduce, each having checked its parts, so that all agree; data
/// parallel needs nothing more: the checks follow the gradients' all-reduce, which gives every
/// group the same sums); `loss_scale.unscale` (op unscale_factor)
/// makes 1 / S, or NaN after an overflow; every update takes it as its last input, multiplies
/// the gradient by it and keeps the old weight and state where it is not finite; and
/// `loss_scale.update` (op loss_scale_update) writes next/state/loss_scale and
/// next/state/loss_scale_good_steps. The state starts with the tensors kLossScaleState (the
/// caller gives it init) and kGoodStepsState (zero).
/// The training step's fp32 master weight of a narrower weight: "master/WEIGHT"; and back, the
/// weight a tensor of that name is the master of ("" for another name).
std::string master_weight(std::string_view weight);
std::string weight_of_master(std::string_view name);
/// The weight a tensor of the training step belongs to: W for grad/W, grad32/W, grad_mean/W,
/// master/W, state/W/STATE and next/ of each (they have W's shape); "" for another name
/// (check/W, state/loss_scale too).
std::string weight_of_step_tensor(std::string_view name);

/// The op types with a gradient rule, in op table order (docs/graphs.md lists them).
std::vector<std::string_view> differentiable_ops();

}  // namespace dojosim::runtime::graph
