// AWS Signature Version 4 against AWS's published examples: the generic Signature Version 4
// test suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html: get-vanilla,
// get-vanilla-query-order-key-case, get-utf8; credentials AKIDEXAMPLE, 2015-08-30 12:36:00 UTC,
// us-east-1, service "service") and S3's own "GET Object" example
// (docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html), a ranged GET as the
// agent's resumed downloads will send.

#include "macvmorx/object_store/sigv4.hpp"

#include <gtest/gtest.h>

using macvmorx::object_store::AwsCredentials;
using macvmorx::object_store::sign_v4;
using macvmorx::object_store::SigV4Request;
using macvmorx::object_store::SigV4Scope;
using macvmorx::object_store::uri_encode;

namespace {

const std::string empty_body_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const AwsCredentials suite_credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const SigV4Scope suite_scope{"20150830T123600Z", "us-east-1", "service"};

SigV4Request suite_request(std::string path = "/", std::vector<std::pair<std::string, std::string>> query = {}) {
    SigV4Request request;
    request.method = "GET";
    request.path = std::move(path);
    request.query = std::move(query);
    request.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
    request.payload_hash = empty_body_hash;
    return request;
}

} // namespace

TEST(SigV4, TheEmptyBodyHashesAsAwsSays) { EXPECT_EQ(macvmorx::object_store::sha256_hex(""), empty_body_hash); }

TEST(SigV4, GetVanillaMatchesTheTestSuite) {
    const auto signed_request = sign_v4(suite_request(), suite_scope, suite_credentials);
    EXPECT_EQ(signed_request.canonical_request,
              "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" + empty_body_hash);
    EXPECT_EQ(signed_request.string_to_sign,
              "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
              "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    EXPECT_EQ(signed_request.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, TheQueryIsSortedBeforeSigning) {
    // get-vanilla-query-order-key-case: ?Param2=value2&Param1=value1
    const auto signed_request =
        sign_v4(suite_request("/", {{"Param2", "value2"}, {"Param1", "value1"}}), suite_scope, suite_credentials);
    EXPECT_NE(signed_request.canonical_request.find("\nParam1=value1&Param2=value2\n"), std::string::npos);
    EXPECT_EQ(signed_request.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, AnEncodedUtf8PathIsSignedAsSent) {
    // get-utf8: GET /ሴ, sent as /%E1%88%B4
    const auto path = uri_encode("/\xE1\x88\xB4", true);
    EXPECT_EQ(path, "/%E1%88%B4");
    EXPECT_EQ(sign_v4(suite_request(path), suite_scope, suite_credentials).signature,
              "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST(SigV4, S3sRangedGetObjectExampleMatches) {
    SigV4Request request;
    request.method = "GET";
    request.path = "/test.txt";
    request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                       {"Range", "bytes=0-9"},
                       {"x-amz-content-sha256", empty_body_hash},
                       {"x-amz-date", "20130524T000000Z"}};
    request.payload_hash = empty_body_hash;
    const auto signed_request = sign_v4(request, {"20130524T000000Z", "us-east-1", "s3"},
                                        {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""});
    EXPECT_EQ(signed_request.canonical_request,
              "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\nx-amz-content-sha256:" +
                  empty_body_hash + "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n" +
                  empty_body_hash);
    EXPECT_EQ(signed_request.string_to_sign,
              "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
              "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    EXPECT_EQ(signed_request.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
              "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, HeadersAreTrimmedAndARepeatedNameIsOneLine) {
    auto request = suite_request();
    request.headers.push_back({"My-Header1", "  value1   with  spaces "});
    request.headers.push_back({"my-header1", "value2"});
    const auto signed_request = sign_v4(request, suite_scope, suite_credentials);
    EXPECT_NE(signed_request.canonical_request.find("\nmy-header1:value1 with spaces,value2\n"), std::string::npos)
        << signed_request.canonical_request;
    EXPECT_EQ(signed_request.signed_headers, "host;my-header1;x-amz-date");
}

TEST(SigV4, EncodingKeepsOnlyUnreservedCharacters) {
    EXPECT_EQ(uri_encode("macos/sequoia xcode+16~.tvm", true), "macos/sequoia%20xcode%2B16~.tvm");
    EXPECT_EQ(uri_encode("a/b=c&d", false), "a%2Fb%3Dc%26d");
}
