// `latent info`: what a GGUF model is — architecture, hyperparameters, tensors by type, sizes.
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "model/model.h"

namespace latent::cli {
namespace {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024.0 && u < 4) b /= 1024.0, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

int info(const std::string& path) {
  auto model = Model::load(path);
  const ModelConfig& c = model->config();
  const GgufFile& f = model->file();
  std::printf("file:            %s (%s, GGUF v%u)\n", path.c_str(),
              human_bytes(static_cast<double>(f.file_size())).c_str(), f.version());
  std::printf("architecture:    %s\n", c.arch_name.c_str());
  if (!c.name.empty()) std::printf("name:            %s\n", c.name.c_str());
  std::printf("parameters:      %lld (%.3f B)\n", static_cast<long long>(model->n_params()),
              model->n_params() / 1e9);
  std::printf("n_vocab:         %d\n", c.n_vocab);
  std::printf("n_ctx_train:     %d\n", c.n_ctx_train);
  std::printf("n_embd:          %d\n", c.n_embd);
  std::printf("n_layer:         %d\n", c.n_layer);
  std::printf("n_head:          %d\n", c.n_head);
  std::printf("n_head_kv:       %d\n", c.n_head_kv);
  std::printf("head_dim:        %d\n", c.head_dim_k);
  std::printf("n_ff:            %d\n", c.n_ff);
  std::printf("rms_eps:         %g\n", c.rms_eps);
  std::printf("rope:            %s, n_rot %d, base %g, scaling %s (freq scale %g)%s\n",
              c.rope_mode == kernels::RopeMode::kNorm ? "norm" : "neox", c.n_rot, c.rope_freq_base,
              c.rope_scaling_type.c_str(), c.rope_freq_scale,
              model->weights().rope_freqs.data ? ", rope_freqs factors" : "");
  std::printf("output:          %s\n",
              model->weights().tied_output ? "tied to token_embd" : "separate");
  if (c.arch == Arch::kDeepseek2) {
    const Deepseek2Config& d = c.ds;
    std::printf("mla:             q_lora %d, kv_lora %d, qk_nope %d, qk_rope %d, v_head %d\n",
                d.q_lora_rank, d.kv_lora_rank, d.qk_nope, d.qk_rope, d.v_head_dim);
    std::printf(
        "moe:             %d experts, %d used, %d shared, groups %d (use %d), %s%s, "
        "scale %g, ff %d, %d dense lead%s\n",
        d.n_expert, d.n_expert_used, d.n_expert_shared, d.n_expert_groups, d.n_group_used,
        d.gating == kernels::MoeGating::kSigmoid ? "sigmoid" : "softmax",
        d.expert_weights_norm ? " normalised" : "", d.expert_weights_scale, d.n_ff_exp,
        d.n_layer_dense_lead, d.n_layer_nextn ? ", MTP layers skipped" : "");
    std::printf(
        "KV bytes/token:  %lld (f32 cache: latent + rope, %d floats per layer); an "
        "expanded K/V cache would take %lld (%.1fx)\n",
        static_cast<long long>(c.kv_bytes_per_token()), d.kv_lora_rank + d.qk_rope,
        static_cast<long long>(c.kv_bytes_per_token_expanded()),
        double(c.kv_bytes_per_token_expanded()) / double(c.kv_bytes_per_token()));
  } else {
    std::printf("KV bytes/token:  %lld (f32 cache)\n",
                static_cast<long long>(c.kv_bytes_per_token()));
  }
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  for (const auto& t : f.tensors()) {
    auto& e = by_type[std::string(dtype_name(t.dtype))];
    e.first += 1;
    e.second += t.nbytes;
  }
  std::printf("tensors:         %zu\n", f.tensors().size());
  for (const auto& [name, e] : by_type)
    std::printf("  %-8s %5d tensors, %s\n", name.c_str(), e.first,
                human_bytes(static_cast<double>(e.second)).c_str());
  return 0;
}

}  // namespace

Command add_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("info", "Describe a GGUF model");
  sub->add_option("-m,--model", *path, "GGUF model file")->required()->check(CLI::ExistingFile);
  return [path] { return info(*path); };
}

}  // namespace latent::cli
