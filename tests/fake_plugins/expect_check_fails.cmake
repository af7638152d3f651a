# Runs lanspread-plugin-check on fake plugins and checks its verdict (cmake -P script).
#
#   cmake -DTOOL=<lanspread-plugin-check> -DPLUGINS=<a.so>[|<b.so>...] -DEXPECT=<mode>
#         [-DEXPECTED=<text>] -P expect_check_fails.cmake
#
# The tool loads the files in order into one loader. EXPECT is one of
#   FAILURE  exit code 1 and exactly one line "FAIL <last file>: <EXPECTED>: <reason>"
#            (EXPECTED is a loadFailureName(), e.g. "duplicate-id");
#   MENTION  exit code 1 and exactly one line "FAIL <last file>: ..." that contains EXPECTED
#            (for conformance failures that are not load failures, e.g. "probe");
#   PASS     exit code 0, no "FAIL " line and a "PASS <file>" line for every file.
cmake_minimum_required(VERSION 3.25) # script mode: IN_LIST and friends need the policies
foreach(var TOOL PLUGINS EXPECT)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "expect_check_fails.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT EXPECT MATCHES "^(FAILURE|MENTION|PASS)$")
  message(FATAL_ERROR "expect_check_fails.cmake: EXPECT must be FAILURE, MENTION or PASS")
endif()
if(NOT EXPECT STREQUAL "PASS" AND "${EXPECTED}" STREQUAL "")
  message(FATAL_ERROR "expect_check_fails.cmake: EXPECT=${EXPECT} needs -DEXPECTED=...")
endif()

string(REPLACE "|" ";" files "${PLUGINS}")
list(GET files -1 last_file)

execute_process(COMMAND "${TOOL}" ${files}
  RESULT_VARIABLE exit_code
  OUTPUT_VARIABLE out
  ERROR_VARIABLE err)

# Show everything the tool said, whatever the verdict (ctest prints it on failure).
message("$ ${TOOL} ${files}\n--- stdout ---\n${out}--- stderr ---\n${err}--- exit: ${exit_code}")

# Lines as a CMake list. ';' and '[' ']' would break list splitting, so they are masked, in
# the output and in everything compared with it.
function(mask out_var text)
  string(REPLACE ";" "<semicolon>" text "${text}")
  string(REPLACE "[" "<lbracket>" text "${text}")
  string(REPLACE "]" "<rbracket>" text "${text}")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()
mask(masked "${out}")
mask(last_file "${last_file}")
mask(EXPECTED "${EXPECTED}")
string(REPLACE "\n" ";" lines "${masked}")
set(fail_lines "")
set(pass_lines "")
foreach(line IN LISTS lines)
  if(line MATCHES "^FAIL ")
    list(APPEND fail_lines "${line}")
  elseif(line MATCHES "^PASS ")
    list(APPEND pass_lines "${line}")
  endif()
endforeach()
list(LENGTH fail_lines fail_count)

if(EXPECT STREQUAL "PASS")
  if(NOT exit_code STREQUAL "0")
    message(FATAL_ERROR "expected exit code 0 (all plugins pass), got '${exit_code}'")
  endif()
  if(NOT fail_count EQUAL 0)
    message(FATAL_ERROR "expected no FAIL line, got ${fail_count}")
  endif()
  foreach(file IN LISTS files)
    mask(file "${file}")
    if(NOT "PASS ${file}" IN_LIST pass_lines)
      message(FATAL_ERROR "expected a line 'PASS ${file}'")
    endif()
  endforeach()
  message(STATUS "ok: every plugin passed")
  return()
endif()

if(NOT exit_code STREQUAL "1")
  message(FATAL_ERROR "expected exit code 1 (a plugin fails), got '${exit_code}'")
endif()
if(NOT fail_count EQUAL 1)
  message(FATAL_ERROR "expected exactly one line beginning 'FAIL ', got ${fail_count}")
endif()
list(GET fail_lines 0 fail_line)
string(LENGTH "FAIL ${last_file}: " prefix_length)
string(SUBSTRING "${fail_line}" 0 ${prefix_length} prefix)
if(NOT prefix STREQUAL "FAIL ${last_file}: ")
  message(FATAL_ERROR "the FAIL line does not name the failing file '${last_file}'")
endif()
string(SUBSTRING "${fail_line}" ${prefix_length} -1 rest)
if(EXPECT STREQUAL "FAILURE")
  string(FIND "${rest}" "${EXPECTED}: " at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "expected failure-name '${EXPECTED}' after the path, got: ${rest}")
  endif()
else()
  string(FIND "${rest}" "${EXPECTED}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "expected the FAIL line to mention '${EXPECTED}', got: ${rest}")
  endif()
endif()
message(STATUS "ok: ${last_file} failed as expected")
