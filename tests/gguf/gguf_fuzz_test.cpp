// Deterministic mutation fuzzing of GgufFile::open: every truncation length of a small writer-made
// file and of stories260K's header region (plus sampled lengths in its data), and seeded random
// byte flips, overwrites with boundary values, insertions and deletions. Each mutant must open or
// throw latent::Error: never crash, never another exception type. A mutant that opens is read end
// to end.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"

namespace latent {
namespace {

struct Tally {
  int ok = 0;
  int error = 0;
  int wrong = 0;  // anything but success or latent::Error
};

// Opens path; on success touches every value and the first and last byte of every tensor (so a bad
// view shows up under the sanitizers). Any exception other than latent::Error fails the test.
void open_one(const std::string& path, const std::string& what, Tally* tally) {
  try {
    GgufFile f = GgufFile::open(path);
    size_t sink = 0;
    for (const auto& [key, value] : f.metadata()) sink += key.size() + value.to_string().size();
    for (const auto& info : f.tensors()) {
      TensorView v = f.view(info);
      if (info.nbytes == 0) continue;
      const auto* p = static_cast<const uint8_t*>(v.data);
      sink += p[0] + p[info.nbytes - 1] + static_cast<size_t>(v.nbytes());
    }
    EXPECT_GT(sink + 1, 0u);
    ++tally->ok;
  } catch (const Error&) {
    ++tally->error;
  } catch (const std::exception& e) {
    ++tally->wrong;
    ADD_FAILURE() << what << ": exception other than latent::Error: " << e.what();
  } catch (...) {
    ++tally->wrong;
    ADD_FAILURE() << what << ": non-std exception";
  }
}

// A small file with every kind of value and a few tensors (F32, Q8_0 raw, 3-D).
std::string small_file() {
  GgufWriter w;
  w.set_str("general.architecture", "llama");
  w.set_u32("general.alignment", 16);
  w.set("u8", GgufValue::make_u8(7));
  w.set("i64", GgufValue::make_i64(-5));
  w.set("f64", GgufValue::make_f64(2.5));
  w.set_bool("flag", true);
  w.set_str_array("tokens", {"a", "bb", "", "dddd"});
  w.set_f32_array("scores", {0.5f, -1.0f});
  w.set_i32_array("types", {1, 2, 3});
  w.set("nested", GgufValue::make_array(
                      GgufType::ARRAY,
                      {GgufValue::make_array(GgufType::UINT16, {GgufValue::make_u16(9)}),
                       GgufValue::make_array(GgufType::STRING, {GgufValue::make_str("z")})}));
  w.add_tensor_f32("a", DType::F32, {3, 4}, std::vector<float>(12, 1.0f));
  w.add_tensor("q", DType::Q8_0, {1, 32}, std::vector<uint8_t>(34, 3));
  w.add_tensor_f32("c", DType::F32, {2, 1, 3}, std::vector<float>(6, -2.0f));
  auto bytes = w.to_bytes();
  return std::string(bytes.begin(), bytes.end());
}

class FileUnderTest {
 public:
  FileUnderTest(const std::string& path, const std::string& bytes) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    EXPECT_GE(fd_, 0) << path;
    write_at(0, bytes);
  }
  ~FileUnderTest() { ::close(fd_); }
  void write_at(size_t pos, const std::string& bytes) {
    EXPECT_EQ(::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(pos)),
              static_cast<ssize_t>(bytes.size()));
  }
  void truncate(size_t len) { EXPECT_EQ(::ftruncate(fd_, static_cast<off_t>(len)), 0); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Bytes that hit boundary cases when they land on a count, a length, a type id or a dim.
std::string boundary_word(std::mt19937_64& rng) {
  static const uint64_t kValues[] = {0,          1,          2,          3,
                                     4,          9,          12,         13,
                                     31,         32,         0x7f,       0xff,
                                     0x100,      0xffff,     0x7fffffff, 0x80000000,
                                     0xffffffff, 1ull << 32, 1ull << 62, 0x7fffffffffffffffull,
                                     1ull << 63, ~0ull};
  uint64_t v = kValues[rng() % std::size(kValues)];
  size_t width = (rng() % 2) ? 8 : 4;
  return std::string(reinterpret_cast<const char*>(&v), width);
}

// One random mutation of `bytes` confined to [0, limit).
std::string mutate(const std::string& bytes, size_t limit, std::mt19937_64& rng) {
  std::string m = bytes;
  size_t pos = rng() % limit;
  switch (rng() % 5) {
    case 0:
      m[pos] = static_cast<char>(rng());
      break;
    case 1:
      m[pos] = static_cast<char>(m[pos] ^ (1 << (rng() % 8)));
      break;
    case 2: {
      std::string w = boundary_word(rng);
      m.replace(pos, std::min(w.size(), m.size() - pos), w.substr(0, m.size() - pos));
      break;
    }
    case 3:
      m.insert(pos, 1 + rng() % 8, static_cast<char>(rng()));
      break;
    default:
      m.erase(pos, 1 + rng() % 8);
      break;
  }
  return m;
}

TEST(GgufFuzz, SmallFileEveryTruncationAndRandomMutations) {
  const std::string bytes = small_file();
  size_t data_end = 0;  // the last tensor's end; only its trailing padding may be cut
  {
    std::string path = test::temp_path("fuzz_small_ok.gguf");
    test::write_file(path, bytes);
    GgufFile f = GgufFile::open(path);  // the unmutated file is valid
    ASSERT_EQ(f.tensors().size(), 3u);
    for (const auto& t : f.tensors()) {
      data_end = std::max<size_t>(data_end, f.data_offset() + t.offset + t.nbytes);
    }
  }
  Tally tally;
  FileUnderTest file(test::temp_path("fuzz_small.gguf"), bytes);
  for (size_t len = bytes.size(); len-- > 0;) {
    file.truncate(len);
    open_one(file.path(), "truncated to " + std::to_string(len), &tally);
  }
  EXPECT_EQ(tally.ok, static_cast<int>(bytes.size() - data_end));

  std::mt19937_64 rng(20261123);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string m = mutate(bytes, bytes.size(), rng);
    if (rng() % 4 == 0) m = mutate(m, m.size(), rng);
    file.write_at(0, m);  // no truncate to 0: ext4 would flush the file on every rewrite
    file.truncate(m.size());
    open_one(file.path(), "small mutation " + std::to_string(iter), &tally);
    if (tally.wrong > 10) break;
  }
  EXPECT_GT(tally.ok, 100);  // data-byte mutations still open; the fuzz reaches both outcomes
  EXPECT_GT(tally.error, 1000);
}

TEST(GgufFuzz, Stories260KTruncationsAndHeaderMutations) {
  const std::string bytes =
      test::read_file(test::testdata_path("models/stories260K/stories260K.gguf"));
  const size_t header =
      GgufFile::open(test::testdata_path("models/stories260K/stories260K.gguf")).data_offset();
  ASSERT_GT(header, 1000u);
  ASSERT_LT(header, bytes.size());
  Tally tally;
  {
    FileUnderTest file(test::temp_path("fuzz_stories_trunc.gguf"), bytes);
    // 64 sampled lengths in the data region (descending), then every length of the header region.
    std::mt19937_64 rng(7);
    std::vector<size_t> lengths;
    for (int k = 0; k < 64; ++k)
      lengths.push_back(header + 1 + rng() % (bytes.size() - header - 1));
    std::sort(lengths.rbegin(), lengths.rend());
    for (size_t len : lengths) {
      file.truncate(len);
      open_one(file.path(), "stories truncated to " + std::to_string(len), &tally);
    }
    for (size_t len = header + 1; len-- > 0;) {
      file.truncate(len);
      open_one(file.path(), "stories truncated to " + std::to_string(len), &tally);
      if (tally.wrong > 10) break;
    }
  }
  EXPECT_EQ(tally.ok, 0);

  // In-place mutations of the header region; insertions/deletions rotate bytes within the region so
  // the file keeps its size. Each mutation is undone before the next.
  FileUnderTest file(test::temp_path("fuzz_stories_mut.gguf"), bytes);
  const std::string head = bytes.substr(0, header);
  std::mt19937_64 rng(260);
  for (int iter = 0; iter < 3000; ++iter) {
    std::string m = mutate(head, head.size(), rng);
    m.resize(header, '\0');
    file.write_at(0, m);
    open_one(file.path(), "stories mutation " + std::to_string(iter), &tally);
    file.write_at(0, head);
    if (tally.wrong > 10) break;
  }
  EXPECT_GT(tally.ok, 50);
  EXPECT_GT(tally.error, 1000);
}

}  // namespace
}  // namespace latent
