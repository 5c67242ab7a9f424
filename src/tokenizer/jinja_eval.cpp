// Jinja evaluator: walks the syntax tree with a chain of scopes, writing text to one output string.
// Scoping follows jinja2: each for-loop iteration starts a fresh scope (so `set` inside a loop does
// not leak, hence namespace()), `if` does not; macros see the scope they were defined in.
#include "tokenizer/jinja_eval.h"

#include <cmath>
#include <unordered_map>

#include "base/error.h"
#include "tokenizer/jinja_filters.h"
#include "tokenizer/jinja_lexer.h"

namespace latent::jinja {
namespace {

struct Scope {
  std::unordered_map<std::string, Value> vars;
  Scope* parent = nullptr;
};

enum class Flow { kNormal, kBreak, kContinue };

Value arith(const std::string& op, const Value& a, const Value& b) {
  for (const Value* v : {&a, &b}) {
    if (v->is_undefined()) {
      throw Error("'" + (v->undefined_name().empty() ? std::string("value") : v->undefined_name()) +
                  "' is undefined");
    }
  }
  if (op == "~") return Json(to_str(a) + to_str(b));
  if (op == "+" && a.is_string() && b.is_string())
    return Json(a.data().get<std::string>() + b.data().get<std::string>());
  if (op == "+" && a.is_list() && b.is_list()) {
    Json out = a.data();
    for (const Json& x : b.data()) out.push_back(x);
    return out;
  }
  if (op == "*" && a.is_string() && b.is_number()) {
    std::string out;
    for (int64_t i = 0; i < b.data().get<int64_t>(); ++i) out += a.data().get<std::string>();
    return Json(out);
  }
  const bool num = a.is_number() && b.is_number();
  if (!num) {
    throw Error(std::string("unsupported operand types for ") + op + ": " + type_name(a) + " and " +
                type_name(b));
  }
  const bool ints = !a.data().is_number_float() && !b.data().is_number_float();
  const double x = a.data().get<double>(), y = b.data().get<double>();
  if ((op == "/" || op == "//" || op == "%") && y == 0) throw Error("division by zero");
  if (ints && op != "/" && !(op == "**" && b.data().get<int64_t>() < 0)) {
    const int64_t i = a.data().get<int64_t>(), j = b.data().get<int64_t>();
    if (op == "+") return Json(i + j);
    if (op == "-") return Json(i - j);
    if (op == "*") return Json(i * j);
    if (op == "//") return Json(static_cast<int64_t>(std::floor(static_cast<double>(i) / j)));
    if (op == "%") return Json(((i % j) + j) % j);
    if (op == "**") return Json(static_cast<int64_t>(std::llround(std::pow(x, y))));
  }
  if (op == "+") return Json(x + y);
  if (op == "-") return Json(x - y);
  if (op == "*") return Json(x * y);
  if (op == "/") return Json(x / y);
  if (op == "//") return Json(std::floor(x / y));
  if (op == "%") return Json(x - y * std::floor(x / y));
  return Json(std::pow(x, y));
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) throw Error("'in <string>' requires a string on the left");
    return container.data().get_ref<const std::string&>().find(item.data().get<std::string>()) !=
           std::string::npos;
  }
  if (container.is_dict())
    return item.is_string() && container.data().contains(item.data().get<std::string>());
  if (container.is_list()) {
    for (const Json& x : container.data())
      if (equal(Value(x), item)) return true;
    return false;
  }
  if (container.is_undefined()) return false;
  throw Error(std::string("cannot test membership in a ") + type_name(container));
}

class Evaluator {
 public:
  Evaluator(const Template& t, std::string* out) : t_(t), out_(out) {}

