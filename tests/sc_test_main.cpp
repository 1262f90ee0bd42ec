// SPDX-License-Identifier: MIT
// libsystemc owns main() and calls sc_main(); the Catch2 session runs from there. CTest runs
// every test case in its own process because SystemC elaborates once per process.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <systemc>

int sc_main(int argc, char** argv) { return Catch::Session().run(argc, argv); }
