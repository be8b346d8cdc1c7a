#pragma once

// Captures what the process-wide logger writes while it is alive, so that tests can check
// that an event is logged exactly once.

#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace macvmorx::testing {

class LogCapture {
public:
    LogCapture() : sink_{std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096)}, previous_{spdlog::default_logger()} {
        auto logger = std::make_shared<spdlog::logger>("capture", sink_);
        logger->set_level(spdlog::level::debug);
        logger->set_pattern("%l %v");
        spdlog::set_default_logger(logger);
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    std::vector<std::string> lines() const { return sink_->last_formatted(); }

    std::size_t count(const std::string& fragment) const {
        const auto all = lines();
        return static_cast<std::size_t>(std::count_if(all.begin(), all.end(), [&](const std::string& line) {
            return line.find(fragment) != std::string::npos;
        }));
    }

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::shared_ptr<spdlog::logger> previous_;
};

} // namespace macvmorx::testing
