#pragma once

#include "macvmorx/base/clock.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace macvmorx::agent {

struct CachedImage {
    std::string name; // as the pools ask for it, reported in cachedImages
    std::string key;  // image_key(name): tart's own name for it, the same for every spelling
    double size_gb = 0;
    TimePoint last_used;
    int in_use = 0; // VMs made from it that still exist
};

// Which VM images a host holds, and which to give up when another one must come in: at most
// `max_images`, never letting free disk fall below `min_free_disk_gb`, evicting the least
// recently used image that no VM uses. It only decides; the agent does the deleting. Two
// spellings of one image ("ghcr.io/acme/sonoma" and tart's "ghcr.io/acme/sonoma:latest") are one
// entry, named as a VM last asked for it.
//
// Threading: not thread-safe; the agent uses it from its one thread.
class ImageCache {
public:
    ImageCache(std::size_t max_images, double min_free_disk_gb);

    void add(std::string name, double size_gb, TimePoint used);
    void remove(std::string_view name);
    bool contains(std::string_view name) const;
    // A VM starts from / stops using the image; both count as a use for the LRU order. A VM
    // names the image as its pool does: that spelling is reported from then on.
    void acquire(std::string_view name, TimePoint now);
    void release(std::string_view name, TimePoint now);

    // Image names, most recently used first: what the heartbeat reports as cachedImages.
    std::vector<std::string> names() const;
    double total_size_gb() const;
    std::size_t size() const { return images_.size(); }
    const CachedImage* find(std::string_view name) const;

    // The images to delete, least recently used first, so that an image of `incoming_gb` fits
    // with `free_disk_gb` free now, deleting none in `keep` (any spelling); nullopt when deleting
    // every other unused image is not enough.
    std::optional<std::vector<std::string>> eviction_plan(double incoming_gb, double free_disk_gb,
                                                          const std::vector<std::string>& keep = {}) const;

    std::size_t max_images() const { return max_images_; }

private:
    CachedImage* find_mutable(std::string_view name);

    std::size_t max_images_;
    double min_free_disk_gb_;
    std::vector<CachedImage> images_;
};

} // namespace macvmorx::agent
