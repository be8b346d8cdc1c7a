#include "macvmorx/agent/oci_name.hpp"

#include <cctype>

namespace macvmorx::agent {
namespace {

// A reader of tart's Reference.g4, one rule per function; each returns whether it matched and
// advances only then.
class Reader {
public:
    explicit Reader(std::string_view text) : text_{text} {}

    bool at_end() const { return at_ == text_.size(); }
    bool take(char c) {
        if (at_end() || text_[at_] != c) return false;
        ++at_;
        return true;
    }
    // name: (LETTER | DIGIT)+
    bool name(std::string& out) {
        const auto start = at_;
        while (!at_end() && std::isalnum(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
        out.append(text_.substr(start, at_ - start));
        return at_ > start;
    }
    // host: host_component ('.' host_component)*; host_component: name ('-' name)*
    bool host(std::string& out) {
        if (!host_component(out)) return false;
        while (peek('.')) {
            const auto mark = at_;
            std::string more = ".";
            ++at_;
            if (!host_component(more)) {
                at_ = mark;
                break;
            }
            out += more;
        }
        return true;
    }
    // port: DIGIT+
    bool port(std::string& out) {
        const auto start = at_;
        while (!at_end() && std::isdigit(static_cast<unsigned char>(text_[at_])) != 0) ++at_;
        out.append(text_.substr(start, at_ - start));
        return at_ > start;
    }
    // namespace: namespace_component ('/' namespace_component)*; namespace_component: (name separator?)+
    bool namespace_path(std::string& out) {
        if (!namespace_component(out)) return false;
        while (peek('/')) {
            ++at_;
            out += '/';
            if (!namespace_component(out)) return false;
        }
        return true;
    }
    // tag: name (separator name)*
    bool tag(std::string& out) {
        if (!name(out)) return false;
        while (!at_end() && separator(text_[at_])) {
            out += text_[at_++];
            if (!name(out)) return false;
        }
        return true;
    }

private:
    static bool separator(char c) { return c == '.' || c == '-' || c == '_'; }
    bool peek(char c) const { return !at_end() && text_[at_] == c; }
    bool host_component(std::string& out) {
        if (!name(out)) return false;
        while (peek('-')) {
            ++at_;
            out += '-';
            if (!name(out)) return false;
        }
        return true;
    }
    bool namespace_component(std::string& out) {
        bool any = false;
        while (name(out)) {
            any = true;
            if (!at_end() && separator(text_[at_])) out += text_[at_++];
        }
        return any;
    }

    std::string_view text_;
    std::size_t at_ = 0;
};

} // namespace

std::string OciName::canonical() const {
    return host + "/" + name + (digest.empty() ? ":" + tag : "@" + digest);
}

std::optional<OciName> parse_oci_name(std::string_view text) {
    Reader reader{text};
    OciName parsed;
    // root: host (':' port)? '/' namespace reference? EOF
    if (!reader.host(parsed.host)) return std::nullopt;
    if (reader.take(':')) {
        parsed.host += ':';
        if (!reader.port(parsed.host)) return std::nullopt;
    }
    if (!reader.take('/') || !reader.namespace_path(parsed.name)) return std::nullopt;
    // reference: (':' tag) | ('@' name ':' name)
    if (reader.take(':')) {
        if (!reader.tag(parsed.tag)) return std::nullopt;
    } else if (reader.take('@')) {
        std::string algorithm;
        std::string hex;
        if (!reader.name(algorithm) || !reader.take(':') || !reader.name(hex)) return std::nullopt;
        // RemoteName.swift takes only sha256 digests.
        if (algorithm != "sha256") return std::nullopt;
        parsed.digest = algorithm + ":" + hex;
    } else {
        parsed.tag = "latest";
    }
    if (!reader.at_end()) return std::nullopt;
    return parsed;
}

std::string image_key(std::string_view image) {
    if (image.find("://") != std::string_view::npos) return std::string{image}; // a bucket object's URL
    const auto parsed = parse_oci_name(image);
    return parsed ? parsed->canonical() : std::string{image};
}

} // namespace macvmorx::agent
