# Client tests: real SSH clients (OpenSSH, PuTTY plink, dropbear dbclient,
# paramiko) against the real server binary, one CTest test per file, each
# its own process under a timeout. A file whose client is not installed
# exits 77 and is reported as skipped, never as passed.
#
# They run on Debian's interpreter, which has paramiko; another python3
# earlier on PATH may not. Override with -DSSHMOCK_CLIENT_PYTHON=...

set(SSHMOCK_CLIENT_PYTHON /usr/bin/python3 CACHE FILEPATH
    "Python 3 (with paramiko) that runs the client tests")

set(sshmock_client_tests
  openssh 120
  plink 90
  dbclient 90
  paramiko 90
  catalogue 180
  cli 120
  robustness 300
  wire_timers 60
  auth_hardening 120
  auth_layer 120
  offers 180
  engine 120
  harden 240
  limits 60
  ticket 600
)

while(sshmock_client_tests)
  list(POP_FRONT sshmock_client_tests t timeout)
  set(name client.${t})
  add_test(NAME ${name}
           COMMAND ${SSHMOCK_CLIENT_PYTHON}
                   ${CMAKE_CURRENT_SOURCE_DIR}/client-tests/test_${t}.py
                   --sshmock $<TARGET_FILE:sshmock>)
  set_tests_properties(${name} PROPERTIES
    TIMEOUT ${timeout}
    SKIP_RETURN_CODE 77
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1;SSHMOCK_ENGINE=${SSHMOCK_ENGINE}"
    LABELS client)
endwhile()

# No interpreter is not a reason to pass: the tests stay registered and
# fail (ctest counts a missing executable as a failure), never disabled.
if(NOT EXISTS ${SSHMOCK_CLIENT_PYTHON})
  message(WARNING "${SSHMOCK_CLIENT_PYTHON} does not exist: the client tests will fail "
                  "(set -DSSHMOCK_CLIENT_PYTHON=... to a Python 3 with paramiko)")
endif()

# The drivers' own self-test: every driver against real servers (modern,
# legacy-kex-group1, hostkey-changed, ident-stall and the other legacy
# profiles). A client that is not installed is reported as skipped with its
# reason in the table; the test as a whole is skipped (77) only when no
# client at all could run, and fails when a driver does not do its job.
add_test(NAME client.drivers
         COMMAND ${SSHMOCK_CLIENT_PYTHON}
                 ${CMAKE_CURRENT_SOURCE_DIR}/client-tests/drivers/check_drivers.py
                 --sshmock $<TARGET_FILE:sshmock>)
set_tests_properties(client.drivers PROPERTIES
  TIMEOUT 600
  SKIP_RETURN_CODE 77
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1;SSHMOCK_BUILD_DIR=${CMAKE_BINARY_DIR}"
  LABELS client)

# The storm measures the server's descriptors and timing: keep it alone.
set_tests_properties(client.robustness PROPERTIES RUN_SERIAL TRUE)

# The client matrix: every catalogue profile against each real client, with
# every documented fix, one CTest test per client so that a client that is
# not installed shows as skipped (exit 77) with the driver's reason. Each
# writes JUnit XML next to the build for CI systems to pick up.
# The clients come from the one list in server/profile/clients.c (its rows
# begin with { "name", ...), so a client added there gets its CTest test.
file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/server/profile/clients.c sshmock_client_rows
     REGEX "^    \\{ \"[a-z0-9]+\",")
set(sshmock_matrix_clients "")
foreach(row ${sshmock_client_rows})
  string(REGEX REPLACE "^    \\{ \"([a-z0-9]+)\",.*" "\\1" name "${row}")
  list(APPEND sshmock_matrix_clients ${name})
endforeach()
list(LENGTH sshmock_matrix_clients sshmock_nclients)
if(sshmock_nclients LESS 7)
  message(FATAL_ERROR "client-tests/tests.cmake: read ${sshmock_nclients} clients from "
                      "server/profile/clients.c (${sshmock_matrix_clients}); its rows changed shape")
endif()
foreach(c ${sshmock_matrix_clients})
  add_test(NAME matrix.${c}
           COMMAND $<TARGET_FILE:sshmock> matrix --client ${c} --fixes --strict --quiet
                   --junit ${CMAKE_BINARY_DIR}/matrix-${c}.xml)
  set_tests_properties(matrix.${c} PROPERTIES
    TIMEOUT 300
    SKIP_RETURN_CODE 77
    LABELS matrix
    ENVIRONMENT "SSHMOCK_BUILD_DIR=${CMAKE_BINARY_DIR}")
endforeach()

# A user's own client configuration through --custom: its differences from
# stock OpenSSH are reported, not failed; the report files are written.
add_test(NAME matrix.custom
         COMMAND ${SSHMOCK_CLIENT_PYTHON}
                 ${CMAKE_CURRENT_SOURCE_DIR}/client-tests/test_matrix_custom.py
                 --sshmock $<TARGET_FILE:sshmock>)
set_tests_properties(matrix.custom PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS matrix)

# Every environment variable reaches the clients, however many there are.
add_test(NAME matrix.env
         COMMAND ${SSHMOCK_CLIENT_PYTHON}
                 ${CMAKE_CURRENT_SOURCE_DIR}/client-tests/test_matrix_env.py
                 --sshmock $<TARGET_FILE:sshmock>)
set_tests_properties(matrix.env PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS matrix)

# The stage of an expected failure is checked against what the server saw,
# and --strict fails a cell that has no expectation.
add_test(NAME matrix.checks
         COMMAND ${SSHMOCK_CLIENT_PYTHON}
                 ${CMAKE_CURRENT_SOURCE_DIR}/client-tests/test_matrix_checks.py
                 --sshmock $<TARGET_FILE:sshmock>)
set_tests_properties(matrix.checks PROPERTIES TIMEOUT 120 SKIP_RETURN_CODE 77 LABELS matrix)

# Twin tests: each profile against the real server it claims to be.
include(${CMAKE_CURRENT_LIST_DIR}/twins.cmake)
