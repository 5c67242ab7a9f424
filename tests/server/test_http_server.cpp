// Black-box tests of `latent serve` over raw HTTP: response shapes, SSE framing byte for byte,
// every 4xx (with OpenAI's error body naming the field), 401, 413, 429, a client that disconnects
// mid-stream (its blocks return to the pool: /metrics shows kv_cache_usage_perc 0 again), SIGTERM
// draining (an in-flight stream completes, the listener is closed, exit 0), concurrency, and the
// reasoning split with DeepSeek-R1's real template.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "common/testdata.h"
#include "engine/answer_vote.h"
#include "server_harness.h"

namespace latent::test {
namespace {

using nlohmann::json;

const char* kTemplate =
    "{{ bos_token }}{% for m in messages %}{% if m.role == 'system' %}[SYS]{{ m.content }}[/SYS]"
    "{% elif m.role == 'user' %}[INST] {{ m.content | trim }} [/INST]{% else %}{{ m.content }}"
    "{{ eos_token }}{% endif %}{% endfor %}";

std::string chat_model() {
  return tiny_model("srv_chat", kTemplate, "--n-ctx 512");
}
// Bigger, so that a long generation takes seconds on two threads (disconnect, drain, queue).
std::string slow_model() {
  return tiny_model("srv_slow", kTemplate,
                    "--n-embd 256 --n-layer 4 --n-head 4 --n-ff 768 --n-ctx 2048");
}

json post(int port, const std::string& path, const json& body, int* status,
          const std::vector<std::string>& headers = {}) {
  const HttpResponse r = http(port, "POST", path, body.dump(), headers);
  *status = r.status;
  try {
    return json::parse(r.body);
  } catch (const std::exception&) {
    ADD_FAILURE() << path << " answered " << r.status << " with non-JSON: " << r.body;
    return json();
  }
}

// The value of a Prometheus sample whose line starts with `prefix` (-1 when absent).
double metric(const std::string& text, const std::string& prefix) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l.starts_with(prefix)) return std::stod(l.substr(l.rfind(' ') + 1));
  return -1;
}

void expect_openai_error(const json& body, const std::string& param) {
  ASSERT_TRUE(body.contains("error")) << body;
  const json& e = body["error"];
  EXPECT_TRUE(e["message"].is_string()) << body;
  EXPECT_TRUE(e["type"].is_string()) << body;
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << body;
  if (!param.empty()) {
    EXPECT_EQ(e["param"], param) << body;
    EXPECT_NE(e["message"].get<std::string>().find(param), std::string::npos) << body;
  }
}

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ =
        new ServerProcess(chat_model(), {"--model-name", "tiny", "-c", "256", "--parallel", "4"});
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->terminate(30), 0) << server_->log();
    delete server_;
    server_ = nullptr;
  }
  static int port() { return server_->port(); }
  static ServerProcess* server_;
};
ServerProcess* Serve::server_ = nullptr;

TEST_F(Serve, HealthModelsAndMetrics) {
  EXPECT_EQ(http(port(), "GET", "/health").status, 200);
  const HttpResponse m = http(port(), "GET", "/v1/models");
  ASSERT_EQ(m.status, 200);
  const json j = json::parse(m.body);
  EXPECT_EQ(j["object"], "list");
  EXPECT_EQ(j["data"][0]["id"], "tiny");
  EXPECT_EQ(j["data"][0]["object"], "model");
  const HttpResponse t = http(port(), "GET", "/metrics");
  ASSERT_EQ(t.status, 200);
  EXPECT_NE(t.header("content-type").find("text/plain"), std::string::npos);
  EXPECT_GE(metric(t.body, "vllm:num_requests_running{"), 0) << t.body;
  EXPECT_NE(t.body.find("vllm:cache_config_info{model_name=\"tiny\",block_size=\"16\""),
            std::string::npos)
      << t.body;
}