  Flow exec(const Body& body, Scope& s) {
    for (const NodePtr& n : body) {
      Flow f;
      try {
        f = exec_node(*n, s);
      } catch (const Error& e) {
        rethrow(e, n->pos);
      }
      if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
  }

 private:
  [[noreturn]] void rethrow(const Error& e, size_t pos) const {
    if (std::string_view(e.what()).starts_with("chat template ")) throw e;
    throw Error(where(t_.source, pos) + e.what());
  }

  Value lookup(const std::string& name, Scope& s) const {
    for (Scope* p = &s; p; p = p->parent) {
      auto it = p->vars.find(name);
      if (it != p->vars.end()) return it->second;
    }
    return Value::undefined(name);
  }

  std::string capture(const Body& body, Scope& s) {
    std::string buf, *saved = out_;
    out_ = &buf;
    try {
      exec(body, s);
    } catch (...) {
      out_ = saved;
      throw;
    }
    out_ = saved;
    return buf;
  }

  Flow exec_node(const Node& n, Scope& s) {
    switch (n.kind) {
      case NodeKind::kText:
        *out_ += n.text;
        return Flow::kNormal;
      case NodeKind::kOutput:
        *out_ += to_str(eval(*n.exprs[0], s));
        return Flow::kNormal;
      case NodeKind::kIf:
        for (size_t i = 0; i < n.bodies.size(); ++i) {
          if (i >= n.exprs.size() || eval(*n.exprs[i], s).truthy()) return exec(n.bodies[i], s);
        }
        return Flow::kNormal;
      case NodeKind::kFor:
        exec_for(n, s);
        return Flow::kNormal;
      case NodeKind::kSet: {
        Value v = eval(*n.exprs[0], s);
        if (n.names.size() == 1) {
          s.vars[n.names[0]] = std::move(v);
          return Flow::kNormal;
        }
        Value ns = lookup(n.names[0], s);
        if (!ns.is_namespace()) {
          throw Error("cannot set attribute '" + n.names[1] + "' of '" + n.names[0] +
                      "': expected a namespace(), found " + type_name(ns));
        }
        if (!v.is_data()) throw Error("a namespace attribute can hold only data");
        ns.namespace_attrs()[n.names[1]] = v.data();
        return Flow::kNormal;
      }
      case NodeKind::kSetBlock:
        s.vars[n.names[0]] = Json(capture(n.bodies[0], s));
        return Flow::kNormal;
      case NodeKind::kMacro:
        s.vars[n.names[0]] = make_macro(n, s);
        return Flow::kNormal;
      case NodeKind::kBreak:
        return Flow::kBreak;
      case NodeKind::kContinue:
        return Flow::kContinue;
      case NodeKind::kBlock:
        return exec(n.bodies[0], s);
    }
    return Flow::kNormal;
  }

  void bind_loop_vars(const Node& n, const Json& item, Scope& it) {
    if (n.names.size() == 1) {
      it.vars[n.names[0]] = Value(item);
      return;
    }
    if (!item.is_array() || item.size() != n.names.size()) {
      throw Error("cannot unpack " + repr(item) + " into " + std::to_string(n.names.size()) +
                  " loop variables");
    }
    for (size_t k = 0; k < n.names.size(); ++k) it.vars[n.names[k]] = Value(item[k]);
  }

  void exec_for(const Node& n, Scope& s) {
    Json items = iterate(eval(*n.exprs[0], s));
    if (n.exprs.size() > 1) {  // {% for x in xs if cond %}
      Json kept = Json::array();
      for (const Json& item : items) {
        Scope probe{{}, &s};
        bind_loop_vars(n, item, probe);
        if (eval(*n.exprs[1], probe).truthy()) kept.push_back(item);
      }
      items = std::move(kept);
    }
    const int64_t len = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < len; ++i) {
      Scope it{{}, &s};
      bind_loop_vars(n, items[static_cast<size_t>(i)], it);
      Json loop = {{"index", i + 1},      {"index0", i},
                   {"revindex", len - i}, {"revindex0", len - i - 1},
                   {"first", i == 0},     {"last", i == len - 1},
                   {"length", len}};
      if (i > 0) loop["previtem"] = items[static_cast<size_t>(i - 1)];
      if (i + 1 < len) loop["nextitem"] = items[static_cast<size_t>(i + 1)];
      it.vars["loop"] = Value(std::move(loop));
      if (exec(n.bodies[0], it) == Flow::kBreak) break;
    }
    if (len == 0 && n.bodies.size() > 1) exec(n.bodies[1], s);
  }

  Value make_macro(const Node& n, Scope& defining) {
    const Node* node = &n;
    Scope* def = &defining;
    return Value::function([this, node, def](const CallArgs& a) {
      Scope call{{}, def};
      const size_t n_params = node->names.size() - 1;
      if (a.pos.size() > n_params)
        throw Error("macro '" + node->names[0] + "': too many arguments");
      for (size_t k = 0; k < n_params; ++k) {
        const std::string& p = node->names[k + 1];
        if (const Value* v = a.get(k, p)) {
          call.vars[p] = *v;
        } else if (node->exprs[k]) {
          call.vars[p] = eval(*node->exprs[k], call);
        } else {
          call.vars[p] = Value::undefined(p);
        }
      }
      return Value(Json(capture(node->bodies[0], call)));
    });
  }

  CallArgs eval_args(const Expr& e, size_t first, Scope& s) {
    CallArgs a;
    for (size_t k = first; k < e.args.size(); ++k) a.pos.push_back(eval(*e.args[k], s));
    for (const auto& [name, x] : e.kwargs) a.kw.emplace_back(name, eval(*x, s));
    return a;
  }

  Value eval(const Expr& e, Scope& s) {
    try {
      return eval_inner(e, s);
    } catch (const Error& err) {
      rethrow(err, e.pos);
    }
  }

