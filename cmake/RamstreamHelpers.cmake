# Wrapper functions so every target in the tree gets the same flags (abseil's absl_cc_* shape).

set(RAMSTREAM_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 at -O3 reports -Wrestrict on std::string concatenation inside libstdc++ (GCC bug
  # 105329, a false positive); it is not a warning about our code.
  list(APPEND RAMSTREAM_WARNINGS -Wno-restrict)
endif()
if(RAMSTREAM_WERROR)
  list(APPEND RAMSTREAM_WARNINGS -Werror)
endif()

if(RAMSTREAM_SANITIZE)
  list(JOIN RAMSTREAM_SANITIZE "," _ramstream_san)
  add_compile_options(-fsanitize=${_ramstream_san} -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_ramstream_san})
endif()

# ramstream_cc_library(NAME protocol SRCS a.cc HDRS a.h DEPS x PUBLIC_DEPS y)
# Creates ramstream_<NAME> with alias ramstream::<NAME>.
function(ramstream_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;HDRS;DEPS;PUBLIC_DEPS" ${ARGN})
  set(target ramstream_${ARG_NAME})
  add_library(${target} STATIC ${ARG_SRCS} ${ARG_HDRS})
  add_library(ramstream::${ARG_NAME} ALIAS ${target})
  target_include_directories(${target} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${target} PRIVATE ${RAMSTREAM_WARNINGS})
  target_link_libraries(${target} PRIVATE ${ARG_DEPS} PUBLIC ${ARG_PUBLIC_DEPS})
endfunction()

# ramstream_cc_test(NAME decoder_test SRCS decoder_test.cc DEPS ramstream::protocol LABELS x)
# One executable per test file, each gtest case registered as its own CTest test.
function(ramstream_cc_test)
  if(NOT RAMSTREAM_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${RAMSTREAM_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  gtest_discover_tests(${ARG_NAME} DISCOVERY_TIMEOUT 60
                       PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()

# ramstream_benchmark(NAME codec_bench SRCS codec_bench.cc DEPS ramstream::protocol)
function(ramstream_benchmark)
  if(NOT RAMSTREAM_BUILD_BENCH)
    return()
  endif()
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_compile_options(${ARG_NAME} PRIVATE ${RAMSTREAM_WARNINGS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark)
endfunction()

if(RAMSTREAM_BUILD_TESTS)
  include(GoogleTest)
endif()
