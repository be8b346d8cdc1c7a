#include "macvmorx/app/logging.hpp"

#include "macvmorx/base/timestamp.hpp"
#include "macvmorx/json/json_writer.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace macvmorx::app {
namespace {

// One JSON object per line: {"time": ..., "level": ..., "message": ...}.
class JsonFormatter final : public spdlog::formatter {
public:
    void format(const spdlog::details::log_msg& message, spdlog::memory_buf_t& destination) override {
        std::string line;
        line.reserve(64 + message.payload.size());
        line += R"({"time":")";
        append_rfc3339(line, message.time);
        line += R"(","level":")";
        const auto level = spdlog::level::to_string_view(message.level);
        line.append(level.data(), level.size());
        line += R"(","message":)";
        append_json_string(line, std::string_view{message.payload.data(), message.payload.size()});
        line += "}\n";
        destination.append(line.data(), line.data() + line.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }
};

} // namespace

void configure_logging(const config::LogConfig& config) {
    spdlog::sink_ptr sink;
    if (config.file.empty()) {
        sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    } else {
        sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(config.file, config.file_max_bytes,
                                                                      config.file_count);
    }
    if (config.format == "json") {
        sink->set_formatter(std::make_unique<JsonFormatter>());
    } else {
        sink->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v",
                                                                        spdlog::pattern_time_type::utc));
    }
    auto logger = std::make_shared<spdlog::logger>("macvmorx", std::move(sink));
    logger->set_level(spdlog::level::from_str(config.level));
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
}

} // namespace macvmorx::app
