#include "macvmorx/object_store/gcs_reader.hpp"

#include "macvmorx/http/base_url.hpp"
#include "macvmorx/http/web_client.hpp"
#include "macvmorx/object_store/google_tokens.hpp"
#include "macvmorx/object_store/sigv4.hpp"
#include "ranged_body.hpp"

#include <nlohmann/json.hpp>

#include <charconv>
#include <string>
#include <vector>
#include <system_error>

namespace macvmorx::object_store {
namespace {

using Kind = ObjectStoreError::Kind;

// The JSON API gives 64-bit numbers as strings ("size": "42").
std::uint64_t to_number(const nlohmann::json& value, const std::string& what) {
    const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        throw ObjectStoreError(Kind::refused, what + ": the store answered a size that is not a number: " + text);
    }
    return number;
}

} // namespace

struct GcsReader::Impl {
    GcsSettings settings;
    std::unique_ptr<AccessTokens> tokens;
    http::WebClient client;

    Impl(GcsSettings given, const Clock& clock, Duration timeout)
        : settings{std::move(given)}, tokens{access_tokens(settings, clock, timeout)},
          client{http::BaseUrl::parse(settings.endpoint), [timeout] {
                     http::WebClientOptions options;
                     options.timeout = timeout;
                     return options;
                 }()} {}

    // "/storage/v1/b/images/o/macos%2Fsequoia.tvm": the object's whole name is one segment.
    static std::string object_path(const std::string& bucket, const std::string& object) {
        return "/storage/v1/b/" + uri_encode(bucket, false) + "/o/" + uri_encode(object, false);
    }

    std::vector<http::Header> headers(std::vector<http::Header> extra = {}) {
        if (tokens) extra.push_back({"Authorization", "Bearer " + tokens->token()});
        return extra;
    }

    // One exchange, asked once more with a new token when the store refused the one it had
    // (expired or revoked before its time).
    template <typename Exchange>
    http::ClientResponse with_token(const std::string& what, Exchange exchange) {
        try {
            auto response = exchange();
            if (response.status == 401 && tokens) {
                tokens->expire();
                response = exchange();
            }
            return response;
        } catch (const std::system_error& error) {
            throw ObjectStoreError(Kind::transient, what + ": " + error.what());
        }
    }

    // What a refusal means, in the store's words ({"error": {"code", "message"}}).
    ObjectStoreError refusal(const http::ClientResponse& response, const std::string& what) const {
        std::string text = what + ": " + std::to_string(response.status);
        const auto answer = nlohmann::json::parse(response.body, nullptr, false);
        if (answer.is_object() && answer.contains("error") && answer["error"].is_object()) {
            if (const auto message = answer["error"].value("message", std::string{}); !message.empty()) {
                text += " (" + message + ")";
            }
        }
        switch (response.status) {
        case 404: return {Kind::not_found, text};
        case 401:
        case 403:
            return {Kind::denied,
                    text + "; credentials " +
                        (settings.credentials == GcsSettings::Credentials::none
                             ? std::string{"none (a public bucket was assumed): give the agent GOOGLE_APPLICATION_CREDENTIALS "
                                           "or MACVMORX_GCS_TOKEN_COMMAND"}
                             : "from " + settings.credentials_from + ": check that they may read the bucket")};
        case 412:
        case 416: return {Kind::changed, text};
        case 429: return {Kind::transient, text};
        default: return {response.status >= 500 ? Kind::transient : Kind::refused, text};
        }
    }
};

GcsReader::GcsReader(GcsSettings settings, const Clock& clock, Duration timeout)
    : impl_{std::make_unique<Impl>(std::move(settings), clock, timeout)} {}

GcsReader::~GcsReader() = default;

std::string GcsReader::describe(const std::string& bucket, const std::string& object) const {
    return "gs://" + bucket + "/" + object;
}

ObjectVersion GcsReader::stat(const std::string& bucket, const std::string& object) {
    auto& impl = *impl_;
    const std::string what = "reading " + describe(bucket, object);
    const std::string target = Impl::object_path(bucket, object);
    const auto response = impl.with_token(what, [&] { return impl.client.request(http::Method::get, target, {}, impl.headers()); });
    if (response.status != 200) throw impl.refusal(response, what);

    const auto metadata = nlohmann::json::parse(response.body, nullptr, false);
    if (!metadata.is_object() || !metadata.contains("size") || !metadata.contains("generation")) {
        throw ObjectStoreError(Kind::refused, what + ": the store's answer is not an object's metadata");
    }
    if (const auto encoding = metadata.value("contentEncoding", std::string{}); !encoding.empty() && encoding != "identity") {
        throw ObjectStoreError(Kind::refused, what + ": the object is stored with Content-Encoding " + encoding +
                                                  ", so the store's checksums are of other bytes than a download's; "
                                                  "upload the archive as it is (tart's archives are compressed already)");
    }
    ObjectVersion version;
    version.size = to_number(metadata["size"], what);
    version.version = metadata["generation"].is_string() ? metadata["generation"].get<std::string>() : metadata["generation"].dump();
    if (const auto crc = metadata.value("crc32c", std::string{}); !crc.empty()) {
        version.checksums.push_back({ChecksumKind::crc32c, crc, "Cloud Storage crc32c"});
    }
    if (const auto md5 = metadata.value("md5Hash", std::string{}); !md5.empty()) {
        version.checksums.push_back({ChecksumKind::md5, md5, "Cloud Storage md5Hash"});
    }
    return version;
}

void GcsReader::read(const std::string& bucket, const std::string& object, const ObjectVersion& version,
                     std::uint64_t offset, const ObjectSink& sink) {
    auto& impl = *impl_;
    const std::string what = "downloading " + describe(bucket, object);
    // The generation asked for is the one read: a newer one is another object (404 once this
    // one is gone), never spliced onto this one's first part.
    const std::string target = Impl::object_path(bucket, object) + "?alt=media&generation=" + uri_encode(version.version, false);
    RangedBody body{offset, sink};
    const auto forward = [&](const http::ClientResponse& head, std::string_view piece) {
        if (body.first()) {
            const auto generation = head.header("x-goog-generation");
            if (generation && *generation != version.version) {
                throw ObjectStoreError(Kind::changed, what + ": the store sent generation " + std::string(*generation) +
                                                          " instead of " + version.version);
            }
        }
        body.take(head.status, piece);
    };
    const auto response = impl.with_token(what, [&] {
        return impl.client.request_streamed(http::Method::get, target,
                                            impl.headers({{"Range", "bytes=" + std::to_string(offset) + "-"}}), forward);
    });
    if (response.status == 404) {
        throw ObjectStoreError(Kind::changed, what + ": generation " + version.version + " is gone from the bucket");
    }
    if (response.status / 100 != 2) throw impl.refusal(response, what);
}

} // namespace macvmorx::object_store
