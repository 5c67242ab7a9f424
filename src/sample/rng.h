// Seeded randomness for sampling: a xoshiro256** generator seeded through splitmix64, its
// conversion to uniform doubles, and the draw of a token from a normalised candidate list.
// Everything here is specified bit for bit (no std:: distributions, whose output differs between
// standard libraries), so one seed gives one sequence on every platform.
#pragma once

#include <cstdint>
#include <span>

#include "base/ids.h"
#include "sample/candidates.h"

namespace latent {

// xoshiro256** 1.0 (Blackman & Vigna, https://prng.di.unimi.it/xoshiro256starstar.c). The 256-bit
// state is filled from the 64-bit seed by four splitmix64 steps, as the authors recommend.
class Rng {
 public:
  explicit Rng(uint64_t seed) { reseed(seed); }

  void reseed(uint64_t seed);

  // Next 64 random bits.
  uint64_t next_u64();

  // Uniform in [0, 1) with 53 random bits: (x >> 11) · 2^-53. Every value is exactly representable
  // and 1.0 is never returned.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_[4];
};

// splitmix64 (Steele, Lea & Flood; https://prng.di.unimi.it/splitmix64.c): advances *state and
// returns the next output. Used for seeding.
uint64_t splitmix64(uint64_t* state);

// Inverse-CDF draw: with target = u · Σ_i p_i, returns the id of the first row (in list order)
// whose cumulative Σ_{j<=i} p_j exceeds target. Rows with p = 0 are never chosen.
// Requires u in [0, 1) and a non-empty list with p set by softmax(). Scaling by Σp (instead of
// assuming 1) means float rounding in p can never make the walk fall off the end.
TokenId draw(std::span<const Candidate> cands, double u);

}  // namespace latent
