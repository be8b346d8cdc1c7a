#include "macvmorx/http/http_error.hpp"

#include "macvmorx/json/json_writer.hpp"

namespace macvmorx::http {

HttpError::HttpError(int status, std::string error, std::string detail, std::string field)
    : std::runtime_error{error + (detail.empty() ? "" : ": " + detail)},
      status_{status},
      error_{std::move(error)},
      detail_{std::move(detail)},
      field_{std::move(field)} {}

HttpError& HttpError::with_header(std::string name, std::string value) {
    headers_.push_back({std::move(name), std::move(value)});
    return *this;
}

HttpError& HttpError::with_member(std::string name, std::string value) {
    extra_.emplace_back(std::move(name), std::move(value));
    return *this;
}

HttpError& HttpError::with_json_member(std::string name, std::string json) {
    json_extra_.emplace_back(std::move(name), std::move(json));
    return *this;
}

HttpError to_http_error(const InvalidInput& input) {
    if (input.kind() == InvalidInput::Kind::malformed) return HttpError(400, "bad request", input.what(), input.field());
    return HttpError(422, "invalid value", input.what(), input.field());
}

Response error_response(const HttpError& error) {
    Response response;
    response.status = error.status();
    JsonWriter json{response.body};
    json.begin_object().field("error", error.error());
    if (!error.detail().empty()) json.field("detail", error.detail());
    if (!error.field().empty()) json.field("field", error.field());
    for (const auto& [name, value] : error.extra()) json.field(name, value);
    for (const auto& [name, value] : error.json_extra()) json.key(name).raw(value);
    json.end_object();
    response.headers = error.headers();
    return response;
}

} // namespace macvmorx::http
