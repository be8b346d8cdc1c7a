#pragma once

#include "macvmorx/agent/vm_backend.hpp"
#include "macvmorx/base/clock.hpp"

#include <string>
#include <vector>

namespace macvmorx::agent {

// What a restarted agent needs to know of a clone it made, and nothing secret: the image it
// came from (for the heartbeat and the image cache), since when it runs, and what was started
// in its guest (a runner to watch, a start script, or nothing yet).
struct JournalEntry {
    enum class Stage { starting, running, deleting };
    std::string vm_id;
    std::string image;
    Stage stage = Stage::starting;
    GuestCommand guest = GuestCommand::nothing;
    TimePoint started_at;

    bool operator==(const JournalEntry&) const = default;
};

// An image the host held: the name its pools gave it (tart lists "repo" as "repo:latest") and the
// disk it took, so that room is made for it before it is pulled again.
struct JournalImage {
    std::string name;
    double size_gb = 0;

    bool operator==(const JournalImage&) const = default;
};

struct JournalContents {
    std::vector<JournalEntry> vms;
    std::vector<JournalImage> images;
};

// The agent's memory across a crash or a reboot: one small JSON file, readable only by its
// owner, replaced whole (write, then rename) so that a crash mid-write leaves the old one.
// With no file named it remembers nothing, and the agent adopts what it finds blind.
//
// Threading: not thread-safe; the agent uses it from its one thread.
class VmJournal {
public:
    explicit VmJournal(std::string file);

    bool enabled() const { return !file_.empty(); }
    const std::string& file() const { return file_; }
    // The entries of the last save; none if the file is missing. A damaged file is logged
    // and read as empty: the agent then adopts blind rather than not starting.
    std::vector<JournalEntry> load() const { return load_all().vms; }
    JournalContents load_all() const;
    // Failures are logged, not thrown: the VMs matter more than the memory of them.
    void save(const std::vector<JournalEntry>& entries, const std::vector<JournalImage>& images = {});

private:
    std::string file_;
    std::string last_saved_; // the text of the last save: an unchanged journal is not rewritten
};

} // namespace macvmorx::agent
