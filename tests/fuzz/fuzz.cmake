# libFuzzer targets (tests/fuzz/): the parsers that read what others wrote
# (the wire tap, profiles, Fault rules). Built only with clang and
# -DSSHMOCK_FUZZ=ON, in a build directory of their own:
#
#   CC=clang cmake -S . -B build-fuzz -DSSHMOCK_FUZZ=ON
#   cmake --build build-fuzz --target fuzz_tap fuzz_profile fuzz_fault
#
# scripts/fuzz.sh does both and runs them. Each target links only the
# sources of the modules it exercises, compiled with the fuzzer's coverage
# instrumentation and ASan + UBSan, so a finding points at those modules.

option(SSHMOCK_FUZZ "Build the libFuzzer targets in tests/fuzz (needs clang)" OFF)

if(SSHMOCK_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SSHMOCK_FUZZ needs clang (libFuzzer): "
                        "CC=clang cmake -B build-fuzz -DSSHMOCK_FUZZ=ON")
  endif()
  # util.c's vprintf wrapper trips clang's -Wformat-nonliteral (gcc is quiet).
  set(SSHMOCK_FUZZ_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
                         -fno-omit-frame-pointer -g -O1)

  function(sshmock_fuzz_target name)
    cmake_parse_arguments(F "" "" "SOURCES;LIBS" ${ARGN})
    add_executable(fuzz_${name} tests/fuzz/fuzz_${name}.c ${F_SOURCES})
    target_include_directories(fuzz_${name} PRIVATE include server)
    target_compile_options(fuzz_${name} PRIVATE -fsanitize=fuzzer-no-link -Wno-format-nonliteral
                         ${SSHMOCK_FUZZ_FLAGS})
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer ${SSHMOCK_FUZZ_FLAGS})
    target_link_libraries(fuzz_${name} PRIVATE ${F_LIBS})
  endfunction()

  sshmock_fuzz_target(tap
    SOURCES server/wire/tap.c server/wire/tap_build.c server/base/util.c
    LIBS PkgConfig::LIBCRYPTO)
  sshmock_fuzz_target(fault
    SOURCES server/wire/fault.c server/base/util.c
    LIBS m)
  # The profile module is a folder of files (keywords, parse, handlers...).
  file(GLOB sshmock_fuzz_profile_sources CONFIGURE_DEPENDS
       ${CMAKE_CURRENT_SOURCE_DIR}/server/profile/*.c)
  sshmock_fuzz_target(profile
    SOURCES ${sshmock_fuzz_profile_sources} server/wire/fault.c server/base/util.c
    LIBS sshmock_engine PkgConfig::LIBCRYPTO Threads::Threads m)
  target_compile_definitions(fuzz_profile PRIVATE
    SSHMOCK_FUZZ_PROFILE_DIR="${CMAKE_CURRENT_SOURCE_DIR}/profiles")
  # The ticket importers (import, diagnose) reach most of the code base:
  # every module but main(), instrumented like the target.
  file(GLOB_RECURSE sshmock_fuzz_all_sources CONFIGURE_DEPENDS
       ${CMAKE_CURRENT_SOURCE_DIR}/server/*.c)
  list(FILTER sshmock_fuzz_all_sources EXCLUDE REGEX "/cli/main\\.c$")
  sshmock_fuzz_target(import
    SOURCES ${sshmock_fuzz_all_sources}
    LIBS sshmock_engine PkgConfig::LIBUV PkgConfig::LIBCRYPTO PkgConfig::JANSSON
         Threads::Threads m)
  target_compile_definitions(fuzz_import PRIVATE
    SSHMOCK_PROFILE_DIR="${CMAKE_CURRENT_SOURCE_DIR}/profiles"
    SSHMOCK_DRIVER_DIR="${CMAKE_CURRENT_SOURCE_DIR}/client-tests/drivers")
  add_custom_target(fuzz DEPENDS fuzz_tap fuzz_fault fuzz_profile fuzz_import)
endif()
