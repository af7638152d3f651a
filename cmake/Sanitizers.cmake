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
endif()
