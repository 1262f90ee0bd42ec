// SPDX-License-Identifier: MIT
// The on-chip network as a reservation model: no process per router and nothing per cycle.
// A message is cut into packets; each packet reserves, link by link along its route, the
// first cycles at or after its arrival at which the link is free (a calendar per link), so
// later traffic sees the load of earlier traffic, links are shared, and queues form where
// flows meet. Every node has an injection link (network interface -> router, the router's
// SRAM read port) and an ejection link (router -> SRAM write port) of the mesh link width.
//
// Zero-load latency of a packet of B bytes (payload + header) over h hops, all on one die:
//   (h + 1) * router_latency + max(1, ceil(B / link_bytes_per_cycle))
// (the head spends router_latency in each of the h + 1 routers it passes; the tail follows
// B / width cycles behind). A die-edge link takes edge_latency instead of router_latency,
// and the tail then trails by the serialisation of the narrowest link on the way.
// Messages between one pair of nodes arrive in the order sent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/container/flat_map.hpp>
#include <boost/container/small_vector.hpp>

#include "hw/noc/geometry.h"
#include "hw/noc/routing.h"
#include "isa/unit_calendar.h"

namespace dojosim::hw {

// Filled by hw::noc_params(config) (hw/config/machine_params.h): the defaults live in
// hw/config/params.def only. A zero width or an empty routing name is rejected by Network.
struct NocParams {
  uint32_t link_bytes_per_cycle = 0;
  uint32_t router_latency = 0;
  uint32_t max_payload_bytes = 0;
  uint32_t header_bytes = 0;
  std::string routing;
  // Dies tile the mesh in blocks of die_w x die_h nodes; links between blocks are die-edge
  // links. 0 means a single die.
  int die_w = 0, die_h = 0;
  uint32_t edge_link_bytes_per_cycle = 0;
  uint32_t edge_latency = 0;
};

// Counters of one link; derived figures (utilisation, bandwidth) are computed at report time.
struct LinkStats {
  uint64_t bytes = 0;        // bytes, headers included
  uint64_t packets = 0;
  uint64_t busy_cycles = 0;  // cycles the link was transmitting
  uint64_t wait_cycles = 0;  // cycles packets waited for this link, summed
  uint64_t peak_queue = 0;   // most packets ahead of one arriving packet
};

enum class LinkKind : uint8_t { Mesh, DieEdge, Injection, Ejection };

// Where a message enters or leaves the mesh at its end node: that node's SRAM (through its
// injection or ejection link), or the die edge's I/O to a DIP (which has its own link model).
enum class Port : uint8_t { Sram, HostIo };

class TraceWriter;

class Network {
 public:
  Network(int width, int height, const NocParams& params);  // throws std::invalid_argument

  // Sends `bytes` from src to dst, injected no earlier than `cycle`; returns the cycle at
  // which the last byte is in the destination's SRAM (or handed to the host I/O). Reserves
  // every link on the route.
  uint64_t send(Coord src, Coord dst, uint64_t bytes, uint64_t cycle, Port from = Port::Sram,
                Port to = Port::Sram);

  // What send() would return on an idle network: the documented formula.
  uint64_t zero_load_latency(Coord src, Coord dst, uint64_t bytes) const;
  std::vector<Coord> route(Coord src, Coord dst) const;  // nodes visited, src and dst included

  int width() const { return width_; }
  int height() const { return height_; }
  const NocParams& params() const { return params_; }
  bool is_die_edge(Coord from, Dir d) const;
  void set_trace(TraceWriter* trace) { trace_ = trace; }  // a span per packet per link
  const LinkStats& link_stats(Coord from, Dir d) const { return links_[link_index(from, d)].stats; }
  const LinkStats& injection_stats(Coord c) const { return links_[port_index(c, 0)].stats; }
  const LinkStats& ejection_stats(Coord c) const { return links_[port_index(c, 1)].stats; }

 private:
  // The counters first: they then share a cache line with the calendar's base, and a packet
  // touches two lines of a link it crosses, not three.
  struct Link {
    LinkStats stats;
    isa::UnitCalendar calendar;
  };
  size_t node_index(Coord c) const { return static_cast<size_t>(c.y) * width_ + c.x; }
  size_t link_index(Coord from, Dir d) const {
    return node_index(from) * 6 + static_cast<size_t>(d);
  }
  size_t port_index(Coord c, int eject) const { return node_index(c) * 6 + 4 + eject; }
  // Reserves `link` for a packet of `wire_bytes` whose head arrives at `head` and whose tail
  // cannot leave before `tail_ready`; returns the cycle it starts and sets `end`.
  uint64_t traverse(Link& link, uint64_t head, uint64_t tail_ready, uint64_t serialise,
                    uint64_t wire_bytes, uint64_t& end);
  uint64_t packets_of(uint64_t bytes) const;

  int width_, height_;
  NocParams params_;
  std::unique_ptr<Routing> routing_;
  std::vector<Link> links_;
  // Per source node, the last arrival at each destination it sent to: in-order delivery. A
  // node talks to few others, so a small sorted vector beats a hash map here, and its first
  // entries sit inline, not in a heap block of their own.
  using LastArrivals =
      boost::container::flat_map<uint32_t, uint64_t, std::less<uint32_t>,
                                 boost::container::small_vector<std::pair<uint32_t, uint64_t>, 2>>;
  std::vector<LastArrivals> last_arrival_;
  TraceWriter* trace_ = nullptr;
};

}  // namespace dojosim::hw
