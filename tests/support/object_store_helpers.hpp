#pragma once

// What the object store's tests share: objects of random bytes, a file's bytes, and a reader
// whose reads break off midway, as dropped connections do.

#include "macvmorx/object_store/object_reader.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace macvmorx::testing {

// The same bytes for the same seed, in every run.
inline std::string random_bytes(std::size_t size, unsigned seed) {
    std::mt19937 generator{seed};
    std::string bytes(size, '\0');
    for (auto& byte : bytes) byte = static_cast<char>(generator() & 0xFF);
    return bytes;
}

inline std::string file_bytes(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// The real reader, whose reads break off after `cut_after` bytes (as a dropped connection does)
// the first `cuts` times.
class CuttingReader final : public object_store::ObjectReader {
public:
    CuttingReader(object_store::ObjectReader& inner, std::uint64_t cut_after, int cuts) : inner_{inner}, cut_after_{cut_after}, cuts_{cuts} {}

    std::string describe(const std::string& bucket, const std::string& object) const override {
        return inner_.describe(bucket, object);
    }
    object_store::ObjectVersion stat(const std::string& bucket, const std::string& object) override { return inner_.stat(bucket, object); }
    void read(const std::string& bucket, const std::string& object, const object_store::ObjectVersion& version, std::uint64_t offset,
              const object_store::ObjectSink& sink) override {
        offsets.push_back(offset);
        if (cuts_ == 0) return inner_.read(bucket, object, version, offset, sink);
        --cuts_;
        std::uint64_t passed = 0;
        struct Cut {};
        try {
            inner_.read(bucket, object, version, offset, [&](std::string_view piece) {
                const auto room = cut_after_ - passed;
                if (piece.size() >= room) {
                    sink(piece.substr(0, static_cast<std::size_t>(room)));
                    throw Cut{};
                }
                passed += piece.size();
                sink(piece);
            });
        } catch (const Cut&) {
            throw object_store::ObjectStoreError(object_store::ObjectStoreError::Kind::transient, "connection reset by the test");
        }
    }

    std::vector<std::uint64_t> offsets; // where each read started

private:
    object_store::ObjectReader& inner_;
    std::uint64_t cut_after_;
    int cuts_;
};

} // namespace macvmorx::testing
