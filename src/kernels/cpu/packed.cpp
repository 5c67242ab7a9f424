// The packed weight layout (packed.h): conversions to and from the GGUF layout, the registry of
// packed buffers that matmul and get_rows consult, kernels::prepare_weights, and the kernel lookup.
#include "kernels/cpu/packed.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "kernels/kernels.h"
#include "tensor/quant_blocks.h"

namespace latent::kernels::cpu {
namespace {

// Bytes of one block's quants (Q4_0: 16 nibble bytes, Q8_0: 32) and of its fp16 scale.
int64_t qs_bytes(DType type) {
  return type == DType::Q4_0 ? kQK / 2 : kQK;
}
uint8_t qs_xor(DType type) {
  return type == DType::Q8_0 ? 0x80 : 0x00;
}
constexpr int64_t kQ4KChunk = kPackRows * (4 + 16 + kQK_K / 2);                     // 2368
constexpr int64_t kQ6KChunk = kPackRows * static_cast<int64_t>(sizeof(BlockQ6_K));  // 3360
bool super_block(DType type) {
  return type == DType::Q4_K || type == DType::Q6_K;
}
int64_t block_elems(DType type) {
  return super_block(type) ? kQK_K : kQK;
}
int64_t chunk_bytes(DType type) {
  if (type == DType::Q4_K) return kQ4KChunk;
  if (type == DType::Q6_K) return kQ6KChunk;
  return kPackRows * (2 + qs_bytes(type));
}

// Q4_K: one row's block ↔ its slots in a chunk.
void pack_q4k(const BlockQ4_K& blk, int64_t r, uint8_t* chunk) {
  std::memcpy(chunk + 2 * r, &blk.d, 2);
  std::memcpy(chunk + 2 * kPackRows + 2 * r, &blk.dmin, 2);
  for (int g = 0; g < 8; ++g) {
    const ScaleMin sm = k4_scale_min(blk.scales, g);
    chunk[4 * kPackRows + g * kPackRows + r] = sm.scale;
    chunk[12 * kPackRows + g * kPackRows + r] = sm.min;
  }
  for (int j = 0; j < kQK_K / 8; ++j)
    std::memcpy(chunk + 20 * kPackRows + (j * kPackRows + r) * 4, blk.qs + 4 * j, 4);
}
void unpack_q4k(const uint8_t* chunk, int64_t r, BlockQ4_K& blk) {
  std::memcpy(&blk.d, chunk + 2 * r, 2);
  std::memcpy(&blk.dmin, chunk + 2 * kPackRows + 2 * r, 2);
  uint8_t sc[8], m[8];
  for (int g = 0; g < 8; ++g) {
    sc[g] = chunk[4 * kPackRows + g * kPackRows + r];
    m[g] = chunk[12 * kPackRows + g * kPackRows + r];
  }
  // The inverse of k4_scale_min: all 96 bits are used, so this restores the bytes exactly.
  for (int j = 0; j < 4; ++j) {
    blk.scales[j] = static_cast<uint8_t>(sc[j] | (sc[j + 4] >> 4) << 6);
    blk.scales[j + 4] = static_cast<uint8_t>(m[j] | (m[j + 4] >> 4) << 6);
    blk.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
  }
  for (int j = 0; j < kQK_K / 8; ++j)
    std::memcpy(blk.qs + 4 * j, chunk + 20 * kPackRows + (j * kPackRows + r) * 4, 4);
}

// Q6_K: one row's block ↔ its slots in a chunk (offsets in packed.h).
void pack_q6k(const BlockQ6_K& blk, int64_t r, uint8_t* chunk) {
  std::memcpy(chunk + 2 * r, &blk.d, 2);
  for (int j = 0; j < kQK_K / 16; ++j)
    std::memcpy(chunk + kQ6KScales + j * kPackRows + r, &blk.scales[j], 1);
  for (int j = 0; j < kQK_K / 8; ++j)
    std::memcpy(chunk + kQ6KLow + (j * kPackRows + r) * 4, blk.ql + 4 * j, 4);
  for (int j = 0; j < kQK_K / 16; ++j)
    std::memcpy(chunk + kQ6KHigh + (j * kPackRows + r) * 4, blk.qh + 4 * j, 4);
}
void unpack_q6k(const uint8_t* chunk, int64_t r, BlockQ6_K& blk) {
  std::memcpy(&blk.d, chunk + 2 * r, 2);
  for (int j = 0; j < kQK_K / 16; ++j)
    std::memcpy(&blk.scales[j], chunk + kQ6KScales + j * kPackRows + r, 1);
  for (int j = 0; j < kQK_K / 8; ++j)
    std::memcpy(blk.ql + 4 * j, chunk + kQ6KLow + (j * kPackRows + r) * 4, 4);
  for (int j = 0; j < kQK_K / 16; ++j)
    std::memcpy(blk.qh + 4 * j, chunk + kQ6KHigh + (j * kPackRows + r) * 4, 4);
}

std::shared_mutex g_mutex;
std::unordered_set<const void*>& registry() {
  static std::unordered_set<const void*> r;
  return r;
}

}  // namespace

bool packable(DType type) {
  return type == DType::Q4_0 || type == DType::Q8_0 || type == DType::Q4_K || type == DType::Q6_K;
}

int64_t packed_bytes(DType type, int64_t n, int64_t k) {
  const int64_t groups = (n + kPackRows - 1) / kPackRows;
  return groups * (k / block_elems(type)) * chunk_bytes(type);
}

void pack_weights(DType type, const uint8_t* src, int64_t n, int64_t k, uint8_t* dst) {
  const int64_t nb = k / block_elems(type), row_bytes = dtype_row_bytes(type, k);
  const int64_t bb = row_bytes / nb, qb = qs_bytes(type), words = qb / 4;
  const int64_t groups = (n + kPackRows - 1) / kPackRows;
  const uint8_t x = qs_xor(type);
  // Groups are independent: the load-time repack runs on every kernel thread.
#pragma omp parallel for schedule(static) num_threads(kernels::num_threads())
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* chunk = dst + (g * nb + b) * chunk_bytes(type);
      if ((g + 1) * kPackRows > n) std::memset(chunk, 0, static_cast<size_t>(chunk_bytes(type)));
      for (int64_t r = 0; r < kPackRows; ++r) {
        const int64_t row = g * kPackRows + r;
        if (row >= n) break;  // padding rows stay zero: d = 0 contributes nothing
        const uint8_t* blk = src + row * row_bytes + b * bb;
        if (type == DType::Q4_K) {
          BlockQ4_K q;
          std::memcpy(&q, blk, sizeof q);
          pack_q4k(q, r, chunk);
          continue;
        }
        if (type == DType::Q6_K) {
          BlockQ6_K q;
          std::memcpy(&q, blk, sizeof q);
          pack_q6k(q, r, chunk);
          continue;
        }
        std::memcpy(chunk + 2 * r, blk, 2);
        const uint32_t x4 = x * 0x01010101u;
        for (int64_t j = 0; j < words; ++j) {
          uint32_t word;
          std::memcpy(&word, blk + 2 + 4 * j, 4);
          word ^= x4;
          std::memcpy(chunk + 2 * kPackRows + (j * kPackRows + r) * 4, &word, 4);
        }
      }
    }
}

