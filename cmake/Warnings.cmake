# Project-wide warnings for our own targets (not applied to third-party code).
# lanspread_target_warnings(<target>) turns them on; -Werror follows LANSPREAD_WERROR.
function(lanspread_target_warnings target)
  # No -Wnull-dereference: with optimisation GCC 12 reports false positives inside
  # libstdc++ (istreambuf_iterator), which -Werror turns into a broken release build.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wcast-align
                                           $<$<COMPILE_LANGUAGE:CXX>:-Wnon-virtual-dtor>)
  if(LANSPREAD_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
