// Unit tests of the chat-template Jinja interpreter: whitespace control as HF renders (trim_blocks,
// lstrip_blocks), statements, scoping, expressions, methods, filters, tests, and error messages
// with template positions. Expected strings follow jinja2's documented behaviour.
#include <gtest/gtest.h>

#include "base/error.h"
#include "tokenizer/chat_template.h"

namespace latent {
namespace {

std::string r(const std::string& tmpl,
              nlohmann::ordered_json extra = nlohmann::ordered_json::object()) {
  ChatRenderInput in;
  in.extra = std::move(extra);
  return render_chat_template(tmpl, in);
}

std::string error_of(const std::string& tmpl) {
  try {
    r(tmpl);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(JinjaWhitespace, DashStripsAllWhitespace) {
  EXPECT_EQ(r("a  \n {%- if true -%} \n b \n {%- endif -%} \n c"), "abc");
  EXPECT_EQ(r("a {{- 'x' -}} b"), "axb");
}

TEST(JinjaWhitespace, TrimAndLstripBlocks) {
  EXPECT_EQ(r("x\n  {% if true %}\n  y\n  {% endif %}\nz"), "x\n  y\nz");
  EXPECT_EQ(r("a\n  {# comment #}\nb"), "a\nb");
  // Variable tags are not blocks: no trimming around them.
  EXPECT_EQ(r("  {{ 'v' }}\nw"), "  v\nw");
  // A tag after other text on its line keeps the spaces before it; `{%+` disables lstrip.
  EXPECT_EQ(r("x {% if true %}y{% endif %}"), "x y");
  EXPECT_EQ(r("  {%+ if true %}y{% endif %}"), "  y");
}

TEST(JinjaStatements, LoopsAndLoopObject) {
  EXPECT_EQ(r("{% for x in [1,2,3] %}{{ loop.index0 }}{{ x }}{% if not loop.last %},{% endif %}"
              "{% endfor %}"),
            "01,12,23");
  EXPECT_EQ(r("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(r("{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.length }}{% endfor %}"), "2242");
  EXPECT_EQ(r("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}"
              "{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "13");
  EXPECT_EQ(r("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"),
            "a=1;b=2;");
  EXPECT_EQ(r("{% for k, v in {'a': 1} | items %}{{ k }}{{ v }}{% endfor %}"), "a1");
  EXPECT_EQ(r("{% for c in 'hé' %}[{{ c }}]{% endfor %}"), "[h][é]");
  EXPECT_EQ(r("{% for x in undefined_thing %}x{% endfor %}ok"), "ok");
}

TEST(JinjaStatements, ScopingAndNamespace) {
  EXPECT_EQ(r("{% set a = 1 %}{% for x in [2] %}{% set a = x %}{% endfor %}{{ a }}"), "1");
  EXPECT_EQ(r("{% set a = 1 %}{% if true %}{% set a = 5 %}{% endif %}{{ a }}"), "5");
  EXPECT_EQ(r("{% set ns = namespace(n=0, s='') %}{% for x in [1,2,3] %}{% set ns.n = ns.n + x %}"
              "{% set ns.s = ns.s ~ x %}{% endfor %}{{ ns.n }} {{ ns.s }}"),
            "6 123");
  EXPECT_EQ(r("{% set x %}a{{ 1 }}{% endset %}{{ x }}"), "a1");
  EXPECT_EQ(r("{% macro greet(name, p='Hi') %}{{ p }} {{ name }}{% endmacro %}"
              "{{ greet('Bob') }}/{{ greet('Al', p='Yo') }}"),
            "Hi Bob/Yo Al");
  // A macro changes a namespace defined outside it.
  EXPECT_EQ(r("{% set ns = namespace(f=true) %}{% macro m() %}{% set ns.f = false %}{% endmacro %}"
              "{{ m() }}{{ ns.f }}"),
            "False");
}

TEST(JinjaExpressions, OperatorsAndPrecedence) {
  EXPECT_EQ(r("{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 2 ** 3 }} {{ 1 / 2 }} {{ 4 / 2 }} "
              "{{ -3 + 1 }}"),
            "7 3 1 8 0.5 2.0 -2");
  EXPECT_EQ(r("{{ 'a' ~ 1 }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 1 if false else 2 }}"),
            "a1 ab [1, 2] 2");
  EXPECT_EQ(
      r("{{ not true or true }} {{ 'b' in 'abc' }} {{ 3 not in [1,2] }} {{ 'k' in {'k': 1} }}"),
      "True True True True");
  EXPECT_EQ(r("{{ not x is defined }} {{ 1 < 2 and 'a' != 'b' }} {{ [1,2] | length - 1 }}"),
            "True True 1");
  EXPECT_EQ(r("{{ none }} {{ true }} {{ [1, 'a', none, 1.5e-7] }} {{ {'a': 1} }} {{ (1, 2) }}"),
            "None True [1, 'a', None, 1.5e-07] {'a': 1} [1, 2]");
  EXPECT_EQ(r("{{ 'it' 's' }}{{ \"\\n\" == '\\n' }}{{ '\\u00e9' }}"), "itsTrueé");
}

TEST(JinjaExpressions, SlicingAndIndexing) {
  EXPECT_EQ(r("{{ [1,2,3,4][::-1] }}{{ 'hello'[1:3] }}{{ [1,2,3][-1] }}{{ 'abc'[::-1] }}"
              "{{ [1,2,3,4][1:] }}{{ [1,2,3,4][:-2] }}{{ [1,2,3,4,5][::2] }}"),
            "[4, 3, 2, 1]el3cba[2, 3, 4][1, 2][1, 3, 5]");
  EXPECT_EQ(
      r("{{ m[0]['role'] }}{{ m[0].role }}{{ m[5] is defined }}", {{"m", {{{"role", "user"}}}}}),
      "useruserFalse");
}

TEST(JinjaExpressions, Methods) {
  EXPECT_EQ(r("{{ '  x  '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'abc'.startswith('ab') }}|"
              "{{ 'xxa'.lstrip('x') }}|{{ 'a\\n\\n'.rstrip('\\n') }}|{{ 'a-b'.replace('-', '+') }}|"
              "{{ {'k': 1}.get('k') }}{{ {'k': 1}.get('z', 5) }}|{{ 'x.y'.endswith('.y') }}|"
              "{{ ' a  b '.split() }}|{{ 'AbC'.lower() }}{{ 'abc'.upper() }}|{{ "
              "'a</t>b'.split('</t>')[-1] }}"),
            "x|['a', 'b']|True|a|a|a+b|15|True|['a', 'b']|abcABC|b");
  EXPECT_EQ(r("{{ {'a': 1, 'b': 2}.keys() | list }}{{ {'a': 1}.values() | list }}"),
            "['a', 'b'][1]");
}

TEST(JinjaFilters, Common) {
  EXPECT_EQ(
      r("{{ '  x ' | trim }}|{{ [1,2,3] | length }}|{{ 'héllo' | length }}|{{ [1,2] | first }}"
        "{{ [1,2] | last }}|{{ ['a','b'] | join(', ') }}|{{ x | default('d') }}|"
        "{{ '' | default('d', true) }}|{{ 'aB' | upper }}{{ 'aB' | lower }}|{{ 12 | string }}"),
      "x|3|5|12|a, b|d|d|ABab|12");
  EXPECT_EQ(r("{{ ['a', 'code', 'b'] | reject('equalto', 'code') | join(',') }}|"
              "{{ [1, 2, 3, 4] | select('odd') | list }}|"
              "{{ t | map(attribute='function') | map(attribute='name') | join }}|"
              "{{ t | selectattr('type', 'equalto', 'function') | list | length }}",
              {{"t", {{{"type", "function"}, {"function", {{"name", "f"}}}}}}}),
            "a,b|[1, 3]|f|1");
  EXPECT_EQ(r("{{ [3, 1, 2] | sort }}{{ [1, 1, 2] | unique | list }}{{ 'abc' | reverse }}"
              "{{ '3' | int + 1 }}{{ 'a\\nb' | indent(2) }}"),
            "[1, 2, 3][1, 2]cba4a\n  b");
}

TEST(JinjaFilters, ToJsonMatchesPythonJsonDumps) {
  EXPECT_EQ(r("{{ {'a': [1, 2.5, 'é\"\\n'], 'b': none, 'c': true, 'd': {}} | tojson }}"),
            "{\"a\": [1, 2.5, \"é\\\"\\n\"], \"b\": null, \"c\": true, \"d\": {}}");
  EXPECT_EQ(r("{{ {'a': [1], 'b': []} | tojson(indent=2) }}"),
            "{\n  \"a\": [\n    1\n  ],\n  \"b\": []\n}");
  EXPECT_EQ(r("{{ {'a': 'é'} | tojson(ensure_ascii=true) }}{{ {'a': 1, 'b': 2} | "
              "tojson(separators=(',', ':')) }}"),
            "{\"a\": \"\\u00e9\"}{\"a\":1,\"b\":2}");
  EXPECT_EQ(r("{{ 'str' | tojson }}{{ 1.0 | tojson }}{{ 1e20 | tojson }}"), "\"str\"1.01e+20");
}

TEST(JinjaTests, TypeTests) {
  EXPECT_EQ(r("{{ x is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}"
              "{{ 'a' is iterable }}{{ 1 is number }}{{ 1 is integer }}{{ false is false }}"
              "{{ 1 is not string }}{{ none is iterable }}{{ 4 is divisibleby 2 }}"),
            "FalseTrueTrueTrueTrueTrueTrueTrueTrueFalseTrue");
}

TEST(JinjaGlobals, RaiseExceptionAndStrftime) {
  const std::string e = error_of("ab\n  {{ raise_exception('Bad roles!') }}");
  EXPECT_NE(e.find("chat template 2:"), std::string::npos) << e;
  EXPECT_NE(e.find("raise_exception: Bad roles!"), std::string::npos) << e;
  ChatRenderInput in;
  in.now = 1732320000;  // 2024-11-23 00:00 UTC
  EXPECT_EQ(render_chat_template("{{ strftime_now('%d %b %Y') }}", in), "23 Nov 2024");
  EXPECT_EQ(r("{{ range(3) | list }}{{ range(1, 7, 2) | join(',') }}"), "[0, 1, 2]1,3,5");
}

TEST(JinjaErrors, PositionsAndExpectations) {
  EXPECT_EQ(error_of("{% if x %}abc"),
            "chat template 1:14: expected 'elif' or 'else' or 'endif' to close the 'if' at 1:4, "
            "found end of template");
  EXPECT_EQ(error_of("ab\n{{ x "),
            "chat template 2:1: unclosed '{{' tag: expected '}}', found end of template");
  EXPECT_EQ(error_of("{# never closed"),
            "chat template 1:1: unclosed comment: expected '#}', found end of template");
  EXPECT_EQ(error_of("line1\n{{ x | nosuch }}"), "chat template 2:8: unknown filter 'nosuch'");
  EXPECT_EQ(error_of("{{ x is nosuch }}"), "chat template 1:9: unknown test 'nosuch'");
  EXPECT_EQ(error_of("{% frobnicate %}"), "chat template 1:4: unknown tag 'frobnicate'");
  EXPECT_EQ(error_of("{{ 'a' + }}"), "chat template 1:10: expected an expression, found '}}'");
  EXPECT_EQ(
      error_of("{% for x in [1] %}{{ x }}{% endif %}"),
      "chat template 1:29: expected 'else' or 'endfor' to close the 'for' at 1:4, found 'endif'");
  EXPECT_EQ(error_of("{{ x.y }}"),
            "chat template 1:5: 'x' is undefined, so it has no attribute 'y'");
  EXPECT_EQ(error_of("{{ 'a' + 1 }}"),
            "chat template 1:8: unsupported operand types for +: string and int");
  EXPECT_EQ(
      error_of("{% set n = 1 %}{% set n.a = 2 %}"),
      "chat template 1:19: cannot set attribute 'a' of 'n': expected a namespace(), found int");
}

}  // namespace
}  // namespace latent
