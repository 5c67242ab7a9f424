// Writer -> reader round trips: every metadata value type (nested and empty arrays, empty strings),
// GGUF v2 and v3, custom alignments, tensors of 1..4 dims (shape order, offsets, bytes), and the
// typed getters' widening and type errors. Malformed-file errors are in gguf_errors_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <span>

#include "base/check.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "gguf_test_util.h"
#include "tensor/quant.h"

namespace latent {
namespace {

using test::temp_path;

void expect_same(const GgufValue& a, const GgufValue& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  switch (a.type) {
    case GgufType::STRING:
      EXPECT_EQ(a.str, b.str) << where;
      break;
    case GgufType::FLOAT32:
    case GgufType::FLOAT64:
      EXPECT_EQ(std::memcmp(&a.f, &b.f, sizeof(double)), 0)
          << where << ": " << a.f << " vs " << b.f;
      break;
    case GgufType::ARRAY:
      ASSERT_EQ(a.elem_type, b.elem_type) << where;
      ASSERT_EQ(a.array_size(), b.array_size()) << where;
      for (size_t k = 0; k < a.array_size(); ++k) {
        expect_same(a.array_at(k), b.array_at(k), where + "[" + std::to_string(k) + "]");
      }
      break;
    default:
      EXPECT_EQ(a.i, b.i) << where;
      EXPECT_EQ(a.u, b.u) << where;
  }
}

// "t<k>"; appends instead of operator+: GCC 12 -O3 warns falsely (-Wrestrict) on that.
std::string tensor_name(size_t k) {
  std::string name = "t";
  return name.append(std::to_string(k));
}

GgufValue arr(GgufType t, std::vector<GgufValue> v) {
  return GgufValue::make_array(t, std::move(v));
}

std::vector<std::pair<std::string, GgufValue>> all_values() {
  using V = GgufValue;
  std::vector<std::pair<std::string, GgufValue>> kv = {
      {"u8", V::make_u8(255)},
      {"i8", V::make_i8(-128)},
      {"u16", V::make_u16(65535)},
      {"i16", V::make_i16(-32768)},
      {"u32", V::make_u32(4294967295u)},
      {"i32", V::make_i32(std::numeric_limits<int32_t>::min())},
      {"u64", V::make_u64(std::numeric_limits<uint64_t>::max())},
      {"i64", V::make_i64(std::numeric_limits<int64_t>::min())},
      {"f32", V::make_f32(-1.5e-7f)},
      {"f32.nan", V::make_f32(std::numeric_limits<float>::quiet_NaN())},
      {"f64", V::make_f64(3.141592653589793)},
      {"bool.t", V::make_bool(true)},
      {"bool.f", V::make_bool(false)},
      {"str", V::make_str("h\xc3\xa9llo \xe2\x96\x81world")},
      {"str.empty", V::make_str("")},
      {"str.nul", V::make_str(std::string("a\0b", 3))},
      {"arr.u8", arr(GgufType::UINT8, {V::make_u8(0), V::make_u8(200)})},
      {"arr.i8", arr(GgufType::INT8, {V::make_i8(-1)})},
      {"arr.u16", arr(GgufType::UINT16, {V::make_u16(1), V::make_u16(2)})},
      {"arr.i16", arr(GgufType::INT16, {V::make_i16(-2)})},
      {"arr.u32", arr(GgufType::UINT32, {V::make_u32(7)})},
      {"arr.i32", arr(GgufType::INT32, {V::make_i32(-7), V::make_i32(9)})},
      {"arr.u64", arr(GgufType::UINT64, {V::make_u64(1ull << 40)})},
      {"arr.i64", arr(GgufType::INT64, {V::make_i64(-(1ll << 40))})},
      {"arr.f32", arr(GgufType::FLOAT32, {V::make_f32(0.25f), V::make_f32(-0.0f)})},
      {"arr.f64", arr(GgufType::FLOAT64, {V::make_f64(1e300)})},
      {"arr.bool", arr(GgufType::BOOL, {V::make_bool(true), V::make_bool(false)})},
      {"arr.str", arr(GgufType::STRING, {V::make_str("a"), V::make_str(""), V::make_str("ccc")})},
      {"arr.empty.u32", arr(GgufType::UINT32, {})},
      {"arr.empty.str", arr(GgufType::STRING, {})},
      {"arr.empty.arr", arr(GgufType::ARRAY, {})},
  };
  // Arrays of arrays: [[1, 2], [], [3]], [["x"], []], and a 4-deep nesting.
  kv.emplace_back(
      "arr.arr.i32",
      arr(GgufType::ARRAY, {arr(GgufType::INT32, {V::make_i32(1), V::make_i32(2)}),
                            arr(GgufType::INT32, {}), arr(GgufType::INT32, {V::make_i32(3)})}));
  kv.emplace_back("arr.arr.str", arr(GgufType::ARRAY, {arr(GgufType::STRING, {V::make_str("x")}),
                                                       arr(GgufType::STRING, {})}));
  GgufValue deep = arr(GgufType::FLOAT64, {V::make_f64(2.5)});
  for (int d = 0; d < 3; ++d) deep = arr(GgufType::ARRAY, {deep, arr(deep.elem_type, {})});
  kv.emplace_back("arr.deep", deep);
  return kv;
}

TEST(GgufRoundTrip, EveryValueTypeV2AndV3) {
  for (uint32_t version : {2u, 3u}) {
    GgufWriter w;
    w.set_version(version);
    auto kv = all_values();
    for (const auto& [k, v] : kv) w.set(k, v);
    std::string path = temp_path("values_v" + std::to_string(version) + ".gguf");
    w.write(path);
    GgufFile f = GgufFile::open(path);
    EXPECT_EQ(f.version(), version);
    EXPECT_TRUE(f.tensors().empty());
    ASSERT_EQ(f.metadata().size(), kv.size());
    for (size_t k = 0; k < kv.size(); ++k) {
      EXPECT_EQ(f.metadata()[k].first, kv[k].first);  // file order is insertion order
      expect_same(f.metadata()[k].second, kv[k].second, kv[k].first);
      ASSERT_NE(f.find(kv[k].first), nullptr);
    }
    EXPECT_EQ(f.find("absent"), nullptr);
  }
}

TEST(GgufRoundTrip, ToBytesEqualsWrittenFileAndSetReplacesInPlace) {
  GgufWriter w;
  w.set_u32("a", 1);
  w.set_str("b", "x");
  w.set_u32("a", 2);  // replaces, keeps position
  std::string path = temp_path("replace.gguf");
  w.write(path);
  auto bytes = w.to_bytes();
  EXPECT_EQ(test::read_file(path), std::string(bytes.begin(), bytes.end()));
  GgufFile f = GgufFile::open(path);
  ASSERT_EQ(f.metadata().size(), 2u);
  EXPECT_EQ(f.metadata()[0].first, "a");
  EXPECT_EQ(f.get_u32("a"), 2u);
}

TEST(GgufRoundTrip, RejectsUnsupportedVersionAndBadAlignmentOnWrite) {
  GgufWriter w;
  w.set_version(1);
  EXPECT_THROW(w.to_bytes(), Error);
  GgufWriter w2;
  w2.set_u32("general.alignment", 48);
  EXPECT_THROW(w2.to_bytes(), Error);
  GgufWriter w3;
  w3.set_u64("general.alignment", 64);  // the spec requires uint32
  EXPECT_THROW(w3.to_bytes(), Error);
}

std::vector<float> iota_values(size_t n, float scale) {
  std::vector<float> v(n);
  for (size_t k = 0; k < n; ++k) v[k] = scale * static_cast<float>(static_cast<int>(k % 97) - 48);
  return v;
}

TEST(GgufRoundTrip, TensorsShapesOffsetsAndAlignment) {
  for (uint32_t alignment : {1u, 8u, 32u, 64u, 4096u}) {
    GgufWriter w;
    if (alignment != 32) w.set_u32("general.alignment", alignment);
    w.set_str("general.name", "t");
    const std::vector<std::vector<int64_t>> shapes = {{5}, {3, 7}, {2, 3, 5}, {2, 1, 3, 4}, {0, 4}};
    for (size_t k = 0; k < shapes.size(); ++k) {
      int64_t n = 1;
      for (int64_t d : shapes[k]) n *= d;
      w.add_tensor_f32(tensor_name(k), DType::F32, shapes[k],
                       iota_values(static_cast<size_t>(n), 0.5f + static_cast<float>(k)));
    }
    std::vector<uint8_t> raw(2 * 34);  // two Q8_0 blocks, stored verbatim
    for (size_t k = 0; k < raw.size(); ++k) raw[k] = static_cast<uint8_t>(k * 7);
    w.add_tensor("q", DType::Q8_0, {2, 32}, raw);
    std::string path = temp_path("tensors_a" + std::to_string(alignment) + ".gguf");
    w.write(path);

    GgufFile f = GgufFile::open(path);
    EXPECT_EQ(f.alignment(), alignment);
    EXPECT_EQ(f.data_offset() % alignment, 0u);
    ASSERT_EQ(f.tensors().size(), shapes.size() + 1);
    for (size_t k = 0; k < shapes.size(); ++k) {
      const GgufTensorInfo* info = f.find_tensor(tensor_name(k));
      ASSERT_NE(info, nullptr);
      EXPECT_EQ(info->offset % alignment, 0u);
      ASSERT_EQ(info->n_dims, static_cast<int>(shapes[k].size()));
      for (size_t d = 0; d < shapes[k].size(); ++d) EXPECT_EQ(info->shape[d], shapes[k][d]);
      TensorView v = f.view(*info);
      EXPECT_EQ(v.n_dims, info->n_dims);
      EXPECT_EQ(static_cast<uint64_t>(v.nbytes()), info->nbytes);
      auto expect = iota_values(static_cast<size_t>(v.numel()), 0.5f + static_cast<float>(k));
      if (v.numel() > 0) {
        EXPECT_EQ(std::memcmp(v.data, expect.data(), expect.size() * sizeof(float)), 0);
      }
    }
    const GgufTensorInfo* q = f.find_tensor("q");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->dtype, DType::Q8_0);
    EXPECT_EQ(q->nbytes, raw.size());
    EXPECT_EQ(std::memcmp(f.view(*q).data, raw.data(), raw.size()), 0);
    EXPECT_EQ(f.find_tensor("nope"), nullptr);
  }
}

TEST(GgufRoundTrip, WriterRejectsBadTensors) {
  GgufWriter w;
  EXPECT_THROW(w.add_tensor("a", DType::F32, {2, 2}, std::vector<uint8_t>(15)), Error);
  EXPECT_THROW(w.add_tensor("b", DType::Q8_0, {2, 31}, std::vector<uint8_t>(68)), Error);
  EXPECT_THROW(w.add_tensor("c", DType::F32, {}, {}), Error);
  EXPECT_THROW(w.add_tensor("d", DType::F32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4)), Error);
  EXPECT_THROW(w.add_tensor_f32("e", DType::F32, {3}, {1.0f}), Error);
  w.add_tensor("f", DType::F32, {1}, std::vector<uint8_t>(4));
  EXPECT_THROW(w.add_tensor("f", DType::F32, {1}, std::vector<uint8_t>(4)), Error);
}

