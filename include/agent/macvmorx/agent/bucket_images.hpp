#pragma once

// Images kept in a storage bucket (`s3://BUCKET/PATH`; `gs://` next): each object, a tart VM
// archive (`tart export`), is downloaded into a folder of the agent's by object_store's download
// (streamed, resumed, verified), on a thread of its own so that the agent's io_context never
// waits on the network; the backend then imports it under its local name. Which local VM stands
// for which object is remembered in that folder (`imported.json`), so that a restarted agent
// reports them as the images they are.
//
// Threading: called on the agent's io_context; completions are posted back to it.

#include "macvmorx/agent/vm_backend.hpp"
#include "macvmorx/object_store/peered_reader.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace macvmorx::agent {

struct BucketImageOptions {
    std::string download_dir; // archives while they download (resumable) and the index
    int attempts = 6;          // per download, for transient failures (object_download.hpp)
    // Keep each verified archive with its chunk manifest once imported, to serve it to the lab's
    // other Macs (the image's seed), until the image is evicted.
    bool keep_seeds = false;
    // Whom to fetch an image from before its bucket (the daemon's answer); called on the
    // download's thread, may throw (the download then takes the bucket alone). Unset: no peers.
    std::function<object_store::PeerOffer(const std::string& image)> find_peers;
};

// An image's verified archive and its chunk manifest, kept for the lab's peers.
struct SeedFiles {
    std::string archive;
    std::string manifest;
};

class BucketImages {
public:
    // The reader of an image's store, made when a download starts; throws (a refusal of the
    // settings, a store not supported) with the reason.
    using ReaderFactory = std::function<std::unique_ptr<object_store::ObjectReader>(const std::string& image)>;
    using Downloaded = std::function<void(Outcome, std::string archive)>;

    BucketImages(boost::asio::io_context& ioc, BucketImageOptions options, ReaderFactory readers);
    ~BucketImages(); // stops the downloads under way (their parts stay for the next run)

    // Downloads `image`'s archive, resuming a part an earlier run left. `done` gets the archive's
    // path; a failure says why (a checksum mismatch names both values).
    void download(const std::string& image, VmBackend::Progress progress, Downloaded done);

    // The image a local VM stands for, if it was imported from a bucket.
    std::optional<std::string> image_of(const std::string& local_name) const;
    void remember(const std::string& local_name, const std::string& image);
    // Forgets the local VM and deletes its seed, if one was kept.
    void forget(const std::string& local_name);

    // The seed of `image`, when one is kept and its VM is imported. Any thread.
    std::optional<SeedFiles> seed(const std::string& image) const;
    // The download's file name of `image` in the download folder (its seed's, once imported).
    std::string archive_path(const std::string& image) const;

private:
    void save_index() const;

    boost::asio::io_context& ioc_;
    BucketImageOptions options_;
    ReaderFactory readers_;
    mutable std::mutex mutex_; // imported_: changed on the io_context, read by the peer server too
    std::map<std::string, std::string> imported_; // local VM name -> image name
    struct Worker {
        std::thread thread;
        std::shared_ptr<std::atomic<bool>> finished;
    };
    // Joins the workers whose download ended, so that a long-lived agent keeps no dead threads.
    void join_finished();

    std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
    std::vector<Worker> workers_;
};

} // namespace macvmorx::agent
