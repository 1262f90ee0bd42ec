// SPDX-License-Identifier: MIT
#include "runtime/graph/run/groups.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>
#include <thread>
#include <utility>

#include "runtime/graph/validate.h"

namespace dojosim::runtime::graph_run {
namespace {

using Region = hw::HardwareConfig::Region;

// The disabled nodes of `r`, relative to its origin.
std::set<std::pair<int, int>> disabled_in(const hw::HardwareConfig& config, const Region& r) {
  std::set<std::pair<int, int>> out;
  for (int y = 0; y < int(r.height); ++y)
    for (int x = 0; x < int(r.width); ++x)
      if (config.is_disabled({r.origin.x + x, r.origin.y + y})) out.insert({x, y});
  return out;
}

}  // namespace

std::vector<Region> group_regions(const hw::HardwareConfig& config, uint32_t groups,
                                  std::string_view kind) {
  const uint32_t w = config.mesh_width(), h = config.mesh_height();
  if (groups == 0)
    throw graph::GraphError(fmt::format("{} over 0 groups: expected at least 1 group", kind));
  // The grid gx x gy of rectangles: die-aligned first (a replica per die or per block of dies,
  // whose traffic stays off the die edges), then the squarest rectangles.
  uint32_t best_x = 0;
  double best_score = 0;
  for (uint32_t gx = 1; gx <= groups; ++gx) {
    if (groups % gx) continue;
    const uint32_t gy = groups / gx;
    if (w % gx || h % gy) continue;
    const bool dies = config.dies_wide() % gx == 0 && config.dies_high() % gy == 0;
    const double aspect = double(w / gx) / double(h / gy);
    const double score = (dies ? 0 : 100) + std::abs(std::log(aspect));
    if (!best_x || score < best_score) best_x = gx, best_score = score;
  }
  if (!best_x) {
    std::string counts;
    for (uint32_t n = 1, listed = 0; n <= w * h && listed < 8; ++n)
      for (uint32_t gx = 1; gx <= n; ++gx)
        if (n % gx == 0 && w % gx == 0 && h % (n / gx) == 0) {
          counts += fmt::format("{}{}", listed++ ? ", " : "", n);
          break;
        }
    throw graph::GraphError(fmt::format(
        "{} over {} groups: the {}x{} mesh does not cut into {} equal rectangles; counts that "
        "do: {}, ...",
        kind, groups, w, h, groups, counts));
  }
  const uint32_t gx = best_x, gy = groups / gx;
  std::vector<Region> regions;
  for (uint32_t j = 0; j < gy; ++j)
    for (uint32_t i = 0; i < gx; ++i)
      regions.push_back({{int(i * (w / gx)), int(j * (h / gy))}, w / gx, h / gy});
  const auto first = disabled_in(config, regions.front());
  for (const Region& r : regions)
    if (disabled_in(config, r) != first)
      throw graph::GraphError(fmt::format(
          "{} over {} groups: the group at {}:{} has its disabled nodes at other places than "
          "the group at 0:0, so their programs would differ; choose a count whose groups are "
          "whole dies",
          kind, groups, r.origin.x, r.origin.y));
  return regions;
}

hw::HardwareConfig in_region(const hw::HardwareConfig& config, const Region& region) {
  hw::HardwareConfig c = config;
  c.region = region;
  return c;
}

std::string regions_text(const std::vector<Region>& regions) {
  std::string at;
  for (const Region& r : regions)
    at += fmt::format("{}{}:{}", at.empty() ? "" : ", ", r.origin.x, r.origin.y);
  return fmt::format("{}x{} nodes at {}", regions.front().width, regions.front().height, at);
}

Gang::Gang(Executor& executor, const hw::HardwareConfig& config, size_t groups, uint64_t table,
           uint64_t table_bytes)
    : executor_(executor),
      no_staging_(0, 0),
      transfers_(executor, config, no_staging_, table, table_bytes, Staging::Never),
      steps_(groups) {
  executor_.set_gate([this](const mesh::Kernel& k) {
    // The main thread's own steps (the exchange's transfers) run as they are.
    if (std::this_thread::get_id() == main_thread_)
      return executor_.run(std::vector<const mesh::Kernel*>{&k});
    const size_t group = current_group();
    Step s;
    s.kind = Step::Kernel;
    s.kernel = &k;
    submit(group, std::move(s));
    return run_;
  });
}

size_t Gang::current_group() {
  std::lock_guard<std::mutex> lock(mutex_);
  return turn_;
}

Executor::Run Gang::idle() {
  const size_t group = current_group();
  Step s;
  s.kind = Step::Kernel;
  submit(group, std::move(s));
  return run_;
}

Gang::~Gang() {
  executor_.set_gate({});
}

void Gang::submit(size_t group, Step step) {
  std::unique_lock<std::mutex> lock(mutex_);
  steps_[group] = std::move(step);
  turn_ = group + 1 < steps_.size() ? group + 1 : kMain;
  turn_changed_.notify_all();
  if (steps_[group].kind == Step::Done || steps_[group].kind == Step::Failed) return;
  turn_changed_.wait(lock, [&] { return abort_ || turn_ == group; });
  if (abort_) throw Aborted{};
}

TransferStats Gang::exchange(const std::vector<Placement>& to, const std::vector<Placement>& from,
                             const Matrix* ref, std::vector<const Matrix*>& all,
                             const std::string& what) {
  const size_t group = current_group();
  Step s;
  s.kind = Step::Exchange;
  s.to = &to, s.from = &from, s.ref = ref, s.what = what;
  submit(group, std::move(s));
  all = refs_;
  return moved_;
}

void Gang::run_step() {
  const Step::Kind kind = steps_.front().kind;
  for (size_t g = 0; g < steps_.size(); ++g)
    if (steps_[g].kind != kind)
      throw std::logic_error(fmt::format(
          "data parallel: group {} is at another step than group 0 (the groups' ops diverged)", g));
  if (kind == Step::Kernel) {
    std::vector<const mesh::Kernel*> kernels;
    for (const Step& s : steps_)
      if (s.kernel) kernels.push_back(s.kernel);
    if (kernels.empty()) {
      run_ = {};
      run_.ok = true, run_.outcome = "finished";
      run_.start = executor_.machine().cycles();
      return;
    }
    run_ = executor_.run(kernels);
    return;
  }
  // Exchange: what each group sends each other group, to where that group wants it.
  std::vector<Transfers::Move> moves;
  refs_.clear();
  for (size_t q = 0; q < steps_.size(); ++q) {
    refs_.push_back(steps_[q].ref);
    for (size_t s = 0; s < steps_.size(); ++s) {
      const Placement& dest = (*steps_[q].from)[s];
      if (s == q || dest.shards.empty()) continue;
      moves.push_back({{&(*steps_[s].to)[q]}, &dest, identity_map(dest.cols), false, false});
    }
  }
  moved_ = moves.empty() ? TransferStats{} : transfers_.move(moves, steps_.front().what);
}

void Gang::run(const std::function<void(size_t)>& body) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    turn_ = 0;
    abort_ = false;
    error_ = nullptr;
    main_thread_ = std::this_thread::get_id();
  }
  std::vector<std::thread> threads;
  for (size_t g = 0; g < steps_.size(); ++g)
    threads.emplace_back([this, g, &body] {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        turn_changed_.wait(lock, [&] { return abort_ || turn_ == g; });
        if (abort_) return;
      }
      Step end;
      end.kind = Step::Done;
      try {
        body(g);
      } catch (const Aborted&) {
        return;
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        end.kind = Step::Failed;
      }
      submit(g, std::move(end));
    });
  for (;;) {
    std::unique_lock<std::mutex> lock(mutex_);
    turn_changed_.wait(lock, [&] { return turn_ == kMain; });
    bool failed = false, done = true;
    for (const Step& s : steps_) failed |= s.kind == Step::Failed, done &= s.kind == Step::Done;
    if (!failed && !done) try {
        run_step();
      } catch (...) {
        error_ = std::current_exception();
        failed = true;
      }
    if (failed || done) {
      abort_ = true;
      turn_changed_.notify_all();
      break;
    }
    turn_ = 0;
    turn_changed_.notify_all();
  }
  for (std::thread& t : threads) t.join();
  if (error_) std::rethrow_exception(error_);
}

}  // namespace dojosim::runtime::graph_run
