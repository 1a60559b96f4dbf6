# Unit tests (cmocka): one tests/test_<module>.c per module, each its own
# process under a timeout. Client tests (real clients against the real
# server) live in client-tests/ and are registered from there.

if(NOT CMOCKA_FOUND)
  message(WARNING "cmocka not found: unit tests are not built (install libcmocka-dev)")
else()
  foreach(t profile tap fault embed hostkey)
    if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_${t}.c)
      add_executable(test_${t} tests/test_${t}.c)
      target_link_libraries(test_${t} PRIVATE sshmock_core PkgConfig::CMOCKA)
      target_compile_definitions(test_${t} PRIVATE
        SSHMOCK_SOURCE_DIR="${CMAKE_CURRENT_SOURCE_DIR}")
      add_test(NAME unit.${t} COMMAND test_${t})
      set_tests_properties(unit.${t} PROPERTIES TIMEOUT 60)
    endif()
  endforeach()
endif()

include(tests/fuzz/fuzz.cmake)

if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/client-tests/tests.cmake)
  include(client-tests/tests.cmake)
endif()