TEST(GgufRoundTrip, AddTensorF32ConvertsThroughQuantizeRow) {
  const std::vector<float> values = iota_values(2 * 256, 0.01f);
  for (DType t : {DType::F16, DType::BF16, DType::Q8_0, DType::Q4_K}) {
    if (!can_quantize(t)) continue;
    GgufWriter w;
    w.add_tensor_f32("w", t, {2, 256}, values);
    std::string path = temp_path("quant_" + std::string(dtype_name(t)) + ".gguf");
    w.write(path);
    GgufFile f = GgufFile::open(path);
    TensorView v = f.view(*f.find_tensor("w"));
    ASSERT_EQ(v.dtype, t);
    std::vector<uint8_t> expect(static_cast<size_t>(dtype_row_bytes(t, 256)));
    std::vector<float> back(256);
    for (int64_t r = 0; r < 2; ++r) {
      quantize_row(t, values.data() + r * 256, expect.data(), 256);
      EXPECT_EQ(std::memcmp(v.row(r), expect.data(), expect.size()), 0) << dtype_name(t);
      dequantize_row(t, v.row(r), back.data(), 256);
      // |x| <= 0.48: F16/BF16 keep 11/8 significant bits, Q8_0 has 127 steps per block max,
      // Q4_K 15 steps over a 32-value sub-block range (<= 0.96) plus 6-bit scales.
      const float tol = t == DType::Q4_K ? 0.06f : t == DType::Q8_0 ? 0.004f : 0.002f;
      for (int k = 0; k < 256; ++k) EXPECT_NEAR(back[k], values[r * 256 + k], tol);
    }
  }
}

