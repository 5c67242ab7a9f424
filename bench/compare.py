#!/usr/bin/env python3
"""Compare latent with llama.cpp on one GGUF file: prompt (pp) and generation (tg) tokens/s.

Runs `latent bench --json` and, when --llama-bench names a llama.cpp build's llama-bench binary,
`llama-bench -o json` with the same -p/-n/-t/-r, alternating A/B/A/B for --rounds rounds so that
both engines see the same drift in the machine's load. Prints each engine's mean ± sd over all
repetitions, their ratio, and both as a fraction of the rooflines latent measured in each round.
Never downloads or builds anything. Python 3 standard library only.
"""
import argparse
import json
import math
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_json(cmd):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        sys.exit(f"error: {' '.join(cmd)} did not print JSON ({e}):\n{proc.stdout[:2000]}")


def mean_sd(xs):
    if not xs:
        return None, None
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def latent_round(args):
    cmd = [args.latent, "bench", "-m", args.model, "-p", str(args.n_prompt), "-n",
           str(args.n_gen), "-t", str(args.threads), "-r", str(args.reps), "--json"]
    j = run_json(cmd)
    return {
        "pp": j.get("pp_samples") or [],
        "tg": j.get("tg_samples") or [],
        # Ceilings of this round, in tokens/s, for both engines' fractions.
        "pp_roof": j["pp_roofline_tokens_per_s"],
        "tg_roof": j["tg_roofline_tokens_per_s"],
        "bw": j["read_bandwidth_gbs"],
        "json": j,
    }


def llama_round(args):
    cmd = [args.llama_bench, "-m", args.model, "-p", str(args.n_prompt), "-n", str(args.n_gen),
           "-t", str(args.threads), "-r", str(args.reps), "-o", "json"]
    out = {"pp": [], "tg": []}
    for test in run_json(cmd):
        if test.get("n_prompt", 0) > 0 and test.get("n_gen", 0) == 0:
            out["pp"] += test["samples_ts"]
        elif test.get("n_gen", 0) > 0 and test.get("n_prompt", 0) == 0:
            out["tg"] += test["samples_ts"]
    return out


def fmt(m, sd):
    return "—" if m is None else f"{m:.2f} ± {sd:.2f}"


def fraction(samples_by_round, roofs):
    """Mean over rounds of (round mean / that round's roofline)."""
    fr = [sum(s) / len(s) / r for s, r in zip(samples_by_round, roofs) if s and r > 0]
    return sum(fr) / len(fr) if fr else None


def pct(x):
    return "—" if x is None else f"{100 * x:.1f} %"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", required=True, help="GGUF file (both engines read it)")
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-t", "--threads", type=int, default=os.cpu_count())
    ap.add_argument("-r", "--reps", type=int, default=3, help="repetitions per engine run")
    ap.add_argument("--rounds", type=int, default=2, help="A/B rounds")
    ap.add_argument("--latent", default=os.path.join(REPO, "build", "latent"))
    ap.add_argument("--llama-bench", help="path of an existing llama.cpp llama-bench binary")
    ap.add_argument("--json", action="store_true", help="print one JSON summary instead")
    args = ap.parse_args()
    if args.rounds < 1 or args.reps < 1:
        sys.exit("error: --rounds and --reps must be >= 1")
    for path in [args.latent] + ([args.llama_bench] if args.llama_bench else []):
        if not os.access(path, os.X_OK):
            sys.exit(f"error: {path}: not an executable file")

    rounds = []
    for i in range(args.rounds):
        print(f"round {i + 1}/{args.rounds}: latent", file=sys.stderr, flush=True)
        r = {"latent": latent_round(args)}
        if args.llama_bench:
            print(f"round {i + 1}/{args.rounds}: llama.cpp", file=sys.stderr, flush=True)
            r["llama"] = llama_round(args)
        rounds.append(r)

    engines = ["latent"] + (["llama"] if args.llama_bench else [])
    summary = {"model": args.model, "threads": args.threads, "reps": args.reps,
               "rounds": args.rounds, "tests": {}}
    for test, n in (("pp", args.n_prompt), ("tg", args.n_gen)):
        if n == 0:
            continue
        roofs = [r["latent"][f"{test}_roof"] for r in rounds]
        row = {"roofline_tokens_per_s": sum(roofs) / len(roofs)}
        for e in engines:
            by_round = [r[e][test] for r in rounds]
            m, sd = mean_sd([x for s in by_round for x in s])
            row[e] = {"tokens_per_s": m, "sd": sd, "roofline_fraction": fraction(by_round, roofs)}
        if args.llama_bench and row["llama"]["tokens_per_s"]:
            row["latent_over_llama"] = row["latent"]["tokens_per_s"] / row["llama"]["tokens_per_s"]
        summary["tests"][f"{test}{n}"] = row
    last = rounds[-1]["latent"]["json"]
    summary["read_bandwidth_gbs"] = [r["latent"]["bw"] for r in rounds]
    # latent's tg against the bandwidth read right before each of its runs (the host's bandwidth
    # moves between phases; llama-bench has no such probe, so its figure has only the round's).
    paired = [r["latent"]["json"].get("tg_roofline_fraction_paired") for r in rounds]
    paired = [x for x in paired if x is not None]
    if paired:
        summary["latent_tg_roofline_fraction_paired"] = sum(paired) / len(paired)
    summary["pp_peak_arithmetic"] = last["pp_peak_arithmetic"]
    summary["model_type"] = last["model_type"]

    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"model: {args.model} ({last['model_type']}) | {args.threads} threads | "
          f"{args.rounds} rounds × {args.reps} reps, engines alternating")
    head = "| test    | latent t/s         | latent % roofline"
    if args.llama_bench:
        head += " | llama.cpp t/s      | llama.cpp % roofline | latent / llama.cpp"
    print(head + " |")
    print("|" + "|".join("-" * (len(c) + 2) for c in head.strip("| ").split(" | ")) + "|")
    for name, row in summary["tests"].items():
        cells = [f"{name:<7}", f"{fmt(row['latent']['tokens_per_s'], row['latent']['sd']):<18}",
                 f"{pct(row['latent']['roofline_fraction']):<17}"]
        if args.llama_bench:
            ratio = row.get("latent_over_llama")
            cells += [f"{fmt(row['llama']['tokens_per_s'], row['llama']['sd']):<18}",
                      f"{pct(row['llama']['roofline_fraction']):<20}",
                      "—" if ratio is None else f"{ratio:.3f}×"]
        print("| " + " | ".join(cells) + " |")
    bws = ", ".join(f"{b:.1f}" for b in summary["read_bandwidth_gbs"])
    print(f"rooflines from latent's ceilings of each round: read bandwidth {bws} GB/s; "
          f"prefill on the {last['pp_peak_arithmetic']} peak {last['pp_peak_gops']:.0f} GOP/s "
          f"(last round). The machine is shared: compare only figures from one run.")
    if "latent_tg_roofline_fraction_paired" in summary:
        print(f"latent tg against the bandwidth read right before each run: "
              f"{pct(summary['latent_tg_roofline_fraction_paired'])}")


if __name__ == "__main__":
    main()
