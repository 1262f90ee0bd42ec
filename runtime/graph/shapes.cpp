// SPDX-License-Identifier: MIT
// The shape and FLOP rules of the op table (ops.def): shape_<op> returns the output shapes or
// throws ShapeError naming the tensor and what was expected; flop_<op> counts floating-point
// operations as the FLOP column of docs/graphs.md says. The validator has already checked the
// arity, the dtypes and the attribute types, so a rule only checks shapes and values.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "runtime/graph/op_table.h"

namespace dojosim::runtime::graph {
namespace {

const Tensor& in(const OpContext& c, size_t i) {
  return *c.inputs[i];
}
const Shape& shape(const OpContext& c, size_t i) {
  return c.inputs[i]->shape;
}

[[noreturn]] void fail(const std::string& what) {
  throw ShapeError(what);
}

std::string described(const Tensor& t) {
  return fmt::format("'{}' {}", t.name, shape_string(t.shape));
}

void need_rank(const OpContext& c, size_t i, size_t min_rank, size_t max_rank, const char* form) {
  const size_t r = shape(c, i).size();
  if (r < min_rank || r > max_rank)
    fail(fmt::format("input {} has rank {}; expected {}", described(in(c, i)), r, form));
}

// An axis attribute in [-rank, rank) as an index.
size_t axis_index(int64_t axis, size_t rank, const char* attr) {
  const int64_t r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    fail(fmt::format("{} = {} is outside [{}, {}) for rank {}", attr, axis, -r, r, rank));
  return static_cast<size_t>(axis < 0 ? axis + r : axis);
}

double elements(const Shape& s) {
  return static_cast<double>(element_count(s));
}

Shape same_as_first(const OpContext& c) {
  return shape(c, 0);
}

// The last axis of input i is [d] where d is the last axis of x (bias, norm parameters).
void need_vector(const OpContext& c, size_t i, int64_t d, const char* what) {
  if (shape(c, i) != Shape{d})
    fail(fmt::format("{} {} should be [{}], the last axis of '{}'", what, described(in(c, i)), d,
                     in(c, 0).name));
}

// A gradient op's x (input i) has the shape of dy (input `dy`).
void need_shape_of_dy(const OpContext& c, size_t i, size_t dy) {
  if (shape(c, i) != shape(c, dy))
    fail(fmt::format("input {} should have the shape of dy {}", described(in(c, i)),
                     described(in(c, dy))));
}

// Output size of a window over `size`: (size + 2 pad - span) / stride + 1, at least 1.
int64_t window_out(int64_t size, int64_t pad, int64_t span, int64_t stride, const char* axis,
                   const std::string& x) {
  if (stride < 1) fail(fmt::format("stride {} along {}; expected at least 1", stride, axis));
  if (pad < 0) fail(fmt::format("padding {} along {}; expected 0 or more", pad, axis));
  const int64_t room = size + 2 * pad - span;
  if (room < 0)
    fail(fmt::format("the window ({} with padding {}) is larger than {} of input {}", span, pad,
                     axis, x));
  return room / stride + 1;
}

}  // namespace

std::vector<Shape> shape_matmul(const OpContext& c) {
  need_rank(c, 0, 2, 8, "[..., M, K]");
  need_rank(c, 1, 2, 2, "[K, N]");
  Shape a = shape(c, 0);
  const Shape& b = shape(c, 1);
  const size_t r = a.size();
  const int64_t m = c.bool_attr("transpose_a") ? a[r - 1] : a[r - 2];
  const int64_t k = c.bool_attr("transpose_a") ? a[r - 2] : a[r - 1];
  const int64_t kb = c.bool_attr("transpose_b") ? b[1] : b[0];
  const int64_t n = c.bool_attr("transpose_b") ? b[0] : b[1];
  if (k != kb)
    fail(fmt::format("input {} has K = {}{}; input {} has K = {}", described(in(c, 0)), k,
                     c.bool_attr("transpose_a") ? " (transposed)" : "", described(in(c, 1)), kb));
  a[r - 2] = m;
  a[r - 1] = n;
  return {a};
}

double flop_matmul(const OpContext& c, const std::vector<Shape>& out) {
  const Shape& a = shape(c, 0);
  const int64_t k = c.bool_attr("transpose_a") ? a[a.size() - 2] : a.back();
  return 2.0 * elements(out[0]) * static_cast<double>(k);
}

std::vector<Shape> shape_batch_matmul(const OpContext& c) {
  need_rank(c, 0, 3, 8, "[..., M, K] with at least one batch axis");
  need_rank(c, 1, 3, 8, "[..., K, N] with at least one batch axis");
  const Shape &a = shape(c, 0), &b = shape(c, 1);
  if (a.size() != b.size() || !std::equal(a.begin(), a.end() - 2, b.begin()))
    fail(fmt::format("the batch axes of {} and {} differ", described(in(c, 0)),
                     described(in(c, 1))));
  const size_t r = a.size();
  const bool ta = c.bool_attr("transpose_a"), tb = c.bool_attr("transpose_b");
  const int64_t m = ta ? a[r - 1] : a[r - 2], k = ta ? a[r - 2] : a[r - 1];
  const int64_t kb = tb ? b[r - 1] : b[r - 2], n = tb ? b[r - 2] : b[r - 1];
  if (k != kb)
    fail(fmt::format("input {} has K = {}; input {} has K = {}{}", described(in(c, 0)), k,
                     described(in(c, 1)), kb, tb ? " (transposed)" : ""));
  Shape o = a;
  o[r - 2] = m;
  o[r - 1] = n;
  return {o};
}

double flop_batch_matmul(const OpContext& c, const std::vector<Shape>& out) {
  const Shape& a = shape(c, 0);
  const int64_t k = c.bool_attr("transpose_a") ? a[a.size() - 2] : a.back();
  return 2.0 * elements(out[0]) * static_cast<double>(k);
}

namespace {

// [P, Q] of a conv2d of an [N, H, W, C] input (described as `x`) by an R x S window with the
// op's stride, padding and dilation; conv2d and its gradients share it.
std::pair<int64_t, int64_t> conv_out(const OpContext& c, int64_t h, int64_t w, int64_t r, int64_t s,
                                     const std::string& x) {
  const auto stride = c.int2_attr("stride"), pad = c.int2_attr("padding"),
             dil = c.int2_attr("dilation");
  if (dil[0] < 1 || dil[1] < 1) fail("dilation must be at least 1");
  return {window_out(h, pad[0], dil[0] * (r - 1) + 1, stride[0], "H", x),
          window_out(w, pad[1], dil[1] * (s - 1) + 1, stride[1], "W", x)};
}

int64_t groups_attr(const OpContext& c) {
  const int64_t groups = c.int_attr("groups");
  if (groups < 1) fail(fmt::format("groups = {}; expected at least 1", groups));
  return groups;
}

// The groups attribute, which must divide C (of input i) and K (of input j).
int64_t conv_groups(const OpContext& c, size_t i, int64_t ch, size_t j, int64_t k) {
  const int64_t groups = groups_attr(c);
  if (ch % groups != 0 || k % groups != 0)
    fail(fmt::format("groups = {} must divide both C = {} of {} and K = {} of {}", groups, ch,
                     described(in(c, i)), k, described(in(c, j))));
  return groups;
}

// A gradient's dy [N, P, Q, K] against what the forward conv2d of [N, H, W, C] gives.
void need_conv_dy(const OpContext& c, size_t i, int64_t n, int64_t h, int64_t w, int64_t ch,
                  int64_t r, int64_t s, int64_t k) {
  const std::string x = shape_string(Shape{n, h, w, ch});
  const auto [p, q] = conv_out(c, h, w, r, s, x);
  if (shape(c, i) != Shape{n, p, q, k})
    fail(
        fmt::format("dy {} should be {}: a conv2d of {} by a {}x{} window with these "
                    "attributes gives that",
                    described(in(c, i)), shape_string(Shape{n, p, q, k}), x, r, s));
}

}  // namespace

std::vector<Shape> shape_conv2d(const OpContext& c) {
  need_rank(c, 0, 4, 4, "[N, H, W, C]");
  need_rank(c, 1, 4, 4, "[R, S, C/groups, K]");
  const Shape &x = shape(c, 0), &w = shape(c, 1);
  const int64_t groups = conv_groups(c, 0, x[3], 1, w[3]);
  if (w[2] * groups != x[3])
    fail(fmt::format("weights {} have {} input channels; expected C / groups = {} / {} = {}",
                     described(in(c, 1)), w[2], x[3], groups, x[3] / groups));
  const auto [p, q] = conv_out(c, x[1], x[2], w[0], w[1], described(in(c, 0)));
  return {{x[0], p, q, w[3]}};
}

double flop_conv2d(const OpContext& c, const std::vector<Shape>& out) {
  const Shape& w = shape(c, 1);
  return 2.0 * elements(out[0]) * static_cast<double>(w[0] * w[1] * w[2]);
}

std::vector<Shape> shape_conv2d_grad_input(const OpContext& c) {
  need_rank(c, 0, 4, 4, "dy [N, P, Q, K]");
  need_rank(c, 1, 4, 4, "[R, S, C/groups, K]");
  const Shape &dy = shape(c, 0), &w = shape(c, 1);
  const int64_t groups = groups_attr(c);
  if (w[3] % groups != 0)
    fail(
        fmt::format("groups = {} does not divide K = {} of {}", groups, w[3], described(in(c, 1))));
  const auto size = c.int2_attr("input_size");
  if (size[0] < 1 || size[1] < 1)
    fail(fmt::format("input_size [{}, {}]; expected [H, W] of at least 1 each", size[0], size[1]));
  const Shape dx{dy[0], size[0], size[1], w[2] * groups};
  need_conv_dy(c, 0, dx[0], dx[1], dx[2], dx[3], w[0], w[1], w[3]);
  return {dx};
}

double flop_conv2d_grad_input(const OpContext& c, const std::vector<Shape>&) {
  const Shape& w = shape(c, 1);
  return 2.0 * elements(shape(c, 0)) * static_cast<double>(w[0] * w[1] * w[2]);
}

std::vector<Shape> shape_conv2d_grad_weight(const OpContext& c) {
  need_rank(c, 0, 4, 4, "[N, H, W, C]");
  need_rank(c, 1, 4, 4, "dy [N, P, Q, K]");
  const Shape &x = shape(c, 0), &dy = shape(c, 1);
  const int64_t groups = conv_groups(c, 0, x[3], 1, dy[3]);
  const auto kernel = c.int2_attr("kernel");
  if (kernel[0] < 1 || kernel[1] < 1)
    fail(fmt::format("kernel [{}, {}]; expected [R, S] of at least 1 each", kernel[0], kernel[1]));
  need_conv_dy(c, 1, x[0], x[1], x[2], x[3], kernel[0], kernel[1], dy[3]);
  return {{kernel[0], kernel[1], x[3] / groups, dy[3]}};
}

double flop_conv2d_grad_weight(const OpContext& c, const std::vector<Shape>& out) {
  return 2.0 * elements(shape(c, 1)) * static_cast<double>(out[0][0] * out[0][1] * out[0][2]);
}

std::vector<Shape> shape_bias_add(const OpContext& c) {
  need_rank(c, 0, 1, 8, "[..., C]");
  need_vector(c, 1, shape(c, 0).back(), "bias");
  return {same_as_first(c)};
}
double flop_bias_add(const OpContext&, const std::vector<Shape>& out) {
  return elements(out[0]);
}

namespace {

Shape broadcast(const OpContext& c) {
  const Shape &a = shape(c, 0), &b = shape(c, 1);
  Shape o(std::max(a.size(), b.size()));
  for (size_t i = 0; i < o.size(); ++i) {
    const int64_t da = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t db = i < b.size() ? b[b.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      fail(fmt::format("inputs {} and {} do not broadcast (axis -{}: {} and {})",
                       described(in(c, 0)), described(in(c, 1)), i + 1, da, db));
    o[o.size() - 1 - i] = std::max(da, db);
  }
  return o;
}

}  // namespace

std::vector<Shape> shape_add(const OpContext& c) {
  return {broadcast(c)};
}
std::vector<Shape> shape_sub(const OpContext& c) {
  return {broadcast(c)};
}
std::vector<Shape> shape_mul(const OpContext& c) {
  return {broadcast(c)};
}
double flop_add(const OpContext&, const std::vector<Shape>& out) {
  return elements(out[0]);
}
double flop_sub(const OpContext&, const std::vector<Shape>& out) {
  return elements(out[0]);
}
double flop_mul(const OpContext&, const std::vector<Shape>& out) {
  return elements(out[0]);
}

std::vector<Shape> shape_scale(const OpContext& c) {
  return {same_as_first(c)};
}
double flop_scale(const OpContext&, const std::vector<Shape>& out) {
  return elements(out[0]);
}

void need_scalar(const OpContext& c, size_t i, const char* name);
std::vector<Shape> shape_cast(const OpContext& c) {
  if (c.inputs.size() > 2)
    fail(fmt::format("{} inputs; expected x and at most a factor", c.inputs.size()));
  if (c.inputs.size() == 2) need_scalar(c, 1, "the factor");
  return {same_as_first(c)};
}
double flop_cast(const OpContext&, const std::vector<Shape>& out) {
  return elements(out[0]);
}

std::vector<Shape> shape_allreduce(const OpContext& c) {
  if (c.int_attr("groups") < 2)
    fail(fmt::format("groups = {}: expected at least 2", c.int_attr("groups")));
  return {same_as_first(c)};
}
double flop_allreduce(const OpContext& c, const std::vector<Shape>& out) {
  return double(c.int_attr("groups") - 1) * elements(out[0]);
}

std::vector<Shape> shape_relu(const OpContext& c) {
  return {same_as_first(c)};
}
std::vector<Shape> shape_gelu(const OpContext& c) {
  return {same_as_first(c)};
}
std::vector<Shape> shape_silu(const OpContext& c) {
  return {same_as_first(c)};
}
double flop_relu(const OpContext&, const std::vector<Shape>& out) {
  return elements(out[0]);
}
std::vector<Shape> shape_relu_backward(const OpContext& c) {
  need_shape_of_dy(c, 1, 0);
  return {same_as_first(c)};
}
double flop_relu_backward(const OpContext&, const std::vector<Shape>& out) {
  return elements(out[0]);
}
double flop_gelu(const OpContext&, const std::vector<Shape>& out) {
  return 8 * elements(out[0]);
}
std::vector<Shape> shape_gelu_backward(const OpContext& c) {
  need_shape_of_dy(c, 1, 0);
  return {same_as_first(c)};
}
double flop_gelu_backward(const OpContext&, const std::vector<Shape>& out) {
  return 14 * elements(out[0]);
}
double flop_silu(const OpContext&, const std::vector<Shape>& out) {
  return 4 * elements(out[0]);
}
std::vector<Shape> shape_silu_backward(const OpContext& c) {
  need_shape_of_dy(c, 1, 0);
  return {same_as_first(c)};
}
double flop_silu_backward(const OpContext&, const std::vector<Shape>& out) {
  return 8 * elements(out[0]);
}

std::vector<Shape> shape_batchnorm(const OpContext& c) {
  need_rank(c, 0, 2, 8, "[N, ..., C]");
  const int64_t ch = shape(c, 0).back();
  const char* names[] = {"scale", "bias", "mean", "variance"};
  for (size_t i = 1; i < 5; ++i) need_vector(c, i, ch, names[i - 1]);
  return {same_as_first(c)};
}
double flop_batchnorm(const OpContext&, const std::vector<Shape>& out) {
  return 2 * elements(out[0]);
}
std::vector<Shape> shape_batchnorm_backward(const OpContext& c) {
  need_rank(c, 0, 2, 8, "[N, ..., C]");
  need_shape_of_dy(c, 1, 0);
  const int64_t ch = shape(c, 0).back();
  const char* names[] = {"scale", "mean", "variance"};
  for (size_t i = 2; i < 5; ++i) need_vector(c, i, ch, names[i - 2]);
  return {same_as_first(c), Shape{ch}, Shape{ch}};
}
double flop_batchnorm_backward(const OpContext&, const std::vector<Shape>& out) {
  return 5 * elements(out[0]);
}

std::vector<Shape> shape_batchnorm_train(const OpContext& c) {
  need_rank(c, 0, 2, 8, "[N, ..., C]");
  const int64_t ch = shape(c, 0).back();
  need_vector(c, 1, ch, "scale");
  need_vector(c, 2, ch, "bias");
  if (!(c.float_attr("epsilon") > 0))
    fail(fmt::format("epsilon = {}: expected more than 0", c.float_attr("epsilon")));
  return {same_as_first(c), Shape{ch}, Shape{ch}};
}
double flop_batchnorm_train(const OpContext&, const std::vector<Shape>& out) {
  return 6 * elements(out[0]);
}
std::vector<Shape> shape_batchnorm_train_backward(const OpContext& c) {
  need_rank(c, 0, 2, 8, "[N, ..., C]");
  need_shape_of_dy(c, 1, 0);
  const int64_t ch = shape(c, 0).back();
  const char* names[] = {"scale", "mean", "variance"};
  for (size_t i = 2; i < 5; ++i) need_vector(c, i, ch, names[i - 2]);
  if (!(c.float_attr("epsilon") > 0))
    fail(fmt::format("epsilon = {}: expected more than 0", c.float_attr("epsilon")));
  return {same_as_first(c), Shape{ch}, Shape{ch}};
}
double flop_batchnorm_train_backward(const OpContext&, const std::vector<Shape>& out) {
  return 10 * elements(out[0]);
}

std::vector<Shape> shape_layernorm(const OpContext& c) {
  need_rank(c, 0, 1, 8, "[..., D]");
  need_vector(c, 1, shape(c, 0).back(), "gamma");
  need_vector(c, 2, shape(c, 0).back(), "beta");
  return {same_as_first(c)};
}
double flop_layernorm(const OpContext&, const std::vector<Shape>& out) {
  return 8 * elements(out[0]);
}

// A gradient's input `i` has the shape of dy (input 0), the tensor dy is the gradient of.
void need_like_dy(const OpContext& c, size_t i, const char* what) {
  if (shape(c, i) != shape(c, 0))
    fail(fmt::format("{} {} should be {}, the shape of dy {}", what, described(in(c, i)),
                     shape_string(shape(c, 0)), described(in(c, 0))));
}

std::vector<Shape> shape_layernorm_backward(const OpContext& c) {
  need_rank(c, 0, 1, 8, "[..., D]");
  need_like_dy(c, 1, "x");
  const int64_t d = shape(c, 0).back();
  need_vector(c, 2, d, "gamma");
  return {same_as_first(c), Shape{d}, Shape{d}};
}
double flop_layernorm_backward(const OpContext&, const std::vector<Shape>& out) {
  return 16 * elements(out[0]);
}

std::vector<Shape> shape_rmsnorm(const OpContext& c) {
  need_rank(c, 0, 1, 8, "[..., D]");
  need_vector(c, 1, shape(c, 0).back(), "gamma");
  return {same_as_first(c)};
}
double flop_rmsnorm(const OpContext&, const std::vector<Shape>& out) {
  return 4 * elements(out[0]);
}

std::vector<Shape> shape_rmsnorm_backward(const OpContext& c) {
  need_rank(c, 0, 1, 8, "[..., D]");
  need_like_dy(c, 1, "x");
  const int64_t d = shape(c, 0).back();
  need_vector(c, 2, d, "gamma");
  return {same_as_first(c), Shape{d}};
}
double flop_rmsnorm_backward(const OpContext&, const std::vector<Shape>& out) {
  return 12 * elements(out[0]);
}

std::vector<Shape> shape_softmax(const OpContext& c) {
  need_rank(c, 0, 1, 8, "at least one axis");
  const size_t rank = shape(c, 0).size();
  const size_t axis = axis_index(c.int_attr("axis"), rank, "axis");
  if (c.bool_attr("causal") && (axis != rank - 1 || rank < 2))
    fail(
        fmt::format("causal softmax of {} along axis {}: causal needs the last axis of a "
                    "tensor of rank 2 or more ([..., Sq, Sk])",
                    described(in(c, 0)), c.int_attr("axis")));
  return {same_as_first(c)};
}
double flop_softmax(const OpContext&, const std::vector<Shape>& out) {
  return 5 * elements(out[0]);
}

std::vector<Shape> shape_softmax_backward(const OpContext& c) {
  need_rank(c, 0, 1, 8, "at least one axis");
  need_like_dy(c, 1, "y");
  axis_index(c.int_attr("axis"), shape(c, 0).size(), "axis");
  return {same_as_first(c)};
}
double flop_softmax_backward(const OpContext&, const std::vector<Shape>& out) {
  return 5 * elements(out[0]);
}

namespace {

// [N, P, Q, C] of a pool of input `i` (x [N, H, W, C]).
Shape pool_shape(const OpContext& c, size_t i = 0) {
  need_rank(c, i, 4, 4, "[N, H, W, C]");
  const Shape& x = shape(c, i);
  const auto k = c.int2_attr("kernel"), stride = c.int2_attr("stride"),
             pad = c.int2_attr("padding");
  if (k[0] < 1 || k[1] < 1) fail("kernel must be at least 1");
  if (pad[0] * 2 > k[0] || pad[1] * 2 > k[1])
    fail(fmt::format("padding [{}, {}] is more than half the kernel [{}, {}]", pad[0], pad[1], k[0],
                     k[1]));
  return {x[0], window_out(x[1], pad[0], k[0], stride[0], "H", described(in(c, i))),
          window_out(x[2], pad[1], k[1], stride[1], "W", described(in(c, i))), x[3]};
}

// A gradient's dy (input 0) against `want`, what the forward op gives for x (input 1).
Shape pool_gradient(const OpContext& c, const Shape& want, const char* forward) {
  if (shape(c, 0) != want)
    fail(fmt::format("dy {} should be {}: a {} of {} with these attributes gives that",
                     described(in(c, 0)), shape_string(want), forward, described(in(c, 1))));
  return shape(c, 1);
}

double pool_flop(const OpContext& c, const std::vector<Shape>& out) {
  const auto k = c.int2_attr("kernel");
  return elements(out[0]) * static_cast<double>(k[0] * k[1]);
}

}  // namespace

std::vector<Shape> shape_max_pool(const OpContext& c) {
  return {pool_shape(c)};
}
std::vector<Shape> shape_avg_pool(const OpContext& c) {
  return {pool_shape(c)};
}
double flop_max_pool(const OpContext& c, const std::vector<Shape>& out) {
  return pool_flop(c, out);
}
double flop_avg_pool(const OpContext& c, const std::vector<Shape>& out) {
  return pool_flop(c, out);
}

std::vector<Shape> shape_max_pool_backward(const OpContext& c) {
  return {pool_gradient(c, pool_shape(c, 1), "max_pool")};
}
std::vector<Shape> shape_avg_pool_backward(const OpContext& c) {
  return {pool_gradient(c, pool_shape(c, 1), "avg_pool")};
}
double flop_max_pool_backward(const OpContext& c, const std::vector<Shape>&) {
  return pool_flop(c, {shape(c, 0)});
}
double flop_avg_pool_backward(const OpContext& c, const std::vector<Shape>&) {
  return pool_flop(c, {shape(c, 0)});
}

std::vector<Shape> shape_global_avg_pool(const OpContext& c) {
  need_rank(c, 0, 4, 4, "[N, H, W, C]");
  return {{shape(c, 0)[0], shape(c, 0)[3]}};
}
double flop_global_avg_pool(const OpContext& c, const std::vector<Shape>&) {
  return elements(shape(c, 0));
}

namespace {

// reduce_sum's axes as a flag per axis of x.
std::vector<bool> summed_axes(const OpContext& c) {
  const size_t rank = shape(c, 0).size();
  const std::vector<int64_t> axes = c.ints_attr("axes");
  std::vector<bool> summed(rank, axes.empty());
  for (const int64_t a : axes) {
    const size_t i = axis_index(a, rank, "axes");
    if (summed[i]) fail(fmt::format("axes names axis {} twice", a));
    summed[i] = true;
  }
  return summed;
}

}  // namespace

std::vector<Shape> shape_reduce_sum(const OpContext& c) {
  const std::vector<bool> summed = summed_axes(c);
  const bool keep = c.bool_attr("keepdims");
  Shape o;
  for (size_t i = 0; i < summed.size(); ++i)
    if (!summed[i] || keep) o.push_back(summed[i] ? 1 : shape(c, 0)[i]);
  return {o};
}
double flop_reduce_sum(const OpContext& c, const std::vector<Shape>&) {
  return elements(shape(c, 0));
}

std::vector<Shape> shape_global_avg_pool_backward(const OpContext& c) {
  need_rank(c, 1, 4, 4, "[N, H, W, C]");
  return {pool_gradient(c, {shape(c, 1)[0], shape(c, 1)[3]}, "global_avg_pool")};
}
double flop_global_avg_pool_backward(const OpContext&, const std::vector<Shape>& out) {
  return elements(out[0]);
}

std::vector<Shape> shape_embedding(const OpContext& c) {
  need_rank(c, 1, 2, 2, "[V, D]");
  Shape o = shape(c, 0);
  o.push_back(shape(c, 1)[1]);
  return {o};
}
double flop_embedding(const OpContext&, const std::vector<Shape>&) {
  return 0;
}
std::vector<Shape> shape_embedding_backward(const OpContext& c) {
  Shape rows = shape(c, 1);
  if (rows.empty())
    fail(fmt::format("dy {} should be [..., D], the ids' shape and D", described(in(c, 1))));
  const int64_t d = rows.back();
  rows.pop_back();
  if (rows != shape(c, 0))
    fail(fmt::format("dy {} should be {} plus [D]: the ids {} and the table's columns",
                     described(in(c, 1)), shape_string(shape(c, 0)), described(in(c, 0))));
  const int64_t vocab = c.int_attr("vocab");
  if (vocab < 1) fail(fmt::format("vocab = {}: expected the table's rows, at least 1", vocab));
  return {{vocab, d}};
}
double flop_embedding_backward(const OpContext& c, const std::vector<Shape>&) {
  return elements(shape(c, 1));
}

std::vector<Shape> shape_reshape(const OpContext& c) {
  Shape o = c.ints_attr("shape");
  int64_t known = 1;
  size_t unknown = o.size();
  for (size_t i = 0; i < o.size(); ++i) {
    if (o[i] == -1 && unknown == o.size()) {
      unknown = i;
    } else if (o[i] < 1) {
      fail(
          fmt::format("shape {} has {} at axis {}; expected sizes of at least 1 and at most "
                      "one -1",
                      shape_string(o), o[i], i));
    } else {
      known *= o[i];
    }
  }
  const int64_t total = element_count(shape(c, 0));
  if (unknown < o.size() && total % known == 0) o[unknown] = total / known;
  if (element_count(o) != total || (unknown < o.size() && total % known != 0))
    fail(fmt::format("input {} has {} elements; shape {} has {}", described(in(c, 0)), total,
                     shape_string(c.ints_attr("shape")), element_count(o)));
  return {o};
}
double flop_reshape(const OpContext&, const std::vector<Shape>&) {
  return 0;
}

std::vector<Shape> shape_transpose(const OpContext& c) {
  const Shape& x = shape(c, 0);
  const std::vector<int64_t> perm = c.ints_attr("perm");
  std::vector<bool> seen(x.size());
  bool ok = perm.size() == x.size();
  for (int64_t p : perm) {
    ok = ok && p >= 0 && p < static_cast<int64_t>(x.size()) && !seen[size_t(p)];
    if (ok) seen[size_t(p)] = true;
  }
  if (!ok)
    fail(fmt::format("perm {} is not a permutation of 0 .. {} for input {}", shape_string(perm),
                     int64_t(x.size()) - 1, described(in(c, 0))));
  Shape o;
  for (int64_t p : perm) o.push_back(x[size_t(p)]);
  return {o};
}
double flop_transpose(const OpContext&, const std::vector<Shape>&) {
  return 0;
}

std::vector<Shape> shape_concat(const OpContext& c) {
  Shape o = shape(c, 0);
  need_rank(c, 0, 1, 8, "at least one axis");
  const size_t axis = axis_index(c.int_attr("axis"), o.size(), "axis");
  for (size_t i = 1; i < c.inputs.size(); ++i) {
    Shape s = shape(c, i);
    if (s.size() != o.size())
      fail(fmt::format("input {} has rank {}; {} has {}", described(in(c, i)), s.size(),
                       described(in(c, 0)), o.size()));
    const int64_t add = s[axis];
    s[axis] = o[axis];
    if (s != o)
      fail(fmt::format("input {} differs from {} outside axis {}", described(in(c, i)),
                       described(in(c, 0)), axis));
    o[axis] += add;
  }
  return {o};
}
double flop_concat(const OpContext&, const std::vector<Shape>&) {
  return 0;
}

std::vector<Shape> shape_split(const OpContext& c) {
  need_rank(c, 0, 1, 8, "at least one axis");
  const Shape& x = shape(c, 0);
  const size_t axis = axis_index(c.int_attr("axis"), x.size(), "axis");
  std::vector<int64_t> sizes = c.ints_attr("sizes");
  if (sizes.empty()) {
    if (x[axis] % static_cast<int64_t>(c.outputs) != 0)
      fail(fmt::format("axis {} of {} does not split into {} equal parts", axis,
                       described(in(c, 0)), c.outputs));
    sizes.assign(c.outputs, x[axis] / static_cast<int64_t>(c.outputs));
  }
  if (sizes.size() != c.outputs)
    fail(fmt::format("sizes {} has {} parts; the op lists {} outputs", shape_string(sizes),
                     sizes.size(), c.outputs));
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 1) fail(fmt::format("sizes {}: every part needs at least 1", shape_string(sizes)));
    sum += s;
  }
  if (sum != x[axis])
    fail(fmt::format("sizes {} sum to {}; axis {} of {} is {}", shape_string(sizes), sum, axis,
                     described(in(c, 0)), x[axis]));
  std::vector<Shape> out;
  for (int64_t s : sizes) {
    Shape o = x;
    o[axis] = s;
    out.push_back(o);
  }
  return out;
}
double flop_split(const OpContext&, const std::vector<Shape>&) {
  return 0;
}

