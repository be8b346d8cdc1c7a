#include "heartbeat_fast_path.hpp"
#include "heartbeat_rules.hpp"

#include "macvmorx/protocol/heartbeat_json.hpp"
#include "macvmorx/protocol/json_fields.hpp"

#include <simdjson.h>

#include <cmath>

namespace macvmorx::protocol {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

bool read_string(element value, const StringRule& rule, std::string& out) {
    std::string_view text;
    if (value.get(text) != simdjson::SUCCESS || !fits(text, rule)) return false;
    out.assign(text);
    return true;
}

bool read_number(element value, double min, double max, double& out) {
    double number = 0;
    if (value.get(number) != simdjson::SUCCESS || !std::isfinite(number) || number < min || number > max) return false;
    out = number;
    return true;
}

// An integer, or a float with no fraction, as the slow parser accepts them.
bool read_integer(element value, std::int64_t min, std::int64_t max, std::int64_t& out) {
    std::int64_t integer = 0;
    if (value.type() == element_type::INT64) {
        if (value.get(integer) != simdjson::SUCCESS) return false;
    } else if (value.type() == element_type::DOUBLE) {
        double number = 0;
        if (value.get(number) != simdjson::SUCCESS || std::trunc(number) != number || number < static_cast<double>(min) ||
            number > static_cast<double>(max)) {
            return false;
        }
        integer = static_cast<std::int64_t>(number);
    } else {
        return false;
    }
    if (integer < min || integer > max) return false;
    out = integer;
    return true;
}

bool read_vm(element value, protocol::VmReport& vm) {
    simdjson::dom::object object;
    if (value.get(object) != simdjson::SUCCESS) return false;
    bool has_id = false;
    for (const auto field : object) {
        const std::string_view key = field.key;
        const element item = field.value;
        const bool null = item.is_null();
        if (key == "vmId") {
            has_id = !null;
            if (!null && !read_string(item, identifier_rule, vm.vm_id)) return false;
        } else if (key == "imageName") {
            vm.image_name.clear();
            if (!null && !read_string(item, optional_image_rule, vm.image_name)) return false;
        } else if (key == "runtimeSeconds") {
            vm.runtime_seconds = 0;
            if (!null && !read_integer(item, 0, max_runtime_seconds, vm.runtime_seconds)) return false;
        } else if (key == "vmHostname") {
            vm.vm_hostname.clear();
            if (!null && !read_string(item, hostname_rule, vm.vm_hostname)) return false;
        } else if (key == "vmIpAddress") {
            vm.vm_ip_address.clear();
            if (!null && !read_string(item, address_rule, vm.vm_ip_address)) return false;
        }
    }
    return has_id;
}

// cachedImages and pullingImages: null is an empty list.
bool read_images(element value, std::vector<std::string>& images) {
    images.clear();
    if (value.is_null()) return true;
    simdjson::dom::array array;
    if (value.get(array) != simdjson::SUCCESS || array.size() > max_cached_images) return false;
    images.reserve(array.size());
    for (const element item : array) {
        std::string image;
        if (!read_string(item, image_name_rule, image)) return false;
        images.push_back(std::move(image));
    }
    return true;
}

bool read_labels(element value, protocol::Labels& labels) {
    labels.clear();
    if (value.is_null()) return true;
    if (value.type() == element_type::OBJECT) {
        const simdjson::dom::object object = value;
        if (object.size() > max_labels) return false;
        for (const auto field : object) {
            protocol::Label label;
            label.key.assign(field.key);
            if (!fits(label.key, label_key_rule) || !read_string(field.value, label_value_rule, label.value)) return false;
            labels.push_back(std::move(label));
        }
    } else if (value.type() == element_type::ARRAY) {
        const simdjson::dom::array array = value;
        if (array.size() > max_labels) return false;
        for (const element item : array) {
            std::string_view text;
            if (item.get(text) != simdjson::SUCCESS) return false;
            auto label = protocol::parse_label(text);
            if (!fits(label.key, label_key_rule) || !fits(label.value, label_value_rule)) return false;
            labels.push_back(std::move(label));
        }
    } else {
        return false;
    }
    protocol::normalize(labels);
    return true;
}

// A parser per thread, reused: it keeps its buffers. Its depth limit is a little stricter than
// the checked parser's, so that anything it refuses for depth the checked parser judges.
simdjson::dom::parser& thread_parser() {
    thread_local simdjson::dom::parser parser;
    thread_local const bool allocated = [] {
        return parser.allocate(64 * 1024, static_cast<std::size_t>(max_json_depth) - 2) == simdjson::SUCCESS;
    }();
    (void)allocated;
    return parser;
}

} // namespace

