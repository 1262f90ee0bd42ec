// SPDX-License-Identifier: MIT
// The input_queued router model (network.h; docs/hardware.md "Router models"): input ports
// with virtual channels and credit-based flow control, as reservations computed per packet.
//
// A packet is followed router by router, in the fabric's order (cycle, node, sequence). In
// each router its head is written into a VC of the input port it arrives on and may cross the
// switch router_latency - 1 cycles later (the pipeline: route, VC and switch allocation), no
// earlier than the previous packet of its VC has left (FIFO), and no earlier than the VC it
// takes in the next router has a credit for each of its flits (a credit comes back the cycle
// after the flit that held the slot left). It then takes the first cycles from there at which
// its input port and its output port are both free, holding both for its flits: one flit per
// input and per output per cycle. It arrives in the next router one cycle later (a die-edge
// link: edge_latency - router_latency + 1 later; a tile-edge link: tile_edge_latency's).
//
// Policies. Switch allocation (noc.allocator):
// - fcfs: first come, first served in the fabric's order (an earlier request keeps the cycles
//   it took; a later one takes the free cycles left, possibly earlier ones).
// - islip: a separable input-first allocator with round-robin arbiters and one iteration, as
//   BookSim's iSLIP with sw_alloc_iters = 1. In a cycle each input port's arbiter picks one of
//   its VCs whose head requests (ready, with a credit downstream), starting one past the VC it
//   granted last; that pointer moves only when a grant is accepted. If the pick's output is
//   taken in that cycle the input port sends nothing, though another of its VCs could have
//   gone: a lost match, and the pointer stays. A packet is scheduled as under fcfs, but a free
//   cycle counts only if its input's arbiter picks its VC there among the requests known then
//   (those of packets scheduled before it in the fabric's order: later ones are not known).
//   Outputs go, among inputs that picked them, to the request scheduled first.
// VC allocation takes the VC of the next input port the packet can leave soonest (its credits,
// and the packets scheduled ahead of it there: choose_vc), ties going round-robin from the VC
// after the one taken last at that port.
//
// Traffic classes (docs/hardware.md "Traffic classes"): a die-edge router (one with a die-edge
// link) keeps VCs [0, low) of each input port for request-low packets, the next `high` for
// request-high ones and the rest for data. A request there crosses its input port and its
// die-edge link on calendars of its own class ("lanes"), so data reserved ahead of it cannot
// hold it back: the switch serves the classes' VCs as if by round robin, and a request is
// one flit. NOTE: the model cannot move data already scheduled, so the cycle a request takes
// is paid back on the shared calendar at its next free cycle: the port and link carry their
// width over time, and the data behind pays for the request, a little later than it would.
#include <fmt/format.h>

#include <algorithm>

#include "hw/noc/network.h"

namespace dojosim::hw {
namespace {

constexpr unsigned kPorts = 5;  // the four directions and the local port
constexpr unsigned kLocal = 4;

unsigned opposite(Dir d) {
  switch (d) {
    case Dir::East:
      return static_cast<unsigned>(Dir::West);
    case Dir::West:
      return static_cast<unsigned>(Dir::East);
    case Dir::North:
      return static_cast<unsigned>(Dir::South);
    default:
      return static_cast<unsigned>(Dir::North);
  }
}

uint64_t ceil_div(uint64_t a, uint64_t b) {
  return (a + b - 1) / b;
}

// The first t >= from at which `a` and `b` (if any) are both free for the packet's hold: its
// serialisation, longer while its tail is still arriving (`tail_ready`).
uint64_t earliest_pair(const isa::UnitCalendar& a, const isa::UnitCalendar* b, uint64_t t,
                       uint64_t serialise, uint64_t tail_ready, unsigned& hold) {
  for (;;) {
    const auto h = static_cast<unsigned>(std::max(serialise, tail_ready > t ? tail_ready - t : 0));
    uint64_t u = a.earliest(t, h);
    if (u == t && b) u = b->earliest(t, h);
    if (u == t) {
      hold = h;
      return t;
    }
    t = u;
  }
}

}  // namespace

std::vector<std::string> allocator_names() {
  return {"fcfs", "islip"};
}

struct Network::Routers {
  struct Vc {
    uint64_t entered = 0;    // flits ever written into the VC
    uint64_t left = 0;       // flits ever gone from it
    uint64_t free_from = 0;  // cycle after the last packet's tail left it
  };
  static constexpr uint32_t kNoEdge = UINT32_MAX;
  static constexpr unsigned kLaneSlots = kPorts + 4;  // in ports, then die-edge links by Dir
  unsigned vcs, depth;
  bool islip = false;  // noc.allocator; else first come, first served
  unsigned class_first[kTrafficClasses], class_count[kTrafficClasses];  // die-edge routers
  std::vector<uint32_t> edge_router;        // per node: its index among die-edge routers
  std::vector<isa::UnitCalendar> lanes;     // (edge router * kLaneSlots + slot) * 2 + class
  std::vector<isa::UnitCalendar> in_ports;  // node * kPorts + port
  std::vector<Vc> vc;                       // (node * kPorts + port) * vcs + v
  std::vector<uint64_t> departures;         // per VC, the cycles its last `depth` flits left
  std::vector<uint8_t> next_vc;             // per port, where the round-robin starts
  // The switch allocator's input arbiters: per input port, its last kRequests switch requests
  // (a ring, newest at request_next): a VC's head requests from `from` (ready, with a credit
  // downstream) until its grant at `grant`.
  struct Request {
    uint64_t from = 0, grant = 0;
    uint8_t vc = 0;
  };
  static constexpr unsigned kRequests = 16;
  std::vector<Request> requests;      // port * kRequests + slot
  std::vector<uint8_t> request_next;  // per port, the slot the next request takes

