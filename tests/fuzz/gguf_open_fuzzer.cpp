// libFuzzer target for GgufFile::open: the input bytes become an in-memory file (memfd) that is
// opened and, when it validates, read end to end (every value, first and last byte of every
// tensor). Any outcome other than success or latent::Error is a finding. The deterministic in-suite
// version is tests/gguf/gguf_fuzz_test.cpp; this target is for longer clang-only runs:
//   fuzz_gguf -max_total_time=60 CORPUS_DIR   (seed CORPUS_DIR with small .gguf files)
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/error.h"
#include "gguf/gguf_reader.h"

namespace {

// A memfd holding `data`, reachable through /proc/self/fd/N so GgufFile::open can map it by path.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = memfd_create("gguf_fuzz", MFD_CLOEXEC);
    if (fd_ < 0) __builtin_trap();
    size_t done = 0;
    while (done < size) {
      ssize_t n = write(fd_, data + done, size - done);
      if (n <= 0) __builtin_trap();
      done += static_cast<size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { close(fd_); }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  MemFile file(data, size);
  try {
    latent::GgufFile f = latent::GgufFile::open(file.path());
    size_t sink = 0;
    for (const auto& [key, value] : f.metadata()) sink += key.size() + value.to_string().size();
    for (const auto& info : f.tensors()) {
      latent::TensorView v = f.view(info);
      if (info.nbytes == 0) continue;
      const auto* p = static_cast<const uint8_t*>(v.data);
      sink += p[0] + p[info.nbytes - 1] + static_cast<size_t>(v.nbytes());
    }
    if (sink == 1) return -1;  // keeps the reads observable
  } catch (const latent::Error&) {
    // A clean rejection is the expected outcome for most inputs.
  }
  return 0;
}
