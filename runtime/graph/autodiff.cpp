// SPDX-License-Identifier: MIT
#include "runtime/graph/autodiff.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "runtime/graph/op_table.h"

namespace dojosim::runtime::graph {
namespace {

class Backward;
// A gradient rule: given the gradients of op's outputs (`dy`, one per output), emits the ops
// that give each input that wants one its contribution (Backward::emit with `gives`).
using Rule = void (*)(Backward& b, const Op& op, const std::vector<std::string>& dy);

struct GradientRule {
  std::string_view type;
  // One letter per input: 'd' takes a gradient, '-' does not (indices, statistics); a trailing
  // '+' repeats the last letter.
  std::string_view inputs;
  Rule rule;
  // One letter per output, or empty for all 'd': 'd' takes a gradient, '-' is a statistic the
  // backward does not differentiate (batchnorm_train's mean and variance): its gradient is not
  // asked for, and a path from it to the loss is refused.
  std::string_view outputs = "";
};
const std::vector<GradientRule>& rules();

const GradientRule* find_rule(std::string_view type) {
  for (const GradientRule& r : rules())
    if (r.type == type) return &r;
  return nullptr;
}
bool differentiable_output(const GradientRule& r, size_t i) {
  return i >= r.outputs.size() || r.outputs[i] == 'd';
}
bool differentiable(const GradientRule& r, size_t i) {
  const std::string_view s = r.inputs;
  if (i < s.size() && s[i] != '+') return s[i] == 'd';
  return s.size() >= 2 && s.back() == '+' && s[s.size() - 2] == 'd';
}

// The loss of a softmax_cross_entropy has no tensor for its gradient: the rule starts there.
constexpr std::string_view kLossSeed = "";

class Backward {
 public:
  Backward(const Graph& g, const BackwardOptions& options)
      : g_(g), out_(g), loss_scale_(options.loss_scale), options_(options) {
    if (!(loss_scale_ > 0) || !std::isfinite(loss_scale_))
      throw GraphError(
          fmt::format("loss scale {}: expected a positive finite number", loss_scale_));
    for (const Tensor& t : g.tensors) names_.insert(t.name);
    for (const Op& op : g.ops) op_names_.insert(op.name);
    if (options.dynamic && loss_scale_ != 1.0)
      throw GraphError(
          fmt::format("loss scale {} and dynamic loss scaling: give one of them", loss_scale_));
    if (options.dynamic) {
      if (names_.count(kLossScaleState))
        throw GraphError(
            fmt::format("dynamic loss scaling needs a tensor '{}', and the graph "
                        "already has one",
                        kLossScaleState));
      declare(kLossScaleState, {}, DType::Fp32, Role::OptimizerState);
    }
    for (size_t i = 0; i < g.ops.size(); ++i)
      for (const std::string& o : g.ops[i].outputs) producer_[o] = i;
    loss_ = find_loss(options.loss);
  }

  Graph run() {
    mark_needs_gradient();
    mark_reaches_loss();
    count_contributions();
    bool any = false;
    for (const Tensor& t : g_.tensors) any |= t.role == Role::Weight && expected_.count(t.name);
    if (!any)
      throw GraphError(fmt::format("{}: no weight reaches the loss '{}': nothing to train",
                                   where(loss_), loss_));
    seed();
    for (size_t i = g_.ops.size(); i-- > 0;) {
      const Op& op = g_.ops[i];
      if (!active(op)) continue;
      op_ = &op;
      std::vector<std::string> dy;
      const GradientRule& rule = *find_rule(op.type);
      for (size_t k = 0; k < op.outputs.size(); ++k) {
        const std::string& o = op.outputs[k];
        if (!differentiable_output(rule, k)) {
          if (contributions_.count(o))
            refuse(op, fmt::format("its output '{}' is a statistic {} does not differentiate, "
                                   "and the loss '{}' depends on it through ops that would need "
                                   "its gradient; read only its first output on the way to the "
                                   "loss",
                                   o, op.type, loss_));
          dy.emplace_back();
          continue;
        }
        if (!contributions_.count(o))
          refuse(op, fmt::format("its output '{}' does not reach the loss '{}', so its gradient "
                                 "is zero; a backward with zero gradients is not supported",
                                 o, loss_));
        dy.push_back(gradient_of(o));
      }
      rule.rule(*this, op, dy);
    }
    for (const Tensor& t : g_.tensors)
      if (t.role == Role::Weight && contributions_.count(t.name)) weight_gradient(t);
    return std::move(out_);
  }

  // ---- what rules use ---------------------------------------------------------------------

  const Tensor& tensor(const std::string& name) const { return *out_.find_tensor(name); }
  const Shape& shape(const std::string& name) const { return tensor(name).shape; }
  // Whether input i of the current op takes a gradient.
  bool wants(size_t i) const {
    return differentiable(*find_rule(op_->type), i) && needs_.count(op_->inputs[i]);
  }
  [[noreturn]] void refuse(const Op& op, const std::string& what) const {
    throw GraphError(fmt::format("{}{}op '{}' ({}): backward: {}", op.origin,
                                 op.origin.empty() ? "" : ": ", op.name, op.type, what));
  }

