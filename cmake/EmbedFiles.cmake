# macvmorx_embed_files(OUTPUT <file.cpp> BASE_DIR <dir> FILES <file>...)
#
# Generates a C++ source defining macvmorx::web::embedded_files() with the content of each
# file, served under its file name: a file is named relative to BASE_DIR, or by an absolute path
# (a file built elsewhere). Two files of the same name are an error. The source is regenerated
# whenever one of the files changes.
function(macvmorx_embed_files)
  cmake_parse_arguments(ARG "" "OUTPUT;BASE_DIR" "FILES" ${ARGN})
  set(paths "")
  set(names "")
  foreach(entry IN LISTS ARG_FILES)
    cmake_path(ABSOLUTE_PATH entry BASE_DIRECTORY "${ARG_BASE_DIR}" OUTPUT_VARIABLE path)
    cmake_path(GET path FILENAME name)
    if(name IN_LIST names)
      message(FATAL_ERROR "macvmorx_embed_files: two files are named ${name}")
    endif()
    list(APPEND paths "${path}")
    list(APPEND names "${name}")
  endforeach()
  string(REPLACE ";" "|" joined_paths "${paths}")
  add_custom_command(
    OUTPUT "${ARG_OUTPUT}"
    COMMAND "${CMAKE_COMMAND}" "-DOUTPUT=${ARG_OUTPUT}" "-DPATHS=${joined_paths}"
            -P "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/embed_files_script.cmake"
    DEPENDS ${paths} "${CMAKE_CURRENT_FUNCTION_LIST_DIR}/embed_files_script.cmake"
    COMMENT "Embedding ${names}"
    VERBATIM)
endfunction()