  Value eval_inner(const Expr& e, Scope& s) {
    switch (e.kind) {
      case ExprKind::kLiteral:
        return Value(e.value);
      case ExprKind::kName:
        return lookup(e.name, s);
      case ExprKind::kAttr:
        return get_attr(eval(*e.args[0], s), e.name);
      case ExprKind::kItem:
        return get_item(eval(*e.args[0], s), eval(*e.args[1], s));
      case ExprKind::kSlice: {
        auto part = [&](size_t k) { return e.args[k] ? eval(*e.args[k], s) : Value(); };
        return get_slice(eval(*e.args[0], s), part(1), part(2), part(3));
      }
      case ExprKind::kCall: {
        Value f = eval(*e.args[0], s);
        if (!f.is_callable()) {
          const std::string what = e.args[0]->kind == ExprKind::kName   ? e.args[0]->name
                                   : e.args[0]->kind == ExprKind::kAttr ? e.args[0]->name
                                                                        : "value";
          throw Error("'" + what + "' is " + (f.is_undefined() ? "undefined" : "not callable"));
        }
        return f.fn()(eval_args(e, 1, s));
      }
      case ExprKind::kFilter:
        return apply_filter(e.name, eval(*e.args[0], s), eval_args(e, 1, s));
      case ExprKind::kTest:
        return Json(apply_test(e.name, eval(*e.args[0], s), eval_args(e, 1, s)) != e.negated);
      case ExprKind::kNot:
        return Json(!eval(*e.args[0], s).truthy());
      case ExprKind::kNeg: {
        Value v = eval(*e.args[0], s);
        if (!v.is_number()) throw Error(std::string("bad operand for unary -: ") + type_name(v));
        return v.data().is_number_float() ? Json(-v.data().get<double>())
                                          : Json(-v.data().get<int64_t>());
      }
      case ExprKind::kAnd: {
        Value a = eval(*e.args[0], s);
        return a.truthy() ? eval(*e.args[1], s) : a;
      }
      case ExprKind::kOr: {
        Value a = eval(*e.args[0], s);
        return a.truthy() ? a : eval(*e.args[1], s);
      }
      case ExprKind::kCond:
        if (eval(*e.args[1], s).truthy()) return eval(*e.args[0], s);
        return e.args[2] ? eval(*e.args[2], s) : Value::undefined();
      case ExprKind::kList: {
        Json out = Json::array();
        for (const ExprPtr& x : e.args) {
          Value v = eval(*x, s);
          if (!v.is_data()) throw Error("a list can hold only data");
          out.push_back(v.data());
        }
        return out;
      }
      case ExprKind::kDict: {
        Json out = Json::object();
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
          Value key = eval(*e.args[k], s), v = eval(*e.args[k + 1], s);
          if (!key.is_string()) throw Error("dict keys must be strings");
          if (!v.is_data()) throw Error("a dict can hold only data");
          out[key.data().get<std::string>()] = v.data();
        }
        return out;
      }
      case ExprKind::kBinary:
        return binary(e, s);
    }
    return Value();
  }

  Value binary(const Expr& e, Scope& s) {
    const Value a = eval(*e.args[0], s), b = eval(*e.args[1], s);
    const std::string& op = e.name;
    if (op == "==") return Json(equal(a, b));
    if (op == "!=") return Json(!equal(a, b));
    if (op == "<") return Json(compare(a, b) < 0);
    if (op == "<=") return Json(compare(a, b) <= 0);
    if (op == ">") return Json(compare(a, b) > 0);
    if (op == ">=") return Json(compare(a, b) >= 0);
    if (op == "in") return Json(contains(b, a));
    if (op == "notin") return Json(!contains(b, a));
    return arith(op, a, b);
  }

  const Template& t_;
  std::string* out_;
};

Value builtin_namespace(const CallArgs& a) {
  Json attrs = Json::object();
  for (const Value& p : a.pos) {
    if (!p.is_dict()) throw Error("namespace(): positional arguments must be dicts");
    attrs.update(p.data());
  }
  for (const auto& [k, v] : a.kw) {
    if (!v.is_data()) throw Error("namespace(): attribute '" + k + "' must be data");
    attrs[k] = v.data();
  }
  return Value::make_namespace(std::move(attrs));
}

Value builtin_range(const CallArgs& a) {
  std::vector<int64_t> n;
  for (const Value& v : a.pos) {
    if (!v.is_number()) throw Error("range(): expected integers");
    n.push_back(v.data().get<int64_t>());
  }
  if (n.empty() || n.size() > 3) throw Error("range(): expected 1 to 3 arguments");
  const int64_t start = n.size() > 1 ? n[0] : 0, stop = n.size() > 1 ? n[1] : n[0];
  const int64_t step = n.size() > 2 ? n[2] : 1;
  if (step == 0) throw Error("range(): step must not be zero");
  Json out = Json::array();
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(i);
  return out;
}

}  // namespace

std::string render(const Template& t, const Json& vars,
                   const std::map<std::string, Function>& functions) {
  Scope globals;
  globals.vars["namespace"] = Value::function(builtin_namespace);
  globals.vars["range"] = Value::function(builtin_range);
  globals.vars["dict"] = Value::function([](const CallArgs& a) {
    Json d = Json::object();
    for (const auto& [k, v] : a.kw)
      if (v.is_data()) d[k] = v.data();
    return Value(d);
  });
  for (const auto& [name, fn] : functions) globals.vars[name] = Value::function(fn);
  if (vars.is_object())
    for (auto it = vars.begin(); it != vars.end(); ++it) globals.vars[it.key()] = Value(it.value());
  Scope root{{}, &globals};
  std::string out;
  Evaluator(t, &out).exec(t.body, root);
  return out;
}

}  // namespace latent::jinja
