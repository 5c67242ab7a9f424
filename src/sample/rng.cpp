// xoshiro256** / splitmix64 and the inverse-CDF draw (see rng.h). Integer code only in the
// generator, so its output is identical on every platform; the draw is one pass with no allocation.
#include "sample/rng.h"

#include "base/check.h"

namespace latent {
namespace {

constexpr uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void Rng::reseed(uint64_t seed) {
  uint64_t sm = seed;
  for (uint64_t& word : s_) word = splitmix64(&sm);
  // splitmix64's output mix is a bijection and the four counters differ, so at most one word is
  // zero: the all-zero state xoshiro must avoid cannot occur for any seed.
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

TokenId draw(std::span<const Candidate> cands, double u) {
  LATENT_CHECK(!cands.empty());
  LATENT_CHECK(u >= 0.0 && u < 1.0);
  double total = 0.0;
  for (const Candidate& c : cands) total += c.p;
  const double target = u * total;
  double cum = 0.0;
  size_t last_positive = 0;
  for (size_t i = 0; i < cands.size(); ++i) {
    if (cands[i].p <= 0.0f) continue;
    last_positive = i;
    cum += cands[i].p;
    if (cum > target) return cands[i].id;
  }
  // Only reachable through rounding when u is within an ulp of 1: take the last row with mass.
  return cands[last_positive].id;
}

}  // namespace latent
