// GgufWriter: encodes metadata and tensors as a GGUF v3 (or v2) file in the layout of the gguf
// spec: header, kv pairs, tensor infos, padding to the alignment, tensor data each padded to the
// alignment (as ggml's gguf_write_to_buf does). Does not validate metadata semantics beyond
// general.alignment.
#include "gguf/gguf_writer.h"

#include <cstring>
#include <fstream>
#include <limits>
#include <span>
#include <utility>

#include "base/error.h"
#include "tensor/quant.h"

namespace latent {

namespace {

constexpr const char* kAlignmentKey = "general.alignment";

class ByteSink {
 public:
  template <class T>
  void put(T v) {
    size_t at = out_.size();
    out_.resize(at + sizeof(T));
    std::memcpy(out_.data() + at, &v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void put_bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void pad_to(uint64_t alignment) {
    while (out_.size() % alignment != 0) out_.push_back(0);
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

// Encodes the payload of a value (its type id is written by the caller).
void put_value(ByteSink& sink, const std::string& key, const GgufValue& v) {
  switch (v.type) {
    case GgufType::UINT8:
      sink.put<uint8_t>(static_cast<uint8_t>(v.u));
      return;
    case GgufType::INT8:
      sink.put<int8_t>(static_cast<int8_t>(v.i));
      return;
    case GgufType::UINT16:
      sink.put<uint16_t>(static_cast<uint16_t>(v.u));
      return;
    case GgufType::INT16:
      sink.put<int16_t>(static_cast<int16_t>(v.i));
      return;
    case GgufType::UINT32:
      sink.put<uint32_t>(static_cast<uint32_t>(v.u));
      return;
    case GgufType::INT32:
      sink.put<int32_t>(static_cast<int32_t>(v.i));
      return;
    case GgufType::UINT64:
      sink.put<uint64_t>(v.u);
      return;
    case GgufType::INT64:
      sink.put<int64_t>(v.i);
      return;
    case GgufType::FLOAT32:
      sink.put<float>(static_cast<float>(v.f));
      return;
    case GgufType::FLOAT64:
      sink.put<double>(v.f);
      return;
    case GgufType::BOOL:
      sink.put<uint8_t>(v.u ? 1 : 0);
      return;
    case GgufType::STRING:
      sink.put_string(v.str);
      return;
    case GgufType::ARRAY:
      sink.put<uint32_t>(static_cast<uint32_t>(v.elem_type));
      sink.put<uint64_t>(v.array_size());
      if (v.elem_type == GgufType::STRING) {
        for (const auto& s : v.array_strings()) sink.put_string(s);
      } else if (v.elem_type == GgufType::ARRAY) {
        for (const auto& e : v.array_arrays()) put_value(sink, key, e);
      } else {
        sink.put_bytes(v.array_packed());  // already the file's little-endian encoding
      }
      return;
  }
  throw Error::field("<gguf writer>", "key '" + key + "' type", "a GGUF value type id 0..12",
                     std::to_string(static_cast<uint32_t>(v.type)));
}

// Element count of an outermost-first shape, validating dims like the reader does.
int64_t checked_numel(const std::string& name, DType dtype, const std::vector<int64_t>& shape) {
  const std::string field = "tensor '" + name + "' shape";
  if (shape.empty() || shape.size() > 4) {
    throw Error::field("<gguf writer>", field, "1..4 dims", std::to_string(shape.size()));
  }
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error::field("<gguf writer>", field, "dims >= 0", std::to_string(d));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      throw Error::field("<gguf writer>", field, "an element count that fits int64", "overflow");
    }
    n *= d;
  }
  const DTypeTraits& tr = traits(dtype);
  if (shape.back() % tr.block_size != 0) {
    throw Error::field(
        "<gguf writer>", field + " innermost dim",
        "a multiple of " + std::to_string(tr.block_size) + " (" + std::string(tr.name) + ")",
        std::to_string(shape.back()));
  }
  return n;
}

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::set_str_array(const std::string& key, const std::vector<std::string>& v) {
  set(key, GgufValue::make_str_array(v));
}

void GgufWriter::set_f32_array(const std::string& key, const std::vector<float>& v) {
  set(key, GgufValue::make_packed_array(GgufType::FLOAT32, std::span<const float>(v)));
}

void GgufWriter::set_i32_array(const std::string& key, const std::vector<int32_t>& v) {
  set(key, GgufValue::make_packed_array(GgufType::INT32, std::span<const int32_t>(v)));
}

void GgufWriter::add_tensor(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                            std::vector<uint8_t> bytes) {
  int64_t numel = checked_numel(name, dtype, shape);
  const DTypeTraits& tr = traits(dtype);
  uint64_t expected = static_cast<uint64_t>(numel / tr.block_size) * tr.type_size;
  if (bytes.size() != expected) {
    throw Error::field("<gguf writer>", "tensor '" + name + "' bytes",
                       std::to_string(expected) + " bytes", std::to_string(bytes.size()));
  }
  for (const auto& t : tensors_) {
    if (t.name == name) {
      throw Error::field("<gguf writer>", "tensor '" + name + "' name", "a unique name",
                         "a duplicate");
    }
  }
  tensors_.push_back(Tensor{name, dtype, shape, std::move(bytes)});
}

void GgufWriter::add_tensor_f32(const std::string& name, DType dtype,
                                const std::vector<int64_t>& shape,
                                const std::vector<float>& values) {
  int64_t numel = checked_numel(name, dtype, shape);
  if (values.size() != static_cast<uint64_t>(numel)) {
    throw Error::field("<gguf writer>", "tensor '" + name + "' values",
                       std::to_string(numel) + " floats", std::to_string(values.size()));
  }
  const int64_t cols = shape.back();
  const int64_t rows = cols == 0 ? 0 : numel / cols;
  const int64_t row_bytes = dtype_row_bytes(dtype, cols);
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * row_bytes));
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = values.data() + r * cols;
    uint8_t* dst = bytes.data() + r * row_bytes;
    if (dtype == DType::F32) {
      std::memcpy(dst, src, static_cast<size_t>(cols) * sizeof(float));
    } else {
      quantize_row(dtype, src, dst, cols);
    }
  }
  add_tensor(name, dtype, shape, std::move(bytes));
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  if (version_ != 2 && version_ != 3) {
    throw Error::field("<gguf writer>", "version", "2 or 3", std::to_string(version_));
  }
  uint64_t alignment = 32;
  for (const auto& [key, v] : kv_) {
    if (key != kAlignmentKey) continue;
    if (v.type != GgufType::UINT32 || v.u == 0 || (v.u & (v.u - 1)) != 0) {
      throw Error::field("<gguf writer>", std::string("key '") + kAlignmentKey + "'",
                         "a uint32 power of two",
                         v.to_string() + " (" + std::string(gguf_type_name(v.type)) + ")");
    }
    alignment = v.u;
  }
  ByteSink sink;
  sink.put<uint32_t>(0x46554747u);  // "GGUF"
  sink.put<uint32_t>(version_);
  sink.put<uint64_t>(tensors_.size());
  sink.put<uint64_t>(kv_.size());
  for (const auto& [key, v] : kv_) {
    sink.put_string(key);
    sink.put<uint32_t>(static_cast<uint32_t>(v.type));
    put_value(sink, key, v);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    sink.put_string(t.name);
    sink.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) sink.put<int64_t>(*it);
    sink.put<uint32_t>(static_cast<uint32_t>(t.dtype));
    sink.put<uint64_t>(offset);
    offset += (t.bytes.size() + alignment - 1) / alignment * alignment;
  }
  if (!tensors_.empty()) sink.pad_to(alignment);
  for (const auto& t : tensors_) {
    sink.put_bytes(t.bytes);
    sink.pad_to(alignment);
  }
  return sink.take();
}

void GgufWriter::write(const std::string& path) const {
  std::vector<uint8_t> bytes = to_bytes();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(path + ": cannot open for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw Error(path + ": write failed");
}

}  // namespace latent
