// SPDX-License-Identifier: MIT
// The reference for scripts/bench-machine.sh's communication-bound rows: only the copies that
// any functional simulation of ring_push.s must make, in the order the machine makes them, with
// nothing simulated. Every node owns an outbox and an inbox; per round each node's message is
// copied from its outbox into a buffer (at issue: the sender may reuse its outbox) and from the
// buffer into its partner's inbox (at arrival), and buffers are reused last-freed-first, as
// Machine's pool does. Nodes go in batches of `batch` (the nodes whose messages arrive in one
// cycle), deliveries of a batch before its next pushes.
//   usage: bench_payload_reference NODES BYTES ROUNDS BATCH
// Prints one line: "ns_per_node_round <float>", the best of 3 runs.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace {

using Buffer = std::unique_ptr<uint8_t[]>;

double run_once(size_t nodes, size_t bytes, int rounds, size_t batch, uint64_t& checksum) {
  std::vector<Buffer> outbox(nodes), inbox(nodes);
  for (size_t i = 0; i < nodes; ++i) {
    outbox[i] = std::make_unique<uint8_t[]>(bytes);
    inbox[i] = std::make_unique<uint8_t[]>(bytes);
    std::memset(outbox[i].get(), static_cast<int>(i), bytes);
  }
  std::vector<Buffer> pool, in_flight(nodes);
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < rounds; ++r) {
    for (size_t first = 0; first < nodes; first += batch) {
      const size_t last = std::min(nodes, first + batch);
      for (size_t i = first; i < last; ++i) {  // arrivals: buffer -> the partner's inbox
        if (!in_flight[i]) continue;
        std::memcpy(inbox[i ^ 1].get(), in_flight[i].get(), bytes);
        checksum += inbox[i ^ 1][static_cast<size_t>(r) % bytes];
        pool.push_back(std::move(in_flight[i]));
      }
      for (size_t i = first; i < last; ++i) {  // issues: outbox -> a pooled buffer
        Buffer b;
        if (pool.empty()) {
          b = std::make_unique<uint8_t[]>(bytes);
        } else {
          b = std::move(pool.back());
          pool.pop_back();
        }
        std::memcpy(b.get(), outbox[i].get(), bytes);
        in_flight[i] = std::move(b);
      }
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s NODES BYTES ROUNDS BATCH\n", argv[0]);
    return 2;
  }
  const size_t nodes = std::strtoul(argv[1], nullptr, 10) & ~size_t{1};  // partners are pairs
  const size_t bytes = std::strtoul(argv[2], nullptr, 10);
  const int rounds = std::atoi(argv[3]);
  const size_t batch = std::max<size_t>(1, std::strtoul(argv[4], nullptr, 10));
  if (nodes < 2 || bytes == 0 || rounds < 1) {
    std::fprintf(stderr, "bench_payload_reference: NODES >= 2, BYTES >= 1 and ROUNDS >= 1\n");
    return 2;
  }
  uint64_t checksum = 0;
  double best = 1e300;
  for (int rep = 0; rep < 3; ++rep)
    best = std::min(best, run_once(nodes, bytes, rounds, batch, checksum));
  std::printf("ns_per_node_round %.1f (checksum %llu)\n", 1e9 * best / (double(nodes) * rounds),
              static_cast<unsigned long long>(checksum));
  return 0;
}
