// SPDX-License-Identifier: MIT
// _dojosim: the C++ half of the Python package. dojosim/__init__.py is the public API and
// documents every call; this file checks arguments (raising with the C++ messages), converts
// numpy arrays and runs each simulation in a child process (child.h).
#include <fmt/format.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "child.h"
#include "hw/config/config_io.h"
#include "runtime/mesh/conv2d.h"
#include "runtime/mesh/mesh_matmul.h"
#include "runtime/mesh/report.h"
#include "runtime/tensor.h"
#include "tools/sweep/points.h"
#include "tools/sweep/spec.h"

namespace py = pybind11;
using namespace dojosim;

// libsystemc.so refers to sc_main (it owns main() in programs); nothing calls it here.
extern "C" __attribute__((visibility("default"))) int sc_main(int, char**) {
  return 1;
}

namespace {

// SystemC prints a banner when a child builds its first machine unless this is set.
const bool kQuietSystemC = setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0) == 0;

hw::HardwareConfig load(const std::string& path, const std::vector<std::string>& overrides) {
  return hw::load_config(path, overrides).config;
}

runtime::DType parse_dtype(const std::string& s) {
  if (s == "bf16") return runtime::DType::Bf16;
  if (s == "cfp8") return runtime::DType::Cfp8;
  if (s == "fp32") return runtime::DType::Fp32;
  throw std::invalid_argument(fmt::format("dtype='{}': expected bf16, cfp8 or fp32", s));
}

isa::Cfp8Format parse_cfp8(const std::string& layout, int bias) {
  isa::Cfp8Layout l;
  if (layout == "e4m3")
    l = isa::Cfp8Layout::E4M3;
  else if (layout == "e5m2")
    l = isa::Cfp8Layout::E5M2;
  else
    throw std::invalid_argument(
        fmt::format("cfp8_layout='{}': expected e4m3 (1-4-3) or e5m2 (1-5-2)", layout));
  if (bias < 0) return isa::default_cfp8_format(l);
  if (bias > isa::kMaxCfpBias)
    throw std::invalid_argument(
        fmt::format("cfp8_bias={}: expected 0 to {} (a 6-bit field)", bias, isa::kMaxCfpBias));
  return {l, static_cast<uint8_t>(bias)};
}

runtime::MeshMatmulOptions options(const std::string& mapping, const std::string& placement,
                                   uint32_t k_chunk, isa::Cfp8Format cfp8) {
  runtime::MeshMatmulOptions o;
  o.mapping = runtime::parse_mapping(mapping);
  if (placement == "auto")
    o.placement = runtime::OperandPlacement::Auto;
  else if (placement == "sram")
    o.placement = runtime::OperandPlacement::Sram;
  else if (placement == "host")
    o.placement = runtime::OperandPlacement::Host;
  else
    throw std::invalid_argument(
        fmt::format("placement='{}': expected auto, sram or host", placement));
  o.k_chunk = k_chunk;
  o.cfp8 = cfp8;
  return o;
}

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    s += fmt::format("{}{}", i ? ", " : "", a.shape(i)) + (a.ndim() == 1 ? "," : "");
  return s + ")";
}

// The values of a float32 array of `ndim` dimensions, row-major. Other element types are refused
// rather than converted: the simulator's input is fp32 (quantised to the dtype from there).
std::vector<float> values(const py::array& a, const char* name, py::ssize_t ndim) {
  if (!a.dtype().is(py::dtype::of<float>()))
    throw py::type_error(fmt::format(
        "{}: expected a numpy float32 array, got {} (convert with .astype(numpy.float32))", name,
        std::string(py::str(a.dtype()))));
  if (a.ndim() != ndim)
    throw std::invalid_argument(
        fmt::format("{}: expected {} dimensions, got shape {}", name, ndim, shape_text(a)));
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) > (py::ssize_t{1} << 20))
      throw std::invalid_argument(
          fmt::format("{}: dimension {} is {}: at most {}", name, i, a.shape(i), 1 << 20));
  const auto c = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(a);
  return std::vector<float>(c.data(), c.data() + c.size());
}

uint32_t dim(const py::array& a, int i) {
  return static_cast<uint32_t>(a.shape(i));
}

// The child's answer: the report's JSON, then the result's values.
std::string pack(const runtime::MeshMatmulResult& r) {
  if (!r.ok) throw std::runtime_error(r.outcome);
  const std::string report = runtime::report_json(r).dump();
  const uint64_t n = report.size();
  std::string out(reinterpret_cast<const char*>(&n), sizeof n);
  out += report;
  out.append(reinterpret_cast<const char*>(r.c.values.data()), r.c.values.size() * sizeof(float));
  return out;
}