void unpack_row(DType type, const uint8_t* packed, int64_t /*n*/, int64_t k, int64_t row,
                uint8_t* dst) {
  const int64_t nb = k / block_elems(type), bb = dtype_row_bytes(type, k) / nb;
  const int64_t qb = qs_bytes(type), words = qb / 4;
  const int64_t g = row / kPackRows, r = row % kPackRows;
  const uint8_t x = qs_xor(type);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* chunk = packed + (g * nb + b) * chunk_bytes(type);
    uint8_t* blk = dst + b * bb;
    if (type == DType::Q4_K) {
      BlockQ4_K q;
      unpack_q4k(chunk, r, q);
      std::memcpy(blk, &q, sizeof q);
      continue;
    }
    if (type == DType::Q6_K) {
      BlockQ6_K q;
      unpack_q6k(chunk, r, q);
      std::memcpy(blk, &q, sizeof q);
      continue;
    }
    std::memcpy(blk, chunk + 2 * r, 2);
    for (int64_t j = 0; j < words; ++j)
      for (int i = 0; i < 4; ++i)
        blk[2 + 4 * j + i] =
            static_cast<uint8_t>(chunk[2 * kPackRows + (j * kPackRows + r) * 4 + i] ^ x);
  }
}

bool is_packed(const void* data) {
  if (!data) return false;
  std::shared_lock lock(g_mutex);
  return registry().count(data) != 0;
}

const PackedKernel* find_packed_kernel(DType weight, Isa isa) {
  const PackedKernelSet* set = isa == Isa::kAvx512 ? &packed_kernels_avx512()
                               : isa == Isa::kAvx2 ? &packed_kernels_avx2()
                                                   : nullptr;
  if (!set) return nullptr;
  switch (weight) {
    case DType::Q4_0:
      return &set->q4_0;
    case DType::Q8_0:
      return &set->q8_0;
    case DType::Q4_K:
      return &set->q4_k;
    case DType::Q6_K:
      return &set->q6_k;
    default:
      return nullptr;
  }
}

}  // namespace latent::kernels::cpu

