// Readers for llama.cpp's tokenizer test files (tests/test-tokenizer-0): the .inp strings, each
// followed by "\n__ggml_vocab_test__\n", and the .out lines of space-separated expected ids.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include "base/ids.h"
#include "common/testdata.h"

namespace latent::test {

inline std::vector<std::string> read_inp_cases(const std::string& path) {
  const std::string separator = "\n__ggml_vocab_test__\n";
  const std::string all = read_file(path);
  std::vector<std::string> cases;
  size_t begin = 0;
  for (size_t end = all.find(separator); end != std::string::npos;
       end = all.find(separator, begin)) {
    cases.push_back(all.substr(begin, end - begin));
    begin = end + separator.size();
  }
  return cases;
}

inline std::vector<std::vector<TokenId>> read_out_lines(const std::string& path) {
  std::vector<std::vector<TokenId>> lines;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::vector<TokenId> ids;
    for (TokenId id; fields >> id;) ids.push_back(id);
    lines.push_back(std::move(ids));
  }
  return lines;
}

}  // namespace latent::test