  // An output of an emitted op: the gradient of the current op's input `gives`, or (gives < 0)
  // a temporary in the shape and dtype given.
  struct Out {
    int gives = -1;
    Shape shape = {};
    DType dtype = DType::Fp32;
  };
  Out gradient(size_t input) const {
    const Tensor& t = tensor(op_->inputs[input]);
    return {int(input), t.shape, t.dtype};
  }
  Out temporary(Shape s, DType t) const { return {-1, std::move(s), t}; }

  // Appends an op of `type` for the current op; returns its outputs' names.
  std::vector<std::string> emit(const std::string& type, std::vector<std::string> inputs,
                                const std::vector<Out>& outs,
                                std::map<std::string, AttrValue> attributes = {}) {
    Op op;
    op.name = unique(op_names_, op_->name + ".grad");
    op.type = type;
    op.inputs = std::move(inputs);
    op.attributes = std::move(attributes);
    op.origin = op_->origin;
    const OpSpec& spec = *find_op(type);
    for (size_t i = 0; i < outs.size(); ++i) {
      const Out& o = outs[i];
      const std::string name = o.gives >= 0 ? gradient_name(op_->inputs[size_t(o.gives)])
                                            : unique(names_, "bwd/" + op_->name);
      // An output whose dtype the op table ties to an input takes it: a bf16 bias's gradient
      // summed from an fp32 dy is fp32. Others (a matmul's) take the dtype of the tensor they
      // are the gradient of.
      const std::optional<size_t> from = spec.dtype_source(i);
      declare(name, o.shape, from ? tensor(op.inputs.at(*from)).dtype : o.dtype, Role::Activation);
      op.outputs.push_back(name);
      if (o.gives >= 0) contributions_[op_->inputs[size_t(o.gives)]].push_back(name);
    }
    out_.ops.push_back(op);
    return op.outputs;
  }
  // Input i's gradient is the tensor `name` as it is (bias_add's x, add of equal shapes).
  void give(size_t i, const std::string& name) { contributions_[op_->inputs[i]].push_back(name); }

  // Gives input i the gradient `dy` (of the op's output shape) summed over the axes the input
  // was broadcast along (numpy's rule), times `factor`.
  void give_reduced(size_t i, const std::string& dy, double factor = 1.0) {
    const Shape& to = shape(op_->inputs[i]);
    const Shape& from = shape(dy);
    const DType t = tensor(dy).dtype;
    const size_t lead = from.size() - to.size();
    std::vector<int64_t> axes;
    Shape kept;
    for (size_t a = 0; a < from.size(); ++a) {
      if (a < lead || (to[a - lead] == 1 && from[a] != 1))
        axes.push_back(int64_t(a));
      else
        kept.push_back(from[a]);
    }
    const bool reshape = !axes.empty() && kept != to;
    const bool scale = factor != 1.0;
    std::string x = dy;
    if (!axes.empty())
      x = emit("reduce_sum", {x}, {reshape || scale ? temporary(kept, t) : gradient(i)},
               {{"axes", axes}})[0];
    if (reshape)
      x = emit("reshape", {x}, {scale ? temporary(to, t) : gradient(i)}, {{"shape", to}})[0];
    if (scale)
      emit("scale", {x}, {gradient(i)}, {{"factor", factor}});
    else if (x == dy)
      give(i, dy);
  }

 private:
  std::string where(const std::string& tensor) const {
    const auto p = producer_.find(tensor);
    const Origin& o =
        p == producer_.end() ? g_.find_tensor(tensor)->origin : g_.ops[p->second].origin;
    return o.empty() ? (g_.source.empty() ? "graph" : g_.source) : o;
  }

  std::string find_loss(const std::string& wanted) const {
    std::set<std::string> read;
    for (const Op& op : g_.ops) read.insert(op.inputs.begin(), op.inputs.end());
    // An op's statistics (batchnorm_train's mean and variance) are outputs too when nothing
    // reads them; they are never the loss.
    std::vector<std::string> outputs;
    for (const Op& op : g_.ops) {
      const GradientRule* r = find_rule(op.type);
      for (size_t k = 0; k < op.outputs.size(); ++k)
        if (!read.count(op.outputs[k]) && (!r || differentiable_output(*r, k)))
          outputs.push_back(op.outputs[k]);
    }
    const std::string source = g_.source.empty() ? "graph" : g_.source;
    std::string loss = wanted;
    if (loss.empty()) {
      if (outputs.size() != 1)
        throw GraphError(
            fmt::format("{}: the backward needs one loss; the graph has {} outputs ({}): name one",
                        source, outputs.size(), fmt::join(outputs, ", ")));
      loss = outputs[0];
    }
    const Tensor* t = g_.find_tensor(loss);
    if (!t)
      throw GraphError(fmt::format("{}: the loss '{}' is not a tensor of the graph", source, loss));
    if (!producer_.count(loss))
      throw GraphError(fmt::format("{}: the loss '{}' is a host tensor ({}); no op makes it",
                                   where(loss), loss, role_name(t->role)));
    if (t->dtype == DType::Int32)
      throw GraphError(
          fmt::format("{}: the loss '{}' is int32; a loss is a float", where(loss), loss));
    return loss;
  }

