// SPDX-License-Identifier: MIT
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "isa/elf_loader.h"
#include "isa/node_runner.h"

extern char** environ;

namespace dojosim::difftest {
namespace {

namespace fs = std::filesystem;

// The node runs one thread at node (0,0); its output lines all carry this prefix.
constexpr const char* kNodePrefix = "[0,0 t0] ";
// A generated program runs at most some tens of thousands of instructions; a runaway one is
// stopped after this many per program (about 10 ms of simulation).
constexpr uint64_t kLimitPerProgram = 1'000'000;
// Failing programs reported (and written out) per batch: enough to see a pattern.
constexpr size_t kMaxReportsPerBatch = 5;

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  errno = 0;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 0);
  if (errno || *end || *v == '-')
    throw std::runtime_error(fmt::format("{}={}: expected a non-negative integer (0x.. for hex)",
                                         name, v));
  return n;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  if (!f) throw std::runtime_error(fmt::format("cannot write {}", path));
}

uint64_t word_at(const std::string& bytes, size_t offset) {
  uint64_t v = 0;
  std::memcpy(&v, bytes.data() + offset, 8);
  return v;
}

std::string describe_mismatch(const Mismatch& m) {
  return fmt::format("program {}: {}: qemu {:#018x}, dojosim {:#018x}", m.program, m.where,
                     m.expected, m.actual);
}

}  // namespace

std::string Tools::missing() const {
  std::string out;
  auto check = [&](const std::string& path, const char* what, const char* hint) {
    if (path.empty() || ::access(path.c_str(), X_OK) != 0)
      out += fmt::format("{} not found{}; {}\n", what, path.empty() ? "" : " at " + path, hint);
  };
  check(as, "RISC-V assembler (riscv64-unknown-elf-as)",
        "install binutils-riscv64-unknown-elf or set DOJOSIM_RISCV_AS");
  check(ld, "RISC-V linker (riscv64-unknown-elf-ld)",
        "install binutils-riscv64-unknown-elf or set DOJOSIM_RISCV_LD");
  check(qemu, "qemu-riscv64-static", "install qemu-user-static or set DOJOSIM_QEMU");
  return out;
}

Tools configured_tools() {
  return {env_or("DOJOSIM_RISCV_AS", DOJOSIM_DIFF_AS), env_or("DOJOSIM_RISCV_LD", DOJOSIM_DIFF_LD),
          env_or("DOJOSIM_QEMU", DOJOSIM_DIFF_QEMU)};
}

ProcessResult run_process(const std::vector<std::string>& argv) {
  ProcessResult r;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return r;
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return r;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (spawned != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    r.err = fmt::format("cannot start {}: {}", argv[0], std::strerror(spawned));
    return r;
  }
  r.started = true;
  // Both pipes at once: a child that fills one while we block on the other would hang.
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

bool strip_line_prefixes(const std::string& text, const std::string& prefix, std::string& bytes,
                         std::string& error) {
  bytes.clear();
  bytes.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    if (text.compare(pos, prefix.size(), prefix) != 0) {
      error = fmt::format("node output line at byte {} does not start with \"{}\"", pos, prefix);
      return false;
    }
    pos += prefix.size();
    const size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string::npos ? text.size() : nl + 1;
    bytes.append(text, pos, end - pos);
    pos = end;
  }
  return true;
}

std::string Comparison::describe() const {
  std::string s = error;
  for (const auto& m : mismatches) {
    if (!s.empty()) s += '\n';
    s += describe_mismatch(m);
  }
  return s;
}

