// GgufFile lookups: metadata find + typed getters (integer widening with range checks, float, bool,
// string, arrays) and tensor lookup / views into the mapping. Parsing and validation are in
// gguf_reader.cpp; nothing here reads file bytes other than through the validated views.
#include "gguf/gguf_reader.h"

#include <cstring>
#include <limits>
#include <span>

#include "base/error.h"

namespace latent {

namespace {

std::string key_field(std::string_view key) {
  return "key '" + std::string(key) + "'";
}

bool is_signed_int(GgufType t) {
  return t == GgufType::INT8 || t == GgufType::INT16 || t == GgufType::INT32 ||
         t == GgufType::INT64;
}

// The value of an integer GgufValue if it lies in [lo, hi].
template <class T>
std::optional<T> int_in_range(const GgufValue& v) {
  if (is_signed_int(v.type)) {
    if (v.i < 0 && !std::numeric_limits<T>::is_signed) return std::nullopt;
    if (v.i < static_cast<int64_t>(std::numeric_limits<T>::min())) return std::nullopt;
    if (v.i >= 0 &&
        static_cast<uint64_t>(v.i) > static_cast<uint64_t>(std::numeric_limits<T>::max()))
      return std::nullopt;
    return static_cast<T>(v.i);
  }
  if (v.u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return std::nullopt;
  return static_cast<T>(v.u);
}

std::string describe(const GgufValue& v) {
  std::string s(gguf_type_name(v.type));
  if (v.type == GgufType::ARRAY) s += " of " + std::string(gguf_type_name(v.elem_type));
  return s;
}

}  // namespace

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {

template <class T>
std::optional<T> get_int(const GgufFile& f, std::string_view key, const char* expected) {
  const GgufValue* v = f.find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) {
    throw Error::field(f.path(), key_field(key), expected, describe(*v));
  }
  auto r = int_in_range<T>(*v);
  if (!r) {
    throw Error::field(f.path(), key_field(key), std::string(expected) + " range",
                       v->to_string() + " (" + describe(*v) + ")");
  }
  return r;
}

template <class T>
T required(const GgufFile& f, std::string_view key, std::optional<T> v, const char* expected) {
  if (!v) throw Error::field(f.path(), key_field(key), expected, "missing");
  return *std::move(v);
}

}  // namespace

std::optional<uint32_t> GgufFile::get_u32_opt(std::string_view key) const {
  return get_int<uint32_t>(*this, key, "uint32");
}
uint32_t GgufFile::get_u32(std::string_view key) const {
  return required(*this, key, get_u32_opt(key), "uint32");
}
std::optional<uint64_t> GgufFile::get_u64_opt(std::string_view key) const {
  return get_int<uint64_t>(*this, key, "uint64");
}
uint64_t GgufFile::get_u64(std::string_view key) const {
  return required(*this, key, get_u64_opt(key), "uint64");
}

std::optional<float> GgufFile::get_f32_opt(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_float()) throw Error::field(path(), key_field(key), "float32", describe(*v));
  return static_cast<float>(v->f);
}
float GgufFile::get_f32(std::string_view key) const {
  return required(*this, key, get_f32_opt(key), "float32");
}

std::optional<bool> GgufFile::get_bool_opt(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::BOOL) throw Error::field(path(), key_field(key), "bool", describe(*v));
  return v->u != 0;
}
bool GgufFile::get_bool(std::string_view key) const {
  return required(*this, key, get_bool_opt(key), "bool");
}

std::optional<std::string> GgufFile::get_str_opt(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::STRING) {
    throw Error::field(path(), key_field(key), "string", describe(*v));
  }
  return v->str;
}
std::string GgufFile::get_str(std::string_view key) const {
  return required(*this, key, get_str_opt(key), "string");
}

std::optional<std::vector<std::string>> GgufFile::get_str_array_opt(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::ARRAY || v->elem_type != GgufType::STRING) {
    throw Error::field(path(), key_field(key), "array of string", describe(*v));
  }
  return v->array_strings();
}

namespace {

// Packed elements of type T, converted to Out one by one (memcpy: the bytes are unaligned).
template <class T, class Out, class Convert>
void convert_packed(std::span<const uint8_t> bytes, std::vector<Out>& out, const Convert& convert) {
  const size_t n = bytes.size() / sizeof(T);
  out.resize(n);
  for (size_t k = 0; k < n; ++k) {
    T x;
    std::memcpy(&x, bytes.data() + k * sizeof(T), sizeof(T));
    out[k] = convert(x, k);
  }
}

}  // namespace

std::optional<std::vector<float>> GgufFile::get_f32_array_opt(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufType::ARRAY ||
      (v->elem_type != GgufType::FLOAT32 && v->elem_type != GgufType::FLOAT64)) {
    throw Error::field(path(), key_field(key), "array of float32", describe(*v));
  }
  std::vector<float> out;
  auto to_float = [](auto x, size_t) { return static_cast<float>(x); };
  if (v->elem_type == GgufType::FLOAT32) {
    convert_packed<float>(v->array_packed(), out, to_float);
  } else {
    convert_packed<double>(v->array_packed(), out, to_float);
  }
  return out;
}

std::optional<std::vector<int64_t>> GgufFile::get_int_array_opt(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  GgufValue probe;
  probe.type = v->elem_type;
  if (v->type != GgufType::ARRAY || !probe.is_integer()) {
    throw Error::field(path(), key_field(key), "array of an integer type", describe(*v));
  }
  std::vector<int64_t> out;
  auto widen = [](auto x, size_t) { return static_cast<int64_t>(x); };
  const auto bytes = v->array_packed();
  switch (v->elem_type) {
    case GgufType::UINT8:
      convert_packed<uint8_t>(bytes, out, widen);
      break;
    case GgufType::INT8:
      convert_packed<int8_t>(bytes, out, widen);
      break;
    case GgufType::UINT16:
      convert_packed<uint16_t>(bytes, out, widen);
      break;
    case GgufType::INT16:
      convert_packed<int16_t>(bytes, out, widen);
      break;
    case GgufType::UINT32:
      convert_packed<uint32_t>(bytes, out, widen);
      break;
    case GgufType::INT32:
      convert_packed<int32_t>(bytes, out, widen);
      break;
    case GgufType::INT64:
      convert_packed<int64_t>(bytes, out, widen);
      break;
    default:  // UINT64: values past INT64_MAX do not fit
      convert_packed<uint64_t>(bytes, out, [&](uint64_t x, size_t k) {
        if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          throw Error::field(path(), key_field(key) + "[" + std::to_string(k) + "]", "int64 range",
                             std::to_string(x));
        }
        return static_cast<int64_t>(x);
      });
      break;
  }
  return out;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

TensorView GgufFile::view(const GgufTensorInfo& info) const {
  TensorView v;
  v.dtype = info.dtype;
  v.n_dims = info.n_dims;
  v.shape = info.shape;
  // open() checked offset + nbytes <= file size - data_offset for every tensor.
  const uint64_t start = data_offset_ + info.offset;
  v.data = start <= file_.size() && file_.data() ? file_.data() + start : nullptr;
  return v;
}

}  // namespace latent
