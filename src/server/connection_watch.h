// ConnectionWatch: tells a handler that its client has gone away while the engine is still working
// on the request. cpp-httplib 0.11 gives handlers neither the socket nor a "connection closed"
// query, so the watch finds the connection's descriptor by its peer address (Request::remote_addr
// and remote_port are unique among the server's open connections) and peeks at it: end-of-file or
// a reset means the client closed. Linux only; when the descriptor is not found the watch never
// reports a close (the request simply runs to its limit).
#pragma once

#include <string>

namespace latent::server {

class ConnectionWatch {
 public:
  ConnectionWatch(const std::string& remote_addr, int remote_port);
  // True once the peer has closed or reset the connection. Cheap (two syscalls); never blocks.
  bool closed() const;
  bool found() const { return fd_ >= 0; }

 private:
  bool still_ours() const;
  std::string addr_;
  int port_;
  int fd_ = -1;
};

}  // namespace latent::server
