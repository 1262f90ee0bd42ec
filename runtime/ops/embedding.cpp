// SPDX-License-Identifier: MIT
#include "runtime/ops/embedding.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>

#include "hw/config/machine_params.h"
#include "hw/host/host_memory.h"
#include "hw/node/node.h"
#include "isa/global_address.h"
#include "runtime/ops/program.h"

namespace dojosim::runtime::ops {
namespace {

struct Node {
  uint64_t rows = 0, ids = 0, out = 0, row_bytes = 0, table = 0, stride = 0;
};

const codegen::ArgBlock<Node>& args() {
  using N = const Node&;
  static const codegen::ArgBlock<Node> block = {
      {"ROWS", [](N n) { return n.rows; }},
      {"IDS", [](N n) { return n.ids; }},  // int32 per row
      {"OUT", [](N n) { return n.out; }},
      {"ROWBYTES", [](N n) { return n.row_bytes; }},  // a stored row of y: one pull
      {"TABLE", [](N n) { return n.table; }},         // global: table row 0 at this column block
      {"STRIDE", [](N n) { return n.stride; }},       // bytes of a table row
  };
  return block;
}

std::string program_text(DType dtype) {
  codegen::AsmWriter w;
  w.raw(fmt::format(
      "# embedding ({}), one thread per node: pull each row's table row (this column block)\n"
      "# from host memory into its row of y, then wait for them all.",
      dtype_name(dtype)));
  args().declare(w);
  w.raw("\n    .text\n    .globl _start\n_start:");
  w.op("la      s1, args");
  w.op("ld      s2, ROWS(s1)");
  w.op("beqz    s2, exit");
  w.op("ld      a0, IDS(s1)");
  w.op("ld      a1, OUT(s1)");
  w.op("ld      s3, TABLE(s1)");
  w.op("ld      s4, STRIDE(s1)");
  w.op("ld      s5, ROWBYTES(s1)");
  w.op("mv      t5, s2");
  w.label("row");
  w.op("lwu     t0, 0(a0)               # the id: 0 <= id < V, checked by the host");
  w.op("mul     t0, t0, s4");
  w.op("add     t0, t0, s3");
  w.op("pull    a1, t0, s5, 1           # waits while the DMA queue is full");
  w.op("addi    a0, a0, 4");
  w.op("add     a1, a1, s5");
  w.op("addi    t5, t5, -1");
  w.op("bnez    t5, row");
  w.op("swait   1, s2");
  w.op("j       exit");
  w.exit_program();
  args().reserve(w);
  return w.text();
}

mesh::NodeProgram build_program(DType dtype) {
  return mesh::assemble_program(program_text(dtype),
                                fmt::format("embedding_{}.s", dtype_name(dtype)));
}

std::string describe(const RowSplit& s, uint32_t vocabulary) {
  return fmt::format("embedding [{}] into [{}, {}] {}", s.rows, vocabulary, s.cols,
                     dtype_name(s.dtype));
}

// The ids of row block i.
std::vector<int32_t> block_ids(const RowSplit& s, const std::vector<int32_t>& ids, uint32_t i) {
  return {ids.begin() + s.row_start[i], ids.begin() + s.row_start[i + 1]};
}

}  // namespace

uint64_t embedding_table_row_bytes(const RowSplit& output) {
  return uint64_t{mesh::div_up(output.cols, output.lanes())} * output.vlen;
}

uint64_t embedding_ids_bytes(const RowSplit& output) {
  uint32_t most = 0;
  for (size_t b = 0; b < output.blocks(); ++b) most = std::max(most, output.block_rows(b));
  return mesh::align(uint64_t{most} * 4, output.vlen);
}

void write_embedding_table(hw::Machine& machine, const RowSplit& output, uint64_t address,
                           const Matrix& table) {
  const uint64_t stride = embedding_table_row_bytes(output);
  const uint32_t e = element_bytes(output.dtype);
  std::vector<uint8_t> bytes(stride * table.rows, 0);
  for (uint32_t v = 0; v < table.rows; ++v)
    for (uint32_t c = 0; c < table.cols; ++c)
      encode(output.dtype, table.at(v, c), {}, &bytes[v * stride + c * e]);
  machine.host().write(address, bytes.data(), bytes.size());
}

void write_ids(hw::Machine& machine, const RowSplit& output, uint64_t address,
               const std::vector<int32_t>& ids) {
  for (size_t b = 0; b < output.blocks(); ++b) {
    const std::vector<int32_t> mine =
        block_ids(output, ids, static_cast<uint32_t>(b / output.col_parts));
    machine.node(output.nodes[b])->sram().write(address, mine.data(), mine.size() * 4);
  }
}

void check_ids(const std::vector<int32_t>& ids, uint32_t vocabulary) {
  for (size_t r = 0; r < ids.size(); ++r)
    if (ids[r] < 0 || uint32_t(ids[r]) >= vocabulary)
      throw std::invalid_argument(
          fmt::format("embedding: id {} at row {} is out of range: expected 0 <= id < V = {}",
                      ids[r], r, vocabulary));
}

EmbeddingKernel::EmbeddingKernel(const hw::HardwareConfig& config, const EmbeddingProblem& problem)
    : problem_(problem), config_(config) {
  const RowSplit& s = problem.output;
  const std::string what = describe(s, problem.vocabulary);
  if (s.dtype != DType::Fp32 && s.dtype != DType::Bf16)
    throw std::invalid_argument(
        fmt::format("{}: dtype {}: expected fp32 or bf16", what, dtype_name(s.dtype)));
  if (problem.vocabulary == 0)
    throw std::invalid_argument(fmt::format("{}: expected a table of at least one row", what));
  const uint64_t bytes = uint64_t{problem.vocabulary} * embedding_table_row_bytes(s);
  const std::vector<hw::DipParams> dips = hw::host_params(config);
  std::string why;
  if (dips.empty())
    why = "this machine has no host memory (tile.host.edges)";
  else if (hw::HostMemory(dips).dip_of(problem.table, bytes, why) < 0)
    why = "it does not lie in one DIP: " + why;
  if (!why.empty())
    throw std::invalid_argument(fmt::format("{}: the table at host 0x{:x} ({} bytes): {}", what,
                                            problem.table, bytes, why));
  program_ = build_program(s.dtype);
  std::tie(begin_, end_) =
      check_regions(config, what, program_,
                    {{"ids", problem.ids, embedding_ids_bytes(s)}, {"out", problem.out, s.bytes()}},
                    1, kStackBytes);
}

void EmbeddingKernel::check_ids(const hw::Machine& machine) const {
  const RowSplit& s = problem_.output;
  std::vector<int32_t> ids(s.rows);
  for (uint32_t i = 0; i < s.row_parts; ++i)
    machine.node(s.nodes[i * s.col_parts])
        ->sram()
        .read(problem_.ids, &ids[s.row_start[i]],
              uint64_t{s.row_start[i + 1] - s.row_start[i]} * 4);
  ops::check_ids(ids, problem_.vocabulary);
}

void EmbeddingKernel::write_args(hw::Machine& machine) const {
  const RowSplit& s = problem_.output;
  const uint32_t e = element_bytes(s.dtype);
  for (size_t b = 0; b < s.blocks(); ++b) {
    Node n;
    n.rows = s.block_rows(b), n.ids = problem_.ids, n.out = problem_.out;
    n.row_bytes = s.row_bytes(b), n.stride = embedding_table_row_bytes(s);
    n.table = isa::host_address(problem_.table + uint64_t{s.col_start[b % s.col_parts]} * e);
    const std::vector<uint64_t> v = args().values(n);
    machine.node(s.nodes[b])->sram().write(program_.args, v.data(), v.size() * sizeof(uint64_t));
  }
}

double EmbeddingKernel::estimate_cycles() const {
  const RowSplit& s = problem_.output;
  const std::vector<hw::DipParams> dips = hw::host_params(config_);
  const hw::HostMemory host(dips);
  std::string why;
  const size_t k = static_cast<size_t>(host.dip_of(
      problem_.table, uint64_t{problem_.vocabulary} * embedding_table_row_bytes(s), why));
  const hw::DipParams& dip = dips[k];
  const double link = config_.noc.link_bytes_per_cycle, hop = config_.noc.router_latency_cycles;
  const double depth = config_.node.dma.queue_depth;
  const LoopCosts c = loop_costs(config_.node.core.timing_params);
  // (a) A node keeps `depth` pulls in flight: each round waits for a pull's whole trip (the
  // request to the edge, the DIP's latency, the row back at the link's width).
  // (b) Every row passes the DIP's HBM and its link, one after another.
  // (b) and (c) come after the DIP's latency.
  // (c) The rows for nodes past an edge node enter the mesh there and share its one link on;
  // they start when the DIP, serving the nodes' requests in node order, reaches the first.
  const double dip_rate = std::min(dip.hbm_bytes_per_cycle, dip.link_bytes_per_cycle);
  double per_node = 0, served = 0;
  struct Entry {
    double first = -1, bytes = 0;  // bytes the DIP serves before the first; bytes through
  };
  std::map<std::pair<int, int>, Entry> entries;
  for (size_t b = 0; b < s.blocks(); ++b) {
    const double rows = s.block_rows(b), bytes = rows * double(s.row_bytes(b));
    const hw::Coord edge = host.entry(k, s.nodes[b]);
    const double hops = std::abs(edge.x - s.nodes[b].x) + std::abs(edge.y - s.nodes[b].y);
    const double trip = double(dip.latency) + 2 * hop * (hops + 1) + s.row_bytes(b) / link;
    per_node = std::max(per_node, std::ceil(rows / depth) * trip + rows * c.row_overhead);
    if (hops > 0) {
      Entry& e = entries[{edge.x, edge.y}];
      if (e.first < 0) e.first = served;
      e.bytes += bytes;
    }
    served += bytes;
  }
  double through_edge = 0;
  for (const auto& [at, e] : entries)
    through_edge = std::max(through_edge, e.first / dip_rate + e.bytes / link);
  return c.prologue + double(dip.latency) +
         std::max({per_node - double(dip.latency), served / dip_rate, through_edge});
}

Matrix embedding_reference(DType dtype, const std::vector<int32_t>& ids, const Matrix& table) {
  Matrix y(static_cast<uint32_t>(ids.size()), table.cols);
  for (uint32_t r = 0; r < y.rows; ++r)
    for (uint32_t c = 0; c < y.cols; ++c)
      y.at(r, c) = quantize(dtype, table.at(static_cast<uint32_t>(ids[r]), c), {});
  return y;
}

Reference64 embedding_reference_f64(DType dtype, const std::vector<int32_t>& ids,
                                    const Matrix& table) {
  // One rounding of the table's value to the dtype, none after: fp32 values are exact.
  const double u = dtype == DType::Fp32 ? 0.0 : std::ldexp(1.0, -8);
  Reference64 ref{static_cast<uint32_t>(ids.size()), table.cols, {}, {}};
  for (int32_t id : ids)
    for (uint32_t c = 0; c < table.cols; ++c) {
      const double v = table.at(static_cast<uint32_t>(id), c);
      ref.value.push_back(v);
      ref.bound.push_back(std::fabs(v) * u);
    }
  return ref;
}

EmbeddingRun run_embedding(Executor& executor, DType dtype, const std::vector<int32_t>& ids,
                           const Matrix& table, EmbeddingOptions options) {
  EmbeddingRun result;
  if (ids.empty())
    throw std::invalid_argument(fmt::format("embedding [0] into [{}, {}]: expected at least one id",
                                            table.rows, table.cols));
  check_ids(ids, table.rows);
  EmbeddingProblem p;
  p.output = split_rows(executor.config(), dtype, static_cast<uint32_t>(ids.size()), table.cols,
                        options.col_parts);
  p.vocabulary = table.rows;
  p.table = options.table_at;
  mesh::SramMap map(build_program(dtype), options.sram_from);
  map.at = mesh::align(map.at, p.output.vlen);  // regions start on a VLEN boundary
  p.ids = map.take(embedding_ids_bytes(p.output));
  p.out = map.take(p.output.bytes());
  const EmbeddingKernel kernel(executor.config(), p);
  hw::Machine& m = executor.machine();
  write_embedding_table(m, p.output, p.table, table);
  write_ids(m, p.output, p.ids, ids);
  result.output = p.output;
  result.estimate = kernel.estimate_cycles();
  result.run = executor.run(kernel);
  if (result.run.ok) result.out = read_tensor(m, p.output, p.out);
  return result;
}

}  // namespace dojosim::runtime::ops