std::vector<Shape> shape_softmax_cross_entropy(const OpContext& c) {
  need_rank(c, 0, 1, 8, "[..., C]");
  const Shape& logits = shape(c, 0);
  const Shape rows(logits.begin(), logits.end() - 1);
  if (shape(c, 1) != rows)
    fail(fmt::format("labels {} should be {}, the logits {} without their last axis",
                     described(in(c, 1)), shape_string(rows), described(in(c, 0))));
  return {Shape{}};
}
double flop_softmax_cross_entropy(const OpContext& c, const std::vector<Shape>&) {
  return 5 * elements(shape(c, 0));
}

std::vector<Shape> shape_softmax_cross_entropy_backward(const OpContext& c) {
  shape_softmax_cross_entropy(c);  // the forward's checks of the logits and the labels
  return {shape(c, 0)};
}
double flop_softmax_cross_entropy_backward(const OpContext&, const std::vector<Shape>& out) {
  return 7 * elements(out[0]);
}

// Every input in the shape of the weight (input 0); one more than `count` is the step's overflow
// check, an fp32 scalar (dynamic loss scaling).
void need_scalar(const OpContext& c, size_t i, const char* name) {
  if (elements(shape(c, i)) != 1 || in(c, i).dtype != DType::Fp32)
    fail(fmt::format("{} {} should be an fp32 scalar", name, described(in(c, i))));
}
Shape same_as_weight(const OpContext& c, const char* const* names, size_t count) {
  if (c.inputs.size() > count + 1)
    fail(fmt::format("{} inputs; expected {} (and an unscale factor)", c.inputs.size(), count));
  if (c.inputs.size() == count + 1) need_scalar(c, count, "the unscale factor");
  for (size_t i = 1; i < count; ++i)
    if (shape(c, i) != shape(c, 0))
      fail(fmt::format("{} {} should be {}, the shape of the weight {}", names[i],
                       described(in(c, i)), shape_string(shape(c, 0)), described(in(c, 0))));
  return shape(c, 0);
}
void need_rate(const OpContext& c, const char* name, bool below_one) {
  const double v = c.float_attr(name);
  if (!(v >= 0) || (below_one && !(v < 1)))
    fail(fmt::format("{} = {}: expected {}", name, v, below_one ? "0 <= value < 1" : "0 or more"));
}

