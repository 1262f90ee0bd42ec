# SPDX-License-Identifier: MIT
# The cost of temporal decoupling, bounded: one run at the default quantum and at quantum 1
# (every node and the fabric in lockstep, the reference), whose cycles may differ by at most
# BOUND percent. Within a quantum a node's SMT threads run one after another, so the first to
# run takes the shared units first; deliveries reach a thread that ran ahead up to a quantum
# late. RUN holds the run's arguments (docs/hardware.md, "The fabric").
separate_arguments(args UNIX_COMMAND "${RUN}")
foreach(quantum default 1)
  set(set_quantum)
  if(quantum STREQUAL 1)
    set(set_quantum --set sim.quantum_cycles=1)
  endif()
  execute_process(COMMAND ${BIN} run ${args} ${set_quantum} --json ${OUT}.q${quantum}.json
                  RESULT_VARIABLE status OUTPUT_QUIET)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "the run at quantum ${quantum} exited with ${status}")
  endif()
  file(READ ${OUT}.q${quantum}.json json)
  string(JSON cycles_${quantum} GET "${json}" report cycles)
endforeach()
math(EXPR diff "${cycles_default} - ${cycles_1}")
if(diff LESS 0)
  math(EXPR diff "-(${diff})")
endif()
math(EXPR limit "${cycles_1} * ${BOUND} / 100")
message(STATUS "cycles ${cycles_default} at the default quantum, ${cycles_1} at quantum 1 "
               "(differ by ${diff}, bound ${BOUND}% = ${limit})")
if(diff GREATER limit)
  message(FATAL_ERROR "the default quantum moves the cycles by ${diff} of ${cycles_1}, more than ${BOUND}%")
endif()
