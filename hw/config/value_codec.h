// SPDX-License-Identifier: MIT
// How each parameter type is written, read and described: the per-type half of the walks over
// the parameter table (the per-parameter half is params.def). Internal to hw/config.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "hw/config/hardware_config.h"

namespace dojosim::hw::codec {

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
constexpr bool kIsInt = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <class E>
std::string enum_choices() {
  std::string s;
  for (int i = 0; i < EnumNames<E>::kCount; ++i)
    s += fmt::format("{}{}", i ? ", " : "", EnumNames<E>::name(static_cast<E>(i)));
  return s;
}

// What a value of type T looks like, for "expected ..." messages and the docs.
template <class T>
std::string describe() {
  if constexpr (std::is_same_v<T, bool>)
    return "true or false";
  else if constexpr (kIsInt<T>)
    return "an unsigned integer";
  else if constexpr (std::is_floating_point_v<T>)
    return "a number";
  else if constexpr (std::is_enum_v<T>)
    return "one of " + enum_choices<T>();
  else if constexpr (std::is_same_v<T, std::string>)
    return "a name";
  else if constexpr (std::is_same_v<T, Coord>)
    return "a position [x, y]";
  else if constexpr (std::is_same_v<T, std::vector<Coord>>)
    return "a list of positions [x, y]";
  else
    return "a list of " + enum_choices<typename T::value_type>();
}

inline std::string format_double(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// The value as YAML flow text; reading it back gives the same value (doubles: shortest
// round-trip representation).
template <class T>
std::string format(const T& v) {
  if constexpr (std::is_same_v<T, bool>)
    return v ? "true" : "false";
  else if constexpr (kIsInt<T>)
    return fmt::format("{}", uint64_t{v});
  else if constexpr (std::is_floating_point_v<T>)
    return format_double(v);
  else if constexpr (std::is_enum_v<T>)
    return std::string(EnumNames<T>::name(v));
  else if constexpr (std::is_same_v<T, std::string>)
    return v;
  else if constexpr (std::is_same_v<T, Coord>)
    return fmt::format("[{}, {}]", v.x, v.y);
  else {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + format(v[i]);
    return s + "]";
  }
}

template <class T>
nlohmann::ordered_json to_json(const T& v) {
  if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>)
    return v;
  else if constexpr (std::is_enum_v<T>)
    return std::string(EnumNames<T>::name(v));
  else if constexpr (std::is_same_v<T, Coord>)
    return nlohmann::ordered_json::array({v.x, v.y});
  else {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const auto& e : v) a.push_back(to_json(e));
    return a;
  }
}

// The value as a number for range checks; NaN for types that have no range.
template <class T>
double number(const T& v) {
  if constexpr (std::is_arithmetic_v<T>)
    return static_cast<double>(v);
  else
    return std::numeric_limits<double>::quiet_NaN();
}

// NOTE: yaml-cpp tags a quoted scalar "!" and a plain one "?"; a quoted "64" is a string, and
// a number or a switch given as a string is a type error, not a silent conversion.
inline bool plain_scalar(const YAML::Node& n) {
  return n.IsScalar() && n.Tag() != "!";
}

inline bool parse_u64(const std::string& s, uint64_t max, uint64_t& out) {
  if (s.empty() || s[0] == '-' || s[0] == ' ') return false;
  const bool hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  if (hex || s.find_first_of(".eE") == std::string::npos) {
    errno = 0;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(s.c_str(), &end, hex ? 16 : 10);
    if (errno || *end || v > max) return false;
    out = v;
    return true;
  }
  // 1e10 is a convenient way to write a cycle count; it must still be an exact integer.
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (*end || !(d >= 0) || d > 9007199254740992.0 || d != std::floor(d) ||
      d > static_cast<double>(max))
    return false;
  out = static_cast<uint64_t>(d);
  return true;
}

inline bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  const double d = std::strtod(s.c_str(), &end);
  if (*end || errno || !std::isfinite(d)) return false;
  out = d;
  return true;
}

// Reads `n` into `out`; false if it is not a T (the caller says what was expected).
template <class T>
bool parse(const YAML::Node& n, T& out) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!plain_scalar(n)) return false;
    const std::string& s = n.Scalar();
    if (s == "true" || s == "on" || s == "yes")
      out = true;
    else if (s == "false" || s == "off" || s == "no")
      out = false;
    else
      return false;
    return true;
  } else if constexpr (kIsInt<T>) {
    uint64_t v = 0;
    if (!plain_scalar(n) || !parse_u64(n.Scalar(), std::numeric_limits<T>::max(), v)) return false;
    out = static_cast<T>(v);
    return true;
  } else if constexpr (std::is_floating_point_v<T>) {
    return plain_scalar(n) && parse_double(n.Scalar(), out);
  } else if constexpr (std::is_enum_v<T>) {
    if (!n.IsScalar()) return false;
    for (int i = 0; i < EnumNames<T>::kCount; ++i)
      if (EnumNames<T>::name(static_cast<T>(i)) == n.Scalar()) {
        out = static_cast<T>(i);
        return true;
      }
    return false;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!n.IsScalar() || n.Scalar().empty()) return false;
    out = n.Scalar();
    return true;
  } else if constexpr (std::is_same_v<T, Coord>) {
    // Positions are never negative; an int field only because hw/noc computes with them.
    uint32_t x = 0, y = 0;
    if (!n.IsSequence() || n.size() != 2 || !parse(n[0], x) || !parse(n[1], y) ||
        x > uint32_t{INT32_MAX} || y > uint32_t{INT32_MAX})
      return false;
    out = {int(x), int(y)};
    return true;
  } else {
    if (!n.IsSequence()) return false;
    T v;
    for (const YAML::Node& e : n) {
      typename T::value_type x{};
      if (!parse(e, x)) return false;
      v.push_back(x);
    }
    out = std::move(v);
    return true;
  }
}

}  // namespace dojosim::hw::codec
