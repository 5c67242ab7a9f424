// Lowering of the GBNF tree to flat rules, and the left-recursion check.
#include "grammar/grammar_compiler.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "base/error.h"

namespace latent::grammar {

namespace {

constexpr uint32_t kMaxCodePoint = 0x10FFFF;
// Bound on the flattened grammar: a repetition like (x{100}){1000} would otherwise exhaust memory.
constexpr size_t kMaxElements = size_t{1} << 22;

std::vector<CodePointRange> normalize(std::vector<CodePointRange> ranges) {
  std::sort(ranges.begin(), ranges.end(),
            [](const CodePointRange& a, const CodePointRange& b) { return a.first < b.first; });
  std::vector<CodePointRange> merged;
  for (const CodePointRange& r : ranges) {
    if (!merged.empty() && r.first <= merged.back().last + 1) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

// Complement within the Unicode scalar values: surrogates are never decoded, so `[^a]` and `.`
// leave them out (which also lets partial UTF-8 prefixes of surrogates be rejected early).
std::vector<CodePointRange> complement(const std::vector<CodePointRange>& normalized) {
  std::vector<CodePointRange> out;
  uint32_t next = 0;
  for (const CodePointRange& r : normalized) {
    if (r.first > next) out.push_back({next, r.first - 1});
    next = r.last + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  std::vector<CodePointRange> without_surrogates;
  for (const CodePointRange& r : out) {
    if (r.last < 0xD800 || r.first > 0xDFFF) {
      without_surrogates.push_back(r);
      continue;
    }
    if (r.first < 0xD800) without_surrogates.push_back({r.first, 0xD7FF});
    if (r.last > 0xDFFF) without_surrogates.push_back({0xE000, r.last});
  }
  return without_surrogates;
}

}  // namespace

CharSet::CharSet(std::vector<CodePointRange> normalized_ranges)
    : ranges_(std::move(normalized_ranges)) {
  for (const CodePointRange& r : ranges_) {
    for (uint32_t c = r.first; c <= r.last && c < 128; ++c)
      ascii_[c >> 6] |= uint64_t{1} << (c & 63);
  }
}

bool CharSet::contains(uint32_t cp) const {
  if (cp < 128) return (ascii_[cp >> 6] >> (cp & 63)) & 1;
  return intersects(cp, cp);
}

bool CharSet::intersects(uint32_t first, uint32_t last) const {
  // First range whose end is >= first; it intersects iff it starts at or before `last`.
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), first,
                             [](const CodePointRange& r, uint32_t v) { return r.last < v; });
  return it != ranges_.end() && it->first <= last;
}

class Compiler {
 public:
  explicit Compiler(const Grammar& grammar) : grammar_(grammar) {}

  std::shared_ptr<const CompiledGrammar> run() {
    for (const Rule& rule : grammar_.rules) {
      rule_ids_[rule.name] = static_cast<uint32_t>(rules_.size());
      rules_.emplace_back();
      names_.push_back(rule.name);
      origin_.push_back(static_cast<uint32_t>(origin_.size()));
    }
    for (size_t i = 0; i < grammar_.rules.size(); ++i) {
      current_rule_ = static_cast<uint32_t>(i);
      rules_[i] = compile_alternatives(grammar_.rules[i].alternatives);
    }
    check_left_recursion();

    auto compiled = std::shared_ptr<CompiledGrammar>(new CompiledGrammar());
    for (size_t r = 0; r < rules_.size(); ++r) {
      std::vector<uint32_t> starts;
      uint32_t base = static_cast<uint32_t>(compiled->elements_.size());
      starts.push_back(base);
      for (size_t i = 0; i < rules_[r].size(); ++i) {
        if (rules_[r][i].type == ElementType::kAlt)
          starts.push_back(base + static_cast<uint32_t>(i) + 1);
      }
      compiled->elements_.insert(compiled->elements_.end(), rules_[r].begin(), rules_[r].end());
      compiled->rule_alternatives_.push_back(std::move(starts));
    }
    for (auto& ranges : set_ranges_) compiled->char_sets_.emplace_back(std::move(ranges));
    compiled->rule_names_ = std::move(names_);
    if (!rule_ids_.count("root")) throw Error("grammar: expected a rule named 'root', found none");
    compiled->root_rule_ = rule_ids_.at("root");
    return compiled;
  }

