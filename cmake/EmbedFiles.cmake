# macvmorx_embed_files(OUTPUT <file.cpp> BASE_DIR <dir> FILES <name>...)
#
# Generates a C++ source defining macvmorx::web::embedded_files() with the content of each
# file (named relative to BASE_DIR), so that the binary serves them without the files on disk.
# The source is regenerated whenever one of the files changes.
function(macvmorx_embed_files)
  cmake_parse_arguments(ARG "" "OUTPUT;BASE_DIR" "FILES" ${ARGN})
  set(paths "")
  foreach(name IN LISTS ARG_FILES)
    list(APPEND paths "${ARG_BASE_DIR}/${name}")
  endforeach()
  string(REPLACE ";" "|" names "${ARG_FILES}")
  add_custom_command(
    OUTPUT "${ARG_OUTPUT}"
    COMMAND "${CMAKE_COMMAND}" "-DOUTPUT=${ARG_OUTPUT}" "-DBASE_DIR=${ARG_BASE_DIR}" "-DNAMES=${names}"
            -P "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/embed_files_script.cmake"
    DEPENDS ${paths} "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/embed_files_script.cmake"
    COMMENT "Embedding ${ARG_FILES}"
    VERBATIM)
endfunction()
