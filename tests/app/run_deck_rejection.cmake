# Runs `tessera check` on one malformed deck and asserts that it is rejected properly.
#
#   cmake -DTESSERA=<tessera binary> -DDECK=<deck.yaml> [-DSUBCOMMAND="sweep;plan"]
#         [-DMPIEXEC=<mpiexec> -DNP=2 -DNUMPROC_FLAG=-n -DMPIFLAGS="<flags, space-separated>"]
#         -P run_deck_rejection.cmake
#
# The deck states what it expects in comment lines:
#   # expect: <substring that must appear in stderr>      (one or more; at least one is required)
#   # args: <extra arguments for tessera check>            (optional; split like a shell command line)
#
# The test passes only if tessera exits with code 2 (usage/input error, SPEC §5), every expected
# substring appears in stderr, and stderr shows no sign of a crash or an MPI abort.

cmake_minimum_required(VERSION 3.16)

foreach(_var TESSERA DECK)
  if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
    message(FATAL_ERROR "run_deck_rejection.cmake: -D${_var}=... is required")
  endif()
endforeach()
if(NOT EXISTS "${DECK}")
  message(FATAL_ERROR "run_deck_rejection.cmake: deck '${DECK}' does not exist")
endif()
if(NOT DEFINED NP OR "${NP}" STREQUAL "")
  set(NP 2)
endif()
if(NOT DEFINED NUMPROC_FLAG OR "${NUMPROC_FLAG}" STREQUAL "")
  set(NUMPROC_FLAG -n)
endif()
if(NOT DEFINED TIMEOUT OR "${TIMEOUT}" STREQUAL "")
  set(TIMEOUT 50)
endif()

# Read the deck line by line. CMake lists split on ';' and treat '[' ']' specially, and expectations may
# contain any of them ("out of range [0, inf)"), so protect them before turning lines into list items and
# restore them per line.
file(READ "${DECK}" _text)
string(REPLACE "\r" "" _text "${_text}")
string(REPLACE ";" "@SEMICOLON@" _text "${_text}")
string(REPLACE "[" "@LBRACKET@" _text "${_text}")
string(REPLACE "]" "@RBRACKET@" _text "${_text}")
string(REPLACE "\\" "@BACKSLASH@" _text "${_text}")
string(REPLACE "\n" ";" _lines "${_text}")

macro(_restore var)
  string(REPLACE "@SEMICOLON@" ";" ${var} "${${var}}")
  string(REPLACE "@LBRACKET@" "[" ${var} "${${var}}")
  string(REPLACE "@RBRACKET@" "]" ${var} "${${var}}")
  string(REPLACE "@BACKSLASH@" "\\" ${var} "${${var}}")
endmacro()

set(_args "")
set(_n_expect 0)
foreach(_line IN LISTS _lines)
  if(_line MATCHES "^#[ \t]*args:[ \t]*(.*)$")
    set(_a "${CMAKE_MATCH_1}")
    _restore(_a)
    separate_arguments(_a UNIX_COMMAND "${_a}")
    list(APPEND _args ${_a})
  elseif(_line MATCHES "^#[ \t]*expect:[ \t]*(.*[^ \t])[ \t]*$")
    math(EXPR _n_expect "${_n_expect} + 1")
  elseif(_line MATCHES "^#[ \t]*expect:")
    message(FATAL_ERROR "${DECK}: an empty '# expect:' line")
  endif()
endforeach()
if(_n_expect EQUAL 0)
  message(FATAL_ERROR "${DECK}: the deck has no '# expect: <substring of stderr>' line; "
                      "every rejected deck must state what the error message says")
endif()

if(NOT DEFINED SUBCOMMAND OR "${SUBCOMMAND}" STREQUAL "")
  set(SUBCOMMAND check)
endif()
set(_command "${TESSERA}" ${SUBCOMMAND} "${DECK}" ${_args})
if(DEFINED MPIEXEC AND NOT "${MPIEXEC}" STREQUAL "")
  set(_flags "")
  if(DEFINED MPIFLAGS AND NOT "${MPIFLAGS}" STREQUAL "")
    separate_arguments(_flags UNIX_COMMAND "${MPIFLAGS}")
  endif()
  set(_command "${MPIEXEC}" ${NUMPROC_FLAG} ${NP} ${_flags} ${_command})
endif()
string(REPLACE ";" " " _command_text "${_command}")

execute_process(COMMAND ${_command}
                RESULT_VARIABLE _rc
                OUTPUT_VARIABLE _stdout
                ERROR_VARIABLE _stderr
                TIMEOUT ${TIMEOUT})

set(_report "command: ${_command_text}\nexit code: ${_rc}\n--- stderr ---\n${_stderr}--- stdout ---\n${_stdout}--------------")
set(_problems "")

if(NOT "${_rc}" STREQUAL "2")
  if(NOT _rc MATCHES "^-?[0-9]+$")
    string(APPEND _problems "\n  - the command did not finish (${_rc}): a hang or a crash")
  else()
    string(APPEND _problems "\n  - exit code ${_rc}, expected 2 (input error)")
  endif()
endif()

foreach(_bad "Segmentation" "core dumped" "terminate called" "MPI_ABORT" "Abort")
  string(FIND "${_stderr}" "${_bad}" _at)
  if(NOT _at EQUAL -1)
    string(APPEND _problems "\n  - stderr contains '${_bad}'")
  endif()
endforeach()

foreach(_line IN LISTS _lines)
  if(_line MATCHES "^#[ \t]*expect:[ \t]*(.*[^ \t])[ \t]*$")
    set(_want "${CMAKE_MATCH_1}")
    _restore(_want)
    string(FIND "${_stderr}" "${_want}" _at)
    if(_at EQUAL -1)
      string(APPEND _problems "\n  - stderr lacks the expected text: ${_want}")
    endif()
  endif()
endforeach()

if(NOT "${_problems}" STREQUAL "")
  # Plain message() prints verbatim; FATAL_ERROR would re-wrap the captured output.
  message("${_report}")
  message(FATAL_ERROR "deck ${DECK} was not rejected as expected:${_problems}\n(full output above)")
endif()
message(STATUS "rejected as expected (exit 2, ${_n_expect} expected text(s) found):\n${_stderr}")
