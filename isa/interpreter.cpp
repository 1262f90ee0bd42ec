// SPDX-License-Identifier: MIT
#include "isa/interpreter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "isa/csr.h"
#include "isa/disassembler.h"
#include "isa/global_address.h"
#include "isa/lanes.h"
#include "isa/vector_math.h"

namespace dojosim::isa {
namespace {

constexpr uint32_t kMaxVlen = 256;
constexpr uint64_t kEcallExit = 93, kEcallWrite = 64;

// Timing only (CoreConfig::values false): what an op does with x registers whose values were
// not computed. Fields as in Decoded: bit 1 rs1, 2 rs2, 3 rs3.
struct ValueRule {
  uint8_t must_know = 0;  // fields whose x register must hold a computed value
  uint8_t propagate = 0;  // fields whose unknown bit flows into rd
  enum class Rd : uint8_t { Keep, Known, Propagate, Unknown } rd = ValueRule::Rd::Keep;
  bool skip = false;  // vector or matrix arithmetic: not executed
};

std::array<ValueRule, kOpCount> build_value_rules() {
  std::array<ValueRule, kOpCount> table{};
  constexpr uint8_t kRs1 = 1 << 1, kRs2 = 1 << 2, kRs3 = 1 << 3;
  for (const InstrInfo* row = begin_table(); row != end_table(); ++row) {
    ValueRule& r = table[static_cast<size_t>(row->op)];
    bool has_rd = false;
    uint8_t x_sources = 0;
    for (int i = 0; i < row->operand_count; ++i) {
      switch (row->operands[i]) {
        case OperandKind::Rd:
          has_rd = true;
          break;
        case OperandKind::Rs1:
        case OperandKind::Mem:
        case OperandKind::MemBase:
          x_sources |= kRs1;
          break;
        case OperandKind::Rs2:
          x_sources |= kRs2;
          break;
        case OperandKind::Rs3:
          x_sources |= kRs3;
          break;
        default:
          break;
      }
    }
    switch (row->timing) {
      case TimingClass::Alu:
      case TimingClass::Mul:
      case TimingClass::Div:
        r.propagate = x_sources;
        if (has_rd) r.rd = x_sources ? ValueRule::Rd::Propagate : ValueRule::Rd::Known;
        break;
      case TimingClass::Simd:
      case TimingClass::SimdReduce:
      case TimingClass::SimdMath:
      case TimingClass::Matrix:
      case TimingClass::MatrixCfp8:
      case TimingClass::AccMove:
        r.skip = true;
        if (has_rd) r.rd = ValueRule::Rd::Unknown;  // vmv.x: a lane of a skipped register
        break;
      case TimingClass::Convert:
        break;  // skipped inside its case: a bad part still traps
      case TimingClass::Store:
        r.must_know = kRs1;
        break;  // the stored value may be unknown
      case TimingClass::Load:
        r.must_know = kRs1;
        break;  // rd: what memory holds, in the loop
      case TimingClass::System:
        break;  // ecall: its argument registers, checked in the loop
      default:
        // Branches, jumps, loads, vector and accumulator memory, CSRs, DMA, semaphores: every
        // x source is an address, a target, a length, a count or a CSR value.
        r.must_know = x_sources;
        if (has_rd) r.rd = ValueRule::Rd::Known;
        break;
    }
  }
  return table;
}

}  // namespace

// Everything the timing model needs about an op, gathered once per timing configuration so
// that issue() reads one small record per instruction (the register slots come with the
// decoded instruction).
struct Core::OpCost {
  uint16_t latency;
  uint16_t occupancy;
  uint8_t first;      // the unit's first instance in calendars_
  uint8_t instances;  // how many the config has
  StallCause busy;    // what a cycle lost to a busy instance counts as
  TimingClass cls;
  bool acc_chain;  // mma: back-to-back accumulation into one accumulator is pipelined
};

// The nodes of a machine share one table: thousands of private copies would each be cold in
// the host's caches when their node runs again.
std::shared_ptr<const Core::OpCost[]> Core::cost_table(const TimingParams& timing) {
  static std::mutex mutex;
  static std::vector<std::pair<TimingParams, std::weak_ptr<const OpCost[]>>> tables;
  const std::lock_guard<std::mutex> lock(mutex);
  for (auto& [params, table] : tables)
    if (params == timing)
      if (auto shared = table.lock()) return shared;
  std::array<uint8_t, kUnitCount + 1> first{};
  for (int u = 0; u < kUnitCount; ++u) first[u + 1] = first[u] + timing.unit_instances[u];
  std::shared_ptr<OpCost[]> costs(new OpCost[kOpCount]);
  for (const InstrInfo* row = begin_table(); row != end_table(); ++row) {
    const ClassTiming& ct = timing.of(row->timing);
    const auto unit = static_cast<size_t>(ct.unit);
    const bool port = ct.unit == Unit::LoadPort || ct.unit == Unit::StorePort;
    costs[static_cast<size_t>(row->op)] = {ct.latency,
                                           ct.occupancy,
                                           first[unit],
                                           timing.unit_instances[unit],
                                           port ? StallCause::SramPort : StallCause::UnitBusy,
                                           row->timing,
                                           row->op == Op::MMA_BF16 || row->op == Op::MMA_CFP8};
  }
  tables.erase(std::remove_if(tables.begin(), tables.end(),
                              [](const auto& e) { return e.second.expired(); }),
               tables.end());
  tables.emplace_back(timing, costs);
  return costs;
}

namespace {

int64_t sext32(uint64_t v) { return static_cast<int32_t>(static_cast<uint32_t>(v)); }

// Timing only: the x registers the instruction needs computed values of (its fields in
// `must_know`, bits as in ValueRule; an ecall's argument registers) that hold unknown ones.
uint32_t unknown_operands(const ThreadState& t, const Decoded& d, uint8_t must_know) {
  const uint8_t fields[4] = {d.rd, d.rs1, d.rs2, d.rs3};
  uint32_t needed = 0;
  for (int f = 1; f < 4; ++f)
    if (must_know >> f & 1) needed |= uint32_t{1} << fields[f];
  if (d.op == Op::ECALL)  // a7, and a0 (exit code) or a0..a2 (write)
    needed |= uint32_t{1} << 17 | (t.x[17] == kEcallExit    ? 1u << 10
                                   : t.x[17] == kEcallWrite ? 7u << 10
                                                            : 0);
  return needed & t.unknown_x & ~1u;
}

// Lane formats of the vector unit; `thread` supplies the cfp8 format and random bits.
enum class Lane : uint8_t { F32, BF16, CFP8 };
template <Lane L> constexpr uint32_t kLaneBytes = L == Lane::F32 ? 4 : L == Lane::BF16 ? 2 : 1;

template <Lane L>
float get_lane(const uint8_t* v, uint32_t i, const ThreadState& t) {
  if constexpr (L == Lane::F32) {
    float f;
    std::memcpy(&f, v + 4 * i, 4);
    return f;
  } else if constexpr (L == Lane::BF16) {
    // bf16 is the top half of an fp32: widening is a shift (formats.h), inlined here because
    // the matrix unit does it 64 times per mma.
    uint16_t h;
    std::memcpy(&h, v + 2 * i, 2);
    const uint32_t bits = uint32_t{h} << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  } else {
    return t.cfp8_lut[v[i]];
  }
}

template <Lane L>
void set_lane(uint8_t* v, uint32_t i, float f, ThreadState& t, Rounding r) {
  if constexpr (L == Lane::F32) {
    std::memcpy(v + 4 * i, &f, 4);
  } else if constexpr (L == Lane::BF16) {
    const uint16_t h = f32_to_bf16(f, r, r == Rounding::Stochastic ? t.rng.next() : 0);
    std::memcpy(v + 2 * i, &h, 2);
  } else {
    v[i] = f32_to_cfp8(f, t.cfp8, r, r == Rounding::Stochastic ? t.rng.next() : 0);
  }
}

// kind: 0 sum (in lane order, in fp32), 1 max, 2 min.
template <Lane L, class VReg>
void vreduce(ThreadState& t, const Decoded& d, VReg vreg, uint8_t* ta, uint32_t vlen, int kind) {
  std::memcpy(ta, vreg(d.rs1), vlen);
  float r = get_lane<L>(ta, 0, t);
  for (uint32_t i = 1; i < vlen / kLaneBytes<L>; ++i) {
    const float v = get_lane<L>(ta, i, t);
    r = kind == 0   ? lanes::canonical(r + v)
        : kind == 1 ? lanes::max_number(r, v)
                    : lanes::min_number(r, v);
  }
  uint8_t* out = vreg(d.rd);
  std::memset(out, 0, vlen);
  set_lane<L>(out, 0, r, t, Rounding::NearestEven);
}

template <Lane From, Lane To, class VReg>
void convert_lanes(ThreadState& t, VReg vreg, const Decoded& d, uint8_t* ta, uint32_t vlen,
                   Rounding r) {
  std::memcpy(ta, vreg(d.rs1), vlen);
  uint8_t* out = vreg(d.rd);
  constexpr bool narrowing = kLaneBytes<To> < kLaneBytes<From>;
  const uint32_t n = vlen / std::max(kLaneBytes<From>, kLaneBytes<To>);  // lanes per part
  const uint32_t src_off = narrowing ? 0 : d.rs2 * n, dst_off = narrowing ? d.rs2 * n : 0;
  for (uint32_t i = 0; i < n; ++i)
    set_lane<To>(out, dst_off + i, get_lane<From>(ta, src_off + i, t), t, r);
}

// Whether the part number of a conversion exists for its pair of formats.
bool conversion_part_ok(const Decoded& d) {
  const unsigned parts =
      (d.op == Op::VCVT_CFP8_F32 || d.op == Op::VCVT_CFP8_F32_SR || d.op == Op::VCVT_F32_CFP8) ? 4
                                                                                               : 2;
  return d.rs2 < parts;
}

// False if the part number does not exist for this pair of formats.
template <class VReg>
bool vconvert(ThreadState& t, const Decoded& d, VReg vreg, uint8_t* ta, uint32_t vlen) {
  const Rounding rne = Rounding::NearestEven, sr = Rounding::Stochastic;
  if (!conversion_part_ok(d)) return false;
  switch (d.op) {
    case Op::VCVT_BF16_F32: convert_lanes<Lane::F32, Lane::BF16>(t, vreg, d, ta, vlen, rne); break;
    case Op::VCVT_BF16_F32_SR:
      convert_lanes<Lane::F32, Lane::BF16>(t, vreg, d, ta, vlen, sr);
      break;
    case Op::VCVT_CFP8_F32: convert_lanes<Lane::F32, Lane::CFP8>(t, vreg, d, ta, vlen, rne); break;
    case Op::VCVT_CFP8_F32_SR:
      convert_lanes<Lane::F32, Lane::CFP8>(t, vreg, d, ta, vlen, sr);
      break;
    case Op::VCVT_CFP8_BF16:
      convert_lanes<Lane::BF16, Lane::CFP8>(t, vreg, d, ta, vlen, rne);
      break;
    case Op::VCVT_CFP8_BF16_SR:
      convert_lanes<Lane::BF16, Lane::CFP8>(t, vreg, d, ta, vlen, sr);
      break;
    case Op::VCVT_F32_BF16: convert_lanes<Lane::BF16, Lane::F32>(t, vreg, d, ta, vlen, rne); break;
    case Op::VCVT_F32_CFP8: convert_lanes<Lane::CFP8, Lane::F32>(t, vreg, d, ta, vlen, rne); break;
    case Op::VCVT_BF16_CFP8:
      convert_lanes<Lane::CFP8, Lane::BF16>(t, vreg, d, ta, vlen, rne);
      break;
    default: return false;
  }
  return true;
}

}  // namespace

std::string_view trap_cause_name(TrapCause c) {
  static constexpr std::string_view kNames[] = {
      "illegal instruction",
      "misaligned instruction fetch",
      "instruction fetch outside SRAM",
      "misaligned load",
      "load outside SRAM",
      "misaligned store",
      "store outside SRAM",
      "breakpoint",
      "unsupported ecall",
      "illegal CSR access",
      "bad operand",
      "value not computed in timing-only mode (sim.values = off)"};
  return kNames[static_cast<size_t>(c)];
}

std::string CoreConfig::validate() const {
  if (vlen_bytes < 16 || vlen_bytes > kMaxVlen || (vlen_bytes & (vlen_bytes - 1)))
    return fmt::format("vlen_bytes = {}: must be a power of two in [16, {}]", vlen_bytes, kMaxVlen);
  if (matrix_m == 0 || matrix_n == 0 || matrix_k == 0)
    return "matrix shape: M, N and K must be at least 1";
  if (2u * matrix_m * matrix_k > vlen_bytes || 2u * matrix_k * matrix_n > vlen_bytes)
    return fmt::format("matrix shape {}x{}x{}: a bf16 A (MxK) and B (KxN) tile must each fit in "
                       "one {} B vector register",
                       matrix_m, matrix_n, matrix_k, vlen_bytes);
  if (threads < 1 || threads > 16) return fmt::format("threads = {}: must be in [1, 16]", threads);
  if (sram_bytes < 4096 || sram_bytes > (uint64_t{1} << 32) || sram_bytes % 8)
    return fmt::format("sram_bytes = {}: must be a multiple of 8 in [4096, 2^32]", sram_bytes);
  for (int u = 0; u < kUnitCount; ++u)
    if (timing_params.unit_instances[u] < 1 || timing_params.unit_instances[u] > kMaxUnitInstances)
      return fmt::format("units.{} = {}: must be in [1, {}]", unit_name(static_cast<Unit>(u)),
                         timing_params.unit_instances[u], kMaxUnitInstances);
  if (timing_params.issue_width < 1) return "issue_width must be at least 1";
  return {};
}

void CoreConfig::set_disabled(const std::vector<std::pair<uint32_t, uint32_t>>& positions) {
  std::vector<uint64_t> keys;
  keys.reserve(positions.size());
  for (const auto& [x, y] : positions) keys.push_back(uint64_t{y} << 32 | x);
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  disabled =
      keys.empty() ? nullptr : std::make_shared<const std::vector<uint64_t>>(std::move(keys));
}

bool CoreConfig::node_usable(uint32_t x, uint32_t y) const {
  if (x >= mesh_w || y >= mesh_h) return false;
  return !disabled ||
         !std::binary_search(disabled->begin(), disabled->end(), uint64_t{y} << 32 | x);
}

Core::Core(const CoreConfig& config, Sram& sram, uint64_t* semaphores)
    : config_(config), sram_(sram), semaphores_(semaphores), threads_(config.threads) {
  for (unsigned i = 0; i < threads_.size(); ++i) threads_[i].id = i;
  if (config_.timing) {
    size_t instances = 0;
    for (int u = 0; u < kUnitCount; ++u) instances += config_.timing_params.unit_instances[u];
    calendars_.resize(instances);
  }
  costs_ = cost_table(config_.timing_params);
  cost_ = costs_.get();
  lanes_ = lanes::kernels();
  if (!config_.values) sram_.track_unknown();
}

void Core::mark_memory(uint64_t addr, uint64_t n, bool unknown) {
  sram_.mark_unknown(addr, n, unknown);
}

bool Core::memory_unknown(uint64_t addr, uint64_t n) const {
  return sram_.unknown(addr, n);
}

Core::~Core() = default;

void Core::set_fmtcfg(ThreadState& t, uint64_t value) {
  t.fmtcfg = value & 0x7F;
  t.cfp8.bias = static_cast<uint8_t>(value & 0x3F);
  t.cfp8.layout = (value & 0x40) ? Cfp8Layout::E5M2 : Cfp8Layout::E4M3;
  for (unsigned b = 0; b < 256; ++b) t.cfp8_lut[b] = cfp8_to_f32(static_cast<uint8_t>(b), t.cfp8);
}

uint64_t reset_srseed(const CoreConfig& c, unsigned thread) {
  if (c.seed == 0) return 0;  // the documented reset value, as on a single node by default
  // splitmix64 of (seed, node, thread): every thread of every node its own sequence.
  uint64_t z =
      c.seed + 0x9E3779B97F4A7C15ull * (1 + ((uint64_t{c.node_y} << 32 | c.node_x) << 3 | thread));
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void Core::start_thread(unsigned id, uint64_t pc, uint64_t sp, uint64_t start_cycle) {
  ThreadState& t = threads_.at(id);
  t = ThreadState{};
  t.id = id;
  t.status = ThreadStatus::Ready;
  t.pc = pc;
  t.x[2] = sp;
  t.vregs.assign(size_t{kNumVRegs} * config_.vlen_bytes, 0);
  t.accs.assign(size_t{kNumAccs} * config_.matrix_m * config_.matrix_n, 0.0f);
  set_fmtcfg(t, kDefaultCfp8Bias(Cfp8Layout::E4M3));
  t.srseed = reset_srseed(config_, id);
  t.rng.reseed(t.srseed);
  t.cycle = start_cycle;
}

uint64_t Core::cycles(const ThreadState& t) const {
  if (!config_.timing) return t.instret;
  return std::max(t.cycle + (t.issue_cycles ? 1 : 0), t.ready_max);
}

void Core::wait_until(ThreadState& t, uint64_t cycle, StallCause cause) {
  if (!config_.timing) return;
  const uint64_t first_free = t.issue_cycles ? t.cycle + 1 : t.cycle;
  if (cycle <= first_free) return;
  t.stalls[static_cast<size_t>(cause)] += cycle - first_free;
  // The next instruction issues in a fresh cycle at `cycle`.
  t.cycle = cycle - (t.issue_cycles ? 1 : 0);
  t.issued_in_cycle = config_.timing_params.issue_width;
}

bool Core::read_csr(const ThreadState& t, uint32_t csr, uint64_t& value) const {
  switch (csr) {
    case 0xC00: case 0xC01: value = config_.timing ? t.cycle : t.instret; return true;
    case 0xC02: value = t.instret; return true;
    case 0x800: value = t.fmtcfg; return true;
    case 0x801: value = t.srseed; return true;
    case 0x802: value = t.nodeq; return true;
    case 0xCC0: value = config_.node_x; return true;
    case 0xCC1: value = config_.node_y; return true;
    case 0xCC2: value = t.id; return true;
    case 0xCC3: value = uint64_t{config_.node_y} * config_.mesh_w + config_.node_x; return true;
    case 0xCC4: value = config_.mesh_w; return true;
    case 0xCC5: value = config_.mesh_h; return true;
    case 0xCC6:
      value = static_cast<uint64_t>(
          std::count_if(threads_.begin(), threads_.end(),
                        [](const ThreadState& o) { return o.status != ThreadStatus::Idle; }));
      return true;
    case 0xCC7: value = config_.sram_bytes; return true;
    case 0xCC8:
      value =
          !is_host_address(t.nodeq) && config_.node_usable(global_x(t.nodeq), global_y(t.nodeq));
      return true;
    default: return false;
  }
}

// issue()'s search when the unit's first instance cannot take the instruction in the cycle
// it is ready: the first other instance free then, else the earliest start over all
// instances, the lowest first. Reserves the instance; returns the start. Out of line: rare
// enough that the run loop's registers are better spent elsewhere.
__attribute__((noinline)) uint64_t Core::reserve_unit(UnitCalendar* instances, const OpCost& cost,
                                                      uint64_t ready) {
  if (cost.occupancy == 1)
    for (unsigned i = 1; i < cost.instances; ++i)
      if (instances[i].take_if_free(ready)) return ready;
  UnitCalendar* unit = instances;
  uint64_t start = unit->earliest(ready, cost.occupancy);
  for (unsigned i = 1; i < cost.instances && start > ready; ++i) {
    const uint64_t s = instances[i].earliest(ready, cost.occupancy);
    if (s < start) start = s, unit = &instances[i];
  }
  unit->reserve(start, cost.occupancy);
  return start;
}

// NOTE: called once per instruction with timing on, so everything it needs is resolved
// before: the register slots at decode (unused sources read slot 0, x0, which is never
// written), the unit, latency and occupancy per op in the cost table, the thread's clock in
// the run loop's locals. The first unit instance free in the cycle the instruction is ready
// ends the search; only when none is does a calendar search beyond it.
__attribute__((always_inline)) inline void Core::issue(ThreadState& t, IssueClock& k,
                                                       const Decoded& d, const IssueContext& c) {
  const OpCost& cost = c.costs[static_cast<size_t>(d.op)];
  const uint64_t nominal = k.issued_in_cycle < c.issue_width ? k.cycle : k.cycle + 1;

  uint64_t dep =
      std::max(std::max(t.ready[d.src_slot[0]], t.ready[d.src_slot[1]]), t.ready[d.src_slot[2]]);
  if (cost.acc_chain) dep = std::max(dep, t.acc_chain_ready[d.rd & 7]);

  const uint64_t ready = std::max(nominal, dep);
  UnitCalendar* const instances = c.calendars + cost.first;
  uint64_t start = ready;
  // reserve_unit's first steps for one cycle of occupancy, inline: the first instance free when
  // the instruction is ready; else the second (a second ALU op in a cycle); else, for a unit of
  // one instance, its next free cycle in the same calendar word (an mma behind another).
  const bool taken = cost.occupancy == 1 &&
                     (instances[0].take_if_free(ready) ||
                      (cost.instances == 1 ? instances[0].take_first_free_in_word(ready, start)
                                           : instances[1].take_if_free(ready)));
  if (!taken) {  // the clock in t across the call, as run_loop's DOJO_CALL does
    k.store(t);
    start = reserve_unit(instances, cost, ready);
    k = IssueClock(t);
  }
  // Cycles in which this thread issued nothing are charged to what held it back.
  const uint64_t first_free = k.issue_cycles ? k.cycle + 1 : k.cycle;
  if (start > first_free) {
    const StallCause cause = start == ready ? StallCause::Dependency : cost.busy;
    t.stalls[static_cast<size_t>(cause)] += start - first_free;
  }
  if (start != k.cycle || k.issue_cycles == 0) {
    ++k.issue_cycles;
    k.issued_in_cycle = 0;
  }
  k.cycle = start;
  ++k.issued_in_cycle;
  const uint64_t done = start + cost.latency;
  if (d.dst_slot != 0) {
    t.ready[d.dst_slot] = done;
    k.ready_max = std::max(k.ready_max, done);
  }
  // An mma waits for the accumulator it adds into: an earlier mma's partial sum is
  // forwarded after its occupancy; anything else writing it (mld, mzero) after its latency.
  if (cost.acc_chain)
    t.acc_chain_ready[d.rd & 7] = start + cost.occupancy;
  else if (d.dst_slot >= kAccBase)
    t.acc_chain_ready[d.rd & 7] = done;
  ++t.class_counts[static_cast<size_t>(cost.cls)];
}

RunResult Core::run(ThreadState& t, uint64_t max_instructions, uint64_t until_cycle) {
  if (max_instructions == 0) return {};
  if (config_.values)
    return config_.timing ? run_loop<true, true>(t, max_instructions, until_cycle)
                          : run_loop<false, true>(t, max_instructions, until_cycle);
  return config_.timing ? run_loop<true, false>(t, max_instructions, until_cycle)
                        : run_loop<false, false>(t, max_instructions, until_cycle);
}

std::string Core::trap_message(const ThreadState& t) const {
  const Trap& tr = t.trap;
  std::string msg = fmt::format("{} at pc 0x{:x}", trap_cause_name(tr.cause), tr.pc);
  if (!tr.detail.empty()) msg += ": " + tr.detail;
  // A fetch trap at the faulting pc has no instruction to show; one raised by a jump does.
  const bool fetched = tr.cause != TrapCause::FetchOutOfRange &&
                       !(tr.cause == TrapCause::FetchMisaligned && tr.address == tr.pc);
  if (fetched) msg += fmt::format(" in `{}` (0x{:08x})", disassemble(tr.word, tr.pc), tr.word);
  return msg;
}

// A trap: the thread stops at `pc`, the faulting instruction. Out of line, as everything on a
// trap's path is: the run loop keeps its registers for the instructions that do not trap.
__attribute__((noinline, cold)) RunResult Core::stop_on_trap(ThreadState& t, uint64_t pc,
                                                             TrapCause cause, uint64_t address,
                                                             std::string detail) {
  t.trap.cause = cause;
  t.trap.pc = pc;
  t.trap.address = address;
  t.trap.word = sram_.contains(pc, 4) && (pc & 3) == 0 ? sram_.load<uint32_t>(pc) : 0;
  t.trap.detail = std::move(detail);
  t.status = ThreadStatus::Trapped;
  t.pc = pc;
  RunResult result;
  result.event = Event::Trap;
  return result;
}

std::string Core::range_detail(uint64_t addr, uint64_t n) const {
  return fmt::format("address 0x{:x} (+{} bytes) is outside SRAM [0, 0x{:x})", addr, n,
                     sram_.size());
}

// A load or store of `n` bytes at `addr` that mem_ok refused: misaligned or outside SRAM.
__attribute__((noinline, cold)) RunResult Core::stop_on_bad_access(ThreadState& t, uint64_t pc,
                                                                   bool store, uint64_t addr,
                                                                   uint64_t n, uint64_t align) {
  if (addr & (align - 1))
    return stop_on_trap(t, pc, store ? TrapCause::StoreMisaligned : TrapCause::LoadMisaligned, addr,
                        fmt::format("address 0x{:x} is not a multiple of {}", addr, align));
  return stop_on_trap(t, pc, store ? TrapCause::StoreOutOfRange : TrapCause::LoadOutOfRange, addr,
                      range_detail(addr, n));
}

// A fetch at a pc that is not a multiple of 4 or lies outside SRAM.
__attribute__((noinline, cold)) RunResult Core::stop_on_bad_fetch(ThreadState& t, uint64_t pc) {
  if (pc & 3)
    return stop_on_trap(t, pc, TrapCause::FetchMisaligned, pc,
                        fmt::format("pc 0x{:x} is not a multiple of 4", pc));
  return stop_on_trap(t, pc, TrapCause::FetchOutOfRange, pc, range_detail(pc, 4));
}

// A jump or taken branch at `pc` to a target that is not a multiple of 4.
__attribute__((noinline, cold)) RunResult Core::stop_on_bad_jump(ThreadState& t, uint64_t pc,
                                                                 uint64_t target) {
  return stop_on_trap(t, pc, TrapCause::FetchMisaligned, target,
                      fmt::format("jump target 0x{:x} is not a multiple of 4", target));
}

// Timing only: `unknown` (a mask of x registers, not empty) holds what the instruction needs.
__attribute__((noinline, cold)) RunResult Core::stop_on_unknown_value(ThreadState& t, uint64_t pc,
                                                                      uint32_t unknown) {
  const unsigned r = static_cast<unsigned>(__builtin_ctz(unknown));
  return stop_on_trap(t, pc, TrapCause::ValueUnknown, 0,
                      fmt::format("x{} ({}) holds a value derived from vector state that is not "
                                  "computed; a branch, jump, address, DMA operand, semaphore "
                                  "count, CSR write or ecall argument cannot use it (run with "
                                  "values on)",
                                  r, xreg_abi_name(r)));
}

// The instructions run_loop leaves to this function: those a hot loop rarely runs (ecall, CSRs,
// strided and elementwise vector work other than vbinary, conversions, pushes, semaphores,
// barriers) and invalid encodings. Out of line so that the loop's switch keeps the thread's pc
// and clock in host registers. The caller has stored the thread's clock and reloads it after
// (swait may move it). Event::Budget: the instruction completed, go on at pc + 4; any other
// event: the run stops with this result (t.pc set).
template <bool kTiming, bool kValues>
__attribute__((noinline)) RunResult Core::execute_cold(ThreadState& t, const Decoded d,
                                                       uint64_t pc) {
  uint64_t(&x)[kNumXRegs] = t.x;  // not a pointer of its own: t plus an offset
  const uint64_t next = pc + 4;
  const uint64_t sram_size = sram_.size();
  const uint32_t vlen = config_.vlen_bytes;
  RunResult result;
  uint8_t tmp_a[kMaxVlen];
  auto vreg = [&](unsigned r) { return t.vregs.data() + size_t{r} * vlen; };
  auto vunary = [&](float (*fn)(float)) {
    const uint8_t* src = vreg(d.rs1);
    uint8_t* dst = vreg(d.rd);
    for (uint32_t i = 0; i < vlen; i += 4) {
      float a;
      std::memcpy(&a, src + i, 4);
      a = fn(a);
      std::memcpy(dst + i, &a, 4);
    }
  };
  auto trap = [&](TrapCause cause, uint64_t address, std::string detail) {
    return stop_on_trap(t, pc, cause, address, std::move(detail));
  };
  auto bad_mem = [&](bool store, uint64_t addr, uint64_t n, uint64_t align) {
    return stop_on_bad_access(t, pc, store, addr, n, align);
  };
  auto mem_ok = [&](uint64_t addr, uint64_t n, uint64_t align) {
    return (addr & (align - 1)) == 0 && addr <= sram_size - n && n <= sram_size;
  };
  switch (d.op) {
    case Op::ECALL: {
      const uint64_t call = x[17];
      if (call == kEcallExit) {
        t.exit_code = static_cast<int64_t>(x[10]);
        t.status = ThreadStatus::Exited;
        ++t.instret;
        t.pc = next;
        result.event = Event::Exit;
        result.arg[0] = x[10];
        return result;
      }
      if (call == kEcallWrite) {
        const uint64_t fd = x[10], buf = x[11], len = x[12];
        if (fd != 1 && fd != 2)
          return trap(TrapCause::BadEcall, 0,
                      fmt::format("write to fd {}: only 1 (stdout) and 2 (stderr) exist", fd));
        if (!sram_.contains(buf, len))
          return trap(TrapCause::BadEcall, buf, "write buffer: " + range_detail(buf, len));
        x[10] = len;
        ++t.instret;
        t.pc = next;
        result.event = Event::Write;
        result.arg[0] = fd, result.arg[1] = buf, result.arg[2] = len;
        return result;
      }
      return trap(TrapCause::BadEcall, 0,
                  fmt::format("a7 = {}: supported are 93 (exit) and 64 (write)", call));
    }
    case Op::EBREAK:
      return trap(TrapCause::Breakpoint, 0, "");
    // ---- Zicsr
    case Op::CSRRW:
    case Op::CSRRS:
    case Op::CSRRC:
    case Op::CSRRWI:
    case Op::CSRRSI:
    case Op::CSRRCI: {
      const uint32_t csr = static_cast<uint32_t>(d.imm) & 0xFFF;
      uint64_t old = 0;
      if (!read_csr(t, csr, old))
        return trap(TrapCause::BadCsr, 0, fmt::format("CSR 0x{:x} does not exist", csr));
      const bool imm_form = d.op == Op::CSRRWI || d.op == Op::CSRRSI || d.op == Op::CSRRCI;
      const uint64_t operand = imm_form ? d.rs1 : x[d.rs1];
      const bool writes = d.op == Op::CSRRW || d.op == Op::CSRRWI || d.rs1 != 0;
      if (writes) {
        const CsrInfo* ci = find_csr(csr);
        if (ci->access == CsrAccess::ReadOnly)
          return trap(TrapCause::BadCsr, 0, fmt::format("CSR {} is read-only", ci->name));
        uint64_t value = operand;
        if (d.op == Op::CSRRS || d.op == Op::CSRRSI) value = old | operand;
        if (d.op == Op::CSRRC || d.op == Op::CSRRCI) value = old & ~operand;
        if (csr == 0x800) set_fmtcfg(t, value);
        if (csr == 0x802) t.nodeq = value;
        if (csr == 0x801) {
          t.srseed = value;
          t.rng.reseed(value);
        }
      }
      x[d.rd] = old;
      break;
    }
    case Op::VLSE8:
    case Op::VLSE16:
    case Op::VLSE32:
    case Op::VSSE8:
    case Op::VSSE16:
    case Op::VSSE32: {
      const bool store = d.op == Op::VSSE8 || d.op == Op::VSSE16 || d.op == Op::VSSE32;
      const uint32_t width = (d.op == Op::VLSE8 || d.op == Op::VSSE8)     ? 1
                             : (d.op == Op::VLSE16 || d.op == Op::VSSE16) ? 2
                                                                          : 4;
      const uint64_t base = x[d.rs1], stride = x[d.rs2];
      uint8_t* v = vreg(d.rd);
      for (uint32_t i = 0; i < vlen / width; ++i) {
        const uint64_t a = base + i * stride;
        if (!mem_ok(a, width, width)) return bad_mem(store, a, width, width);
      }
      for (uint32_t i = 0; i < vlen / width; ++i) {
        const uint64_t a = base + i * stride;
        if (store)
          sram_.write(a, v + i * width, width);
        else if (kValues)
          sram_.read(a, v + i * width, width);
        if (!kValues && store) mark_memory(a, width, true);
      }
      break;
    }
    case Op::VREDSUM_F32:
      vreduce<Lane::F32>(t, d, vreg, tmp_a, vlen, 0);
      break;
    case Op::VREDSUM_BF16:
      vreduce<Lane::BF16>(t, d, vreg, tmp_a, vlen, 0);
      break;
    case Op::VREDSUM_CFP8:
      vreduce<Lane::CFP8>(t, d, vreg, tmp_a, vlen, 0);
      break;
    case Op::VREDMAX_F32:
      vreduce<Lane::F32>(t, d, vreg, tmp_a, vlen, 1);
      break;
    case Op::VREDMAX_BF16:
      vreduce<Lane::BF16>(t, d, vreg, tmp_a, vlen, 1);
      break;
    case Op::VREDMAX_CFP8:
      vreduce<Lane::CFP8>(t, d, vreg, tmp_a, vlen, 1);
      break;
    case Op::VREDMIN_F32:
      vreduce<Lane::F32>(t, d, vreg, tmp_a, vlen, 2);
      break;
    case Op::VREDMIN_BF16:
      vreduce<Lane::BF16>(t, d, vreg, tmp_a, vlen, 2);
      break;
    case Op::VREDMIN_CFP8:
      vreduce<Lane::CFP8>(t, d, vreg, tmp_a, vlen, 2);
      break;
    case Op::VBCAST_F32:
    case Op::VBCAST_BF16:
    case Op::VBCAST_CFP8: {
      const uint32_t width = d.op == Op::VBCAST_F32 ? 4 : d.op == Op::VBCAST_BF16 ? 2 : 1;
      const uint64_t value = x[d.rs1];
      uint8_t* v = vreg(d.rd);
      for (uint32_t i = 0; i < vlen; i += width) std::memcpy(v + i, &value, width);
      break;
    }
    case Op::VMVXS_F32: {
      uint32_t w;
      std::memcpy(&w, vreg(d.rs1), 4);
      x[d.rd] = sext32(w);
      break;
    }
    case Op::VMVXS_BF16: {
      uint16_t h;
      std::memcpy(&h, vreg(d.rs1), 2);
      x[d.rd] = h;
      break;
    }
    case Op::VMVXS_CFP8:
      x[d.rd] = vreg(d.rs1)[0];
      break;
    case Op::VMV:
      std::memmove(vreg(d.rd), vreg(d.rs1), vlen);
      break;
    // Elementary functions (isa/vector_math.h), lane by lane over fp32.
    case Op::VEXP_F32:
      vunary(vector_exp);
      break;
    case Op::VRECIP_F32:
      vunary(vector_recip);
      break;
    case Op::VRSQRT_F32:
      vunary(vector_rsqrt);
      break;
    case Op::VLOG_F32:
      vunary(vector_log);
      break;
    case Op::VCVT_BF16_F32:
    case Op::VCVT_BF16_F32_SR:
    case Op::VCVT_CFP8_F32:
    case Op::VCVT_CFP8_F32_SR:
    case Op::VCVT_CFP8_BF16:
    case Op::VCVT_CFP8_BF16_SR:
    case Op::VCVT_F32_BF16:
    case Op::VCVT_F32_CFP8:
    case Op::VCVT_BF16_CFP8: {
      if (kValues ? !vconvert(t, d, vreg, tmp_a, vlen) : !conversion_part_ok(d))
        return trap(TrapCause::BadOperand, 0,
                    fmt::format("part {} is out of range for this conversion", d.rs2));
      break;
    }
    // ---- push and synchronisation
    case Op::PUSH: {
      const uint64_t src = x[d.rs1], dst = x[d.rs2], len = x[d.rs3];
      if (!sram_.contains(src, len))
        return trap(TrapCause::LoadOutOfRange, src, "push source: " + range_detail(src, len));
      ++t.instret;
      t.pc = next;
      result.event = Event::Push;
      result.arg[0] = src, result.arg[1] = dst, result.arg[2] = len, result.arg[3] = d.rd;
      return result;
    }
    case Op::PULL: {
      const uint64_t src = x[d.rs1], dst = x[d.rs2], len = x[d.rs3];
      if (!sram_.contains(dst, len))
        return trap(TrapCause::StoreOutOfRange, dst, "pull destination: " + range_detail(dst, len));
      ++t.instret;
      t.pc = next;
      result.event = Event::Pull;
      result.arg[0] = src, result.arg[1] = dst, result.arg[2] = len, result.arg[3] = d.rd;
      return result;
    }
    case Op::SWAIT: {
      const uint64_t need = x[d.rs1];
      uint64_t& s = semaphores_[d.rd];
      if (s < need) {
        t.pc = pc;  // re-executed when woken
        result.event = Event::WaitSemaphore;
        result.arg[0] = d.rd, result.arg[1] = need;
        return result;
      }
      s -= need;
      if constexpr (kTiming) wait_until(t, semaphore_raised_at_[d.rd], StallCause::Semaphore);
      break;
    }
    case Op::SSIGNAL: {
      semaphores_[d.rd] += x[d.rs1];
      if constexpr (kTiming) semaphore_raised(d.rd, cycles(t));
      ++t.instret;
      t.pc = next;
      result.event = Event::Signal;
      result.arg[0] = d.rd;
      return result;
    }
    case Op::SREAD:
      x[d.rd] = semaphores_[d.rs1];
      break;
    case Op::BARRIER: {
      ++t.instret;
      t.pc = next;
      result.event = Event::Barrier;
      result.arg[0] = d.rd;
      return result;
    }
    case Op::kInvalid:
    default:
      return trap(TrapCause::IllegalInstruction, 0, "no instruction has this encoding");
  }
  return result;  // Event::Budget: completed
}

// NOTE: kValues false is timing-only mode (docs/timing.md). Its checks are compiled into that
// instantiation only: the normal loop has no extra branch per instruction.
// NOTE: every exit writes the clock back first (DOJO_STOP); no lambda or object takes the address
// of pc or of the clock, so that they stay in host registers (GCC keeps a local in memory once a
// reference to it may escape).
template <bool kTiming, bool kValues>
RunResult Core::run_loop(ThreadState& t, uint64_t budget, uint64_t until_cycle) {
  uint64_t(&x)[kNumXRegs] = t.x;  // not a pointer of its own: t plus an offset
  uint64_t pc = t.pc;
  const uint64_t sram_size = sram_.size();
  const uint32_t vlen = config_.vlen_bytes;
  const uint32_t mm = config_.matrix_m, mn = config_.matrix_n, mk = config_.matrix_k;
  const bool mma_d1 = mm == 8 && mn == 8 && mk == 4;
  uint64_t page_base = t.code_page_base;
  Decoded* page = t.code_page;
  RunResult result;
  static const std::array<ValueRule, kOpCount> value_rules = build_value_rules();
  // Read once: the stores of the loop could alias the members as far as the compiler knows.
  const IssueContext issue_context{cost_, calendars_.data(), config_.timing_params.issue_width};
  const uint64_t taken_branch_penalty = config_.timing_params.taken_branch_penalty;
  IssueClock clock(t);

  auto vreg = [&t, vlen](unsigned r) { return t.vregs.data() + size_t{r} * vlen; };
  auto acc = [&t, mm, mn](unsigned a) { return t.accs.data() + size_t{a & 7} * mm * mn; };
  const lanes::Kernels simd = lanes_;
  // Element-wise vector arithmetic, on the host's SIMD unit (isa/lanes.h).
  // The register numbers, not the Decoded: a reference to the loop's copy would keep it in memory.
  auto vbinary = [&t, &simd, vreg, vlen](unsigned rd, unsigned rs1, unsigned rs2,
                                         lanes::BinaryOp op, lanes::Format f) {
    simd.binary(op, f, vreg(rd), vreg(rs1), vreg(rs2), vlen, {t.cfp8, t.cfp8_lut.data()});
  };
  auto mem_ok = [sram_size](uint64_t addr, uint64_t n, uint64_t align) {
    return (addr & (align - 1)) == 0 && addr <= sram_size - n && n <= sram_size;
  };

// NOTE: no local of the clock is live across a call the loop makes: each call stores it into
// t before and reloads it after (DOJO_CALL), and each way out stores it before it calls
// (DOJO_STOP). So GCC can keep the clock in call-clobbered registers for the instructions that
// call nothing, instead of in stack slots that every instruction's issue stores and reloads.
#define DOJO_CALL(...)                            \
  do {                                            \
    if constexpr (kTiming) clock.store(t);        \
    __VA_ARGS__;                                  \
    if constexpr (kTiming) clock = IssueClock(t); \
  } while (0)
#define DOJO_STOP(...)                     \
  do {                                     \
    if constexpr (kTiming) clock.store(t); \
    result = __VA_ARGS__;                  \
    goto stopped;                          \
  } while (0)
#define DOJO_LOAD(T, conv)                                                  \
  {                                                                         \
    const uint64_t a = x[d.rs1] + static_cast<int64_t>(d.imm);              \
    if (!mem_ok(a, sizeof(T), sizeof(T))) {                                 \
      DOJO_STOP(stop_on_bad_access(t, pc, false, a, sizeof(T), sizeof(T))); \
    }                                                                       \
    x[d.rd] = conv(sram_.load<T>(a));                                       \
    if constexpr (!kValues) {                                               \
      const uint32_t bit = uint32_t{1} << d.rd;                             \
      bool unknown;                                                         \
      DOJO_CALL(unknown = memory_unknown(a, sizeof(T)));                    \
      t.unknown_x = unknown ? t.unknown_x | bit : t.unknown_x & ~bit;       \
    }                                                                       \
  }
// With timing, a store to a page not allocated yet calls allocate_page out of the inline path
// (DOJO_CALL: the clock dead across it); without, Sram::store as it is (a test of its own there
// cost the timing-off scalar loop a tenth of its time).
#define DOJO_STORE(T)                                                                       \
  {                                                                                         \
    const uint64_t a = x[d.rs1] + static_cast<int64_t>(d.imm);                              \
    if (!mem_ok(a, sizeof(T), sizeof(T))) {                                                 \
      DOJO_STOP(stop_on_bad_access(t, pc, true, a, sizeof(T), sizeof(T)));                  \
    }                                                                                       \
    if constexpr (kTiming) {                                                                \
      if (!sram_.has_page(a)) DOJO_CALL(sram_.allocate_page(a));                            \
      sram_.store_in_page<T>(a, static_cast<T>(x[d.rs2]));                                  \
    } else {                                                                                \
      sram_.store<T>(a, static_cast<T>(x[d.rs2]));                                          \
    }                                                                                       \
    if constexpr (!kValues) DOJO_CALL(mark_memory(a, sizeof(T), t.unknown_x >> d.rs2 & 1)); \
  }

  for (;;) {
    if ((pc & ~Sram::kPageMask) != page_base) {
      if ((pc & 3) || pc >= sram_size) {
        DOJO_STOP(stop_on_bad_fetch(t, pc));
      }
      page_base = t.code_page_base = pc & ~Sram::kPageMask;
      DOJO_CALL(page = t.code_page = sram_.decoded_page(pc));
    }
    Decoded& slot = page[(pc & Sram::kPageMask) >> 2];
    // One test for both rare cases: kUndecoded is kInvalid + 1 (sram.h).
    static_assert(static_cast<unsigned>(kUndecoded) == static_cast<unsigned>(Op::kInvalid) + 1);
    if (static_cast<unsigned>(slot.op) >= static_cast<unsigned>(Op::kInvalid)) {
      if (slot.op == kUndecoded) {
        DOJO_CALL(slot = decode(sram_.load<uint32_t>(pc)));
        sram_.note_decoded(pc);
      }
      // An invalid word traps before it issues (what execute_cold's default case says).
      if (slot.op == Op::kInvalid)
        DOJO_STOP(stop_on_trap(t, pc, TrapCause::IllegalInstruction, 0,
                               "no instruction has this encoding"));
    }
    // The timing model reads the slot itself: nothing has stored into memory since it was
    // fetched, and its fields loaded from the page do not wait on a spill of the copy below.
    if constexpr (kTiming) issue(t, clock, slot, issue_context);
    const Decoded d = slot;  // a copy: a store below may invalidate the slot

    uint64_t next = pc + 4;
    if constexpr (!kValues) {
      const ValueRule& vr = value_rules[static_cast<size_t>(d.op)];
      // Nothing to check while no register holds an unknown value (a matmul's whole run).
      if (t.unknown_x != 0)
        if (const uint32_t unknown = unknown_operands(t, d, vr.must_know))
          DOJO_STOP(stop_on_unknown_value(t, pc, unknown));
      // NOTE: a goto over the switch, not an `if` around it: the normal loop stays as it was.
      if (vr.skip) goto executed;
    }
    switch (d.op) {
      // ---- RV64I
      case Op::LUI: x[d.rd] = static_cast<uint64_t>(static_cast<int64_t>(d.imm)); break;
      case Op::AUIPC: x[d.rd] = pc + static_cast<int64_t>(d.imm); break;
      case Op::JAL: x[d.rd] = next; next = pc + static_cast<int64_t>(d.imm); break;
      case Op::JALR: {
        const uint64_t target = (x[d.rs1] + static_cast<int64_t>(d.imm)) & ~uint64_t{1};
        x[d.rd] = next;
        next = target;
        break;
      }
      case Op::BEQ: if (x[d.rs1] == x[d.rs2]) next = pc + static_cast<int64_t>(d.imm); break;
      case Op::BNE: if (x[d.rs1] != x[d.rs2]) next = pc + static_cast<int64_t>(d.imm); break;
      case Op::BLT:
        if (static_cast<int64_t>(x[d.rs1]) < static_cast<int64_t>(x[d.rs2]))
          next = pc + static_cast<int64_t>(d.imm);
        break;
      case Op::BGE:
        if (static_cast<int64_t>(x[d.rs1]) >= static_cast<int64_t>(x[d.rs2]))
          next = pc + static_cast<int64_t>(d.imm);
        break;
      case Op::BLTU: if (x[d.rs1] < x[d.rs2]) next = pc + static_cast<int64_t>(d.imm); break;
      case Op::BGEU: if (x[d.rs1] >= x[d.rs2]) next = pc + static_cast<int64_t>(d.imm); break;
      case Op::LB: DOJO_LOAD(int8_t, static_cast<uint64_t>) break;
      case Op::LH: DOJO_LOAD(int16_t, static_cast<uint64_t>) break;
      case Op::LW: DOJO_LOAD(int32_t, static_cast<uint64_t>) break;
      case Op::LD: DOJO_LOAD(uint64_t, static_cast<uint64_t>) break;
      case Op::LBU: DOJO_LOAD(uint8_t, static_cast<uint64_t>) break;
      case Op::LHU: DOJO_LOAD(uint16_t, static_cast<uint64_t>) break;
      case Op::LWU: DOJO_LOAD(uint32_t, static_cast<uint64_t>) break;
      case Op::SB: DOJO_STORE(uint8_t) break;
      case Op::SH: DOJO_STORE(uint16_t) break;
      case Op::SW: DOJO_STORE(uint32_t) break;
      case Op::SD: DOJO_STORE(uint64_t) break;
      case Op::ADDI: x[d.rd] = x[d.rs1] + static_cast<int64_t>(d.imm); break;
      case Op::SLTI: x[d.rd] = static_cast<int64_t>(x[d.rs1]) < d.imm; break;
      case Op::SLTIU:
        x[d.rd] = x[d.rs1] < static_cast<uint64_t>(static_cast<int64_t>(d.imm));
        break;
      case Op::XORI: x[d.rd] = x[d.rs1] ^ static_cast<uint64_t>(static_cast<int64_t>(d.imm)); break;
      case Op::ORI: x[d.rd] = x[d.rs1] | static_cast<uint64_t>(static_cast<int64_t>(d.imm)); break;
      case Op::ANDI: x[d.rd] = x[d.rs1] & static_cast<uint64_t>(static_cast<int64_t>(d.imm)); break;
      case Op::SLLI: x[d.rd] = x[d.rs1] << d.imm; break;
      case Op::SRLI: x[d.rd] = x[d.rs1] >> d.imm; break;
      case Op::SRAI:
        x[d.rd] = static_cast<uint64_t>(static_cast<int64_t>(x[d.rs1]) >> d.imm);
        break;
      case Op::ADD: x[d.rd] = x[d.rs1] + x[d.rs2]; break;
      case Op::SUB: x[d.rd] = x[d.rs1] - x[d.rs2]; break;
      case Op::SLL: x[d.rd] = x[d.rs1] << (x[d.rs2] & 63); break;
      case Op::SLT:
        x[d.rd] = static_cast<int64_t>(x[d.rs1]) < static_cast<int64_t>(x[d.rs2]);
        break;
      case Op::SLTU: x[d.rd] = x[d.rs1] < x[d.rs2]; break;
      case Op::XOR: x[d.rd] = x[d.rs1] ^ x[d.rs2]; break;
      case Op::SRL: x[d.rd] = x[d.rs1] >> (x[d.rs2] & 63); break;
      case Op::SRA:
        x[d.rd] = static_cast<uint64_t>(static_cast<int64_t>(x[d.rs1]) >> (x[d.rs2] & 63));
        break;
      case Op::OR: x[d.rd] = x[d.rs1] | x[d.rs2]; break;
      case Op::AND: x[d.rd] = x[d.rs1] & x[d.rs2]; break;
      case Op::FENCE:
      case Op::FENCE_I:
        break;
      case Op::ADDIW: x[d.rd] = sext32(x[d.rs1] + static_cast<int64_t>(d.imm)); break;
      case Op::SLLIW: x[d.rd] = sext32(x[d.rs1] << d.imm); break;
      case Op::SRLIW: x[d.rd] = sext32(static_cast<uint32_t>(x[d.rs1]) >> d.imm); break;
      case Op::SRAIW:
        x[d.rd] =
            static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(x[d.rs1]) >> d.imm));
        break;
      case Op::ADDW: x[d.rd] = sext32(x[d.rs1] + x[d.rs2]); break;
      case Op::SUBW: x[d.rd] = sext32(x[d.rs1] - x[d.rs2]); break;
      case Op::SLLW: x[d.rd] = sext32(x[d.rs1] << (x[d.rs2] & 31)); break;
      case Op::SRLW: x[d.rd] = sext32(static_cast<uint32_t>(x[d.rs1]) >> (x[d.rs2] & 31)); break;
      case Op::SRAW:
        x[d.rd] = static_cast<uint64_t>(
            static_cast<int64_t>(static_cast<int32_t>(x[d.rs1]) >> (x[d.rs2] & 31)));
        break;
      // ---- M
      case Op::MUL: x[d.rd] = x[d.rs1] * x[d.rs2]; break;
      case Op::MULH:
        x[d.rd] = static_cast<uint64_t>((static_cast<__int128>(static_cast<int64_t>(x[d.rs1])) *
                                         static_cast<int64_t>(x[d.rs2])) >>
                                        64);
        break;
      case Op::MULHSU:
        x[d.rd] = static_cast<uint64_t>(
            (static_cast<__int128>(static_cast<int64_t>(x[d.rs1])) *
             static_cast<__int128>(static_cast<unsigned __int128>(x[d.rs2]))) >>
            64);
        break;
      case Op::MULHU:
        x[d.rd] =
            static_cast<uint64_t>((static_cast<unsigned __int128>(x[d.rs1]) * x[d.rs2]) >> 64);
        break;
      case Op::DIV: {
        const auto a = static_cast<int64_t>(x[d.rs1]), b = static_cast<int64_t>(x[d.rs2]);
        x[d.rd] = b == 0                        ? ~uint64_t{0}
                  : (a == INT64_MIN && b == -1) ? static_cast<uint64_t>(a)
                                                : static_cast<uint64_t>(a / b);
        break;
      }
      case Op::DIVU: x[d.rd] = x[d.rs2] == 0 ? ~uint64_t{0} : x[d.rs1] / x[d.rs2]; break;
      case Op::REM: {
        const auto a = static_cast<int64_t>(x[d.rs1]), b = static_cast<int64_t>(x[d.rs2]);
        x[d.rd] = b == 0                        ? static_cast<uint64_t>(a)
                  : (a == INT64_MIN && b == -1) ? 0
                                                : static_cast<uint64_t>(a % b);
        break;
      }
      case Op::REMU: x[d.rd] = x[d.rs2] == 0 ? x[d.rs1] : x[d.rs1] % x[d.rs2]; break;
      case Op::MULW: x[d.rd] = sext32(x[d.rs1] * x[d.rs2]); break;
      case Op::DIVW: {
        const auto a = static_cast<int32_t>(x[d.rs1]), b = static_cast<int32_t>(x[d.rs2]);
        x[d.rd] = b == 0                        ? ~uint64_t{0}
                  : (a == INT32_MIN && b == -1) ? sext32(static_cast<uint32_t>(a))
                                                : sext32(static_cast<uint32_t>(a / b));
        break;
      }
      case Op::DIVUW: {
        const auto a = static_cast<uint32_t>(x[d.rs1]), b = static_cast<uint32_t>(x[d.rs2]);
        x[d.rd] = b == 0 ? ~uint64_t{0} : sext32(a / b);
        break;
      }
      case Op::REMW: {
        const auto a = static_cast<int32_t>(x[d.rs1]), b = static_cast<int32_t>(x[d.rs2]);
        x[d.rd] = b == 0                        ? sext32(static_cast<uint32_t>(a))
                  : (a == INT32_MIN && b == -1) ? 0
                                                : sext32(static_cast<uint32_t>(a % b));
        break;
      }
      case Op::REMUW: {
        const auto a = static_cast<uint32_t>(x[d.rs1]), b = static_cast<uint32_t>(x[d.rs2]);
        x[d.rd] = b == 0 ? sext32(a) : sext32(a % b);
        break;
      }
      // ---- vector and accumulator memory
      case Op::VLE: case Op::VSE: {
        const uint64_t a = x[d.rs1] + static_cast<int64_t>(d.imm);
        const bool store = d.op == Op::VSE;
        if (!mem_ok(a, vlen, 8)) {
          DOJO_STOP(stop_on_bad_access(t, pc, store, a, vlen, 8));
        }
        if (store) {
          DOJO_CALL(sram_.write(a, vreg(d.rs2), vlen));
        } else if (kValues) {
          // D1's 64 B in one page (nearly every vle): a copy of a constant size, inline.
          if (vlen == 64 && (a & Sram::kPageMask) <= Sram::kPageSize - 64)
            sram_.read_in_page(a, vreg(d.rd), 64);
          else
            DOJO_CALL(sram_.read(a, vreg(d.rd), vlen));
        }
        if (!kValues && store) DOJO_CALL(mark_memory(a, vlen, true));
        break;
      }
      case Op::MLD: case Op::MST: {
        const uint64_t a = x[d.rs1] + static_cast<int64_t>(d.imm);
        const bool store = d.op == Op::MST;
        const uint64_t n = uint64_t{4} * mm * mn;
        if (!mem_ok(a, n, 4)) {
          DOJO_STOP(stop_on_bad_access(t, pc, store, a, n, 4));
        }
        if (store)
          DOJO_CALL(sram_.write(a, acc(d.rs2), n));
        else if (kValues)
          DOJO_CALL(sram_.read(a, acc(d.rd), n));
        if (!kValues && store) DOJO_CALL(mark_memory(a, n, true));
        break;
      }
      // ---- vector arithmetic
#define DOJO_VBINARY(OPNAME, BINARY_OP)                                                      \
  case Op::OPNAME##_F32:                                                                     \
    DOJO_CALL(vbinary(d.rd, d.rs1, d.rs2, lanes::BinaryOp::BINARY_OP, lanes::Format::F32));  \
    break;                                                                                   \
  case Op::OPNAME##_BF16:                                                                    \
    DOJO_CALL(vbinary(d.rd, d.rs1, d.rs2, lanes::BinaryOp::BINARY_OP, lanes::Format::BF16)); \
    break;                                                                                   \
  case Op::OPNAME##_CFP8:                                                                    \
    DOJO_CALL(vbinary(d.rd, d.rs1, d.rs2, lanes::BinaryOp::BINARY_OP, lanes::Format::CFP8)); \
    break;
        DOJO_VBINARY(VADD, Add)
        DOJO_VBINARY(VSUB, Sub)
        DOJO_VBINARY(VMUL, Mul)
        DOJO_VBINARY(VFMA, Fma)
        DOJO_VBINARY(VMIN, Min)
        DOJO_VBINARY(VMAX, Max)
        DOJO_VBINARY(VGATE, Gate)
#undef DOJO_VBINARY
      // ---- matrix unit
      case Op::MZERO: std::fill_n(acc(d.rd), mm * mn, 0.0f); break;
      case Op::MMA_BF16:
        if (mma_d1) {  // D1's shape: its own kernel, nothing to decide per instruction
          DOJO_CALL(simd.mma_bf16_8x8x4(t.accs.data() + size_t{d.rd & 7u} * 64, vreg(d.rs1),
                                        vreg(d.rs2)));
          break;
        }
        DOJO_CALL(simd.mma(lanes::Format::BF16, acc(d.rd), vreg(d.rs1), vreg(d.rs2), mm, mn, mk,
                           {t.cfp8, t.cfp8_lut.data()}));
        break;
      case Op::MMA_CFP8:
        DOJO_CALL(simd.mma(lanes::Format::CFP8, acc(d.rd), vreg(d.rs1), vreg(d.rs2), mm, mn, 2 * mk,
                           {t.cfp8, t.cfp8_lut.data()}));
        break;
      default: {
        // The clock in t: execute_cold reads it, and swait may move it.
        DOJO_CALL(result = execute_cold<kTiming, kValues>(t, d, pc));
        if (result.event != Event::Budget) goto stopped;  // t holds the clock
        break;
      }
    }
  executed:
    __attribute__((unused));  // the goto is in the timing-only loop only
    if constexpr (!kValues) {
      const ValueRule& vr = value_rules[static_cast<size_t>(d.op)];
      const uint32_t bit = uint32_t{1} << d.rd;
      // With no register unknown, only an Unknown rule changes anything: Known and Propagate
      // clear a bit that is clear.
      if (t.unknown_x != 0 || vr.rd == ValueRule::Rd::Unknown) {
        switch (vr.rd) {
          case ValueRule::Rd::Keep:
            break;
          case ValueRule::Rd::Known:
            t.unknown_x &= ~bit;
            break;
          case ValueRule::Rd::Unknown:
            x[d.rd] = 0;  // deterministic: what a skipped vmv.x leaves
            t.unknown_x |= bit;
            break;
          case ValueRule::Rd::Propagate: {
            const bool unknown = ((vr.propagate & 2) && (t.unknown_x >> d.rs1 & 1)) ||
                                 ((vr.propagate & 4) && (t.unknown_x >> d.rs2 & 1));
            t.unknown_x = unknown ? t.unknown_x | bit : t.unknown_x & ~bit;
            break;
          }
        }
      }
      t.unknown_x &= ~1u;
    }
    x[0] = 0;
    if (next != pc + 4) {
      if (next & 3) {
        DOJO_STOP(stop_on_bad_jump(t, pc, next));
      }
      if constexpr (kTiming) {
        // A taken branch ends the fetch group; the next instruction issues in a later cycle.
        clock.issued_in_cycle = issue_context.issue_width;
        clock.cycle += taken_branch_penalty;
      }
    }
    ++t.instret;
    pc = next;
    if (--budget == 0) break;
    if constexpr (kTiming) {
      if (clock.cycle >= until_cycle) break;
    }
  }
#undef DOJO_LOAD
#undef DOJO_STORE
#undef DOJO_CALL
#undef DOJO_STOP
  t.pc = pc;
  result.event = Event::Budget;
  if constexpr (kTiming) clock.store(t);
stopped:
  return result;
}

}  // namespace dojosim::isa
