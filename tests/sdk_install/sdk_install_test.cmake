# cmake -P script behind the sdk_install test. Inputs (-D): LANSPREAD_BUILD_DIR,
# LANSPREAD_SOURCE_DIR, WORK_DIR, GENERATOR, MAKE_PROGRAM, CXX_COMPILER, NM.
#
#  1. cmake --install <build>/sdk --prefix <work>/prefix   (only the SDK's install rules)
#  2. configure <prefix>/share/lanspread-sdk/examples/unpacker-minimal as its own project
#     with -DCMAKE_PREFIX_PATH=<prefix> into <work>/build, and build it
#  3. the plugin .so exists, `nm -D --defined-only` lists exactly lanspread_plugin_v1, and
#     nothing of the build came from outside the prefix (LanspreadSDK_DIR, include paths).
cmake_minimum_required(VERSION 3.25)

foreach(var LANSPREAD_BUILD_DIR LANSPREAD_SOURCE_DIR WORK_DIR GENERATOR)
  if(NOT ${var})
    message(FATAL_ERROR "sdk_install: -D${var}=... is required")
  endif()
endforeach()
if(NOT NM)
  set(NM nm)
endif()

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "sdk_install: ${what} failed (${rc}):\n${ARGN}\n${out}\n${err}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# 1. Install the SDK (its subdirectory's rules only: headers, CMake package, docs, examples).
run("install" ${CMAKE_COMMAND} --install "${LANSPREAD_BUILD_DIR}/sdk" --prefix "${prefix}")
foreach(f include/lanspread/plugin.h include/lanspread/kinds/unpacker.hpp
          include/lanspread/testing/fake_host.hpp
          share/lanspread-sdk/examples/unpacker-minimal/CMakeLists.txt)
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "sdk_install: ${f} missing from the installed SDK")
  endif()
endforeach()
file(GLOB_RECURSE config_files "${prefix}/*/LanspreadSDKConfig.cmake")
if(NOT config_files)
  message(FATAL_ERROR "sdk_install: LanspreadSDKConfig.cmake missing from the installed SDK")
endif()

# 2. Build the example as a third party would: only the prefix on the search path, no user
#    package registry, nothing of the lanspread source or build tree.
set(example "${prefix}/share/lanspread-sdk/examples/unpacker-minimal")
set(configure_args -S "${example}" -B "${build}" -G "${GENERATOR}"
    "-DCMAKE_PREFIX_PATH=${prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
    -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
    -DCMAKE_BUILD_TYPE=Release)
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
run("configure" ${CMAKE_COMMAND} ${configure_args})
run("build" ${CMAKE_COMMAND} --build "${build}")

# 3a. The package came from the prefix.
file(STRINGS "${build}/CMakeCache.txt" sdk_dir_line REGEX "^LanspreadSDK_DIR:")
string(FIND "${sdk_dir_line}" "${prefix}/" at)
if(NOT at GREATER -1)
  message(FATAL_ERROR "sdk_install: LanspreadSDK was not found in the prefix: ${sdk_dir_line}")
endif()

# 3b. Nothing compiled against the source tree's headers: every include directory of the
#     out-of-tree build lies in the prefix or in that build's own directory.
file(READ "${build}/compile_commands.json" commands)
string(FIND "${commands}" "${LANSPREAD_SOURCE_DIR}/sdk/include" at)
if(at GREATER -1)
  message(FATAL_ERROR "sdk_install: the out-of-tree build uses the source tree's "
                      "${LANSPREAD_SOURCE_DIR}/sdk/include:\n${commands}")
endif()
string(REGEX MATCHALL "(-I|-isystem |-iquote )[^ \"]+" include_flags "${commands}")
set(used_prefix FALSE)
foreach(flag IN LISTS include_flags)
  string(REGEX REPLACE "^(-I|-isystem |-iquote )" "" dir "${flag}")
  string(FIND "${dir}" "${prefix}/" in_prefix)
  string(FIND "${dir}" "${build}" in_build)
  if(in_prefix EQUAL 0)
    set(used_prefix TRUE)
  elseif(NOT in_build EQUAL 0)
    message(FATAL_ERROR "sdk_install: include path outside the prefix: ${dir}")
  endif()
endforeach()
if(NOT used_prefix)
  message(FATAL_ERROR "sdk_install: the out-of-tree build does not use ${prefix}/include:\n"
                      "${commands}")
endif()

# 3c. The plugin exists and exports exactly one symbol.
set(plugin "${build}/lanspread-unpacker-minimal.so")
if(NOT EXISTS "${plugin}")
  message(FATAL_ERROR "sdk_install: ${plugin} was not built")
endif()
run("nm" "${NM}" -D --defined-only "${plugin}")
string(REGEX REPLACE "\n$" "" symbols "${run_output}")
string(REPLACE "\n" ";" symbols "${symbols}")
set(names "")
foreach(line IN LISTS symbols)
  string(REGEX REPLACE "^.* " "" name "${line}")
  list(APPEND names "${name}")
endforeach()
if(NOT names STREQUAL "lanspread_plugin_v1")
  message(FATAL_ERROR "sdk_install: the plugin must export exactly lanspread_plugin_v1; "
                      "nm -D --defined-only says:\n${run_output}")
endif()
message(STATUS "sdk_install: ${plugin} exports exactly lanspread_plugin_v1")
