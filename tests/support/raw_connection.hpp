#pragma once

// A plain TCP connection to a loopback port, for sending what no well-behaved HTTP client
// would: malformed requests, bodies that never end, headers one byte at a time.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace macvmorx::testing {

class RawConnection {
public:
    explicit RawConnection(std::uint16_t port) : fd_{::socket(AF_INET, SOCK_STREAM, 0)} {
        if (fd_ < 0) throw std::runtime_error("socket");
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
            ::close(fd_);
            throw std::runtime_error("connect");
        }
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~RawConnection() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;

    // Returns false when the peer has closed the connection.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const auto sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (sent <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(sent));
        }
        return true;
    }

    // Reads until the peer closes the connection or `limit` passes; returns what arrived.
    std::string read_until_closed(std::chrono::milliseconds limit = std::chrono::seconds{5}) {
        std::string received;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (true) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) {
                closed_ = false;
                return received;
            }
            pollfd descriptor{fd_, POLLIN, 0};
            if (::poll(&descriptor, 1, static_cast<int>(left.count())) <= 0) continue;
            char buffer[4096];
            const auto got = ::recv(fd_, buffer, sizeof buffer, 0);
            if (got <= 0) {
                closed_ = true;
                return received;
            }
            received.append(buffer, static_cast<std::size_t>(got));
        }
    }

    // Reads one whole HTTP response with a Content-Length body, or what arrived by `limit`.
    std::string read_response(std::chrono::milliseconds limit = std::chrono::seconds{5}) {
        std::string received;
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto header_end = received.find("\r\n\r\n");
            if (header_end != std::string::npos) {
                const auto length_at = received.find("Content-Length: ");
                const std::size_t length =
                    length_at == std::string::npos ? 0 : std::stoul(received.substr(length_at + 16));
                if (received.size() >= header_end + 4 + length) return received;
            }
            pollfd descriptor{fd_, POLLIN, 0};
            if (::poll(&descriptor, 1, 50) <= 0) continue;
            char buffer[4096];
            const auto got = ::recv(fd_, buffer, sizeof buffer, 0);
            if (got <= 0) break;
            received.append(buffer, static_cast<std::size_t>(got));
        }
        return received;
    }

    bool closed_by_peer() const { return closed_; }

private:
    int fd_;
    bool closed_ = false;
};

inline int status_of(std::string_view response) {
    if (response.size() < 12 || !response.starts_with("HTTP/1.")) return 0;
    return std::stoi(std::string(response.substr(9, 3)));
}

} // namespace macvmorx::testing
