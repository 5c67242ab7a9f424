// Black-box harness (see server_harness.h).
#include "server_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "server/sse.h"

namespace latent::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string request_bytes(int port, const std::string& method, const std::string& path,
                          const std::string& body, const std::vector<std::string>& headers,
                          bool close) {
  std::string r =
      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
  if (close) r += "Connection: close\r\n";
  bool has_type = false;
  for (const std::string& h : headers) {
    r += h + "\r\n";
    has_type |= lower(h).starts_with("content-type:");
  }
  if (method == "POST") {
    if (!has_type) r += "Content-Type: application/json\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return r + "\r\n" + body;
}

HttpResponse parse_response(const std::string& raw) {
  HttpResponse r;
  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) return r;
  const std::string head = raw.substr(0, head_end);
  if (head.size() > 12) r.status = std::atoi(head.substr(9, 3).c_str());
  size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos < head.size()) {
    const size_t next = head.find("\r\n", pos + 2);
    const std::string line =
        head.substr(pos + 2, (next == std::string::npos ? head.size() : next) - pos - 2);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string v = line.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r.headers[lower(line.substr(0, colon))] = v;
    }
    pos = next;
  }
  std::string body = raw.substr(head_end + 4);
  if (lower(r.header("transfer-encoding")) == "chunked") {
    std::string out;
    size_t p = 0;
    for (;;) {
      const size_t eol = body.find("\r\n", p);
      if (eol == std::string::npos) break;
      const size_t n = std::stoul(body.substr(p, eol - p), nullptr, 16);
      if (n == 0) break;
      out += body.substr(eol + 2, n);
      p = eol + 2 + n + 2;
    }
    body = std::move(out);
  }
  r.body = std::move(body);
  return r;
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

RawConnection::RawConnection(int port) : fd_(connect_to(port)) {}
RawConnection::~RawConnection() {
  close();
}

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawConnection::send_request(const std::string& method, const std::string& path,
                                 const std::string& body, const std::vector<std::string>& headers) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getpeername(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string bytes = request_bytes(ntohs(a.sin_port), method, path, body, headers, true);
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

bool RawConnection::read_some(double timeout_s) {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout_s * 1000)) <= 0) return false;
  char buf[65536];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  raw_.append(buf, static_cast<size_t>(n));
  return true;
}

bool RawConnection::read_until(const std::string& needle, int count, double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    int found = 0;
    for (size_t pos = raw_.find(needle); pos != std::string::npos; pos = raw_.find(needle, pos + 1))
      ++found;
    if (found >= count) return true;
    const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    if (left <= 0 || !read_some(left)) return false;
  }
}

bool RawConnection::read_to_end(double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  for (;;) {
    const double left = std::chrono::duration<double>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left * 1000)) <= 0) return false;
    char buf[65536];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
    raw_.append(buf, static_cast<size_t>(n));
  }
}

HttpResponse RawConnection::response() const {
  return parse_response(raw_);
}

HttpResponse http(int port, const std::string& method, const std::string& path,
                  const std::string& body, const std::vector<std::string>& headers,
                  double timeout_s) {
  RawConnection c(port);
  EXPECT_TRUE(c.ok()) << "connect to 127.0.0.1:" << port;
  if (!c.ok()) return {};
  c.send_request(method, path, body, headers);
  EXPECT_TRUE(c.read_to_end(timeout_s)) << method << " " << path << ": no complete response";
  return c.response();
}

std::string tiny_model(const std::string& name, const std::string& chat_template,
                       const std::string& gen_args) {
  static std::map<std::string, std::string> cache;
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  const std::string plain = temp_path(name + "_plain.gguf");
  std::string log;
  EXPECT_EQ(run_command(
                binary_dir() + "/latent-gen-model --out " + plain + " " + gen_args + " 2>&1", &log),
            0)
      << log;
  if (chat_template.empty()) return cache[name] = plain;
  const GgufFile src = GgufFile::open(plain);
  const std::string bytes = read_file(plain);
  GgufWriter w;
  for (const auto& [key, value] : src.metadata()) w.set(key, value);
  w.set_str("tokenizer.chat_template", chat_template);
  for (const GgufTensorInfo& t : src.tensors()) {
    const char* p = bytes.data() + src.data_offset() + t.offset;
    w.add_tensor(t.name, t.dtype, std::vector<int64_t>(t.shape.begin(), t.shape.begin() + t.n_dims),
                 std::vector<uint8_t>(p, p + t.nbytes));
  }
  const std::string path = temp_path(name + ".gguf");
  w.write(path);
  return cache[name] = path;
}

ServerProcess::ServerProcess(const std::string& model, const std::vector<std::string>& args) {
  port_ = free_port();
  static int counter = 0;
  log_path_ = temp_path("serve_" + std::to_string(++counter) + ".log");
  std::vector<std::string> argv = {latent_bin(),          "serve", "--port",
                                   std::to_string(port_), "-t",    "2"};
  if (!model.empty()) argv.insert(argv.end(), {"-m", model});  // none: the default model
  argv.insert(argv.end(), args.begin(), args.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDERR_FILENO);
    ::dup2(fd, STDOUT_FILENO);
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Clock::now() < deadline) {
    if (!running()) break;
    RawConnection c(port_);
    if (c.ok()) {
      c.send_request("GET", "/health", "");
      if (c.read_to_end(5) && c.response().status == 200) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "latent serve did not become healthy on port " << port_ << ":\n" << log();
}

ServerProcess::~ServerProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

bool ServerProcess::running() {
  if (pid_ <= 0 || exit_status_ != -1) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -2;
  return false;
}

int ServerProcess::wait_exit(double timeout_s) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(timeout_s);
  while (running() && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return running() ? -1 : exit_status_;
}

int ServerProcess::terminate(double timeout_s) {
  if (running()) ::kill(pid_, SIGTERM);
  return wait_exit(timeout_s);
}

std::string ServerProcess::log() const {
  return read_file(log_path_);
}

std::vector<std::string> sse_payloads(const std::string& body) {
  server::SseParser p;
  return p.feed(body);
}

}  // namespace latent::test
