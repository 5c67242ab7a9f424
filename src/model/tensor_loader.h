// TensorLoader: looks up a GGUF tensor by name and checks presence, shape (outermost-first) and a
// dtype the kernels read; errors name the file, the tensor, the expected and the found value.
// Shared by the per-architecture weight loaders; does not own bytes.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "gguf/gguf_reader.h"
#include "tensor/quant.h"
#include "tensor/tensor_view.h"

namespace latent {

inline std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

class TensorLoader {
 public:
  explicit TensorLoader(const GgufFile& f) : f_(f) {}
  const GgufFile& file() const { return f_; }
  bool has(const std::string& name) const { return f_.find_tensor(name) != nullptr; }

  // Matrices may use any dequantizable dtype; vectors (norms, biases, factors) must be F32 as
  // llama.cpp's converter writes them.
  TensorView get(const std::string& name, const std::vector<int64_t>& shape, bool required = true) {
    const GgufTensorInfo* info = f_.find_tensor(name);
    if (!info) {
      if (!required) return TensorView{};
      throw Error::field(f_.path(), "tensor '" + name + "'",
                         "present with shape " + shape_str(shape), "missing");
    }
    std::vector<int64_t> found(info->shape.begin(), info->shape.begin() + info->n_dims);
    if (found != shape) {
      throw Error::field(f_.path(), "tensor '" + name + "' shape", shape_str(shape),
                         shape_str(found));
    }
    TensorView v = f_.view(*info);
    const bool is_vector = shape.size() == 1;
    if (is_vector ? v.dtype != DType::F32 : !can_dequantize(v.dtype)) {
      throw Error::field(
          f_.path(), "tensor '" + name + "' type",
          is_vector ? "f32" : "a supported type (f32, f16, bf16, q4_0..q8_0, q2_K..q6_K)",
          std::string(dtype_name(v.dtype)));
    }
    return v;
  }

 private:
  const GgufFile& f_;
};

}  // namespace latent
