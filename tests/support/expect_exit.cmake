# Runs a command and checks its exit code and output:
#   cmake -DCOMMAND="a|b|c" -DEXPECT_CODE=2 [-DEXPECT_REGEX=...] [-DFORBID_REGEX=...] [-DWORKDIR=...] -P expect_exit.cmake
# Output that shows a crash (segfault, abort, core dump, uncaught exception) always fails the test.
if(NOT DEFINED WORKDIR)
  set(WORKDIR ${CMAKE_CURRENT_BINARY_DIR})
endif()
string(REPLACE "|" ";" COMMAND "${COMMAND}")
execute_process(COMMAND ${COMMAND} WORKING_DIRECTORY ${WORKDIR} RESULT_VARIABLE code
                OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 240)
set(all "${out}\n${err}")
message("exit code: ${code}\n--- stdout ---\n${out}\n--- stderr ---\n${err}")
if(NOT "${code}" STREQUAL "${EXPECT_CODE}")
  message(FATAL_ERROR "expected exit code ${EXPECT_CODE}, got '${code}'")
endif()
if(DEFINED EXPECT_REGEX AND NOT all MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "output does not match '${EXPECT_REGEX}'")
endif()
if(DEFINED FORBID_REGEX AND all MATCHES "${FORBID_REGEX}")
  message(FATAL_ERROR "output matches the forbidden '${FORBID_REGEX}'")
endif()
if(all MATCHES "Segmentation|core dumped|terminate called|Aborted|MPI_ABORT")
  message(FATAL_ERROR "the command crashed or aborted instead of exiting cleanly")
endif()
