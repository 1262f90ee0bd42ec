# SPDX-License-Identifier: MIT
# dojosim_expect_test(NAME name COMMAND cmd args... EXPECT regex... [EXIT status] [LABELS l...])
function(dojosim_expect_test)
  cmake_parse_arguments(T "" "NAME;EXIT" "COMMAND;EXPECT;LABELS" ${ARGN})
  if(NOT DEFINED T_EXIT)
    set(T_EXIT 0)
  endif()
  # add_test splits arguments at ';', so the lists travel joined by '@@'.
  string(REPLACE ";" "@@" cmd "${T_COMMAND}")
  string(REPLACE ";" "@@" expect "${T_EXPECT}")
  add_test(NAME ${T_NAME}
           COMMAND ${CMAKE_COMMAND} "-DCMD=${cmd}" "-DEXPECT=${expect}" "-DEXIT=${T_EXIT}"
                   -P ${PROJECT_SOURCE_DIR}/cmake/expect_output.cmake)
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
endfunction()
