// SPDX-License-Identifier: MIT
// Output files of the verbs (--json, -o, --svg): checked before a run where that is possible
// (a missing folder fails in a second, not after an hour's run), and checked on close, so a
// full disk (ENOSPC) or a write error is an error, never a silent exit 0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dojosim::hw {
class TraceWriter;
}

namespace dojosim::cli {

// "" if `path` can be written: its folder exists and is writable (and the file, if it exists,
// is writable); else why not, naming the path ("cannot write out/x.json: no such folder out").
std::string cannot_write(const std::string& path);

// An output folder given with `flag` (--svg, --save), made before the run: "" if it exists or
// was created and `file` can be written in it; else why not, naming the flag and the path.
std::string cannot_make_folder(const std::string& flag, const std::string& dir,
                               const std::string& file);

// Writes `content` to `path` and closes it, every step checked. Throws std::runtime_error
// "cannot write PATH: REASON". Over MPI ranks only rank 0 writes (the others hold the same).
void write_file(const std::string& path, std::string_view content);

// After a run with --trace: prints "trace: N events in PATH" (and where --trace-limit `limit`
// cut it) and completes the file; false, with the error on stderr, if it could not be written.
bool finish_trace(hw::TraceWriter& trace, const std::string& path, uint64_t limit);

}  // namespace dojosim::cli
