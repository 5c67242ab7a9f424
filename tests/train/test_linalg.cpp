// The training matmuls against plain double-precision loops, over sizes that leave every kind of
// tile edge (tokens, weight rows and the reduced dimension not multiples of the tiles).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "train/linalg.h"

namespace latent::train {
namespace {

std::vector<float> random_values(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

// |got − want| within a few float roundings of a sum of `terms` products of magnitude ≤ 1.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, int64_t terms,
                  const char* what) {
  ASSERT_EQ(got.size(), want.size());
  const double tol = 1e-6 * static_cast<double>(terms) + 1e-6;
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol) << what << " element " << i;
}

TEST(TrainMatmul, AllThreeProductsMatchPlainLoopsOverAwkwardSizes) {
  std::mt19937 rng(7);
  for (int64_t T : {1, 3, 4, 5, 9, 13})
    for (int64_t N : {1, 2, 3, 4, 7, 17, 101})
      for (int64_t K : {1, 7, 8, 16, 17, 40, 192}) {
        SCOPED_TRACE("T=" + std::to_string(T) + " N=" + std::to_string(N) +
                     " K=" + std::to_string(K));
        const auto x = random_values(static_cast<size_t>(T * K), rng);
        const auto w = random_values(static_cast<size_t>(N * K), rng);
        const auto dout = random_values(static_cast<size_t>(T * N), rng);
        const auto dx0 = random_values(static_cast<size_t>(T * K), rng);
        const auto dw0 = random_values(static_cast<size_t>(N * K), rng);

        std::vector<float> out(static_cast<size_t>(T * N), 123.0f);
        matmul_forward(out.data(), x.data(), w.data(), T, N, K);
        std::vector<double> want_out(out.size());
        for (int64_t t = 0; t < T; ++t)
          for (int64_t n = 0; n < N; ++n) {
            double s = 0.0;
            for (int64_t k = 0; k < K; ++k) s += double(x[t * K + k]) * w[n * K + k];
            want_out[static_cast<size_t>(t * N + n)] = s;
          }
        expect_close(out, want_out, K, "forward");

        // The backward products accumulate into what is there.
        std::vector<float> dx = dx0;
        matmul_backward_x(dx.data(), dout.data(), w.data(), T, N, K);
        std::vector<double> want_dx(dx.size());
        for (int64_t t = 0; t < T; ++t)
          for (int64_t k = 0; k < K; ++k) {
            double s = dx0[static_cast<size_t>(t * K + k)];
            for (int64_t n = 0; n < N; ++n) s += double(dout[t * N + n]) * w[n * K + k];
            want_dx[static_cast<size_t>(t * K + k)] = s;
          }
        expect_close(dx, want_dx, N + 1, "backward_x");

        std::vector<float> dw = dw0;
        matmul_backward_w(dw.data(), dout.data(), x.data(), T, N, K);
        std::vector<double> want_dw(dw.size());
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = 0; k < K; ++k) {
            double s = dw0[static_cast<size_t>(n * K + k)];
            for (int64_t t = 0; t < T; ++t) s += double(dout[t * N + n]) * x[t * K + k];
            want_dw[static_cast<size_t>(n * K + k)] = s;
          }
        expect_close(dw, want_dw, T + 1, "backward_w");
      }
}

}  // namespace
}  // namespace latent::train
