#include "macvmorx/agent/bucket_images.hpp"

#include "macvmorx/object_store/object_download.hpp"
#include "macvmorx/object_store/object_reader.hpp"
#include "macvmorx/protocol/image_source.hpp"
#include "macvmorx/protocol/vm_event.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>

namespace macvmorx::agent {
namespace {

namespace fs = std::filesystem;

std::string gigabytes(std::uint64_t bytes) { return fmt::format("{:.1f} GB", static_cast<double>(bytes) / 1e9); }

} // namespace

BucketImages::BucketImages(boost::asio::io_context& ioc, BucketImageOptions options, ReaderFactory readers)
    : ioc_{ioc}, options_{std::move(options)}, readers_{std::move(readers)} {
    std::error_code failed;
    fs::create_directories(options_.download_dir, failed);
    if (failed) spdlog::warn("agent: cannot make the image download folder {}: {}", options_.download_dir, failed.message());
    std::ifstream file(fs::path{options_.download_dir} / "imported.json");
    if (!file) return;
    const auto index = nlohmann::json::parse(file, nullptr, false);
    if (!index.is_object()) {
        spdlog::warn("agent: {}/imported.json is damaged; images imported before are reported by their local names",
                     options_.download_dir);
        return;
    }
    std::lock_guard lock{mutex_};
    for (const auto& [local_name, image] : index.items()) {
        if (image.is_string()) imported_[local_name] = image.get<std::string>();
    }
}

BucketImages::~BucketImages() {
    stopping_->store(true);
    for (auto& worker : workers_) worker.thread.join();
}

void BucketImages::join_finished() {
    std::erase_if(workers_, [](Worker& worker) {
        if (!worker.finished->load()) return false;
        worker.thread.join();
        return true;
    });
}

void BucketImages::download(const std::string& image, VmBackend::Progress progress, Downloaded done) {
    join_finished();
    const auto source = protocol::image_source(image);
    const fs::path archive = archive_path(image);
    progress(0, "downloading " + image);
    // The download reports from its thread; each report and the end are posted back.
    auto post = [&ioc = ioc_, stopping = stopping_](auto work) {
        if (!stopping->load()) boost::asio::post(ioc, std::move(work));
    };
    auto finished = std::make_shared<std::atomic<bool>>(false);
    std::thread thread([this, image, source, archive, progress = std::move(progress), done = std::move(done), post,
                        stopping = stopping_, finished]() mutable {
        Outcome outcome;
        try {
            const auto reader = readers_(image);
            // The lab's Macs that hold the image first, the bucket for what they do not give.
            object_store::PeerOffer offer;
            while (options_.find_peers && !stopping->load()) {
                try {
                    offer = options_.find_peers(image);
                } catch (const std::exception& error) {
                    spdlog::warn("agent: no peers for {} ({}); downloading it from its bucket", image, error.what());
                    offer = {};
                }
                if (!offer.wait) break;
                spdlog::info("agent: {}; asking again in {} s", offer.reason,
                             std::chrono::duration_cast<std::chrono::seconds>(offer.retry_after).count());
                // The daemon spreads the lab's fetches: wait for a copy in the lab, or a free upload.
                post([progress, reason = offer.reason] { progress(0, reason); });
                const auto until = std::chrono::steady_clock::now() + offer.retry_after;
                while (!stopping->load() && std::chrono::steady_clock::now() < until) {
                    std::this_thread::sleep_for(std::chrono::milliseconds{50});
                }
            }
            if (stopping->load()) throw object_store::DownloadCancelled(image + ": the agent is stopping");
            std::optional<object_store::PeeredReader> peered;
            if (!offer.peers.empty()) peered.emplace(*reader, image, offer);
            object_store::ObjectReader& from = peered ? static_cast<object_store::ObjectReader&>(*peered) : *reader;
            object_store::DownloadOptions options;
            if (options_.keep_seeds) options.manifest_chunk_size = object_store::default_chunk_size;
            options.attempts = options_.attempts;
            options.cancelled = [stopping] { return stopping->load(); };
            options.sleep = [stopping](Duration wait) {
                // Waits in steps, so that a stopping agent does not wait out a backoff.
                const auto until = std::chrono::steady_clock::now() + wait;
                while (!stopping->load() && std::chrono::steady_clock::now() < until) {
                    std::this_thread::sleep_for(std::chrono::milliseconds{50});
                }
            };
            options.progress = [&](const object_store::DownloadProgress& step) {
                const auto message = fmt::format("downloading {}: {:.0f}% ({} of {}, {:.0f} MB/s)", image,
                                                 step.fraction() * 100, gigabytes(step.bytes), gigabytes(step.total),
                                                 step.bytes_per_second / 1e6);
                // Done only once imported: the image is not usable before.
                post([progress, fraction = std::min(step.fraction(), 0.99), message] { progress(fraction, message); });
            };
            // A mismatch deletes the part: the one more try starts from scratch, in case the bytes
            // were damaged on the way or on disk rather than in the store.
            object_store::DownloadResult result;
            for (int attempt = 1;; ++attempt) {
                try {
                    result = object_store::download_object(from, source.bucket, source.object, archive, options);
                    break;
                } catch (const object_store::ChecksumMismatch& mismatch) {
                    if (attempt == 2) throw;
                    spdlog::warn("agent: {}; downloading it once more from scratch", mismatch.what());
                }
            }
            spdlog::info("agent: downloaded {} ({}; {} resumed from an earlier run, {} from peers, {} from the bucket), verified",
                         image, gigabytes(result.checksums.size), gigabytes(result.resumed_from),
                         gigabytes(peered ? peered->bytes_from_peers() : 0),
                         gigabytes(peered ? peered->bytes_from_store() : result.transferred));
            if (options_.keep_seeds) {
                // Written beside the archive before it is imported: a seed has both or is none.
                std::ofstream manifest(archive.string() + ".manifest.json", std::ios::trunc);
                manifest << result.manifest.to_json();
                if (!manifest.flush()) spdlog::warn("agent: cannot write the chunk manifest of {}: it is served to no peer", image);
            }
        } catch (const object_store::ChecksumMismatch& mismatch) {
            // The reason's name first, for scripts and searches (issue 21), then both values.
            outcome = Outcome::failure(std::string{protocol::image_checksum_mismatch} + ": " + mismatch.what());
        } catch (const std::exception& error) {
            outcome = Outcome::failure("downloading image " + image + " failed: " + error.what());
        }
        post([done = std::move(done), outcome = std::move(outcome), archive] { done(outcome, archive.string()); });
        finished->store(true);
    });
    workers_.push_back({std::move(thread), std::move(finished)});
}

std::string BucketImages::archive_path(const std::string& image) const {
    const auto source = protocol::image_source(image);
    // The object's kind in the file's name: Virtualization.framework loads a restore image by it.
    return (fs::path{options_.download_dir} /
            (protocol::local_vm_name(source) + (protocol::is_restore_image(source) ? ".ipsw" : ".tvm")))
        .string();
}

std::optional<SeedFiles> BucketImages::seed(const std::string& image) const {
    if (!options_.keep_seeds || !protocol::image_source(image).in_bucket()) return std::nullopt;
    {
        std::lock_guard lock{mutex_};
        const auto local = protocol::local_vm_name(protocol::image_source(image));
        const auto it = imported_.find(local);
        if (it == imported_.end() || it->second != image) return std::nullopt;
    }
    SeedFiles files{archive_path(image), archive_path(image) + ".manifest.json"};
    std::error_code missing;
    if (!fs::exists(files.archive, missing) || !fs::exists(files.manifest, missing)) return std::nullopt;
    return files;
}

std::optional<std::string> BucketImages::image_of(const std::string& local_name) const {
    std::lock_guard lock{mutex_};
    const auto it = imported_.find(local_name);
    if (it == imported_.end()) return std::nullopt;
    return it->second;
}

void BucketImages::remember(const std::string& local_name, const std::string& image) {
    std::lock_guard lock{mutex_};
    imported_[local_name] = image;
    save_index();
}

void BucketImages::forget(const std::string& local_name) {
    std::string image;
    {
        std::lock_guard lock{mutex_};
        const auto it = imported_.find(local_name);
        if (it == imported_.end()) return;
        image = it->second;
        imported_.erase(it);
        save_index();
    }
    std::error_code ignored;
    fs::remove(archive_path(image), ignored);
    fs::remove(archive_path(image) + ".manifest.json", ignored);
}

// Called with mutex_ held.
void BucketImages::save_index() const {
    const fs::path path = fs::path{options_.download_dir} / "imported.json";
    fs::path temporary = path;
    temporary += ".new";
    {
        std::ofstream file(temporary, std::ios::trunc);
        file << nlohmann::json(imported_).dump(2) << '\n';
        if (!file.flush()) {
            spdlog::warn("agent: cannot write {}: images imported from buckets will be reported by their local names",
                         temporary.string());
            return;
        }
    }
    std::error_code failed;
    fs::rename(temporary, path, failed);
    if (failed) spdlog::warn("agent: cannot write {}: {}", path.string(), failed.message());
}

} // namespace macvmorx::agent
