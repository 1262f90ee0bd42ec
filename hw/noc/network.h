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
// B / width cycles behind). A die-edge link takes edge_latency instead of router_latency, a
// tile-edge link (a system of tiles) tile_edge_latency, and the tail then trails by the
// serialisation of the narrowest link on the way.
// Messages between one pair of nodes arrive in the order sent.
//
// Two router models (noc.router; docs/hardware.md "Router models"):
// - ideal: each link is a first-come-first-served server with unlimited buffers in front of
//   it (an ideal output-queued router); the calendars above are the whole model.
// - input_queued: each router also has five input ports (four neighbours and the local
//   injection port) with `vcs` virtual channels of `vc_buffer_flits` flits each. A packet
//   crosses a router's switch only in cycles when both its input port and its output port are
//   free (one flit per input and per output per cycle: a crossbar without speedup), leaves its
//   VC in FIFO order (head-of-line blocking), and enters the next router's VC only when that VC
//   has credits for all its flits (virtual cut-through: a VC holds at least one whole packet),
//   so a full buffer delays the sender, back to the DMA that injects. Still no process per
//   router: the same reservations, computed when the fabric sends, in its deterministic order.
//   Switch allocation is noc.allocator: fcfs (first come, first served in that order) or islip
//   (separable input-first round-robin with one iteration, whose lost matches cost cycles).
//   Its zero-load latency is the formula above, router_latency being the pipeline depth.
//   Die-edge routers (those with a die-edge link) split their VCs by traffic class, as Tesla's
//   transport does off-die (request low, request high, data); their input ports and die-edge
//   links serve each class separately, so a data flood there cannot hold requests back.
//   The ideal model ignores classes.
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
  // Tiles tile the mesh in blocks of tile_w x tile_h nodes (whole dies); links between blocks
  // are tile-edge links, with their own width and latency. 0 means a single tile.
  int tile_w = 0, tile_h = 0;
  uint32_t tile_edge_link_bytes_per_cycle = 0;
  uint32_t tile_edge_latency = 0;
  std::string router;            // a name of router_names()
  std::string allocator;         // input_queued: a name of allocator_names()
  uint32_t vcs = 0;              // input_queued: virtual channels per input port
  uint32_t vc_buffer_flits = 0;  // input_queued: flits of link width one VC holds
  // input_queued, die-edge routers: VCs of each input port kept for each request class; data
  // takes the remaining vcs - low - high. Each must be at least 1 when the mesh has die edges.
  uint32_t edge_vcs_request_low = 0;
  uint32_t edge_vcs_request_high = 0;
};

// What a message carries, after TTP's virtual channels (VC0 REQ_LO, VC1 REQ_HI, VC2 DATA;
// dojo-facts.md section 2). Callers choose it (hw/machine/fabric.cpp); docs/hardware.md
// "Traffic classes" says which message takes which.
enum class TrafficClass : uint8_t { RequestLow, RequestHigh, Data };
constexpr unsigned kTrafficClasses = 3;

// The router models noc.router may name.
std::vector<std::string> router_names();
// The input_queued model's switch allocators noc.allocator may name (input_queued.cpp).
std::vector<std::string> allocator_names();

// One packet crossing one router of the input_queued model (Network::set_hop_log): what the
// tests check port exclusivity and credit accounting against. Ports are Dir values; 4 is the
// local port (injection for in_port, ejection for out_port).
struct HopRecord {
  Coord at;
  uint8_t in_port = 0, out_port = 0, vc = 0;
  uint64_t arrive = 0;  // cycle the head is written into the input VC; flit j at arrive + j
  uint64_t depart = 0;  // cycle the head crosses the switch; both ports held [depart, +hold)
  uint32_t hold = 0;    // flit j leaves the VC at depart + j, the last at depart + hold - 1
  uint32_t flits = 0;
  bool to_host = false;  // ejected to the host I/O: no output port reserved
  TrafficClass cls = TrafficClass::Data;
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
  // every link on the route. Messages between a pair arrive in the order sent, whatever their
  // class (a semaphore signal must not overtake the data it announces).
  uint64_t send(Coord src, Coord dst, uint64_t bytes, uint64_t cycle, Port from = Port::Sram,
                Port to = Port::Sram, TrafficClass cls = TrafficClass::Data);

