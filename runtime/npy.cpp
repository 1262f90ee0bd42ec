// SPDX-License-Identifier: MIT
#include "runtime/npy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <fstream>

namespace dojosim::runtime {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicBytes = 6;

// The value of `key` in the header's Python dict literal, as text ("'<f4'", "(2, 3)", "False").
std::string header_value(const std::string& header, const std::string& key,
                         const std::string& path) {
  const std::string quoted = "'" + key + "'";
  size_t at = header.find(quoted);
  if (at == std::string::npos)
    throw NpyError(fmt::format("{}: bad .npy header: no '{}' in {}", path, key, header));
  at = header.find(':', at + quoted.size());
  if (at == std::string::npos)
    throw NpyError(fmt::format("{}: bad .npy header: no value for '{}'", path, key));
  ++at;
  while (at < header.size() && header[at] == ' ') ++at;
  size_t end = at;
  if (at < header.size() && header[at] == '(')
    end = header.find(')', at) + 1;
  else if (at < header.size() && header[at] == '\'')
    end = header.find('\'', at + 1) + 1;
  else
    while (end < header.size() && header[end] != ',' && header[end] != '}') ++end;
  if (end == 0 || end > header.size())
    throw NpyError(fmt::format("{}: bad .npy header: unterminated value of '{}'", path, key));
  return header.substr(at, end - at);
}

std::vector<uint64_t> parse_shape(const std::string& text, const std::string& path) {
  std::vector<uint64_t> shape;
  size_t i = 1;  // after '('
  while (i + 1 < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i + 1 >= text.size()) break;
    size_t used = 0;
    unsigned long long v = 0;
    try {
      v = std::stoull(text.substr(i), &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0) throw NpyError(fmt::format("{}: bad .npy header: shape {}", path, text));
    shape.push_back(v);
    i += used;
  }
  return shape;
}

}  // namespace

std::string npy_shape_string(const std::vector<uint64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

namespace {

// Reads the header of `in` (the file `path`), checks the data that follows has the size the
// shape and dtype say, and leaves `in` at the first data byte. Returns the array without values.
NpyArray read_header(std::ifstream& in, const std::string& path) {
  if (!in) throw NpyError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  in.seekg(0, std::ios::end);
  const uint64_t file_bytes = static_cast<uint64_t>(std::max<std::streamoff>(in.tellg(), 0));
  in.seekg(0);
  char lead[12] = {};
  in.read(lead, sizeof lead);
  if (file_bytes < 10 || std::memcmp(lead, kMagic, kMagicBytes) != 0)
    throw NpyError(fmt::format("{}: not a .npy file (no \\x93NUMPY magic)", path));
  const int major = static_cast<uint8_t>(lead[6]);
  uint64_t header_bytes = 0, start = 0;
  if (major == 1) {
    header_bytes = uint8_t(lead[8]) | uint8_t(lead[9]) << 8;
    start = 10;
  } else if ((major == 2 || major == 3) && file_bytes >= 12) {
    header_bytes = uint32_t(uint8_t(lead[8])) | uint32_t(uint8_t(lead[9])) << 8 |
                   uint32_t(uint8_t(lead[10])) << 16 | uint32_t(uint8_t(lead[11])) << 24;
    start = 12;
  } else {
    throw NpyError(fmt::format("{}: .npy format version {}; expected 1, 2 or 3", path, major));
  }
  if (start + header_bytes > file_bytes)
    throw NpyError(fmt::format("{}: bad .npy header: {} header bytes in a file of {}", path,
                               header_bytes, file_bytes));
  std::string header(header_bytes, '\0');
  in.clear();
  in.seekg(static_cast<std::streamoff>(start));
  in.read(header.data(), static_cast<std::streamsize>(header_bytes));
  const std::string descr = header_value(header, "descr", path);
  if (header_value(header, "fortran_order", path) != "False")
    throw NpyError(
        fmt::format("{}: a Fortran-order array; expected C order "
                    "(numpy.ascontiguousarray before numpy.save)",
                    path));
  NpyArray a;
  a.shape = parse_shape(header_value(header, "shape", path), path);
  uint64_t item = 4;
  if (descr == "'<f4'")
    a.dtype = "float32";
  else if (descr == "'<f8'")
    a.dtype = "float64", item = 8;
  else if (descr == "'<i4'")
    a.dtype = "int32";
  else
    throw NpyError(fmt::format(
        "{}: dtype {}; expected little-endian float32 ('<f4'), float64 ('<f8') or int32 ('<i4')",
        path, descr));
  uint64_t count = 1;
  for (uint64_t d : a.shape) count *= d;
  const uint64_t have = file_bytes - start - header_bytes;
  if (have != count * item)
    throw NpyError(fmt::format("{}: {} data bytes; shape {} of {} needs {}", path, have,
                               npy_shape_string(a.shape), a.dtype, count * item));
  return a;
}

}  // namespace

NpyArray read_npy_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return read_header(in, path);
}

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  NpyArray a = read_header(in, path);
  uint64_t count = 1;
  for (uint64_t d : a.shape) count *= d;
  const size_t item = a.dtype == "float64" ? 8 : 4;
  std::string bytes(count * item, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!in) throw NpyError(fmt::format("{}: cannot read its data", path));
  const char* data = bytes.data();
  a.values.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    if (a.dtype == "float32") {
      std::memcpy(&a.values[i], data + 4 * i, 4);
    } else if (a.dtype == "float64") {
      double v;
      std::memcpy(&v, data + 8 * i, 8);
      a.values[i] = static_cast<float>(v);
    } else {
      int32_t v;
      std::memcpy(&v, data + 4 * i, 4);
      a.values[i] = static_cast<float>(v);
    }
  }
  return a;
}

NpyArray read_npy(const std::string& path, const std::vector<uint64_t>& want,
                  const std::string& what) {
  NpyArray a = read_npy(path);
  if (a.shape != want)
    throw NpyError(fmt::format("{}: {} has shape {}; {} needs {}", path, a.dtype,
                               npy_shape_string(a.shape), what, npy_shape_string(want)));
  return a;
}

void write_npy(const std::string& path, const std::vector<uint64_t>& shape,
               const std::vector<float>& values) {
  std::string dims;
  for (uint64_t d : shape) dims += fmt::format("{}, ", d);
  if (!dims.empty()) dims.resize(dims.size() - (shape.size() == 1 ? 1 : 2));  // (3,) or (2, 3)
  std::string header =
      fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}), }}", dims);
  // Magic, version, length, header and its newline: a multiple of 64 bytes, as numpy writes.
  const size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  std::string out(kMagic, kMagicBytes);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  std::ofstream f(path, std::ios::binary);
  f.write(out.data(), static_cast<std::streamsize>(out.size()));
  f.write(reinterpret_cast<const char*>(values.data()),
          static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!f) throw std::runtime_error(fmt::format("{}: cannot write", path));
}

}  // namespace dojosim::runtime
