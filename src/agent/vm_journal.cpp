#include "macvmorx/agent/vm_journal.hpp"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace macvmorx::agent {
namespace {

constexpr int journal_version = 1;

const char* to_string(JournalEntry::Stage stage) {
    switch (stage) {
    case JournalEntry::Stage::starting: return "starting";
    case JournalEntry::Stage::running: return "running";
    case JournalEntry::Stage::deleting: return "deleting";
    }
    return "starting";
}

const char* to_string(GuestCommand guest) {
    switch (guest) {
    case GuestCommand::nothing: return "nothing";
    case GuestCommand::runner: return "runner";
    case GuestCommand::start_script: return "startScript";
    }
    return "nothing";
}

JournalEntry::Stage stage_of(const std::string& text) {
    if (text == "running") return JournalEntry::Stage::running;
    if (text == "deleting") return JournalEntry::Stage::deleting;
    return JournalEntry::Stage::starting; // unknown: the least trusting reading
}

GuestCommand guest_of(const std::string& text) {
    if (text == "runner") return GuestCommand::runner;
    if (text == "startScript") return GuestCommand::start_script;
    return GuestCommand::nothing;
}

bool write_all(int fd, const std::string& text) {
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        written += static_cast<std::size_t>(n);
    }
    return true;
}

} // namespace

VmJournal::VmJournal(std::string file) : file_{std::move(file)} {}

JournalContents VmJournal::load_all() const {
    JournalContents contents;
    auto& entries = contents.vms;
    if (!enabled()) return contents;
    std::ifstream in{file_};
    if (!in) return contents; // first start
    std::stringstream text;
    text << in.rdbuf();
    const auto document = nlohmann::json::parse(text.str(), nullptr, false);
    if (!document.is_object() || !document.contains("vms") || !document["vms"].is_array()) {
        spdlog::warn("agent: the journal {} is damaged; adopting the host's clones without it", file_);
        return contents;
    }
    for (const auto& item : document["vms"]) {
        if (!item.is_object()) continue;
        JournalEntry entry;
        entry.vm_id = item.value("vmId", "");
        if (entry.vm_id.empty()) continue;
        entry.image = item.value("image", "");
        entry.stage = stage_of(item.value("stage", ""));
        entry.guest = guest_of(item.value("guest", ""));
        entry.started_at = TimePoint{std::chrono::seconds{item.value("startedAt", std::int64_t{0})}};
        entries.push_back(std::move(entry));
    }
    if (const auto images = document.find("images"); images != document.end() && images->is_array()) {
        for (const auto& item : *images) {
            if (!item.is_object()) continue;
            const auto name = item.find("name");
            const auto size = item.find("sizeGB");
            if (name == item.end() || !name->is_string() || name->get<std::string>().empty()) continue;
            contents.images.push_back({name->get<std::string>(), size != item.end() && size->is_number() ? size->get<double>() : 0.0});
        }
    }
    return contents;
}

void VmJournal::save(const std::vector<JournalEntry>& entries, const std::vector<JournalImage>& images) {
    if (!enabled()) return;
    nlohmann::json vms = nlohmann::json::array();
    for (const auto& entry : entries) {
        vms.push_back({{"vmId", entry.vm_id},
                       {"image", entry.image},
                       {"stage", to_string(entry.stage)},
                       {"guest", to_string(entry.guest)},
                       {"startedAt", std::chrono::duration_cast<std::chrono::seconds>(
                                         entry.started_at.time_since_epoch()).count()}});
    }
    nlohmann::json known = nlohmann::json::array();
    for (const auto& image : images) known.push_back({{"name", image.name}, {"sizeGB", image.size_gb}});
    const std::string text = nlohmann::json{{"version", journal_version}, {"vms", vms}, {"images", known}}.dump() + "\n";
    if (text == last_saved_) return;

    const std::filesystem::path path{file_};
    std::error_code ignored;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ignored);
    const std::string temporary = file_ + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        spdlog::warn("agent: cannot write the journal {}: {}", temporary, std::strerror(errno));
        return;
    }
    const bool written = write_all(fd, text) && ::fsync(fd) == 0;
    ::close(fd);
    if (!written || ::rename(temporary.c_str(), file_.c_str()) != 0) {
        spdlog::warn("agent: cannot write the journal {}: {}", file_, std::strerror(errno));
        ::unlink(temporary.c_str());
        return;
    }
    last_saved_ = text;
}

} // namespace macvmorx::agent
