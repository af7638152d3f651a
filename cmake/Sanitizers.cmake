# LANSPREAD_SANITIZE=address,undefined (set by the asan-ubsan preset) instruments everything.
set(LANSPREAD_SANITIZE "" CACHE STRING "Comma-separated -fsanitize= list, empty for none")
if(LANSPREAD_SANITIZE)
  add_compile_options(-fsanitize=${LANSPREAD_SANITIZE} -fno-omit-frame-pointer)
  add_link_options(-fsanitize=${LANSPREAD_SANITIZE})
endif()
