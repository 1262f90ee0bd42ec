// SPDX-License-Identifier: MIT
// The functional interpreter of one node's core, with its timing model (isa/timing.h).
//
// Contract: the owner of a node (the standalone runner in isa/node_runner.h, later the SystemC
// node in hw/) creates a Core over the node's SRAM and semaphores, starts threads, and calls
// run() for one thread at a time. run() executes until its instruction budget or cycle limit
// is spent, or until the thread needs the world outside the core (exit, trap, output, a push,
// a semaphore it must wait on, a barrier); it then returns an Event and the owner acts on it.
// Nothing is allocated while run() executes.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "isa/formats.h"
#include "isa/instructions.h"
#include "isa/lanes.h"
#include "isa/sram.h"
#include "isa/timing.h"
#include "isa/unit_calendar.h"

namespace dojosim::isa {

struct CoreConfig {
  uint64_t sram_bytes = 1310720;  // 1.25 MiB (published: 1.25 MB per node)
  uint32_t vlen_bytes = 64;       // SIMD width (published: 64 B)
  uint8_t matrix_m = 8, matrix_n = 8, matrix_k = 4;  // 8x8x4 bf16 block per mma (derived)
  uint32_t threads = 4;           // SMT threads (published: 4)
  double clock_ghz = 2.0;         // published: 2 GHz; only for reporting time
  bool timing = true;
  // false: timing only (sim.values = off): vector and matrix arithmetic is skipped, everything
  // else runs, and cycles and statistics equal the full run's (docs/timing.md).
  bool values = true;
  TimingParams timing_params = TimingParams::d1_defaults();
  uint32_t node_x = 0, node_y = 0, mesh_w = 1, mesh_h = 1;
  uint64_t seed = 0;  // the run's seed (sim.seed): each thread's srseed starts from it
  // Mesh positions without a usable node (die.disabled in every die), as y << 32 | x, sorted;
  // what the nodeok CSR reads. Shared: every node's core holds a copy of this config, and a
  // tile has thousands of nodes. Null means none.
  std::shared_ptr<const std::vector<uint64_t>> disabled;

  // Sets `disabled` from (x, y) pairs, in any order.
  void set_disabled(const std::vector<std::pair<uint32_t, uint32_t>>& positions);
  // True if (x, y) lies inside the mesh and is not disabled.
  bool node_usable(uint32_t x, uint32_t y) const;

  // Empty if valid; otherwise what is wrong, naming the parameter.
  std::string validate() const;
};

// The srseed a thread starts with: 0 when the seed is 0, else a mix of (seed, node, thread).
uint64_t reset_srseed(const CoreConfig& config, unsigned thread);

enum class ThreadStatus : uint8_t { Idle, Ready, Blocked, Exited, Trapped };

enum class TrapCause : uint8_t {
  IllegalInstruction,
  FetchMisaligned,
  FetchOutOfRange,
  LoadMisaligned,
  LoadOutOfRange,
  StoreMisaligned,
  StoreOutOfRange,
  Breakpoint,
  BadEcall,
  BadCsr,
  BadOperand,
  // Timing only: a branch, jump, address, DMA operand, semaphore count, CSR write or ecall
  // argument needs an x register whose value came from skipped vector state.
  ValueUnknown,
};
std::string_view trap_cause_name(TrapCause c);

struct Trap {
  TrapCause cause = TrapCause::IllegalInstruction;
  uint64_t pc = 0;
  uint32_t word = 0;
  uint64_t address = 0;  // the faulting data address, where there is one
  std::string detail;
};

struct ThreadState {
  // First what nearly every instruction or wake-up touches, packed into the first lines: on a
  // tile of thousands of nodes a woken thread's state is cold in the host's caches.
  unsigned id = 0;
  ThreadStatus status = ThreadStatus::Idle;
  uint64_t pc = 0;
  // The decoded-instruction page of the last fetch: a thread resumed after a wait fetches
  // again without walking the SRAM's page table (pages and their slots live as long as the core).
  uint64_t code_page_base = ~uint64_t{0};
  Decoded* code_page = nullptr;
  uint64_t instret = 0;
  // Timing: the cycle of the last issue, slots used in it, the latest result ever due (in
  // flight even if its register was rewritten) and the cycles lost per cause.
  uint64_t cycle = 0;
  uint32_t issued_in_cycle = 0;
  uint64_t issue_cycles = 0;
  uint64_t ready_max = 0;
  std::array<uint64_t, kStallCauseCount> stalls{};
  uint64_t x[kNumXRegs] = {};
  std::array<uint64_t, kRegSlots>
      ready{};  // when each register slot's value is ready (instructions.h)
  std::array<uint64_t, kNumAccs> acc_chain_ready{};
  std::array<uint64_t, static_cast<size_t>(TimingClass::kCount)> class_counts{};

