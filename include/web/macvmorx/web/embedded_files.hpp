#pragma once

#include <span>
#include <string_view>

namespace macvmorx::web {

struct EmbeddedFile {
    std::string_view name;
    std::string_view content;
};

// The files of web/dist, compiled in by CMake (see cmake/EmbedFiles.cmake).
std::span<const EmbeddedFile> embedded_files();

} // namespace macvmorx::web
