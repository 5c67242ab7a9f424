#!/usr/bin/env python3
"""Plots held-out accuracy against the number of voting samples from scripts/r1_recipe.sh's
results.txt: one panel per sampling temperature, one solid line per model (majority vote over N
samples) and a dashed line at the same model's greedy accuracy. Needs python3-matplotlib.
Usage: scripts/plot_r1.py results.txt docs/r1-accuracy.png"""
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

LINE = re.compile(r"^(\S+)\.gguf: held-out accuracy on (\d+) problems.*?greedy ([\d.]+)%(.*)"
                  r"\[samples at T=([\d.]+)(?:, top-k \d+, top-p ([\d.]+), min-p [\d.]+)?\]")
VOTE = re.compile(r"maj@(\d+) ([\d.]+)%")
# pass@1 as the mean over all samples (newer `latent grpo --eval-only`): plotted at N = 1 in place
# of maj@1, the first sample alone.
MEAN = re.compile(r"pass@1 ([\d.]+)% \(mean of \d+ samples\)")


def main(src, dst):
    runs = {}  # temperature -> [(model, greedy, {n: acc})]
    n_problems = None
    for line in open(src):
        m = LINE.match(line.strip())
        if not m:
            continue
        model, n_problems, greedy, rest, temp, top_p = m.groups()
        model = model.rsplit("/", 1)[-1]
        votes = {int(n): float(a) for n, a in VOTE.findall(rest)}
        mean = MEAN.search(rest)
        if mean:
            votes[1] = float(mean.group(1))
        key = (float(temp), float(top_p) if top_p else 1.0)
        runs.setdefault(key, []).append((model, float(greedy), votes))
    if not runs:
        sys.exit(f"{src}: no evaluation lines")
    temps = sorted(runs)
    fig, axes = plt.subplots(1, len(temps), figsize=(5.5 * len(temps), 4.2), sharey=True)
    if len(temps) == 1:
        axes = [axes]
    colors = {"sft": "tab:blue", "rl": "tab:red"}
    for ax, temp in zip(axes, temps):
        for model, greedy, votes in runs[temp]:
            kind = "rl" if model.startswith("rl") else "sft"
            seed = model[len(kind):]
            label = ("GRPO" if kind == "rl" else "SFT") + f" seed {seed}"
            style = "-" if seed == "1" else "--"
            ns = sorted(votes)
            ax.plot(ns, [votes[n] for n in ns], style, marker="o" if seed == "1" else "s",
                    color=colors[kind],
                    label=label + ": majority vote")
            ax.axhline(greedy, linestyle=":", color=colors[kind], alpha=0.8 if seed == "1" else 0.5)
            ax.annotate(f"greedy {greedy:.1f}", (ns[-1], greedy), textcoords="offset points",
                        xytext=(4, -3), fontsize=7, color=colors[kind])
        ax.set_xscale("log", base=2)
        ax.set_xticks([1, 4, 16])
        ax.set_xticklabels(["1", "4", "16"])
        ax.set_xlabel("samples voted (N = 1: pass@1, the mean over 16 samples)")
        temp, top_p = temp
        ax.set_title(f"samples at temperature {temp:g}" + (f", top-p {top_p:g}" if top_p < 1 else ""))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"held-out accuracy, % of {n_problems} problems")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle("latent-arith: SFT, then GRPO, then majority vote (dotted: greedy)")
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
