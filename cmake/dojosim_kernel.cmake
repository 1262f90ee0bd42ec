# SPDX-License-Identifier: MIT
# The kernel SDK's CMake functions: dojosim_add_c_kernel() builds a C node kernel with Debian's
# riscv64-unknown-elf-gcc and picolibc (docs/kernels-c.md). One file for the source tree
# (kernels/CMakeLists.txt) and the installed package (find_package(dojosim)); each sets, before
# including it, DOJOSIM_KERNEL_RUNTIME_DIR (crt0.S, syscalls.c, dojo.ld) and
# DOJOSIM_KERNEL_INCLUDE_DIR (dojo.h). The host compiler never sees a kernel, so kernels are
# custom commands, not targets of a project LANGUAGE.
if(NOT DOJOSIM_KERNEL_RUNTIME_DIR OR NOT DOJOSIM_KERNEL_INCLUDE_DIR)
  message(FATAL_ERROR "dojosim_kernel.cmake: set DOJOSIM_KERNEL_RUNTIME_DIR and "
                      "DOJOSIM_KERNEL_INCLUDE_DIR before including it")
endif()
# CACHE INTERNAL: dojosim_add_c_kernel() runs in its caller's scope, which may be examples/ or
# another directory that does not see the includer's variables.
set(DOJOSIM_KERNEL_RUNTIME_DIR ${DOJOSIM_KERNEL_RUNTIME_DIR} CACHE INTERNAL "")
set(DOJOSIM_KERNEL_INCLUDE_DIR ${DOJOSIM_KERNEL_INCLUDE_DIR} CACHE INTERNAL "")
# NOTE: rv64im/lp64 is a multilib of Debian's gcc-riscv64-unknown-elf and of
# picolibc-riscv64-unknown-elf, so libgcc and libc come without compressed or FP instructions,
# which a node does not decode. -mstrict-align: a misaligned load or store traps on a node.
set(DOJOSIM_KERNEL_CFLAGS -march=rv64im -mabi=lp64 -O2 -g -mstrict-align -Wall -Wextra
    -ffunction-sections -fdata-sections --specs=picolibc.specs CACHE INTERNAL "")
set(DOJOSIM_KERNEL_LDFLAGS -nostartfiles -T ${DOJOSIM_KERNEL_RUNTIME_DIR}/dojo.ld CACHE INTERNAL "")

function(dojosim_find_c_toolchain)
  string(CONCAT packages
    "Install the Debian packages gcc-riscv64-unknown-elf and picolibc-riscv64-unknown-elf "
    "(apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf), "
    "or configure with -DDOJOSIM_C_KERNELS=OFF")
  find_program(DOJOSIM_RISCV_GCC riscv64-unknown-elf-gcc DOC "RISC-V cross compiler for C kernels")
  if(NOT DOJOSIM_RISCV_GCC)
    message(FATAL_ERROR "C kernels: riscv64-unknown-elf-gcc not found. ${packages}.")
  endif()
  if(DOJOSIM_C_TOOLCHAIN_CHECKED STREQUAL DOJOSIM_RISCV_GCC)
    return()  # probed at an earlier configure
  endif()
  # Linking a printf with our runtime proves compiler, picolibc and the multilib together.
  set(probe_dir ${CMAKE_CURRENT_BINARY_DIR}/toolchain-probe)
  file(MAKE_DIRECTORY ${probe_dir})
  file(WRITE ${probe_dir}/probe.c
       "#include <stdio.h>\nint main(void) { return printf(\"%d\\n\", 1) != 2; }\n")
  execute_process(
    COMMAND ${DOJOSIM_RISCV_GCC} ${DOJOSIM_KERNEL_CFLAGS} -print-multi-directory
    OUTPUT_VARIABLE multilib OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "C kernels: ${DOJOSIM_RISCV_GCC} does not accept "
                        "${DOJOSIM_KERNEL_CFLAGS}:\n${err}\n${packages}.")
  endif()
  if(NOT multilib STREQUAL "rv64im/lp64")
    message(FATAL_ERROR "C kernels: ${DOJOSIM_RISCV_GCC} picks multilib '${multilib}' for "
                        "-march=rv64im -mabi=lp64, not rv64im/lp64; its libraries may hold "
                        "compressed or FP instructions, which a node does not decode. ${packages}.")
  endif()
  execute_process(
    COMMAND ${DOJOSIM_RISCV_GCC} ${DOJOSIM_KERNEL_CFLAGS} ${DOJOSIM_KERNEL_LDFLAGS}
            -I${DOJOSIM_KERNEL_INCLUDE_DIR} ${DOJOSIM_KERNEL_RUNTIME_DIR}/crt0.S
            ${DOJOSIM_KERNEL_RUNTIME_DIR}/syscalls.c ${probe_dir}/probe.c -o ${probe_dir}/probe.elf
    RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "C kernels: cannot link a program with picolibc:\n${err}\n${packages}.")
  endif()
  message(STATUS "C kernels: ${DOJOSIM_RISCV_GCC}, picolibc multilib ${multilib}")
  set(DOJOSIM_C_TOOLCHAIN_CHECKED ${DOJOSIM_RISCV_GCC} CACHE INTERNAL "")
