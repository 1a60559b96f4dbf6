# Unit tests (cmocka): one tests/test_<module>.c per module, each its own
# process under a timeout. Client tests (real clients against the real
# server) live in client-tests/ and are registered from there.

# The unit tests are on unless switched off by name: a build without cmocka
# must not pass as a build whose unit tests passed. Say
# -DSSHMOCK_UNIT_TESTS=OFF to build without them on purpose.
option(SSHMOCK_UNIT_TESTS "Build and register the cmocka unit tests (needs libcmocka-dev)" ON)

if(NOT SSHMOCK_UNIT_TESTS)
  message(STATUS "unit tests switched off (-DSSHMOCK_UNIT_TESTS=OFF)")
elseif(NOT CMOCKA_FOUND)
  message(FATAL_ERROR "cmocka not found: the unit tests cannot be built. Install "
                      "libcmocka-dev, or configure with -DSSHMOCK_UNIT_TESTS=OFF to build "
                      "without them on purpose.")
else()
  # A name here whose file is missing is a configure error, not a skip.
  foreach(t profile tap fault embed wire relay auth channel hostkey hostkey_rsa)
    add_executable(test_${t} tests/test_${t}.c)
    target_link_libraries(test_${t} PRIVATE sshmock_core PkgConfig::CMOCKA)
    target_compile_definitions(test_${t} PRIVATE
      SSHMOCK_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
    add_test(NAME unit.${t} COMMAND test_${t})
    set_tests_properties(unit.${t} PROPERTIES TIMEOUT 60)
  endforeach()
endif()

# The shape of the code (docs/architecture.md): no dependency circle among
# the modules of server/, no file over 1,200 lines, no function over 120.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
add_test(NAME lint.deps COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check-deps.py)
add_test(NAME lint.size COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check-size.py)
set_tests_properties(lint.deps lint.size PROPERTIES TIMEOUT 60 LABELS lint)

include(tests/fuzz/fuzz.cmake)

include(client-tests/tests.cmake)
