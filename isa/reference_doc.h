// SPDX-License-Identifier: MIT
// The instruction, CSR and timing reference of docs/isa.md, generated from the tables so the
// document cannot drift from the code (tests/isa/test_docs.cpp compares them).
#pragma once

#include <string>

namespace dojosim::isa {

// Markdown tables: every instruction, every CSR, every timing class with its default cost.
std::string reference_markdown();

}  // namespace dojosim::isa
