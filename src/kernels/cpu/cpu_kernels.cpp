// The public kernels (kernels.h) on CPU: OpenMP threads over independent output rows / heads, each
// thread running the active ISA's inner loops (cpu/avx512/, cpu/avx2/ via dot_kernels.h and
// float_ops.h) or the reference loops where there is no fast path (scalar CPUs, odd shapes).
#include <omp.h>

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "kernels/cpu/dot_kernels.h"
#include "kernels/cpu/float_ops.h"
#include "kernels/cpu/packed.h"
#include "kernels/cpu/unit_ranges.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "tensor/dtype.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

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
void release_worker_threads() {
  // libgomp: frees the calling thread's pool (its workers exit); a no-op inside a parallel region.
  omp_pause_resource_all(omp_pause_soft);
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

// The calling thread's work ranges, reset for a region of n_units over nt threads. A pointer, to be
// captured before the region: inside it a thread_local name is each worker's own (empty) object.
// One object serves every region (the kernels' regions never nest).
cpu::UnitRanges* ranges_for_region(int64_t n_units, int nt) {
  static thread_local cpu::UnitRanges ranges;
  ranges.reset(n_units, nt);
  return &ranges;
}

// Weight rows per cache block: a block stays in L1/L2 while every activation row streams past it.
constexpr int64_t kBlockRows = 16;

void matmul_fast(const cpu::DotKernel& batch_dk, const float* x, int64_t m, const TensorView& w,
                 float* out) {
  const cpu::DotKernel& dk = m == 1 && batch_dk.one_row ? *batch_dk.one_row : batch_dk;
  const int64_t n = w.rows(), k = w.cols();
  const int64_t w_bytes = w.row_bytes();
  // Activation rows an odd number of cache lines apart: rows a power of two apart (bf16 K = 2048:
  // 4 KiB) fall into the same L1 set and a tile's rows evict each other (BF16 prefill +25%).
  const int64_t act_lines = (cpu::act_row_bytes(dk, k) + 63) / 64;
  const int64_t act_bytes = 64 * (act_lines | 1);
  // Grow-only: matmul runs on the engine thread, so one buffer serves every call.
  static thread_local std::vector<uint8_t> act;
  if (static_cast<int64_t>(act.size()) < m * act_bytes)
    act.resize(static_cast<size_t>(m * act_bytes));
  // The workers must use this thread's buffer: inside the region `act` names their own (empty) one.
  uint8_t* const act_buf = act.data();
  const auto* wb = static_cast<const uint8_t*>(w.data);
  const int nt = threads_for(n / cpu::kTileRows + 1, m * n * k);
  // A single activation row is a pure stream: one weight row at a time keeps each thread's reads
  // one sequential run instead of kTileRows interleaved ones (AVX-512 F16 decode ~5% faster). Only
  // with a one-row kernel: a kernel without one (AVX2) would run a 1×1 tile, a single FMA chain
  // bound by its latency (F16 M=1 at 23 GB/s on two Zen 3 cores; 4 rows: 51–58). Each output is
  // computed the same way whatever the tile's rows, so this changes no result.
  const bool one_stream = m == 1 && batch_dk.one_row;
  cpu::UnitRanges* const ranges = ranges_for_region((n + kBlockRows - 1) / kBlockRows, nt);
#pragma omp parallel num_threads(nt)
  {
#pragma omp for schedule(static)
    for (int64_t i = 0; i < m; ++i) dk.convert_act(x + i * k, act_buf + i * act_bytes, k);
    // Blocks of kBlockRows weight rows, one contiguous range of them per thread (unit_ranges.h).
    // A row's result does not depend on which thread computes it.
    const int t = omp_get_thread_num();
    for (int64_t blk; (blk = ranges->next(t)) >= 0;) {
      const int64_t jb = blk * kBlockRows, je = std::min(n, jb + kBlockRows);
      for (int64_t i = 0; i < m; i += dk.max_cols) {
        const int cols = static_cast<int>(std::min<int64_t>(dk.max_cols, m - i));
        const int64_t tr = one_stream ? 1 : cpu::kTileRows;
        for (int64_t j = jb; j < je; j += tr) {
          const int rows = static_cast<int>(std::min<int64_t>(tr, je - j));
          dk.tile(k, wb + j * w_bytes, w_bytes, rows, act_buf + i * act_bytes, act_bytes, cols,
                  out + i * n + j, n);
        }
      }
    }
  }
}

// A prepared (packed) weight with no packed kernel at this ISA: unpack it (exactly) and take the
// reference path. Only reached when the ISA cap drops after load.
void matmul_unpacked(const float* x, int64_t m, const TensorView& w, float* out) {
  std::vector<uint8_t> bytes(static_cast<size_t>(w.nbytes()));
  for (int64_t r = 0; r < w.rows(); ++r)
    cpu::unpack_row(w.dtype, static_cast<const uint8_t*>(w.data), w.rows(), w.cols(), r,
                    bytes.data() + r * w.row_bytes());
  TensorView v = w;
  v.data = bytes.data();
  matmul_reference(x, m, v, out);
}

// Activation rows per cache block of the packed path: their Q8_0 rows stay in L2 while the
// thread's weight groups stream past them.
constexpr int64_t kPackedColBlock = 64;
// Weight groups (of 16 rows) per work unit: small enough that a 256-row K/V projection still
// splits over threads and that a delayed thread's remaining units can be taken over.
constexpr int64_t kPackedUnitGroups = 4;

// One product of the packed path: its kernels, sizes and where its converted activations sit.
struct PackedJob {
  const cpu::PackedKernel* pk = nullptr;
  const cpu::DotKernel* ak = nullptr;
  const float* x = nullptr;
  float* out = nullptr;
  const uint8_t* w = nullptr;
  bool super = false;  // Q8_K activations (k-quants) rather than Q8_0
  int64_t m = 0, n = 0, k = 0, nb = 0, act_bytes = 0, chunk = 0, groups = 0;
  int64_t units_per_block = 0, n_blocks = 0;
  int64_t act_off = 0, info_off = 0;  // this job's offsets in the shared buffers
  int64_t units() const { return units_per_block * n_blocks; }
};

PackedJob packed_job(const cpu::PackedKernel& pk, const cpu::DotKernel& ak, const float* x,
                     int64_t m, const TensorView& w, float* out) {
  PackedJob j;
  j.pk = &pk;
  j.ak = &ak;
  j.x = x;
  j.out = out;
  j.w = static_cast<const uint8_t*>(w.data);
  j.super = pk.act_type == DType::Q8_K;
  j.m = m;
  j.n = w.rows();
  j.k = w.cols();
  j.nb = j.k / (j.super ? kQK_K : kQK);
  j.act_bytes = dtype_row_bytes(pk.act_type, j.k);
  j.chunk = cpu::packed_bytes(w.dtype, cpu::kPackRows, j.k);  // one group's bytes
  j.groups = (j.n + cpu::kPackRows - 1) / cpu::kPackRows;
  j.units_per_block = (j.groups + kPackedUnitGroups - 1) / kPackedUnitGroups;
  j.n_blocks = (m + kPackedColBlock - 1) / kPackedColBlock;
  return j;
}

// Activation row i of job j to the kernel's 8-bit blocks, with each block's scale and sum.
void convert_packed_row(const PackedJob& j, int64_t i, uint8_t* act, cpu::ActBlockInfo* info,
                        cpu::ActSuperInfo* sinfo) {
  uint8_t* row = act + j.act_off + i * j.act_bytes;
  j.ak->convert_act(j.x + i * j.k, row, j.k);
  for (int64_t b = 0; b < j.nb; ++b) {
    if (j.super) {
      const auto* blk = reinterpret_cast<const BlockQ8_K*>(row + b * sizeof(BlockQ8_K));
      cpu::ActSuperInfo& si = sinfo[j.info_off + i * j.nb + b];
      si.d = blk->d;
      for (int p = 0; p < 4; ++p) {
        const int s0 = blk->bsums[4 * p] + blk->bsums[4 * p + 1];
        const int s1 = blk->bsums[4 * p + 2] + blk->bsums[4 * p + 3];
        si.bs[p] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(s0)) |
                                        static_cast<uint32_t>(static_cast<uint16_t>(s1)) << 16);
      }
    } else {
      const auto* blk = reinterpret_cast<const BlockQ8_0*>(row + b * sizeof(BlockQ8_0));
      int32_t sum = 0;
      for (int q = 0; q < kQK; ++q) sum += blk->qs[q];
      info[j.info_off + i * j.nb + b] = {fp16_to_fp32(blk->d), -j.pk->offset * sum};
    }
  }
}

