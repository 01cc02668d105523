# Warnings are errors on the project's own code (never on third-party headers,
# which are included as system headers).
function(provision_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align)
endfunction()