  Vc& at(size_t port, unsigned v) { return vc[port * vcs + v]; }

  // The input arbiter of `port` in cycle t, when VC v requests: a round-robin arbiter over the
  // VCs whose heads request in t, starting one past the VC granted last before t (its pointer
  // moves only when a grant is accepted). Returns 0 if v wins; else v's request is lost in t
  // (the winner is a request the switch could not grant: its output was taken), and the
  // first cycle after t in which the pointer can have moved, a grant at this port.
  uint64_t input_arbiter(size_t port, unsigned v, uint64_t t) const {
    const Request* ring = &requests[port * kRequests];
    uint64_t last = 0, next = UINT64_MAX;
    unsigned pointer = 0;
    for (unsigned k = 0; k < kRequests; ++k) {
      const Request& q = ring[k];
      if (q.grant < t && q.grant >= last && q.grant != 0) last = q.grant, pointer = q.vc + 1u;
      if (q.grant > t) next = std::min(next, q.grant);
    }
    const unsigned mine = (v + vcs - pointer % vcs) % vcs;
    for (unsigned k = 0; k < kRequests; ++k) {
      const Request& q = ring[k];
      if (q.vc != v && q.from <= t && t < q.grant && (q.vc + vcs - pointer % vcs) % vcs < mine)
        return next;
    }
    return 0;
  }

  void request(size_t port, unsigned v, uint64_t from, uint64_t grant) {
    uint8_t& slot = request_next[port];
    requests[port * kRequests + slot] = {from, grant, static_cast<uint8_t>(v)};
    slot = static_cast<uint8_t>((slot + 1) % kRequests);
  }

  // The earliest cycle a packet of `flits` may start into VC v of `port`: every flit finds a
  // free slot (the one `depth` flits earlier has left, and its credit is back). Nothing else:
  // the packet may be written in before packets scheduled ahead of it in the VC have arrived
  // (it still leaves after them: leave() keeps the VC in scheduling order). The credits stay
  // exact: a VC's packets leave in scheduling order, so ring slot `entered + j - depth` is the
  // slot that frees j-th earliest, and a slot a packet scheduled ahead will still occupy frees
  // after that packet has arrived and left, later than any cycle it is taken from here.
  uint64_t credit_bound(size_t port, unsigned v, unsigned flits) {
    const Vc& c = at(port, v);
    const uint64_t* ring = &departures[(port * vcs + v) * depth];
    uint64_t bound = 0;
    for (unsigned j = 0; j < flits; ++j) {
      const uint64_t slot = c.entered + j;
      if (slot < depth) continue;
      const uint64_t credit = ring[(slot - depth) % depth] + 1;  // flit j sent at start + j
      if (credit > j) bound = std::max(bound, credit - j);
    }
    return bound;
  }

  // The class's lane at a die-edge router, or null where the class shares the calendars.
  isa::UnitCalendar* lane(size_t node, unsigned slot, TrafficClass cls) {
    const uint32_t e = edge_router[node];
    if (e == kNoEdge || cls == TrafficClass::Data) return nullptr;
    return &lanes[(size_t{e} * kLaneSlots + slot) * 2 + static_cast<unsigned>(cls)];
  }

