// The reader's memory bound: opening a GGUF allocates at most a small constant times the file's
// bytes, whatever the file claims. Measured with a counting global operator new (replaced for this
// test binary only; it forwards to malloc/free and counts only inside the measured window), so the
// number is every byte the reader requested, not a model of its containers.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <span>

#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "gguf_test_util.h"

namespace {

std::atomic<bool> g_counting{false};
std::atomic<uint64_t> g_bytes{0};

}  // namespace

// Every other form (array, nothrow) forwards to these in libstdc++ and libc++.
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) {
    g_bytes.fetch_add(n, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
// GCC flags free() inside a replaced operator delete once inlined next to a `new` (a false
// positive: the matching operator new above is malloc).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace latent {
namespace {

using test::RawGguf;

// Slack for the fixed costs of an open (path strings, hash-table buckets, a few kv entries).
constexpr uint64_t kFixedBytes = 64 << 10;

// Total bytes requested from operator new while opening `path` (an upper bound on the peak), or,
// when the open throws, while failing; `error` receives the message then.
uint64_t bytes_allocated_by_open(const std::string& path, std::string* error = nullptr) {
  g_bytes = 0;
  g_counting = true;
  try {
    GgufFile f = GgufFile::open(path);
    g_counting = false;
  } catch (const Error& e) {
    g_counting = false;
    if (!error) throw;
    *error = e.what();
  }
  return g_bytes.load();
}

uint64_t file_size(const std::string& path) {
  return GgufFile::open(path).file_size();
}

// A temp file removed when the test ends (these run to 120 MB).
struct TempFile {
  std::string path;
  ~TempFile() { std::remove(path.c_str()); }
};

TempFile write(const std::string& name, const GgufWriter& w) {
  TempFile t{test::temp_path(name)};
  w.write(t.path);
  return t;
}

TempFile write(const std::string& name, const RawGguf& g) {
  return TempFile{test::write_temp(name, g.b)};
}

TEST(GgufMemory, CounterSeesAllocations) {
  g_bytes = 0;
  g_counting = true;
  auto* v = new std::vector<uint8_t>(1000);
  g_counting = false;
  EXPECT_GE(g_bytes.load(), 1000u);
  delete v;
}

// Packed arrays cost their own bytes: the old one-GgufValue-per-element form made a u8 array cost
// ~100 bytes per byte of file.
TEST(GgufMemory, PackedArraysCostTheirFileBytes) {
  GgufWriter w;
  w.set("u8", GgufValue::make_packed_array(GgufType::UINT8, std::vector<uint8_t>(16 << 20, 7)));
  const TempFile file = write("mem_u8.gguf", w);
  const std::string& path = file.path;
  const uint64_t size = file_size(path);
  EXPECT_LE(bytes_allocated_by_open(path), size + kFixedBytes);

  std::vector<int64_t> big(2 << 20);
  for (size_t k = 0; k < big.size(); ++k) big[k] = -static_cast<int64_t>(k);
  GgufWriter w64;
  w64.set("i64", GgufValue::make_packed_array(GgufType::INT64, std::span<const int64_t>(big)));
  const TempFile file64 = write("mem_i64.gguf", w64);
  const std::string& path64 = file64.path;
  EXPECT_LE(bytes_allocated_by_open(path64), file_size(path64) + kFixedBytes);

  GgufFile f = GgufFile::open(path64);
  const GgufValue* v = f.find("i64");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->array_size(), big.size());
  EXPECT_EQ(v->array_at(12345).i, -12345);
  EXPECT_EQ(*f.get_int_array_opt("i64"), big);
}

// Strings: a std::string (32 bytes) per element for >= 8 bytes of file; empty strings are the worst
// case, 4x.
TEST(GgufMemory, StringArraysCostAtMostFourTimesTheirFileBytes) {
  GgufWriter w;
  w.set_str_array("empty", std::vector<std::string>(1 << 20));
  const TempFile file = write("mem_str_empty.gguf", w);
  const std::string& path = file.path;
  EXPECT_LE(bytes_allocated_by_open(path), 4 * file_size(path) + kFixedBytes);

  std::vector<std::string> texts(1 << 18);
  for (size_t k = 0; k < texts.size(); ++k) texts[k] = std::string(16 + k % 40, 'a');
  GgufWriter wt;
  wt.set_str_array("texts", texts);
  const TempFile file_t = write("mem_str_texts.gguf", wt);
  const std::string& path_t = file_t.path;
  EXPECT_LE(bytes_allocated_by_open(path_t), 4 * file_size(path_t) + kFixedBytes);
  EXPECT_EQ(*GgufFile::open(path_t).get_str_array_opt("texts"), texts);
}

// The shape: a file made mostly of one large u8 array, one large i64 array and one string
// array.
TEST(GgufMemory, MixedMetadataWithinFourTimesTheFile) {
  GgufWriter w;
  w.set_str("general.name", "hostile");
  w.set("u8", GgufValue::make_packed_array(GgufType::UINT8, std::vector<uint8_t>(8 << 20)));
  std::vector<int64_t> i64(1 << 20, -1);
  w.set("i64", GgufValue::make_packed_array(GgufType::INT64, std::span<const int64_t>(i64)));
  w.set_str_array("strs", std::vector<std::string>(1 << 19, "x"));
  const TempFile file = write("mem_mixed.gguf", w);
  const std::string& path = file.path;
  const uint64_t size = file_size(path);
  const uint64_t used = bytes_allocated_by_open(path);
  EXPECT_LE(used, 4 * size + kFixedBytes) << used << " bytes for a " << size << "-byte file";
}

// Tensor infos: >= 32 bytes of file each (+ name); the info and its index entry cost < 5x that. A
// count claimed by the header is charged only against the bytes left for the infos themselves.
TEST(GgufMemory, TensorInfosCostAtMostFiveTimesTheirFileBytes) {
  RawGguf g;
  g.header(1 << 16, 0);
  for (uint32_t k = 0; k < (1u << 16); ++k) {
    char name[5] = {};  // 4 letters: distinct for 26^4 > 2^16 tensors
    for (uint32_t d = 0, x = k; d < 4; ++d, x /= 26) name[d] = static_cast<char>('a' + x % 26);
    g.tensor(name, {0}, 0, 0);  // empty f32 tensors: no data section needed
  }
  g.pad();
  const TempFile file = write("mem_tensors.gguf", g);
  EXPECT_LE(bytes_allocated_by_open(file.path), 5 * g.b.size() + kFixedBytes);

  // A header claiming as many tensors as the whole file could hold, followed by 8 MB of empty
  // strings and then nothing: the strings cost 4x, the claimed tensors nothing more.
  GgufWriter w;
  w.set_str_array("empty", std::vector<std::string>(1 << 20));
  std::vector<uint8_t> bytes = w.to_bytes();
  const uint64_t claimed = (bytes.size() - 24) / 32;         // the most the header check allows
  std::memcpy(bytes.data() + 8, &claimed, sizeof(claimed));  // n_tensors
  RawGguf lying;
  lying.b.assign(bytes.begin(), bytes.end());
  std::string error;
  const uint64_t used = bytes_allocated_by_open(write("mem_lying.gguf", lying).path, &error);
  EXPECT_NE(error.find("tensor[0] name"), std::string::npos) << error;
  EXPECT_LE(used, 4 * bytes.size() + kFixedBytes);
}

// 10^7 empty arrays inside one array (120 MB of file) would be ~1.5 GB of GgufValues: the reader
// refuses more than kMaxNestedArrays before sizing anything.
TEST(GgufMemory, NestedArrayCountIsCapped) {
  const uint64_t n = 10'000'000;
  RawGguf g;
  g.header(0, 1).str("nest").u32(9).u32(9).u64(n).zeros(n * 12);  // each: u8 type, 0 elements
  std::string error;
  const uint64_t used = bytes_allocated_by_open(write("mem_nest.gguf", g).path, &error);
  EXPECT_NE(error.find("kv[0] 'nest' array length"), std::string::npos) << error;
  EXPECT_NE(error.find("at most 65536 arrays nested in arrays per file"), std::string::npos)
      << error;
  EXPECT_NE(error.find("found 10000000"), std::string::npos) << error;
  EXPECT_LE(used, kFixedBytes);

  // At the cap it opens, within a per-array constant; the cap is per file, not per key.
  RawGguf at_cap;
  at_cap.header(0, 1).str("nest").u32(9).u32(9).u64(65536).zeros(65536 * 12);
  const TempFile file = write("mem_nest_cap.gguf", at_cap);
  const std::string& path = file.path;
  EXPECT_LE(bytes_allocated_by_open(path), 65536 * sizeof(GgufValue) + kFixedBytes);
  EXPECT_EQ(GgufFile::open(path).find("nest")->array_size(), 65536u);

  RawGguf split;
  split.header(0, 2);
  split.str("a").u32(9).u32(9).u64(40000).zeros(40000 * 12);
  split.str("b").u32(9).u32(9).u64(40000).zeros(40000 * 12);
  test::expect_gguf_error("mem_nest_split.gguf", split.b,
                          {"kv[1] 'b' array length", "(25536 left)", "found 40000"});
}

// Keys cost ~250 bytes of reader memory each for as little as 13 bytes of file: n_kv is capped.
TEST(GgufMemory, KeyCountIsCapped) {
  RawGguf over;
  over.header(0, 65537).zeros(65537 * 13);
  test::expect_gguf_error(
      "mem_kv_over.gguf", over.b,
      {": n_kv:", "expected at most 65536 (the reader's limit)", "found 65537"});

  RawGguf at_cap;
  at_cap.header(0, 65536);
  for (uint32_t k = 0; k < 65536; ++k) {
    std::string key = "k";  // append, not operator+: GCC 12 -O3 warns falsely (-Wrestrict)
    key += std::to_string(k);
    at_cap.str(key).u32(0).put<uint8_t>(1);
  }
  const TempFile file = write("mem_kv_cap.gguf", at_cap);
  const std::string& path = file.path;
  const uint64_t used = bytes_allocated_by_open(path);
  EXPECT_LE(used, 65536 * 320 + kFixedBytes) << used;
  EXPECT_EQ(GgufFile::open(path).metadata().size(), 65536u);
}

}  // namespace
}  // namespace latent
