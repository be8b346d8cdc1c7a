#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace macvmorx {

// Input a client sent that macvmorx refuses, naming the field at fault. The parsers of every
// layer (the agent protocol's, the API's) throw it without knowing of HTTP; the HTTP router
// answers it with the status its kind stands for, in one place.
class InvalidInput : public std::runtime_error {
public:
    enum class Kind {
        malformed,   // not the shape asked for: not JSON, a field missing or of the wrong type (400)
        out_of_range // the right shape, a value that is not allowed (422)
    };

    InvalidInput(Kind kind, std::string detail, std::string field)
        : std::runtime_error(detail), kind_{kind}, field_{std::move(field)} {}

    Kind kind() const { return kind_; }
    const std::string& field() const { return field_; }

private:
    Kind kind_;
    std::string field_;
};

struct MalformedInput : InvalidInput {
    explicit MalformedInput(std::string detail, std::string field = {})
        : InvalidInput(Kind::malformed, std::move(detail), std::move(field)) {}
};

struct InvalidValue : InvalidInput {
    InvalidValue(std::string detail, std::string field)
        : InvalidInput(Kind::out_of_range, std::move(detail), std::move(field)) {}
};

} // namespace macvmorx
