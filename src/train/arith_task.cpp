// Problem generation, reasoning text, the split hash, answer extraction and the vote.
#include "train/arith_task.h"

#include <algorithm>

#include "base/error.h"

namespace latent::train {
namespace {

char op_char(ArithOp op) {
  return op == ArithOp::kAdd ? '+' : op == ArithOp::kSub ? '-' : '*';
}

// Decimal digits, least significant first (0 → {0}).
std::vector<int> digits_lsb(int64_t v) {
  std::vector<int> d;
  do {
    d.push_back(static_cast<int>(v % 10));
    v /= 10;
  } while (v > 0);
  return d;
}

// Bit i of `order` set: step i names its two operands the other way round ("6+8+0" for "8+6+0").
bool swapped(uint64_t order, size_t step) {
  return step < 64 && ((order >> step) & 1u) != 0;
}

// "8+6+0=14,7+5+1=13,4+3+1=8": one step per digit column, right to left, with the carry in.
std::string add_steps(int64_t a, int64_t b, uint64_t order) {
  std::vector<int> da = digits_lsb(a), db = digits_lsb(b);
  const size_t n = std::max(da.size(), db.size());
  da.resize(n, 0);
  db.resize(n, 0);
  std::string s;
  int carry = 0;
  for (size_t i = 0; i < n; ++i) {
    const int sum = da[i] + db[i] + carry;
    if (i) s += ',';
    const int x = swapped(order, i) ? db[i] : da[i], y = swapped(order, i) ? da[i] : db[i];
    s += std::to_string(x) + "+" + std::to_string(y) + "+" + std::to_string(carry) + "=" +
         std::to_string(sum);
    carry = sum / 10;
  }
  return s;
}

// "14-6-0=8,13-5-1=7,8-3-1=4": a column that needs to borrow shows its digit with the borrowed 10
// added, so every step is a non-negative single-digit result and the next step's borrow is visible.
// A swapped step takes the borrow off first ("14-0-6=8").
std::string sub_steps(int64_t a, int64_t b, uint64_t order) {
  std::vector<int> da = digits_lsb(a), db = digits_lsb(b);
  db.resize(da.size(), 0);
  std::string s;
  int borrow = 0;
  for (size_t i = 0; i < da.size(); ++i) {
    int top = da[i];
    const bool need = top - db[i] - borrow < 0;
    if (need) top += 10;
    if (i) s += ',';
    const int x = swapped(order, i) ? borrow : db[i], y = swapped(order, i) ? db[i] : borrow;
    s += std::to_string(top) + "-" + std::to_string(x) + "-" + std::to_string(y) + "=" +
         std::to_string(top - db[i] - borrow);
    borrow = need ? 1 : 0;
  }
  return s;
}

// "8*7+0=56,4*7+5=33": a × one digit, right to left, carrying the tens.
std::string mul_digit_steps(int64_t a, int d, uint64_t order) {
  std::string s;
  int carry = 0;
  const std::vector<int> da = digits_lsb(a);
  for (size_t i = 0; i < da.size(); ++i) {
    const int p = da[i] * d + carry;
    if (i) s += ',';
    const int x = swapped(order, i) ? d : da[i], y = swapped(order, i) ? da[i] : d;
    s += std::to_string(x) + "*" + std::to_string(y) + "+" + std::to_string(carry) + "=" +
         std::to_string(p);
    carry = p / 10;
  }
  return s;
}

std::string head(int64_t a, char op, int64_t b) {
  return std::to_string(a) + op + std::to_string(b) + ":";
}

// splitmix64's output function: a bijection that scatters nearby inputs over the whole range.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

constexpr const char* kNames[] = {"Ann", "Ben", "Cara", "Dan", "Eve", "Finn", "Gus", "Hana"};
constexpr const char* kThings[] = {"apples", "books", "coins", "eggs", "pens", "cards", "stones"};

}  // namespace

std::string ArithProblem::completion() const {
  return std::string(kThinkOpen) + reasoning + std::string(kThinkClose) + " " +
         std::to_string(answer);
}

std::string ArithProblem::canonical() const {
  int64_t x = a, y = b;
  if (op != ArithOp::kSub && x > y) std::swap(x, y);
  return std::to_string(x) + op_char(op) + std::to_string(y);
}

Split split_of(std::string_view canonical) {
  // The low bits of FNV-1a are weak for short strings; fold the high half in first.
  uint64_t h = fnv1a(canonical);
  h ^= h >> 32;
  return h % 10 == 0 ? Split::kHeldOut : Split::kTrain;
}

std::string reasoning_for(ArithOp op, int64_t a, int64_t b, uint64_t order) {
  switch (op) {
    case ArithOp::kAdd:
      return head(a, '+', b) + add_steps(a, b, order) + ";" + std::to_string(a + b);
    case ArithOp::kSub:
      return head(a, '-', b) + sub_steps(a, b, order) + ";" + std::to_string(a - b);
    case ArithOp::kMul: {
      if (b < 10)
        return head(a, '*', b) + mul_digit_steps(a, static_cast<int>(b), order) + ";" +
               std::to_string(a * b);
      // Two-digit multiplier: a×ones | a×tens | the two partial products added (tens shifted).
      const int ones = static_cast<int>(b % 10), tens = static_cast<int>(b / 10);
      const int64_t p0 = a * ones, p1 = a * tens * 10;
      // Each of the three parts takes its own 16 bits of `order`.
      return head(a, '*', b) + head(a, '*', ones) + mul_digit_steps(a, ones, order) + ";" +
             std::to_string(p0) + "|" + head(a, '*', tens) + mul_digit_steps(a, tens, order >> 16) +
             ";" + std::to_string(a * tens) + "|" + head(p0, '+', p1) +
             add_steps(p0, p1, order >> 32) + ";" + std::to_string(a * b);
    }
  }
  return {};
}

ArithProblem make_arith_problem(ArithOp op, int64_t a, int64_t b, uint64_t order) {
  if (a < 0 || b < 0 || (op == ArithOp::kSub && a < b) || (op == ArithOp::kMul && b >= 100)) {
    throw Error::field("arith_task", "operands", "a, b >= 0 (a >= b for '-', b < 100 for '*')",
                       std::to_string(a) + op_char(op) + std::to_string(b));
  }
  ArithProblem p;
  p.op = op;
  p.a = a;
  p.b = b;
  p.question = "What is " + std::to_string(a) + op_char(op) + std::to_string(b) + "?";
  p.reasoning = reasoning_for(op, a, b, order);
  p.answer = op == ArithOp::kAdd ? a + b : op == ArithOp::kSub ? a - b : a * b;
  return p;
}

ArithProblem make_word_problem(ArithOp op, int64_t a, int64_t b, uint64_t variant, uint64_t order) {
  ArithProblem p = make_arith_problem(op, a, b, order);
  const std::string name = kNames[variant % std::size(kNames)];
  const std::string thing = kThings[(variant / std::size(kNames)) % std::size(kThings)];
  const std::string sa = std::to_string(a), sb = std::to_string(b);
  switch (op) {
    case ArithOp::kAdd:
      p.question = name + " has " + sa + " " + thing + " and gets " + sb + " more. How many " +
                   thing + " now?";
      break;
    case ArithOp::kSub:
      p.question =
          name + " has " + sa + " " + thing + " and gives away " + sb + ". How many are left?";
      break;
    case ArithOp::kMul:
      p.question = name + " buys " + sa + " boxes of " + sb + " " + thing + ". How many " + thing +
                   " in all?";
      break;
  }
  return p;
}

ArithGenerator::ArithGenerator(uint64_t seed, Split split, ArithOptions options)
    // The seed goes through the splitmix64 finaliser: splitmix64 advances its state by a constant,
    // so seeds k and k+1 used directly would give the same stream shifted by one draw (and the
    // batches of consecutive training steps would be near copies of each other).
    : state_(mix64(mix64(seed) ^ (split == Split::kHeldOut ? 0x5851F42D4C957F2Dull : 1))),
      split_(split),
      opt_(options) {
  if (opt_.max_digits < 1 || opt_.max_digits > 9) {
    throw Error::field("arith_task", "max_digits", "a value in [1, 9]",
                       std::to_string(opt_.max_digits));
  }
}

uint64_t ArithGenerator::next_u64() {
  // splitmix64: tiny, well mixed, and identical on every platform (std distributions are not).
  return mix64(state_ += 0x9E3779B97F4A7C15ull);
}

int64_t ArithGenerator::uniform(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(next_u64() % static_cast<uint64_t>(hi - lo + 1));
}

int64_t ArithGenerator::number_with_digits(int digits) {
  int64_t lo = 1;
  for (int i = 1; i < digits; ++i) lo *= 10;
  return digits == 1 ? uniform(0, 9) : uniform(lo, lo * 10 - 1);
}

ArithProblem ArithGenerator::next() {
  // Rejection sampling: draw problems until one falls in this split (10% / 90% acceptance).
  for (;;) {
    const int64_t kind = uniform(0, 99);  // 35% +, 25% −, 25% ×, 15% word problems
    const bool word = kind >= 85;
    const ArithOp op = word        ? static_cast<ArithOp>(uniform(0, 2))
                       : kind < 35 ? ArithOp::kAdd
                       : kind < 60 ? ArithOp::kSub
                                   : ArithOp::kMul;
    int64_t a = number_with_digits(static_cast<int>(uniform(1, opt_.max_digits)));
    int64_t b = 0;
    if (op == ArithOp::kMul) {
      const bool two = opt_.max_digits >= 2 && uniform(0, 9) < 3 && !word;
      b = two ? uniform(10, 99) : uniform(2, 9);
    } else {
      b = number_with_digits(static_cast<int>(uniform(1, opt_.max_digits)));
    }
    if (op == ArithOp::kSub && a < b) std::swap(a, b);
    const uint64_t variant = word ? next_u64() : 0;
    // Drawn only in mixed mode, so a fixed-order stream is the same problems as before the option.
    const uint64_t order = opt_.mixed_order ? next_u64() : 0;
    ArithProblem p =
        word ? make_word_problem(op, a, b, variant, order) : make_arith_problem(op, a, b, order);
    // Drawn only with the option, for the same reason; the question and answer stay as they are.
    if (opt_.mixed_operands && (next_u64() & 1) != 0 && op != ArithOp::kSub &&
        (op == ArithOp::kAdd || a < 100)) {
      p.reasoning = reasoning_for(op, b, a, order);
    }
    if (split_of(p.canonical()) == split_) return p;
  }
}

}  // namespace latent::train
