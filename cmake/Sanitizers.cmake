# One flag turns on ASan+UBSan for the whole build: cmake -DPROVISION_SANITIZE=ON
# (scripts/test --sanitize), another ThreadSanitizer: -DPROVISION_TSAN=ON
# (scripts/test --tsan). The broker is not built with either, so integration
# tests preload the sanitizer's runtime into mosquitto when it loads our
# (instrumented) plugin; the path of that runtime is handed to the tests as
# PROVISION_SANITIZER_RUNTIME, together with libstdc++: the broker is C, and
# unless libstdc++ is loaded before the sanitizer initialises, its
# __cxa_throw interceptor has nothing to call and the plugin's first
# exception aborts the broker.
if(PROVISION_SANITIZE AND PROVISION_TSAN)
  message(FATAL_ERROR "PROVISION_SANITIZE and PROVISION_TSAN exclude each other: build them in two trees")
endif()
execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so
                OUTPUT_VARIABLE stdcxx_runtime OUTPUT_STRIP_TRAILING_WHITESPACE)
if(PROVISION_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE asan_runtime OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(PROVISION_SANITIZER_RUNTIME "${asan_runtime}:${stdcxx_runtime}")
elseif(PROVISION_TSAN)
  # -Wno-tsan: Boost.Asio's handler invocation (std_fenced_block) uses
  # std::atomic_thread_fence, which TSan does not model and GCC warns about
  # (an error with -Werror); the hand-off of handlers between threads goes
  # through the scheduler's mutex, which TSan does see.
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  add_link_options(-fsanitize=thread)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libtsan.so
                  OUTPUT_VARIABLE tsan_runtime OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(PROVISION_SANITIZER_RUNTIME "${tsan_runtime}:${stdcxx_runtime}")
else()
  set(PROVISION_SANITIZER_RUNTIME "")
endif()

# The fuzz build: every object with libFuzzer's coverage and ASan+UBSan, so
# that the harnesses see the product's own code paths.
if(PROVISION_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PROVISION_FUZZ needs clang (CXX=clang++ CC=clang; scripts/fuzz does it)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
                      -fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/fuzz/sanitizer-ignorelist.txt)
  add_link_options(-fsanitize=address,undefined)
endif()
