# The SSH engine sshmock's server side runs on: libssh 0.10.
#
#   -DSSHMOCK_ENGINE=bundled  (default) libssh 0.10.6 built here, at configure
#                             time, from its upstream source in the Debian
#                             archive, pinned by SHA-256, with the legacy
#                             build options on and our patches applied
#                             (engine/libssh/patches/NNN-name.patch, sorted,
#                             `patch -p1`): a static, PIC libssh.a linked
#                             into sshmock and libsshmock.a.
#   -DSSHMOCK_ENGINE=system   Debian's libssh-dev through pkg-config, as
#                             before: builds offline, plays less (see
#                             `sshmock check`).
#
# The tarball is kept in SSHMOCK_ENGINE_CACHE (cache variable, or the
# environment variable of that name; default ~/.cache/sshmock, or the source
# tree's gitignored engine/cache/ when HOME is unset), so the normal, ASan
# and fuzz builds download it once; scripts/setup.sh prefetches it. Its
# checksum is verified on every configure.
#
# What this file gives the rest of the build:
#   sshmock_engine            INTERFACE target: link it to use the engine
#   SSHMOCK_ENGINE_DESC       "bundled libssh 0.10.6 + N patches" / "system libssh X"
#   SSHMOCK_ENGINE_PATCHES    the number of patches applied (bundled)
#   SSHMOCK_ENGINE_STATIC_LIB the libssh.a to install beside libsshmock.a (bundled)
# and, to the code, SSHMOCK_ENGINE_BUNDLED=1 (bundled only) and
# SSHMOCK_ENGINE_DESC="...". Each patch that adds an API also defines a
# LIBSSH_SSHMOCK_* macro in the header that declares it, so code can test for
# the feature itself.

set(SSHMOCK_ENGINE bundled CACHE STRING "SSH engine: bundled (patched libssh 0.10.6, built here) or system (pkg-config libssh)")
set_property(CACHE SSHMOCK_ENGINE PROPERTY STRINGS bundled system)

add_library(sshmock_engine INTERFACE)

if(SSHMOCK_ENGINE STREQUAL "system")
  pkg_check_modules(LIBSSH REQUIRED IMPORTED_TARGET libssh>=0.10)
  target_link_libraries(sshmock_engine INTERFACE PkgConfig::LIBSSH)
  set(SSHMOCK_ENGINE_DESC "system libssh ${LIBSSH_VERSION}")
  set(SSHMOCK_ENGINE_PATCHES 0)
  target_compile_definitions(sshmock_engine INTERFACE
    SSHMOCK_ENGINE_DESC="${SSHMOCK_ENGINE_DESC}")
  message(STATUS "sshmock engine: ${SSHMOCK_ENGINE_DESC}")
  return()
elseif(NOT SSHMOCK_ENGINE STREQUAL "bundled")
  message(FATAL_ERROR "SSHMOCK_ENGINE is '${SSHMOCK_ENGINE}': it must be 'bundled' or 'system'")
endif()

