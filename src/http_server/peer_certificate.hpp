#pragma once

#include <openssl/types.h>

#include <string>
#include <vector>

namespace macvmorx::http {

// The DNS names and the common name of a certificate: what may name a node.
std::vector<std::string> certificate_names(X509* certificate);

} // namespace macvmorx::http
