#include "macvmorx/protocol/json_fields.hpp"

#include "macvmorx/base/invalid_input.hpp"

#include <cmath>

namespace macvmorx::protocol {
namespace {

std::string json_type_name(const nlohmann::json& value) { return value.type_name(); }

} // namespace

// Linear and allocation-free, so that hostile nesting is refused before a parser spends
// anything on it.
bool json_nesting_exceeds(std::string_view text, int limit) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit) return true;
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return false;
}

nlohmann::json parse_json_object(std::string_view body) {
    if (body.empty()) throw MalformedInput("the request needs a JSON object as its body");
    if (json_nesting_exceeds(body, max_json_depth)) {
        throw MalformedInput("the JSON body is nested deeper than " + std::to_string(max_json_depth) + " levels");
    }
    nlohmann::json document;
    try {
        document = nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception& error) {
        // Syntax errors, and numbers too large for a double ("1e400").
        // nlohmann prefixes its messages with "[json.exception.parse_error.101] ".
        std::string message = error.what();
        if (const auto end = message.find("] "); message.starts_with("[json.exception") && end != std::string::npos) {
            message.erase(0, end + 2);
        }
        throw MalformedInput("malformed JSON: " + message);
    }
    if (!document.is_object()) {
        throw MalformedInput("the body must be a JSON object, not " + json_type_name(document));
    }
    return document;
}

void check_string(std::string_view value, const StringRule& rule, const std::string& field) {
    if (value.size() < rule.min_length || value.size() > rule.max_length) {
        const std::string length = rule.min_length == rule.max_length
                                       ? std::to_string(rule.max_length)
                                       : std::to_string(rule.min_length) + " to " + std::to_string(rule.max_length);
        throw InvalidValue(field + " must be " + length + " characters long", field);
    }
    for (const char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) throw InvalidValue(field + " must not contain control characters", field);
        if (rule.allowed != nullptr && !rule.allowed->contains(c)) {
            throw InvalidValue(field + " may only contain " + std::string(rule.allowed_description), field);
        }
    }
}

bool fits(std::string_view value, const StringRule& rule) {
    if (value.size() < rule.min_length || value.size() > rule.max_length) return false;
    for (const char c : value) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) return false;
        if (rule.allowed != nullptr && !rule.allowed->contains(c)) return false;
    }
    return true;
}

FieldReader::FieldReader(const nlohmann::json& object, std::string path) : object_{object}, path_{std::move(path)} {}

std::string FieldReader::field_name(std::string_view key) const { return path_ + std::string(key); }

const nlohmann::json* FieldReader::find(std::string_view key) const {
    const auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
}

bool FieldReader::has(std::string_view key) const { return find(key) != nullptr; }

std::optional<std::string> FieldReader::optional_string(std::string_view key, const StringRule& rule) const {
    const auto* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) {
        throw MalformedInput(field_name(key) + " must be a string, not " + json_type_name(*value), field_name(key));
    }
    const auto& text = value->get_ref<const std::string&>();
    check_string(text, rule, field_name(key));
    return text;
}

std::string FieldReader::required_string(std::string_view key, const StringRule& rule) const {
    auto value = optional_string(key, rule);
    if (!value) throw MalformedInput(field_name(key) + " is required", field_name(key));
    return std::move(*value);
}

std::string FieldReader::string(std::string_view key, const StringRule& rule, std::string fallback) const {
    auto value = optional_string(key, rule);
    return value ? std::move(*value) : std::move(fallback);
}

std::optional<double> FieldReader::optional_number(std::string_view key, double min, double max) const {
    const auto* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number()) {
        throw MalformedInput(field_name(key) + " must be a number, not " + json_type_name(*value), field_name(key));
    }
    const double number = value->get<double>();
    if (!std::isfinite(number) || number < min || number > max) {
        throw InvalidValue(field_name(key) + " must be between " + nlohmann::json(min).dump() + " and " +
                                      nlohmann::json(max).dump(),
                                  field_name(key));
    }
    return number;
}

double FieldReader::number(std::string_view key, double min, double max, double fallback) const {
    return optional_number(key, min, max).value_or(fallback);
}

