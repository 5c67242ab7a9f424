// GgufValue constructors (including the compact array forms), element access, type predicates and
// the short human-readable form used in error messages and `latent info`. Plain data only: parsing
// lives in gguf_parse.cpp, encoding in gguf_writer.cpp.
#include "gguf/gguf_value.h"

#include <cstdio>
#include <cstring>
#include <utility>

#include "base/check.h"
#include "base/error.h"

namespace latent {

std::string_view gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::UINT8:
      return "uint8";
    case GgufType::INT8:
      return "int8";
    case GgufType::UINT16:
      return "uint16";
    case GgufType::INT16:
      return "int16";
    case GgufType::UINT32:
      return "uint32";
    case GgufType::INT32:
      return "int32";
    case GgufType::FLOAT32:
      return "float32";
    case GgufType::BOOL:
      return "bool";
    case GgufType::STRING:
      return "string";
    case GgufType::ARRAY:
      return "array";
    case GgufType::UINT64:
      return "uint64";
    case GgufType::INT64:
      return "int64";
    case GgufType::FLOAT64:
      return "float64";
  }
  return "unknown";
}

size_t gguf_packed_size(GgufType type) {
  switch (type) {
    case GgufType::UINT8:
    case GgufType::INT8:
    case GgufType::BOOL:
      return 1;
    case GgufType::UINT16:
    case GgufType::INT16:
      return 2;
    case GgufType::UINT32:
    case GgufType::INT32:
    case GgufType::FLOAT32:
      return 4;
    case GgufType::UINT64:
    case GgufType::INT64:
    case GgufType::FLOAT64:
      return 8;
    default:
      return 0;
  }
}

void gguf_check_packed_size(GgufType type, size_t elem_size) {
  if (gguf_packed_size(type) == 0 || gguf_packed_size(type) != elem_size) {
    throw Error::field("<gguf value>", "packed array of " + std::string(gguf_type_name(type)),
                       "elements of " + std::to_string(gguf_packed_size(type)) + " bytes",
                       std::to_string(elem_size) + "-byte elements");
  }
}

namespace {

GgufValue make_signed(GgufType type, int64_t v) {
  GgufValue out;
  out.type = type;
  out.i = v;
  return out;
}

GgufValue make_unsigned(GgufType type, uint64_t v) {
  GgufValue out;
  out.type = type;
  out.u = v;
  return out;
}

GgufValue make_float(GgufType type, double v) {
  GgufValue out;
  out.type = type;
  out.f = v;
  return out;
}

std::string format_double(double v, bool single) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g", single ? 9 : 17, v);
  return buf;
}

std::string quote(const std::string& s) {
  constexpr size_t kMaxShown = 64;
  std::string out = "\"";
  for (size_t k = 0; k < s.size() && k < kMaxShown; ++k) {
    unsigned char c = static_cast<unsigned char>(s[k]);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > kMaxShown) out += "...";
  out.push_back('"');
  return out;
}

}  // namespace

GgufValue GgufValue::make_u8(uint8_t v) {
  return make_unsigned(GgufType::UINT8, v);
}
GgufValue GgufValue::make_i8(int8_t v) {
  return make_signed(GgufType::INT8, v);
}
GgufValue GgufValue::make_u16(uint16_t v) {
  return make_unsigned(GgufType::UINT16, v);
}
GgufValue GgufValue::make_i16(int16_t v) {
  return make_signed(GgufType::INT16, v);
}
GgufValue GgufValue::make_u32(uint32_t v) {
  return make_unsigned(GgufType::UINT32, v);
}
GgufValue GgufValue::make_i32(int32_t v) {
  return make_signed(GgufType::INT32, v);
}
GgufValue GgufValue::make_u64(uint64_t v) {
  return make_unsigned(GgufType::UINT64, v);
}
GgufValue GgufValue::make_i64(int64_t v) {
  return make_signed(GgufType::INT64, v);
}
GgufValue GgufValue::make_f32(float v) {
  return make_float(GgufType::FLOAT32, v);
}
GgufValue GgufValue::make_f64(double v) {
  return make_float(GgufType::FLOAT64, v);
}
GgufValue GgufValue::make_bool(bool v) {
  return make_unsigned(GgufType::BOOL, v ? 1 : 0);
}

GgufValue GgufValue::make_str(std::string v) {
  GgufValue out;
  out.type = GgufType::STRING;
  out.str = std::move(v);
  return out;
}