  std::vector<uint8_t> vregs;  // kNumVRegs x vlen bytes
  std::vector<float> accs;     // kNumAccs x (M x N)
  int64_t exit_code = 0;
  Trap trap;

  // Number formats and stochastic rounding.
  uint64_t fmtcfg = 7;
  Cfp8Format cfp8;
  std::array<float, 256> cfp8_lut{};
  uint64_t srseed = 0;
  StochasticRng rng{0};
  uint64_t nodeq = 0;  // the nodeq CSR: which node nodeok answers for
  // Timing only (CoreConfig::values false): bit r set when x[r] derives from vector state
  // that was not computed. Unused with values on.
  uint32_t unknown_x = 0;
};

enum class Event : uint8_t {
  Budget,
  Exit,
  Trap,
  Write,
  Push,
  Pull,
  WaitSemaphore,
  Signal,
  Barrier
};

struct RunResult {
  Event event = Event::Budget;
  // Write: fd, buffer, length. Push: src, dst (global address), length, semaphore.
  // Pull: src (global address), dst (local), length, semaphore.
  // WaitSemaphore: semaphore, count. Signal: semaphore. Barrier: group. Exit: code.
  uint64_t arg[4] = {};
};

class Core {
 public:
  Core(const CoreConfig& config, Sram& sram, uint64_t* semaphores);
  ~Core();
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;

  const CoreConfig& config() const { return config_; }
  Sram& sram() { return sram_; }
  unsigned thread_count() const { return static_cast<unsigned>(threads_.size()); }
  ThreadState& thread(unsigned id) { return threads_[id]; }
  const ThreadState& thread(unsigned id) const { return threads_[id]; }

  // Resets thread `id` and makes it ready to run at `pc` with stack pointer `sp`.
  void start_thread(unsigned id, uint64_t pc, uint64_t sp, uint64_t start_cycle = 0);

  // Runs `t` for at most `max_instructions`, and (with timing on) until its cycle reaches
  // `until_cycle`. See the contract at the top of this file.
  RunResult run(ThreadState& t, uint64_t max_instructions, uint64_t until_cycle = UINT64_MAX);

  // A blocked thread resumes no earlier than `cycle`; the cycles in between are charged to
  // `cause` (semaphore or barrier).
  void wait_until(ThreadState& t, uint64_t cycle, StallCause cause);

  // The thread's cycle count: with timing off, its instruction count.
  uint64_t cycles(const ThreadState& t) const;

  // Semaphore `sem` was raised at `cycle` (a delivery; `ssignal` records its own). A thread
  // behind that cycle that takes the semaphore resumes at it: SMT threads and deliveries run
  // out of step within a quantum, and a wait must not pass before the signal it needed.
  void semaphore_raised(unsigned sem, uint64_t cycle) {
    semaphore_raised_at_[sem] = std::max(semaphore_raised_at_[sem], cycle);
  }
  void reset_semaphores_raised() { semaphore_raised_at_.fill(0); }

  // "trap at pc 0x...: <what> in `<disassembly>`" — without the node/thread prefix.
  std::string trap_message(const ThreadState& t) const;

