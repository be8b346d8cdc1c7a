#include "macvmorx/web/web_assets.hpp"

#include "macvmorx/web/embedded_files.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

namespace macvmorx::web {
namespace {

std::string etag_for(std::string_view content) {
    // FNV-1a: the validator only has to change when the content does.
    std::uint64_t hash = 14695981039346656037ull;
    for (const char c : content) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 1099511628211ull;
    }
    std::ostringstream out;
    out << '"' << std::hex << hash << '-' << std::dec << content.size() << '"';
    return out.str();
}

bool is_plain_file_name(std::string_view name) {
    if (name.empty() || name.front() == '.') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_';
    });
}

} // namespace

std::string_view content_type_for(std::string_view file_name) {
    if (file_name.ends_with(".html")) return "text/html; charset=utf-8";
    if (file_name.ends_with(".css")) return "text/css; charset=utf-8";
    if (file_name.ends_with(".js") || file_name.ends_with(".mjs")) return "text/javascript; charset=utf-8";
    if (file_name.ends_with(".json")) return "application/json";
    if (file_name.ends_with(".svg")) return "image/svg+xml";
    if (file_name.ends_with(".png")) return "image/png";
    if (file_name.ends_with(".ico")) return "image/x-icon";
    return "application/octet-stream";
}

WebAssets WebAssets::embedded() { return WebAssets{}; }

WebAssets WebAssets::from_directory(std::filesystem::path directory) {
    WebAssets assets;
    std::error_code ec;
    if (std::filesystem::is_directory(directory / "src", ec)) {
        assets.directories_ = {directory / "built", directory / "src"};
    } else {
        assets.directories_ = {std::move(directory)};
    }
    return assets;
}

std::optional<WebFile> WebAssets::find(std::string_view name) const {
    if (!is_plain_file_name(name)) return std::nullopt;
    std::string body;
    if (directories_.empty()) {
        const auto files = embedded_files();
        const auto it = std::find_if(files.begin(), files.end(), [name](const EmbeddedFile& f) { return f.name == name; });
        if (it == files.end()) return std::nullopt;
        body = it->content;
    } else {
        const auto found =
            std::find_if(directories_.begin(), directories_.end(), [name](const std::filesystem::path& directory) {
                std::error_code ec;
                return std::filesystem::is_regular_file(directory / std::string(name), ec);
            });
        if (found == directories_.end()) return std::nullopt;
        std::ifstream in{*found / std::string(name), std::ios::binary};
        if (!in) return std::nullopt;
        body.assign(std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{});
    }
    WebFile file;
    file.content_type = content_type_for(name);
    file.etag = etag_for(body);
    file.body = std::move(body);
    return file;
}

} // namespace macvmorx::web