 private:
  using Elements = std::vector<Element>;

  uint32_t char_set_id(std::vector<CodePointRange> normalized) {
    auto [it, inserted] = set_ids_.emplace(normalized, static_cast<uint32_t>(set_ranges_.size()));
    if (inserted) set_ranges_.push_back(std::move(normalized));
    return it->second;
  }

  uint32_t new_helper_rule() {
    uint32_t id = static_cast<uint32_t>(rules_.size());
    rules_.emplace_back();
    names_.push_back(grammar_.rules[current_rule_].name + "_" + std::to_string(id));
    origin_.push_back(current_rule_);
    return id;
  }

  void count(size_t n) {
    total_elements_ += n;
    if (total_elements_ > kMaxElements) {
      throw Error(
          "grammar: rule '" + grammar_.rules[current_rule_].name + "': expected at most " +
          std::to_string(kMaxElements) +
          " elements after expanding repetitions, found more (reduce the repetition counts)");
    }
  }

  Elements compile_alternatives(const std::vector<Sequence>& alternatives) {
    Elements out;
    for (size_t i = 0; i < alternatives.size(); ++i) {
      if (i > 0) out.push_back({ElementType::kAlt, 0});
      for (const Expr& e : alternatives[i]) compile_expr(e, out);
    }
    out.push_back({ElementType::kEnd, 0});
    count(out.size());
    return out;
  }

  void compile_expr(const Expr& expr, Elements& out) {
    switch (expr.kind) {
      case Expr::Kind::kLiteral:
        for (uint32_t cp : expr.literal)
          out.push_back({ElementType::kChars, char_set_id({{cp, cp}})});
        break;
      case Expr::Kind::kCharClass: {
        std::vector<CodePointRange> ranges = normalize(expr.ranges);
        if (expr.negated) ranges = complement(ranges);
        out.push_back({ElementType::kChars, char_set_id(std::move(ranges))});
        break;
      }
      case Expr::Kind::kAnyChar:
        out.push_back({ElementType::kChars, char_set_id(complement({}))});
        break;
      case Expr::Kind::kRuleRef:
        if (!rule_ids_.count(expr.rule_name)) {
          throw Error("grammar: rule '" + grammar_.rules[current_rule_].name +
                      "': expected a defined rule, found undefined rule '" + expr.rule_name + "'");
        }
        out.push_back({ElementType::kRuleRef, rule_ids_.at(expr.rule_name)});
        break;
      case Expr::Kind::kGroup:
        if (expr.alternatives.size() == 1) {
          // A one-alternative group is just its sequence; no helper rule needed.
          for (const Expr& e : expr.alternatives[0]) compile_expr(e, out);
        } else {
          uint32_t helper = new_helper_rule();
          Elements body = compile_alternatives(expr.alternatives);
          rules_[helper] = std::move(body);
          out.push_back({ElementType::kRuleRef, helper});
        }
        break;
      case Expr::Kind::kRepeat:
        compile_repeat(expr, out);
        break;
    }
  }

  void compile_repeat(const Expr& expr, Elements& out) {
    Elements item;
    compile_expr(expr.child[0], item);
    for (uint32_t i = 0; i < expr.min_count; ++i) {
      count(item.size());
      out.insert(out.end(), item.begin(), item.end());
    }
    if (expr.max_count == Expr::kUnbounded) {
      // S' ::= S S' | ""   (right recursion: the stack does not grow per repetition)
      uint32_t helper = new_helper_rule();
      Elements body = item;
      body.push_back({ElementType::kRuleRef, helper});
      body.push_back({ElementType::kAlt, 0});
      body.push_back({ElementType::kEnd, 0});
      count(body.size());
      rules_[helper] = std::move(body);
      out.push_back({ElementType::kRuleRef, helper});
      return;
    }
    // Chain of n-m optional items: S'(1) ::= S | "" ; S'(k) ::= S S'(k-1) | "".
    uint32_t previous = 0;
    for (uint32_t k = 1; k <= expr.max_count - expr.min_count; ++k) {
      uint32_t helper = new_helper_rule();
      Elements body = item;
      if (k > 1) body.push_back({ElementType::kRuleRef, previous});
      body.push_back({ElementType::kAlt, 0});
      body.push_back({ElementType::kEnd, 0});
      count(body.size());
      rules_[helper] = std::move(body);
      previous = helper;
    }
    if (expr.max_count > expr.min_count) out.push_back({ElementType::kRuleRef, previous});
  }