  // VCs [first, first + count) of `port` are open to the packet: all of them, or its class's
  // at a die-edge router. The packet takes the one it can leave soonest, as a bound on the
  // cycle it is sent into it: the VC's credit bound, or, if later, the cycle the VC's last
  // packet leaves less `reach` (the cycles from being sent to being ready to leave), since it
  // leaves after the packets scheduled ahead of it there. Sets `bound` to its credit bound.
  // NOTE: without the second term, a deeper pipeline lost throughput the cycle-by-cycle
  // reference does not (bench/README.md, "A cycle-by-cycle reference"): a packet took the VC
  // with the soonest credit behind a packet scheduled ahead of it that arrives much later, and
  // waited there holding a slot, so the back-pressure grew with the depth.
  unsigned choose_vc(size_t port, TrafficClass cls, unsigned flits, uint64_t reach,
                     uint64_t& bound) {
    unsigned first = 0, count = vcs;
    if (edge_router[port / kPorts] != kNoEdge) {
      first = class_first[static_cast<unsigned>(cls)];
      count = class_count[static_cast<unsigned>(cls)];
    }
    const auto soonest = [&](unsigned v, uint64_t credit) {
      const uint64_t behind = at(port, v).free_from;
      return std::max(credit, behind > reach ? behind - reach : 0);
    };
    unsigned best = first + next_vc[port] % count;
    bound = credit_bound(port, best, flits);
    uint64_t best_at = soonest(best, bound);
    for (unsigned k = 1; k < count; ++k) {
      const unsigned v = first + (next_vc[port] + k) % count;
      const uint64_t b = credit_bound(port, v, flits);
      const uint64_t at_v = soonest(v, b);
      if (at_v < best_at) best = v, bound = b, best_at = at_v;
    }
    next_vc[port] = static_cast<uint8_t>((best - first + 1) % count);
    return best;
  }

  void enter(size_t port, unsigned v, unsigned flits) { at(port, v).entered += flits; }

