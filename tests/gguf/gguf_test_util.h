// Test helpers for the gguf layer: RawGguf builds GGUF bytes field by field (so tests can write
// files the GgufWriter would refuse to), and expect_gguf_error checks that opening fails with a
// latent::Error whose message names the file, the field, the expected and the found value.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "base/error.h"
#include "common/testdata.h"
#include "gguf/gguf_reader.h"

namespace latent::test {

struct RawGguf {
  std::string b;

  template <class T>
  RawGguf& put(T v) {
    char tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.append(tmp, sizeof(T));
    return *this;
  }
  RawGguf& u32(uint32_t v) { return put(v); }
  RawGguf& u64(uint64_t v) { return put(v); }
  RawGguf& i64(int64_t v) { return put(v); }
  RawGguf& str(const std::string& s) {
    u64(s.size());
    b += s;
    return *this;
  }
  RawGguf& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    b += "GGUF";
    return u32(version).u64(n_tensors).u64(n_kv);
  }
  RawGguf& kv_u32(const std::string& key, uint32_t v) { return str(key).u32(4).u32(v); }
  RawGguf& kv_str(const std::string& key, const std::string& v) { return str(key).u32(8).str(v); }
  // dims in ggml order (innermost first), as stored in the file.
  RawGguf& tensor(const std::string& name, std::initializer_list<int64_t> ne, uint32_t type,
                  uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (int64_t d : ne) i64(d);
    return u32(type).u64(offset);
  }
  RawGguf& pad(size_t alignment = 32) {
    while (b.size() % alignment) b.push_back('\0');
    return *this;
  }
  RawGguf& zeros(size_t n) {
    b.append(n, '\0');
    return *this;
  }
};

// Writes bytes to a fresh temp file named `name` and returns its path.
inline std::string write_temp(const std::string& name, const std::string& bytes) {
  std::string path = temp_path(name);
  write_file(path, bytes);
  return path;
}

// Opening `bytes` must throw latent::Error mentioning the file path and every one of `parts`.
inline void expect_gguf_error(const std::string& name, const std::string& bytes,
                              std::initializer_list<std::string> parts) {
  std::string path = write_temp(name, bytes);
  try {
    GgufFile::open(path);
    ADD_FAILURE() << name << ": opened without error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(path), std::string::npos) << "no file in: " << msg;
    for (const auto& part : parts) {
      EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << name << ": wrong exception type: " << e.what();
  }
}

}  // namespace latent::test