 private:
  template <bool kTiming, bool kValues>
  RunResult run_loop(ThreadState& t, uint64_t max_instructions, uint64_t until_cycle);
  struct OpCost;
  struct IssueContext {
    const OpCost* costs;
    UnitCalendar* calendars;
    uint32_t issue_width;
  };
  // The fields of ThreadState that issue() updates on every instruction, which run_loop keeps
  // in locals (host registers, not reloaded after each store the loop makes) and writes back
  // before it returns or calls anything that reads them.
  struct IssueClock {
    uint64_t cycle, issue_cycles, ready_max;
    uint32_t issued_in_cycle;
    explicit IssueClock(const ThreadState& t)
        : cycle(t.cycle),
          issue_cycles(t.issue_cycles),
          ready_max(t.ready_max),
          issued_in_cycle(t.issued_in_cycle) {}
    void store(ThreadState& t) const {
      t.cycle = cycle;
      t.issue_cycles = issue_cycles;
      t.ready_max = ready_max;
      t.issued_in_cycle = issued_in_cycle;
    }
  };
  void issue(ThreadState& t, IssueClock& k, const Decoded& d, const IssueContext& c);
  // run_loop's instructions that are rare in a hot loop, and its ways to stop on a trap: out of
  // line, so that the loop keeps its pc and clock in host registers.
  template <bool kTiming, bool kValues>
  RunResult execute_cold(ThreadState& t, Decoded d, uint64_t pc);
  RunResult stop_on_trap(ThreadState& t, uint64_t pc, TrapCause cause, uint64_t address,
                         std::string detail);
  RunResult stop_on_bad_access(ThreadState& t, uint64_t pc, bool store, uint64_t addr, uint64_t n,
                               uint64_t align);
  RunResult stop_on_bad_fetch(ThreadState& t, uint64_t pc);
  RunResult stop_on_bad_jump(ThreadState& t, uint64_t pc, uint64_t target);
  RunResult stop_on_unknown_value(ThreadState& t, uint64_t pc, uint32_t unknown);
  std::string range_detail(uint64_t addr, uint64_t n) const;
  static uint64_t reserve_unit(UnitCalendar* instances, const OpCost& cost, uint64_t ready);
  void set_fmtcfg(ThreadState& t, uint64_t value);
  bool read_csr(const ThreadState& t, uint32_t csr, uint64_t& value) const;

  CoreConfig config_;
  static std::shared_ptr<const OpCost[]> cost_table(const TimingParams& timing);
  std::shared_ptr<const OpCost[]> costs_;
  const OpCost* cost_ = nullptr;  // costs_.get(): issue() reads it once per instruction
  lanes::Kernels lanes_;  // vector and matrix arithmetic on the host's SIMD unit
  Sram& sram_;
  uint64_t* semaphores_;
  // Per semaphore: the latest cycle it was raised. Taking it costs no more than this bound:
  // the value may have sufficed earlier, but the owners do not keep a history.
  std::array<uint64_t, kNumSemaphores> semaphore_raised_at_{};
  std::vector<ThreadState> threads_;
  // Every unit instance's busy cycles, shared by the threads (SMT): the instances of unit 0,
  // then of unit 1, ... (OpCost says where an op's unit starts). Allocated only for the
  // instances the config has, and only with timing on.
  std::vector<UnitCalendar> calendars_;
  // Timing only (config_.values false): the SRAM's words that hold values derived from skipped
  // vector state (a vector store, or a scalar store of an unknown register), kept by the SRAM
  // (Sram::mark_unknown), which forgets what the host and DMA write over. Marks the words
  // overlapping [addr, addr + n) unknown, or (unknown false) clears the words it covers whole.
  // The caller has range-checked it.
  void mark_memory(uint64_t addr, uint64_t n, bool unknown);
  bool memory_unknown(uint64_t addr, uint64_t n) const;
};

}  // namespace dojosim::isa