// Unit u of job j: kPackedUnitGroups weight groups × one block of kPackedColBlock activation rows.
void run_packed_unit(const PackedJob& j, int64_t u, const uint8_t* act,
                     const cpu::ActBlockInfo* info, const cpu::ActSuperInfo* sinfo) {
  const cpu::PackedKernel& pk = *j.pk;
  const uint8_t* act_buf = act + j.act_off;
  const auto* info_base = j.super ? reinterpret_cast<const uint8_t*>(sinfo + j.info_off)
                                  : reinterpret_cast<const uint8_t*>(info + j.info_off);
  const int64_t info_size = j.super ? sizeof(cpu::ActSuperInfo) : sizeof(cpu::ActBlockInfo);
  const int64_t i0 = u / j.units_per_block * kPackedColBlock;
  const int64_t i1 = std::min(j.m, i0 + kPackedColBlock);
  const int64_t g0 = u % j.units_per_block * kPackedUnitGroups;
  const int64_t g1 = std::min(j.groups, g0 + kPackedUnitGroups);
  for (int64_t g = g0; g < g1; ++g) {
    const int rows = static_cast<int>(std::min<int64_t>(cpu::kPackRows, j.n - g * cpu::kPackRows));
    for (int64_t i = i0; i < i1; i += pk.max_cols) {
      const int cols = static_cast<int>(std::min<int64_t>(pk.max_cols, i1 - i));
      pk.tile(j.k, j.w + g * j.chunk, act_buf + i * j.act_bytes, j.act_bytes,
              info_base + i * j.nb * info_size, j.nb, cols, j.out + i * j.n + g * cpu::kPackRows,
              j.n, rows);
    }
  }
}

