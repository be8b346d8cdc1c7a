#pragma once

#include "macvmorx/base/invalid_input.hpp"
#include "macvmorx/http/message.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace macvmorx::http {

// An error a handler reports to its client. Handlers throw it (or a subclass below); the
// router turns it into `{"error": ..., "detail": ..., "field": ...}` with the status, in one place.
class HttpError : public std::runtime_error {
public:
    HttpError(int status, std::string error, std::string detail = {}, std::string field = {});

    int status() const { return status_; }
    const std::string& error() const { return error_; }
    const std::string& detail() const { return detail_; }
    const std::string& field() const { return field_; }

    // Extra headers for the answer (Allow, Retry-After, WWW-Authenticate).
    const std::vector<Header>& headers() const { return headers_; }
    HttpError& with_header(std::string name, std::string value);

    // Extra string members of the JSON body, e.g. the image a placement asked for.
    const std::vector<std::pair<std::string, std::string>>& extra() const { return extra_; }
    HttpError& with_member(std::string name, std::string value);
    // Extra members whose values are JSON already (an object, e.g. why a placement waits).
    const std::vector<std::pair<std::string, std::string>>& json_extra() const { return json_extra_; }
    HttpError& with_json_member(std::string name, std::string json);

private:
    int status_;
    std::string error_;
    std::string detail_;
    std::string field_;
    std::vector<Header> headers_;
    std::vector<std::pair<std::string, std::string>> extra_;
    std::vector<std::pair<std::string, std::string>> json_extra_;
};

struct Forbidden : HttpError {
    explicit Forbidden(std::string error, std::string detail = {}) : HttpError(403, std::move(error), std::move(detail)) {}
};
struct NotFound : HttpError {
    explicit NotFound(std::string error, std::string detail = {}) : HttpError(404, std::move(error), std::move(detail)) {}
};
struct Conflict : HttpError {
    explicit Conflict(std::string error, std::string detail = {}) : HttpError(409, std::move(error), std::move(detail)) {}
};
struct PayloadTooLarge : HttpError {
    explicit PayloadTooLarge(std::string detail, std::string field = {})
        : HttpError(413, "payload too large", std::move(detail), std::move(field)) {}
};
struct UnsupportedMediaType : HttpError {
    explicit UnsupportedMediaType(std::string detail)
        : HttpError(415, "unsupported media type", std::move(detail)) {}
};
struct ServiceUnavailable : HttpError {
    ServiceUnavailable(std::string error, std::string detail)
        : HttpError(503, std::move(error), std::move(detail)) {}
};

// The JSON answer for an error; the one place error bodies are written.
Response error_response(const HttpError& error);
// The answer to input a client sent that a parser refused: 400 when malformed, 422 when a value
// is out of range.
HttpError to_http_error(const InvalidInput& input);

} // namespace macvmorx::http
