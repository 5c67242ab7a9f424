// latent: entry point. Dispatches to the subcommands; the only place that turns exceptions into
// exit codes.
#include <cstdio>
#include <exception>
#include <map>

#include "base/check.h"
#include "base/error.h"
#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"latent — run open-weight language models (GGUF) on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "latent 0.1.0");
  std::map<CLI::App*, latent::cli::Command> commands;
  auto add = [&](latent::cli::Command (*fn)(CLI::App&), const char* name) {
    latent::cli::Command cmd = fn(app);
    commands[app.get_subcommand(name)] = std::move(cmd);
  };
  add(latent::cli::add_run, "run");
  add(latent::cli::add_info, "info");
  add(latent::cli::add_tokenize, "tokenize");
  add(latent::cli::add_logits, "logits");
  add(latent::cli::add_chat, "chat");
  add(latent::cli::add_bench, "bench");
  add(latent::cli::add_serve, "serve");
  add(latent::cli::add_train, "train");
  add(latent::cli::add_grpo, "grpo");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, cmd] : commands)
      if (sub->parsed()) return cmd();
  } catch (const latent::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