// The packed products of `jobs` in one parallel region: every activation row converted, then every
// unit of every job handed out dynamically, so small products (per-head, per-expert) share one
// fork and one barrier instead of paying them each. A unit's results do not depend on which
// thread runs it nor on the other jobs, so a job's output equals its lone matmul bitwise.
void run_packed(std::vector<PackedJob>& jobs) {
  static thread_local std::vector<uint8_t> act;
  static thread_local std::vector<cpu::ActBlockInfo> info;
  static thread_local std::vector<cpu::ActSuperInfo> sinfo;
  static thread_local std::vector<int64_t> row_start, unit_start, converting;
  int64_t act_total = 0, info_total = 0, sinfo_total = 0, groups = 0, macs = 0;
  row_start.assign(1, 0);
  unit_start.assign(1, 0);
  converting.clear();
  for (size_t i = 0; i < jobs.size(); ++i) {
    PackedJob& j = jobs[i];
    // Products of the same activations for the same kernels (q, k and v of one input) share one
    // conversion (the block sums carry the kernel's weight offset).
    const auto end = jobs.begin() + static_cast<int64_t>(i);
    const auto same = std::find_if(jobs.begin(), end, [&](const PackedJob& o) {
      return o.x == j.x && o.m == j.m && o.k == j.k && o.ak == j.ak && o.pk == j.pk;
    });
    if (same != end) {
      j.act_off = same->act_off;
      j.info_off = same->info_off;
    } else {
      j.act_off = act_total;
      act_total += j.m * j.act_bytes;
      int64_t& slots = j.super ? sinfo_total : info_total;
      j.info_off = slots;
      slots += j.m * j.nb;
      converting.push_back(static_cast<int64_t>(i));
      row_start.push_back(row_start.back() + j.m);
    }
    groups += j.groups;
    macs += j.m * j.n * j.k;
    unit_start.push_back(unit_start.back() + j.units());
  }
  // Grow-only: matmul runs on the engine thread, so one buffer serves every call.
  if (static_cast<int64_t>(act.size()) < act_total) act.resize(static_cast<size_t>(act_total));
  if (static_cast<int64_t>(info.size()) < info_total) info.resize(static_cast<size_t>(info_total));
  if (static_cast<int64_t>(sinfo.size()) < sinfo_total)
    sinfo.resize(static_cast<size_t>(sinfo_total));
  // The workers must use this thread's buffers: inside the region the names are their own.
  uint8_t* const act_buf = act.data();
  cpu::ActBlockInfo* const info_buf = info.data();
  cpu::ActSuperInfo* const sinfo_buf = sinfo.data();
  const std::span<const int64_t> rows_at(row_start), units_at(unit_start);
  const int64_t* const conv = converting.data();
  const PackedJob* const job = jobs.data();
  // The entry of a prefix-sum table holding flat index i.
  auto find = [](std::span<const int64_t> starts, int64_t i) {
    return std::upper_bound(starts.begin(), starts.end(), i) - starts.begin() - 1;
  };
  const int nt = threads_for(groups, macs);
  cpu::UnitRanges* const ranges = ranges_for_region(units_at.back(), nt);
#pragma omp parallel num_threads(nt)
  {
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows_at.back(); ++r) {
      const int64_t c = find(rows_at, r);
      convert_packed_row(job[conv[c]], r - rows_at[c], act_buf, info_buf, sinfo_buf);
    }
    const int t = omp_get_thread_num();
    for (int64_t u; (u = ranges->next(t)) >= 0;) {
      const int64_t j = find(units_at, u);
      run_packed_unit(job[j], u - units_at[j], act_buf, info_buf, sinfo_buf);
    }
  }
}

}  // namespace