  // needs_: float tensors whose value depends on a weight.
  void mark_needs_gradient() {
    for (const Tensor& t : g_.tensors)
      if (t.role == Role::Weight && t.dtype != DType::Int32) needs_.insert(t.name);
    for (const Op& op : g_.ops) {
      const GradientRule* r = find_rule(op.type);
      bool any = false;
      for (size_t i = 0; i < op.inputs.size(); ++i)
        any |= needs_.count(op.inputs[i]) && (!r || differentiable(*r, i));
      if (!any) continue;
      for (const std::string& o : op.outputs)
        if (tensor(o).dtype != DType::Int32) needs_.insert(o);
    }
  }
  // reaches_: tensors the loss depends on.
  void mark_reaches_loss() {
    reaches_.insert(loss_);
    for (size_t i = g_.ops.size(); i-- > 0;) {
      const Op& op = g_.ops[i];
      if (std::any_of(op.outputs.begin(), op.outputs.end(),
                      [&](const std::string& o) { return reaches_.count(o) > 0; }))
        reaches_.insert(op.inputs.begin(), op.inputs.end());
    }
  }
  // An op the backward passes through: it lies between a weight and the loss.
  bool active(const Op& op) const {
    return std::any_of(op.outputs.begin(), op.outputs.end(),
                       [&](const std::string& o) { return reaches_.count(o) && needs_.count(o); });
  }
  void count_contributions() {
    for (const Op& op : g_.ops) {
      if (!active(op)) continue;
      const GradientRule* r = find_rule(op.type);
      if (!r)
        refuse(op, fmt::format("no gradient rule for {} (ops with one: {})", op.type,
                               fmt::join(differentiable_ops(), ", ")));
      for (size_t i = 0; i < op.inputs.size(); ++i)
        if (differentiable(*r, i) && needs_.count(op.inputs[i])) ++expected_[op.inputs[i]];
    }
  }

  void seed() {
    const Op& made_by = g_.ops[producer_.at(loss_)];
    if (made_by.type == "softmax_cross_entropy") {
      contributions_[loss_].push_back(std::string(kLossSeed));
      return;
    }
    const Tensor& l = tensor(loss_);
    if (names_.count("grad_output"))
      throw GraphError(
          fmt::format("{}: the loss '{}' needs a host input 'grad_output' for its "
                      "gradient, and the graph already has a tensor of that name",
                      where(loss_), loss_));
    declare("grad_output", l.shape, l.dtype, Role::Input);
    if (options_.dynamic) {
      const std::string scaled = unique(names_, "bwd/grad_output.scaled");
      declare(scaled, l.shape, l.dtype, Role::Activation);
      Op op;
      op.name = unique(op_names_, loss_ + ".loss_scale");
      op.type = "cast";
      op.inputs = {"grad_output", kLossScaleState};
      op.outputs = {scaled};
      op.origin = made_by.origin;
      out_.ops.push_back(op);
      contributions_[loss_].push_back(scaled);
      return;
    }
    if (loss_scale_ == 1.0) {
      contributions_[loss_].push_back("grad_output");
      return;
    }
    const std::string scaled = unique(names_, "bwd/grad_output.scaled");
    declare(scaled, l.shape, l.dtype, Role::Activation);
    Op op;
    op.name = unique(op_names_, loss_ + ".loss_scale");
    op.type = "scale";
    op.inputs = {"grad_output"};
    op.outputs = {scaled};
    op.attributes["factor"] = loss_scale_;
    op.origin = made_by.origin;
    out_.ops.push_back(op);
    contributions_[loss_].push_back(scaled);
  }

 public:
  double loss_scale() const { return loss_scale_; }
  bool dynamic() const { return options_.dynamic.has_value(); }
  // The groups whose partial sums make op's first input's gradient (tensor parallel), or 1.
  uint32_t partial_groups(const Op& op) const {
    return options_.partial_input_gradients.count(op.name) ? options_.groups : 1;
  }

 private:
  // The gradient of `name`: its one contribution, or their sum in the order they came.
  std::string gradient_of(const std::string& name) {
    std::vector<std::string>& c = contributions_.at(name);
    while (c.size() > 1) {
      const bool last = c.size() == 2;
      const Tensor& t = tensor(name);
      const std::string sum = last ? unique(names_, "grad/" + name) : unique(names_, "bwd/" + name);
      declare(sum, t.shape, t.dtype, Role::Activation);
      Op op;
      op.name = unique(op_names_, name + ".grad.sum");
      op.type = "add";
      op.inputs = {c[0], c[1]};
      op.outputs = {sum};
      op.origin = op_ ? op_->origin : "";
      out_.ops.push_back(op);
      c.erase(c.begin(), c.begin() + 2);
      c.insert(c.begin(), sum);
    }
    return c.at(0);
  }

  // A weight's gradient as the output grad/WEIGHT, role gradient.
  void weight_gradient(const Tensor& w) {
    op_ = nullptr;
    const std::string want = "grad/" + w.name;
    std::string g = gradient_of(w.name);
    if (g != want) {
      // A contribution that is another op's tensor as it is (add(x, w) of equal shapes).
      Op op;
      op.name = unique(op_names_, w.name + ".grad");
      op.type = "reshape";
      op.inputs = {g};
      op.attributes["shape"] = w.shape;
      const DType dtype = tensor(g).dtype;
      g = unique(names_, want);
      declare(g, w.shape, dtype, Role::Activation);
      op.outputs = {g};
      op.origin = w.origin;
      out_.ops.push_back(op);
    }
    for (Tensor& t : out_.tensors)
      if (t.name == g) t.role = Role::Gradient;
  }

