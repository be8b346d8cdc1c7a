#pragma once

#include <span>
#include <string_view>

namespace macvmorx::web {

struct EmbeddedFile {
    std::string_view name;
    std::string_view content;
};

// The files of web/src and the stylesheet of web/built, compiled in by CMake (see
// cmake/EmbedFiles.cmake and web/README.md).
std::span<const EmbeddedFile> embedded_files();

} // namespace macvmorx::web
