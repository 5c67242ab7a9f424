// MappedFile: a read-only memory map of a whole file (RAII). Owns the mapping, not its
// interpretation; gguf/ parses the bytes. An empty file maps to a null pointer of size 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace latent {

class MappedFile {
 public:
  MappedFile() = default;
  // Throws latent::Error naming the path and the OS error when the file cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release();

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace latent