Comparison compare_records(const std::string& expected, const std::string& actual,
                           uint64_t first_index, size_t count) {
  Comparison c;
  const size_t full = count * kRecordBytes + 1;
  auto records_in = [](const std::string& s) { return s.size() / kRecordBytes; };
  if (expected.size() != full || expected.back() != '\n')
    c.error = fmt::format("qemu wrote {} bytes, expected {} ({} records of {} and a newline)",
                          expected.size(), full, count, kRecordBytes);
  else if (actual.size() != full || actual.back() != '\n')
    c.error = fmt::format("dojosim wrote {} bytes, expected {} ({} records of {} and a newline)",
                          actual.size(), full, count, kRecordBytes);
  const size_t n = std::min({count, records_in(expected), records_in(actual)});
  for (size_t i = 0; i < n; ++i) {
    const uint64_t program = first_index + i;
    const size_t rec = i * kRecordBytes;
    const uint64_t marker = record_marker(program);
    if (word_at(expected, rec + kDataBytes + 8 * kMarkerSlot) != marker) {
      c.error += fmt::format("{}qemu's record {} lacks its marker: the harness is broken",
                             c.error.empty() ? "" : "; ", i);
      return c;
    }
    const uint64_t got_marker = word_at(actual, rec + kDataBytes + 8 * kMarkerSlot);
    if (got_marker != marker) {
      // Everything after a lost or repeated record is misaligned: report it and stop.
      c.mismatches.push_back({program, "record marker (program skipped or repeated?)", marker,
                              got_marker});
      return c;
    }
    for (unsigned off = 0; off < kRecordBytes; off += 8) {
      const uint64_t e = word_at(expected, rec + off), a = word_at(actual, rec + off);
      if (e == a) continue;
      const std::string where = off < kDataBytes
                                    ? fmt::format("data+{:#x}", off)
                                    : register_name((off - kDataBytes) / 8);
      c.mismatches.push_back({program, where, e, a});
    }
  }
  return c;
}

void prepare_work_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot create {}: {}", dir, ec.message()));
  write_file(dir + "/link.ld", linker_script());
}

std::string build_elf(const Tools& tools, const std::string& dir, const std::string& name,
                      const std::string& source) {
  const std::string base = dir + "/" + name;
  write_file(base + ".s", source);
  // No relaxation, so the linked code is exactly the source; rv64im only, so no compressed code.
  ProcessResult as = run_process(
      {tools.as, "-march=rv64im", "-mabi=lp64", "-mno-relax", "-o", base + ".o", base + ".s"});
  if (!as.started || as.exit_code != 0)
    throw std::runtime_error(fmt::format("{} failed on {}.s (exit {}): {}", tools.as, base,
                                         as.exit_code, as.err.substr(0, 2000)));
  ProcessResult ld =
      run_process({tools.ld, "-T", dir + "/link.ld", "-o", base + ".elf", base + ".o"});
  if (!ld.started || ld.exit_code != 0)
    throw std::runtime_error(fmt::format("{} failed on {}.o (exit {}): {}", tools.ld, base,
                                         ld.exit_code, ld.err.substr(0, 2000)));
  return base + ".elf";
}

RunOutput run_qemu(const Tools& tools, const std::string& elf) {
  RunOutput out;
  ProcessResult p = run_process({tools.qemu, elf});
  out.bytes = std::move(p.out);
  if (!p.started)
    out.error = p.err;
  else if (p.exit_code != 0)
    out.error = fmt::format("{} {} exited with {}: {}", tools.qemu, elf, p.exit_code,
                            p.err.substr(0, 2000));
  return out;
}

RunOutput run_node(const std::string& elf, bool timing, uint64_t limit) {
  RunOutput out;
  try {
    const isa::Program program = isa::load_elf(elf);
    isa::CoreConfig config;
    config.timing = timing;
    isa::NodeRunner node(config);
    node.load(program);
    std::ostringstream text, err;
    isa::NodeRunOptions options;
    options.out = &text;
    options.err = &err;
    options.max_cycles = limit;
    const isa::NodeRunResult r = node.run(options);
    out.instructions = r.instructions;
    std::string strip_error;
    if (!strip_line_prefixes(text.str(), kNodePrefix, out.bytes, strip_error))
      out.error = strip_error;
    if (r.outcome != isa::RunOutcome::Exited)
      out.error = fmt::format("dojosim (timing {}) did not exit: {}", timing ? "on" : "off",
                              r.message);
    else if (r.threads.at(0).exit_code != 0)
      out.error = fmt::format("dojosim exited with {}", r.threads.at(0).exit_code);
  } catch (const std::exception& e) {
    out.error = fmt::format("dojosim: {}", e.what());
  }
  return out;
}

RunConfig run_config_from_env(uint64_t default_seed, uint64_t default_programs) {
  RunConfig c;
  c.seed = env_number("DOJOSIM_DIFF_SEED", default_seed);
  c.first = env_number("DOJOSIM_DIFF_FIRST", 0);
  c.programs = env_number("DOJOSIM_DIFF_PROGRAMS", default_programs);
  // Above ~150 programs the far code drifts out of jal's reach (1 MiB).
  c.batch = static_cast<unsigned>(
      std::clamp<uint64_t>(env_number("DOJOSIM_DIFF_BATCH", 100), 1, 150));
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  c.jobs = static_cast<unsigned>(std::clamp<uint64_t>(env_number("DOJOSIM_DIFF_JOBS", hw), 1, 64));
  c.timing_every = static_cast<unsigned>(env_number("DOJOSIM_DIFF_TIMING_EVERY", 4));
  c.keep_files = env_number("DOJOSIM_DIFF_KEEP", 0) != 0;
  return c;
}