  // A rule that can reach itself through leftmost references (each preceded only by rules that can
  // match the empty string) would make the pushdown expansion loop forever.
  void check_left_recursion() {
    size_t n = rules_.size();
    std::vector<bool> nullable(n, false);
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (nullable[r]) continue;
        bool alt_nullable = true;
        for (const Element& e : rules_[r]) {
          if (e.type == ElementType::kAlt || e.type == ElementType::kEnd) {
            if (alt_nullable) {
              nullable[r] = changed = true;
              break;
            }
            alt_nullable = true;
          } else if (e.type == ElementType::kChars || !nullable[e.value]) {
            alt_nullable = false;
          }
        }
      }
    }
    std::vector<std::vector<uint32_t>> left_edges(n);
    for (size_t r = 0; r < n; ++r) {
      bool at_left = true;
      for (const Element& e : rules_[r]) {
        if (e.type == ElementType::kAlt || e.type == ElementType::kEnd) {
          at_left = true;
        } else if (at_left && e.type == ElementType::kRuleRef) {
          left_edges[r].push_back(e.value);
          at_left = nullable[e.value];
        } else {
          at_left = false;
        }
      }
    }
    enum : uint8_t { kNew, kOnPath, kDone };
    std::vector<uint8_t> state(n, kNew);
    std::vector<uint32_t> path;
    auto visit = [&](auto&& self, uint32_t r) -> void {
      state[r] = kOnPath;
      path.push_back(r);
      for (uint32_t next : left_edges[r]) {
        if (state[next] == kOnPath) report_cycle(path, next);
        if (state[next] == kNew) self(self, next);
      }
      path.pop_back();
      state[r] = kDone;
    };
    for (uint32_t r = 0; r < n; ++r) {
      if (state[r] == kNew) visit(visit, r);
    }
  }

  [[noreturn]] void report_cycle(const std::vector<uint32_t>& path, uint32_t start) {
    // Name the user's rules on the cycle; helper rules stand for the rule they were made for.
    std::string cycle;
    std::string last;
    bool on_cycle = false;
    for (uint32_t r : path) {
      on_cycle = on_cycle || r == start;
      if (!on_cycle) continue;
      const std::string& name = grammar_.rules[origin_[r]].name;
      if (name == last) continue;
      cycle += (cycle.empty() ? "" : " -> ") + name;
      last = name;
    }
    const std::string& first = grammar_.rules[origin_[start]].name;
    if (last != first || cycle.find(" -> ") == std::string::npos) cycle += " -> " + first;
    throw Error("grammar: rule '" + first + "' (line " +
                std::to_string(grammar_.rules[origin_[start]].line) +
                "): expected no left recursion, found the cycle " + cycle +
                " that consumes no input (rewrite it with repetition, e.g. x ::= y (\"op\" y)*)");
  }

  const Grammar& grammar_;
  std::unordered_map<std::string, uint32_t> rule_ids_;
  std::vector<Elements> rules_;
  std::vector<std::string> names_;
  std::vector<uint32_t> origin_;  // user rule each rule was made for
  uint32_t current_rule_ = 0;
  size_t total_elements_ = 0;
  struct RangesLess {
    bool operator()(const std::vector<CodePointRange>& a,
                    const std::vector<CodePointRange>& b) const {
      return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                          [](const CodePointRange& x, const CodePointRange& y) {
                                            return x.first != y.first ? x.first < y.first
                                                                      : x.last < y.last;
                                          });
    }
  };
  std::map<std::vector<CodePointRange>, uint32_t, RangesLess> set_ids_;
  std::vector<std::vector<CodePointRange>> set_ranges_;
};

std::shared_ptr<const CompiledGrammar> CompiledGrammar::compile(const Grammar& grammar) {
  return Compiler(grammar).run();
}

std::shared_ptr<const CompiledGrammar> CompiledGrammar::from_gbnf(std::string_view text) {
  return compile(parse_gbnf(text));
}

}  // namespace latent::grammar
