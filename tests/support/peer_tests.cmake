# Real-process test binaries (the Peer/Lab harness of tests/support) and the tests they hold,
# each test named once: in an X-macro list file (.def) that the suite's CPPUNIT_TEST_SUITE
# includes and CMake reads here.

include_guard(GLOBAL)

# lanspread_peer_test_binary(<name> SOURCES <files...> [LINK <targets...>] [DEPENDS <targets...>])
# A CppUnit binary with the shared runner main and tests/support on its include path; it drives
# lanspreadd (LANSPREADD_PATH), so it is built after lanspreadd, frontend-cli and DEPENDS.
function(lanspread_peer_test_binary name)
  cmake_parse_arguments(B "" "" "SOURCES;LINK;DEPENDS" ${ARGN})
  add_executable(${name} ${B_SOURCES} ${CMAKE_SOURCE_DIR}/tests/support/cppunit_main.cpp)
  target_link_libraries(${name} PRIVATE PkgConfig::CPPUNIT Poco::Foundation Poco::JSON ${B_LINK})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/support)
  lanspread_target_warnings(${name})
  target_compile_definitions(${name} PRIVATE LANSPREADD_PATH="$<TARGET_FILE:lanspreadd>")
  add_dependencies(${name} lanspreadd frontend_cli ${B_DEPENDS})
endfunction()

# lanspread_list_entries(<out> <list file> <macro>)
# The entries of every `<macro>(a, b, ...)` line of an X-macro list file, each as "a:b:...".
# Editing the list re-runs CMake.
function(lanspread_list_entries out list macro)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${list})
  file(STRINGS ${list} lines REGEX "^${macro}\\(")
  set(entries)
  foreach(line IN LISTS lines)
    if(NOT line MATCHES "^${macro}\\(([A-Za-z0-9_, ]+)\\)$")
      message(FATAL_ERROR "${list}: cannot read '${line}'")
    endif()
    string(REPLACE " " "" entry "${CMAKE_MATCH_1}")
    string(REPLACE "," ":" entry "${entry}")
    list(APPEND entries ${entry})
  endforeach()
  if(NOT entries)
    message(FATAL_ERROR "${list} names no ${macro}(...)")
  endif()
  set(${out} ${entries} PARENT_SCOPE)
endfunction()

# lanspread_scenario_tests(<binary> <suite> <list file> TIMEOUT <seconds>)
# One ctest per LANSPREAD_SCENARIO(S<n>_<what>) line of the list, named S<n> (so
# `ctest -R S14` runs one scenario and `ctest -L scenario` all), running
# `<binary> <suite>::S<n>_<what>`. A variant of a scenario carries a letter: S39b_<what> is
# the ctest S39b.
function(lanspread_scenario_tests binary suite list)
  cmake_parse_arguments(S "" "TIMEOUT" "" ${ARGN})
  lanspread_list_entries(tests ${list} LANSPREAD_SCENARIO)
  foreach(test IN LISTS tests)
    if(NOT test MATCHES "^(S[0-9]+[a-z]?)_[A-Za-z0-9]+$")
      message(FATAL_ERROR "${list}: scenario '${test}' is not S<n>[letter]_<name>")
    endif()
    set(id ${CMAKE_MATCH_1})
    add_test(NAME ${id} COMMAND ${binary} ${suite}::${test})
    set_tests_properties(${id} PROPERTIES LABELS "scenario;integration;peer" TIMEOUT ${S_TIMEOUT})
  endforeach()
endfunction()

# lanspread_scenario_reruns(<binary> <suite> <list file> NAME <id> ENVIRONMENT <VAR=value...>
#                           SCENARIOS <S<n>...> TIMEOUT <seconds>)
# Scenarios of the list run again under another environment, one ctest each named
# <id>-S<n> (`ctest -R S53` runs them all): S53 reruns S4, S7 and S14 with
# LANSPREAD_TEST_TRANSPORT=tls, so the same code proves the same behaviour over transport-tls.
function(lanspread_scenario_reruns binary suite list)
  cmake_parse_arguments(R "" "NAME;TIMEOUT" "ENVIRONMENT;SCENARIOS" ${ARGN})
  lanspread_list_entries(tests ${list} LANSPREAD_SCENARIO)
  foreach(wanted IN LISTS R_SCENARIOS)
    set(found "")
    foreach(test IN LISTS tests)
      if(test MATCHES "^${wanted}_")
        set(found ${test})
      endif()
    endforeach()
    if(NOT found)
      message(FATAL_ERROR "${list} has no scenario ${wanted} for ${R_NAME}")
    endif()
    add_test(NAME ${R_NAME}-${wanted} COMMAND ${binary} ${suite}::${found})
    set_tests_properties(${R_NAME}-${wanted} PROPERTIES
      LABELS "scenario;integration;peer" TIMEOUT ${R_TIMEOUT} ENVIRONMENT "${R_ENVIRONMENT}")
  endforeach()
endfunction()
