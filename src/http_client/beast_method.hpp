#pragma once

// Private to the HTTP clients: their requests' methods in Beast's terms.

#include "macvmorx/http/message.hpp"

#include <boost/beast/http/verb.hpp>

namespace macvmorx::http {

inline boost::beast::http::verb to_verb(Method method) {
    using boost::beast::http::verb;
    switch (method) {
    case Method::get: return verb::get;
    case Method::head: return verb::head;
    case Method::post: return verb::post;
    case Method::put: return verb::put;
    case Method::patch: return verb::patch;
    case Method::del: return verb::delete_;
    case Method::options: return verb::options;
    case Method::other: break;
    }
    return verb::unknown;
}

} // namespace macvmorx::http