std::string write_reproducer(const std::string& dir, const GeneratedProgram& program,
                             const std::string& failure) {
  const std::string path =
      fmt::format("{}/fail_seed{:#x}_prog{}.s", dir, program.seed, program.index);
  std::string header = "# A program on which dojosim and qemu-riscv64 disagree:\n";
  std::istringstream lines(failure);
  for (std::string l; std::getline(lines, l);) header += "#   " + l + "\n";
  header += fmt::format(
      "# Regenerate: DOJOSIM_DIFF_SEED={:#x} DOJOSIM_DIFF_FIRST={} DOJOSIM_DIFF_PROGRAMS=1 "
      "ctest -L differential\n"
      "# Or by hand (alone, its addresses differ from the batch run, so auipc/jal values do too):\n"
      "#   riscv64-unknown-elf-as -march=rv64im -mno-relax -o p.o {}\n"
      "#   riscv64-unknown-elf-ld -T {}/link.ld -o p.elf p.o\n"
      "#   qemu-riscv64-static p.elf | xxd;  dojosim exec p.elf\n",
      program.seed, program.index, path, dir);
  write_file(path, header + batch_source({program}));
  return path;
}

namespace {

// The comparison of one program run alone, with the node's complaint folded into `error`.
Comparison run_alone(const Tools& tools, const std::string& dir, const GeneratedProgram& program,
                     bool timing, const std::string& name) {
  Comparison c;
  std::string elf;
  try {
    elf = build_elf(tools, dir, name, batch_source({program}));
  } catch (const std::exception& e) {
    c.error = e.what();
    return c;
  }
  const RunOutput qemu = run_qemu(tools, elf);
  if (!qemu.error.empty()) {
    c.error = qemu.error;
    return c;
  }
  const RunOutput node = run_node(elf, timing, kLimitPerProgram);
  c = compare_records(qemu.bytes, node.bytes, program.index, 1);
  if (!node.error.empty()) c.error = node.error + (c.error.empty() ? "" : "; " + c.error);
  for (const char* ext : {".s", ".o", ".elf"}) fs::remove(dir + "/" + name + ext);
  return c;
}

}  // namespace

std::string narrow_down(const Tools& tools, const std::string& dir,
                        const GeneratedProgram& program, bool timing) {
  const std::string name = fmt::format("narrow{}", program.index);
  auto fails = [&](size_t items) {
    return !run_alone(tools, dir, program.prefix(items), timing, name).ok();
  };
  if (!fails(program.items()))
    return "  (run alone, this program passes: the failure depends on its place in the batch)";
  if (fails(0)) {
    return "  it fails even with an empty body, in the register set-up or the dump:\n" +
           run_alone(tools, dir, program.prefix(0), timing, name).describe();
  }
  // Invariant: the prefix of `good` items passes, that of `bad` items fails.
  size_t good = 0, bad = program.items();
  while (bad - good > 1) {
    const size_t mid = good + (bad - good) / 2;
    (fails(mid) ? bad : good) = mid;
  }
  std::string item;
  std::istringstream lines(program.item_text(bad - 1));
  for (std::string l; std::getline(lines, l);)
    item += "\n      " + l.substr(std::min(l.find_first_not_of(' '), l.size()));
  return fmt::format("  first divergence after body item {} of {} (run alone, timing {}):{}\n  {}",
                     bad - 1, program.items(), timing ? "on" : "off", item,
                     run_alone(tools, dir, program.prefix(bad), timing, name).describe());
}

