# SPDX-License-Identifier: MIT
# Runs one simulation with the nodes built (and so scheduled by SystemC) in forward and in
# reverse order: the JSON statistics and the trace must be byte-identical, since a node's run between two
# fabric drains depends only on its own state and inbox. RUN holds the run's arguments.
separate_arguments(args UNIX_COMMAND "${RUN}")
file(REMOVE ${OUT}.false.trace.json ${OUT}.true.trace.json)
foreach(order false true)
  set(trace)
  if(RUN MATCHES "--program")  # workload runs write no trace
    set(trace --trace ${OUT}.${order}.trace.json)
  endif()
  execute_process(COMMAND ${BIN} run ${args} --set sim.reverse_node_order=${order} --json ${OUT}.${order}.json
                          ${trace}
                  RESULT_VARIABLE status OUTPUT_QUIET)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "run with sim.reverse_node_order=${order} exited with ${status}")
  endif()
  file(READ ${OUT}.${order}.json json)
  # The config echoes the order itself; everything else must match.
  string(REPLACE "\"reverse_node_order\": ${order}" "" json "${json}")
  set(json_${order} "${json}")
  if(EXISTS ${OUT}.${order}.trace.json)  # workload runs write no trace
    file(READ ${OUT}.${order}.trace.json trace_${order})
  endif()
endforeach()
string(LENGTH "${json_false}" n)
if(n LESS 1000)
  message(FATAL_ERROR "the statistics are suspiciously short (${n} bytes)")
endif()
if(trace AND NOT trace_false STREQUAL trace_true)
  message(FATAL_ERROR "the order in which nodes run changed the trace: compare ${OUT}.false.trace.json and ${OUT}.true.trace.json")
endif()
if(NOT json_false STREQUAL json_true)
  message(FATAL_ERROR "the order in which nodes run changed the statistics: compare ${OUT}.false.json and ${OUT}.true.json")
endif()
