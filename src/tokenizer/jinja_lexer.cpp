// Jinja lexer: text/tag splitting with HF's whitespace settings (trim_blocks, lstrip_blocks), and
// expression tokens inside tags. Mirrors the behaviour of jinja2's lexer (lexer.py tokeniter) for
// the rules it implements; `{% raw %}` and line statements are not supported.
#include "tokenizer/jinja_lexer.h"

#include <cctype>

#include "base/error.h"

namespace latent::jinja {

std::string line_col(std::string_view src, size_t pos) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < pos && i < src.size(); ++i) {
    if (src[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return std::to_string(line) + ":" + std::to_string(col);
}

std::string where(std::string_view src, size_t pos) {
  return "chat template " + line_col(src, pos) + ": ";
}

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : s_(src) {}

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos <= s_.size()) {
      size_t open = s_.find('{', pos);
      while (open != std::string_view::npos && open + 1 < s_.size() && s_[open + 1] != '{' &&
             s_[open + 1] != '%' && s_[open + 1] != '#')
        open = s_.find('{', open + 1);
      if (open != std::string_view::npos && open + 1 >= s_.size()) open = std::string_view::npos;
      const size_t text_end = open == std::string_view::npos ? s_.size() : open;
      std::string text(s_.substr(pos, text_end - pos));
      // The previous tag's `-` or trim_blocks newline was consumed already (below); here only the
      // right side of the text, which depends on the next tag.
      if (open != std::string_view::npos) {
        const char type = s_[open + 1];
        const char sign = open + 2 < s_.size() ? s_[open + 2] : '\0';
        if (sign == '-') {
          size_t e = text.size();
          while (e > 0 && is_space(text[e - 1])) --e;
          text.resize(e);
        } else if (sign != '+' && type != '{') {  // lstrip_blocks
          const size_t nl = text.rfind('\n');
          const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
          if ((l_pos > 0 || line_starting) && l_pos < text.size()) {
            bool ws = true;
            for (size_t i = l_pos; i < text.size(); ++i) ws = ws && is_space(text[i]);
            if (ws) text.resize(l_pos);
          }
        }
      }
      if (!text.empty()) out_.push_back({Tok::kText, std::move(text), pos});
      if (open == std::string_view::npos) break;
      const char type = s_[open + 1];
      size_t i = open + 2;
      if (i < s_.size() && (s_[i] == '-' || s_[i] == '+')) ++i;
      bool strip_after = false;
      size_t after;
      if (type == '#') {
        const size_t close = s_.find("#}", i);
        if (close == std::string_view::npos)
          throw Error(where(s_, open) + "unclosed comment: expected '#}', found end of template");
        strip_after = close > i && s_[close - 1] == '-';
        after = close + 2;
      } else {
        out_.push_back({type == '{' ? Tok::kVarBegin : Tok::kBlockBegin, "", open});
        after = lex_tag(open, i, type == '{' ? '}' : '%', strip_after);
        out_.push_back({type == '{' ? Tok::kVarEnd : Tok::kBlockEnd, "", after - 2});
      }
      pos = after;
      line_starting = false;
      if (strip_after) {
        while (pos < s_.size() && is_space(s_[pos])) ++pos;
        line_starting = pos > after && s_[pos - 1] == '\n';
      } else if (type != '{' && pos < s_.size() && s_[pos] == '\n') {  // trim_blocks
        ++pos;
        line_starting = true;
      }
      if (pos == s_.size()) break;
    }
    out_.push_back({Tok::kEof, "", s_.size()});
    return std::move(out_);
  }

 private:
  // Expression tokens from i up to the closer `<c>}` at bracket depth 0; returns the offset after
  // the closer. A `-` right before the closer is whitespace control, not an operator.
  size_t lex_tag(size_t open, size_t i, char c, bool& strip_after) {
    int depth = 0;
    for (;;) {
      while (i < s_.size() && is_space(s_[i])) ++i;
      if (i >= s_.size()) {
        throw Error(where(s_, open) + "unclosed '{" + (c == '}' ? "{" : "%") + "' tag: expected '" +
                    c + "}', found end of template");
      }
      if (depth == 0 && s_[i] == '-' && i + 2 < s_.size() && s_[i + 1] == c && s_[i + 2] == '}') {
        strip_after = true;
        return i + 3;
      }
      if (depth == 0 && s_[i] == c && i + 1 < s_.size() && s_[i + 1] == '}') return i + 2;
      const char ch = s_[i];
      if (std::isalpha(static_cast<unsigned char>(ch)) || ch == '_') {
        size_t j = i;
        while (j < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[j])) || s_[j] == '_'))
          ++j;
        out_.push_back({Tok::kName, std::string(s_.substr(i, j - i)), i});
        i = j;
      } else if (std::isdigit(static_cast<unsigned char>(ch))) {
        i = lex_number(i);
      } else if (ch == '\'' || ch == '"') {
        i = lex_string(i);
      } else {
        static const char* kOps[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*",
                                     "/",  "%",  "~",  "<",  ">",  "=",  "(", ")", "[",
                                     "]",  "{",  "}",  ".",  ",",  ":",  "|"};
        std::string_view op;
        for (const char* o : kOps) {
          if (s_.substr(i).starts_with(o)) {
            op = o;
            break;
          }
        }
        if (op.empty()) {
          throw Error(where(s_, i) + "expected an expression token, found '" + std::string(1, ch) +
                      "'");
        }
        if (op == "(" || op == "[" || op == "{") ++depth;
        if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
        out_.push_back({Tok::kOp, std::string(op), i});
        i += op.size();
      }
    }
  }

  size_t lex_number(size_t i) {
    size_t j = i;
    bool is_float = false;
    auto digits = [&] {
      while (j < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[j])) || s_[j] == '_'))
        ++j;
    };
    digits();
    if (j + 1 < s_.size() && s_[j] == '.' && std::isdigit(static_cast<unsigned char>(s_[j + 1]))) {
      is_float = true;
      ++j;
      digits();
    }
    if (j < s_.size() && (s_[j] == 'e' || s_[j] == 'E')) {
      size_t k = j + 1;
      if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
      if (k < s_.size() && std::isdigit(static_cast<unsigned char>(s_[k]))) {
        is_float = true;
        j = k;
        digits();
      }
    }
    std::string text;
    for (size_t k = i; k < j; ++k)
      if (s_[k] != '_') text += s_[k];
    out_.push_back({is_float ? Tok::kFloat : Tok::kInt, text, i});
    return j;
  }

  // Python string literal escapes: \n \t \r \\ \' \" \0 \xHH \uHHHH; others keep the backslash.
  size_t lex_string(size_t i) {
    const char q = s_[i];
    std::string v;
    size_t j = i + 1;
    for (;;) {
      if (j >= s_.size()) throw Error(where(s_, i) + "unclosed string literal");
      const char ch = s_[j];
      if (ch == q) break;
      if (ch != '\\' || j + 1 >= s_.size()) {
        v += ch;
        ++j;
        continue;
      }
      const char e = s_[j + 1];
      j += 2;
      switch (e) {
        case 'n':
          v += '\n';
          break;
        case 't':
          v += '\t';
          break;
        case 'r':
          v += '\r';
          break;
        case '0':
          v += '\0';
          break;
        case '\\':
          v += '\\';
          break;
        case '\'':
          v += '\'';
          break;
        case '"':
          v += '"';
          break;
        case '\n':
          break;
        case 'x':
        case 'u': {
          const size_t n = e == 'x' ? 2 : 4;
          uint32_t cp = 0;
          for (size_t k = 0; k < n; ++k, ++j) {
            const char h = j < s_.size() ? s_[j] : 'g';
            if (!std::isxdigit(static_cast<unsigned char>(h)))
              throw Error(where(s_, j) + "expected a hex digit in a string escape");
            cp = cp * 16 + static_cast<uint32_t>(std::isdigit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
          }
          if (cp < 0x80) {
            v += static_cast<char>(cp);
          } else if (cp < 0x800) {
            v += static_cast<char>(0xC0 | (cp >> 6));
            v += static_cast<char>(0x80 | (cp & 0x3F));
          } else {
            v += static_cast<char>(0xE0 | (cp >> 12));
            v += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            v += static_cast<char>(0x80 | (cp & 0x3F));
          }
          break;
        }
        default:
          v += '\\';
          v += e;
      }
    }
    out_.push_back({Tok::kString, std::move(v), i});
    return j + 1;
  }

  std::string_view s_;
  std::vector<Token> out_;
};

}  // namespace

std::vector<Token> lex(std::string_view src) {
  return Lexer(src).run();
}

}  // namespace latent::jinja
