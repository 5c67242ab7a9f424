// GgufFile: opens a GGUF v2/v3 file, validates every header field against the file's size, and
// exposes metadata and mmapped tensor data. The only code in latent that parses GGUF bytes. Any
// malformation throws latent::Error naming the file, the field, the expected and the found value.
// Memory: nothing is sized by an untrusted count before the bytes backing it are known to exist,
// and open() allocates at most ~4x the file's metadata bytes plus capped per-key / nested-array
// costs (gguf_parse.h: kMaxKv, kMaxNestedArrays; tested in tests/gguf/gguf_memory_test.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mapped_file.h"
#include "gguf/gguf_value.h"
#include "tensor/tensor_view.h"

namespace latent {

struct GgufTensorInfo {
  std::string name;
  DType dtype = DType::F32;
  int n_dims = 0;
  std::array<int64_t, 4> shape{1, 1, 1, 1};  // outermost-first (reversed from the file's order)
  uint64_t offset = 0;                       // relative to the data section
  uint64_t nbytes = 0;
};

class GgufFile {
 public:
  // Opens and validates; throws latent::Error on any malformation.
  static GgufFile open(const std::string& path);

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return file_.size(); }
  uint64_t data_offset() const { return data_offset_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;  // nullptr when absent

  // Typed getters. The required forms throw Error (file, key, expected type, found type /
  // "missing"). Integer getters accept any integer type whose value fits; float getters accept
  // FLOAT32/FLOAT64.
  uint32_t get_u32(std::string_view key) const;
  std::optional<uint32_t> get_u32_opt(std::string_view key) const;
  uint64_t get_u64(std::string_view key) const;
  std::optional<uint64_t> get_u64_opt(std::string_view key) const;
  float get_f32(std::string_view key) const;
  std::optional<float> get_f32_opt(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  std::optional<bool> get_bool_opt(std::string_view key) const;
  std::string get_str(std::string_view key) const;
  std::optional<std::string> get_str_opt(std::string_view key) const;
  // Arrays: throws when present with the wrong element type; empty optional when absent.
  std::optional<std::vector<std::string>> get_str_array_opt(std::string_view key) const;
  std::optional<std::vector<float>> get_f32_array_opt(std::string_view key) const;
  std::optional<std::vector<int64_t>> get_int_array_opt(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;  // nullptr when absent
  // View of a tensor's bytes inside the mapping (valid while this GgufFile lives).
  TensorView view(const GgufTensorInfo& info) const;

 private:
  GgufFile() = default;

  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace latent
