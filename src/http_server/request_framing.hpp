#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
#include <string>

namespace macvmorx::http {

// Why a request's framing cannot be trusted, or nullopt when it can (RFC 9112 §6.3).
std::optional<std::string> framing_problem(
    const boost::beast::http::request<boost::beast::http::string_body>& message);

} // namespace macvmorx::http
