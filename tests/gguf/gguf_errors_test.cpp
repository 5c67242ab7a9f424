// One test per GgufFile::open validation path: each builds a malformed file byte by byte (RawGguf)
// and checks that the latent::Error names the file, the field, the expected and the found value.
// The randomized coverage of the same paths is gguf_fuzz_test.cpp.
#include <gtest/gtest.h>

#include "gguf_test_util.h"

namespace latent {
namespace {

using test::expect_gguf_error;
using test::RawGguf;

constexpr uint32_t kF32 = 0, kQ8_0 = 8, kTypeU32 = 4, kTypeString = 8, kTypeArray = 9;

// A valid file with one F32 tensor "w" of 4x4 floats, for mutations.
RawGguf one_tensor(std::initializer_list<int64_t> ne = {4, 4}, uint32_t type = kF32,
                   uint64_t offset = 0) {
  RawGguf r;
  r.header(1, 1).kv_str("general.name", "t").tensor("w", ne, type, offset).pad();
  return r;
}

TEST(GgufErrors, ValidBaselineOpens) {
  RawGguf r = one_tensor();
  r.zeros(64);
  std::string path = test::write_temp("baseline.gguf", r.b);
  GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.tensors()[0].shape[0], 4);
}

TEST(GgufErrors, EmptyFileAndBadMagic) {
  expect_gguf_error("empty.gguf", "",
                    {"magic", "expected 4 bytes at offset 0", "found end of file"});
  RawGguf r;
  r.b = "GGUX";
  r.u32(3).u64(0).u64(0);
  expect_gguf_error("magic.gguf", r.b, {": magic:", "expected \"GGUF\"", "found 47 47 55 58"});
}

TEST(GgufErrors, Versions) {
  expect_gguf_error("v1.gguf", RawGguf().header(0, 0, 1).b,
                    {": version:", "expected 2 or 3", "found 1 (GGUF v1"});
  expect_gguf_error("v4.gguf", RawGguf().header(0, 0, 4).b,
                    {"version", "expected 2 or 3", "found 4"});
  expect_gguf_error("vbe.gguf", RawGguf().header(0, 0, 0x03000000).b,
                    {"version", "found 50331648 (byte-swapped"});
}

TEST(GgufErrors, TruncatedHeaderAndValues) {
  std::string full = RawGguf().header(0, 1).kv_str("general.name", "hello").b;
  expect_gguf_error(
      "trunc_nkv.gguf", full.substr(0, 20),
      {": n_kv:", "expected 8 bytes at offset 16", "found end of file after 4 bytes"});
  // Cut inside the string's length field, then inside the string bytes.
  size_t len_at = full.size() - 5 - 8;
  expect_gguf_error(
      "trunc_len.gguf", full.substr(0, len_at + 3),
      {"kv[0] 'general.name' string length", "expected 8 bytes", "found end of file"});
  expect_gguf_error("trunc_str.gguf", full.substr(0, full.size() - 1),
                    {"kv[0] 'general.name' string length", "expected at most 4", "found 5"});
}

TEST(GgufErrors, UnknownMetadataTypes) {
  expect_gguf_error("kvtype.gguf", RawGguf().header(0, 1).str("k").u32(13).u32(0).b,
                    {"kv[0] 'k' type", "expected a GGUF value type id 0..12", "found 13"});
  expect_gguf_error("elemtype.gguf",
                    RawGguf().header(0, 1).str("k").u32(kTypeArray).u32(99).u64(0).b,
                    {"kv[0] 'k' array element type", "expected a GGUF value type id", "found 99"});
}

TEST(GgufErrors, BoolEmptyKeyAndDuplicateKey) {
  expect_gguf_error("bool.gguf", RawGguf().header(0, 1).str("b").u32(7).put<uint8_t>(2).b,
                    {"kv[0] 'b' bool", "expected 0 or 1", "found 2"});
  expect_gguf_error("emptykey.gguf", RawGguf().header(0, 1).kv_u32("", 1).b,
                    {"kv[0] key", "expected a non-empty key", "found \"\""});
  expect_gguf_error("dupkey.gguf", RawGguf().header(0, 2).kv_u32("a", 1).kv_u32("a", 2).b,
                    {"kv[1] key", "expected a unique key", "found 'a' (also kv[0])"});
}

TEST(GgufErrors, CountsLargerThanTheFile) {
  expect_gguf_error("nkv.gguf", RawGguf().header(0, 1ull << 60).b,
                    {": n_kv:", "expected at most 0", "found 1152921504606846976"});
  expect_gguf_error("ntensors.gguf", RawGguf().header(~0ull, 0).zeros(64).b,
                    {": n_tensors:", "expected at most 2", "found 18446744073709551615"});
  expect_gguf_error(
      "arrlen.gguf",
      RawGguf().header(0, 1).str("a").u32(kTypeArray).u32(kTypeU32).u64(1ull << 62).zeros(16).b,
      {"kv[0] 'a' array length", "expected at most 4", "found 4611686018427387904"});
  expect_gguf_error(
      "strarr.gguf",
      RawGguf().header(0, 1).str("a").u32(kTypeArray).u32(kTypeString).u64(2).str("x").u64(100).b,
      {"kv[0] 'a'[1] string length", "expected at most 0", "found 100"});
  expect_gguf_error(
      "strlen.gguf", RawGguf().header(0, 1).str("s").u32(kTypeString).u64(~0ull).b,
      {"kv[0] 's' string length", "expected at most 0", "found 18446744073709551615"});
  expect_gguf_error("keylen.gguf", RawGguf().header(0, 1).u64(1ull << 40).zeros(13).b,
                    {"kv[0] key length", "expected at most 13", "found 1099511627776"});
}

TEST(GgufErrors, ArrayNestingDepth) {
  RawGguf r;
  r.header(0, 1).str("deep").u32(kTypeArray);
  for (int d = 0; d < 20; ++d) r.u32(kTypeArray).u64(1);
  r.u32(kTypeU32).u64(0);
  expect_gguf_error("deep.gguf", r.b,
                    {"kv[0] 'deep'[0][0][0][0][0][0][0] array nesting depth", "expected at most 8",
                     "found deeper"});
}

TEST(GgufErrors, Alignment) {
  auto with_alignment = [](GgufType type, uint64_t v) {
    RawGguf r;
    r.header(0, 1).str("general.alignment").u32(static_cast<uint32_t>(type));
    if (type == GgufType::UINT64)
      r.u64(v);
    else
      r.u32(static_cast<uint32_t>(v));
    return r.b;
  };
  expect_gguf_error("align48.gguf", with_alignment(GgufType::UINT32, 48),
                    {"kv[0] 'general.alignment'", "expected a nonzero power of two", "found 48"});
  expect_gguf_error("align0.gguf", with_alignment(GgufType::UINT32, 0),
                    {"'general.alignment'", "nonzero power of two", "found 0"});
  expect_gguf_error("align64.gguf", with_alignment(GgufType::UINT64, 64),
                    {"kv[0] 'general.alignment' type", "expected uint32", "found uint64"});
}

TEST(GgufErrors, TensorDims) {
  expect_gguf_error("ndims0.gguf", one_tensor({}).zeros(64).b,
                    {"tensor 'w' n_dims", "expected 1..4", "found 0"});
  expect_gguf_error("ndims5.gguf", one_tensor({1, 1, 1, 1, 1}).zeros(64).b,
                    {"tensor 'w' n_dims", "expected 1..4", "found 5"});
  expect_gguf_error("negdim.gguf", one_tensor({4, -1}).zeros(64).b,
                    {"tensor 'w' ne[1]", "expected >= 0", "found -1"});
  expect_gguf_error("overflow.gguf", one_tensor({1ll << 40, 1ll << 40}).zeros(64).b,
                    {"tensor 'w' element count", "expected a product of dims that fits int64",
                     "found overflow at tensor 'w' ne[1] = 1099511627776"});
  expect_gguf_error("bytesoverflow.gguf", one_tensor({1ll << 31, 1ll << 31}).zeros(64).b,
                    {"tensor 'w' byte size", "expected a size that fits int64",
                     "found 4611686018427387904 blocks of 4 bytes"});
  expect_gguf_error("hugedim.gguf", one_tensor({1ll << 40}).zeros(64).b,
                    {"tensor 'w' data", "found offset 0 + size 4398046511104"});
}

TEST(GgufErrors, TensorTypes) {
  expect_gguf_error("ttype.gguf", one_tensor({4, 4}, 1000).zeros(64).b,
                    {"tensor 'w' type", "expected a ggml type id", "found 1000"});
  expect_gguf_error("block.gguf", one_tensor({33, 2}, kQ8_0).zeros(128).b,
                    {"tensor 'w' ne[0] (innermost dim)", "expected a multiple of 32", "found 33"});
}

TEST(GgufErrors, TensorOffsetsAndData) {
  expect_gguf_error("misaligned.gguf", one_tensor({4, 4}, kF32, 16).zeros(96).b,
                    {"tensor 'w' offset", "expected a multiple of the alignment 32", "found 16"});
  expect_gguf_error(
      "pastend.gguf", one_tensor().zeros(63).b,
      {"tensor 'w' data", "expected offset + size <= 63", "found offset 0 + size 64"});
  expect_gguf_error("pastend2.gguf", one_tensor({4, 4}, kF32, 1ull << 63).zeros(64).b,
                    {"tensor 'w' data", "found offset 9223372036854775808"});
  RawGguf nopad;
  nopad.header(1, 0).tensor("w", {1}, kF32, 0);
  expect_gguf_error(
      "nopad.gguf", nopad.b,
      {": data section start", "expected padding up to offset 64", "found end of file at 57"});
}

TEST(GgufErrors, OverlapAndDuplicateTensors) {
  RawGguf overlap;
  overlap.header(2, 0).tensor("a", {16}, kF32, 0).tensor("b", {16}, kF32, 32).pad().zeros(128);
  expect_gguf_error("overlap.gguf", overlap.b,
                    {"tensor 'b' offset", "expected >= 64 (end of tensor 'a'", "found 32"});
  RawGguf contained;  // "b" lies inside the larger "a" even though a later tensor starts past it
  contained.header(3, 0)
      .tensor("a", {64}, kF32, 0)
      .tensor("b", {8}, kF32, 64)
      .tensor("c", {8}, kF32, 256)
      .pad()
      .zeros(512);
  expect_gguf_error("contained.gguf", contained.b,
                    {"tensor 'b' offset", "expected >= 256 (end of tensor 'a'", "found 64"});
  RawGguf dup;
  dup.header(2, 0).tensor("w", {8}, kF32, 0).tensor("w", {8}, kF32, 32).pad().zeros(64);
  expect_gguf_error("duptensor.gguf", dup.b,
                    {"tensor[1] name", "expected a unique name", "found 'w' (also tensor[0])"});
  RawGguf empty_ok;  // zero-size tensors overlap nothing
  empty_ok.header(2, 0).tensor("a", {0}, kF32, 0).tensor("b", {8}, kF32, 0).pad().zeros(32);
  std::string path = test::write_temp("zero_size.gguf", empty_ok.b);
  EXPECT_EQ(GgufFile::open(path).tensors().size(), 2u);
}

TEST(GgufErrors, TruncatedTensorInfo) {
  std::string full = one_tensor().zeros(64).b;
  size_t info_start = 4 + 4 + 8 + 8 + (8 + 12 + 4 + 8 + 1);
  expect_gguf_error("tinfo.gguf", full.substr(0, info_start + 8 + 1 + 4 + 3),
                    {"tensor 'w' ne[0]", "expected 8 bytes", "found end of file after 3 bytes"});
  expect_gguf_error("tinfo2.gguf", full.substr(0, info_start + 4),
                    {"tensor[0] name length", "expected 8 bytes", "found end of file"});
}

}  // namespace
}  // namespace latent
