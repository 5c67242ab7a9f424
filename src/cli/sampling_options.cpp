// Implements the shared sampling flags of sampling_options.h.
#include "cli/sampling_options.h"

namespace latent::cli {

void add_sampling_options(CLI::App* sub, SamplerParams& p) {
  sub->add_option("--temp", p.temperature, "Temperature (0: greedy)")->capture_default_str();
  sub->add_option("--top-k", p.top_k, "Top-k (0: off)")->capture_default_str();
  sub->add_option("--top-p", p.top_p, "Top-p (1: off)")->capture_default_str();
  sub->add_option("--min-p", p.min_p, "Min-p (0: off)")->capture_default_str();
  sub->add_option("--repeat-penalty", p.repeat_penalty, "Repetition penalty (1: off)")
      ->capture_default_str();
  sub->add_option("--repeat-last-n", p.repeat_last_n, "Tokens the penalties look back at")
      ->capture_default_str();
  sub->add_option("--frequency-penalty", p.frequency_penalty, "Frequency penalty")
      ->capture_default_str();
  sub->add_option("--presence-penalty", p.presence_penalty, "Presence penalty")
      ->capture_default_str();
}

}  // namespace latent::cli
