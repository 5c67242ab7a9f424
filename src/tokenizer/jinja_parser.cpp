// Jinja parser: recursive descent over jinja_lexer tokens. Expression precedence follows jinja2's
// parser.py: conditional < or < and < not < comparison/in < ~ < + - < * / // % < ** < unary -,
// with postfix (.attr, [item], [a:b:c], call), then filters `|` and tests `is` binding tightest.
#include "tokenizer/jinja_parser.h"

#include <initializer_list>

#include "base/error.h"
#include "tokenizer/jinja_lexer.h"

namespace latent::jinja {
namespace {

class Parser {
 public:
  explicit Parser(const Template& t) : src_(t.source), toks_(lex(t.source)) {}

  Body parse_all() {
    std::string end;
    Body body = parse_body({}, end, 0, "");
    return body;
  }

 private:
  const Token& peek(size_t k = 0) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  const Token& next() { return toks_[i_ < toks_.size() - 1 ? i_++ : i_]; }
  bool is_op(const char* op, size_t k = 0) const {
    return peek(k).kind == Tok::kOp && peek(k).text == op;
  }
  bool is_name(const char* n, size_t k = 0) const {
    return peek(k).kind == Tok::kName && peek(k).text == n;
  }

  std::string describe(const Token& t) const {
    switch (t.kind) {
      case Tok::kEof:
        return "end of template";
      case Tok::kText:
        return "template text";
      case Tok::kVarBegin:
        return "'{{'";
      case Tok::kVarEnd:
        return "'}}'";
      case Tok::kBlockBegin:
        return "'{%'";
      case Tok::kBlockEnd:
        return "'%}'";
      case Tok::kString:
        return "string '" + t.text + "'";
      default:
        return "'" + t.text + "'";
    }
  }
  [[noreturn]] void fail(const std::string& expected, const Token& t) const {
    throw Error(where(src_, t.pos) + "expected " + expected + ", found " + describe(t));
  }
  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("'") + op + "'", peek());
    next();
  }
  std::string expect_name(const char* what) {
    if (peek().kind != Tok::kName) fail(what, peek());
    return next().text;
  }
  void expect_block_end() {
    if (peek().kind != Tok::kBlockEnd) fail("'%}'", peek());
    next();
  }

  // Statements until a `{% <end> %}` whose keyword is in `ends` (consumed up to the keyword; the
  // keyword is stored in `end`). At top level `ends` is empty and the body runs to the end.
  Body parse_body(std::initializer_list<const char*> ends, std::string& end, size_t open_pos,
                  const char* opener) {
    Body body;
    for (;;) {
      const Token& t = peek();
      if (t.kind == Tok::kEof) {
        if (ends.size() == 0) return body;
        std::string want;
        for (const char* e : ends) want += std::string(want.empty() ? "'" : " or '") + e + "'";
        throw Error(where(src_, t.pos) + "expected " + want + " to close the '" + opener + "' at " +
                    line_col(src_, open_pos) + ", found end of template");
      }
      if (t.kind == Tok::kText) {
        auto n = node(NodeKind::kText, t.pos);
        n->text = next().text;
        body.push_back(std::move(n));
      } else if (t.kind == Tok::kVarBegin) {
        auto n = node(NodeKind::kOutput, next().pos);
        n->exprs.push_back(parse_expr());
        if (peek().kind != Tok::kVarEnd) fail("'}}'", peek());
        next();
        body.push_back(std::move(n));
      } else if (t.kind == Tok::kBlockBegin) {
        const Token& kw = peek(1);
        for (const char* e : ends) {
          if (kw.kind == Tok::kName && kw.text == e) {
            next();
            end = next().text;
            return body;
          }
        }
        if (kw.kind == Tok::kName && is_closing_keyword(kw.text)) {
          if (ends.size() == 0) throw Error(where(src_, kw.pos) + "unexpected '" + kw.text + "'");
          std::string want;
          for (const char* e : ends) want += std::string(want.empty() ? "'" : " or '") + e + "'";
          throw Error(where(src_, kw.pos) + "expected " + want + " to close the '" + opener +
                      "' at " + line_col(src_, open_pos) + ", found '" + kw.text + "'");
        }
        next();
        body.push_back(parse_statement());
      } else {
        fail("template text or a tag", t);
      }
    }
  }