namespace {

// The packed kernels for w, or {nullptr, nullptr} when w is not packed or this ISA lacks them.
std::pair<const cpu::PackedKernel*, const cpu::DotKernel*> packed_kernels(const TensorView& w) {
  if (!cpu::is_packed(w.data)) return {nullptr, nullptr};
  const cpu::PackedKernel* pk = cpu::find_packed_kernel(w.dtype, cpu::active_isa());
  const cpu::DotKernel* ak = cpu::find_dot_kernel(w.dtype, cpu::active_isa());
  if (pk && ak && ak->act_type == pk->act_type) return {pk, ak};
  return {nullptr, nullptr};
}

}  // namespace

void matmul(const float* x, int64_t m, const TensorView& w, float* out) {
  if (auto [pk, ak] = packed_kernels(w); pk) {
    static thread_local std::vector<PackedJob> one(1);
    one[0] = packed_job(*pk, *ak, x, m, w, out);
    return run_packed(one);
  }
  if (cpu::is_packed(w.data)) return matmul_unpacked(x, m, w, out);
  const cpu::DotKernel* dk = cpu::find_dot_kernel(w.dtype, cpu::active_isa());
  if (dk) {
    matmul_fast(*dk, x, m, w, out);
  } else {
    matmul_reference(x, m, w, out);
  }
}

void matmul_batch(std::span<const MatmulJob> jobs) {
  static thread_local std::vector<PackedJob> packed;
  packed.clear();
  for (const MatmulJob& j : jobs) {
    if (j.m == 0) continue;
    if (auto [pk, ak] = packed_kernels(*j.w); pk) {
      packed.push_back(packed_job(*pk, *ak, j.x, j.m, *j.w, j.out));
    } else {
      matmul(j.x, j.m, *j.w, j.out);
    }
  }
  if (!packed.empty()) run_packed(packed);
}

void get_rows(const TensorView& table, const int32_t* ids, int64_t n_ids, float* out) {
  if (cpu::is_packed(table.data)) {
    // One row at a time through the exact unpack.
    std::vector<uint8_t> row(static_cast<size_t>(table.row_bytes()));
    TensorView one = table;
    one.shape[0] = 1;
    one.data = row.data();
    const int32_t zero = 0;
    for (int64_t i = 0; i < n_ids; ++i) {
      cpu::unpack_row(table.dtype, static_cast<const uint8_t*>(table.data), table.rows(),
                      table.cols(), ids[i], row.data());
      ref::get_rows(one, &zero, 1, out + i * table.cols());
    }
    return;
  }
  ref::get_rows(table, ids, n_ids, out);
}

