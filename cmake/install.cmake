# Installing sshmock: a relocatable tree under any prefix, and a Debian
# package built from it (cpack -G DEB).
#
#   PREFIX/bin/sshmock
#   PREFIX/lib/libsshmock.a, lib/pkgconfig/sshmock.pc   the embedding API
#   PREFIX/include/sshmock/sshmock.h
#   PREFIX/share/sshmock/profiles/                      the catalogue (+ keys/)
#   PREFIX/libexec/sshmock/drivers/                     the client matrix's drivers
#   PREFIX/libexec/sshmock/sshmock-libssh-client
#   PREFIX/share/man/man1/sshmock.1, man5/sshmock-profile.5
#
# Nothing installed names an absolute path: the binary finds its profiles
# and drivers relative to itself (SSHMOCK_REL_* below), so the tree can be
# moved, or unpacked from the .deb anywhere.

include(GNUInstallDirs)

# Where the installed binary looks, relative to its own directory.
file(RELATIVE_PATH SSHMOCK_REL_PROFILE_DIR
     "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_DATADIR}/sshmock/profiles")
file(RELATIVE_PATH SSHMOCK_REL_DRIVER_DIR
     "${CMAKE_INSTALL_FULL_BINDIR}" "${CMAKE_INSTALL_FULL_LIBEXECDIR}/sshmock/drivers")
target_compile_definitions(sshmock_core PRIVATE
  SSHMOCK_REL_PROFILE_DIR="${SSHMOCK_REL_PROFILE_DIR}"
  SSHMOCK_REL_DRIVER_DIR="${SSHMOCK_REL_DRIVER_DIR}")

set_target_properties(sshmock_core PROPERTIES OUTPUT_NAME sshmock)

install(TARGETS sshmock RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS sshmock_core ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES include/sshmock/sshmock.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sshmock)

# The bundled engine is a static libssh.a of our own build: it is installed
# beside libsshmock.a under a name of its own, so it never shadows the
# system's libssh.
if(SSHMOCK_ENGINE STREQUAL "bundled")
  install(FILES ${SSHMOCK_ENGINE_STATIC_LIB} DESTINATION ${CMAKE_INSTALL_LIBDIR}
          RENAME libsshmock-engine.a)
  set(SSHMOCK_PC_REQUIRES "libuv >= 1.40, libcrypto >= 3.0, zlib")
  set(SSHMOCK_PC_ENGINE_LIBS "-lsshmock-engine ")
else()
  set(SSHMOCK_PC_REQUIRES "libssh >= 0.10, libuv >= 1.40, libcrypto >= 3.0")
  set(SSHMOCK_PC_ENGINE_LIBS "")
endif()

# pkg-config: libsshmock.a is static, so its dependencies are public.
file(RELATIVE_PATH sshmock_pc_up "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
set(SSHMOCK_PC_PREFIX "\${pcfiledir}/${sshmock_pc_up}")
configure_file(cmake/sshmock.pc.in ${CMAKE_BINARY_DIR}/sshmock.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/sshmock.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(DIRECTORY profiles/ DESTINATION ${CMAKE_INSTALL_DATADIR}/sshmock/profiles
        FILES_MATCHING PATTERN "*.conf" PATTERN "keys/*")
# The demo keys are public test keys; ssh refuses a private key that others
# can read, so the private halves keep mode 0600 as in the repository.
install(FILES profiles/keys/demo_ed25519 profiles/keys/demo_rsa
        DESTINATION ${CMAKE_INSTALL_DATADIR}/sshmock/profiles/keys
        PERMISSIONS OWNER_READ OWNER_WRITE)

install(DIRECTORY client-tests/drivers/ DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/sshmock/drivers
        USE_SOURCE_PERMISSIONS
        PATTERN "__pycache__" EXCLUDE PATTERN "check_drivers.py" EXCLUDE)
install(TARGETS sshmock-libssh-client RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/sshmock)

# The man pages are generated from the binary's --help texts and from
# docs/profile-reference.md, so they say what the code and the docs say.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(SSHMOCK_MAN_DIR ${CMAKE_BINARY_DIR}/man)
add_custom_command(
  OUTPUT ${SSHMOCK_MAN_DIR}/sshmock.1 ${SSHMOCK_MAN_DIR}/sshmock-profile.5
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/scripts/gen-man.py
          --sshmock $<TARGET_FILE:sshmock> --out ${SSHMOCK_MAN_DIR}
  DEPENDS sshmock scripts/gen-man.py docs/profile-reference.md
  COMMENT "Generating man pages")
add_custom_target(man ALL DEPENDS ${SSHMOCK_MAN_DIR}/sshmock.1 ${SSHMOCK_MAN_DIR}/sshmock-profile.5)
install(FILES ${SSHMOCK_MAN_DIR}/sshmock.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${SSHMOCK_MAN_DIR}/sshmock-profile.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES README.md docs/profile-reference.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The Debian package: its dependencies are Debian 12's runtime packages.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME sshmock)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "sshmock developers <sshmock@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "mock SSH server that plays how real SSH servers look and fail")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# The bundled engine is linked in statically: no libssh-4, but its zlib.
# libssh-4 stays for sshmock-libssh-client (the real libssh client).
if(SSHMOCK_ENGINE STREQUAL "bundled")
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libssh-4 (>= 0.10), libuv1 (>= 1.40), libssl3, zlib1g, libjansson4 (>= 2.13)")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libssh-4 (>= 0.10), libuv1 (>= 1.40), libssl3, libjansson4 (>= 2.13)")
endif()
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "openssh-client, python3")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "putty-tools, dropbear-bin, python3-paramiko, python3-asyncssh, nodejs")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