TEST_F(Serve, ChatCompletion) {
  int status = 0;
  const json r = post(port(), "/v1/chat/completions",
                      {{"model", "tiny"},
                       {"messages",
                        {{{"role", "system"}, {"content", "Be brief."}},
                         {{"role", "user"}, {"content", "Hello there"}}}},
                       {"max_tokens", 8},
                       {"temperature", 0}},
                      &status);
  ASSERT_EQ(status, 200) << r;
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_TRUE(r["id"].get<std::string>().starts_with("chatcmpl-"));
  EXPECT_EQ(r["model"], "tiny");
  ASSERT_EQ(r["choices"].size(), 1u);
  EXPECT_EQ(r["choices"][0]["message"]["role"], "assistant");
  EXPECT_TRUE(r["choices"][0]["message"]["content"].is_string());
  const std::string fr = r["choices"][0]["finish_reason"];
  EXPECT_TRUE(fr == "length" || fr == "stop") << fr;
  const json& u = r["usage"];
  EXPECT_GT(u["prompt_tokens"].get<int>(), 5);
  EXPECT_LE(u["completion_tokens"].get<int>(), 8);
  EXPECT_EQ(u["total_tokens"], u["prompt_tokens"].get<int>() + u["completion_tokens"].get<int>());
  EXPECT_TRUE(u["prompt_tokens_details"]["cached_tokens"].is_number());
}

TEST_F(Serve, CompletionWithTokensLogprobsAndN) {
  int status = 0;
  const json r = post(port(), "/v1/completions",
                      {{"prompt", {1, 300, 301, 302}},
                       {"max_tokens", 5},
                       {"logprobs", 2},
                       {"n", 2},
                       {"seed", 3},
                       {"ignore_unknown_field", true}},
                      &status);
  ASSERT_EQ(status, 200) << r;
  EXPECT_EQ(r["object"], "text_completion");
  ASSERT_EQ(r["choices"].size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const json& c = r["choices"][i];
    EXPECT_EQ(c["index"], i);
    const json& lp = c["logprobs"];
    ASSERT_TRUE(lp.is_object()) << r;
    EXPECT_EQ(lp["tokens"].size(), lp["token_logprobs"].size());
    EXPECT_EQ(lp["tokens"].size(), lp["top_logprobs"].size());
    for (const json& top : lp["top_logprobs"]) EXPECT_LE(top.size(), 2u);
  }
  EXPECT_EQ(r["usage"]["prompt_tokens"], 4);
}

TEST_F(Serve, VoteExtensionCountsEveryChoice) {
  int status = 0;
  const json r =
      post(port(), "/v1/completions",
           {{"prompt", "Once"}, {"max_tokens", 6}, {"n", 6}, {"seed", 5}, {"vote", "majority"}},
           &status);
  ASSERT_EQ(status, 200) << r;
  ASSERT_EQ(r["choices"].size(), 6u);
  // The vote is over the choices returned: recount them with the engine's extractor.
  std::vector<std::optional<int64_t>> answers;
  for (const json& c : r["choices"])
    answers.push_back(extract_answer(c["text"].get<std::string>()));
  const VoteResult v = majority_vote(answers);
  const json& vote = r["vote"];
  EXPECT_EQ(vote["method"], "majority");
  EXPECT_EQ(vote["without_answer"], v.n_without_answer) << r;
  ASSERT_EQ(vote["counts"].size(), v.counts.size()) << r;
  int total = vote["without_answer"].get<int>();
  for (size_t i = 0; i < v.counts.size(); ++i) {
    EXPECT_EQ(vote["counts"][i]["answer"], v.counts[i].first);
    total += vote["counts"][i]["votes"].get<int>();
  }
  EXPECT_EQ(total, 6);
  EXPECT_EQ(vote["answer"].is_null(), !v.answer.has_value());
  // Without the extension there is no vote object.
  const json plain =
      post(port(), "/v1/completions", {{"prompt", "Once"}, {"max_tokens", 2}}, &status);
  EXPECT_FALSE(plain.contains("vote"));
}

