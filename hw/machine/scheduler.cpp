// SPDX-License-Identifier: MIT
#include "hw/machine/scheduler.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "hw/machine/host_profile.h"
#include "hw/machine/ranks.h"
#include "hw/node/node.h"
#include "isa/global_address.h"

namespace dojosim::hw {

// The fewest nodes due in one cycle that run on the pool.
constexpr size_t kMinParallelBatch = 32;

// Host threads that run a batch of independent calls: the caller takes part, so `threads`
// host threads in all. Thread j first takes the j-th contiguous slice of the batch, so a node
// due round after round runs on the same host thread and finds its state in that core's
// caches; a thread done with its slice then helps with what is left of the others. Between batches
// a worker spins a little, yielding (rounds follow each other within microseconds), then sleeps.
class HostPool {
 public:
  explicit HostPool(unsigned threads) {
    slices_ = std::vector<Slice>(threads);
    for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~HostPool() {
    {
      std::lock_guard<std::mutex> lock(m_);
      quit_.store(true);
      generation_.fetch_add(1, std::memory_order_release);
    }
    start_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  // Calls fn(k) for every k in [0, n) and returns when all are done; rethrows the first
  // exception a call threw.
  void run(size_t n, const std::function<void(size_t)>& fn) {
    {
      std::lock_guard<std::mutex> lock(m_);
      fn_ = &fn;
      const size_t threads = slices_.size();
      for (size_t j = 0; j < threads; ++j) {
        slices_[j].next.store(n * j / threads, std::memory_order_relaxed);
        slices_[j].end = n * (j + 1) / threads;
      }
      busy_.store(static_cast<unsigned>(workers_.size()), std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    start_.notify_all();
    drain(0);
    for (int i = 0; i < kSpins && busy_.load(std::memory_order_acquire) != 0; ++i)
      std::this_thread::yield();
    {
      std::unique_lock<std::mutex> lock(m_);
      done_.wait(lock, [this] { return busy_.load(std::memory_order_acquire) == 0; });
      fn_ = nullptr;
    }
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  static constexpr int kSpins = 200;  // yields before sleeping: some microseconds

  // Thread `self`: its own slice, then the others' in turn.
  void drain(size_t self) {
    const size_t threads = slices_.size();
    for (size_t d = 0; d < threads; ++d) {
      Slice& s = slices_[(self + d) % threads];
      for (size_t k; (k = s.next.fetch_add(1, std::memory_order_relaxed)) < s.end;) {
        try {
          (*fn_)(k);
        } catch (...) {
          std::lock_guard<std::mutex> lock(m_);
          if (!error_) error_ = std::current_exception();
        }
      }
    }
  }
  void work(size_t self) {
    uint64_t seen = 0;
    for (;;) {
      for (int i = 0; i < kSpins && generation_.load(std::memory_order_acquire) == seen; ++i)
        std::this_thread::yield();
      if (generation_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(m_);
        start_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
      if (quit_.load()) return;
      seen = generation_.load(std::memory_order_acquire);
      drain(self);
      if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(m_);
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex m_;
  std::condition_variable start_, done_;
  std::atomic<uint64_t> generation_{0};
  const std::function<void(size_t)>* fn_ = nullptr;
  // One per thread, each on its own cache line: the next call of the slice, and its end.
  struct alignas(64) Slice {
    std::atomic<size_t> next{0};
    size_t end = 0;
  };
  std::vector<Slice> slices_;
  std::atomic<unsigned> busy_{0};
  std::atomic<bool> quit_{false};
  std::exception_ptr error_;
};

NodeScheduler::NodeScheduler(sc_core::sc_module_name name, double period_ps, unsigned host_threads,
                             FabricPort& port)
    : sc_module(name), time_(period_ps), host_threads_(std::max(1u, host_threads)), port_(port) {
  if (host_threads_ > 1) pool_ = std::make_unique<HostPool>(host_threads_);
  SC_METHOD(round);
  dont_initialize();
  sensitive << ev_wake_;
}

NodeScheduler::~NodeScheduler() = default;

void NodeScheduler::attach(std::vector<NodeModule*> nodes) {
  nodes_ = std::move(nodes);
  while (first_node_ < nodes_.size() && !nodes_[first_node_]) ++first_node_;
  due_.assign(nodes_.size(), Due{});
}

size_t NodeScheduler::min_shared_batch() const {
  return std::max<size_t>(kMinParallelBatch, 2 * size_t{host_threads_});
}

uint64_t NodeScheduler::now_cycles() const {
  return static_cast<uint64_t>(sc_core::sc_time_stamp().to_double() / time_.period_ps() + 0.5);
}

void NodeScheduler::book(uint32_t node) {
  const uint64_t at = due_[node].at();
  if (at == UINT64_MAX) return;
  queue_.push(at, node);
}

void NodeScheduler::wake(uint32_t node, uint64_t cycle) {
  if (!nodes_[node]->mine()) return;  // another rank's
  Due& d = due_[node];
  if (cycle >= d.wake) return;  // an earlier wake-up is pending and covers this one
  d.wake = cycle;
  book(node);
  ev_wake_.notify(time_.until(double(cycle)));
}

void NodeScheduler::round() {
  const uint64_t now = now_cycles();
  batch_.clear();
  keys_.clear();
  while (queue_.first_cycle() <= now) queue_.pop_first(keys_);
  for (const auto& [cycle, node] : keys_) {
    Due& d = due_[node];
    if (d.at() != cycle) continue;  // stale
    // This activation answers every wake-up up to now and replaces the resume cycle; a
    // wake-up still ahead stays pending.
    if (d.wake <= now) d.wake = UINT64_MAX;
    d.resume = UINT64_MAX;
    batch_.push_back(node);
  }
  // Usually sorted already (nodes are booked in index order): checking is cheaper than sorting.
  if (!std::is_sorted(batch_.begin(), batch_.end())) std::sort(batch_.begin(), batch_.end());
  HostProfile& profile = host_profile();
  const double t0 = profile.on ? host_seconds() : 0;
  // Small batches are not worth waking the workers for (microseconds per round): measured on
  // d1, ring_push lost 28% and a matmul 5% when rounds of 4 nodes went to the pool.
  const bool shared = batch_.size() >= min_shared_batch();
  if (pool_ && shared) {
    pool_->run(batch_.size(), [&](size_t k) { nodes_[batch_[k]]->activate(now); });
    ++parallel_rounds_;
  } else {
    for (uint32_t node : batch_) nodes_[node]->activate(now);
  }
  ++rounds_;
  const double t1 = profile.on ? host_seconds() : 0;
  for (uint32_t node : batch_) {  // in index order: the fabric's keys do not depend on threads
    NodeModule& n = *nodes_[node];
    n.publish();
    Due& d = due_[node];
    d.resume = n.resume_cycle();
    d.wake = std::min(d.wake, n.inbox_wake());
    book(node);
  }
  port_.tick(now, batch_.size());
  if (profile.on) {
    const double t2 = host_seconds();
    profile.activate_s += t1 - t0;
    profile.hand_over_s += t2 - t1;
    ++profile.rounds;
    profile.activations += batch_.size();
    if (shared) {
      profile.shared_activate_s += t1 - t0;
      ++profile.shared_rounds;
      profile.shared_activations += batch_.size();
    }
  }
  if (ranks_) {  // the next round is the ranks' to agree on: ev_wake_ brings it
    exchange_requests();
    return;
  }
  const uint64_t next = next_due();
  if (next == UINT64_MAX)
    next_trigger(ev_wake_);
  else
    next_trigger(time_.until(double(next)), ev_wake_);
}

bool NodeScheduler::pushes_within_rank(const Request& r) const {
  if (r.kind != Request::Kind::Push || isa::is_host_address(r.global)) return false;
  const isa::CoreConfig& c = nodes_[first_node_]->core().config();
  const uint64_t x = isa::global_x(r.global), y = isa::global_y(r.global);
  if (x >= c.mesh_w || y >= c.mesh_h) return false;  // the fabric stops the run: keep it whole
  const NodeModule* to = nodes_[y * c.mesh_w + x];
  return to && to->rank() == ranks_->rank();
}

uint64_t NodeScheduler::next_due() {
  return queue_.first_live(
      [this](const CycleQueue::Key& k) { return due_[k.second].at() != k.first; });
}

void NodeScheduler::round_at(uint64_t cycle) {
  // An earlier notification replaces a later one: every rank holds the same one.
  if (ranks_) ev_wake_.notify(time_.until(double(cycle)));
}

// Each rank sends the requests its nodes issued in this round (which every rank's fabric
// drains), its earliest due cycle and whether it ran out of time; every rank then adopts the
// others' requests into its replicas of their nodes, in rank order (their order in the fabric
// is (cycle, node index, sequence) whichever rank brings them), and holds the next round at
// the earliest due cycle of all (or earlier, if a drain wakes a node before it).
void NodeScheduler::exchange_requests() {
  wire_.clear();
  wire_.put(next_due());
  wire_.put(port_.out_of_time);
  for (uint32_t node : batch_) {
    NodeModule& n = *nodes_[node];
    std::vector<Request>& out = n.exported();
    n.announce_dma_wait(n.waits_for_dma_slot());
    wire_.put(node);
    wire_.put(n.announced_dma_wait());
    wire_.put(n.take_finished_now());
    wire_.put(uint64_t{out.size()});
    for (const Request& r : out) write_request(wire_, r, !pushes_within_rank(r));
    out.clear();
  }
  const Ranks::Gathered all = ranks_->all_gather(wire_.bytes());
  uint64_t next = UINT64_MAX;
  bool out_of_time = false;
  for (int r = 0; r < ranks_->size(); ++r) {
    WireReader in = all.reader(r);
    next = std::min(next, in.get<uint64_t>());
    out_of_time |= in.get<bool>();
    if (r == ranks_->rank()) continue;
    while (!in.done()) {
      const auto node = in.get<uint32_t>();
      NodeModule& n = *nodes_.at(node);
      n.announce_dma_wait(in.get<bool>());
      if (in.get<bool>()) n.count_finished();
      adopted_.resize(in.get<uint64_t>());
      for (Request& q : adopted_) q = read_request(in);
      n.adopt(adopted_);
    }
  }
  if (out_of_time && !port_.out_of_time) {
    port_.out_of_time = true;
    sc_core::sc_pause();
  }
  if (next != UINT64_MAX) round_at(next);
}

}  // namespace dojosim::hw