  static bool is_closing_keyword(const std::string& k) {
    return k == "elif" || k == "else" || k.starts_with("end");
  }

  static NodePtr node(NodeKind k, size_t pos) {
    auto n = std::make_unique<Node>();
    n->kind = k;
    n->pos = pos;
    return n;
  }

  NodePtr parse_statement() {
    const Token& kw = peek();
    if (kw.kind != Tok::kName) fail("a statement keyword", kw);
    const std::string k = next().text;
    const size_t pos = kw.pos;
    std::string end;
    if (k == "if") {
      auto n = node(NodeKind::kIf, pos);
      n->exprs.push_back(parse_expr());
      expect_block_end();
      for (;;) {
        n->bodies.push_back(parse_body({"elif", "else", "endif"}, end, pos, "if"));
        if (end == "elif") {
          n->exprs.push_back(parse_expr());
          expect_block_end();
        } else if (end == "else") {
          expect_block_end();
          n->bodies.push_back(parse_body({"endif"}, end, pos, "if"));
          break;
        } else {
          break;
        }
      }
      expect_block_end();
      return n;
    }
    if (k == "for") {
      auto n = node(NodeKind::kFor, pos);
      n->names.push_back(expect_name("a loop variable"));
      while (is_op(",")) {
        next();
        n->names.push_back(expect_name("a loop variable"));
      }
      if (!is_name("in")) fail("'in'", peek());
      next();
      n->exprs.push_back(parse_or());
      if (is_name("if")) {
        next();
        n->exprs.push_back(parse_or());
      }
      if (is_name("recursive")) fail("'%}' (recursive loops are not supported)", peek());
      expect_block_end();
      n->bodies.push_back(parse_body({"else", "endfor"}, end, pos, "for"));
      if (end == "else") {
        expect_block_end();
        n->bodies.push_back(parse_body({"endfor"}, end, pos, "for"));
      }
      expect_block_end();
      return n;
    }
    if (k == "set") {
      std::string name = expect_name("a variable name");
      if (is_op(".")) {
        next();
        auto n = node(NodeKind::kSet, pos);
        n->names = {name, expect_name("an attribute name")};
        expect_op("=");
        n->exprs.push_back(parse_expr());
        expect_block_end();
        return n;
      }
      if (peek().kind == Tok::kBlockEnd) {
        next();
        auto n = node(NodeKind::kSetBlock, pos);
        n->names = {name};
        n->bodies.push_back(parse_body({"endset"}, end, pos, "set"));
        expect_block_end();
        return n;
      }
      auto n = node(NodeKind::kSet, pos);
      n->names = {name};
      expect_op("=");
      n->exprs.push_back(parse_expr());
      expect_block_end();
      return n;
    }
    if (k == "macro") {
      auto n = node(NodeKind::kMacro, pos);
      n->names.push_back(expect_name("a macro name"));
      expect_op("(");
      while (!is_op(")")) {
        n->names.push_back(expect_name("a parameter name"));
        if (is_op("=")) {
          next();
          n->exprs.push_back(parse_expr());
        } else {
          n->exprs.push_back(nullptr);
        }
        if (!is_op(")")) expect_op(",");
      }
      next();
      expect_block_end();
      n->bodies.push_back(parse_body({"endmacro"}, end, pos, "macro"));
      expect_block_end();
      return n;
    }
    if (k == "break" || k == "continue") {
      expect_block_end();
      return node(k == "break" ? NodeKind::kBreak : NodeKind::kContinue, pos);
    }
    if (k == "generation") {
      expect_block_end();
      auto n = node(NodeKind::kBlock, pos);
      n->bodies.push_back(parse_body({"endgeneration"}, end, pos, "generation"));
      expect_block_end();
      return n;
    }
    throw Error(where(src_, pos) + "unknown tag '" + k + "'");
  }

  static ExprPtr make(ExprKind k, size_t pos, std::string name = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->pos = pos;
    e->name = std::move(name);
    return e;
  }
  static ExprPtr make2(ExprKind k, size_t pos, std::string name, ExprPtr a, ExprPtr b) {
    auto e = make(k, pos, std::move(name));
    e->args.push_back(std::move(a));
    e->args.push_back(std::move(b));
    return e;
  }

