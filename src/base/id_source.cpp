#include "macvmorx/base/id_source.hpp"

namespace macvmorx {
namespace {

std::string with_hex(std::string_view prefix, std::uint64_t value) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string id;
    id.reserve(prefix.size() + 17);
    id.append(prefix);
    id += '-';
    for (int shift = 60; shift >= 0; shift -= 4) id += hex[(value >> shift) & 0xF];
    return id;
}

} // namespace

RandomIdSource::RandomIdSource() {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    engine_.seed(seed);
}

std::string RandomIdSource::next(std::string_view prefix) {
    std::uint64_t value = 0;
    {
        std::lock_guard lock{mutex_};
        value = engine_();
    }
    return with_hex(prefix, value);
}

std::string SequentialIdSource::next(std::string_view prefix) {
    std::uint64_t value = 0;
    {
        std::lock_guard lock{mutex_};
        value = ++counter_;
    }
    return with_hex(prefix, value);
}

} // namespace macvmorx