py::tuple unpack(const std::string& answer, const std::vector<py::ssize_t>& shape) {
  uint64_t n = 0;
  std::memcpy(&n, answer.data(), sizeof n);
  const std::string report = answer.substr(sizeof n, n);
  py::array_t<float> result(shape);
  const size_t bytes = static_cast<size_t>(result.size()) * sizeof(float);
  if (answer.size() != sizeof n + n + bytes)
    throw std::runtime_error("dojosim: the simulation process sent a result of the wrong size");
  std::memcpy(result.mutable_data(), answer.data() + sizeof n + n, bytes);
  return py::make_tuple(result, report);
}

py::tuple matmul(const std::string& config_path, const std::vector<std::string>& overrides,
                 const py::array& a, const py::array& b, const py::object& bias,
                 const std::string& dtype_name, const std::string& mapping,
                 const std::string& placement, uint32_t k_chunk, const std::string& cfp8_layout,
                 int cfp8_bias) {
  const runtime::DType dtype = parse_dtype(dtype_name);
  const runtime::MeshMatmulOptions opts =
      options(mapping, placement, k_chunk, parse_cfp8(cfp8_layout, cfp8_bias));
  runtime::MatmulOperands ops;
  std::vector<float> av = values(a, "a", 2), bv = values(b, "b", 2);
  if (a.shape(1) != b.shape(0))
    throw std::invalid_argument(
        fmt::format("matmul: a has shape {} and b {}: a's columns ({}) must equal b's rows ({})",
                    shape_text(a), shape_text(b), a.shape(1), b.shape(0)));
  ops.a = runtime::Matrix(dim(a, 0), dim(a, 1));
  ops.a.values = std::move(av);
  ops.b = runtime::Matrix(dim(b, 0), dim(b, 1));
  ops.b.values = std::move(bv);
  const bool has_bias = !bias.is_none();
  if (has_bias) {
    const py::array bias_array = bias.cast<py::array>();
    ops.bias = values(bias_array, "bias", 1);
    if (bias_array.shape(0) != b.shape(1))
      throw std::invalid_argument(fmt::format("bias: has shape {}: expected ({},), b's columns",
                                              shape_text(bias_array), b.shape(1)));
  }
  const hw::HardwareConfig config = load(config_path, overrides);
  // Whether it fits the machine, here in a moment rather than in the child.
  runtime::plan_matmul(config, dtype, runtime::MatmulShape{dim(a, 0), dim(b, 1), dim(a, 1)}, opts);
  const std::string answer = python::run_in_child([&] {
    return pack(runtime::run_matmul(
        config, dtype, ops, has_bias ? runtime::MatmulInit::Bias : runtime::MatmulInit::Zero,
        opts));
  });
  return unpack(answer, {a.shape(0), b.shape(1)});
}

std::pair<uint32_t, uint32_t> pair_of(const py::object& v, const char* name) {
  const auto one = [&](const py::handle& h) {
    const long x = h.cast<long>();
    if (x < 0 || x > (1l << 20))
      throw std::invalid_argument(fmt::format("{}={}: expected 0 to {}", name, x, 1 << 20));
    return static_cast<uint32_t>(x);
  };
  if (py::isinstance<py::int_>(v)) return {one(v), one(v)};
  const py::tuple t = v.cast<py::tuple>();
  if (t.size() != 2)
    throw std::invalid_argument(
        fmt::format("{}: expected a whole number or a pair (height, width)", name));
  return {one(t[0]), one(t[1])};
}

