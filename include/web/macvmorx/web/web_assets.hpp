#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::web {

struct WebFile {
    std::string content_type;
    std::string body;
    std::string etag; // a quoted strong validator derived from the content
};

// The dashboard's files: built into the binary, or read from a directory on every request
// while developing the page (`--web-dir`). A directory laid out as the repository's web/ (one
// with a src/ folder) serves what Tailwind built into its built/ (styles.css) and everything else
// from its src/, as the binary embeds them; any other directory serves its own files. Names are
// plain file names ("index.html"); anything else is not found, so a path can never leave the
// directories.
//
// Threading: immutable after construction; `find` is safe from any thread.
class WebAssets {
public:
    static WebAssets embedded();
    static WebAssets from_directory(std::filesystem::path directory);

    std::optional<WebFile> find(std::string_view name) const;

    bool serves_from_disk() const { return !directories_.empty(); }

private:
    std::vector<std::filesystem::path> directories_; // searched in order; empty: embedded

};

std::string_view content_type_for(std::string_view file_name);

} // namespace macvmorx::web
