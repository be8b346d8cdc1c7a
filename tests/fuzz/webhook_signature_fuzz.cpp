// GitHub's webhook signature (X-Hub-Signature-256, checked by POST /webhooks/github before the
// body is read): webhook_signature and signature_matches. An input is the secret on the first
// line, the header value on the second, then the body.
//
// The library's signature is "sha256=" and 64 lowercase hex digits, and verifies the body it was
// made for, but not another body or another secret's. A header verifies exactly when it is that
// signature, byte for byte: the hex is compared as sent, so uppercase digits are refused (GitHub
// sends lowercase). At start, GitHub's documented example must give its documented signature.

#include "property.hpp"

#include "macvmorx/github/webhook_signature.hpp"

#include <algorithm>
#include <string>

using namespace macvmorx;
using fuzz::expect;

namespace {

std::string_view take_line(std::string_view& rest) {
    const auto end = rest.find('\n');
    const auto line = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    return line;
}

bool is_lower_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // docs.github.com, "Validating webhook deliveries".
    expect(github::webhook_signature("It's a Secret to Everybody", "Hello, World!") ==
               "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
           "GitHub's example gives GitHub's signature");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto rest = fuzz::as_text(data, size);
    const auto secret = take_line(rest);
    const auto header = take_line(rest);
    const auto body = rest;

    const std::string signature = github::webhook_signature(secret, body);
    expect(signature.size() == 71 && signature.starts_with("sha256=") && is_lower_hex(std::string_view{signature}.substr(7)),
           "a signature is sha256= and 64 lowercase hex digits");
    expect(github::webhook_signature(secret, body) == signature, "the same body and secret give the same signature");
    expect(github::signature_matches(secret, body, signature), "the library's signature verifies its body");
    expect(github::signature_matches(secret, body, header) == (header == signature),
           "a header verifies exactly when it is the signature");

    const std::string other_body = std::string{body} + "\n";
    expect(!github::signature_matches(secret, other_body, signature), "the signature does not verify another body");
    const std::string other_secret = std::string{secret} + "x";
    expect(!github::signature_matches(other_secret, body, signature), "another secret's signature does not verify");
    return 0;
}
