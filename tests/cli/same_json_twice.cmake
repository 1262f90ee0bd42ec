# SPDX-License-Identifier: MIT
# Runs the same simulation twice; the JSON statistics must be byte-identical (determinism).
foreach(i 1 2)
  execute_process(COMMAND ${BIN} run --config ${CONFIG} --program ${PROGRAM} --json ${OUT}.${i}.json
                  RESULT_VARIABLE status OUTPUT_QUIET)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "run ${i} exited with ${status}")
  endif()
endforeach()
file(READ ${OUT}.1.json a)
file(READ ${OUT}.2.json b)
string(LENGTH "${a}" n)
if(n LESS 1000)
  message(FATAL_ERROR "the statistics are suspiciously short (${n} bytes)")
endif()
if(NOT a STREQUAL b)
  message(FATAL_ERROR "two runs of the same simulation gave different statistics")
endif()