std::optional<protocol::Heartbeat> parse_heartbeat_fast(std::string_view body) {
    auto& parser = thread_parser();
    element document;
    if (body.empty()) return std::nullopt;
    if (parser.parse(body.data(), body.size(), true).get(document) != simdjson::SUCCESS) return std::nullopt;
    simdjson::dom::object object;
    if (document.get(object) != simdjson::SUCCESS) return std::nullopt;

    protocol::Heartbeat heartbeat;
    bool has_node = false;
    std::int64_t vm_count = -1; // -1: not given
    // Fields in document order, the last of a repeated one winning, as with nlohmann.
    for (const auto field : object) {
        const std::string_view key = field.key;
        const element value = field.value;
        const bool null = value.is_null();
        if (key == "nodeId") {
            has_node = !null;
            if (!null && !read_string(value, identifier_rule, heartbeat.node_id)) return std::nullopt;
        } else if (key == "vmCount") {
            vm_count = -1;
            if (!null && !read_integer(value, 0, static_cast<std::int64_t>(max_vms_per_heartbeat), vm_count)) {
                return std::nullopt;
            }
        } else if (key == "vms") {
            heartbeat.vms.clear();
            if (null) continue;
            simdjson::dom::array vms;
            if (value.get(vms) != simdjson::SUCCESS || vms.size() > max_vms_per_heartbeat) return std::nullopt;
            heartbeat.vms.reserve(vms.size());
            for (const element item : vms) {
                protocol::VmReport vm;
                if (!read_vm(item, vm)) return std::nullopt;
                heartbeat.vms.push_back(std::move(vm));
            }
        } else if (key == "cpuUsagePercent") {
            heartbeat.cpu_usage_percent = 0;
            if (!null && !read_number(value, 0, 100, heartbeat.cpu_usage_percent)) return std::nullopt;
        } else if (key == "memoryUsageGB") {
            heartbeat.memory_usage_gb = 0;
            if (!null && !read_number(value, 0, max_gigabytes, heartbeat.memory_usage_gb)) return std::nullopt;
        } else if (key == "totalMemoryGB") {
            heartbeat.total_memory_gb = 0;
            if (!null && !read_number(value, 0, max_gigabytes, heartbeat.total_memory_gb)) return std::nullopt;
        } else if (key == "diskUsageGB") {
            heartbeat.disk_usage_gb = 0;
            if (!null && !read_number(value, 0, max_gigabytes, heartbeat.disk_usage_gb)) return std::nullopt;
        } else if (key == "totalDiskGB") {
            heartbeat.total_disk_gb = 0;
            if (!null && !read_number(value, 0, max_gigabytes, heartbeat.total_disk_gb)) return std::nullopt;
        } else if (key == "status") {
            heartbeat.status.clear();
            if (!null && !read_string(value, status_rule, heartbeat.status)) return std::nullopt;
        } else if (key == "statusReason") {
            heartbeat.status_reason.clear();
            if (!null && !read_string(value, status_reason_rule, heartbeat.status_reason)) return std::nullopt;
        } else if (key == "cachedImages") {
            if (!read_images(value, heartbeat.cached_images)) return std::nullopt;
        } else if (key == "pullingImages") {
            if (!read_images(value, heartbeat.pulling_images)) return std::nullopt;
        } else if (key == "labels") {
            if (!read_labels(value, heartbeat.labels)) return std::nullopt;
        } else if (key == "agentInstance") {
            heartbeat.agent_instance.clear();
            if (!null && !read_string(value, agent_instance_rule, heartbeat.agent_instance)) return std::nullopt;
        } else if (key == "peerUrl") {
            heartbeat.peer_url.clear();
            if (!null && !read_string(value, peer_url_rule, heartbeat.peer_url)) return std::nullopt;
        }
    }
    if (!has_node) return std::nullopt;
    heartbeat.vm_count = static_cast<int>(vm_count >= 0 ? vm_count : static_cast<std::int64_t>(heartbeat.vms.size()));
    if (heartbeat.status.empty()) heartbeat.status = "unknown";
    return heartbeat;
}

} // namespace macvmorx::protocol
