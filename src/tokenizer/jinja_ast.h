// The syntax tree of a parsed Jinja template: expressions (Expr) and statements (Node), plain data
// owned by jinja::Template. Built by jinja_parser.cpp, walked by jinja_eval.cpp.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja_value.h"

namespace latent::jinja {

enum class ExprKind {
  kLiteral,  // value
  kName,     // name
  kAttr,     // args[0].name
  kItem,     // args[0][args[1]]
  kSlice,    // args[0][args[1]:args[2]:args[3]] (absent parts are null)
  kCall,     // args[0](args[1..], kwargs)
  kFilter,   // args[0] | name(args[1..], kwargs)
  kTest,     // args[0] is [not] name(args[1..])
  kNot,      // not args[0]
  kNeg,      // -args[0]
  kBinary,   // args[0] name args[1]; name is the operator (+ - * / // % ** ~ == != < <= > >= in
             // notin)
  kAnd,
  kOr,
  kCond,  // args[0] if args[1] else args[2] (else part may be null)
  kList,  // [args...] (tuples too)
  kDict,  // {args[0]: args[1], ...}
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  size_t pos = 0;
  std::string name;
  Json value;
  bool negated = false;  // kTest: `is not`
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

enum class NodeKind {
  kText,      // text
  kOutput,    // {{ exprs[0] }}
  kIf,        // exprs[i] guards bodies[i]; an extra last body is the else
  kFor,       // for names in exprs[0] [if exprs[1]]: bodies[0], else bodies[1]
  kSet,       // set names[0][.names[1]] = exprs[0]
  kSetBlock,  // set names[0] %} bodies[0] {% endset
  kMacro,     // macro names[0](names[1..] = exprs[i] or null) bodies[0]
  kBreak,
  kContinue,
  kBlock,  // bodies[0] rendered in place ({% generation %})
};

struct Node;
using NodePtr = std::unique_ptr<Node>;
using Body = std::vector<NodePtr>;

struct Node {
  NodeKind kind;
  size_t pos = 0;
  std::string text;
  std::vector<ExprPtr> exprs;
  std::vector<Body> bodies;
  std::vector<std::string> names;
};

struct Template {
  std::string source;  // for error positions
  Body body;
};

}  // namespace latent::jinja