TEST(GgufGetters, IntegerWideningAndRangeChecks) {
  GgufWriter w;
  w.set("u8", GgufValue::make_u8(200));
  w.set_i32("i32", 70000);
  w.set_i32("neg", -1);
  w.set_u64("big", 1ull << 40);
  w.set_f32("f32", 0.5f);
  w.set("f64", GgufValue::make_f64(0.25));
  w.set_bool("flag", true);
  w.set_str("name", "x");
  w.set("u8s", GgufValue::make_array(GgufType::UINT8, {GgufValue::make_u8(1)}));
  w.set_i32_array("i32s", {-1, 5});
  w.set("u64s", GgufValue::make_array(GgufType::UINT64, {GgufValue::make_u64(~0ull)}));
  w.set_f32_array("f32s", {1.5f});
  w.set_str_array("strs", {"a", "b"});
  std::string path = temp_path("getters.gguf");
  w.write(path);
  GgufFile f = GgufFile::open(path);

  EXPECT_EQ(f.get_u32("u8"), 200u);
  EXPECT_EQ(f.get_u32("i32"), 70000u);
  EXPECT_EQ(f.get_u64("big"), 1ull << 40);
  EXPECT_EQ(f.get_u64_opt("i32"), 70000u);
  EXPECT_FALSE(f.get_u32_opt("absent").has_value());
  EXPECT_FLOAT_EQ(f.get_f32("f32"), 0.5f);
  EXPECT_FLOAT_EQ(f.get_f32("f64"), 0.25f);
  EXPECT_TRUE(f.get_bool("flag"));
  EXPECT_EQ(f.get_str("name"), "x");
  EXPECT_EQ(*f.get_int_array_opt("u8s"), std::vector<int64_t>{1});
  EXPECT_EQ(*f.get_int_array_opt("i32s"), (std::vector<int64_t>{-1, 5}));
  EXPECT_EQ(*f.get_f32_array_opt("f32s"), std::vector<float>{1.5f});
  EXPECT_EQ(*f.get_str_array_opt("strs"), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(f.get_str_array_opt("absent").has_value());

  auto expect_msg = [&](auto&& fn, std::initializer_list<std::string> parts) {
    try {
      fn();
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(path), std::string::npos) << msg;
      for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << p << " in " << msg;
    }
  };
  expect_msg([&] { f.get_u32("neg"); }, {"'neg'", "expected uint32 range", "found -1 (int32)"});
  expect_msg([&] { f.get_u32("big"); }, {"'big'", "uint32 range", "1099511627776"});
  expect_msg([&] { f.get_u32("name"); }, {"'name'", "expected uint32", "found string"});
  expect_msg([&] { f.get_u32("absent"); }, {"'absent'", "expected uint32", "found missing"});
  expect_msg([&] { f.get_f32("u8"); }, {"'u8'", "expected float32", "found uint8"});
  expect_msg([&] { f.get_bool("u8"); }, {"'u8'", "expected bool", "found uint8"});
  expect_msg([&] { f.get_str("flag"); }, {"'flag'", "expected string", "found bool"});
  expect_msg([&] { f.get_str("absent"); }, {"'absent'", "expected string", "found missing"});
  expect_msg([&] { f.get_str_array_opt("i32s"); },
             {"'i32s'", "expected array of string", "found array of int32"});
  expect_msg([&] { f.get_f32_array_opt("name"); }, {"expected array of float32", "found string"});
  expect_msg([&] { f.get_int_array_opt("strs"); }, {"array of an integer type", "array of string"});
  expect_msg([&] { f.get_int_array_opt("u64s"); }, {"'u64s'[0]", "int64 range"});
}