namespace {

struct BatchResult {
  std::vector<std::string> failures;
  uint64_t node_instructions = 0;
  bool timing = false;
};

BatchResult run_batch(const Tools& tools, const std::string& dir, const RunConfig& config,
                      uint64_t first, size_t count, bool timing) {
  BatchResult result;
  result.timing = timing;
  std::vector<GeneratedProgram> programs;
  programs.reserve(count);
  for (size_t i = 0; i < count; ++i)
    programs.push_back(generate_program(config.seed, first + i, config.generator));
  const std::string name = fmt::format("batch{}", first);
  std::string elf;
  try {
    elf = build_elf(tools, dir, name, batch_source(programs));
  } catch (const std::exception& e) {
    result.failures.push_back(
        fmt::format("programs {}..{}: {}", first, first + count - 1, e.what()));
    return result;
  }
  const RunOutput qemu = run_qemu(tools, elf);
  if (!qemu.error.empty()) {
    result.failures.push_back(
        fmt::format("programs {}..{}: {}", first, first + count - 1, qemu.error));
    return result;
  }

  auto check = [&](const RunOutput& node, bool timed) {
    const char* label = timed ? "timing on" : "timing off";
    const Comparison c = compare_records(qemu.bytes, node.bytes, first, count);
    if (c.ok() && node.error.empty()) return true;
    std::string summary = fmt::format("programs {}..{} ({}): ", first, first + count - 1, label);
    if (!node.error.empty()) summary += node.error + "; ";
    if (!c.error.empty()) summary += c.error;
    // Group the word mismatches by program, and leave each failing program behind as a file.
    std::vector<std::string> reports;
    for (size_t i = 0; i < c.mismatches.size();) {
      const uint64_t p = c.mismatches[i].program;
      std::string text;
      for (; i < c.mismatches.size() && c.mismatches[i].program == p; ++i)
        text += describe_mismatch(c.mismatches[i]) + "\n";
      if (reports.size() < kMaxReportsPerBatch) {
        const GeneratedProgram& program = programs[p - first];
        const std::string narrowed = narrow_down(tools, dir, program, timed);
        const std::string file = write_reproducer(dir, program, text + narrowed);
        reports.push_back(text + narrowed +
                          fmt::format("\n  (seed {:#x}, source: {})", config.seed, file));
      }
    }
    if (reports.empty() && !c.error.empty()) {
      // No word differs but a record is missing: the program the node stopped in is the one
      // after the last complete record.
      const uint64_t stopped = std::min<uint64_t>(node.bytes.size() / kRecordBytes, count - 1);
      const std::string narrowed = narrow_down(tools, dir, programs[stopped], timed);
      const std::string file = write_reproducer(dir, programs[stopped], summary + "\n" + narrowed);
      summary += fmt::format("\nprogram {} is where dojosim stopped:\n{}\n  (source: {})",
                             first + stopped, narrowed, file);
    }
    result.failures.push_back(summary);
    for (auto& r : reports) result.failures.push_back(r);
    return false;
  };

  const RunOutput node = run_node(elf, /*timing=*/false, count * kLimitPerProgram);
  result.node_instructions += node.instructions;
  bool ok = check(node, false);
  if (timing) {
    const RunOutput timed = run_node(elf, /*timing=*/true, count * kLimitPerProgram);
    ok = check(timed, true) && ok;
  }
  if (ok && !config.keep_files)
    for (const char* ext : {".s", ".o", ".elf"}) fs::remove(dir + "/" + name + ext);
  return result;
}

}  // namespace

RunReport run_differential(const Tools& tools, const std::string& work_dir,
                           const RunConfig& config) {
  prepare_work_dir(work_dir);
  // Reproducers left by an earlier run would be mistaken for this run's.
  for (const auto& entry : fs::directory_iterator(work_dir))
    if (entry.path().filename().string().rfind("fail_", 0) == 0) fs::remove(entry.path());
  const uint64_t batches = (config.programs + config.batch - 1) / config.batch;
  std::vector<BatchResult> results(batches);
  std::atomic<uint64_t> next{0};
  auto worker = [&] {
    for (uint64_t b; (b = next++) < batches;) {
      const uint64_t first = config.first + b * config.batch;
      const size_t count = static_cast<size_t>(
          std::min<uint64_t>(config.batch, config.first + config.programs - first));
      const bool timing = config.timing_every != 0 && b % config.timing_every == 0;
      try {
        results[b] = run_batch(tools, work_dir, config, first, count, timing);
      } catch (const std::exception& e) {
        results[b].failures.push_back(fmt::format("batch at program {}: {}", first, e.what()));
      }
    }
  };
  std::vector<std::thread> threads;
  const unsigned jobs =
      static_cast<unsigned>(std::min<uint64_t>(config.jobs, std::max<uint64_t>(batches, 1)));
  for (unsigned j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  RunReport report;
  report.programs = config.programs;
  report.batches = batches;
  for (auto& r : results) {
    report.failures.insert(report.failures.end(), r.failures.begin(), r.failures.end());
    report.node_instructions += r.node_instructions;
    report.timing_batches += r.timing;
  }
  return report;
}

}  // namespace dojosim::difftest
