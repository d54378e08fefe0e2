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

# ramstream_fuzzer(NAME ram_load_fuzzer SRCS ram_load_fuzzer.cc DEPS ramstream::fuzz_support)
# Builds one fuzz target from fuzz/CMakeLists.txt, which sets the engine variables:
#  - with an engine (RAMSTREAM_FUZZ_ENGINE_LINK: a flag such as -fsanitize=fuzzer, or the path
#    of a library such as libAFLDriver.a / OSS-Fuzz's $LIB_FUZZING_ENGINE), NAME is linked with
#    it and NAME_replay with the standalone driver (fuzz/regression_main.cc);
#  - without one, NAME itself is the standalone driver.
# The target's sources are compiled once (an object library) for both. CTest replays
# corpus/NAME through the standalone driver, one process per file (label fuzz-regression), and
# each file of corpus/crashes/NAME as a test that must still crash (label fuzz-known-crash)
# until the bug is fixed and the file moves into corpus/NAME.
function(ramstream_fuzzer)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  set(objs ${ARG_NAME}_objs)
  add_library(${objs} OBJECT ${ARG_SRCS})
  target_compile_options(${objs} PRIVATE ${RAMSTREAM_WARNINGS} ${RAMSTREAM_FUZZ_COMPILE_OPTIONS})
  target_link_libraries(${objs} PUBLIC ${ARG_DEPS})

  set(replay ${ARG_NAME})
  if(RAMSTREAM_FUZZ_ENGINE_LINK)
    add_executable(${ARG_NAME})
    target_link_libraries(${ARG_NAME} PRIVATE ${objs})
    if(RAMSTREAM_FUZZ_ENGINE_LINK MATCHES "^-")
      target_link_options(${ARG_NAME} PRIVATE ${RAMSTREAM_FUZZ_ENGINE_LINK})
    else()
      target_link_libraries(${ARG_NAME} PRIVATE ${RAMSTREAM_FUZZ_ENGINE_LINK})
    endif()
    set(replay ${ARG_NAME}_replay)
  endif()
  add_executable(${replay})
  target_link_libraries(${replay} PRIVATE ${objs} ramstream_fuzz_regression_main)
  set_property(GLOBAL APPEND PROPERTY RAMSTREAM_FUZZERS ${ARG_NAME})
  set_property(GLOBAL APPEND PROPERTY RAMSTREAM_FUZZ_BINARIES ${ARG_NAME} ${replay})

  if(NOT RAMSTREAM_FUZZ_REGISTER_TESTS)
    return()
  endif()
  add_test(NAME fuzz-regression.${ARG_NAME}
           COMMAND ${replay} --quiet ${PROJECT_SOURCE_DIR}/corpus/${ARG_NAME})
  set_tests_properties(fuzz-regression.${ARG_NAME} PROPERTIES LABELS fuzz-regression
                       TIMEOUT 900)
  file(GLOB crashes CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/corpus/crashes/${ARG_NAME}/*)
  foreach(crash IN LISTS crashes)
    get_filename_component(crash_name ${crash} NAME)
    set(test fuzz-known-crash.${ARG_NAME}.${crash_name})
    add_test(NAME ${test} COMMAND ${replay} --quiet --timeout=60 ${crash})
    set_tests_properties(${test} PROPERTIES LABELS fuzz-known-crash WILL_FAIL TRUE TIMEOUT 120)
  endforeach()
endfunction()