std::vector<Shape> shape_sgd_update(const OpContext& c) {
  static const char* const names[] = {"w", "grad", "velocity"};
  const Shape s = same_as_weight(c, names, 3);
  if (!(c.float_attr("lr") > 0))
    fail(fmt::format("lr = {}: expected more than 0", c.float_attr("lr")));
  need_rate(c, "momentum", false);
  need_rate(c, "weight_decay", false);
  return {s, s};
}
double flop_sgd_update(const OpContext& c, const std::vector<Shape>&) {
  return 6 * elements(shape(c, 0));
}

std::vector<Shape> shape_adamw_update(const OpContext& c) {
  static const char* const names[] = {"w", "grad", "m", "v"};
  const Shape s = same_as_weight(c, names, 4);
  if (!(c.float_attr("lr") > 0))
    fail(fmt::format("lr = {}: expected more than 0", c.float_attr("lr")));
  need_rate(c, "beta1", true);
  need_rate(c, "beta2", true);
  need_rate(c, "weight_decay", false);
  if (!(c.float_attr("epsilon") > 0))
    fail(fmt::format("epsilon = {}: expected more than 0", c.float_attr("epsilon")));
  if (c.int_attr("step") < 1)
    fail(fmt::format("step = {}: expected 1 or more (the first update is step 1)",
                     c.int_attr("step")));
  return {s, s, s};
}
double flop_adamw_update(const OpContext& c, const std::vector<Shape>&) {
  return 16 * elements(shape(c, 0));
}

