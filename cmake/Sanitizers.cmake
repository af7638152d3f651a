# LANSPREAD_SANITIZE=address,undefined (set by the asan-ubsan preset) instruments everything.
# A sanitizer report is fatal (-fno-sanitize-recover): UBSan would otherwise print and carry
# on, and a test would pass over undefined behaviour.
# The preset builds optimised (RelWithDebInfo): under Debug the SHA-256 and copy loops of the
# scenario suites run ~10x slower with ASan and miss their time limits on 2 cores.
set(LANSPREAD_SANITIZE "" CACHE STRING "Comma-separated -fsanitize= list, empty for none")
if(LANSPREAD_SANITIZE)
  add_compile_options(-fsanitize=${LANSPREAD_SANITIZE} -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${LANSPREAD_SANITIZE} -fno-sanitize-recover=all)
  # GCC 12 at -O2 with ASan reports -Wmaybe-uninitialized inside libstdc++'s own std::regex and
  # std::function (control_service_test, contract_test), which -Werror would turn into a failed
  # build; the sanitizers themselves check what that warning guesses at.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
endif()
