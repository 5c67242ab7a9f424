// Metadata value decoding for the GGUF reader (gguf spec, "Standardized key-value pairs" /
// gguf_type): scalars, strings, and arrays of any element type including arrays (nesting bounded by
// kMaxArrayDepth, total count by kMaxNestedArrays). Every count is bounded by the bytes left before
// a container is sized; arrays are stored compactly (gguf_value.h).
#include "gguf/gguf_parse.h"

#include <utility>
#include <vector>

namespace latent::gguf_detail {

bool is_known_type(uint32_t id) {
  return id <= static_cast<uint32_t>(GgufType::FLOAT64);
}

uint64_t min_encoded_size(GgufType type) {
  if (type == GgufType::STRING) return 8;     // the length
  if (type == GgufType::ARRAY) return 4 + 8;  // element type and count
  return gguf_packed_size(type);              // scalars: their width
}

void Cursor::truncated(const std::string& field, uint64_t n) const {
  throw Error::field(path_, field, std::to_string(n) + " bytes at offset " + std::to_string(pos_),
                     "end of file after " + std::to_string(remaining()) + " bytes (file size " +
                         std::to_string(size_) + ")");
}

std::string ValuePath::name() const {
  // Appends instead of operator+ chains: GCC 12 -O3 emits a false -Wrestrict for those.
  std::string s = "kv[";
  s.append(std::to_string(kv)).append("] '").append(key).append("'");
  for (int d = 0; d < depth; ++d) s.append("[").append(std::to_string(index[d])).append("]");
  return s;
}

namespace {

template <class T>
T read_raw(Cursor& cur, const ValuePath& path) {
  return cur.read<T>([&] { return path.name(); });
}

// `count` packed elements of elem_type: one copy of their bytes (bools checked to be 0 or 1).
GgufValue read_packed_array(Cursor& cur, GgufType elem_type, uint64_t count, ValuePath& path) {
  const uint64_t n = count * gguf_packed_size(elem_type);  // check_count bounded it by the file
  const uint8_t* p = cur.take(n, [&] { return path.name() + " array data"; });
  if (elem_type == GgufType::BOOL) {
    for (uint64_t k = 0; k < count; ++k) {
      if (p[k] > 1) {
        path.index[path.depth++] = k;
        throw Error::field(cur.path(), path.name() + " bool", "0 or 1", std::to_string(p[k]));
      }
    }
  }
  return GgufValue::make_packed_array(elem_type, std::vector<uint8_t>(p, p + n));
}

GgufValue read_array(Cursor& cur, ValuePath& path) {
  auto elem_id = read_raw<uint32_t>(cur, path);
  if (!is_known_type(elem_id)) {
    throw Error::field(cur.path(), path.name() + " array element type",
                       "a GGUF value type id 0..12", std::to_string(elem_id));
  }
  auto elem_type = static_cast<GgufType>(elem_id);
  if (elem_type == GgufType::ARRAY && path.depth + 1 >= kMaxArrayDepth) {
    throw Error::field(cur.path(), path.name() + " array nesting depth",
                       "at most " + std::to_string(kMaxArrayDepth), "deeper nesting");
  }
  auto count = cur.read<uint64_t>([&] { return path.name() + " array length"; });
  cur.check_count(count, min_encoded_size(elem_type),
                  [&] { return path.name() + " array length"; });
  if (gguf_packed_size(elem_type) != 0) return read_packed_array(cur, elem_type, count, path);

  if (elem_type == GgufType::ARRAY) {
    cur.take_nested_arrays(count, [&] { return path.name() + " array length"; });
  }
  ++path.depth;
  GgufValue out;
  if (elem_type == GgufType::STRING) {
    // 32 bytes per string (+ len + 1 past 15 chars) for 8 + len bytes of file.
    std::vector<std::string> strs;
    strs.reserve(static_cast<size_t>(count));
    for (uint64_t k = 0; k < count; ++k) {
      path.index[path.depth - 1] = k;
      strs.push_back(cur.read_string([&] { return path.name() + " string"; }));
    }
    out = GgufValue::make_str_array(std::move(strs));
  } else {
    std::vector<GgufValue> elems;
    elems.reserve(static_cast<size_t>(count));
    for (uint64_t k = 0; k < count; ++k) {
      path.index[path.depth - 1] = k;
      elems.push_back(read_array(cur, path));
    }
    out = GgufValue::make_array(GgufType::ARRAY, std::move(elems));
  }
  --path.depth;
  return out;
}

}  // namespace

GgufValue read_value(Cursor& cur, GgufType type, ValuePath& path) {
  switch (type) {
    case GgufType::UINT8:
      return GgufValue::make_u8(read_raw<uint8_t>(cur, path));
    case GgufType::INT8:
      return GgufValue::make_i8(read_raw<int8_t>(cur, path));
    case GgufType::UINT16:
      return GgufValue::make_u16(read_raw<uint16_t>(cur, path));
    case GgufType::INT16:
      return GgufValue::make_i16(read_raw<int16_t>(cur, path));
    case GgufType::UINT32:
      return GgufValue::make_u32(read_raw<uint32_t>(cur, path));
    case GgufType::INT32:
      return GgufValue::make_i32(read_raw<int32_t>(cur, path));
    case GgufType::UINT64:
      return GgufValue::make_u64(read_raw<uint64_t>(cur, path));
    case GgufType::INT64:
      return GgufValue::make_i64(read_raw<int64_t>(cur, path));
    case GgufType::FLOAT32:
      return GgufValue::make_f32(read_raw<float>(cur, path));
    case GgufType::FLOAT64:
      return GgufValue::make_f64(read_raw<double>(cur, path));
    case GgufType::BOOL: {
      auto b = read_raw<uint8_t>(cur, path);
      if (b > 1) {
        throw Error::field(cur.path(), path.name() + " bool", "0 or 1", std::to_string(b));
      }
      return GgufValue::make_bool(b != 0);
    }
    case GgufType::STRING:
      return GgufValue::make_str(cur.read_string([&] { return path.name() + " string"; }));
    case GgufType::ARRAY:
      return read_array(cur, path);
  }
  throw Error::field(cur.path(), path.name() + " type", "a GGUF value type id 0..12",
                     std::to_string(static_cast<uint32_t>(type)));
}

}  // namespace latent::gguf_detail