  std::string gradient_name(const std::string& input) {
    const std::string base = "grad/" + input;
    if (expected_.at(input) == 1) return unique(names_, base);
    return unique(names_, fmt::format("{}.{}", base, ++parts_[input]));
  }
  static std::string unique(std::set<std::string>& taken, const std::string& want) {
    std::string n = want;
    for (int k = 2; taken.count(n); ++k) n = fmt::format("{}.{}", want, k);
    taken.insert(n);
    return n;
  }
  void declare(const std::string& name, const Shape& s, DType t, Role r) {
    Tensor x;
    x.name = name;
    x.shape = s;
    x.dtype = t;
    x.role = r;
    x.origin = op_ ? op_->origin : "";
    names_.insert(name);
    out_.tensors.push_back(x);
  }

  const Graph& g_;
  Graph out_;
  std::string loss_;
  double loss_scale_ = 1.0;
  const Op* op_ = nullptr;
  std::set<std::string> names_, op_names_, needs_, reaches_;
  std::map<std::string, size_t> producer_;
  std::map<std::string, int> expected_, parts_;
  std::map<std::string, std::vector<std::string>> contributions_;
  const BackwardOptions options_;
};

// ---- the rules ----------------------------------------------------------------------------

bool flag(const Op& op, const char* name) {
  const auto it = op.attributes.find(name);
  return it != op.attributes.end() && std::get<bool>(it->second);
}
std::map<std::string, AttrValue> attributes_except(const Op& op,
                                                   std::initializer_list<const char*> drop) {
  std::map<std::string, AttrValue> a = op.attributes;
  for (const char* d : drop) a.erase(d);
  return a;
}

// Y = op(A) op(B), op a transpose where the attribute says so. With a = op(A), b = op(B):
// da = dY b^T, db = a^T dY; stored transposed, dA = da^T = b dY^T and dB = db^T = dY^T a.
// matmul's B and a transposed A are matrices: for dB, A and dY become [rows, K] and [rows, N].
void matmul_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  const bool ta = flag(op, "transpose_a"), tb = flag(op, "transpose_b");
  const std::string &A = op.inputs[0], &B = op.inputs[1];
  const auto product = [&](size_t gives, const std::string& x, bool tx, const std::string& y,
                           bool ty) {
    std::map<std::string, AttrValue> at;
    if (tx) at["transpose_a"] = true;
    if (ty) at["transpose_b"] = true;
    const uint32_t groups = gives == 0 ? b.partial_groups(op) : 1;
    if (groups == 1) {
      b.emit(op.type, {x, y}, {b.gradient(gives)}, at);
      return;
    }
    // Tensor parallel: each group's part of dA, summed over the groups.
    const Backward::Out d = b.gradient(gives);
    const std::string part = b.emit(op.type, {x, y}, {b.temporary(d.shape, d.dtype)}, at)[0];
    b.emit("allreduce", {part}, {d}, {{"groups", int64_t(groups)}});
  };
  if (b.wants(0)) {
    if (!ta)
      product(0, dy[0], false, B, !tb);
    else
      product(0, B, tb, dy[0], true);
  }
  if (b.wants(1)) {
    std::string a = A, d = dy[0];
    if (op.type == "matmul" && b.shape(A).size() > 2) {
      const Shape& sa = b.shape(A);
      const int64_t k = sa.back(), rows = element_count(sa) / k;
      const int64_t n = b.shape(d).back();
      a = b.emit("reshape", {A}, {b.temporary({rows, k}, b.tensor(A).dtype)},
                 {{"shape", std::vector<int64_t>{rows, k}}})[0];
      d = b.emit("reshape", {d}, {b.temporary({rows, n}, b.tensor(d).dtype)},
                 {{"shape", std::vector<int64_t>{rows, n}}})[0];
    }
    if (!tb)
      product(1, a, !ta, d, false);
    else
      product(1, d, true, a, ta);
  }
}

void conv2d_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  const Shape& x = b.shape(op.inputs[0]);
  const Shape& w = b.shape(op.inputs[1]);
  if (b.wants(0)) {
    auto at = op.attributes;
    at["input_size"] = std::vector<int64_t>{x[1], x[2]};
    b.emit("conv2d_grad_input", {dy[0], op.inputs[1]}, {b.gradient(0)}, at);
  }
  if (b.wants(1)) {
    auto at = op.attributes;
    at["kernel"] = std::vector<int64_t>{w[0], w[1]};
    b.emit("conv2d_grad_weight", {op.inputs[0], dy[0]}, {b.gradient(1)}, at);
  }
}

void add_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  for (size_t i = 0; i < 2; ++i)
    if (b.wants(i)) b.give_reduced(i, dy[0], op.type == "sub" && i == 1 ? -1.0 : 1.0);
}

void mul_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  for (size_t i = 0; i < 2; ++i) {
    if (!b.wants(i)) continue;
    const std::string& other = op.inputs[1 - i];
    if (b.shape(dy[0]) == b.shape(op.inputs[i])) {
      b.emit("mul", {dy[0], other}, {b.gradient(i)});
    } else {
      const auto& t = b.tensor(dy[0]);
      b.give_reduced(i, b.emit("mul", {dy[0], other}, {b.temporary(t.shape, t.dtype)})[0]);
    }
  }
}

// x's gradient from (dy, x): relu, gelu, silu.
void activation_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  b.emit(op.type + "_backward", {dy[0], op.inputs[0]}, {b.gradient(0)}, op.attributes);
}

