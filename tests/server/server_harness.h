// Black-box harness for `latent serve`: random-weight models from latent-gen-model (optionally with
// a chat template), a server process on 127.0.0.1 and a free port (started, waited for on /health,
// SIGTERMed or killed by the test), and a raw-socket HTTP/1.1 client that sees the exact bytes
// (status, headers, de-chunked body) and can hang up mid-response.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace latent::test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
  std::string header(const std::string& name) const;
};

// A port that was free a moment ago on 127.0.0.1.
int free_port();

// One request over a fresh connection ("Connection: close"); the whole response. Fails the test
// (status 0) on a connection error or after timeout_s.
HttpResponse http(int port, const std::string& method, const std::string& path,
                  const std::string& body = "", const std::vector<std::string>& headers = {},
                  double timeout_s = 60);

// A connection the test drives by hand (streaming, disconnects).
class RawConnection {
 public:
  explicit RawConnection(int port);  // connect() failing leaves ok() false
  ~RawConnection();
  bool ok() const { return fd_ >= 0; }
  void send_request(const std::string& method, const std::string& path, const std::string& body,
                    const std::vector<std::string>& headers = {});
  // Reads until `needle` occurs `count` times in the raw bytes received so far, EOF or timeout;
  // returns whether it was found.
  bool read_until(const std::string& needle, int count, double timeout_s);
  // Reads until EOF (or timeout); returns false on timeout.
  bool read_to_end(double timeout_s);
  void close();
  const std::string& raw() const { return raw_; }
  // Parses raw() as a complete response.
  HttpResponse response() const;

 private:
  bool read_some(double timeout_s);  // false: EOF, error or timeout
  int fd_ = -1;
  std::string raw_;
};

// latent-gen-model's tiny llama, plus tokenizer.chat_template when `chat_template` is non-empty.
// Cached per name for the test process.
std::string tiny_model(const std::string& name, const std::string& chat_template,
                       const std::string& gen_args = "");

class ServerProcess {
 public:
  // Starts `latent serve -m model --port P <args>` with stderr to a log file and waits until
  // GET /health answers 200 (fails the test after 60 s).
  // An empty `model` starts `latent serve` without -m (the bundled default model).
  ServerProcess(const std::string& model, const std::vector<std::string>& args);
  ~ServerProcess();  // SIGKILL if still running
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM, then waits up to timeout_s; the exit status (-1: still running, -2: killed by a
  // signal).
  int terminate(double timeout_s);
  int wait_exit(double timeout_s);
  std::string log() const;

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_path_;
  int exit_status_ = -1;
};

// The data payloads of an SSE body ("[DONE]" included).
std::vector<std::string> sse_payloads(const std::string& body);

}  // namespace latent::test
