// Differential check of GgufFile against the independent Python reader tests/reference/gguf.py
// (`gguf.py dump FILE` prints a JSON summary): same keys in the same order, same values, same
// tensor types, shapes (outermost-first), sizes and F32 contents, on stories260K and on a
// writer-made file (F16/BF16 contents through dequantize_row).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"
#include "tensor/quant.h"

namespace latent {
namespace {

using nlohmann::json;

json python_dump(const std::string& path) {
  std::string out;
  std::string cmd =
      test::python() + " " + test::source_dir() + "/tests/reference/gguf.py dump '" + path + "'";
  int rc = test::run_command(cmd, &out);
  EXPECT_EQ(rc, 0) << cmd;
  return json::parse(out);
}

// Compares one value with gguf.py's summary of it (arrays: length and the first 4 elements).
void expect_value(const GgufValue& v, const json& j, const std::string& where) {
  switch (v.type) {
    case GgufType::ARRAY:
      ASSERT_TRUE(j.is_object() && j.contains("array_len")) << where << ": " << j.dump();
      ASSERT_EQ(j["array_len"].get<uint64_t>(), v.array_size()) << where;
      for (size_t k = 0; k < j["head"].size(); ++k) {
        expect_value(v.array_at(k), j["head"][k], where + "[" + std::to_string(k) + "]");
      }
      break;
    case GgufType::FLOAT32:
    case GgufType::FLOAT64:
      EXPECT_EQ(j["float"].get<double>(), v.f) << where;
      break;
    case GgufType::STRING:
      EXPECT_EQ(j.get<std::string>(), v.str) << where;
      break;
    case GgufType::BOOL:
      EXPECT_EQ(j.get<bool>(), v.u != 0) << where;
      break;
    case GgufType::UINT8:
    case GgufType::UINT16:
    case GgufType::UINT32:
    case GgufType::UINT64:
      EXPECT_EQ(j.get<uint64_t>(), v.u) << where;
      break;
    default:
      EXPECT_EQ(j.get<int64_t>(), v.i) << where;
      break;
  }
}

void expect_agreement(const std::string& path) {
  GgufFile f = GgufFile::open(path);
  json d = python_dump(path);
  ASSERT_EQ(d["keys"].size(), f.metadata().size());
  for (size_t k = 0; k < f.metadata().size(); ++k) {
    const auto& [key, value] = f.metadata()[k];
    EXPECT_EQ(d["keys"][k].get<std::string>(), key);
    expect_value(value, d["values"][key], key);
  }
  ASSERT_EQ(d["tensors"].size(), f.tensors().size());
  for (const auto& info : f.tensors()) {
    SCOPED_TRACE(info.name);
    ASSERT_TRUE(d["tensors"].contains(info.name));
    const json& t = d["tensors"][info.name];
    EXPECT_EQ(t["type"].get<uint32_t>(), static_cast<uint32_t>(info.dtype));
    ASSERT_EQ(t["shape"].size(), static_cast<size_t>(info.n_dims));
    for (int k = 0; k < info.n_dims; ++k) EXPECT_EQ(t["shape"][k].get<int64_t>(), info.shape[k]);
    EXPECT_EQ(t["nbytes"].get<uint64_t>(), info.nbytes);
    if (!t.contains("sum")) continue;  // types gguf.py (with quants.py) can dequantize
    ASSERT_TRUE(can_dequantize(info.dtype));
    TensorView v = f.view(info);
    std::vector<float> x(static_cast<size_t>(v.numel()));
    for (int64_t r = 0; r < v.rows(); ++r) {
      dequantize_row(v.dtype, v.row(r), x.data() + r * v.cols(), v.cols());
    }
    double sum = 0;
    for (int64_t k = 0; k < v.numel(); ++k) sum += x[k];
    EXPECT_NEAR(t["sum"].get<double>(), sum, 1e-6 * (1 + std::fabs(sum)));
    for (size_t k = 0; k < t["head"].size(); ++k) {
      EXPECT_NEAR(t["head"][k].get<double>(), x[k], 1e-6 * (1 + std::fabs(x[k])));
    }
  }
}

TEST(GgufPython, AgreesOnStories260K) {
  expect_agreement(test::testdata_path("models/stories260K/stories260K.gguf"));
}

TEST(GgufPython, AgreesOnWriterMadeFileV2WithNestedArrays) {
  GgufWriter w;
  w.set_version(2);
  w.set_u32("general.alignment", 64);
  w.set("i8", GgufValue::make_i8(-8));
  w.set("u64", GgufValue::make_u64(~0ull));
  w.set("i64", GgufValue::make_i64(-(1ll << 62)));
  w.set("f64", GgufValue::make_f64(0.1));
  w.set_bool("b", false);
  w.set_str("s", "");
  w.set_str_array("strs", {"x", "", "\xe2\x96\x81y"});
  w.set("nested",
        GgufValue::make_array(GgufType::ARRAY,
                              {GgufValue::make_array(GgufType::INT16, {GgufValue::make_i16(-3)}),
                               GgufValue::make_array(GgufType::BOOL, {GgufValue::make_bool(true)}),
                               GgufValue::make_array(GgufType::UINT8, {})}));
  w.add_tensor_f32("a", DType::F32, {3, 5}, std::vector<float>(15, 0.25f));
  w.add_tensor("q", DType::Q8_0, {2, 64}, std::vector<uint8_t>(4 * 34, 1));
  w.add_tensor_f32("b", DType::F32, {2, 1, 2, 3}, std::vector<float>(12, -1.5f));
  std::vector<float> ramp(40);
  for (size_t k = 0; k < ramp.size(); ++k) ramp[k] = 0.1f * static_cast<float>(k) - 1.7f;
  w.add_tensor_f32("h", DType::F16, {4, 10}, ramp);
  w.add_tensor_f32("bf", DType::BF16, {40}, ramp);
  std::vector<float> wave(2 * 256);
  for (size_t k = 0; k < wave.size(); ++k) wave[k] = std::sin(0.37f * static_cast<float>(k));
  for (DType t : {DType::Q8_0, DType::Q4_0, DType::Q4_K, DType::Q6_K}) {
    if (can_quantize(t)) w.add_tensor_f32(std::string(dtype_name(t)), t, {2, 256}, wave);
  }
  std::string path = test::temp_path("python_agree.gguf");
  w.write(path);
  expect_agreement(path);
}

}  // namespace
}  // namespace latent
