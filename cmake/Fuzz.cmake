# LANSPREAD_FUZZ=ON (the `fuzz` preset) builds the libFuzzer targets of tests/fuzz. Every
# object file is compiled with coverage instrumentation and ASan+UBSan
# (-fsanitize=fuzzer-no-link,...), so the kernel and plugin code the targets link is
# coverage-guided too; only the fuzz targets themselves link libFuzzer's main
# (lanspread_fuzz_link_options). UBSan is fatal: a report aborts the run like an ASan one.
option(LANSPREAD_FUZZ "Build the libFuzzer targets in tests/fuzz (needs clang)" OFF)
if(LANSPREAD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR
      "LANSPREAD_FUZZ=ON needs clang (libFuzzer), but the compilers are "
      "${CMAKE_C_COMPILER_ID}/${CMAKE_CXX_COMPILER_ID}. Use the preset: "
      "`cmake --preset fuzz` (or -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "
      "in a fresh build dir).")
  endif()
  if(LANSPREAD_SANITIZE)
    message(FATAL_ERROR "LANSPREAD_FUZZ=ON sets its own sanitizers; leave LANSPREAD_SANITIZE empty")
  endif()
  set(_lanspread_fuzz_sanitizers address,undefined)
  add_compile_options(-fsanitize=fuzzer-no-link,${_lanspread_fuzz_sanitizers}
                      -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  # Plain executables and shared objects built alongside still need the sanitizer runtimes.
  add_link_options(-fsanitize=${_lanspread_fuzz_sanitizers} -fno-sanitize-recover=undefined)
  set(LANSPREAD_FUZZ_LINK_OPTIONS -fsanitize=fuzzer,${_lanspread_fuzz_sanitizers}
      -fno-sanitize-recover=undefined)
endif()