TEST_F(Serve, GreedyStreamEqualsNonStream) {
  const json req = {{"prompt", "Once upon a time"}, {"max_tokens", 12}, {"temperature", 0}};
  int status = 0;
  const json whole = post(port(), "/v1/completions", req, &status);
  ASSERT_EQ(status, 200) << whole;
  json sreq = req;
  sreq["stream"] = true;
  const HttpResponse s = http(port(), "POST", "/v1/completions", sreq.dump());
  ASSERT_EQ(s.status, 200);
  std::string text;
  for (const std::string& p : sse_payloads(s.body))
    if (p != "[DONE]") text += json::parse(p)["choices"][0]["text"].get<std::string>();
  EXPECT_EQ(text, whole["choices"][0]["text"].get<std::string>());
}

// The exact bytes OpenAI sends: only "data: <json>\n\n" events, role first, finish_reason last per
// choice, the usage chunk with empty choices, then "data: [DONE]\n\n".
TEST_F(Serve, ChatStreamFraming) {
  const json req = {{"messages", {{{"role", "user"}, {"content", "Hi"}}}},
                    {"max_tokens", 6},
                    {"n", 2},
                    {"stream", true},
                    {"stream_options", {{"include_usage", true}}}};
  const HttpResponse s = http(port(), "POST", "/v1/chat/completions", req.dump());
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.header("content-type").substr(0, 17), "text/event-stream");
  EXPECT_EQ(s.header("transfer-encoding"), "chunked");
  ASSERT_TRUE(s.body.ends_with("\n\ndata: [DONE]\n\n")) << s.body;
  // Byte-level framing: every event is exactly one data line.
  std::vector<std::string> events;
  for (size_t pos = 0; pos < s.body.size();) {
    const size_t end = s.body.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos) << s.body;
    events.push_back(s.body.substr(pos, end - pos));
    pos = end + 2;
  }
  for (const std::string& e : events) {
    EXPECT_TRUE(e.starts_with("data: ")) << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  ASSERT_GE(events.size(), 6u);
  EXPECT_EQ(events.back(), "data: [DONE]");
  std::vector<json> chunks;
  for (size_t i = 0; i + 1 < events.size(); ++i) chunks.push_back(json::parse(events[i].substr(6)));
  const std::string id = chunks[0]["id"];
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(chunks[i]["choices"][0]["index"], i);
    EXPECT_EQ(chunks[i]["choices"][0]["delta"]["role"], "assistant");
  }
  std::map<int, int> finishes;
  std::map<int, bool> finished;
  for (size_t i = 0; i + 1 < chunks.size(); ++i) {
    const json& c = chunks[i];
    EXPECT_EQ(c["id"], id);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    EXPECT_TRUE(c.contains("usage") && c["usage"].is_null()) << c;
    ASSERT_EQ(c["choices"].size(), 1u);
    const int idx = c["choices"][0]["index"];
    EXPECT_FALSE(finished[idx]) << "a chunk after choice " << idx << " finished";
    if (!c["choices"][0]["finish_reason"].is_null()) {
      ++finishes[idx];
      finished[idx] = true;
    }
  }
  EXPECT_EQ(finishes[0], 1);
  EXPECT_EQ(finishes[1], 1);
  const json& last = chunks.back();
  EXPECT_TRUE(last["choices"].empty()) << last;
  EXPECT_GT(last["usage"]["prompt_tokens"].get<int>(), 0);
  EXPECT_LE(last["usage"]["completion_tokens"].get<int>(), 12);
}

