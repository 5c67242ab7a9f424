// The public kernels (kernels.h) on CPU: OpenMP threads over independent output rows / heads, each
// thread running the reference inner loops. This is the sane threaded baseline; the SIMD issue
// replaces the inner loops here without touching callers.
#include <omp.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/dot_kernels.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/dtype.h"

namespace latent::kernels {
namespace {
int g_threads = 0;  // 0 → OpenMP's default

// Waking a thread costs a few microseconds; below this many multiply-adds per thread it does not
// pay.
constexpr int64_t kMinWorkPerThread = 1 << 15;

int threads_for(int64_t work_items, int64_t macs_total) {
  const int64_t by_work = std::max<int64_t>(1, macs_total / kMinWorkPerThread);
  return static_cast<int>(
      std::max<int64_t>(1, std::min({int64_t{num_threads()}, work_items, by_work})));
}
}  // namespace

void set_num_threads(int n) {
  g_threads = n > 0 ? n : 0;
}
int num_threads() {
  return g_threads > 0 ? g_threads : omp_get_max_threads();
}

namespace {

// The reference path: each thread dequantizes its weight rows to f32 and takes dot products.
void matmul_reference(const float* x, int64_t m, const TensorView& w, float* out) {
  const int64_t n = w.rows();
  const int nt = threads_for(n, m * n * w.cols());
#pragma omp parallel num_threads(nt)
  {
    std::vector<float> row_buf(static_cast<size_t>(w.cols()));
    const int64_t tid = omp_get_thread_num(), cnt = omp_get_num_threads();
    const int64_t n0 = n * tid / cnt, n1 = n * (tid + 1) / cnt;
    ref::matmul_rows(x, m, w, n0, n1, out, row_buf.data());
  }
}

// Weight rows per cache block: a block stays in L1/L2 while every activation row streams past it.
constexpr int64_t kBlockRows = 16;

void matmul_fast(const cpu::DotKernel& dk, const float* x, int64_t m, const TensorView& w,
                 float* out) {
  const int64_t n = w.rows(), k = w.cols();
  const int64_t act_bytes = dtype_row_bytes(dk.act_type, k), w_bytes = w.row_bytes();
  // Grow-only: matmul runs on the engine thread, so one buffer serves every call.
  static thread_local std::vector<uint8_t> act;
  if (static_cast<int64_t>(act.size()) < m * act_bytes)
    act.resize(static_cast<size_t>(m * act_bytes));
  const auto* wb = static_cast<const uint8_t*>(w.data);
  const int nt = threads_for(n / cpu::kTileRows + 1, m * n * k);
#pragma omp parallel num_threads(nt)
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m; ++i) dk.convert_act(x + i * k, act.data() + i * act_bytes, k);
    // Split weight rows evenly in whole tiles; each thread walks its rows block by block.
    const int64_t tiles = (n + cpu::kTileRows - 1) / cpu::kTileRows;
    const int64_t tid = omp_get_thread_num(), cnt = omp_get_num_threads();
    const int64_t n0 = std::min(n, tiles * tid / cnt * cpu::kTileRows);
    const int64_t n1 = std::min(n, tiles * (tid + 1) / cnt * cpu::kTileRows);
    for (int64_t jb = n0; jb < n1; jb += kBlockRows) {
      const int64_t je = std::min(n1, jb + kBlockRows);
      for (int64_t i = 0; i < m; i += cpu::kTileCols) {
        const int cols = static_cast<int>(std::min<int64_t>(cpu::kTileCols, m - i));
        for (int64_t j = jb; j < je; j += cpu::kTileRows) {
          const int rows = static_cast<int>(std::min<int64_t>(cpu::kTileRows, je - j));
          dk.tile(k, wb + j * w_bytes, w_bytes, rows, act.data() + i * act_bytes, act_bytes, cols,
                  out + i * n + j, n);
        }
      }
    }
  }
}

}  // namespace

void matmul(const float* x, int64_t m, const TensorView& w, float* out) {
  const cpu::DotKernel* dk = cpu::find_dot_kernel(w.dtype, cpu::active_isa());
  if (dk) {
    matmul_fast(*dk, x, m, w, out);
  } else {
    matmul_reference(x, m, w, out);
  }
}

void get_rows(const TensorView& table, const int32_t* ids, int64_t n_ids, float* out) {
  ref::get_rows(table, ids, n_ids, out);
}

void rms_norm(const float* x, const float* weight, int64_t rows, int64_t n, float eps, float* out) {
  ref::rms_norm(x, weight, rows, n, eps, out);
}

void add_bias(float* x, const float* bias, int64_t rows, int64_t n) {
  ref::add_bias(x, bias, rows, n);
}
void add(const float* a, const float* b, int64_t n, float* out) {
  ref::add(a, b, n, out);
}
void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  ref::swiglu(gate, up, n, out);
}

void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const int32_t* pos,
          const RopeParams& params) {
  ref::rope(x, n_tokens, n_heads, head_dim, pos, params);
}

void attention(const float* q, const float* k, const float* v, const int32_t* pos, float* out,
               const AttentionParams& p) {
  int32_t max_pos = 0;
  for (int64_t t = 0; t < p.n_tokens; ++t) max_pos = std::max(max_pos, pos[t]);
  const int64_t group = p.n_head / p.n_head_kv;
  const int64_t work = p.n_tokens * p.n_head;
  const int nt = threads_for(work, work * (int64_t{max_pos} + 1) * p.head_dim);
#pragma omp parallel num_threads(nt)
  {
    std::vector<float> scores(static_cast<size_t>(max_pos) + 1);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < work; ++i) {
      const int64_t t = i / p.n_head, h = i % p.n_head;
      const int64_t off = (t * p.n_head + h) * p.head_dim;
      ref::attention_head(q + off, k, v, pos[t], h / group, out + off, scores.data(), p);
    }
  }
}

}  // namespace latent::kernels