std::vector<Shape> shape_unscale_factor(const OpContext& c) {
  need_scalar(c, 0, "check");
  need_scalar(c, 1, "scale");
  return {shape(c, 1)};
}
double flop_unscale_factor(const OpContext&, const std::vector<Shape>&) {
  return 2;
}

std::vector<Shape> shape_loss_scale_update(const OpContext& c) {
  static const char* const names[] = {"check", "scale", "good_steps"};
  for (size_t i = 0; i < 3; ++i) need_scalar(c, i, names[i]);
  const double growth = c.float_attr("growth"), backoff = c.float_attr("backoff");
  if (!(growth > 1) || !std::isfinite(growth))
    fail(fmt::format("growth = {}: expected more than 1", growth));
  if (!(backoff > 0 && backoff < 1))
    fail(fmt::format("backoff = {}: expected between 0 and 1 (both excluded)", backoff));
  const int64_t interval = c.int_attr("interval");
  if (interval < 1 || interval > (int64_t{1} << 23))
    fail(fmt::format("interval = {}: expected a whole number from 1 to 8388608", interval));
  return {shape(c, 1), shape(c, 2)};
}
double flop_loss_scale_update(const OpContext&, const std::vector<Shape>&) {
  return 3;
}

}  // namespace dojosim::runtime::graph