namespace {

// Little-endian bytes of a packed-type scalar (the host is little-endian: gguf_parse.h asserts it).
template <class T>
void put_packed(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void append_packed(std::vector<uint8_t>& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::UINT8:
    case GgufType::BOOL:
      return put_packed(out, static_cast<uint8_t>(v.u));
    case GgufType::INT8:
      return put_packed(out, static_cast<int8_t>(v.i));
    case GgufType::UINT16:
      return put_packed(out, static_cast<uint16_t>(v.u));
    case GgufType::INT16:
      return put_packed(out, static_cast<int16_t>(v.i));
    case GgufType::UINT32:
      return put_packed(out, static_cast<uint32_t>(v.u));
    case GgufType::INT32:
      return put_packed(out, static_cast<int32_t>(v.i));
    case GgufType::UINT64:
      return put_packed(out, v.u);
    case GgufType::INT64:
      return put_packed(out, v.i);
    case GgufType::FLOAT32:
      return put_packed(out, static_cast<float>(v.f));
    case GgufType::FLOAT64:
      return put_packed(out, v.f);
    default:
      LATENT_CHECK_MSG(false, "not a packed GGUF type");
  }
}

template <class T>
T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// One packed element of `type` at `p` (bools were validated when the array was made).
GgufValue decode_packed(GgufType type, const uint8_t* p) {
  switch (type) {
    case GgufType::UINT8:
      return GgufValue::make_u8(p[0]);
    case GgufType::INT8:
      return GgufValue::make_i8(load<int8_t>(p));
    case GgufType::UINT16:
      return GgufValue::make_u16(load<uint16_t>(p));
    case GgufType::INT16:
      return GgufValue::make_i16(load<int16_t>(p));
    case GgufType::UINT32:
      return GgufValue::make_u32(load<uint32_t>(p));
    case GgufType::INT32:
      return GgufValue::make_i32(load<int32_t>(p));
    case GgufType::UINT64:
      return GgufValue::make_u64(load<uint64_t>(p));
    case GgufType::INT64:
      return GgufValue::make_i64(load<int64_t>(p));
    case GgufType::FLOAT32:
      return GgufValue::make_f32(load<float>(p));
    case GgufType::FLOAT64:
      return GgufValue::make_f64(load<double>(p));
    case GgufType::BOOL:
      return GgufValue::make_bool(p[0] != 0);
    default:
      LATENT_CHECK_MSG(false, "not a packed GGUF type");
      return {};
  }
}

}  // namespace

GgufValue GgufValue::make_array(GgufType elem_type, std::vector<GgufValue> elems) {
  for (size_t k = 0; k < elems.size(); ++k) {
    if (elems[k].type != elem_type) {
      throw Error::field("<gguf value>", "array element [" + std::to_string(k) + "] type",
                         std::string(gguf_type_name(elem_type)),
                         std::string(gguf_type_name(elems[k].type)));
    }
  }
  if (elem_type == GgufType::STRING) {
    std::vector<std::string> strs;
    strs.reserve(elems.size());
    for (auto& e : elems) strs.push_back(std::move(e.str));
    return make_str_array(std::move(strs));
  }
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.elem_type = elem_type;
  if (elem_type == GgufType::ARRAY) {
    out.arrays_ = std::move(elems);
    return out;
  }
  LATENT_CHECK_MSG(gguf_packed_size(elem_type) != 0, "unknown GGUF array element type");
  out.packed_.reserve(elems.size() * gguf_packed_size(elem_type));
  for (const auto& e : elems) append_packed(out.packed_, e);
  return out;
}

GgufValue GgufValue::make_str_array(std::vector<std::string> elems) {
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.elem_type = GgufType::STRING;
  out.strings_ = std::move(elems);
  return out;
}

GgufValue GgufValue::make_packed_array(GgufType elem_type, std::vector<uint8_t> bytes) {
  const size_t size = gguf_packed_size(elem_type);
  if (size == 0 || bytes.size() % size != 0) {
    throw Error::field("<gguf value>", "packed array of " + std::string(gguf_type_name(elem_type)),
                       "a numeric or bool element type and a multiple of its size",
                       std::to_string(bytes.size()) + " bytes");
  }
  if (elem_type == GgufType::BOOL) {
    for (size_t k = 0; k < bytes.size(); ++k) {
      if (bytes[k] > 1) {
        throw Error::field("<gguf value>", "bool array element [" + std::to_string(k) + "]",
                           "0 or 1", std::to_string(bytes[k]));
      }
    }
  }
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.elem_type = elem_type;
  out.packed_ = std::move(bytes);
  return out;
}

size_t GgufValue::array_size() const {
  if (type != GgufType::ARRAY) return 0;
  if (elem_type == GgufType::STRING) return strings_.size();
  if (elem_type == GgufType::ARRAY) return arrays_.size();
  const size_t size = gguf_packed_size(elem_type);
  return size == 0 ? 0 : packed_.size() / size;
}

GgufValue GgufValue::array_at(size_t k) const {
  LATENT_CHECK_MSG(k < array_size(), "GgufValue::array_at index out of range");
  if (elem_type == GgufType::STRING) return make_str(strings_[k]);
  if (elem_type == GgufType::ARRAY) return arrays_[k];
  const size_t size = gguf_packed_size(elem_type);
  return decode_packed(elem_type, packed_.data() + k * size);
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::UINT8:
    case GgufType::INT8:
    case GgufType::UINT16:
    case GgufType::INT16:
    case GgufType::UINT32:
    case GgufType::INT32:
    case GgufType::UINT64:
    case GgufType::INT64:
      return true;
    default:
      return false;
  }
}

bool GgufValue::is_float() const {
  return type == GgufType::FLOAT32 || type == GgufType::FLOAT64;
}

std::string GgufValue::to_string() const {
  switch (type) {
    case GgufType::INT8:
    case GgufType::INT16:
    case GgufType::INT32:
    case GgufType::INT64:
      return std::to_string(i);
    case GgufType::UINT8:
    case GgufType::UINT16:
    case GgufType::UINT32:
    case GgufType::UINT64:
      return std::to_string(u);
    case GgufType::FLOAT32:
      return format_double(f, true);
    case GgufType::FLOAT64:
      return format_double(f, false);
    case GgufType::BOOL:
      return u ? "true" : "false";
    case GgufType::STRING:
      return quote(str);
    case GgufType::ARRAY:
      return "[array of " + std::to_string(array_size()) + " " +
             std::string(gguf_type_name(elem_type)) + "]";
  }
  return "<invalid type " + std::to_string(static_cast<uint32_t>(type)) + ">";
}

}  // namespace latent
