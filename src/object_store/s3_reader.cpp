#include "macvmorx/object_store/s3_reader.hpp"

#include "macvmorx/http/base_url.hpp"
#include "macvmorx/http/web_client.hpp"
#include "macvmorx/object_store/sigv4.hpp"
#include "ranged_body.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <map>
#include <system_error>

namespace macvmorx::object_store {
namespace {

using Kind = ObjectStoreError::Kind;

// The text of an XML element of an S3 error document (<Error><Code>NoSuchKey</Code>...), which
// is all the XML this reader needs.
std::string xml_element(std::string_view document, std::string_view name) {
    const std::string open = "<" + std::string(name) + ">";
    const std::string close = "</" + std::string(name) + ">";
    const auto start = document.find(open);
    if (start == std::string_view::npos) return {};
    const auto end = document.find(close, start + open.size());
    if (end == std::string_view::npos) return {};
    return std::string(document.substr(start + open.size(), end - start - open.size()));
}

std::uint64_t to_size(std::string_view text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        throw ObjectStoreError(Kind::refused, "the store answered a size that is not a number: " + std::string(text));
    }
    return value;
}

} // namespace

std::string amz_date(TimePoint time) {
    const std::time_t seconds = std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::seconds>(time));
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char text[17];
    std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
    return text;
}

struct S3Reader::Impl {
    S3Settings settings;
    const Clock& clock;
    Duration timeout;
    // One connection per origin: AWS names the bucket in the host, so each bucket has its own.
    std::map<std::string, std::unique_ptr<http::WebClient>> clients;

    struct Location {
        http::BaseUrl base;
        std::string path; // encoded, as sent and signed, below the base's path prefix
    };

    // AWS itself: the bucket in the host name (virtual-hosted style), unless the name has a dot,
    // which a wildcard certificate would not cover (path style then). Any other endpoint: path
    // style, as MinIO, R2 and stand-ins take it.
    Location locate(const std::string& bucket, const std::string& object) const {
        const std::string key = "/" + uri_encode(object, true);
        if (!settings.endpoint.empty()) {
            return {http::BaseUrl::parse(settings.endpoint), "/" + uri_encode(bucket, false) + key};
        }
        const std::string regional = "s3." + settings.region + ".amazonaws.com";
        if (bucket.find('.') == std::string::npos) return {http::BaseUrl::parse("https://" + bucket + "." + regional), key};
        return {http::BaseUrl::parse("https://" + regional), "/" + bucket + key};
    }

    http::WebClient& client_for(const http::BaseUrl& base) {
        auto& client = clients[base.origin() + base.path_prefix];
        if (!client) {
            http::WebClientOptions options;
            options.timeout = timeout;
            client = std::make_unique<http::WebClient>(base, options);
        }
        return *client;
    }

    // The request's headers, signed when there are credentials.
    std::vector<http::Header> signed_headers(const std::string& method, const Location& location,
                                             std::vector<std::pair<std::string, std::string>> extra) const {
        static const std::string empty_payload = sha256_hex("");
        std::vector<std::pair<std::string, std::string>> headers = std::move(extra);
        headers.emplace_back("Host", location.base.authority());
        headers.emplace_back("X-Amz-Content-Sha256", empty_payload);
        const auto& credentials = settings.credentials;
        if (!credentials.access_key_id.empty()) {
            const SigV4Scope scope{amz_date(clock.now()), settings.region, "s3"};
            headers.emplace_back("X-Amz-Date", scope.timestamp);
            if (!credentials.session_token.empty()) headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
            const SigV4Request request{method, location.base.path_prefix + location.path, {}, headers, empty_payload};
            headers.emplace_back("Authorization", sign_v4(request, scope, credentials).authorization);
        }
        std::vector<http::Header> result;
        for (auto& [name, value] : headers) {
            if (name != "Host") result.push_back({std::move(name), std::move(value)}); // the client sets it, alike
        }
        return result;
    }

    // What a refusal means, in the store's words when it gave some.
    ObjectStoreError refusal(const http::ClientResponse& response, const std::string& what) const {
        const std::string code = xml_element(response.body, "Code");
        const std::string message = xml_element(response.body, "Message");
        std::string text = what + ": " + std::to_string(response.status);
        if (!code.empty()) text += " " + code;
        if (!message.empty()) text += " (" + message + ")";
        switch (response.status) {
        case 404: return {Kind::not_found, text};
        case 401:
        case 403:
            return {Kind::denied, text + "; credentials " +
                                      (settings.credentials.access_key_id.empty() ? std::string{"none (a public bucket was assumed)"}
                                                                                  : "from " + settings.credentials_from) +
                                      ": check the key, its secret and its right to read the bucket"};
        case 412:
        case 416: return {Kind::changed, text};
        case 429: return {Kind::transient, text};
        default: return {response.status >= 500 ? Kind::transient : Kind::refused, text};
        }
    }
};

