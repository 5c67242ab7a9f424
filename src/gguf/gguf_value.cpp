// GgufValue constructors, type predicates and the short human-readable form used in error messages
// and `latent info`. Plain data only: parsing lives in gguf_parse.cpp, encoding in gguf_writer.cpp.
#include "gguf/gguf_value.h"

#include <cstdio>
#include <utility>

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

GgufValue GgufValue::make_array(GgufType elem_type, std::vector<GgufValue> elems) {
  GgufValue out;
  out.type = GgufType::ARRAY;
  out.elem_type = elem_type;
  out.arr = std::move(elems);
  return out;
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
      return "[array of " + std::to_string(arr.size()) + " " +
             std::string(gguf_type_name(elem_type)) + "]";
  }
  return "<invalid type " + std::to_string(static_cast<uint32_t>(type)) + ">";
}

}  // namespace latent