// cast: dx = factor dy in x's dtype (rounded to nearest: the gradient needs no stochastic draw).
void cast_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  const auto f = op.attributes.find("factor");
  std::map<std::string, AttrValue> a;
  if (f != op.attributes.end()) a["factor"] = f->second;
  b.emit("cast", {dy[0]}, {b.gradient(0)}, a);
}

// The norms: their backward op takes dy and the forward's inputs but the shift, and gives
// every gradient at once; those nobody needs are temporaries.
void norm_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  std::vector<std::string> in{dy[0]};
  std::vector<Backward::Out> outs;
  const size_t n = op.type == "batchnorm" ? 3 : op.inputs.size();
  for (size_t i = 0; i < op.inputs.size(); ++i) {
    // The backward reads the forward's inputs but the shift (bias, beta): dy does not depend
    // on it.
    if (op.type == "rmsnorm" || i != 2) in.push_back(op.inputs[i]);
    if (i >= n) continue;
    const Tensor& t = b.tensor(op.inputs[i]);
    outs.push_back(b.wants(i) ? b.gradient(i) : b.temporary(t.shape, t.dtype));
  }
  b.emit(op.type + "_backward", in, outs, op.attributes);
}

// batchnorm_train: the backward op reads dy, x and the forward's own statistics (its outputs
// mean and variance) and gives dx, dscale and dbias at once; those nobody needs are temporaries.
void batchnorm_train_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  std::vector<Backward::Out> outs;
  for (size_t i = 0; i < 3; ++i) {
    const Tensor& t = b.tensor(op.inputs[i]);
    outs.push_back(b.wants(i) ? b.gradient(i) : b.temporary(t.shape, t.dtype));
  }
  b.emit("batchnorm_train_backward",
         {dy[0], op.inputs[0], op.inputs[1], op.outputs[1], op.outputs[2]}, outs, op.attributes);
}

void softmax_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  // A causal mask needs nothing more: y is 0 where it masked, so dx is too.
  b.emit("softmax_backward", {dy[0], op.outputs[0]}, {b.gradient(0)},
         attributes_except(op, {"causal"}));
}

void pool_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  b.emit(op.type + "_backward", {dy[0], op.inputs[0]}, {b.gradient(0)}, op.attributes);
}

void embedding_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  b.emit("embedding_backward", {op.inputs[0], dy[0]}, {b.gradient(1)},
         {{"vocab", b.shape(op.inputs[1])[0]}});
}

void cross_entropy_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  if (dy[0] != kLossSeed)
    b.refuse(op, fmt::format("its output '{}' is read by other ops; the backward takes a "
                             "softmax_cross_entropy only as the loss itself",
                             op.outputs[0]));
  std::map<std::string, AttrValue> a = op.attributes;
  if (b.dynamic()) {  // the scale is a tensor: multiplied in after, by a cast that reads it
    const Backward::Out d = b.gradient(0);
    const std::string unscaled =
        b.emit("softmax_cross_entropy_backward", {op.inputs[0], op.inputs[1]},
               {b.temporary(d.shape, d.dtype)}, a)[0];
    b.emit("cast", {unscaled, kLossScaleState}, {d});
    return;
  }
  if (b.loss_scale() != 1.0) {
    const auto s = a.find("scale");
    a["scale"] = (s == a.end() ? 1.0 : std::get<double>(s->second)) * b.loss_scale();
  }
  b.emit("softmax_cross_entropy_backward", {op.inputs[0], op.inputs[1]}, {b.gradient(0)}, a);
}

void bias_add_rule(Backward& b, const Op&, const std::vector<std::string>& dy) {
  if (b.wants(0)) b.give(0, dy[0]);
  if (b.wants(1)) b.give_reduced(1, dy[0]);
}

void reshape_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  b.emit("reshape", {dy[0]}, {b.gradient(0)}, {{"shape", b.shape(op.inputs[0])}});
}

void transpose_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  const auto& perm = std::get<std::vector<int64_t>>(op.attributes.at("perm"));
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[size_t(perm[i])] = int64_t(i);
  b.emit("transpose", {dy[0]}, {b.gradient(0)}, {{"perm", inverse}});
}

int64_t axis_of(const Op& op, size_t rank, int64_t fallback) {
  const auto it = op.attributes.find("axis");
  const int64_t a = it == op.attributes.end() ? fallback : std::get<int64_t>(it->second);
  return a < 0 ? a + int64_t(rank) : a;
}

void concat_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  const int64_t axis = axis_of(op, b.shape(dy[0]).size(), 0);
  std::vector<int64_t> sizes;
  std::vector<Backward::Out> outs;
  for (size_t i = 0; i < op.inputs.size(); ++i) {
    const Tensor& t = b.tensor(op.inputs[i]);
    sizes.push_back(t.shape[size_t(axis)]);
    outs.push_back(b.wants(i) ? b.gradient(i) : b.temporary(t.shape, t.dtype));
  }
  b.emit("split", {dy[0]}, outs, {{"axis", axis}, {"sizes", sizes}});
}

// allreduce (tensor parallel): every group's partial sum takes the whole sum's gradient.
void allreduce_rule(Backward& b, const Op&, const std::vector<std::string>& dy) {
  b.give(0, dy[0]);
}

void split_rule(Backward& b, const Op& op, const std::vector<std::string>& dy) {
  b.emit("concat", dy, {b.gradient(0)}, {{"axis", axis_of(op, b.shape(op.inputs[0]).size(), -1)}});
}

