// deepseek2 against the float64 NumPy oracle tests/reference/deepseek2_ref.py: logits at every
// position (one prefill and one token per call) and the routing choices of every MoE layer and
// token (--dump-routing), on models from our writer (deepseek2_model.h: forced router ties,
// negative biased scores, V2 group-by-max, combined kv_b, YaRN without the mscale key) and from
// tools/latent-gen-model's presets (F32, Q8_0, Q4_K). Bound 1e-4 as for llama
// (test_reference_logits.cpp): f32 arithmetic against float64, the same weight bytes on both sides.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/testdata.h"
#include "deepseek2_model.h"
#include "kernels/cpu/isa.h"
#include "model/model.h"

namespace latent {
namespace {

using test::Ds2Spec;

std::string join(const std::vector<TokenId>& ids) {
  std::string s;
  for (TokenId id : ids) {
    if (!s.empty()) s += ' ';
    s += std::to_string(id);
  }
  return s;
}

std::vector<TokenId> sequence(int n_vocab, int n = 20) {
  std::vector<TokenId> ids = {1, n_vocab - 1, 30, 3, 59, n_vocab / 2, 7, n_vocab - 1, 10, 42};
  for (int i = int(ids.size()); i < n; ++i) ids.push_back((i * 7919 + 13) % n_vocab);
  return ids;
}

struct Ref {
  std::vector<float> logits;
  std::vector<int32_t> routing;  // [moe layer][token][slot]
};

Ref run_ref(const std::string& model, const std::vector<TokenId>& ids) {
  const std::string out = test::temp_path("ds2ref.f32"), dump = test::temp_path("ds2ref.json");
  std::string log;
  const int rc = test::run_command(
      test::python() + " '" + test::source_dir() + "/tests/reference/deepseek2_ref.py' '" + model +
          "' --tokens '" + join(ids) + "' --out '" + out + "' --dump-routing '" + dump + "' 2>&1",
      &log);
  EXPECT_EQ(rc, 0) << log;
  Ref r;
  if (rc != 0) return r;
  const std::string bytes = test::read_file(out);
  r.logits.resize(bytes.size() / sizeof(float));
  std::memcpy(r.logits.data(), bytes.data(), r.logits.size() * sizeof(float));
  const nlohmann::json j = nlohmann::json::parse(test::read_file(dump));
  for (const auto& layer : j["layers"])
    for (const auto& tok : layer["experts"])
      for (int e : tok) r.routing.push_back(e);
  return r;
}

// All logits with `chunk` tokens per call; the routing trace of the single-call run.
std::vector<float> run(Model& m, const std::vector<TokenId>& toks, size_t chunk,
                       std::vector<int32_t>* trace) {
  const size_t V = m.config().n_vocab;
  KvCache cache(m.config(), static_cast<int32_t>(toks.size()));
  std::vector<float> out(toks.size() * V);
  m.set_routing_trace(trace);
  for (size_t i = 0; i < toks.size(); i += chunk) {
    const size_t len = std::min(chunk, toks.size() - i);
    std::vector<Pos> pos(len);
    for (size_t j = 0; j < len; ++j) pos[j] = static_cast<Pos>(i + j);
    m.forward(std::span<const TokenId>(toks).subspan(i, len), pos, cache, true, out.data() + i * V);
  }
  m.set_routing_trace(nullptr);
  return out;
}

double rel_err(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || b.empty()) return INFINITY;
  double diff = 0, ref = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::isfinite(a[i]) ? std::fabs(double(a[i]) - b[i]) : INFINITY);
    ref = std::max(ref, std::fabs(double(b[i])));
  }
  return diff / ref;
}

// scalar: run on the reference kernels (LATENT_ISA=scalar). Quantized weights need it for the
// tight bound: the fast quantized kernels round activations (Q8 blocks), which moves logits by
// ~1e-2 and, near a routing tie, flips an expert choice.
void check_against_ref(const std::string& name, const std::string& path, bool scalar = false) {
  const kernels::cpu::Isa isa = kernels::cpu::active_isa();
  if (scalar) kernels::cpu::set_isa_cap(kernels::cpu::Isa::kScalar);
  struct Restore {
    kernels::cpu::Isa isa;
    ~Restore() { kernels::cpu::set_isa_cap(isa); }
  } restore{isa};
  auto m = Model::load(path);
  const std::vector<TokenId> ids = sequence(m->config().n_vocab);
  const Ref ref = run_ref(path, ids);
  std::vector<int32_t> trace;
  const std::vector<float> prefill = run(*m, ids, ids.size(), &trace);
  const std::vector<float> decode = run(*m, ids, 1, nullptr);
  const double ep = rel_err(prefill, ref.logits), ed = rel_err(decode, ref.logits);
  std::printf("[ ds2 ref %-22s ] max rel err: prefill %.2e, decode %.2e; %zu routing choices\n",
              name.c_str(), ep, ed, trace.size());
  EXPECT_LE(ep, 1e-4) << name;
  EXPECT_LE(ed, 1e-4) << name;
  EXPECT_FALSE(trace.empty()) << name;
  EXPECT_EQ(trace, ref.routing) << name;
}

