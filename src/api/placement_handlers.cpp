#include "json_fields.hpp"
#include "macvmorx/api/handlers.hpp"
#include "macvmorx/http/http_error.hpp"
#include "macvmorx/json/json_writer.hpp"
#include "macvmorx/orchestrator/orchestrator.hpp"

namespace macvmorx::api {

http::Response handle_schedule_vm(const http::Request& request, ApiContext& context) {
    const nlohmann::json document = parse_json_object(request.body);
    const FieldReader fields{document};
    const std::string image_name = fields.required_string("imageName", image_name_rule);

    const auto placement = context.orchestrator.schedule_vm(image_name);
    if (!placement) {
        throw http::ServiceUnavailable("no suitable node",
                                       "no online node has a free slot for a VM of image '" + image_name + "'")
            .with_member("imageName", image_name)
            .with_header("Retry-After", "5");
    }
    http::Response response;
    JsonWriter json{response.body};
    json.begin_object()
        .field("message", "VM scheduled successfully")
        .field("nodeId", placement->node_id)
        .field("vmId", placement->vm_id)
        .field("imageName", placement->image_name)
        .field("imageCached", placement->image_cached)
        .end_object();
    return response;
}

} // namespace macvmorx::api