const std::vector<GradientRule>& rules() {
  static const std::vector<GradientRule> table{
      {"matmul", "dd", matmul_rule},
      {"batch_matmul", "dd", matmul_rule},
      {"conv2d", "dd", conv2d_rule},
      {"bias_add", "dd", bias_add_rule},
      {"add", "dd", add_rule},
      {"sub", "dd", add_rule},
      {"mul", "dd", mul_rule},
      {"relu", "d", activation_rule},
      {"gelu", "d", activation_rule},
      {"silu", "d", activation_rule},
      {"cast", "d", cast_rule},
      {"batchnorm", "ddd--", norm_rule},
      {"batchnorm_train", "ddd", batchnorm_train_rule, "d--"},
      {"layernorm", "ddd", norm_rule},
      {"rmsnorm", "dd", norm_rule},
      {"softmax", "d", softmax_rule},
      {"max_pool", "d", pool_rule},
      {"avg_pool", "d", pool_rule},
      {"global_avg_pool", "d", pool_rule},
      {"embedding", "-d", embedding_rule},
      {"reshape", "d", reshape_rule},
      {"transpose", "d", transpose_rule},
      {"concat", "d+", concat_rule},
      {"split", "d", split_rule},
      {"softmax_cross_entropy", "d-", cross_entropy_rule},
      {"allreduce", "d", allreduce_rule},
  };
  return table;
}

}  // namespace

Graph with_backward(const Graph& g, const BackwardOptions& options) {
  return Backward(g, options).run();
}

// The optimizers; each has an op `KIND_update` in ops.def.
constexpr std::string_view kOptimizers[] = {"sgd", "adamw"};

bool is_update(std::string_view type) {
  for (std::string_view kind : kOptimizers)
    if (type == std::string(kind) + "_update") return true;
  return false;
}

OptimizerOptions parse_optimizer(const std::string& text) {
  OptimizerOptions o;
  const size_t colon = text.find(':');
  o.kind = text.substr(0, colon);
  if (std::find(std::begin(kOptimizers), std::end(kOptimizers), o.kind) == std::end(kOptimizers))
    throw GraphError(fmt::format("--optimizer '{}': expected sgd or adamw, then :lr=...", text));
  const OpSpec* spec = find_op(o.kind + "_update");
  std::string rest = colon == std::string::npos ? "" : text.substr(colon + 1);
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string item = rest.substr(0, comma);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const AttrSpec* a = spec->find_attribute(key);
    if (eq == std::string::npos || !a)
      throw GraphError(fmt::format("--optimizer {}: '{}': expected KEY=VALUE with KEY one of {}",
                                   o.kind, item, spec->attribute_names()));
    const std::string value = item.substr(eq + 1);
    try {
      size_t used = 0;
      if (a->type == AttrType::Int) {
        o.attributes[key] = int64_t(std::stoll(value, &used));
      } else {
        o.attributes[key] = std::stod(value, &used);
      }
      if (used != value.size()) throw std::invalid_argument(value);
    } catch (const std::exception&) {
      throw GraphError(fmt::format("--optimizer {}: {}='{}': expected {}", o.kind, key, value,
                                   a->type == AttrType::Int ? "a whole number" : "a number"));
    }
  }
  for (const AttrSpec& a : spec->attributes)
    if (a.required() && !o.attributes.count(std::string(a.name)))
      throw GraphError(fmt::format("--optimizer {}: {} is required ({}:{}=...)", o.kind, a.name,
                                   o.kind, a.name));
  return o;
}

LossScaling parse_loss_scale(const std::string& text) {
  LossScaling l;
  const std::string kind = text.substr(0, text.find(':'));
  if (kind != "dynamic") {
    size_t used = 0;
    try {
      l.scale = std::stod(text, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size() || !(l.scale > 0) || !std::isfinite(l.scale))
      throw GraphError(
          fmt::format("--loss-scale {}: expected a positive finite number, or "
                      "dynamic[:init=..][,growth=..][,backoff=..][,interval=..]",
                      text));
    return l;
  }
  DynamicLossScale d;
  std::string rest = text.size() > kind.size() ? text.substr(kind.size() + 1) : "";
  const char* keys = "init, growth, backoff, interval";
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string item = rest.substr(0, comma);
    rest = comma == std::string::npos ? "" : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    if (eq == std::string::npos ||
        (key != "init" && key != "growth" && key != "backoff" && key != "interval"))
      throw GraphError(fmt::format(
          "--loss-scale dynamic: '{}': expected KEY=VALUE with KEY one of {}", item, keys));
    const std::string value = item.substr(eq + 1);
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(value, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    const auto bad = [&](const char* expected) {
      return GraphError(
          fmt::format("--loss-scale dynamic: {}={}: expected {}", key, value, expected));
    };
    if (used == 0 || used != value.size()) throw bad("a number");
    if (key == "init") {
      if (!(v > 0) || !std::isfinite(v) || v > double(std::numeric_limits<float>::max()))
        throw bad("a positive number that fp32 holds (PyTorch's default 65536)");
      d.init = v;
    } else if (key == "growth") {
      if (!(v > 1) || !std::isfinite(v)) throw bad("a number more than 1 (default 2)");
      d.growth = v;
    } else if (key == "backoff") {
      if (!(v > 0 && v < 1)) throw bad("a number between 0 and 1, both excluded (default 0.5)");
      d.backoff = v;
    } else {
      if (v != std::floor(v) || v < 1 || v > double(int64_t{1} << 23))
        throw bad("a whole number from 1 to 8388608 (default 2000)");
      d.interval = int64_t(v);
    }
  }
  l.dynamic = d;
  return l;
}

constexpr std::string_view kMasterPrefix = "master/";

std::string master_weight(std::string_view weight) {
  return std::string(kMasterPrefix) + std::string(weight);
}
std::string weight_of_master(std::string_view name) {
  return name.substr(0, kMasterPrefix.size()) == kMasterPrefix
             ? std::string(name.substr(kMasterPrefix.size()))
             : std::string();
}

std::string weight_of_step_tensor(std::string_view name) {
  const auto strip = [&](std::string_view prefix) {
    if (name.substr(0, prefix.size()) != prefix) return false;
    name.remove_prefix(prefix.size());
    return true;
  };
  const bool next = strip("next/");
  if (strip("state/")) {
    const size_t slash = name.rfind('/');
    return slash == std::string_view::npos ? std::string() : std::string(name.substr(0, slash));
  }
  for (const std::string_view p : {std::string_view("grad/"), std::string_view("grad32/"),
                                   std::string_view("grad_mean/"), kMasterPrefix})
    if (strip(p)) return std::string(name);
  return next ? std::string(name) : std::string();
}

namespace {
// A hash that every host computes alike (a seed from a name).
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const char c : s) h = (h ^ uint8_t(c)) * 0x100000001b3ull;
  return h;
}
}  // namespace