  // A message from src to dst that reached dst at `arrival` by another way (the Z-plane):
  // no earlier than the pair's last message, which it becomes. Returns its arrival.
  uint64_t in_order(Coord src, Coord dst, uint64_t arrival);
  // What send() would return on an idle network: the documented formula.
  uint64_t zero_load_latency(Coord src, Coord dst, uint64_t bytes) const;
  std::vector<Coord> route(Coord src, Coord dst) const;  // nodes visited, src and dst included

  int width() const { return width_; }
  int height() const { return height_; }
  const NocParams& params() const { return params_; }
  bool is_die_edge(Coord from, Dir d) const;  // true for a tile edge too
  bool is_tile_edge(Coord from, Dir d) const;
  void set_trace(TraceWriter* trace) { trace_ = trace; }  // a span per packet per link
  void set_hop_log(std::vector<HopRecord>* log) { hop_log_ = log; }  // input_queued only
  const LinkStats& link_stats(Coord from, Dir d) const { return links_[link_index(from, d)].stats; }
  const LinkStats& injection_stats(Coord c) const { return links_[port_index(c, 0)].stats; }
  const LinkStats& ejection_stats(Coord c) const { return links_[port_index(c, 1)].stats; }

 private:
  // The counters first: they then share a cache line with the calendar's base, and a packet
  // touches two lines of a link it crosses, not three.
  // What a link between two routers crosses: its width and latency are kind_width_/latency_.
  enum Kind : uint8_t { kMesh, kDieEdge, kTileEdge, kKinds };
  struct Link {
    LinkStats stats;
    isa::UnitCalendar calendar;
    uint8_t kind = kMesh;  // known at construction
  };
  Kind kind_of(Coord from, Dir d) const;
  size_t node_index(Coord c) const { return static_cast<size_t>(c.y) * width_ + c.x; }
  size_t link_index(Coord from, Dir d) const {
    return node_index(from) * 6 + static_cast<size_t>(d);
  }
  size_t port_index(Coord c, int eject) const { return node_index(c) * 6 + 4 + eject; }
  // Reserves `link` for a packet of `wire_bytes` whose head arrives at `head` and whose tail
  // cannot leave before `tail_ready`; returns the cycle it starts and sets `end`.
  uint64_t traverse(Link& link, uint64_t head, uint64_t tail_ready, uint64_t serialise,
                    uint64_t wire_bytes, uint64_t& end);
  // Counts a packet of `wire_bytes` held on `link` over [start, start + held), its head
  // having arrived at `head`.
  void account(Link& link, uint64_t head, uint64_t start, uint64_t held, uint64_t serialise,
               uint64_t wire_bytes);
  // The trace span of that packet: kept out of account() so that it inlines.
  void trace_link(const Link& link, uint64_t wire_bytes, uint64_t start, uint64_t end);
  uint64_t packets_of(uint64_t bytes) const;
  // One packet through the ideal and the input_queued model; returns when its tail is in.
  uint64_t send_packet_ideal(Coord src, Coord dst, uint64_t wire, uint64_t cycle,
                             uint64_t& host_next, Port from, Port to);
  uint64_t send_packet_iq(Coord src, Coord dst, uint64_t wire, uint64_t cycle, uint64_t& host_next,
                          Port from, Port to, TrafficClass cls);  // input_queued.cpp
  void make_routers();                          // input_queued.cpp

  int width_, height_;
  NocParams params_;
  uint64_t kind_width_[kKinds], kind_latency_[kKinds];
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
  // The input_queued model's routers (input_queued.cpp); null for the ideal model.
  struct Routers;
  struct RoutersDeleter {
    void operator()(Routers* r) const;
  };
  std::unique_ptr<Routers, RoutersDeleter> routers_;
  std::vector<HopRecord>* hop_log_ = nullptr;
};

}  // namespace dojosim::hw
