// Black-box tests of `latent chat`: two turns piped into a small random model whose GGUF carries a
// chat template (the second turn reuses the cached conversation), reproducibility with --temp 0,
// and the documented behaviour for a model without a template (stories260K): a clear error unless
// --chat-template gives one.
#include <gtest/gtest.h>

#include <algorithm>

#include "common/testdata.h"
#include "gguf/gguf_reader.h"
#include "gguf/gguf_writer.h"

namespace latent {
namespace {

const char* kTemplate =
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}[SYS]{{ m.content }}[/SYS]"
    "{% elif m.role == 'user' %}[INST] {{ m.content | trim }} [/INST]{% else %}{{ m.content }}"
    "{{ eos_token }}{% endif %}{% endfor %}";

int latent(const std::string& args, const std::string& stdin_text, std::string* out,
           std::string* err) {
  return test::run_latent(args, out, err, stdin_text);
}

// latent-gen-model's tiny llama (synthetic SPM vocabulary) plus a tokenizer.chat_template key.
std::string model_with_template() {
  static std::string path;
  if (!path.empty()) return path;
  const std::string plain = test::temp_path("chat_plain.gguf");
  std::string log;
  EXPECT_EQ(
      test::run_command(test::binary_dir() + "/latent-gen-model --out " + plain + " 2>&1", &log), 0)
      << log;
  const GgufFile src = GgufFile::open(plain);
  const std::string bytes = test::read_file(plain);
  GgufWriter w;
  for (const auto& [key, value] : src.metadata()) w.set(key, value);
  w.set_str("tokenizer.chat_template", kTemplate);
  for (const GgufTensorInfo& t : src.tensors()) {
    const char* p = bytes.data() + src.data_offset() + t.offset;
    w.add_tensor(t.name, t.dtype, std::vector<int64_t>(t.shape.begin(), t.shape.begin() + t.n_dims),
                 std::vector<uint8_t>(p, p + t.nbytes));
  }
  path = test::temp_path("chat_template.gguf");
  w.write(path);
  return path;
}

TEST(CliChat, TwoTurnsFromAPipeReuseTheCache) {
  std::string out, err;
  const std::string args = "chat -m " + model_with_template() + " -n 6 --temp 0 -s 'Be nice.'";
  ASSERT_EQ(latent(args, "Hello there\nTell me more\n", &out, &err), 0) << err;
  // One line per reply on stdout; statistics on stderr.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  EXPECT_NE(err.find("turn 1: prompt "), std::string::npos) << err;
  EXPECT_NE(err.find("new + 0 cached tokens, reply "), std::string::npos) << err;
  const size_t t2 = err.find("turn 2: prompt ");
  ASSERT_NE(t2, std::string::npos) << err;
  const int cached = std::stoi(err.substr(err.find("new + ", t2) + 6));
  EXPECT_GT(cached, 10) << err;  // BOS, the system prompt, turn 1 and its reply
  std::string out2;
  ASSERT_EQ(latent(args, "Hello there\nTell me more\n", &out2, &err), 0) << err;
  EXPECT_EQ(out, out2);
  // /reset starts over: the first turn again gives the first reply again.
  ASSERT_EQ(latent(args, "Hello there\n/reset\nHello there\n", &out2, &err), 0) << err;
  const std::string first = out.substr(0, out.find('\n') + 1);
  EXPECT_EQ(out2, first + first);
}

TEST(CliChat, ModelWithoutTemplateIsAClearError) {
  const std::string stories = test::testdata_path("models/stories260K/stories260K.gguf");
  std::string out, err;
  EXPECT_EQ(latent("chat -m " + stories, "Hi\n", &out, &err), 1);
  EXPECT_NE(err.find("tokenizer.chat_template: expected the model's chat template, found none"),
            std::string::npos)
      << err;
  EXPECT_TRUE(out.empty());
  const std::string tmpl = test::temp_path("stories_chat.jinja");
  test::write_file(tmpl, kTemplate);
  ASSERT_EQ(latent("chat -m " + stories + " --chat-template " + tmpl + " -n 5 --temp 0",
                   "Once upon a time\n", &out, &err),
            0)
      << err;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  // A template with a syntax error is reported with its position.
  test::write_file(tmpl, "{% for m in messages %}");
  EXPECT_EQ(latent("chat -m " + stories + " --chat-template " + tmpl, "Hi\n", &out, &err), 1);
  EXPECT_NE(err.find("chat template 1:24: expected 'else' or 'endfor'"), std::string::npos) << err;
}

}  // namespace
}  // namespace latent
