// SPDX-License-Identifier: MIT
#include "hw/noc/network.h"

#include <fmt/format.h>

#include "hw/trace/trace.h"

#include <algorithm>
#include <stdexcept>

namespace dojosim::hw {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }
// A packet holds a link for at least one cycle, even a header-less signal-only one.
uint64_t serialisation(uint64_t wire_bytes, uint64_t width) {
  return std::max<uint64_t>(1, ceil_div(wire_bytes, width));
}

}  // namespace

std::vector<std::string> router_names() {
  return {"ideal", "input_queued"};
}

Network::Network(int width, int height, const NocParams& params)
    : width_(width), height_(height), params_(params), routing_(make_routing(params.routing)) {
  if (width < 1 || height < 1)
    throw std::invalid_argument(fmt::format("mesh {}x{}: needs at least one node", width, height));
  if (!routing_)
    throw std::invalid_argument(
        fmt::format("noc.routing = {}: not a routing policy", params.routing));
  const bool tiles = params.tile_w > 0 && params.tile_h > 0;
  if (params.link_bytes_per_cycle == 0 || params.edge_link_bytes_per_cycle == 0 ||
      (tiles && params.tile_edge_link_bytes_per_cycle == 0) || params.max_payload_bytes == 0)
    throw std::invalid_argument("link widths and the packet payload must be at least 1 byte");
  if (params.router == "input_queued") {
    const std::vector<std::string> allocators = allocator_names();
    if (std::find(allocators.begin(), allocators.end(), params.allocator) == allocators.end())
      throw std::invalid_argument(
          fmt::format("noc.allocator = {}: not a switch allocator; expected one of {}",
                      params.allocator, fmt::join(allocators, ", ")));
    const uint64_t flits = serialisation(uint64_t{params.max_payload_bytes} + params.header_bytes,
                                         params.link_bytes_per_cycle);
    if (params.vcs < 1 || params.vcs > 255)
      throw std::invalid_argument(
          fmt::format("noc.vcs = {}: must be in [1, 255] virtual channels", params.vcs));
    if (params.vc_buffer_flits < flits)
      throw std::invalid_argument(fmt::format(
          "noc.vc_buffer_flits = {}: must hold a whole packet of {} flits (virtual cut-through)",
          params.vc_buffer_flits, flits));
    const bool edges =
        params.die_w > 0 && params.die_h > 0 && (width > params.die_w || height > params.die_h);
    for (auto [key, n] : {std::pair{"noc.edge_vcs_request_low", params.edge_vcs_request_low},
                          std::pair{"noc.edge_vcs_request_high", params.edge_vcs_request_high}})
      if (edges && n < 1)
        throw std::invalid_argument(
            fmt::format("{} = {}: die-edge routers need at least 1 VC for the class", key, n));
    if (edges && params.edge_vcs_request_low + params.edge_vcs_request_high >= params.vcs)
      throw std::invalid_argument(fmt::format(
          "noc.vcs = {}: leaves no VC for data at die-edge routers after {} + {} for requests",
          params.vcs, params.edge_vcs_request_low, params.edge_vcs_request_high));
    make_routers();
  } else if (params.router != "ideal") {
    throw std::invalid_argument(fmt::format(
        "noc.router = {}: not a router model; expected one of ideal, input_queued", params.router));
  }
  kind_width_[kMesh] = params.link_bytes_per_cycle;
  kind_latency_[kMesh] = params.router_latency;
  kind_width_[kDieEdge] = params.edge_link_bytes_per_cycle;
  kind_latency_[kDieEdge] = params.edge_latency;
  kind_width_[kTileEdge] = params.tile_edge_link_bytes_per_cycle;
  kind_latency_[kTileEdge] = params.tile_edge_latency;
  links_.resize(static_cast<size_t>(width) * height * 6);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int d = 0; d < 4; ++d)
        links_[link_index({x, y}, static_cast<Dir>(d))].kind = kind_of({x, y}, static_cast<Dir>(d));
  last_arrival_.resize(static_cast<size_t>(width) * height);
}

bool Network::is_die_edge(Coord from, Dir d) const {
  const Coord to = step(from, d);
  if (params_.die_w <= 0 || params_.die_h <= 0) return false;
  return from.x / params_.die_w != to.x / params_.die_w ||
         from.y / params_.die_h != to.y / params_.die_h;
}

bool Network::is_tile_edge(Coord from, Dir d) const {
  const Coord to = step(from, d);
  if (params_.tile_w <= 0 || params_.tile_h <= 0) return false;
  return from.x / params_.tile_w != to.x / params_.tile_w ||
         from.y / params_.tile_h != to.y / params_.tile_h;
}

Network::Kind Network::kind_of(Coord from, Dir d) const {
  return is_tile_edge(from, d) ? kTileEdge : is_die_edge(from, d) ? kDieEdge : kMesh;
}

std::vector<Coord> Network::route(Coord src, Coord dst) const {
  std::vector<Coord> path{src};
  for (Coord here = src; here != dst;) path.push_back(here = step(here, routing_->next(here, dst)));
  return path;
}

uint64_t Network::packets_of(uint64_t bytes) const {
  // A zero-byte push still sends one header-only packet: it carries the semaphore signal.
  return std::max<uint64_t>(1, ceil_div(bytes, params_.max_payload_bytes));
}

