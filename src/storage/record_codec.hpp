#pragma once

// How VM records and node settings are written in the database: JSON documents that hold
// every field, bookkeeping included, so that a restart resumes exactly. Private to storage.

#include "macvmorx/actions/job_record.hpp"
#include "macvmorx/fleet/node_record.hpp"
#include "macvmorx/lifecycle/vm_record.hpp"

#include <string>

namespace macvmorx::storage {

std::string encode_vm(const lifecycle::VmRecord& vm);
// Throws std::runtime_error for a document that is not a VM record.
lifecycle::VmRecord decode_vm(const std::string& json);

std::string encode_job(const actions::JobRecord& job);
// Throws std::runtime_error for a document that is not a job record.
actions::JobRecord decode_job(const std::string& json);

std::string encode_labels(const protocol::Labels& labels);
protocol::Labels decode_labels(const std::string& json);

} // namespace macvmorx::storage
