#pragma once

#include <string>
#include <string_view>

namespace macvmorx::protocol {

// Where an image comes from, read from its name: an OCI reference that `tart pull` fetches
// (any name without a scheme), or an object in a storage bucket, downloaded, verified and
// imported by the agent: `gs://BUCKET/PATH` (Google Cloud Storage) or `s3://BUCKET/PATH` (any
// S3-compatible store). The name itself stays the image's name everywhere: pools, schedule-vm,
// the scheduler's image affinity, cachedImages, the dashboard.
struct ImageSource {
    enum class Kind { oci, gcs, s3 };
    Kind kind = Kind::oci;
    std::string bucket; // empty for an OCI reference
    std::string object; // the object's path in the bucket, without a leading '/'

    bool in_bucket() const { return kind != Kind::oci; }
};

// What is wrong with an image name that has a scheme (`xx://`): an unknown store, a bucket
// name the store would refuse, an object path with an empty, "." or ".." segment, a query or a
// fragment. Empty when nothing is, and for any name without a scheme (an OCI reference).
std::string image_source_problem(std::string_view image_name);

// Reads an image name. A name with a scheme (`xx://`) must be a well-formed object URL of a
// known store; any other name is an OCI reference (not checked further here). Throws
// InvalidValue, naming `field`, with what is wrong.
ImageSource image_source(std::string_view image_name, const std::string& field = "imageName");

// Whether the object is a macOS restore image (its name ends in ".ipsw", in any case), which the
// agent installs into a new VM (`tart create --from-ipsw`), rather than a VM archive (`tart
// export`'s, any other name), which it imports.
bool is_restore_image(const ImageSource& source);

// The local VM name the agent imports a bucket object as: tart's import takes a local name, no
// '/' (Commands/Import.swift), and VMs clone it. Readable, stable across runs and machines, and
// different for different objects (a hash of the whole URL ends it: the readable part alone
// could meet another's, and APFS compares names without case by default).
std::string local_vm_name(const ImageSource& source);

} // namespace macvmorx::protocol
