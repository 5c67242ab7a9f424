// GgufFile::open: header, metadata, tensor infos and data-section validation (layout per the gguf
// spec, llama.cpp docs/gguf.md; checks modelled on ggml/src/gguf.cpp's gguf_init_from_file_impl,
// stricter on overlap and bounds). Typed metadata getters live in gguf_getters.cpp, value decoding
// in gguf_parse.cpp.
#include "gguf/gguf_reader.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "base/error.h"
#include "gguf/gguf_parse.h"

namespace latent {

using gguf_detail::Cursor;

namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr const char* kAlignmentKey = "general.alignment";

std::string hex_bytes(const uint8_t* p, size_t n) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (size_t k = 0; k < n; ++k) {
    if (k) s += ' ';
    s += kHex[p[k] >> 4];
    s += kHex[p[k] & 15];
  }
  return s;
}

uint32_t read_version(Cursor& cur) {
  uint32_t version = cur.read<uint32_t>([] { return std::string("version"); });
  if (version == 2 || version == 3) return version;
  std::string found = std::to_string(version);
  if (version == 1) {
    found += " (GGUF v1 is no longer supported)";
  } else if (version != 0 && (version & 0xFFFF) == 0) {
    found += " (byte-swapped: a big-endian file?)";
  }
  throw Error::field(cur.path(), "version", "2 or 3", found);
}

std::string quoted(std::string_view s) {
  std::string out = "'";  // append, not operator+: GCC 12 -O3 warns falsely (-Wrestrict)
  out.append(s).append("'");
  return out;
}

// Reads one tensor info (name, n_dims, ne[], type, offset) and validates everything that does not
// depend on the data section: dims, overflow, type id, block multiple, alignment of the offset.
GgufTensorInfo read_tensor_info(Cursor& cur, uint64_t idx, uint64_t alignment) {
  const std::string& path = cur.path();
  const std::string at = "tensor[" + std::to_string(idx) + "]";
  GgufTensorInfo info;
  info.name = cur.read_string([&] { return at + " name"; });
  const std::string field = "tensor " + quoted(info.name);

  uint32_t n_dims = cur.read<uint32_t>([&] { return field + " n_dims"; });
  if (n_dims == 0 || n_dims > 4) {
    throw Error::field(path, field + " n_dims", "1..4", std::to_string(n_dims));
  }
  info.n_dims = static_cast<int>(n_dims);
  int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is innermost
  int64_t numel = 1;
  for (uint32_t j = 0; j < n_dims; ++j) {
    auto dim_field = [&] { return field + " ne[" + std::to_string(j) + "]"; };  // errors only
    ne[j] = cur.read<int64_t>(dim_field);
    if (ne[j] < 0) throw Error::field(path, dim_field(), ">= 0", std::to_string(ne[j]));
    if (ne[j] != 0 && numel > std::numeric_limits<int64_t>::max() / ne[j]) {
      throw Error::field(path, field + " element count", "a product of dims that fits int64",
                         "overflow at " + dim_field() + " = " + std::to_string(ne[j]));
    }
    numel *= ne[j];
  }
  for (uint32_t j = 0; j < n_dims; ++j) info.shape[n_dims - 1 - j] = ne[j];

  uint32_t type_id = cur.read<uint32_t>([&] { return field + " type"; });
  auto traits = dtype_traits(type_id);
  if (!traits) throw Error::field(path, field + " type", "a ggml type id", std::to_string(type_id));
  info.dtype = static_cast<DType>(type_id);
  if (ne[0] % traits->block_size != 0) {
    throw Error::field(path, field + " ne[0] (innermost dim)",
                       "a multiple of " + std::to_string(traits->block_size) + " (block size of " +
                           std::string(traits->name) + ")",
                       std::to_string(ne[0]));
  }
  int64_t blocks = numel / traits->block_size;
  if (blocks > std::numeric_limits<int64_t>::max() / traits->type_size) {
    throw Error::field(
        path, field + " byte size", "a size that fits int64",
        std::to_string(blocks) + " blocks of " + std::to_string(traits->type_size) + " bytes");
  }
  info.nbytes = static_cast<uint64_t>(blocks * traits->type_size);

  info.offset = cur.read<uint64_t>([&] { return field + " offset"; });
  if (info.offset % alignment != 0) {
    throw Error::field(path, field + " offset",
                       "a multiple of the alignment " + std::to_string(alignment),
                       std::to_string(info.offset));
  }
  return info;
}

// Every tensor's bytes must lie inside the data section, and no two tensors may share a byte.
void validate_data_layout(const std::string& path, const std::vector<GgufTensorInfo>& tensors,
                          uint64_t data_size) {
  for (const auto& t : tensors) {
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      throw Error::field(path, "tensor " + quoted(t.name) + " data",
                         "offset + size <= " + std::to_string(data_size) +
                             " (data section size; the file ends there)",
                         "offset " + std::to_string(t.offset) + " + size " +
                             std::to_string(t.nbytes) + " (past the end of the file)");
    }
  }
  std::vector<size_t> order(tensors.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors[a].offset < tensors[b].offset; });
  const GgufTensorInfo* prev = nullptr;  // the non-empty tensor ending last so far
  for (size_t k : order) {
    const GgufTensorInfo& t = tensors[k];
    if (t.nbytes == 0) continue;
    if (prev && t.offset < prev->offset + prev->nbytes) {
      throw Error::field(path, "tensor " + quoted(t.name) + " offset",
                         ">= " + std::to_string(prev->offset + prev->nbytes) + " (end of tensor " +
                             quoted(prev->name) + ", no overlap)",
                         std::to_string(t.offset));
    }
    if (!prev || t.offset + t.nbytes > prev->offset + prev->nbytes) prev = &t;
  }
}

}  // namespace

