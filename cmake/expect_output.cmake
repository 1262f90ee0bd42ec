# SPDX-License-Identifier: MIT
# Runs CMD (a ;-list) and fails unless it exits with EXIT (default 0) and its output matches
# every regular expression in EXPECT (a ;-list). PASS_REGULAR_EXPRESSION alone would ignore the
# exit status.
if(NOT DEFINED EXIT)
  set(EXIT 0)
endif()
string(REPLACE "@@" ";" CMD "${CMD}")
string(REPLACE "@@" ";" EXPECT "${EXPECT}")
execute_process(COMMAND ${CMD} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT status STREQUAL "${EXIT}")
  message(FATAL_ERROR "exit status ${status}, expected ${EXIT}")
endif()
foreach(re IN LISTS EXPECT)
  if(NOT "${out}${err}" MATCHES "${re}")
    message(FATAL_ERROR "output does not match '${re}'")
  endif()
endforeach()