std::optional<std::int64_t> FieldReader::optional_integer(std::string_view key, std::int64_t min,
                                                          std::int64_t max) const {
    const auto* value = find(key);
    if (value == nullptr) return std::nullopt;
    const bool whole_float = value->is_number_float() && std::trunc(value->get<double>()) == value->get<double>();
    if (!value->is_number_integer() && !whole_float) {
        throw MalformedInput(field_name(key) + " must be a whole number", field_name(key));
    }
    const double as_double = value->get<double>();
    if (as_double < static_cast<double>(min) || as_double > static_cast<double>(max)) {
        throw InvalidValue(field_name(key) + " must be between " + std::to_string(min) + " and " +
                                      std::to_string(max),
                                  field_name(key));
    }
    return value->is_number_integer() ? value->get<std::int64_t>() : static_cast<std::int64_t>(as_double);
}

std::int64_t FieldReader::integer(std::string_view key, std::int64_t min, std::int64_t max,
                                  std::int64_t fallback) const {
    return optional_integer(key, min, max).value_or(fallback);
}

std::optional<bool> FieldReader::optional_boolean(std::string_view key) const {
    const auto* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_boolean()) throw MalformedInput(field_name(key) + " must be true or false", field_name(key));
    return value->get<bool>();
}

const nlohmann::json* FieldReader::array(std::string_view key, std::size_t max_items) const {
    const auto* value = find(key);
    if (value == nullptr) return nullptr;
    if (!value->is_array()) {
        throw MalformedInput(field_name(key) + " must be an array, not " + json_type_name(*value), field_name(key));
    }
    if (value->size() > max_items) {
        throw InvalidValue(field_name(key) + " may hold at most " + std::to_string(max_items) + " items",
                                  field_name(key));
    }
    return value;
}

const nlohmann::json* FieldReader::object(std::string_view key) const {
    const auto* value = find(key);
    if (value == nullptr) return nullptr;
    if (!value->is_object()) {
        throw MalformedInput(field_name(key) + " must be an object, not " + json_type_name(*value), field_name(key));
    }
    return value;
}

protocol::Labels FieldReader::labels(std::string_view key) const {
    const auto* value = find(key);
    protocol::Labels labels;
    if (value == nullptr) return labels;
    const std::string field = field_name(key);
    if (value->size() > max_labels) {
        throw InvalidValue(field + " may hold at most " + std::to_string(max_labels) + " labels", field);
    }
    if (value->is_object()) {
        for (const auto& [label_key, label_value] : value->items()) {
            const std::string name = field + "." + label_key;
            check_string(label_key, label_key_rule, name);
            if (!label_value.is_string()) throw MalformedInput(name + " must be a string", name);
            check_string(label_value.get_ref<const std::string&>(), label_value_rule, name);
            labels.push_back({label_key, label_value.get<std::string>()});
        }
    } else if (value->is_array()) {
        for (std::size_t i = 0; i < value->size(); ++i) {
            const std::string name = field + "[" + std::to_string(i) + "]";
            const auto& item = (*value)[i];
            if (!item.is_string()) throw MalformedInput(name + " must be a string", name);
            auto label = protocol::parse_label(item.get_ref<const std::string&>());
            check_string(label.key, label_key_rule, name);
            check_string(label.value, label_value_rule, name);
            labels.push_back(std::move(label));
        }
    } else {
        throw MalformedInput(field + " must be an object or an array of strings", field);
    }
    protocol::normalize(labels);
    return labels;
}

std::vector<std::string> FieldReader::string_array(std::string_view key, std::size_t max_items,
                                                   const StringRule& rule) const {
    std::vector<std::string> items;
    const auto* values = array(key, max_items);
    if (values == nullptr) return items;
    items.reserve(values->size());
    for (std::size_t i = 0; i < values->size(); ++i) {
        const auto& item = (*values)[i];
        const std::string name = field_name(key) + "[" + std::to_string(i) + "]";
        if (!item.is_string()) throw MalformedInput(name + " must be a string", name);
        check_string(item.get_ref<const std::string&>(), rule, name);
        items.push_back(item.get<std::string>());
    }
    return items;
}

} // namespace macvmorx::protocol