GgufFile GgufFile::open(const std::string& path) {
  GgufFile g;
  g.file_ = MappedFile(path);
  const std::string& p = g.file_.path();
  Cursor cur(p, g.file_.data(), g.file_.size());

  cur.need(4, [] { return std::string("magic"); });
  if (std::memcmp(g.file_.data(), "GGUF", 4) != 0) {
    throw Error::field(p, "magic", "\"GGUF\" (47 47 55 46)", hex_bytes(g.file_.data(), 4));
  }
  cur.read<uint32_t>([] { return std::string("magic"); });
  g.version_ = read_version(cur);
  uint64_t n_tensors = cur.read<uint64_t>([] { return std::string("n_tensors"); });
  uint64_t n_kv = cur.read<uint64_t>([] { return std::string("n_kv"); });
  cur.check_count(n_tensors, gguf_detail::kMinTensorInfoBytes,
                  [] { return std::string("n_tensors"); });
  cur.check_count(n_kv, gguf_detail::kMinKvBytes, [] { return std::string("n_kv"); });
  if (n_kv > gguf_detail::kMaxKv) {
    throw Error::field(p, "n_kv",
                       "at most " + std::to_string(gguf_detail::kMaxKv) + " (the reader's limit)",
                       std::to_string(n_kv));
  }

  g.kv_.reserve(static_cast<size_t>(n_kv));
  g.kv_index_.reserve(static_cast<size_t>(n_kv));
  for (uint64_t k = 0; k < n_kv; ++k) {
    const std::string at = "kv[" + std::to_string(k) + "]";
    std::string key = cur.read_string([&] { return at + " key"; });
    if (key.empty()) throw Error::field(p, at + " key", "a non-empty key", "\"\"");
    auto [it, inserted] = g.kv_index_.emplace(key, static_cast<size_t>(k));
    if (!inserted) {
      throw Error::field(p, at + " key", "a unique key",
                         quoted(key) + " (also kv[" + std::to_string(it->second) + "])");
    }
    gguf_detail::ValuePath vpath;
    vpath.kv = k;
    vpath.key = it->first;
    uint32_t type_id = cur.read<uint32_t>([&] { return vpath.name() + " type"; });
    if (!gguf_detail::is_known_type(type_id)) {
      throw Error::field(p, vpath.name() + " type", "a GGUF value type id 0..12",
                         std::to_string(type_id));
    }
    GgufValue v = gguf_detail::read_value(cur, static_cast<GgufType>(type_id), vpath);
    g.kv_.emplace_back(std::move(key), std::move(v));
  }

  if (auto it = g.kv_index_.find(kAlignmentKey); it != g.kv_index_.end()) {
    const GgufValue& v = g.kv_[it->second].second;
    const std::string field = "kv[" + std::to_string(it->second) + "] '" + kAlignmentKey + "'";
    if (v.type != GgufType::UINT32) {
      throw Error::field(p, field + " type", "uint32", std::string(gguf_type_name(v.type)));
    }
    if (v.u == 0 || (v.u & (v.u - 1)) != 0) {
      throw Error::field(p, field, "a nonzero power of two", std::to_string(v.u));
    }
    g.alignment_ = v.u;
  } else {
    g.alignment_ = kDefaultAlignment;
  }

  // n_tensors was bounded by the file size above; a truncated info is reported where it ends. Only
  // as many as the bytes after the metadata can hold are reserved, so that a file's metadata bytes
  // are not also charged for tensor infos.
  const uint64_t fit = std::min(n_tensors, cur.remaining() / gguf_detail::kMinTensorInfoBytes);
  g.tensors_.reserve(static_cast<size_t>(fit));
  g.tensor_index_.reserve(static_cast<size_t>(fit));
  for (uint64_t t = 0; t < n_tensors; ++t) {
    GgufTensorInfo info = read_tensor_info(cur, t, g.alignment_);
    auto [it, inserted] = g.tensor_index_.emplace(info.name, static_cast<size_t>(t));
    if (!inserted) {
      throw Error::field(p, "tensor[" + std::to_string(t) + "] name", "a unique name",
                         quoted(info.name) + " (also tensor[" + std::to_string(it->second) + "])");
    }
    g.tensors_.push_back(std::move(info));
  }

  // The data section starts at the next multiple of the alignment (cur.pos() <= file size, so no
  // overflow). A vocab-only file (no tensors) may end right after its metadata.
  const uint64_t size = g.file_.size();
  g.data_offset_ = (cur.pos() + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  if (n_tensors == 0) return g;
  if (g.data_offset_ > size) {
    throw Error::field(p, "data section start",
                       "padding up to offset " + std::to_string(g.data_offset_),
                       "end of file at " + std::to_string(size));
  }
  validate_data_layout(p, g.tensors_, size - g.data_offset_);
  return g;
}

}  // namespace latent
