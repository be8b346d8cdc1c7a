#pragma once

// A folder of its own for the running test, empty at the start and removed at the end:
// "/tmp/macvmorx-<what>-<pid>-<test name>", so that tests running at once never share one.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace macvmorx::testing {

class TestDirectory {
public:
    explicit TestDirectory(const std::string& what)
        : path_{std::filesystem::temp_directory_path() /
                ("macvmorx-" + what + "-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name())} {
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TestDirectory() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TestDirectory(const TestDirectory&) = delete;
    TestDirectory& operator=(const TestDirectory&) = delete;

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

} // namespace macvmorx::testing
