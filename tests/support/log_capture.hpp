#pragma once

// Captures what the process-wide logger writes while it is alive, so that tests can check
// that an event is logged exactly once.
//
// The logger itself is never replaced: daemon threads may be logging through it while a test
// begins or ends a capture, and spdlog hands out the default logger as a raw pointer. The tests'
// main installs a logger whose only sink is a distributing sink; a capture adds its ring buffer
// to that sink (which locks) and raises the logger's level (an atomic).

#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace macvmorx::testing {

// Called once by the tests' main, before any test starts a thread.
inline void install_test_logger() {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_level(spdlog::level::info);
    auto distributor = std::make_shared<spdlog::sinks::dist_sink_mt>();
    distributor->add_sink(console);
    auto logger = std::make_shared<spdlog::logger>("tests", distributor);
    logger->set_level(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
}

class LogCapture {
public:
    LogCapture()
        : sink_{std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096)}, distributor_{find_distributor()},
          previous_level_{spdlog::default_logger_raw()->level()} {
        sink_->set_pattern("%l %v");
        sink_->set_level(spdlog::level::debug);
        distributor_->add_sink(sink_);
        spdlog::default_logger_raw()->set_level(spdlog::level::debug);
    }
    ~LogCapture() {
        spdlog::default_logger_raw()->set_level(previous_level_);
        distributor_->remove_sink(sink_);
    }
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
    static std::shared_ptr<spdlog::sinks::dist_sink_mt> find_distributor() {
        const auto& sinks = spdlog::default_logger_raw()->sinks();
        auto distributor = sinks.empty() ? nullptr : std::dynamic_pointer_cast<spdlog::sinks::dist_sink_mt>(sinks.front());
        if (!distributor) throw std::logic_error{"LogCapture needs install_test_logger() in the tests' main"};
        return distributor;
    }

    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::shared_ptr<spdlog::sinks::dist_sink_mt> distributor_;
    spdlog::level::level_enum previous_level_;
};

} // namespace macvmorx::testing
