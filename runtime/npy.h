// SPDX-License-Identifier: MIT
// .npy files (numpy's format, version 1.0 to 3.0): how tensors get in and out of the command line
// (`dojosim run --inputs A=a.npy --save DIR`). A reader for little-endian, C-order arrays of
// float32, float64 and int32 (every value converted to float32, the runtime's host type) and a
// float32 writer. Some forty lines of header parsing did not justify a library dependency.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace dojosim::runtime {

/// A file that is not a .npy the reader takes; what() names the file and what was expected.
struct NpyError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct NpyArray {
  std::vector<uint64_t> shape;  // [] for a scalar
  std::string dtype;            // as numpy names it: float32, float64 or int32
  std::vector<float> values;    // row-major, converted to float32 (float64 rounds to nearest)
};

/// "[2, 3]".
std::string npy_shape_string(const std::vector<uint64_t>& shape);

/// Reads `path`; throws NpyError for a missing file, a bad header, a dtype other than
/// little-endian float32/float64/int32, Fortran order or a short file.
NpyArray read_npy(const std::string& path);

/// The shape and dtype of `path` without its values (the same checks, the data's size too).
NpyArray read_npy_header(const std::string& path);

/// Reads `path` and checks its shape is `want`; `what` names the tensor in the error.
NpyArray read_npy(const std::string& path, const std::vector<uint64_t>& want,
                  const std::string& what);

/// Writes a float32 array (version 1.0 header); throws std::runtime_error naming the file.
void write_npy(const std::string& path, const std::vector<uint64_t>& shape,
               const std::vector<float>& values);

}  // namespace dojosim::runtime
