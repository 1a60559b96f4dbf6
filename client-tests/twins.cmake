# Twin tests (client-tests/twins/): every catalogue profile beside the real
# server it claims to be (OpenSSH 9.2 sshd with the profile's keywords, a
# real sshd in a broken state, or an honest stand-in), the same seven
# clients against both, outputs compared. Fails on any difference that
# client-tests/twins/known-differences.txt does not document; skipped (77)
# when not root (sshd's twin account lives in a private mount namespace).
# Alone: ctest -L twins, or client-tests/twins/twins.py --sshmock build/sshmock
# Not in the sanitizer build: it compares timing-dependent behaviour (who
# wins a hang-up race) with a real sshd, which ASan's slowdown would shift;
# the sanitizer pass of the other client tests covers sshmock's memory.
if(SSHMOCK_SANITIZE)
  return()
endif()
add_test(NAME twins
         COMMAND ${SSHMOCK_CLIENT_PYTHON}
                 ${CMAKE_CURRENT_LIST_DIR}/twins/twins.py
                 --sshmock $<TARGET_FILE:sshmock>
                 --markdown ${CMAKE_BINARY_DIR}/twins.md
                 --json ${CMAKE_BINARY_DIR}/twins.json)
# It keeps both cores busy for about two minutes; the timing-sensitive
# client tests should not share them with it.
set_tests_properties(twins PROPERTIES
  TIMEOUT 600
  SKIP_RETURN_CODE 77
  RUN_SERIAL TRUE
  LABELS twins
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1;SSHMOCK_BUILD_DIR=${CMAKE_BINARY_DIR}")