namespace {
// The end of a step with dynamic loss scaling: the weights' checks added into `check`, the
// unscaling factor (1 / S, or NaN after an overflow), the updates (each taking it last), the
// scale's update.
void add_dynamic_loss_scale(Graph& t, const DynamicLossScale& d,
                            const std::vector<std::string>& checks, std::vector<Op>& updates,
                            uint32_t tensor_groups) {
  const auto scalar = [&](const std::string& name, Role role) {
    if (t.find_tensor(name))
      throw GraphError(
          fmt::format("dynamic loss scaling needs a tensor '{}', and the graph "
                      "already has one",
                      name));
    Tensor s;
    s.name = name;
    s.dtype = DType::Fp32;
    s.role = role;
    t.tensors.push_back(s);
  };
  std::string check = checks.at(0);
  for (size_t i = 1; i < checks.size(); ++i) {
    const std::string sum = i + 1 == checks.size() ? "check" : fmt::format("check.{}", i);
    scalar(sum, Role::Activation);
    Op op;
    op.name = fmt::format("check.sum.{}", i);
    op.type = "add";
    op.inputs = {check, checks[i]};
    op.outputs = {sum};
    t.ops.push_back(op);
    check = sum;
  }
  if (tensor_groups > 1) {  // each tensor-parallel group checked its parts: all must agree
    scalar("check.groups", Role::Activation);
    Op sum;
    sum.name = "check.allreduce";
    sum.type = "allreduce";
    sum.inputs = {check};
    sum.outputs = {"check.groups"};
    sum.attributes = {{"groups", int64_t(tensor_groups)}};
    t.ops.push_back(sum);
    check = sum.outputs[0];
  }
  const std::string factor = "loss_scale/unscale";
  scalar(factor, Role::Activation);
  Op unscale;
  unscale.name = "loss_scale.unscale";
  unscale.type = "unscale_factor";
  unscale.inputs = {check, kLossScaleState};
  unscale.outputs = {factor};
  t.ops.push_back(unscale);
  for (Op& op : updates) {
    op.inputs.push_back(factor);
    t.ops.push_back(op);
  }
  scalar(kGoodStepsState, Role::OptimizerState);
  scalar(std::string("next/") + kLossScaleState, Role::Activation);
  scalar(std::string("next/") + kGoodStepsState, Role::Activation);
  Op op;
  op.name = "loss_scale.update";
  op.type = "loss_scale_update";
  op.inputs = {check, kLossScaleState, kGoodStepsState};
  op.outputs = {std::string("next/") + kLossScaleState, std::string("next/") + kGoodStepsState};
  op.attributes = {{"growth", d.growth}, {"backoff", d.backoff}, {"interval", d.interval}};
  t.ops.push_back(op);
}
}  // namespace

