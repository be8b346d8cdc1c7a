#include "macvmorx/protocol/image_source.hpp"

#include "macvmorx/base/ascii.hpp"
#include "macvmorx/base/invalid_input.hpp"

#include <algorithm>
#include <cstdint>

namespace macvmorx::protocol {
namespace {

bool lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Four dot-separated numbers: a bucket may not look like an IP address (both stores' rules).
bool looks_like_ipv4(std::string_view name) {
    int parts = 0;
    std::size_t start = 0;
    while (start <= name.size()) {
        const auto dot = std::min(name.find('.', start), name.size());
        const auto part = name.substr(start, dot - start);
        if (part.empty() || part.size() > 3 || !std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            return false;
        }
        ++parts;
        start = dot + 1;
    }
    return parts == 4;
}

// Google Cloud Storage's bucket names (cloud.google.com/storage/docs/buckets#naming): 3 to 63
// characters (222 with dots, 63 per dot-separated part), lowercase letters, digits, '-', '_'
// and '.', starting and ending with a letter or digit, not an IP address, not "goog...".
// S3's (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html): 3 to 63,
// lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, no "..",
// not an IP address. Returns what is wrong, or an empty string.
std::string bucket_problem(ImageSource::Kind kind, std::string_view bucket) {
    const bool gcs = kind == ImageSource::Kind::gcs;
    const std::size_t longest = gcs && bucket.find('.') != std::string_view::npos ? 222 : 63;
    if (bucket.size() < 3 || bucket.size() > longest) {
        return "a bucket name has 3 to " + std::to_string(longest) + " characters";
    }
    const auto allowed = [gcs](char c) { return lower_or_digit(c) || c == '-' || c == '.' || (gcs && c == '_'); };
    if (!std::all_of(bucket.begin(), bucket.end(), allowed)) {
        return gcs ? "a bucket name has lowercase letters, digits, '-', '_' and '.' only"
                   : "a bucket name has lowercase letters, digits, '-' and '.' only";
    }
    if (!lower_or_digit(bucket.front()) || !lower_or_digit(bucket.back())) {
        return "a bucket name starts and ends with a letter or a digit";
    }
    if (bucket.find("..") != std::string_view::npos) return "a bucket name has no '..'";
    if (looks_like_ipv4(bucket)) return "a bucket name is not an IP address";
    if (gcs) {
        for (std::size_t start = 0; start < bucket.size();) {
            const auto dot = std::min(bucket.find('.', start), bucket.size());
            if (dot - start > 63) return "each dot-separated part of a bucket name has at most 63 characters";
            start = dot + 1;
        }
        if (bucket.starts_with("goog")) return "a Cloud Storage bucket name does not start with \"goog\"";
    }
    return {};
}

// An object path the agent can download and name a file after: segments of at least one
// character, none "." or "..", no query or fragment (the image name's characters already keep
// out spaces and control characters).
std::string object_problem(std::string_view object) {
    if (object.empty()) return "the object's path after the bucket is missing";
    if (object.find_first_of("?#") != std::string_view::npos) return "an object path has no query or fragment ('?', '#')";
    for (std::size_t start = 0; start <= object.size();) {
        const auto slash = std::min(object.find('/', start), object.size());
        const auto segment = object.substr(start, slash - start);
        if (segment.empty()) return "an object path has no empty segment (no leading, trailing or double '/')";
        if (segment == "." || segment == "..") return "an object path has no '.' or '..' segment";
        start = slash + 1;
    }
    return {};
}

// FNV-1a, 64 bits: the same on every machine and in every run, unlike std::hash.
std::uint64_t stable_hash(std::string_view text) {
    std::uint64_t hash = 14695981039346656037ull;
    for (const unsigned char c : text) {
        hash ^= c;
        hash *= 1099511628211ull;
    }
    return hash;
}

} // namespace

std::string image_source_problem(std::string_view name) {
    const auto scheme_end = name.find("://");
    if (scheme_end == std::string_view::npos) return {};
    const auto scheme = name.substr(0, scheme_end);
    if (scheme != "gs" && scheme != "s3") {
        return "images come from an OCI registry (a name without a scheme), gs://BUCKET/PATH or "
               "s3://BUCKET/PATH, not " + std::string(scheme) + "://";
    }
    const auto kind = scheme == "gs" ? ImageSource::Kind::gcs : ImageSource::Kind::s3;
    const auto rest = name.substr(scheme_end + 3);
    const auto slash = rest.find('/');
    std::string problem = bucket_problem(kind, rest.substr(0, slash));
    if (problem.empty()) problem = object_problem(slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1));
    return problem;
}

ImageSource image_source(std::string_view name, const std::string& field) {
    if (const auto problem = image_source_problem(name); !problem.empty()) {
        throw InvalidValue(field + " \"" + std::string(name) + "\": " + problem, field);
    }
    const auto scheme_end = name.find("://");
    if (scheme_end == std::string_view::npos) return {};
    ImageSource source;
    source.kind = name.starts_with("gs") ? ImageSource::Kind::gcs : ImageSource::Kind::s3;
    const auto rest = name.substr(scheme_end + 3);
    const auto slash = rest.find('/');
    source.bucket = std::string(rest.substr(0, slash));
    source.object = std::string(rest.substr(slash + 1));
    return source;
}

bool is_restore_image(const ImageSource& source) {
    const std::string_view object = source.object;
    return source.in_bucket() && object.size() > 5 && ascii_lower(object.substr(object.size() - 5)) == ".ipsw";
}

std::string local_vm_name(const ImageSource& source) {
    // The object's last segment without its extension (.tvm, .ipsw, ...) says what it is.
    std::string_view file = source.object;
    file = file.substr(file.rfind('/') + 1);
    if (const auto dot = file.find('.'); dot != std::string_view::npos && dot > 0) file = file.substr(0, dot);
    std::string name = source.kind == ImageSource::Kind::gcs ? "gs-" : "s3-";
    name += source.bucket;
    name += '-';
    for (const char c : file) {
        if (c >= 'A' && c <= 'Z') {
            name += static_cast<char>(c - 'A' + 'a');
        } else {
            name += (lower_or_digit(c) || c == '-' || c == '_' || c == '.') ? c : '-';
        }
    }
    const std::string url = (source.kind == ImageSource::Kind::gcs ? "gs://" : "s3://") + source.bucket + "/" + source.object;
    static constexpr char hex[] = "0123456789abcdef";
    std::uint64_t hash = stable_hash(url);
    name += '-';
    for (int i = 0; i < 12; ++i, hash >>= 4) name += hex[hash & 0xf];
    return name;
}

} // namespace macvmorx::protocol
