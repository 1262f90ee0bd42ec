# SPDX-License-Identifier: MIT
# Runs one simulation once per value of config key KEY (VALUES, a list) and requires the JSON
# statistics and the trace to be byte-identical. Used for the properties the fabric promises:
# the order in which nodes run (sim.reverse_node_order) and the number of host threads that
# run them (sim.host_threads) change nothing, since a node's run between two fabric drains
# depends only on its own state and inbox. RUN holds the run's arguments.
separate_arguments(args UNIX_COMMAND "${RUN}")
string(REGEX REPLACE ".*\\." "" leaf "${KEY}")
set(first)
foreach(value IN LISTS VALUES)
  file(REMOVE ${OUT}.${value}.trace.json)
  set(trace)
  if(RUN MATCHES "--program")  # workload runs write no trace
    set(trace --trace ${OUT}.${value}.trace.json)
  endif()
  execute_process(COMMAND ${BIN} run ${args} --set ${KEY}=${value} --json ${OUT}.${value}.json
                          ${trace}
                  RESULT_VARIABLE status OUTPUT_QUIET)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "run with ${KEY}=${value} exited with ${status}")
  endif()
  file(READ ${OUT}.${value}.json json)
  # The config echoes the value itself; everything else must match.
  string(REPLACE "\"${leaf}\": ${value}" "" json "${json}")
  set(trace_text)
  if(trace)
    file(READ ${OUT}.${value}.trace.json trace_text)
  endif()
  if(NOT first)
    set(first ${value})
    set(json_first "${json}")
    set(trace_first "${trace_text}")
    string(LENGTH "${json}" n)
    if(n LESS 1000)
      message(FATAL_ERROR "the statistics are suspiciously short (${n} bytes)")
    endif()
    continue()
  endif()
  if(NOT "${trace_text}" STREQUAL "${trace_first}")
    message(FATAL_ERROR "${KEY}=${value} changed the trace: compare ${OUT}.${first}.trace.json and ${OUT}.${value}.trace.json")
  endif()
  if(NOT "${json}" STREQUAL "${json_first}")
    message(FATAL_ERROR "${KEY}=${value} changed the statistics: compare ${OUT}.${first}.json and ${OUT}.${value}.json")
  endif()
endforeach()