Graph training_step(const Graph& g, const BackwardOptions& backward,
                    const OptimizerOptions& optimizer) {
  Graph t = with_backward(g, backward);
  const std::vector<std::string> states = optimizer.kind == "sgd"
                                              ? std::vector<std::string>{"velocity"}
                                              : std::vector<std::string>{"m", "v"};
  std::vector<Op> working_copies;  // each made just before the first op that reads it
  const auto step = optimizer.attributes.find("step");
  const uint64_t step_number =
      step == optimizer.attributes.end() ? 1 : uint64_t(std::get<int64_t>(step->second));
  const size_t forward_tensors = g.tensors.size();
  std::vector<std::string> checks;  // dynamic loss scaling: every weight's check
  std::vector<Op> updates;          // and its updates, which wait for them all
  for (size_t i = 0; i < forward_tensors; ++i) {
    const Tensor w = t.tensors[i];
    if (w.role != Role::Weight || !t.find_tensor("grad/" + w.name)) continue;
    const std::string where = w.origin.empty() ? "graph" : w.origin;
    // Declares a tensor like w (its shape, origin and, for a master weight, its data).
    const auto declare = [&](const std::string& name, Role role, DType dtype) {
      if (t.find_tensor(name))
        throw GraphError(
            fmt::format("{}: the update of '{}' needs a tensor '{}', and the graph already has one",
                        where, w.name, name));
      Tensor s = w;
      s.name = name;
      s.role = role;
      s.dtype = dtype;
      if (name != master_weight(w.name)) s.data.clear();
      t.tensors.push_back(s);
    };
    const auto cast = [&](const std::string& name, const std::string& from, const std::string& to,
                          std::map<std::string, AttrValue> attributes) {
      Op op;
      op.name = name;
      op.type = "cast";
      op.inputs = {from};
      op.outputs = {to};
      op.attributes = std::move(attributes);
      op.origin = w.origin;
      return op;
    };
    // The update runs on fp32: a master copy of a narrower weight, an fp32 unscaled gradient.
    const bool master = w.dtype != DType::Fp32;
    const std::string weight = master ? master_weight(w.name) : w.name;
    if (master) {
      declare(weight, Role::OptimizerState, DType::Fp32);
      // The working copy is made first, by stochastic rounding: a stream per weight and step
      // (the name's hash and the step number), mixed with sim.seed. The weight is now an
      // activation of the step.
      t.tensors[i].role = Role::Activation;
      t.tensors[i].data.clear();
      working_copies.push_back(cast(
          w.name + ".working_copy", weight, w.name,
          {{"rounding", std::string("stochastic")},
           {"seed", int64_t((fnv1a(w.name) ^ step_number * 0x9E3779B97F4A7C15ull) & 0x7FFFFFFF)}}));
    }
    std::string grad = "grad/" + w.name;
    const double factor = 1.0 / (backward.loss_scale * double(optimizer.groups));
    if (t.find_tensor(grad)->dtype != DType::Fp32 || factor != 1.0) {
      declare("grad32/" + w.name, Role::Activation, DType::Fp32);
      t.ops.push_back(cast(w.name + ".unscale", grad, "grad32/" + w.name, {{"factor", factor}}));
      grad = "grad32/" + w.name;
    }
    if (optimizer.groups > 1) {  // the mean of the groups' gradients, the same in every group
      declare("grad_mean/" + w.name, Role::Activation, DType::Fp32);
      Op sum;
      sum.name = w.name + ".allreduce";
      sum.type = "allreduce";
      sum.inputs = {grad};
      sum.outputs = {"grad_mean/" + w.name};
      sum.attributes = {{"groups", int64_t(optimizer.groups)}};
      if (optimizer.group_stride > 1) sum.attributes["stride"] = int64_t(optimizer.group_stride);
      sum.origin = w.origin;
      t.ops.push_back(sum);
      grad = sum.outputs[0];
    }
    if (backward.dynamic) {
      // Checked as PyTorch checks the scaled gradient: the sum of x - x is 0, or NaN where some
      // x is Inf or NaN. The update unscales it.
      const auto check_op = [&](const std::string& name, const std::string& type,
                                std::vector<std::string> inputs, const std::string& out,
                                const Shape& shape) {
        declare(out, Role::Activation, DType::Fp32);
        t.tensors.back().shape = shape;
        Op op;
        op.name = name;
        op.type = type;
        op.inputs = std::move(inputs);
        op.outputs = {out};
        op.origin = w.origin;
        t.ops.push_back(op);
      };
      check_op(w.name + ".check", "sub", {grad, grad}, "bwd/check/" + w.name, w.shape);
      check_op(w.name + ".check_sum", "reduce_sum", {"bwd/check/" + w.name}, "check/" + w.name, {});
      checks.push_back("check/" + w.name);
    }
    Op op;
    op.name = w.name + ".update";
    op.type = optimizer.kind + "_update";
    op.inputs = {weight, grad};
    op.outputs = {"next/" + weight};
    op.attributes = optimizer.attributes;
    op.origin = w.origin;
    declare(op.outputs[0], Role::Activation, DType::Fp32);
    for (const std::string& s : states) {
      const std::string name = fmt::format("state/{}/{}", w.name, s);
      declare(name, Role::OptimizerState, DType::Fp32);
      declare("next/" + name, Role::Activation, DType::Fp32);
      op.inputs.push_back(name);
      op.outputs.push_back("next/" + name);
    }
    if (backward.dynamic)
      updates.push_back(op);  // after every check
    else
      t.ops.push_back(op);
  }
  if (backward.dynamic)
    add_dynamic_loss_scale(t, *backward.dynamic, checks, updates,
                           backward.partial_input_gradients.empty() ? 1 : backward.groups);
  // A working copy made just before its first reader holds SRAM only from then on (a network's
  // weights made at the start would sit in SRAM through the forward, between its activations).
  for (const Op& copy : working_copies) {
    const auto reader = std::find_if(t.ops.begin(), t.ops.end(), [&](const Op& op) {
      return std::count(op.inputs.begin(), op.inputs.end(), copy.outputs[0]) > 0;
    });
    t.ops.insert(reader, copy);
  }
  return t;
}

std::vector<std::string_view> differentiable_ops() {
  std::vector<std::string_view> names;
  for (const GradientRule& r : rules()) names.push_back(r.type);
  return names;
}

}  // namespace dojosim::runtime::graph
