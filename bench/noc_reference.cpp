// SPDX-License-Identifier: MIT
#include "noc_reference.h"

#include <deque>
#include <limits>
#include <memory>

#include "hw/noc/routing.h"

namespace noc_reference {
namespace {

using dojosim::hw::Coord;
using dojosim::hw::Dir;

constexpr unsigned kPorts = 5, kLocal = 4;
constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

unsigned opposite(unsigned d) {
  return d ^ 1u;
}  // East <-> West, North <-> South

struct Flit {
  uint32_t id;
  uint64_t ready;  // the first cycle it may cross the switch
};

}  // namespace

std::vector<uint64_t> run(const std::vector<Packet>& packets, int n, unsigned vcs, unsigned depth,
                          unsigned latency, Arbitration arbitration) {
  static_assert(static_cast<unsigned>(Dir::West) == 1 && static_cast<unsigned>(Dir::South) == 3);
  const auto routing = dojosim::hw::make_routing("xy");
  const size_t nodes = static_cast<size_t>(n) * n;
  const auto node_of = [n](Coord c) { return static_cast<size_t>(c.y) * n + c.x; };
  std::vector<std::deque<Flit>> vc(nodes * kPorts * vcs);  // (node * kPorts + in) * vcs + v
  // credit[(node * kPorts + port) * vcs + v]: free slots of VC v of that input port, as its
  // upstream sees them (the local port's: as the node's injection sees them).
  std::vector<unsigned> credit(vc.size(), depth);
  std::vector<size_t> returning;                     // credits back next cycle
  std::vector<unsigned> in_ptr(nodes * kPorts, 0);   // per input port: VC round robin
  std::vector<unsigned> out_ptr(nodes * kPorts, 0);  // per output port: input round robin
  std::vector<unsigned> vc_next(nodes * kPorts, 0);  // per output port: downstream VC choice
  std::vector<std::deque<uint32_t>> source(nodes);
  std::vector<uint64_t> arrival(packets.size(), 0);
  // The output port a head at `node` wants: a Dir, or kLocal at its destination.
  const auto out_of = [&](size_t node, uint32_t id) {
    const Coord here{static_cast<int>(node % n), static_cast<int>(node / n)};
    const Coord dst = packets[id].dst;
    return here == dst ? kLocal : static_cast<unsigned>(routing->next(here, dst));
  };
  const auto downstream = [&](size_t node, unsigned out) {
    const Coord next = dojosim::hw::step({static_cast<int>(node % n), static_cast<int>(node / n)},
                                         static_cast<Dir>(out));
    return node_of(next) * kPorts + opposite(out);
  };
  const auto has_credit = [&](size_t port) {
    for (unsigned v = 0; v < vcs; ++v)
      if (credit[port * vcs + v] > 0) return true;
    return false;
  };
  const auto older = [&](uint32_t a, uint32_t b) {
    return packets[a].cycle < packets[b].cycle || (packets[a].cycle == packets[b].cycle && a < b);
  };
  size_t next_packet = 0, delivered = 0;
  struct Pick {
    unsigned vc = 0, out = 0;
    uint32_t id = kNone;
  };
  std::vector<Pick> pick(kPorts);
  for (uint64_t t = 0; delivered < packets.size(); ++t) {
    for (size_t c : returning) ++credit[c];
    returning.clear();
    for (; next_packet < packets.size() && packets[next_packet].cycle == t; ++next_packet)
      source[node_of(packets[next_packet].src)].push_back(static_cast<uint32_t>(next_packet));
    // Switch allocation and traversal, router by router: a flit moved this cycle is not
    // ready before t + 1, so the order of routers changes nothing.
    for (size_t node = 0; node < nodes; ++node) {
      for (unsigned in = 0; in < kPorts; ++in) {  // input arbiters
        Pick& p = pick[in];
        p = Pick{};
        const size_t port = node * kPorts + in;
        for (unsigned k = 0; k < vcs; ++k) {
          const unsigned v = arbitration == Arbitration::RoundRobin ? (in_ptr[port] + k) % vcs : k;
          const std::deque<Flit>& q = vc[port * vcs + v];
          if (q.empty() || q.front().ready > t) continue;
          const unsigned out = out_of(node, q.front().id);
          if (out != kLocal && !has_credit(downstream(node, out))) continue;
          if (p.id == kNone || (arbitration == Arbitration::Age && older(q.front().id, p.id)))
            p = {v, out, q.front().id};
          if (arbitration == Arbitration::RoundRobin) break;
        }
      }
      for (unsigned out = 0; out < kPorts; ++out) {  // output arbiters
        const size_t oport = node * kPorts + out;
        unsigned winner = kPorts;
        for (unsigned k = 0; k < kPorts; ++k) {
          const unsigned in =
              arbitration == Arbitration::RoundRobin ? (out_ptr[oport] + k) % kPorts : k;
          if (pick[in].id == kNone || pick[in].out != out) continue;
          if (winner == kPorts ||
              (arbitration == Arbitration::Age && older(pick[in].id, pick[winner].id)))
            winner = in;
          if (arbitration == Arbitration::RoundRobin) break;
        }
        if (winner == kPorts) continue;
        const Pick& p = pick[winner];
        const size_t iport = node * kPorts + winner;
        in_ptr[iport] = (p.vc + 1) % vcs;
        out_ptr[oport] = (winner + 1) % kPorts;
        vc[iport * vcs + p.vc].pop_front();
        // The slot's credit goes back, next cycle, to whoever fills this VC: the upstream
        // router, or the node's injection for the local port.
        returning.push_back(iport * vcs + p.vc);
        if (out == kLocal) {
          arrival[p.id] = t + 1;
          ++delivered;
          continue;
        }
        const size_t dport = downstream(node, out);
        unsigned v = vc_next[oport];
        for (unsigned k = 0; k < vcs && credit[dport * vcs + v] == 0; ++k) v = (v + 1) % vcs;
        vc_next[oport] = (v + 1) % vcs;
        --credit[dport * vcs + v];
        vc[dport * vcs + v].push_back({p.id, t + latency});
      }
    }
    // Injection: one packet per node per cycle, into a local VC with a credit.
    for (size_t node = 0; node < nodes; ++node) {
      if (source[node].empty()) continue;
      const size_t port = node * kPorts + kLocal;
      unsigned v = vc_next[port];
      unsigned k = 0;
      for (; k < vcs && credit[port * vcs + v] == 0; ++k) v = (v + 1) % vcs;
      if (k == vcs) continue;
      vc_next[port] = (v + 1) % vcs;
      --credit[port * vcs + v];
      vc[port * vcs + v].push_back({source[node].front(), t + latency});
      source[node].pop_front();
    }
  }
  return arrival;
}

}  // namespace noc_reference