# ---- the pinned source ---------------------------------------------------
set(sshmock_libssh_version 0.10.6)
set(sshmock_libssh_file libssh_${sshmock_libssh_version}.orig.tar.xz)
set(sshmock_libssh_url http://deb.debian.org/debian/pool/main/libs/libssh/${sshmock_libssh_file})
# sha256sum of the file in the Debian archive (561036 bytes). Plain http is
# fine: the checksum, not the transport, is what is trusted.
set(sshmock_libssh_sha256 1861d498f5b6f1741b6abc73e608478491edcf9c9d4b6630eef6e74596de9dc1)

if(DEFINED ENV{SSHMOCK_ENGINE_CACHE} AND NOT "$ENV{SSHMOCK_ENGINE_CACHE}" STREQUAL "")
  set(sshmock_engine_cache_default "$ENV{SSHMOCK_ENGINE_CACHE}")
elseif(DEFINED ENV{HOME} AND NOT "$ENV{HOME}" STREQUAL "")
  set(sshmock_engine_cache_default "$ENV{HOME}/.cache/sshmock")
else()
  set(sshmock_engine_cache_default "${CMAKE_CURRENT_SOURCE_DIR}/engine/cache")
endif()
set(SSHMOCK_ENGINE_CACHE "${sshmock_engine_cache_default}" CACHE PATH
    "Where the engine's source tarball is kept between builds")

set(sshmock_engine_no_net_hint
    "To build without it, use Debian's libssh instead (plays less; `sshmock check` says what): "
    "cmake -DSSHMOCK_ENGINE=system ... (needs libssh-dev). Or put the file there by hand: "
    "${sshmock_libssh_url} -> ${SSHMOCK_ENGINE_CACHE}/${sshmock_libssh_file}")
string(CONCAT sshmock_engine_no_net_hint ${sshmock_engine_no_net_hint})

set(sshmock_libssh_tarball "${SSHMOCK_ENGINE_CACHE}/${sshmock_libssh_file}")
set(sshmock_libssh_have 0)
if(EXISTS "${sshmock_libssh_tarball}")
  file(SHA256 "${sshmock_libssh_tarball}" sshmock_libssh_got)
  if(sshmock_libssh_got STREQUAL sshmock_libssh_sha256)
    set(sshmock_libssh_have 1)
  else()
    # A truncated or tampered copy: fetched again below, never used.
    message(WARNING "sshmock engine: ${sshmock_libssh_tarball} has SHA-256 "
                    "${sshmock_libssh_got}, expected ${sshmock_libssh_sha256}: downloading it again")
    file(REMOVE "${sshmock_libssh_tarball}")
  endif()
endif()
if(NOT sshmock_libssh_have)
  message(STATUS "sshmock engine: downloading ${sshmock_libssh_url}")
  file(MAKE_DIRECTORY "${SSHMOCK_ENGINE_CACHE}")
  # To a temporary name, so an interrupted download never looks complete.
  set(sshmock_libssh_part "${sshmock_libssh_tarball}.part")
  file(DOWNLOAD "${sshmock_libssh_url}" "${sshmock_libssh_part}"
       TIMEOUT 120 INACTIVITY_TIMEOUT 30 STATUS sshmock_dl_status)
  list(GET sshmock_dl_status 0 sshmock_dl_code)
  list(GET sshmock_dl_status 1 sshmock_dl_text)
  if(NOT sshmock_dl_code EQUAL 0)
    file(REMOVE "${sshmock_libssh_part}")
    message(FATAL_ERROR "sshmock engine: cannot download libssh ${sshmock_libssh_version} "
                        "from ${sshmock_libssh_url}: ${sshmock_dl_text} (curl code ${sshmock_dl_code}).\n"
                        "${sshmock_engine_no_net_hint}")
  endif()
  file(SHA256 "${sshmock_libssh_part}" sshmock_libssh_got)
  if(NOT sshmock_libssh_got STREQUAL sshmock_libssh_sha256)
    file(REMOVE "${sshmock_libssh_part}")
    message(FATAL_ERROR "sshmock engine: ${sshmock_libssh_url} has SHA-256 ${sshmock_libssh_got}, "
                        "expected ${sshmock_libssh_sha256}: refusing to build it.\n"
                        "${sshmock_engine_no_net_hint}")
  endif()
  file(RENAME "${sshmock_libssh_part}" "${sshmock_libssh_tarball}")
endif()

# ---- our patches -----------------------------------------------------------
# Applied in sorted order. Numbers: 001-049 engine (identification,
# disconnect codes, strict kex), 050-099 legacy algorithms, 100-149 auth
# layer (ext-info). Each is written against pristine 0.10.6.
file(GLOB sshmock_engine_patches
     "${CMAKE_CURRENT_SOURCE_DIR}/engine/libssh/patches/*.patch")
list(SORT sshmock_engine_patches)
list(LENGTH sshmock_engine_patches SSHMOCK_ENGINE_PATCHES)
# Editing, adding or removing a patch re-runs configure.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             "${CMAKE_CURRENT_SOURCE_DIR}/engine/libssh/patches"
             ${sshmock_engine_patches})

# libssh's own build options (its DefineOptions.cmake). Legacy algorithms on:
# playing old servers is the point. Static and PIC: linked into the
# binary, libsshmock.a and whatever embeds it.
set(sshmock_libssh_options
  -DBUILD_SHARED_LIBS=OFF
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DWITH_GEX=ON
  -DWITH_DSA=ON
  -DWITH_BLOWFISH_CIPHER=ON
  -DWITH_SERVER=ON
  -DWITH_ZLIB=ON
  -DWITH_SFTP=ON
  -DWITH_GSSAPI=OFF
  -DWITH_PCAP=OFF
  -DWITH_EXAMPLES=OFF
  -DUNIT_TESTING=OFF
  -DCLIENT_TESTING=OFF
  -DSERVER_TESTING=OFF
  -DWITH_NACL=OFF
  -DWITH_SYMBOL_VERSIONING=OFF
  -DWITH_DEBUG_CALLTRACE=OFF
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER})

set(sshmock_engine_dir "${CMAKE_BINARY_DIR}/engine")
set(sshmock_engine_src "${sshmock_engine_dir}/libssh-${sshmock_libssh_version}")
set(sshmock_engine_bld "${sshmock_engine_dir}/build")
set(sshmock_engine_inst "${sshmock_engine_dir}/install")
set(SSHMOCK_ENGINE_STATIC_LIB "${sshmock_engine_inst}/lib/libssh.a")

