# Packaging: the install rules only an installed lanspread needs (its docs; the service and
# its config for the Debian package) and CPack's two Debian packages.
#
#   cmake --build <build dir> --target package
#     -> <build dir>/lanspread_<version>-<release>_<arch>.deb
#        <build dir>/lanspread-sdk-dev_<version>-<release>_<arch>.deb
#
# Install components (every rule of the tree names one; a rule that names none lands in
# `lanspread`, CMAKE_INSTALL_DEFAULT_COMPONENT_NAME in the top CMakeLists.txt):
#   lanspread          lanspreadd, the lanspread client, the in-tree plugins, the bundled
#                      catalog, the web page's files, the docs
#   lanspread-system   the systemd unit and /etc/lanspread/lanspread.ini, at absolute paths:
#                      EXCLUDE_FROM_ALL, so a plain `cmake --install --prefix ...` never
#                      writes to /etc or /lib; packaged with `lanspread`
#   lanspread-sdk-dev  the SDK headers, its CMake package, docs and examples, and
#                      lanspread-plugin-check
include(GNUInstallDirs)

set(_pkg_dir ${CMAKE_SOURCE_DIR}/packaging/debian)
set(_pkg_out ${CMAKE_BINARY_DIR}/packaging)

# ---- docs: docs/*.md (the index, docs/README.md, becomes README.md) and their images ----
file(GLOB _docs ${CMAKE_SOURCE_DIR}/docs/*.md)
list(REMOVE_ITEM _docs ${CMAKE_SOURCE_DIR}/docs/README.md)
install(FILES ${_docs} ${_pkg_dir}/README.Debian
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/lanspread COMPONENT lanspread)
install(FILES ${CMAKE_SOURCE_DIR}/docs/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/lanspread RENAME README.md COMPONENT lanspread)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/images
        DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/lanspread COMPONENT lanspread)

# ---- Debian's per-package files: copyright, changelog.Debian.gz, lintian overrides ----
set(LANSPREAD_DEB_RELEASE 1)
set(LANSPREAD_DEB_VERSION ${PROJECT_VERSION}-${LANSPREAD_DEB_RELEASE})
set(CPACK_PACKAGE_CONTACT
    "lanspread maintainers <maintainers@users.noreply.b-seed-80eb7140.example>")
# SOURCE_DATE_EPOCH, when set, fixes the date (reproducible builds).
string(TIMESTAMP LANSPREAD_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${_pkg_dir}/changelog.in ${_pkg_out}/changelog.Debian @ONLY)
# gzip -n: no name or time stamp in the header, as Debian wants.
execute_process(COMMAND gzip -9 -n -c ${_pkg_out}/changelog.Debian
                OUTPUT_FILE ${_pkg_out}/changelog.Debian.gz RESULT_VARIABLE _gzip)
if(NOT _gzip EQUAL 0)
  message(FATAL_ERROR "gzip of ${_pkg_out}/changelog.Debian failed (${_gzip})")
endif()
foreach(_pkg lanspread lanspread-sdk-dev)
  install(FILES ${_pkg_dir}/copyright ${_pkg_out}/changelog.Debian.gz
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${_pkg} COMPONENT ${_pkg})
  if(EXISTS ${_pkg_dir}/${_pkg}.lintian-overrides)
    install(FILES ${_pkg_dir}/${_pkg}.lintian-overrides
            DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME ${_pkg}
            COMPONENT ${_pkg})
  endif()
endforeach()

# ---- the service (lanspread-system: only in the package) ----
install(FILES ${_pkg_dir}/lanspread.service DESTINATION /lib/systemd/system
        COMPONENT lanspread-system EXCLUDE_FROM_ALL)
install(FILES ${_pkg_dir}/lanspread.ini DESTINATION /etc/lanspread
        COMPONENT lanspread-system EXCLUDE_FROM_ALL)

# ---- CPack ----
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lanspread)
set(CPACK_PACKAGE_VENDOR "lanspread")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lanspread lanspread-system lanspread-sdk-dev)
set(CPACK_COMPONENTS_GROUPING ONE_PER_GROUP)
set(CPACK_COMPONENT_LANSPREAD_GROUP lanspread)
set(CPACK_COMPONENT_LANSPREAD-SYSTEM_GROUP lanspread)
set(CPACK_COMPONENT_LANSPREAD-SDK-DEV_GROUP lanspread-sdk-dev)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # <name>_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE ${LANSPREAD_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SOURCE lanspread)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps turns every binary's and plugin's NEEDED libraries into Depends.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Maintainer scripts 0755, conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_LANSPREAD_PACKAGE_NAME lanspread)
set(CPACK_DEBIAN_LANSPREAD_PACKAGE_SECTION net)
# adduser: postinst creates the system user lanspread.
set(CPACK_DEBIAN_LANSPREAD_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_LANSPREAD_PACKAGE_RECOMMENDS "avahi-daemon")
# The unrar unpacker's sidecars (RAR is also read in-process by unpacker-libarchive).
set(CPACK_DEBIAN_LANSPREAD_PACKAGE_SUGGESTS "libarchive-tools, unar")
set(CPACK_DEBIAN_LANSPREAD_DESCRIPTION
"LAN-party game sharing peer: daemon, client and plugins
lanspread lets the machines at a LAN party find each other, see every
peer's games, pull a game from several peers at once and install it,
with no server and no internet.

This package runs the peer lanspreadd as the systemd service
lanspread.service (system user lanspread, settings in
/etc/lanspread/lanspread.ini, state in /var/lib/lanspread). It holds
the lanspread command, which talks to the running peer over its control
socket, the plugins (QUIC and TLS transports, mDNS discovery through
avahi-daemon, archive unpackers, the control socket and the web page)
and the bundled game catalog.")
configure_file(${_pkg_dir}/conffiles ${_pkg_out}/conffiles COPYONLY)
set(CPACK_DEBIAN_LANSPREAD_PACKAGE_CONTROL_EXTRA
    ${_pkg_out}/conffiles ${_pkg_dir}/postinst ${_pkg_dir}/prerm ${_pkg_dir}/postrm)

set(CPACK_DEBIAN_LANSPREAD-SDK-DEV_PACKAGE_NAME lanspread-sdk-dev)
set(CPACK_DEBIAN_LANSPREAD-SDK-DEV_PACKAGE_SECTION devel)
# No dependency on lanspread: the headers are header-only and lanspread-plugin-check links
# the kernel statically, so a plugin builds and is checked without a peer installed (e.g.
# in a third party's CI). Running the plugin needs the peer, hence the suggestion.
set(CPACK_DEBIAN_LANSPREAD-SDK-DEV_PACKAGE_SUGGESTS "lanspread (= ${LANSPREAD_DEB_VERSION})")
set(CPACK_DEBIAN_LANSPREAD-SDK-DEV_DESCRIPTION
"lanspread plugin SDK: headers, CMake package and conformance tool
Everything needed to write a lanspread plugin outside the lanspread
source tree: the C ABI headers and their header-only C++20 wrapper, the
fake host for unit tests, the CMake package LanspreadSDK with
lanspread_add_plugin(), the SDK's documentation, an example plugin, and
lanspread-plugin-check, which loads a plugin through the real loader and
runs the conformance checks of its kind.")

include(CPack)
