// SPDX-License-Identifier: MIT
// Reads RISC-V ELF executables built with riscv64-unknown-elf-gcc (see docs/kernels-c.md) into
// a Program a node can load. Only what a node can run is accepted: ELFCLASS64, little-endian,
// EM_RISCV, ET_EXEC, no compressed instructions, soft-float ABI, segments inside the 32-bit
// SRAM offset space.
//
// Contract: every input, however malformed, either yields a Program or throws LoadError whose
// message starts with the file's name and says what is wrong; the parser never reads outside
// the image (the libFuzzer target in fuzz/ calls load_elf(image, name)).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "isa/node_runner.h"  // LoadError
#include "isa/program.h"

namespace dojosim::isa {

/// True if `path` can be opened and starts with the ELF magic; false otherwise (no throw).
bool is_elf_file(const std::string& path);

/// Loads the PT_LOAD segments, the entry point and the .symtab symbols of an executable.
/// Throws LoadError naming `path` if the file cannot be read or is not a runnable rv64 image.
Program load_elf(const std::string& path);

/// The same from an image in memory; `name` is used in messages and as Program::source_name.
Program load_elf(const std::vector<uint8_t>& image, const std::string& name);

}  // namespace dojosim::isa