TEST_F(Serve, CompletionStreamWithoutUsage) {
  const json req = {{"prompt", "Once"}, {"max_tokens", 4}, {"stream", true}};
  const HttpResponse s = http(port(), "POST", "/v1/completions", req.dump());
  ASSERT_EQ(s.status, 200);
  const std::vector<std::string> p = sse_payloads(s.body);
  ASSERT_GE(p.size(), 2u);
  EXPECT_EQ(p.back(), "[DONE]");
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    const json c = json::parse(p[i]);
    EXPECT_EQ(c["object"], "text_completion");
    EXPECT_FALSE(c.contains("usage"));
  }
  EXPECT_FALSE(json::parse(p[p.size() - 2])["choices"][0]["finish_reason"].is_null());
}

TEST_F(Serve, RequestErrorsNameTheField) {
  const std::string many_words = [] {
    std::string s;
    for (int i = 0; i < 400; ++i) s += "word ";
    return s;
  }();
  struct Case {
    std::string path, body;
    int status;
    std::string param;
  };
  const std::string msgs = R"("messages":[{"role":"user","content":"Hi"}])";
  const std::vector<Case> cases = {
      {"/v1/chat/completions", "{not json", 400, ""},
      {"/v1/chat/completions", "[1,2]", 400, ""},
      {"/v1/chat/completions", "{" + msgs + R"(,"temperature":"hot"})", 400, "temperature"},
      {"/v1/chat/completions", "{" + msgs + R"(,"n":17})", 400, "n"},
      {"/v1/chat/completions", "{" + msgs + R"(,"max_tokens":0})", 400, "max_tokens"},
      {"/v1/chat/completions", "{" + msgs + R"(,"max_tokens":100000})", 400, "max_tokens"},
      {"/v1/chat/completions", "{" + msgs + R"(,"logit_bias":{"99999":1}})", 400, "logit_bias"},
      {"/v1/chat/completions", "{" + msgs + R"(,"stop":["a","b","c","d","e"]})", 400, "stop"},
      {"/v1/chat/completions", R"({"messages":[{"role":"robot","content":"x"}]})", 400,
       "messages[0].role"},
      {"/v1/chat/completions",
       R"({"messages":[{"role":"user","content":")" + many_words + R"("}]})", 400, "messages"},
      {"/v1/completions", R"({"prompt":")" + many_words + R"("})", 400, "prompt"},
      {"/v1/completions", R"({"prompt":[1,2,99999]})", 400, "prompt[2]"},
      {"/v1/completions", R"({"prompt":"x","top_p":7})", 400, "top_p"},
      {"/v1/completions", R"({"prompt":"x","model":"gpt-4"})", 404, "model"},
  };
  for (const Case& c : cases) {
    const HttpResponse r = http(port(), "POST", c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.body << " → " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json") << c.body;
    json b;
    ASSERT_NO_THROW(b = json::parse(r.body)) << r.body;
    expect_openai_error(b, c.param);
    if (c.status == 404) {
      EXPECT_EQ(b["error"]["code"], "model_not_found");
    }
  }
  // The server is unaffected by all of that.
  int status = 0;
  post(port(), "/v1/completions", {{"prompt", "x"}, {"max_tokens", 2}}, &status);
  EXPECT_EQ(status, 200);
}

TEST_F(Serve, UnknownRouteIsJson404) {
  const HttpResponse r = http(port(), "GET", "/v2/nothing");
  EXPECT_EQ(r.status, 404);
  expect_openai_error(json::parse(r.body), "");
}

TEST_F(Serve, TokenizeDetokenize) {
  int status = 0;
  const json t =
      post(port(), "/tokenize", {{"content", "Hello world"}, {"add_special", true}}, &status);
  ASSERT_EQ(status, 200) << t;
  ASSERT_GT(t["tokens"].size(), 1u);
  EXPECT_EQ(t["tokens"][0], 1);  // BOS
  const json d = post(port(), "/detokenize", {{"tokens", t["tokens"]}}, &status);
  ASSERT_EQ(status, 200) << d;
  EXPECT_EQ(d["content"], "Hello world");
  const json bad = post(port(), "/detokenize", {{"tokens", {1, -5}}}, &status);
  EXPECT_EQ(status, 400);
  expect_openai_error(bad, "tokens[1]");
}

TEST_F(Serve, ConcurrentGreedyRequestsMatchSolo) {
  std::vector<std::string> prompts;
  for (int i = 0; i < 6; ++i) prompts.push_back("Story number " + std::to_string(i) + " begins");
  auto run = [&](const std::string& p) {
    int status = 0;
    const json r = post(port(), "/v1/completions",
                        {{"prompt", p}, {"max_tokens", 10}, {"temperature", 0}}, &status);
    return status == 200 ? r["choices"][0]["text"].get<std::string>() : "error " + r.dump();
  };
  std::vector<std::string> solo, together(prompts.size());
  for (const std::string& p : prompts) solo.push_back(run(p));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < prompts.size(); ++i)
    threads.emplace_back([&, i] { together[i] = run(prompts[i]); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(solo, together);
}

TEST(ServeNoTemplate, ChatIs400CompletionsWork) {
  ServerProcess s(test::testdata_path("models/stories260K/stories260K.gguf"), {});
  int status = 0;
  const json r = post(s.port(), "/v1/chat/completions",
                      {{"messages", {{{"role", "user"}, {"content", "Hi"}}}}}, &status);
  EXPECT_EQ(status, 400);
  expect_openai_error(r, "messages");
  const json c = post(s.port(), "/v1/completions",
                      {{"model", "stories260K.gguf"},
                       {"prompt", "Once upon a time"},
                       {"max_tokens", 8},
                       {"temperature", 0}},
                      &status);
  EXPECT_EQ(status, 200) << c;
  EXPECT_EQ(s.terminate(30), 0);
}

TEST(ServeAuth, ApiKeyGuardsTheApiNotProbes) {
  ServerProcess s(chat_model(), {"--api-key", "sekret"});
  const std::string body = R"({"prompt":"x","max_tokens":2})";
  for (const std::vector<std::string>& h :
       {std::vector<std::string>{}, std::vector<std::string>{"Authorization: Bearer wrong"}}) {
    const HttpResponse r = http(s.port(), "POST", "/v1/completions", body, h);
    EXPECT_EQ(r.status, 401) << r.body;
    const json b = json::parse(r.body);
    expect_openai_error(b, "");
    EXPECT_EQ(b["error"]["code"], "invalid_api_key");
    EXPECT_EQ(http(s.port(), "GET", "/v1/models", "", h).status, 401);
  }
  EXPECT_EQ(
      http(s.port(), "POST", "/v1/completions", body, {"Authorization: Bearer sekret"}).status,
      200);
  EXPECT_EQ(http(s.port(), "GET", "/health").status, 200);
  EXPECT_EQ(http(s.port(), "GET", "/metrics").status, 200);
  EXPECT_EQ(s.terminate(30), 0);
}

TEST(ServeLimits, BodyTooLargeIs413Json) {
  ServerProcess s(chat_model(), {"--max-body-bytes", "1000"});
  const std::string body = R"({"prompt":")" + std::string(2000, 'a') + R"("})";
  const HttpResponse r = http(s.port(), "POST", "/v1/completions", body);
  EXPECT_EQ(r.status, 413);
  expect_openai_error(json::parse(r.body), "");
  EXPECT_EQ(http(s.port(), "POST", "/v1/completions", R"({"prompt":"a","max_tokens":2})").status,
            200);
  EXPECT_EQ(s.terminate(30), 0);
}

TEST(ServeLimits, QueueFullIs429WithRetryAfter) {
  ServerProcess s(slow_model(), {"--parallel", "1", "--max-queue", "0", "-c", "2048"});
  RawConnection first(s.port());
  first.send_request("POST", "/v1/completions",
                     R"({"prompt":"Once","max_tokens":1500,"stream":true,"ignore_eos":true})");
  ASSERT_TRUE(first.read_until("data: ", 2, 60)) << first.raw();
  const HttpResponse r = http(s.port(), "POST", "/v1/completions", R"({"prompt":"x"})");
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(r.header("retry-after"), "1");
  expect_openai_error(json::parse(r.body), "");
  first.close();
  EXPECT_EQ(s.terminate(60), 0) << s.log();
}

// A client that hangs up mid-stream cancels its request: the engine frees its blocks.
TEST(ServeDisconnect, BlocksReturnToThePool) {
  ServerProcess s(slow_model(), {"-c", "2048", "--parallel", "2"});
  {
    RawConnection c(s.port());
    c.send_request("POST", "/v1/chat/completions",
                   R"({"messages":[{"role":"user","content":"Tell me a long story"}],)"
                   R"("max_tokens":1800,"stream":true,"ignore_eos":true})");
    ASSERT_TRUE(c.read_until("data: ", 3, 60)) << c.raw();
    const std::string m = http(s.port(), "GET", "/metrics").body;
    EXPECT_GT(metric(m, "vllm:kv_cache_usage_perc{"), 0) << m;
    EXPECT_EQ(metric(m, "vllm:num_requests_running{"), 1) << m;
  }  // closed here
  double usage = -1, running = -1;
  for (int i = 0; i < 200; ++i) {
    const std::string m = http(s.port(), "GET", "/metrics").body;
    usage = metric(m, "vllm:kv_cache_usage_perc{");
    running = metric(m, "vllm:num_requests_running{");
    if (usage == 0 && running == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(usage, 0) << s.log();
  EXPECT_EQ(running, 0);
  EXPECT_NE(s.log().find(" 499 "), std::string::npos) << s.log();
  // The server goes on serving.
  EXPECT_EQ(http(s.port(), "POST", "/v1/completions", R"({"prompt":"a","max_tokens":2})").status,
            200);
  EXPECT_EQ(s.terminate(30), 0);
}

// A non-streaming client that hangs up is noticed too (the server watches its socket).
TEST(ServeDisconnect, NonStreamingRequestIsCancelledToo) {
  ServerProcess s(slow_model(), {"-c", "2048", "--parallel", "2"});
  {
    RawConnection c(s.port());
    // ignore_eos: a random model's end token must not end the request before it is seen running.
    c.send_request("POST", "/v1/completions",
                   R"({"prompt":"Once","max_tokens":1800,"ignore_eos":true})");
    double running = 0;
    for (int i = 0; i < 600 && running != 1; ++i) {
      running = metric(http(s.port(), "GET", "/metrics").body, "vllm:num_requests_running{");
      if (running != 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(running, 1) << s.log();
  }  // closed here, long before 1800 tokens
  double usage = -1, running = -1;
  for (int i = 0; i < 200; ++i) {
    const std::string m = http(s.port(), "GET", "/metrics").body;
    usage = metric(m, "vllm:kv_cache_usage_perc{");
    running = metric(m, "vllm:num_requests_running{");
    if (usage == 0 && running == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(usage, 0) << s.log();
  EXPECT_EQ(running, 0);
  EXPECT_NE(s.log().find(" 499 "), std::string::npos) << s.log();
  EXPECT_EQ(s.terminate(30), 0);
}

// SIGTERM: the listener closes at once, the in-flight stream still completes, the process exits 0.
TEST(ServeDrain, SigtermFinishesInFlightStreamThenExits0) {
  ServerProcess s(slow_model(), {"-c", "2048", "--drain-timeout", "60"});
  RawConnection c(s.port());
  c.send_request("POST", "/v1/completions",
                 R"({"prompt":"Once upon a time","max_tokens":400,"stream":true})");
  ASSERT_TRUE(c.read_until("data: ", 2, 60)) << c.raw();
  ASSERT_EQ(::kill(s.pid(), SIGTERM), 0);
  // Not accepting any more.
  bool refused = false;
  for (int i = 0; i < 100 && !refused; ++i) {
    refused = !RawConnection(s.port()).ok();
    if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(refused) << "the listener is still open after SIGTERM";
  ASSERT_TRUE(c.read_to_end(120)) << s.log();
  const HttpResponse r = c.response();
  const std::vector<std::string> p = sse_payloads(r.body);
  ASSERT_GE(p.size(), 2u) << r.body;
  EXPECT_EQ(p.back(), "[DONE]");
  const json last = json::parse(p[p.size() - 2]);
  const std::string fr = last["choices"][0]["finish_reason"];
  EXPECT_TRUE(fr == "length" || fr == "stop") << last;
  EXPECT_EQ(s.wait_exit(60), 0) << s.log();
  EXPECT_NE(s.log().find("draining"), std::string::npos) << s.log();
}

// DeepSeek-R1's template ends the prompt with "<think>\n": the reply is reasoning until </think>,
// in the message and in the stream alike.
TEST(ServeReasoning, R1TemplateSplitsReasoning) {
  const std::string tmpl =
      read_file(testdata_path("chat-templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"));
  ServerProcess s(tiny_model("srv_r1", tmpl, "--n-ctx 512"), {});
  const json req = {{"messages",
                     {{{"role", "user"}, {"content", "What is 2+2?"}},
                      {{"role", "assistant"}, {"content", "<think>plan</think>4"}},
                      {{"role", "user"}, {"content", "And 3+3?"}}}},
                    {"max_tokens", 12},
                    {"temperature", 0}};
  int status = 0;
  const json r = post(s.port(), "/v1/chat/completions", req, &status);
  ASSERT_EQ(status, 200) << r;
  const json& msg = r["choices"][0]["message"];
  ASSERT_TRUE(msg.contains("reasoning_content")) << r;
  const std::string reasoning =
      msg["reasoning_content"].is_string() ? msg["reasoning_content"] : "";
  const std::string content = msg["content"];
  EXPECT_FALSE(reasoning.empty() && content.empty()) << r;
  json sreq = req;
  sreq["stream"] = true;
  const HttpResponse st = http(s.port(), "POST", "/v1/chat/completions", sreq.dump());
  std::string sr, sc;
  for (const std::string& p : sse_payloads(st.body)) {
    if (p == "[DONE]") continue;
    const json d = json::parse(p)["choices"][0]["delta"];
    if (d.contains("reasoning_content")) sr += d["reasoning_content"].get<std::string>();
    if (d.contains("content")) sc += d["content"].get<std::string>();
  }
  EXPECT_EQ(sr, reasoning);
  EXPECT_EQ(sc, content);
  EXPECT_EQ(s.terminate(30), 0);
}

}  // namespace
}  // namespace latent::test

namespace latent::test {
namespace {

// `latent serve` without -m serves the bundled arithmetic reasoning model: its chat template names
// <think>, so the reasoning is split out, and the "vote" extension returns the majority answer.
TEST(ServeDefaultModel, ReasoningSplitAndMajorityVote) {
  ServerProcess s("", {"--parallel", "8"});
  int status = 0;
  const json r = post(s.port(), "/v1/chat/completions",
                      {{"messages", {{{"role", "user"}, {"content", "What is 48*17?"}}}},
                       {"n", 8},
                       {"seed", 1},
                       {"max_tokens", 200},
                       {"vote", "majority"}},
                      &status);
  ASSERT_EQ(status, 200) << r << s.log();
  EXPECT_EQ(r["model"], "latent-arith.gguf");
  ASSERT_EQ(r["choices"].size(), 8u);
  const json& m0 = r["choices"][0]["message"];
  EXPECT_EQ(m0["reasoning_content"].get<std::string>().rfind("48*17:", 0), 0u) << r;
  EXPECT_EQ(r["vote"]["answer"], 816) << r;
  EXPECT_GE(r["vote"]["counts"][0]["votes"].get<int>(), 4) << r;
  EXPECT_EQ(s.terminate(30), 0) << s.log();
}

}  // namespace
}  // namespace latent::test
