// SPDX-License-Identifier: MIT
// Bytes in, bytes out: what MPI ranks exchange about nodes and requests (hw/machine/ranks.h).
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace dojosim::hw {

class WireWriter {
 public:
  template <typename T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof(T));
    std::memcpy(bytes_.data() + at, &v, sizeof(T));
  }
  void put_bytes(const uint8_t* p, size_t n) {
    put<uint64_t>(n);
    bytes_.insert(bytes_.end(), p, p + n);
  }
  void put_bytes(const std::vector<uint8_t>& b) { put_bytes(b.data(), b.size()); }
  void put_string(const std::string& s) {
    put_bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  std::vector<uint8_t>& bytes() { return bytes_; }
  void clear() { bytes_.clear(); }

 private:
  std::vector<uint8_t> bytes_;
};

class WireReader {
 public:
  WireReader(const uint8_t* p, size_t n) : p_(p), end_(p + n) {}
  template <typename T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    need(sizeof(T));
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  void get_bytes(std::vector<uint8_t>& out) {
    const auto n = get<uint64_t>();
    need(n);
    out.assign(p_, p_ + n);
    p_ += n;
  }
  std::string get_string() {
    const auto n = get<uint64_t>();
    need(n);
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  bool done() const { return p_ == end_; }

 private:
  void need(size_t n) const {
    if (static_cast<size_t>(end_ - p_) < n)
      throw std::logic_error("ranks: a message between ranks ended early");
  }
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace dojosim::hw
