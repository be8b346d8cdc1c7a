#include "macvmorx/api/handlers.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/web/web_assets.hpp"

namespace macvmorx::api {
namespace {

// The page runs only its own files: no inline script or style, no framing, nothing sent elsewhere.
void add_security_headers(http::Response& response) {
    response.set_header("Content-Security-Policy",
                        "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    response.set_header("X-Content-Type-Options", "nosniff");
    response.set_header("Referrer-Policy", "no-referrer");
    response.set_header("X-Frame-Options", "DENY");
}

http::Response serve_file(const http::Request& request, const web::WebAssets& assets, std::string_view name) {
    auto file = assets.find(name);
    if (!file) throw http::NotFound("not found", "no dashboard file named '" + std::string(name) + "'");
    http::Response response;
    add_security_headers(response);
    response.set_header("ETag", file->etag);
    // Embedded files change only with the binary; revalidating with the ETag is cheap.
    response.set_header("Cache-Control", "no-cache");
    if (const auto match = request.header("If-None-Match"); match && *match == file->etag) {
        response.status = 304;
        response.content_type.clear();
        return response;
    }
    response.content_type = std::move(file->content_type);
    response.body = std::move(file->body);
    return response;
}

} // namespace

http::Response handle_dashboard(const http::Request& request, ApiContext& context) {
    return serve_file(request, context.web, "index.html");
}

http::Response handle_web_asset(const http::Request& request, ApiContext& context) {
    return serve_file(request, context.web, request.path_param("file"));
}

} // namespace macvmorx::api
