// SPDX-License-Identifier: MIT
// What a sweep records of a failed point: the first error line of its stderr, the cause, not
// the last line (a SystemC dump ends in "In file: ...", a summary in its time split).
#include <catch2/catch.hpp>
#include <string>

#include "tools/sweep/output.h"

using dojosim::sweep::error_line;

TEST_CASE("error line: the first error, not the last line", "[sweep]") {
  CHECK(error_line(
            "Error: (E549) uncaught exception: std::bad_alloc\nIn file: kernel/sc_except.cpp:101\n"
            "In process: machine.node(0,0).run @ 0 s\n") ==
        "Error: (E549) uncaught exception: std::bad_alloc");
  CHECK(error_line(
            "dojosim run: deadlock: every live thread is waiting\n  node (0,0) thread 0 waits\n") ==
        "dojosim run: deadlock: every live thread is waiting");
  CHECK(error_line("\n  indented only\n") == "");
  CHECK(error_line("") == "");
}

TEST_CASE("error line: warnings and progress lines are no error", "[sweep]") {
  CHECK(error_line("Warning: (W571) no activity\nIn file: x\ndojosim run: out of host memory\n") ==
        "dojosim run: out of host memory");
  CHECK(error_line("[#####.....] 50%\r[##########] 100%\rdojosim run: failed\n") ==
        "dojosim run: failed");
  const std::string longer(400, 'x');
  CHECK(error_line(longer).size() == 300);
}