  ExprPtr parse_expr() {
    ExprPtr e = parse_or();
    while (is_name("if")) {
      const size_t pos = next().pos;
      auto c = make(ExprKind::kCond, pos);
      c->args.push_back(std::move(e));
      c->args.push_back(parse_or());
      if (is_name("else")) {
        next();
        c->args.push_back(parse_expr());
      } else {
        c->args.push_back(nullptr);
      }
      e = std::move(c);
    }
    return e;
  }
  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const size_t pos = next().pos;
      e = make2(ExprKind::kOr, pos, "or", std::move(e), parse_and());
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const size_t pos = next().pos;
      e = make2(ExprKind::kAnd, pos, "and", std::move(e), parse_not());
    }
    return e;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      auto e = make(ExprKind::kNot, next().pos);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr e = parse_concat();
    for (;;) {
      const Token& t = peek();
      std::string op;
      if (t.kind == Tok::kOp && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                 t.text == "<=" || t.text == ">" || t.text == ">=")) {
        op = t.text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && is_name("in", 1)) {
        op = "notin";
        next();
        next();
      } else {
        return e;
      }
      e = make2(ExprKind::kBinary, t.pos, op, std::move(e), parse_concat());
    }
  }
  ExprPtr parse_binary_level(int level) {
    static const std::vector<std::vector<const char*>> kLevels = {
        {"~"}, {"+", "-"}, {"*", "/", "//", "%"}, {"**"}};
    if (level == 4) return parse_unary();
    ExprPtr e = parse_binary_level(level + 1);
    for (;;) {
      const Token& t = peek();
      bool match = false;
      for (const char* op : kLevels[level]) match = match || (t.kind == Tok::kOp && t.text == op);
      if (!match) return e;
      next();
      e = make2(ExprKind::kBinary, t.pos, t.text, std::move(e), parse_binary_level(level + 1));
    }
  }
  ExprPtr parse_concat() { return parse_binary_level(0); }

  ExprPtr parse_unary() {
    if (is_op("-") || is_op("+")) {
      const Token& t = next();
      ExprPtr inner = parse_unary_no_filter();
      if (t.text == "+") return parse_filters(std::move(inner));
      auto e = make(ExprKind::kNeg, t.pos);
      e->args.push_back(std::move(inner));
      return parse_filters(std::move(e));
    }
    return parse_filters(parse_postfix(parse_primary()));
  }
  ExprPtr parse_unary_no_filter() {
    if (is_op("-")) {
      auto e = make(ExprKind::kNeg, next().pos);
      e->args.push_back(parse_unary_no_filter());
      return e;
    }
    return parse_postfix(parse_primary());
  }

  void parse_call_args(Expr& e) {
    expect_op("(");
    while (!is_op(")")) {
      if (peek().kind == Tok::kName && is_op("=", 1)) {
        std::string k = next().text;
        next();
        e.kwargs.emplace_back(std::move(k), parse_expr());
      } else {
        e.args.push_back(parse_expr());
      }
      if (!is_op(")")) expect_op(",");
    }
    next();
  }

  ExprPtr parse_filters(ExprPtr e) {
    for (;;) {
      if (is_op("|")) {
        next();
        const Token& t = peek();
        std::string name = expect_name("a filter name");
        if (!has_filter(name)) throw Error(where(src_, t.pos) + "unknown filter '" + name + "'");
        auto f = make(ExprKind::kFilter, t.pos, name);
        f->args.push_back(std::move(e));
        if (is_op("(")) parse_call_args(*f);
        e = std::move(f);
      } else if (is_name("is")) {
        next();
        bool neg = false;
        if (is_name("not")) {
          next();
          neg = true;
        }
        const Token& t = peek();
        std::string name;
        if (t.kind == Tok::kName) {
          name = next().text;
        } else if (t.kind == Tok::kOp && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                          t.text == ">" || t.text == "<=" || t.text == ">=")) {
          name = next().text;
        } else {
          fail("a test name", t);
        }
        if (!has_test(name)) throw Error(where(src_, t.pos) + "unknown test '" + name + "'");
        auto f = make(ExprKind::kTest, t.pos, name);
        f->negated = neg;
        f->args.push_back(std::move(e));
        if (is_op("(")) {
          parse_call_args(*f);
        } else if (starts_test_argument()) {
          f->args.push_back(parse_postfix(parse_primary()));
        }
        e = std::move(f);
      } else {
        return e;
      }
    }
  }
  // `x is divisibleby 3`, `x is sameas none`: one argument without parentheses.
  bool starts_test_argument() const {
    const Token& t = peek();
    if (t.kind == Tok::kString || t.kind == Tok::kInt || t.kind == Tok::kFloat) return true;
    if (t.kind != Tok::kName) return false;
    for (const char* kw : {"and", "or", "not", "if", "else", "in", "is"})
      if (t.text == kw) return false;
    return true;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    for (;;) {
      if (is_op(".")) {
        const size_t pos = next().pos;
        const Token& t = peek();
        if (t.kind != Tok::kName && t.kind != Tok::kInt) fail("an attribute name", t);
        auto a = make(ExprKind::kAttr, pos, next().text);
        a->args.push_back(std::move(e));
        e = std::move(a);
      } else if (is_op("[")) {
        const size_t pos = next().pos;
        ExprPtr parts[3];
        int n = 0;
        bool slice = false;
        for (;;) {
          if (!is_op(":") && !is_op("]")) parts[n] = parse_expr();
          if (is_op(":") && n < 2) {
            next();
            slice = true;
            ++n;
            continue;
          }
          break;
        }
        expect_op("]");
        auto s = make(slice ? ExprKind::kSlice : ExprKind::kItem, pos);
        s->args.push_back(std::move(e));
        if (!slice && !parts[0]) fail("an index", peek());
        for (int k = 0; k < (slice ? 3 : 1); ++k) s->args.push_back(std::move(parts[k]));
        e = std::move(s);
      } else if (is_op("(")) {
        auto c = make(ExprKind::kCall, peek().pos);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprPtr literal(size_t pos, Json v) {
    auto e = make(ExprKind::kLiteral, pos);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::kString: {
        std::string s = next().text;
        while (peek().kind == Tok::kString) s += next().text;  // adjacent literals concatenate
        return literal(t.pos, s);
      }
      case Tok::kInt:
        next();
        return literal(t.pos, Json(std::stoll(t.text)));
      case Tok::kFloat:
        next();
        return literal(t.pos, Json(std::stod(t.text)));
      case Tok::kName: {
        next();
        if (t.text == "true" || t.text == "True") return literal(t.pos, true);
        if (t.text == "false" || t.text == "False") return literal(t.pos, false);
        if (t.text == "none" || t.text == "None") return literal(t.pos, nullptr);
        return make(ExprKind::kName, t.pos, t.text);
      }
      case Tok::kOp:
        if (t.text == "(") {
          next();
          ExprPtr e = parse_expr();
          if (is_op(",")) {  // tuple
            auto l = make(ExprKind::kList, t.pos);
            l->args.push_back(std::move(e));
            while (is_op(",")) {
              next();
              if (is_op(")")) break;
              l->args.push_back(parse_expr());
            }
            e = std::move(l);
          }
          expect_op(")");
          return e;
        }
        if (t.text == "[" || t.text == "{") {
          const bool dict = t.text == "{";
          next();
          auto l = make(dict ? ExprKind::kDict : ExprKind::kList, t.pos);
          const char* close = dict ? "}" : "]";
          while (!is_op(close)) {
            l->args.push_back(parse_expr());
            if (dict) {
              expect_op(":");
              l->args.push_back(parse_expr());
            }
            if (!is_op(close)) expect_op(",");
          }
          next();
          return l;
        }
        break;
      default:
        break;
    }
    fail("an expression", t);
  }

  const std::string& src_;
  std::vector<Token> toks_;
  size_t i_ = 0;
};

}  // namespace

std::shared_ptr<const Template> parse(std::string source) {
  auto t = std::make_shared<Template>();
  t->source = std::move(source);
  t->body = Parser(*t).parse_all();
  return t;
}

}  // namespace latent::jinja