TEST(GgufValueTest, ToStringAndPredicates) {
  EXPECT_EQ(GgufValue::make_u32(42).to_string(), "42");
  EXPECT_EQ(GgufValue::make_i8(-3).to_string(), "-3");
  EXPECT_EQ(GgufValue::make_str("llama").to_string(), "\"llama\"");
  EXPECT_EQ(GgufValue::make_bool(true).to_string(), "true");
  EXPECT_EQ(GgufValue::make_f32(0.5f).to_string(), "0.5");
  std::vector<GgufValue> elems(3, GgufValue::make_str("t"));
  EXPECT_EQ(GgufValue::make_array(GgufType::STRING, elems).to_string(), "[array of 3 string]");
  EXPECT_TRUE(GgufValue::make_u64(1).is_integer());
  EXPECT_FALSE(GgufValue::make_f64(1).is_integer());
  EXPECT_TRUE(GgufValue::make_f64(1).is_float());
  EXPECT_FALSE(GgufValue::make_bool(true).is_integer());
  EXPECT_EQ(gguf_type_name(GgufType::FLOAT32), "float32");
}

// Arrays are stored compactly (packed bytes / strings / nested arrays); make_array checks element
// types, make_packed_array sizes and bools; the getters widen every packed integer type.
TEST(GgufValueTest, CompactArrays) {
  using V = GgufValue;
  V i16 = V::make_array(GgufType::INT16, {V::make_i16(-2), V::make_i16(3)});
  const std::vector<uint8_t> le = {0xfe, 0xff, 0x03, 0x00};
  EXPECT_EQ(std::vector<uint8_t>(i16.array_packed().begin(), i16.array_packed().end()), le);
  EXPECT_EQ(i16.array_size(), 2u);
  EXPECT_EQ(i16.array_at(0).i, -2);
  EXPECT_EQ(i16.array_at(1).type, GgufType::INT16);
  EXPECT_THROW(i16.array_at(2), InternalError);
  EXPECT_EQ(V::make_u32(1).array_size(), 0u);

  V strs = V::make_str_array({"a", "bc"});
  EXPECT_EQ(strs.array_strings(), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(strs.array_at(1).str, "bc");
  V nested = V::make_array(GgufType::ARRAY, {strs, i16});
  ASSERT_EQ(nested.array_arrays().size(), 2u);
  EXPECT_EQ(nested.array_at(1).array_at(1).i, 3);

  try {
    V::make_array(GgufType::INT32, {V::make_i32(1), V::make_str("x")});
    ADD_FAILURE() << "mixed element types accepted";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("array element [1] type: expected int32, found string"), std::string::npos)
        << msg;
  }
  EXPECT_THROW(V::make_packed_array(GgufType::UINT16, std::vector<uint8_t>(3)), Error);
  EXPECT_THROW(V::make_packed_array(GgufType::BOOL, std::vector<uint8_t>{0, 2}), Error);
  EXPECT_THROW(V::make_packed_array(GgufType::STRING, std::vector<uint8_t>(8)), Error);
  const std::vector<int32_t> i32 = {1, 2};
  EXPECT_THROW(V::make_packed_array(GgufType::INT16, std::span<const int32_t>(i32)), Error);

  GgufWriter w;
  const std::vector<int8_t> i8 = {-128, 127};
  const std::vector<uint16_t> u16 = {65535};
  const std::vector<uint32_t> u32 = {4294967295u};
  const std::vector<int64_t> i64 = {std::numeric_limits<int64_t>::min()};
  const std::vector<double> f64 = {0.5, -2.0};
  w.set("i8", V::make_packed_array(GgufType::INT8, std::span<const int8_t>(i8)));
  w.set("u16", V::make_packed_array(GgufType::UINT16, std::span<const uint16_t>(u16)));
  w.set("i16", i16);
  w.set("u32", V::make_packed_array(GgufType::UINT32, std::span<const uint32_t>(u32)));
  w.set("i64", V::make_packed_array(GgufType::INT64, std::span<const int64_t>(i64)));
  w.set("f64", V::make_packed_array(GgufType::FLOAT64, std::span<const double>(f64)));
  w.set("nested", nested);
  std::string path = temp_path("compact.gguf");
  w.write(path);
  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(*f.get_int_array_opt("i8"), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(*f.get_int_array_opt("u16"), (std::vector<int64_t>{65535}));
  EXPECT_EQ(*f.get_int_array_opt("i16"), (std::vector<int64_t>{-2, 3}));
  EXPECT_EQ(*f.get_int_array_opt("u32"), (std::vector<int64_t>{4294967295ll}));
  EXPECT_EQ(*f.get_int_array_opt("i64"), i64);
  EXPECT_EQ(*f.get_f32_array_opt("f64"), (std::vector<float>{0.5f, -2.0f}));
  EXPECT_EQ(f.find("nested")->array_at(0).array_strings(), strs.array_strings());
}

}  // namespace
}  // namespace latent