TEST(Deepseek2Reference, WriterModelsMatchOracle) {
  std::vector<std::pair<std::string, Ds2Spec>> cases;
  cases.push_back({"v2_lite", test::ds2_v2_lite_like()});
  cases.push_back({"v3", test::ds2_v3_like()});
  Ds2Spec v2 = test::ds2_v2_lite_like();  // V2: q_lora, softmax groups ranked by max, scale 16
  v2.q_lora = 40, v2.n_groups = 4, v2.n_group_used = 2, v2.scale = 16.0f, v2.combined_kv_b = true;
  cases.push_back({"v2_groups_kv_b", v2});
  Ds2Spec tie = test::ds2_v3_like();  // router rows and biases repeated: ties in groups + experts
  tie.tie_router = true, tie.seed = 3;
  cases.push_back({"v3_ties", tie});
  Ds2Spec tie2 = test::ds2_v2_lite_like();
  tie2.tie_router = true, tie2.n_groups = 2, tie2.n_group_used = 1, tie2.seed = 4;
  cases.push_back({"v2_ties", tie2});
  Ds2Spec nokey = test::ds2_v3_like();  // YaRN without yarn_log_multiplier, no dense layer
  nokey.mscale_all_dim = 0.0f, nokey.dense_lead = 0, nokey.nextn = 1;
  cases.push_back({"v3_yarn_nokey_mtp", nokey});
  for (const auto& [name, spec] : cases) {
    const std::string path = test::temp_path("ds2ref-" + name + ".gguf");
    test::write_ds2_model(path, spec);
    check_against_ref(name, path);
  }
}

TEST(Deepseek2Reference, GenModelPresetsMatchOracle) {
  for (const std::string args :
       {"--preset ds-v2-lite-tiny", "--preset ds-v3-tiny",
        "--preset ds-v3-tiny --kv-b combined --seed 5", "--preset ds-v3-tiny --type q8_0 --seed 6",
        "--preset ds-v2-lite-tiny --type q4_k --n-embd 256 --seed 7"}) {
    const std::string path = test::temp_path("ds2gen.gguf");
    std::string log;
    ASSERT_EQ(
        test::run_command(
            test::binary_dir() + "/latent-gen-model " + args + " --out '" + path + "' 2>&1", &log),
        0)
        << log;
    check_against_ref(args, path, /*scalar=*/args.find("--type") != std::string::npos);
  }
}

// The CLI path with the scalar kernels (LATENT_ISA=scalar), prefill and decode.
TEST(Deepseek2Reference, CliLogitsScalarMatchOracle) {
  const std::string path = test::temp_path("ds2cli.gguf");
  test::write_ds2_model(path, test::ds2_v3_like());
  const std::vector<TokenId> ids = sequence(97);
  const Ref ref = run_ref(path, ids);
  for (const char* chunk : {"0", "1"}) {
    const std::string out = test::temp_path("ds2cli.f32");
    std::string log;
    ASSERT_EQ(test::run_command("LATENT_ISA=scalar " + test::latent_bin() + " logits -m '" + path +
                                    "' --tokens '" + join(ids) + "' --out '" + out + "' --chunk " +
                                    chunk + " 2>&1",
                                &log),
              0)
        << log;
    const std::string bytes = test::read_file(out);
    std::vector<float> got(bytes.size() / sizeof(float));
    std::memcpy(got.data(), bytes.data(), got.size() * sizeof(float));
    const double e = rel_err(got, ref.logits);
    std::printf("[ ds2 cli scalar chunk %s ] max rel err %.2e\n", chunk, e);
    EXPECT_LE(e, 1e-4) << "chunk " << chunk;
  }
}

// `latent info` reports the latent cache next to what an expanded cache would take:
// (kv_lora + qk_rope)·n_layer·4 = 480 vs n_head·(qk_nope + qk_rope + v_head)·n_layer·4 = 1920.
TEST(Deepseek2Reference, CliInfoReportsLatentAndExpandedKvBytes) {
  const std::string path = test::temp_path("ds2info.gguf");
  test::write_ds2_model(path, test::ds2_v3_like());
  std::string out;
  ASSERT_EQ(test::run_command(test::latent_bin() + " info -m '" + path + "' 2>&1", &out), 0) << out;
  EXPECT_NE(out.find("architecture:    deepseek2"), std::string::npos) << out;
  EXPECT_NE(out.find("KV bytes/token:  480 (f32 cache: latent + rope, 40 floats per layer); an "
                     "expanded K/V cache would take 1920 (4.0x)"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace latent
