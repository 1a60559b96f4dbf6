# Packaging tests: the installed tree, the Python helper and the container
# image, each as a user meets it. Only in a normal build: the sanitizer
# build's library cannot be linked by a plain `cc` (the pkg-config example),
# and the image builds its own binary anyway.
if(SSHMOCK_SANITIZE)
  return()
endif()

set(sshmock_py /usr/bin/python3)
add_test(NAME packaging.install
         COMMAND ${sshmock_py} ${CMAKE_CURRENT_SOURCE_DIR}/tests/packaging/test_install.py
                 --build-dir ${CMAKE_BINARY_DIR})
add_test(NAME packaging.python
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/tests/packaging/test_python.sh $<TARGET_FILE:sshmock>)
add_test(NAME packaging.container
         COMMAND ${sshmock_py} ${CMAKE_CURRENT_SOURCE_DIR}/tests/packaging/test_container.py)
set_tests_properties(packaging.install packaging.python PROPERTIES
  TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS packaging)
# Builds an image (several minutes) and uses the lab's ports 2200-2230.
set_tests_properties(packaging.container PROPERTIES
  TIMEOUT 2400 SKIP_RETURN_CODE 77 LABELS "packaging;container" RUN_SERIAL TRUE)
