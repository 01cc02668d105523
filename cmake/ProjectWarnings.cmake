# Warnings are errors on the project's own code (never on third-party headers,
# which are included as system headers).
function(provision_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align)
  # clang (the fuzz build): RapidJSON 1.1's member iterators have the
  # comparison operators C++20 calls ambiguous when our code loops over them,
  # and GCC-only warning names in pragmas are unknown to it.
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    target_compile_options(${target} PRIVATE -Wno-ambiguous-reversed-operator -Wno-unknown-warning-option)
  endif()
endfunction()
