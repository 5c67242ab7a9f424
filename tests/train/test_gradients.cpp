// Gradients of the training forward pass: against central finite differences of the loss on a
// sample of every tensor, and against the float64 NumPy oracle (tests/reference/llama_grad_ref.py)
// on every parameter.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "common/testdata.h"
#include "train/checkpoint.h"
#include "train/transformer.h"
#include "train_test_util.h"

namespace latent::train {
namespace {

// A sequence with weights of both signs and some zeros (SFT masks, policy-gradient advantages).
Sequence test_sequence() {
  Sequence s;
  s.tokens = {1, 60, 23, 3, 17, 18, 40, 4, 5, 44, 9, 9, 30, 2};
  for (size_t t = 0; t + 1 < s.tokens.size(); ++t)
    s.weights.push_back(t < 2 ? 0.0f : t == 7 ? -0.5f : 0.1f * static_cast<float>(t % 4 + 1));
  return s;
}

double loss_of(const ParamSet& p, const Sequence& s) {
  ParamSet g(p.dims());
  Activations a;
  return forward_backward(p, s, g, a);
}

void finite_differences(bool tied) {
  ParamSet p(test::grad_dims(tied));
  test::init_for_checks(p, 11);
  const Sequence seq = test_sequence();
  ParamSet grads(p.dims());
  Activations acts;
  forward_backward(p, seq, grads, acts);
  uint64_t rng = 99;
  for (const ParamTensor& t : p.tensors()) {
    // The largest-gradient entry plus 5 random ones.
    std::vector<int64_t> idx;
    int64_t best = t.offset;
    for (int64_t i = t.offset; i < t.offset + t.size; ++i)
      if (std::fabs(grads.data()[i]) > std::fabs(grads.data()[best])) best = i;
    idx.push_back(best);
    for (int k = 0; k < 5; ++k) {
      rng = rng * 6364136223846793005ull + 1442695040888963407ull;
      idx.push_back(t.offset + static_cast<int64_t>((rng >> 33) % static_cast<uint64_t>(t.size)));
    }
    for (int64_t i : idx) {
      const float saved = p.data()[i];
      const float h = 1e-2f * std::max(1.0f, std::fabs(saved));
      p.data()[i] = saved + h;
      const double up = loss_of(p, seq);
      p.data()[i] = saved - h;
      const double down = loss_of(p, seq);
      p.data()[i] = saved;
      const double fd = (up - down) / (2.0 * h), an = grads.data()[i];
      EXPECT_NEAR(an, fd, 2e-3 + 2e-2 * std::fabs(fd))
          << t.name << "[" << i - t.offset << "] analytic " << an << " numeric " << fd;
    }
    EXPECT_GT(std::fabs(grads.data()[best]), 1e-3) << t.name << " has a vanishing gradient";
  }
}

TEST(Gradients, FiniteDifferencesTied) {
  finite_differences(true);
}
TEST(Gradients, FiniteDifferencesUntied) {
  finite_differences(false);
}

void against_numpy(bool tied) {
  ParamSet p(test::grad_dims(tied));
  test::init_for_checks(p, tied ? 21 : 22);
  const std::string model = latent::test::temp_path(tied ? "grad_tied.gguf" : "grad_untied.gguf");
  const std::string out = model + ".f64";
  write_model_gguf(model, p);
  const Sequence seq = test_sequence();
  std::string toks, wts;
  for (int32_t t : seq.tokens) toks += std::to_string(t) + " ";
  for (float w : seq.weights) wts += std::to_string(w) + " ";
  const std::string cmd = latent::test::python() + " " + latent::test::source_dir() +
                          "/tests/reference/llama_grad_ref.py " + model + " --tokens '" + toks +
                          "' --weights '" + wts + "' --out " + out;
  ASSERT_EQ(latent::test::run_command(cmd, nullptr), 0) << cmd;
  const std::string bytes = latent::test::read_file(out);
  ASSERT_EQ(bytes.size(), sizeof(double) * (1 + p.n_params()));
  std::vector<double> ref(1 + p.n_params());
  std::memcpy(ref.data(), bytes.data(), bytes.size());

  // The weights went through std::to_string (6 decimals): use the same values here.
  Sequence s2 = seq;
  for (float& w : s2.weights) w = std::stof(std::to_string(w));
  ParamSet grads(p.dims());
  Activations acts;
  const double loss = forward_backward(p, s2, grads, acts);
  EXPECT_NEAR(loss, ref[0], 1e-5 * std::fabs(ref[0]));
  double worst = 0.0;  // largest error relative to its tensor's largest gradient
  for (const ParamTensor& t : p.tensors()) {
    double max_ref = 0.0, max_err = 0.0;
    for (int64_t i = t.offset; i < t.offset + t.size; ++i) {
      max_ref = std::max(max_ref, std::fabs(ref[1 + i]));
      max_err = std::max(max_err, std::fabs(ref[1 + i] - grads.data()[i]));
    }
    // float32 sums against float64: errors relative to the tensor's largest gradient.
    EXPECT_LE(max_err, 1e-4 * max_ref + 1e-7) << t.name << " (largest gradient " << max_ref << ")";
    EXPECT_GT(max_ref, 1e-4) << t.name;
    worst = std::max(worst, max_err / max_ref);
  }
  std::printf("gradients vs NumPy float64: worst tensor error %.2e of its largest gradient\n",
              worst);
}

TEST(Gradients, MatchNumpyReferenceTied) {
  against_numpy(true);
}
TEST(Gradients, MatchNumpyReferenceUntied) {
  against_numpy(false);
}

// The batched step sums per-sequence gradients, whatever the thread count.
TEST(Gradients, BatchIsTheSumOfItsSequences) {
  ParamSet p(test::grad_dims(true));
  test::init_for_checks(p, 5);
  std::vector<Sequence> seqs = {test_sequence(), test_sequence(), test_sequence()};
  seqs[1].tokens.resize(6), seqs[1].weights.resize(5);
  seqs[2].tokens[3] = 50;
  ParamSet sum(p.dims());
  Activations a;
  double loss = 0.0;
  for (const Sequence& s : seqs) loss += forward_backward(p, s, sum, a);
  for (int threads : {1, 2, 3}) {
    BatchWorkspace ws(p.dims(), threads);
    ParamSet g(p.dims());
    EXPECT_NEAR(ws.step(p, seqs, g), loss, 1e-9);
    for (int64_t i = 0; i < p.n_params(); ++i)
      ASSERT_NEAR(g.data()[i], sum.data()[i], 1e-6 + 1e-5 * std::fabs(sum.data()[i])) << i;
  }
}

}  // namespace
}  // namespace latent::train
