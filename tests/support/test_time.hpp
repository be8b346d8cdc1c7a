#pragma once

#include "macvmorx/base/clock.hpp"

#include <chrono>

namespace macvmorx::testing {

// A fixed moment (2027-01-15) from which unit tests count time: their clocks never read the wall.
inline const TimePoint t0{std::chrono::seconds{1'800'000'000}};

} // namespace macvmorx::testing