namespace latent::kernels {

namespace {

bool preparable(const TensorView& w) {
  using namespace cpu;
  if (w.n_dims != 2 || !w.data || !packable(w.dtype)) return false;
  if (w.cols() % block_elems(w.dtype) != 0) return false;
  return find_packed_kernel(w.dtype, active_isa()) != nullptr;
}

// One anonymous mapping for all the copies, aligned to and advised as 2 MiB pages: decode
// streams every weight once per token, and with 4 KiB pages the TLB misses cost ~10% of tg
// (TinyLlama Q4_0, transparent huge pages on vs off). Where the kernel has no THP it is just pages.
struct Arena {
  void* map = nullptr;
  size_t map_bytes = 0;
  std::vector<const void*> registered;
};

constexpr size_t kHugePage = size_t{2} << 20;

uint8_t* map_arena(size_t bytes, Arena& a) {
  a.map_bytes = bytes + kHugePage;  // slack to align the start
  a.map = mmap(nullptr, a.map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a.map == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(a.map);
  auto* base = reinterpret_cast<uint8_t*>((start + kHugePage - 1) / kHugePage * kHugePage);
  madvise(base, (bytes + kHugePage - 1) / kHugePage * kHugePage, MADV_HUGEPAGE);
  return base;
}

}  // namespace

std::shared_ptr<const void> prepare_weights(std::span<TensorView* const> weights,
                                            const std::function<void(const TensorView&)>& done) {
  using namespace cpu;
  // LATENT_REPACK=0 keeps the GGUF layout (A/B measurements).
  if (const char* env = std::getenv("LATENT_REPACK"); env && std::string_view(env) == "0")
    return nullptr;
  std::vector<TensorView*> chosen;
  std::vector<int64_t> offset;
  int64_t total = 0;
  std::vector<bool> copy;  // no packed layout: the same bytes, moved onto the arena's pages
  for (TensorView* w : weights) {
    if (!w || w->n_dims != 2 || !w->data) continue;
    const bool pack = preparable(*w);
    chosen.push_back(w);
    copy.push_back(!pack);
    offset.push_back(total);
    // 64-byte aligned so every chunk's quant words start on a cache line (chunks are 288/576 B).
    const int64_t bytes = pack ? packed_bytes(w->dtype, w->rows(), w->cols()) : w->nbytes();
    total += (bytes + 63) / 64 * 64;
  }
  if (chosen.empty()) return nullptr;
  // The copies replace the mapped file in memory: a model near or over the machine's RAM stays in
  // the file's layout (read through the page cache), slower but loadable.
  const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  if (ram > 0 && static_cast<double>(total) > 0.8 * ram) return nullptr;
  auto arena = std::make_shared<Arena>();
  uint8_t* base = map_arena(static_cast<size_t>(total), *arena);
  // pack_weights threads each tensor's groups; tensors go one after another.
  for (size_t i = 0; i < chosen.size(); ++i) {
    if (copy[i]) {
      // In 1 MiB pieces on every kernel thread: the first touch of each new page (the kernel
      // zeroing it) costs as much as the copy itself.
      const auto* src = static_cast<const uint8_t*>(chosen[i]->data);
      const int64_t bytes = chosen[i]->nbytes(), piece = int64_t{1} << 20;
      uint8_t* dst = base + offset[i];
#pragma omp parallel for schedule(static) num_threads(kernels::num_threads())
      for (int64_t p0 = 0; p0 < bytes; p0 += piece)
        std::memcpy(dst + p0, src + p0, static_cast<size_t>(std::min(piece, bytes - p0)));
    } else {
      pack_weights(chosen[i]->dtype, static_cast<const uint8_t*>(chosen[i]->data),
                   chosen[i]->rows(), chosen[i]->cols(), base + offset[i]);
    }
    // Right away, so that the originals and their copies are never all resident at once.
    if (done) done(*chosen[i]);
  }
  {
    std::unique_lock lock(g_mutex);
    for (size_t i = 0; i < chosen.size(); ++i) {
      chosen[i]->data = base + offset[i];
      if (copy[i]) continue;
      registry().insert(base + offset[i]);
      arena->registered.push_back(base + offset[i]);
    }
  }
  return std::shared_ptr<const void>(base, [arena](const void*) {
    {
      std::unique_lock lock(g_mutex);
      for (const void* p : arena->registered) registry().erase(p);
    }
    munmap(arena->map, arena->map_bytes);
  });
}

std::shared_ptr<const void> prepare_weights(TensorView& w) {
  TensorView* one[] = {&w};
  return prepare_weights(one, {});
}

}  // namespace latent::kernels