py::tuple conv2d(const std::string& config_path, const std::vector<std::string>& overrides,
                 const py::array& x, const py::array& w, const py::object& bias,
                 const py::object& stride, const py::object& pad, const py::object& dilation,
                 const std::string& layout, const std::string& dtype_name,
                 const std::string& mapping, const std::string& placement, uint32_t k_chunk,
                 const std::string& cfp8_layout, int cfp8_bias) {
  const runtime::DType dtype = parse_dtype(dtype_name);
  const runtime::MeshMatmulOptions opts =
      options(mapping, placement, k_chunk, parse_cfp8(cfp8_layout, cfp8_bias));
  if (layout != "nhwc" && layout != "nchw")
    throw std::invalid_argument(fmt::format("layout='{}': expected nhwc or nchw", layout));
  const bool nchw = layout == "nchw";
  const std::vector<float> input = values(x, "x", 4), weights = values(w, "w", 4);
  runtime::Conv2dShape s;
  s.n = dim(x, 0);
  s.h = dim(x, nchw ? 2 : 1);
  s.w = dim(x, nchw ? 3 : 2);
  s.c = dim(x, nchw ? 1 : 3);
  s.r = dim(w, 0);
  s.s = dim(w, 1);
  s.k = dim(w, 3);
  if (dim(w, 2) != s.c)
    throw std::invalid_argument(fmt::format(
        "conv2d: x has shape {} ({}, {} channels) and w {} (R, S, C, K) with C = {}: they must "
        "agree",
        shape_text(x), layout, s.c, shape_text(w), dim(w, 2)));
  std::tie(s.stride_h, s.stride_w) = pair_of(stride, "stride");
  std::tie(s.pad_h, s.pad_w) = pair_of(pad, "pad");
  std::tie(s.dilation_h, s.dilation_w) = pair_of(dilation, "dilation");
  runtime::check_conv2d(s);
  const bool has_bias = !bias.is_none();
  std::vector<float> bias_values;
  if (has_bias) {
    const py::array bias_array = bias.cast<py::array>();
    bias_values = values(bias_array, "bias", 1);
    if (bias_values.size() != s.k)
      throw std::invalid_argument(fmt::format(
          "bias: has shape {}: expected ({},), w's output channels", shape_text(bias_array), s.k));
  }
  const hw::HardwareConfig config = load(config_path, overrides);
  const std::string answer = python::run_in_child([&] {
    return pack(runtime::run_conv2d(
        config, dtype, s, input, weights, has_bias ? &bias_values : nullptr, opts,
        nchw ? runtime::ActivationLayout::Nchw : runtime::ActivationLayout::Nhwc));
  });
  const py::ssize_t n = s.n, k = s.k, p = s.p(), q = s.q();
  return unpack(answer,
                nchw ? std::vector<py::ssize_t>{n, k, p, q} : std::vector<py::ssize_t>{n, p, q, k});
}

py::array_t<float> quantize(const py::array& x, const std::string& dtype_name,
                            const std::string& cfp8_layout, int cfp8_bias) {
  const runtime::DType dtype = parse_dtype(dtype_name);
  const isa::Cfp8Format f = parse_cfp8(cfp8_layout, cfp8_bias);
  if (!x.dtype().is(py::dtype::of<float>()))
    throw py::type_error(
        fmt::format("x: expected a numpy float32 array, got {}", std::string(py::str(x.dtype()))));
  const auto in = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x);
  std::vector<py::ssize_t> shape(in.shape(), in.shape() + in.ndim());
  py::array_t<float> out(shape);
  float* o = out.mutable_data();
  for (py::ssize_t i = 0; i < in.size(); ++i) o[i] = runtime::quantize(dtype, in.data()[i], f);
  return out;
}

std::string config_json(const std::string& path, const std::vector<std::string>& overrides) {
  return hw::show_json(hw::load_config(path, overrides), overrides).dump();
}

std::string config_yaml(const std::string& path, const std::vector<std::string>& overrides) {
  return hw::write_yaml(hw::load_config(path, overrides).config);
}

std::string sweep_points(const std::string& spec_path) {
  const sweep::Spec spec = sweep::load_spec(spec_path);
  nlohmann::ordered_json points = nlohmann::ordered_json::array();
  for (const sweep::Point& p : sweep::expand(spec)) {
    nlohmann::ordered_json axes = nlohmann::ordered_json::object();
    for (size_t i = 0; i < spec.axes.size(); ++i) axes[spec.axes[i].key] = p.values[i];
    points.push_back({{"index", p.index},
                      {"id", p.id},
                      {"workload", spec.workloads[p.workload].name},
                      {"axes", axes},
                      {"describe", sweep::describe(spec, p)}});
  }
  return nlohmann::ordered_json{
      {"spec", spec.path}, {"base", spec.base}, {"metrics", spec.metrics}, {"points", points}}
      .dump();
}

std::vector<std::string> mappings() {
  std::vector<std::string> names{"auto"};
  for (const runtime::MatmulMapping& m : runtime::matmul_mappings())
    names.emplace_back(runtime::mapping_name(m));
  return names;
}

}  // namespace

PYBIND11_MODULE(_dojosim, m) {
  m.doc() = "C++ half of the dojosim package; use the functions of `dojosim` instead.";
  // A bad config (unknown key, value out of range) is a ValueError carrying every problem.
  static py::exception<hw::ConfigError> config_error(m, "ConfigError", PyExc_ValueError);
  static py::exception<sweep::SpecError> spec_error(m, "SweepSpecError", PyExc_ValueError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const hw::ConfigError& e) {
      config_error(e.what());
    } catch (const sweep::SpecError& e) {
      spec_error(e.what());
    }
  });
  m.def("config_json", &config_json);
  m.def("config_yaml", &config_yaml);
  m.def("matmul", &matmul);
  m.def("conv2d", &conv2d);
  m.def("quantize", &quantize);
  m.def("mappings", &mappings);
  m.def("sweep_points", &sweep_points);
  m.attr("cli_path") = DOJOSIM_CLI_PATH;
  m.attr("source_dir") = DOJOSIM_SOURCE_DIR;
}
