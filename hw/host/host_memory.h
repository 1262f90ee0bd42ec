// SPDX-License-Identifier: MIT
// Host memory: the HBM of the DIPs (DIP = Dojo Interface Processor) at the tile's edges,
// reached by DMA (push to, pull from a global address with bit 63 set).
//
// Addressing: DIP k of MachineParams::host owns host addresses [k * capacity, (k+1) * capacity);
// a transfer stays inside one DIP. Contents are allocated lazily in pages, so 32 GiB per DIP
// costs host memory only for what a run touches.
//
// Timing: a DIP connects through the die edge to every router along its die's edge (the
// edge's I/O ring), so traffic enters and leaves the mesh at the edge node nearest to the
// node it serves. Each DIP is two FIFO servers: its HBM (reads and writes share it) and its
// link (one per direction); a read's data leaves the DIP `latency` cycles after the HBM
// starts on it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "hw/noc/geometry.h"

namespace dojosim::hw {

// Filled by hw::machine_params(config) from tile.host.* (hw/config/params.def).
struct DipParams {
  Dir edge = Dir::West;
  Coord first, last;  // the edge nodes (one row or column segment) the DIP's link reaches
  uint64_t capacity = 0;
  double hbm_bytes_per_cycle = 0, link_bytes_per_cycle = 0;
  uint64_t latency = 0;  // cycles from a request at the edge node to its first data there
  double ethernet_bytes_per_cycle = 0;  // per direction, into the Z-plane (0: none)
};

struct DipStats {
  uint64_t bytes_read = 0, bytes_written = 0;
  uint64_t requests = 0;
  uint64_t hbm_busy_cycles = 0;
  uint64_t wait_cycles = 0;  // cycles requests queued for the HBM, summed
  uint64_t z_bytes_out = 0, z_bytes_in = 0;  // between nodes over the Z-plane, through this DIP
};

class HostMemory {
 public:
  explicit HostMemory(std::vector<DipParams> dips);  // throws std::invalid_argument

  size_t dip_count() const { return dips_.size(); }
  const DipParams& dip(size_t k) const { return dips_[k]; }
  const DipStats& stats(size_t k) const { return stats_[k]; }
  uint64_t size() const;

  // The DIP holding [addr, addr + len), or -1 with `why` set.
  int dip_of(uint64_t addr, uint64_t len, std::string& why) const;
  // The edge node through which DIP k serves `node`.
  Coord entry(size_t k, Coord node) const;

  // A read of `bytes` whose request reaches DIP k's edge at `cycle`: the cycles its first and
  // last bytes enter the mesh. A write whose last byte reaches the edge at `cycle`: returns
  // the cycle the write is done and acknowledged at the edge.
  struct Span {
    uint64_t first, last;
  };
  Span read_timing(size_t k, uint64_t bytes, uint64_t cycle);
  uint64_t write_timing(size_t k, uint64_t bytes, uint64_t cycle);
  // A message between nodes over the Z-plane: its bytes reach DIP a's edge over [first, last]
  // (as a span); they cross a's link, a's Ethernet port out, `switch_latency`, b's Ethernet
  // port in and b's link, each a FIFO server that streams what the one before delivers.
  // Returns the span in which they enter the mesh at b's edge.
  Span z_plane_timing(size_t a, size_t b, uint64_t bytes, Span at_a, uint64_t switch_latency);
  // The same on an idle machine, from the message's last byte at a's edge to its last at b's.
  uint64_t z_plane_zero_load(size_t a, size_t b, uint64_t bytes, uint64_t switch_latency) const;

  // Contents; the caller has checked the range with dip_of.
  void read(uint64_t addr, void* dst, uint64_t n) const;
  void write(uint64_t addr, const void* src, uint64_t n);
  uint64_t bytes_allocated() const { return pages_.size() * kPageSize; }

 private:
  static constexpr uint64_t kPageSize = 64 * 1024;
  struct Servers {
    uint64_t hbm_free = 0, link_in_free = 0, link_out_free = 0;
    uint64_t ethernet_out_free = 0, ethernet_in_free = 0;
  };
  uint64_t hbm(size_t k, uint64_t bytes, uint64_t cycle);

  std::vector<DipParams> dips_;
  std::vector<DipStats> stats_;
  std::vector<Servers> servers_;
  std::unordered_map<uint64_t, std::unique_ptr<uint8_t[]>> pages_;
};

}  // namespace dojosim::hw