# What the built engine depends on: rebuilt only when one of these changes.
set(sshmock_engine_key "${sshmock_libssh_sha256};${sshmock_libssh_options}")
foreach(p IN LISTS sshmock_engine_patches)
  file(SHA256 "${p}" h)
  get_filename_component(n "${p}" NAME)
  string(APPEND sshmock_engine_key ";${n}=${h}")
endforeach()
string(SHA256 sshmock_engine_key "${sshmock_engine_key}")
set(sshmock_engine_stamp "${sshmock_engine_dir}/stamp")
set(sshmock_engine_built "")
if(EXISTS "${sshmock_engine_stamp}")
  file(READ "${sshmock_engine_stamp}" sshmock_engine_built)
endif()

if(NOT sshmock_engine_built STREQUAL sshmock_engine_key OR NOT EXISTS "${SSHMOCK_ENGINE_STATIC_LIB}")
  message(STATUS "sshmock engine: building libssh ${sshmock_libssh_version} "
                 "with ${SSHMOCK_ENGINE_PATCHES} patches in ${sshmock_engine_dir}")
  string(TIMESTAMP sshmock_engine_t0 "%s")
  file(REMOVE_RECURSE "${sshmock_engine_dir}")
  file(MAKE_DIRECTORY "${sshmock_engine_dir}")
  file(ARCHIVE_EXTRACT INPUT "${sshmock_libssh_tarball}" DESTINATION "${sshmock_engine_dir}")
  if(NOT EXISTS "${sshmock_engine_src}/CMakeLists.txt")
    message(FATAL_ERROR "sshmock engine: ${sshmock_libssh_file} did not unpack to ${sshmock_engine_src}")
  endif()

  find_program(SSHMOCK_PATCH_EXECUTABLE patch)
  if(SSHMOCK_ENGINE_PATCHES GREATER 0 AND NOT SSHMOCK_PATCH_EXECUTABLE)
    message(FATAL_ERROR "sshmock engine: the 'patch' program is needed (apt-get install patch)")
  endif()
  foreach(p IN LISTS sshmock_engine_patches)
    execute_process(
      COMMAND "${SSHMOCK_PATCH_EXECUTABLE}" -p1 --forward --batch --no-backup-if-mismatch -i "${p}"
      WORKING_DIRECTORY "${sshmock_engine_src}"
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "sshmock engine: patch ${p} does not apply to libssh "
                          "${sshmock_libssh_version} (with the patches before it):\n${out}")
    endif()
  endforeach()

  cmake_host_system_information(RESULT sshmock_ncpu QUERY NUMBER_OF_LOGICAL_CORES)
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -S "${sshmock_engine_src}" -B "${sshmock_engine_bld}"
            -G "${CMAKE_GENERATOR}"
            "-DCMAKE_INSTALL_PREFIX=${sshmock_engine_inst}" -DCMAKE_INSTALL_LIBDIR=lib
            ${sshmock_libssh_options}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "sshmock engine: configuring libssh failed:\n${out}\n"
                        "(-DSSHMOCK_ENGINE=system builds against Debian's libssh instead)")
  endif()
  execute_process(
    COMMAND "${CMAKE_COMMAND}" --build "${sshmock_engine_bld}" --target install
            --parallel ${sshmock_ncpu}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "sshmock engine: building libssh failed:\n${out}\n"
                        "(-DSSHMOCK_ENGINE=system builds against Debian's libssh instead)")
  endif()
  file(WRITE "${sshmock_engine_stamp}" "${sshmock_engine_key}")
  string(TIMESTAMP sshmock_engine_t1 "%s")
  math(EXPR sshmock_engine_secs "${sshmock_engine_t1} - ${sshmock_engine_t0}")
  message(STATUS "sshmock engine: built in ${sshmock_engine_secs} s")
endif()

find_package(ZLIB REQUIRED)
target_include_directories(sshmock_engine INTERFACE "${sshmock_engine_inst}/include")
target_link_libraries(sshmock_engine INTERFACE "${SSHMOCK_ENGINE_STATIC_LIB}"
                      PkgConfig::LIBCRYPTO ZLIB::ZLIB Threads::Threads)
set(SSHMOCK_ENGINE_DESC "bundled libssh ${sshmock_libssh_version} + ${SSHMOCK_ENGINE_PATCHES} patches")
target_compile_definitions(sshmock_engine INTERFACE
  LIBSSH_STATIC SSHMOCK_ENGINE_BUNDLED=1 SSHMOCK_ENGINE_DESC="${SSHMOCK_ENGINE_DESC}")
message(STATUS "sshmock engine: ${SSHMOCK_ENGINE_DESC}")
