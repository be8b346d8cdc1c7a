// The agent's journal: what a restarted agent knows of the clones it made.

#include "macvmorx/agent/vm_journal.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using macvmorx::TimePoint;
using macvmorx::agent::GuestCommand;
using macvmorx::agent::JournalEntry;
using macvmorx::agent::VmJournal;

namespace {

class VmJournalTest : public ::testing::Test {
protected:
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("macvmorx-journal-" + std::to_string(::getpid()) + "-" +
                                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::string file = (dir / "state" / "agent-state.json").string();

    void SetUp() override { std::filesystem::remove_all(dir); }
    void TearDown() override { std::filesystem::remove_all(dir); }
};

JournalEntry entry(std::string vm_id, JournalEntry::Stage stage, GuestCommand guest) {
    JournalEntry e;
    e.vm_id = std::move(vm_id);
    e.image = "ghcr.io/acme/sonoma:1";
    e.stage = stage;
    e.guest = guest;
    e.started_at = TimePoint{std::chrono::seconds{1'800'000'123}};
    return e;
}

} // namespace

TEST_F(VmJournalTest, WhatIsSavedIsLoadedBackByTheNextRun) {
    const std::vector<JournalEntry> entries{entry("job-1", JournalEntry::Stage::running, GuestCommand::runner),
                                            entry("job-2", JournalEntry::Stage::starting, GuestCommand::nothing),
                                            entry("job-3", JournalEntry::Stage::deleting, GuestCommand::start_script)};
    VmJournal{file}.save(entries);
    EXPECT_EQ(VmJournal{file}.load(), entries);
    struct stat info {};
    ASSERT_EQ(::stat(file.c_str(), &info), 0);
    EXPECT_EQ(info.st_mode & 0777, 0600u) << "readable by its owner only";
    EXPECT_FALSE(std::filesystem::exists(file + ".tmp"));

    VmJournal journal{file};
    journal.save({});
    EXPECT_TRUE(VmJournal{file}.load().empty()) << "a later save replaces the whole journal";
}

TEST_F(VmJournalTest, AMissingOrDamagedJournalIsEmptyAndNoJournalRemembersNothing) {
    EXPECT_TRUE(VmJournal{file}.load().empty()) << "the first start";
    std::filesystem::create_directories(dir / "state");
    for (const char* text : {"", "{", "[]", R"({"vms":7})", R"({"vms":[1,{"image":"x"}]})"}) {
        std::ofstream{file} << text;
        EXPECT_TRUE(VmJournal{file}.load().empty()) << text;
    }
    std::ofstream{file} << R"({"vms":[{"vmId":"a","stage":"exploded","guest":"?"}]})";
    const auto odd = VmJournal{file}.load();
    ASSERT_EQ(odd.size(), 1u);
    EXPECT_EQ(odd[0].stage, JournalEntry::Stage::starting) << "an unknown stage is read as the least trusting one";
    EXPECT_EQ(odd[0].guest, GuestCommand::nothing);

    VmJournal none{""};
    EXPECT_FALSE(none.enabled());
    none.save({entry("job-1", JournalEntry::Stage::running, GuestCommand::runner)});
    EXPECT_TRUE(none.load().empty());
}

TEST_F(VmJournalTest, AJournalThatCannotBeWrittenIsLoggedNotThrown) {
    std::filesystem::create_directories(dir);
    std::ofstream{dir / "state"} << "a file where the directory should be";
    VmJournal journal{file};
    EXPECT_NO_THROW(journal.save({entry("job-1", JournalEntry::Stage::running, GuestCommand::runner)}));
    EXPECT_TRUE(journal.load().empty());
}
