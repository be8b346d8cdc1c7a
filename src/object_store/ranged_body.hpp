#pragma once

// The body of a ranged GET ("Range: bytes=N-") passed on from byte N, whichever way the store
// answered: 206 with the range asked for, or 200 with the whole object (a store that ignores
// Range, which RFC 9110 §14.2 allows), whose bytes before N are skipped rather than written twice.

#include "macvmorx/object_store/object_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <string_view>

namespace macvmorx::object_store {

class RangedBody {
public:
    RangedBody(std::uint64_t offset, const ObjectSink& sink) : offset_{offset}, sink_{sink} {}

    // Whether no piece came yet: the time to judge the answer's headers.
    bool first() const { return !started_; }

    void take(int status, std::string_view piece) {
        if (!started_) {
            started_ = true;
            to_skip_ = status == 200 ? offset_ : 0;
        }
        const auto skipped = std::min<std::uint64_t>(to_skip_, piece.size());
        to_skip_ -= skipped;
        piece.remove_prefix(static_cast<std::size_t>(skipped));
        if (!piece.empty()) sink_(piece);
    }

private:
    std::uint64_t offset_;
    const ObjectSink& sink_;
    bool started_ = false;
    std::uint64_t to_skip_ = 0;
};

} // namespace macvmorx::object_store
