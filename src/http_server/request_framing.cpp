#include "request_framing.hpp"

#include <boost/beast/core/string.hpp>

#include <iterator>

namespace macvmorx::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

// RFC 9112 §6.3: a request whose Transfer-Encoding does not end in chunked has no length a
// server can trust, and one with both Transfer-Encoding and Content-Length may be read one way
// by a proxy and another way here: both are refused and the connection closed, so that no body
// is ever read as a request of its own (request smuggling).
std::optional<std::string> framing_problem(const bhttp::request<bhttp::string_body>& message) {
    const auto encoding = message[bhttp::field::transfer_encoding];
    if (encoding.empty()) return std::nullopt;
    if (message.find(bhttp::field::content_length) != message.end()) {
        return "Transfer-Encoding and Content-Length together";
    }
    auto last = encoding.substr(encoding.rfind(',') == std::string_view::npos ? 0 : encoding.rfind(',') + 1);
    while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
    while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
    if (!beast::iequals(last, "chunked")) return "a Transfer-Encoding whose last coding is not chunked";
    // Beast takes the first header of a name: a second Transfer-Encoding is another reading.
    if (std::distance(message.equal_range(bhttp::field::transfer_encoding).first,
                      message.equal_range(bhttp::field::transfer_encoding).second) > 1) {
        return "more than one Transfer-Encoding header";
    }
    return std::nullopt;
}

} // namespace macvmorx::http
