# lanspread_add_plugin(<target> OUTPUT_NAME <file-name> SOURCES <files...> [LINK <libs...>])
#
# Builds a lanspread plugin the way the loader expects it:
#   <target>          MODULE library <file-name>.so: no "lib" prefix, hidden visibility, a
#                     version script that exports only lanspread_plugin_v1, -z defs (the plugin
#                     may depend on no symbol of the kernel: only on the SDK headers and its
#                     own libraries), --exclude-libs ALL (static dependencies stay private);
#   <target>_objects  an OBJECT library of the same sources, so unit tests link the plugin's
#                     code directly and drive it through the SDK's fake host, with no dlopen.
# Shipped with the SDK (find_package(LanspreadSDK) includes it), so third-party plugins build
# with the same rules as the in-tree ones.
set(_LANSPREAD_PLUGIN_VERSION_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/plugin.version")

function(lanspread_add_plugin target)
  cmake_parse_arguments(P "" "OUTPUT_NAME" "SOURCES;LINK" ${ARGN})
  if(NOT P_OUTPUT_NAME)
    message(FATAL_ERROR "lanspread_add_plugin(${target}): OUTPUT_NAME is required")
  endif()
  if(NOT P_SOURCES)
    message(FATAL_ERROR "lanspread_add_plugin(${target}): SOURCES is required")
  endif()

  add_library(${target}_objects OBJECT ${P_SOURCES})
  set_target_properties(${target}_objects PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target}_objects PUBLIC lanspread::sdk ${P_LINK})
  if(COMMAND lanspread_target_warnings)
    lanspread_target_warnings(${target}_objects)
  endif()

  add_library(${target} MODULE)
  target_link_libraries(${target} PRIVATE ${target}_objects)
  set_target_properties(${target} PROPERTIES PREFIX "" OUTPUT_NAME "${P_OUTPUT_NAME}")
  if(LANSPREAD_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY
                                               "${LANSPREAD_PLUGIN_OUTPUT_DIR}")
  endif()
  target_link_options(${target} PRIVATE
    "-Wl,--version-script=${_LANSPREAD_PLUGIN_VERSION_SCRIPT}"
    "-Wl,-z,defs"
    "-Wl,--exclude-libs,ALL")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS "${_LANSPREAD_PLUGIN_VERSION_SCRIPT}")
endfunction()
