# SPDX-License-Identifier: MIT
# What `cmake --install` puts where (docs/install.md), the exported CMake package
# (find_package(dojosim)), dojosim.pc, and the Debian package CPack builds from the same rules.
#   bin/dojosim
#   include/dojosim/{isa,hw,runtime}/...      headers, included as in the tree ("hw/...")
#   lib/libdojosim_*.a, lib/cmake/dojosim/, lib/pkgconfig/dojosim.pc
#   share/dojosim/{configs,workloads}/        found by `dojosim --config d1` (tools/data_files.h)
#   share/dojosim/kernels/{include,runtime}/  the kernel SDK: dojo.h, crt0.S, syscalls.c, dojo.ld
#   share/dojosim/kernels/{asm,c}/            sample kernels
#   share/doc/dojosim/                        README.md and docs/
include(CMakePackageConfigHelpers)
set(DOJOSIM_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/dojosim)
set(DOJOSIM_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/dojosim)

# The libraries. Installed, dojosim::runtime is the whole runtime API (the host half and the
# mesh half, runtime/mesh/), which is what a program that runs a matmul links; in the tree the
# two halves are the targets dojosim::runtime and dojosim::runtime_mesh.
# A program that includes the headers needs C++17, in the tree and installed.
target_compile_features(dojosim_isa PUBLIC cxx_std_17)
set_target_properties(dojosim_isa PROPERTIES EXPORT_NAME isa)
set_target_properties(dojosim_hw PROPERTIES EXPORT_NAME hw)
set_target_properties(dojosim_runtime PROPERTIES EXPORT_NAME runtime_host)
set_target_properties(dojosim_runtime_mesh PROPERTIES EXPORT_NAME runtime_mesh)
add_library(dojosim_runtime_api INTERFACE)
target_link_libraries(dojosim_runtime_api INTERFACE dojosim_runtime_mesh dojosim_runtime)
set_target_properties(dojosim_runtime_api PROPERTIES EXPORT_NAME runtime)
install(TARGETS dojosim_isa dojosim_hw dojosim_runtime dojosim_runtime_mesh dojosim_runtime_api
        EXPORT dojosimTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev)
foreach(dir isa hw runtime)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dojosim
          COMPONENT dev FILES_MATCHING PATTERN "*.h" PATTERN "*.def")
endforeach()
install(EXPORT dojosimTargets NAMESPACE dojosim:: DESTINATION ${DOJOSIM_INSTALL_CMAKEDIR}
        COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/dojosimConfig.cmake.in
  ${PROJECT_BINARY_DIR}/dojosimConfig.cmake INSTALL_DESTINATION ${DOJOSIM_INSTALL_CMAKEDIR}
  PATH_VARS DOJOSIM_INSTALL_DATADIR CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/dojosimConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/dojosimConfig.cmake
              ${PROJECT_BINARY_DIR}/dojosimConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/dojosim_kernel.cmake
        DESTINATION ${DOJOSIM_INSTALL_CMAKEDIR} COMPONENT dev)

# dojosim.pc: relocatable, as the CMake package is (prefix found from the file's own folder).
file(RELATIVE_PATH DOJOSIM_PC_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" DOJOSIM_PC_PREFIX "${DOJOSIM_PC_PREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/dojosim.pc.in ${PROJECT_BINARY_DIR}/dojosim.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/dojosim.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)

# The tool, its data and the kernel SDK.
install(TARGETS dojosim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT tools)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs ${PROJECT_SOURCE_DIR}/workloads
        DESTINATION ${DOJOSIM_INSTALL_DATADIR} COMPONENT tools PATTERN "*.md" EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/kernels/include ${PROJECT_SOURCE_DIR}/kernels/runtime
                  ${PROJECT_SOURCE_DIR}/kernels/asm ${PROJECT_SOURCE_DIR}/kernels/c
        DESTINATION ${DOJOSIM_INSTALL_DATADIR}/kernels COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT doc)

# The Debian package: one package with the tool, the libraries, the SDK and the docs
# (docs/install.md). Depends: the shared libraries bin/dojosim loads (scripts/deb-check.sh
# checks this list against ldd); Recommends: what a program built with find_package(dojosim)
# or a C kernel built with the SDK needs (the packages of scripts/setup.sh).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dojosim)
set(CPACK_PACKAGE_VENDOR "dojosim")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "simulator of Dojo-style tiled training hardware")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "dojosim maintainers <dojosim@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
string(JOIN ", " CPACK_DEBIAN_PACKAGE_DEPENDS libc6 libgcc-s1 libstdc++6 "libsystemc (>= 2.3.3)"
       libfmt9 libyaml-cpp0.7 libboost-program-options1.74.0 libhwy1)
if(DOJOSIM_HAVE_MPI)  # the tool's MPI ranks (tools/mpi_ranks.h): OpenMPI and what it loads
  string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", libopenmpi3, libhwloc15, libevent-core-2.1-7, "
         "libevent-pthreads-2.1-7, libudev1, zlib1g")
endif()
string(JOIN ", " CPACK_DEBIAN_PACKAGE_RECOMMENDS g++ cmake pkg-config libsystemc-dev libfmt-dev
       libhwy-dev libyaml-cpp-dev nlohmann-json3-dev libboost-dev gcc-riscv64-unknown-elf
       picolibc-riscv64-unknown-elf)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
include(CPack)