namespace {

// The active ISA's float ops, or null on a CPU without AVX2 (→ reference loops).
const cpu::FloatOps* float_ops() {
  switch (cpu::active_isa()) {
    case cpu::Isa::kAvx512:
      return &cpu::float_ops_avx512();
    case cpu::Isa::kAvx2:
      return &cpu::float_ops_avx2();
    default:
      return nullptr;
  }
}

// Elementwise work below this many floats per thread stays on one thread.
constexpr int64_t kMinFloatsPerThread = 1 << 14;

// fn(i0, i1) over [0, n) split into contiguous ranges (multiples of 16) across threads.
template <class Fn>
void parallel_ranges(int64_t n, Fn fn) {
  const int nt = threads_for(n / 16 + 1, n * (kMinWorkPerThread / kMinFloatsPerThread));
  if (nt <= 1) {
    fn(int64_t{0}, n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    const int64_t tid = omp_get_thread_num(), cnt = omp_get_num_threads();
    const int64_t i0 = std::min(n, (n / 16 * tid / cnt) * 16);
    const int64_t i1 = tid == cnt - 1 ? n : std::min(n, (n / 16 * (tid + 1) / cnt) * 16);
    fn(i0, i1);
  }
}

}  // namespace

void rms_norm(const float* x, const float* weight, int64_t rows, int64_t n, float eps, float* out) {
  const cpu::FloatOps* ops = float_ops();
  if (!ops) return ref::rms_norm(x, weight, rows, n, eps, out);
  const int nt = threads_for(rows, rows * n * (kMinWorkPerThread / kMinFloatsPerThread));
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; ++r) ops->rms_norm_row(x + r * n, weight, n, eps, out + r * n);
}

void add_bias(float* x, const float* bias, int64_t rows, int64_t n) {
  const cpu::FloatOps* ops = float_ops();
  if (!ops) return ref::add_bias(x, bias, rows, n);
  for (int64_t r = 0; r < rows; ++r) ops->add(x + r * n, bias, n, x + r * n);
}
void add(const float* a, const float* b, int64_t n, float* out) {
  const cpu::FloatOps* ops = float_ops();
  if (!ops) return ref::add(a, b, n, out);
  parallel_ranges(n, [&](int64_t i0, int64_t i1) { ops->add(a + i0, b + i0, i1 - i0, out + i0); });
}
void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  const cpu::FloatOps* ops = float_ops();
  if (!ops) return ref::swiglu(gate, up, n, out);
  parallel_ranges(
      n, [&](int64_t i0, int64_t i1) { ops->swiglu(gate + i0, up + i0, i1 - i0, out + i0); });
}

namespace {

// Every layer (and Q and K) rotates the same positions by the same angles: the cos/sin of a
// position are computed once by the reference formula and kept while the parameters stay the same,
// so the results equal ref::rope bitwise.
struct RopeTable {
  RopeParams key;
  std::vector<float> factors;  // a copy of *key.freq_factors: the pointer alone could be reused
  std::vector<float> cs;       // [pos][n_rot]
  std::vector<uint8_t> have;   // [pos]
};

bool same_rope(const RopeTable& t, const RopeParams& b) {
  const RopeParams& a = t.key;
  if (a.n_rot != b.n_rot || (a.freq_factors == nullptr) != (b.freq_factors == nullptr))
    return false;
  if (b.freq_factors && !std::equal(t.factors.begin(), t.factors.end(), b.freq_factors))
    return false;
  return a.mode == b.mode && a.n_rot == b.n_rot && a.freq_base == b.freq_base &&
         a.freq_scale == b.freq_scale && a.ext_factor == b.ext_factor && a.yarn_low == b.yarn_low &&
         a.yarn_high == b.yarn_high && a.mscale == b.mscale;
}

}  // namespace

void rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, const int32_t* pos,
          const RopeParams& params) {
  static thread_local RopeTable table;
  if (!same_rope(table, params)) {
    table.key = params;
    table.factors.assign(params.freq_factors,
                         params.freq_factors + (params.freq_factors ? params.n_rot / 2 : 0));
    table.cs.clear();
    table.have.clear();
  }
  const int64_t width = params.n_rot;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const auto p = static_cast<size_t>(pos[t]);
    if (p >= table.have.size()) {
      table.have.resize(p + 1, 0);
      table.cs.resize((p + 1) * static_cast<size_t>(width));
    }
    float* cs = table.cs.data() + p * static_cast<size_t>(width);
    if (!table.have[p]) {
      ref::rope_cos_sin(params, pos[t], cs);
      table.have[p] = 1;
    }
    ref::rope_apply(x + t * n_heads * head_dim, n_heads, head_dim, cs, params);
  }
}