uint64_t Network::zero_load_latency(Coord src, Coord dst, uint64_t bytes) const {
  // The last packet decides; on an idle network the packets stream back to back through the
  // injection link, so the message's tail leaves after all of them have serialised.
  const uint64_t packets = packets_of(bytes);
  const uint64_t last = bytes - (packets - 1) * params_.max_payload_bytes;
  const uint64_t full_ser =
      serialisation(params_.max_payload_bytes + params_.header_bytes, params_.link_bytes_per_cycle);
  const uint64_t last_ser =
      serialisation(last + params_.header_bytes, params_.link_bytes_per_cycle);
  uint64_t head = (packets - 1) * full_ser;  // when the last packet starts injecting
  uint64_t tail = head + last_ser;
  head += params_.router_latency, tail += params_.router_latency;
  const std::vector<Coord> path = route(src, dst);
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    Dir d = Dir::East;
    for (int k = 0; k < kDirCount; ++k)
      if (step(path[i], static_cast<Dir>(k)) == path[i + 1]) d = static_cast<Dir>(k);
    const Kind kind = kind_of(path[i], d);
    const uint64_t w = kind_width_[kind], lat = kind_latency_[kind];
    const uint64_t end = std::max(head + serialisation(last + params_.header_bytes, w), tail);
    head += lat, tail = end + lat;
  }
  return std::max(head + last_ser, tail);
}

uint64_t Network::traverse(Link& link, uint64_t head, uint64_t tail_ready, uint64_t serialise,
                           uint64_t wire_bytes, uint64_t& end) {
  // The link is held from when the head starts until the tail has passed: at least its own
  // serialisation, longer if the tail is still arriving over a slower link upstream.
  const uint64_t start_guess = link.calendar.earliest(head, static_cast<unsigned>(serialise));
  const uint64_t hold =
      std::max(serialise, tail_ready > start_guess ? tail_ready - start_guess : 0);
  const uint64_t start =
      hold == serialise ? start_guess : link.calendar.earliest(head, static_cast<unsigned>(hold));
  const uint64_t held = std::max(serialise, tail_ready > start ? tail_ready - start : 0);
  link.calendar.reserve(start, static_cast<unsigned>(held));
  end = start + held;
  account(link, head, start, held, serialise, wire_bytes);
  return start;
}

void Network::account(Link& link, uint64_t head, uint64_t start, uint64_t held, uint64_t serialise,
                      uint64_t wire_bytes) {
  const uint64_t end = start + held;
  LinkStats& s = link.stats;
  s.busy_cycles += held;
  if (start != head) {  // most packets find the link free: no division for them
    s.wait_cycles += start - head;
    s.peak_queue = std::max(s.peak_queue, ceil_div(start - head, serialise));
  }
  ++s.packets;
  s.bytes += wire_bytes;
  if (trace_) trace_link(link, wire_bytes, start, end);
}

void Network::trace_link(const Link& link, uint64_t wire_bytes, uint64_t start, uint64_t end) {
  const size_t index = static_cast<size_t>(&link - links_.data());
  trace_->link_span(
      static_cast<int>(index),
      [&] {
        const Coord at{static_cast<int>(index / 6 % width_), static_cast<int>(index / 6 / width_)};
        const size_t port = index % 6;
        return fmt::format("link ({},{}) {}", at.x, at.y,
                           port < 4    ? std::string(dir_name(static_cast<Dir>(port)))
                           : port == 4 ? "injection"
                                       : "ejection");
      },
      wire_bytes, start, end);
}

uint64_t Network::send(Coord src, Coord dst, uint64_t bytes, uint64_t cycle, Port from, Port to,
                       TrafficClass cls) {
  const uint64_t packets = packets_of(bytes);
  uint64_t arrival = cycle, host_next = cycle;
  for (uint64_t p = 0; p < packets; ++p) {
    const uint64_t payload =
        p + 1 < packets ? params_.max_payload_bytes : bytes - p * params_.max_payload_bytes;
    const uint64_t wire = payload + params_.header_bytes;
    arrival =
        std::max(arrival, routers_ ? send_packet_iq(src, dst, wire, cycle, host_next, from, to, cls)
                                   : send_packet_ideal(src, dst, wire, cycle, host_next, from, to));
  }
  return in_order(src, dst, arrival);
}

uint64_t Network::in_order(Coord src, Coord dst, uint64_t arrival) {
  uint64_t& last = last_arrival_[node_index(src)][static_cast<uint32_t>(node_index(dst))];
  arrival = std::max(arrival, last);
  last = arrival;
  return arrival;
}

uint64_t Network::send_packet_ideal(Coord src, Coord dst, uint64_t wire, uint64_t cycle,
                                    uint64_t& host_next, Port from, Port to) {
  const uint64_t ser = serialisation(wire, params_.link_bytes_per_cycle);
  // From the host I/O the packets come back to back at the link width, as through an
  // idle injection link.
  uint64_t end = host_next + ser;
  uint64_t head = host_next;
  host_next = end;
  if (from == Port::Sram) {
    Link& inj = links_[port_index(src, 0)];
    head = traverse(inj, cycle, cycle, ser, wire, end);
  }
  head += params_.router_latency;
  uint64_t tail = end + params_.router_latency;
  for (Coord here = src; here != dst;) {
    const Dir d = routing_->next(here, dst);
    Link& link = links_[link_index(here, d)];
    const uint64_t w = kind_width_[link.kind], lat = kind_latency_[link.kind];
    head = traverse(link, head, tail, serialisation(wire, w), wire, end) + lat;
    tail = end + lat;
    here = step(here, d);
  }
  if (to == Port::Sram) {
    Link& ej = links_[port_index(dst, 1)];
    traverse(ej, head, tail, ser, wire, end);
  } else {
    end = std::max(head + ser, tail);  // as if through an idle ejection link
  }
  return end;
}

}  // namespace dojosim::hw