S3Reader::S3Reader(S3Settings settings, const Clock& clock, Duration timeout)
    : impl_{std::make_unique<Impl>(Impl{std::move(settings), clock, timeout, {}})} {}

S3Reader::~S3Reader() = default;

std::string S3Reader::describe(const std::string& bucket, const std::string& object) const {
    return "s3://" + bucket + "/" + object;
}

ObjectVersion S3Reader::stat(const std::string& bucket, const std::string& object) {
    auto& impl = *impl_;
    const auto location = impl.locate(bucket, object);
    auto& client = impl.client_for(location.base);
    const std::string what = "reading " + describe(bucket, object);
    http::ClientResponse response;
    try {
        // Asks for the object's own checksum too, which S3 gives only when asked.
        response = client.request(http::Method::head, location.path, {},
                                  impl.signed_headers("HEAD", location, {{"X-Amz-Checksum-Mode", "ENABLED"}}));
    } catch (const std::system_error& error) {
        throw ObjectStoreError(Kind::transient, what + ": " + error.what());
    }
    if (response.status != 200) throw impl.refusal(response, what);

    ObjectVersion version;
    const auto length = response.header("Content-Length");
    if (!length) throw ObjectStoreError(Kind::refused, what + ": the store gave no size (Content-Length)");
    version.size = to_size(*length);
    version.version = std::string(response.header("ETag").value_or(""));
    if (const auto sha256 = response.header("x-amz-checksum-sha256")) {
        version.checksums.push_back({ChecksumKind::sha256, std::string(*sha256), "S3 x-amz-checksum-sha256"});
    }
    if (const auto md5 = etag_checksum(version.version)) version.checksums.push_back(*md5);

    // A `.sha256` sidecar beside the object, when the operator put one there.
    const auto sidecar = impl.locate(bucket, object + ".sha256");
    http::ClientResponse sidecar_response;
    try {
        sidecar_response = impl.client_for(sidecar.base).request(http::Method::get, sidecar.path, {},
                                                                 impl.signed_headers("GET", sidecar, {}));
    } catch (const std::system_error& error) {
        throw ObjectStoreError(Kind::transient, what + ".sha256: " + error.what());
    }
    if (sidecar_response.status == 200) {
        const auto checksum = sidecar_checksum(sidecar_response.body);
        if (!checksum) {
            throw ObjectStoreError(Kind::refused, describe(bucket, object) + ".sha256 holds no SHA-256 (64 hex digits)");
        }
        version.checksums.push_back(*checksum);
    } else if (sidecar_response.status != 404 && sidecar_response.status != 403) {
        throw impl.refusal(sidecar_response, what + ".sha256");
    }
    return version;
}

void S3Reader::read(const std::string& bucket, const std::string& object, const ObjectVersion& version,
                    std::uint64_t offset, const ObjectSink& sink) {
    auto& impl = *impl_;
    const auto location = impl.locate(bucket, object);
    auto& client = impl.client_for(location.base);
    const std::string what = "downloading " + describe(bucket, object);
    std::vector<std::pair<std::string, std::string>> extra{{"Range", "bytes=" + std::to_string(offset) + "-"}};
    if (!version.version.empty()) extra.emplace_back("If-Match", version.version);
    RangedBody body{offset, sink};
    const auto forward = [&](const http::ClientResponse& head, std::string_view piece) {
        if (body.first()) {
            const auto etag = head.header("ETag");
            if (!version.version.empty() && etag && *etag != version.version) {
                throw ObjectStoreError(Kind::changed, what + ": the object changed during the download (ETag " +
                                                          version.version + ", now " + std::string(*etag) + ")");
            }
        }
        body.take(head.status, piece);
    };
    http::ClientResponse response;
    try {
        response = client.request_streamed(http::Method::get, location.path, impl.signed_headers("GET", location, extra), forward);
    } catch (const std::system_error& error) {
        throw ObjectStoreError(Kind::transient, what + ": " + error.what());
    }
    if (response.status / 100 != 2) throw impl.refusal(response, what);
}

} // namespace macvmorx::object_store