void attention(const float* q, const PagedKvView& kv, const int32_t* pos, float* out,
               const AttentionParams& p) {
  int32_t max_pos = 0;
  for (int64_t t = 0; t < p.n_tokens; ++t) max_pos = std::max(max_pos, pos[t]);
  const int64_t group = p.n_head / p.n_head_kv;
  const int64_t work = p.n_tokens * p.n_head;
  const int nt = threads_for(work, work * (int64_t{max_pos} + 1) * p.head_dim);
  const cpu::FloatOps* ops = float_ops();
  if (ops && ops->attention_heads_wide && (p.head_dim > cpu::kMaxFastHeadDim || group >= 2) &&
      p.head_dim <= cpu::kMaxWideHeadDim) {
    // Items are (token, KV head, a run of its query heads): each item reads the rows once for all
    // its heads. Runs are as long as possible while there are still items for every thread. Also
    // taken by grouped-query heads of any width (TinyLlama's 8 heads per KV head: prefill 1.7×,
    // decode 2× the per-head kernel's rate, bench_attention); with one query head per KV head the
    // per-head kernel below is faster.
    const int64_t per_kv = p.n_tokens * p.n_head_kv;
    int64_t chunks = std::max<int64_t>(1, (nt + per_kv - 1) / per_kv);
    chunks = std::max(chunks, (group + cpu::kMaxWideGroup - 1) / cpu::kMaxWideGroup);
    chunks = std::min(chunks, group);
    const int64_t per = (group + chunks - 1) / chunks;
    const int64_t items = per_kv * chunks;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t i = 0; i < items; ++i) {
      const int64_t t = i / (p.n_head_kv * chunks), g = i / chunks % p.n_head_kv;
      const int64_t h0 = g * group + i % chunks * per;
      const int64_t n_q = std::min(per, (g + 1) * group - h0);
      if (n_q <= 0) continue;
      const int64_t off = (t * p.n_head + h0) * p.head_dim;
      ops->attention_heads_wide(q + off, kv, kv.tables[t], pos[t], g, n_q, out + off, p);
    }
    return;
  }
  if (ops && p.head_dim <= cpu::kMaxFastHeadDim) {
    // Fused online softmax, no scratch. Items are (token, head), handed out one at a time: their
    // cost grows with pos[t] in a causal prefill, and a thread the OS delays takes fewer.
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t i = 0; i < work; ++i) {
      const int64_t t = i / p.n_head, h = i % p.n_head;
      const int64_t off = (t * p.n_head + h) * p.head_dim;
      ops->attention_head(q + off, kv, kv.tables[t], pos[t], h / group, out + off, p);
    }
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    std::vector<float> scores(static_cast<size_t>(max_pos) + 1);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < work; ++i) {
      const int64_t t = i / p.n_head, h = i % p.n_head;
      const int64_t off = (t * p.n_head + h) * p.head_dim;
      ref::attention_head(q + off, kv, kv.tables[t], pos[t], h / group, out + off, scores.data(),
                          p);
    }
  }
}

void attention(const float* q, const float* k, const float* v, const int32_t* pos, float* out,
               const AttentionParams& p) {
  // A dense cache is one block holding every position.
  int32_t max_pos = 0;
  for (int64_t t = 0; t < p.n_tokens; ++t) max_pos = std::max(max_pos, pos[t]);
  const int32_t block0 = 0;
  const std::vector<const int32_t*> tables(static_cast<size_t>(p.n_tokens), &block0);
  attention(q, PagedKvView{k, v, tables.data(), max_pos + 1}, pos, out, p);
}

}  // namespace latent::kernels

namespace latent::kernels {
void moe_route(const float* logits, int64_t n_tokens, const MoeRouteParams& params, int32_t* ids,
               float* weights) {
  ref::moe_route(logits, n_tokens, params, ids, weights);
}
}  // namespace latent::kernels
