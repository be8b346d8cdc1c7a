#include "macvmorx/storage/durable_store.hpp"

#include "macvmorx/base/timestamp.hpp"

#include <SQLiteCpp/Database.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using macvmorx::lifecycle::VmRecord;
using macvmorx::protocol::VmState;
using macvmorx::storage::DurableStore;
using macvmorx::storage::StorageError;

namespace {

class DurableStoreTest : public ::testing::Test {
protected:
    std::filesystem::path directory =
        std::filesystem::temp_directory_path() /
        ("macvmorx-store-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());

    void SetUp() override { std::filesystem::remove_all(directory); }
    void TearDown() override { std::filesystem::remove_all(directory); }
};

} // namespace

TEST_F(DurableStoreTest, AFileThatIsNotADatabaseIsAClearErrorNotAReset) {
    std::filesystem::create_directories(directory);
    {
        std::ofstream garbage{directory / "macvmorx.db"};
        garbage << std::string(8192, 'x');
    }
    try {
        DurableStore store{directory};
        FAIL() << "a corrupt file was accepted";
    } catch (const StorageError& error) {
        EXPECT_NE(std::string(error.what()).find("macvmorx.db"), std::string::npos) << error.what();
    }
    EXPECT_EQ(std::filesystem::file_size(directory / "macvmorx.db"), 8192u) << "the file was not touched";
}

TEST_F(DurableStoreTest, AnUnusableDirectoryIsAClearError) {
    std::filesystem::create_directories(directory);
    { std::ofstream file{directory / "plain-file"}; }
    EXPECT_THROW(DurableStore{directory / "plain-file" / "data"}, StorageError);
    EXPECT_THROW(DurableStore{directory / "plain-file"}, StorageError);
}

TEST_F(DurableStoreTest, ADatabaseOfANewerMacvmorxIsRefusedAndLeftAsItWas) {
    { DurableStore store{directory}; }
    {
        SQLite::Database db{(directory / "macvmorx.db").string(), SQLite::OPEN_READWRITE};
        db.exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    }
    try {
        DurableStore store{directory};
        FAIL() << "a database of schema 99 was opened";
    } catch (const macvmorx::storage::SchemaTooNew& error) {
        EXPECT_NE(std::string(error.what()).find("newer macvmorx (schema 99"), std::string::npos) << error.what();
    }
    SQLite::Database db{(directory / "macvmorx.db").string(), SQLite::OPEN_READONLY};
    EXPECT_EQ(db.execAndGet("SELECT value FROM meta WHERE key = 'schema_version'").getString(), "99");
}

TEST_F(DurableStoreTest, ADataDirectoryOfTheFirstSchemaOpensAsItIs) {
    // What every data directory written before migrations were numbered holds.
    std::filesystem::create_directories(directory);
    {
        SQLite::Database db{(directory / "macvmorx.db").string(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE};
        db.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                "INSERT INTO meta VALUES ('schema_version', '1');"
                "CREATE TABLE vms (vm_id TEXT PRIMARY KEY, record TEXT NOT NULL);"
                "CREATE TABLE queue (position INTEGER PRIMARY KEY, vm_id TEXT NOT NULL);"
                "CREATE TABLE nodes (node_id TEXT PRIMARY KEY, drained INTEGER NOT NULL, labels TEXT NOT NULL);"
                "CREATE TABLE jobs (job_id INTEGER PRIMARY KEY, record TEXT NOT NULL);"
                "CREATE TABLE deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL UNIQUE);"
                "INSERT INTO nodes VALUES ('mac-1', 1, '{}');");
    }
    DurableStore store{directory};
    const auto state = store.load();
    ASSERT_EQ(state.nodes.size(), 1u);
    EXPECT_TRUE(state.nodes[0].drained);
}
