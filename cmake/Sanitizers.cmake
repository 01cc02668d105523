# One flag turns on ASan+UBSan for the whole build: cmake -DPROVISION_SANITIZE=ON
# The broker is not built with ASan, so integration tests preload the ASan
# runtime into mosquitto when it loads our (instrumented) plugin; the path of
# that runtime is handed to the tests as PROVISION_ASAN_RUNTIME, together with
# libstdc++: the broker is C, and unless libstdc++ is loaded before ASan
# initialises, ASan's __cxa_throw interceptor has nothing to call and the
# plugin's first exception aborts the broker.
if(PROVISION_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libasan.so
                  OUTPUT_VARIABLE asan_runtime OUTPUT_STRIP_TRAILING_WHITESPACE)
  execute_process(COMMAND ${CMAKE_CXX_COMPILER} -print-file-name=libstdc++.so
                  OUTPUT_VARIABLE stdcxx_runtime OUTPUT_STRIP_TRAILING_WHITESPACE)
  set(PROVISION_ASAN_RUNTIME "${asan_runtime}:${stdcxx_runtime}")
else()
  set(PROVISION_ASAN_RUNTIME "")
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
