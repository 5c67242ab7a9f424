// The CLI's subcommands. Each registers its options on the app and returns the function that runs
// it (called only when that subcommand was chosen). Commands print results to stdout, diagnostics
// to stderr, and throw latent::Error for bad input; main() turns errors into a message and a
// non-zero exit.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace latent::cli {

using Command = std::function<int()>;

Command add_run(CLI::App& app);
Command add_info(CLI::App& app);
Command add_tokenize(CLI::App& app);
Command add_logits(CLI::App& app);
Command add_chat(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_serve(CLI::App& app);
Command add_train(CLI::App& app);
Command add_grpo(CLI::App& app);

}  // namespace latent::cli