endfunction()

# dojosim_add_c_kernel(<name> SOURCES <file.c|file.S>... [INCLUDES <dir>...]
#                      [COMPILE_OPTIONS <flag>...] [LINK_OPTIONS <flag>...])
# Builds ${CMAKE_CURRENT_BINARY_DIR}/<name>.elf (and <name>.map) from the sources plus
# kernels/runtime/crt0.S and syscalls.c, linked with dojo.ld; the target is kernel_<name>, and
# its property DOJOSIM_ELF holds the ELF's path. Relative source paths are relative to the
# calling directory. dojo.h is on the include path. With DOJOSIM_C_KERNELS=OFF (an option of the
# source tree) it does nothing, so callers outside kernels/ test `if(TARGET kernel_<name>)`
# before depending on it.
function(dojosim_add_c_kernel name)
  if(DEFINED DOJOSIM_C_KERNELS AND NOT DOJOSIM_C_KERNELS)
    return()
  endif()
  dojosim_find_c_toolchain()  # once per build tree; later calls return at once
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;INCLUDES;COMPILE_OPTIONS;LINK_OPTIONS")
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "dojosim_add_c_kernel(${name}): no SOURCES")
  endif()
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "dojosim_add_c_kernel(${name}): unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  set(obj_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}.objs)
  set(elf ${CMAKE_CURRENT_BINARY_DIR}/${name}.elf)
  set(includes -I${DOJOSIM_KERNEL_INCLUDE_DIR})
  foreach(dir IN LISTS arg_INCLUDES)
    cmake_path(ABSOLUTE_PATH dir BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND includes -I${dir})
  endforeach()

  set(objects)
  foreach(src IN LISTS arg_SOURCES ITEMS ${DOJOSIM_KERNEL_RUNTIME_DIR}/crt0.S
                                         ${DOJOSIM_KERNEL_RUNTIME_DIR}/syscalls.c)
    cmake_path(ABSOLUTE_PATH src BASE_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR})
    cmake_path(GET src FILENAME file)
    set(obj ${obj_dir}/${file}.o)
    if(obj IN_LIST objects)
      message(FATAL_ERROR "dojosim_add_c_kernel(${name}): two sources named ${file}")
    endif()
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${obj_dir}
      COMMAND ${DOJOSIM_RISCV_GCC} ${DOJOSIM_KERNEL_CFLAGS} ${arg_COMPILE_OPTIONS} ${includes}
              -MD -MF ${obj}.d -c ${src} -o ${obj}
      DEPENDS ${src}
      DEPFILE ${obj}.d
      COMMENT "Compiling C kernel ${name}: ${file}"
      VERBATIM COMMAND_EXPAND_LISTS)
    list(APPEND objects ${obj})
  endforeach()

  add_custom_command(
    OUTPUT ${elf}
    COMMAND ${DOJOSIM_RISCV_GCC} ${DOJOSIM_KERNEL_CFLAGS} ${DOJOSIM_KERNEL_LDFLAGS}
            ${arg_LINK_OPTIONS} -Wl,-Map=${CMAKE_CURRENT_BINARY_DIR}/${name}.map ${objects}
            -o ${elf}
    DEPENDS ${objects} ${DOJOSIM_KERNEL_RUNTIME_DIR}/dojo.ld
    BYPRODUCTS ${CMAKE_CURRENT_BINARY_DIR}/${name}.map
    COMMENT "Linking C kernel ${name}.elf"
    VERBATIM COMMAND_EXPAND_LISTS)
  add_custom_target(kernel_${name} ALL DEPENDS ${elf})
  set_target_properties(kernel_${name} PROPERTIES DOJOSIM_ELF ${elf})
endfunction()