  void leave(size_t port, unsigned v, uint64_t depart, unsigned hold, unsigned flits) {
    Vc& c = at(port, v);
    uint64_t* ring = &departures[(port * vcs + v) * depth];
    for (unsigned j = 0; j < flits; ++j)
      ring[(c.left + j) % depth] = j + 1 < flits ? depart + j : depart + hold - 1;
    c.left += flits;
    c.free_from = depart + hold;
  }
};

void Network::RoutersDeleter::operator()(Routers* r) const {
  delete r;
}

void Network::make_routers() {
  const size_t ports = static_cast<size_t>(width_) * height_ * kPorts;
  auto* r = new Routers;
  routers_.reset(r);
  r->vcs = params_.vcs;
  r->depth = params_.vc_buffer_flits;
  r->islip = params_.allocator == "islip";
  if (r->islip) {
    r->requests.resize(ports * Routers::kRequests);
    r->request_next.resize(ports);
  }
  r->in_ports.resize(ports);
  r->vc.resize(ports * r->vcs);
  r->departures.resize(ports * r->vcs * r->depth);
  r->next_vc.resize(ports);
  const unsigned low = params_.edge_vcs_request_low, high = params_.edge_vcs_request_high;
  r->class_first[0] = 0, r->class_count[0] = low;
  r->class_first[1] = low, r->class_count[1] = high;
  r->class_first[2] = low + high, r->class_count[2] = r->vcs - low - high;
  r->edge_router.assign(static_cast<size_t>(width_) * height_, Routers::kNoEdge);
  uint32_t edges = 0;
  for (int y = 0; y < height_; ++y)
    for (int x = 0; x < width_; ++x)
      for (int d = 0; d < 4; ++d)
        if (is_die_edge({x, y}, static_cast<Dir>(d))) {
          r->edge_router[node_index({x, y})] = edges++;
          break;
        }
  r->lanes.resize(size_t{edges} * Routers::kLaneSlots * 2);
}

uint64_t Network::send_packet_iq(Coord src, Coord dst, uint64_t wire, uint64_t cycle,
                                 uint64_t& host_next, Port from, Port to, TrafficClass cls) {
  Routers& r = *routers_;
  const uint64_t latency = params_.router_latency;
  const uint64_t ser = std::max<uint64_t>(1, ceil_div(wire, params_.link_bytes_per_cycle));
  const auto flits = static_cast<unsigned>(ser);
  // Cycles from crossing a switch to the head being in the next router's VC, over a link whose
  // hop takes `hop` cycles (router_latency on the mesh).
  const auto link_delay = [latency](uint64_t hop) {
    return std::max<uint64_t>(1, hop + 1 > latency ? hop + 1 - latency : 1);
  };

  // Into a VC of the source router's local port: through the injection link (the DMA's SRAM
  // read port), or from the host I/O back to back.
  size_t port = node_index(src) * kPorts + kLocal;
  uint64_t bound = 0;
  unsigned vc = r.choose_vc(port, cls, flits, latency, bound);
  uint64_t start, end;
  if (from == Port::Sram) {
    Link& inj = links_[port_index(src, 0)];
    start = inj.calendar.earliest(std::max(cycle, bound), flits);
    inj.calendar.reserve(start, flits);
    account(inj, cycle, start, ser, ser, wire);
  } else {
    start = std::max(host_next, bound);
    host_next = start + ser;
  }
  end = start + ser;
  r.enter(port, vc, flits);
  uint64_t arrive = start + 1;    // the head is in the input VC
  uint64_t tail = end + latency;  // the tail cannot leave the router before this
  unsigned in = kLocal;
  for (Coord here = src;;) {
    const bool last = here == dst;
    Dir d = Dir::East;
    Link* out_link = nullptr;
    uint64_t width = params_.link_bytes_per_cycle, hop = latency;
    if (!last) {
      d = routing_->next(here, dst);
      out_link = &links_[link_index(here, d)];
      if (out_link->kind != kMesh)
        width = kind_width_[out_link->kind], hop = kind_latency_[out_link->kind];
    } else if (to == Port::Sram) {
      out_link = &links_[port_index(dst, 1)];
    }
    const uint64_t out_ser = std::max<uint64_t>(1, ceil_div(wire, width));
    const uint64_t ready = arrive + latency - 1;
    uint64_t lb = std::max(ready, r.at(port, vc).free_from);
    size_t next_port = 0;
    unsigned next_vc = 0;
    if (!last) {
      next_port = node_index(step(here, d)) * kPorts + opposite(d);
      uint64_t credit = 0;
      next_vc = r.choose_vc(next_port, cls, flits, link_delay(hop) + latency - 1, credit);
      lb = std::max(lb, credit);
    }
    // A request at a die-edge router crosses on its class's lanes (its input port; its link
    // if that is a die-edge link) and pays the cycles back on the shared calendars.
    isa::UnitCalendar& in_shared = r.in_ports[port];
    isa::UnitCalendar* in_lane = r.lane(node_index(here), in, cls);
    isa::UnitCalendar* out_shared = out_link ? &out_link->calendar : nullptr;
    isa::UnitCalendar* out_lane =
        out_link && out_link->kind != kMesh  // die-edge or tile-edge: both cross a die edge
            ? r.lane(node_index(here), kPorts + static_cast<unsigned>(d), cls)
            : nullptr;
    isa::UnitCalendar& in_cal = in_lane ? *in_lane : in_shared;
    isa::UnitCalendar* out_cal = out_lane ? out_lane : out_shared;
    unsigned hold = 0;
    uint64_t t = earliest_pair(in_cal, out_cal, lb, out_ser, tail, hold);
    // islip: in a cycle where both ports are free the input's arbiter must also pick this
    // VC. A request on its class's lane has the lane to itself.
    if (r.islip && !in_lane) {
      for (uint64_t retry; (retry = r.input_arbiter(port, vc, t)) != 0;)
        t = earliest_pair(in_cal, out_cal, retry, out_ser, tail, hold);
      r.request(port, vc, lb, t);
    }
    in_cal.reserve(t, hold);
    if (in_lane) in_shared.reserve(in_shared.earliest(t, hold), hold);
    if (out_link) {
      out_cal->reserve(t, hold);
      if (out_lane) out_shared->reserve(out_shared->earliest(t, hold), hold);
      account(*out_link, ready, t, hold, out_ser, wire);
    }
    r.leave(port, vc, t, hold, flits);
    if (hop_log_)
      hop_log_->push_back({here, static_cast<uint8_t>(in),
                           static_cast<uint8_t>(last ? kLocal : static_cast<unsigned>(d)),
                           static_cast<uint8_t>(vc), arrive, t, hold, flits,
                           last && to == Port::HostIo, cls});
    if (last) return t + hold;
    r.enter(next_port, next_vc, flits);
    // The head leaves the next router's pipeline `hop` cycles after this switch traversal.
    arrive = t + link_delay(hop);
    tail = t + hold + std::max(latency, hop);
    port = next_port, vc = next_vc, in = opposite(d);
    here = step(here, d);
  }
}

}  // namespace dojosim::hw
