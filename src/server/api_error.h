// ApiError: a request the server refuses, with the HTTP status and OpenAI's error object
// ({"error": {"message", "type", "param", "code"}}) so official clients raise their typed
// exceptions (BadRequestError for 400, AuthenticationError for 401, NotFoundError for 404, ...).
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace latent::server {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = {},
           std::string type = "invalid_request_error", std::string code = {})
      : std::runtime_error(message),
        status_(status),
        param_(std::move(param)),
        type_(std::move(type)),
        code_(std::move(code)) {}

  // 400 naming the field: "<field>: expected <expected>, found <found>" (the project's error
  // style).
  static ApiError field(const std::string& field, const std::string& expected,
                        const std::string& found) {
    return ApiError(400, field + ": expected " + expected + ", found " + found, field);
  }

  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }

  // OpenAI's body; param and code are null when empty.
  nlohmann::json body() const {
    nlohmann::json e = {{"message", what()},
                        {"type", type_},
                        {"param", param_.empty() ? nlohmann::json() : nlohmann::json(param_)},
                        {"code", code_.empty() ? nlohmann::json() : nlohmann::json(code_)}};
    return {{"error", e}};
  }

 private:
  int status_;
  std::string param_, type_, code_;
};

// Helpers of the request parsers (openai_protocol.cpp, openai_structured.cpp).
// "string \"hot\"" / "number 3.5" / "array [...]": what the client sent, short, for an ApiError.
inline std::string found(const nlohmann::json& j) {
  std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return std::string(j.type_name()) + " " + s;
}

// The field, or nullptr when absent or null (OpenAI treats an explicit null as absent).
inline const nlohmann::json* opt(const nlohmann::json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace latent::server
