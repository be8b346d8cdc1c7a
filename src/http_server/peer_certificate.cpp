#include "peer_certificate.hpp"

#include <openssl/x509v3.h>

namespace macvmorx::http {
namespace {

std::string asn1_text(const ASN1_STRING* text) {
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(text)),
                       static_cast<std::size_t>(ASN1_STRING_length(text)));
}

} // namespace

std::vector<std::string> certificate_names(X509* certificate) {
    std::vector<std::string> names;
    auto* alt_names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
    if (alt_names != nullptr) {
        for (int i = 0; i < sk_GENERAL_NAME_num(alt_names); ++i) {
            const GENERAL_NAME* name = sk_GENERAL_NAME_value(alt_names, i);
            if (name->type == GEN_DNS) names.push_back(asn1_text(name->d.dNSName));
        }
        GENERAL_NAMES_free(alt_names);
    }
    X509_NAME* subject = X509_get_subject_name(certificate);
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index >= 0) names.push_back(asn1_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index))));
    return names;
}

} // namespace macvmorx::http
