#pragma once

#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace macvmorx {

// Where new identifiers come from. Tests substitute a predictable sequence.
class IdSource {
public:
    virtual ~IdSource() = default;
    // A new identifier `<prefix>-<16 hex digits>`, unique with overwhelming probability.
    virtual std::string next(std::string_view prefix) = 0;
};

class RandomIdSource final : public IdSource {
public:
    RandomIdSource();
    std::string next(std::string_view prefix) override;

private:
    std::mutex mutex_;
    std::mt19937_64 engine_;
};

// Counts up: "vm-0000000000000001", "vm-0000000000000002", ...
class SequentialIdSource final : public IdSource {
public:
    std::string next(std::string_view prefix) override;

private:
    std::mutex mutex_;
    std::uint64_t counter_ = 0;
};

} // namespace macvmorx
