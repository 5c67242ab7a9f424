// ConnectionWatch (see connection_watch.h): the descriptor is looked up once in /proc/self/fd and
// re-verified by its peer address before every peek, so a descriptor that was closed and reused
// for another connection is never mistaken for ours.
#include "server/connection_watch.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>

namespace latent::server {
namespace {

bool peer_is(int fd, const std::string& addr, int port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return false;
  char host[INET6_ADDRSTRLEN] = {};
  int p = -1;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    p = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    p = ntohs(a->sin6_port);
  } else {
    return false;
  }
  return p == port && addr == host;
}

}  // namespace

ConnectionWatch::ConnectionWatch(const std::string& remote_addr, int remote_port)
    : addr_(remote_addr), port_(remote_port) {
  if (remote_addr.empty() || remote_port <= 0) return;
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = std::atoi(e->d_name);
    if (fd == ::dirfd(dir)) continue;
    if (peer_is(fd, addr_, port_)) {
      fd_ = fd;
      break;
    }
  }
  ::closedir(dir);
}

bool ConnectionWatch::still_ours() const {
  return fd_ >= 0 && peer_is(fd_, addr_, port_);
}

bool ConnectionWatch::closed() const {
  if (fd_ < 0) return false;
  if (!still_ours()) return true;  // httplib closed it: the connection is gone either way
  char c;
  const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) return true;  // orderly shutdown by the client
  if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  return false;  // pipelined bytes: the client is still there
}

}  // namespace latent::server
