#include "macvmorx/agent/image_cache.hpp"

#include "macvmorx/agent/oci_name.hpp"

#include <algorithm>
#include <utility>

namespace macvmorx::agent {

ImageCache::ImageCache(std::size_t max_images, double min_free_disk_gb)
    : max_images_{std::max<std::size_t>(max_images, 1)}, min_free_disk_gb_{min_free_disk_gb} {}

CachedImage* ImageCache::find_mutable(std::string_view name) {
    return const_cast<CachedImage*>(std::as_const(*this).find(name));
}

const CachedImage* ImageCache::find(std::string_view name) const {
    const std::string key = image_key(name);
    const auto it = std::find_if(images_.begin(), images_.end(), [&key](const CachedImage& i) { return i.key == key; });
    return it == images_.end() ? nullptr : &*it;
}

void ImageCache::add(std::string name, double size_gb, TimePoint used) {
    if (auto* existing = find_mutable(name)) {
        existing->size_gb = size_gb;
        existing->last_used = std::max(existing->last_used, used);
        return;
    }
    std::string key = image_key(name);
    images_.push_back({std::move(name), std::move(key), size_gb, used, 0});
}

void ImageCache::remove(std::string_view name) {
    const std::string key = image_key(name);
    std::erase_if(images_, [&key](const CachedImage& i) { return i.key == key; });
}

bool ImageCache::contains(std::string_view name) const { return find(name) != nullptr; }

void ImageCache::acquire(std::string_view name, TimePoint now) {
    if (auto* image = find_mutable(name)) {
        ++image->in_use;
        image->last_used = now;
        image->name = std::string{name};
    }
}

void ImageCache::release(std::string_view name, TimePoint now) {
    if (auto* image = find_mutable(name)) {
        image->in_use = std::max(0, image->in_use - 1);
        image->last_used = now;
    }
}

std::vector<std::string> ImageCache::names() const {
    std::vector<const CachedImage*> ordered;
    for (const auto& image : images_) ordered.push_back(&image);
    std::sort(ordered.begin(), ordered.end(), [](const CachedImage* a, const CachedImage* b) {
        return a->last_used != b->last_used ? a->last_used > b->last_used : a->name < b->name;
    });
    std::vector<std::string> names;
    for (const auto* image : ordered) names.push_back(image->name);
    return names;
}

double ImageCache::total_size_gb() const {
    double total = 0;
    for (const auto& image : images_) total += image.size_gb;
    return total;
}

std::optional<std::vector<std::string>> ImageCache::eviction_plan(double incoming_gb, double free_disk_gb,
                                                                  const std::vector<std::string>& keep) const {
    std::vector<std::string> kept_keys;
    for (const auto& name : keep) kept_keys.push_back(image_key(name));
    std::vector<const CachedImage*> candidates;
    for (const auto& image : images_) {
        if (image.in_use == 0 && std::find(kept_keys.begin(), kept_keys.end(), image.key) == kept_keys.end()) {
            candidates.push_back(&image);
        }
    }
    std::sort(candidates.begin(), candidates.end(), [](const CachedImage* a, const CachedImage* b) {
        return a->last_used != b->last_used ? a->last_used < b->last_used : a->name < b->name;
    });

    std::vector<std::string> plan;
    std::size_t count = images_.size();
    double free_after = free_disk_gb - incoming_gb;
    for (const auto* candidate : candidates) {
        if (count + 1 <= max_images_ && free_after >= min_free_disk_gb_) break;
        plan.push_back(candidate->name);
        --count;
        free_after += candidate->size_gb;
    }
    if (count + 1 > max_images_ || free_after < min_free_disk_gb_) return std::nullopt;
    return plan;
}

} // namespace macvmorx::agent
