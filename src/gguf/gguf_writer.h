// GgufWriter: builds a GGUF v3 file (metadata in insertion order, tensors aligned to
// general.alignment). Used by tests, the random-model generator, and later `latent quantize` /
// `convert`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gguf/gguf_value.h"
#include "tensor/dtype.h"

namespace latent {

class GgufWriter {
 public:
  // Sets (or replaces, keeping its position) a metadata key.
  void set(const std::string& key, GgufValue value);
  void set_u32(const std::string& key, uint32_t v) { set(key, GgufValue::make_u32(v)); }
  void set_i32(const std::string& key, int32_t v) { set(key, GgufValue::make_i32(v)); }
  void set_u64(const std::string& key, uint64_t v) { set(key, GgufValue::make_u64(v)); }
  void set_f32(const std::string& key, float v) { set(key, GgufValue::make_f32(v)); }
  void set_bool(const std::string& key, bool v) { set(key, GgufValue::make_bool(v)); }
  void set_str(const std::string& key, std::string v) {
    set(key, GgufValue::make_str(std::move(v)));
  }
  void set_str_array(const std::string& key, const std::vector<std::string>& v);
  void set_f32_array(const std::string& key, const std::vector<float>& v);
  void set_i32_array(const std::string& key, const std::vector<int32_t>& v);

  // Adds a tensor; shape is outermost-first (written reversed, as ggml expects). bytes.size() must
  // equal the size implied by dtype and shape (throws latent::Error otherwise).
  void add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                  std::vector<uint8_t> bytes);
  // Convenience: quantizes/converts f32 values to dtype with quantize_row, row by row.
  void add_tensor_f32(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                      const std::vector<float>& values);

  // Writes the file (version 3 unless set_version). Alignment comes from general.alignment if set
  // (must be a power of two), else 32.
  void write(const std::string& path) const;
  // Same bytes as write(), in memory (tests).
  std::vector<uint8_t> to_bytes() const;
  void set_version(uint32_t version) { version_ = version; }

 private:
  struct Tensor {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  uint32_t version_ = 3;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace latent
