# macvmorx_layer(<name> SOURCES <file>... [LAYERS <layer>...] [PUBLIC_LIBRARIES <target>...]
#                [PRIVATE_LIBRARIES <target>...])
#
# One layer of macvmorx (docs/architecture.md): a static library `macvmorx_<name>` built from
# its sources (relative to src/), whose headers are those under include/<name>/. It links the
# lower layers it names, and through them theirs; nothing else is on its include path, so that
# an include of a higher layer's header fails to compile.
function(macvmorx_layer name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "" "SOURCES;LAYERS;PUBLIC_LIBRARIES;PRIVATE_LIBRARIES")
  list(TRANSFORM arg_SOURCES PREPEND "${PROJECT_SOURCE_DIR}/src/" REGEX "^[^/]")
  list(TRANSFORM arg_LAYERS PREPEND "macvmorx_")
  # Layers are declared bottom up: one may link only a layer declared before it, so that the
  # layers cannot form a circle and no include can run back up.
  foreach(lower IN LISTS arg_LAYERS)
    if(NOT TARGET ${lower})
      message(FATAL_ERROR "layer ${name} links ${lower}, which is not a layer declared below it")
    endif()
  endforeach()
  add_library(macvmorx_${name} STATIC ${arg_SOURCES})
  target_include_directories(macvmorx_${name} PUBLIC "${PROJECT_SOURCE_DIR}/include/${name}")
  target_link_libraries(macvmorx_${name}
    PUBLIC ${arg_LAYERS} ${arg_PUBLIC_LIBRARIES}
    PRIVATE ${arg_PRIVATE_LIBRARIES})
endfunction()
