// SPDX-License-Identifier: MIT
// One simulation per child process. SystemC elaborates one machine per process, so the module
// never builds a machine in the Python process: run_in_child() forks, runs `work` in the child
// (pure C++: it must not touch Python objects), sends back the bytes it returns through a pipe
// and waits for the child. The Python process stays free of SystemC state, so a notebook can
// run as many simulations as it likes.
//
// Contract: call with the GIL held; it is released while the child runs. An exception `work`
// throws comes back as the same kind (std::invalid_argument -> ValueError, anything else ->
// RuntimeError) with its message. A child that dies (a signal, exit without an answer) raises
// RuntimeError saying how. Ctrl-C in the parent kills the child and raises KeyboardInterrupt.
#pragma once

#include <functional>
#include <string>

namespace dojosim::python {

std::string run_in_child(const std::function<std::string()>& work);

}  // namespace dojosim::python
