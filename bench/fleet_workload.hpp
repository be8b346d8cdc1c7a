#pragma once

// The fleet the benchmarks pretend to be: node names, the image pool and the heartbeat an agent
// sends. Shared by the load generator and the micro-benchmarks so that both measure the same
// bodies.

#include <cstddef>
#include <cstdio>
#include <iterator>
#include <string>
#include <string_view>

namespace macvmorx::bench {

// Ten images; node i caches images i, i+3 and i+7 (mod 10), so each image is cached by 30% of
// the fleet, and reports VMs of images i and i+1.
inline constexpr std::string_view image_pool[] = {
    "macos-sonoma-14.6-xcode-16.0-runner", "macos-sonoma-14.6-xcode-15.4-runner",
    "macos-sequoia-15.1-xcode-16.1-runner", "macos-sequoia-15.1-xcode-16.2-beta",
    "macos-ventura-13.7-xcode-15.2-runner", "macos-monterey-12.7-xcode-14.2-legacy",
    "macos-sequoia-15.1-base",              "macos-sonoma-14.6-base",
    "macos-ventura-13.7-base",              "macos-sequoia-15.2-xcode-16.2-runner",
};
inline constexpr std::size_t image_count = std::size(image_pool);

inline std::string node_name(std::size_t node) {
    char text[32];
    std::snprintf(text, sizeof text, "mac-mini-%06zu", node);
    return text;
}

// A heartbeat body and where its five cpuUsagePercent characters ("45.20") are, so that a
// sender can report a new figure without rebuilding the body.
struct HeartbeatBody {
    std::string json;
    std::size_t cpu_offset = 0;
};

// Node `node`'s heartbeat: node % (max_vms + 1) VMs (0-2), three cached images, three labels;
// about 460 bytes with no VM, 610 with one, 760 with two.
inline HeartbeatBody heartbeat_body(std::size_t node, int max_vms = 2) {
    const std::string id = node_name(node);
    const int vm_count = static_cast<int>(node % static_cast<std::size_t>(max_vms + 1));
    HeartbeatBody result;
    std::string& body = result.json;
    body.reserve(800);
    body += R"({"nodeId":")" + id + R"(","vmCount":)" + std::to_string(vm_count) + R"(,"vms":[)";
    for (int vm = 0; vm < vm_count; ++vm) {
        if (vm > 0) body += ',';
        const auto index = static_cast<std::size_t>(vm);
        char text[320];
        std::snprintf(text, sizeof text,
                      R"({"vmId":"vm-%06zu-%d","imageName":"%.*s","runtimeSeconds":%zu,"vmHostname":"runner-%06zu-%d",)"
                      R"("vmIpAddress":"192.0.2.%zu"})",
                      node, vm, static_cast<int>(image_pool[(node + index) % image_count].size()),
                      image_pool[(node + index) % image_count].data(), 600 + node % 3000, node, vm,
                      1 + (node * 2 + index) % 250);
        body += text;
    }
    body += R"(],"cpuUsagePercent":)";
    result.cpu_offset = body.size();
    body += "45.20";
    body += R"(,"memoryUsageGB":)" + std::to_string(4 + vm_count * 6) + R"(.5,"totalMemoryGB":32.0,)";
    body += R"("diskUsageGB":)" + std::to_string(120 + node % 200) + R"(.0,"totalDiskGB":1000.0,)";
    body += R"("status":")";
    body += vm_count == 0 ? "idle" : "healthy";
    body += R"(","cachedImages":[)";
    for (std::size_t k : {std::size_t{0}, std::size_t{3}, std::size_t{7}}) {
        if (k > 0) body += ',';
        body += '"';
        body += image_pool[(node + k) % image_count];
        body += '"';
    }
    body += R"(],"labels":{"arch":"arm64","model":"Macmini9,1","rack":"r)" + std::to_string(node % 40) + R"("}})";
    return result;
}

// Writes a CPU figure of 0-9999 hundredths into the five characters at `digits` ("DD.DD"; a
// space stands for a leading zero, which JSON does not allow).
inline void patch_cpu(char* digits, unsigned hundredths) {
    const unsigned tens = hundredths / 1000 % 10;
    digits[0] = tens == 0 ? ' ' : static_cast<char>('0' + tens);
    digits[1] = static_cast<char>('0' + hundredths / 100 % 10);
    digits[3] = static_cast<char>('0' + hundredths / 10 % 10);
    digits[4] = static_cast<char>('0' + hundredths % 10);
}

} // namespace macvmorx::bench
