#!/usr/bin/env python3
"""Network-recovery suite (issue 9, "Tests and figures"): random motif-built networks (tools/grn_motifs.py;
simulated by the `hill` model, or with --truth-model sigmoid by the `sigmoid` model) simulated by `tessera run`, fitted by `tessera train` with each model family on a
superset prior and on a dense graph, and scored here independently of tessera.

For every seed: generate (tools/grn_motifs.py), `tessera run DIR/run.yaml` (output.dataset: true), check that
the data moves (every gene changes over the trajectory, the held-out steps are not flat), then for every
family x graph `tessera train DIR/train_<family>_<graph>.yaml`, timed. From the run's grn_<type>.tsv and the
generator's truth.tsv (not from metrics.json) it recomputes per type the AUPRC of the model's ranking of the
candidate edges (precision taken at the end of each block of tied scores, as sklearn does; recall over every
true edge j != k), the precision of a random order of the candidates (true candidates / candidates), the AUPRC
ratio over it and the sign accuracy, and checks that metrics.json says the same (relative 1e-9) and that the
candidates are the prior's edges of the type (or every ordered pair j != k, dense) and dataset.h5's
/grn/truth is truth.tsv. The ridge baseline, the random order's expected AUPRC and the validation MSE of the
model, "no change" and the relaxation predictor come from metrics.json (the no-change MSE is recomputed from
dataset.h5 too). With --truth-model sigmoid, /grn/truth is what `tessera run` records for a learned model:
its candidate edges with a non-zero W, signed as W (the true edges of model.h5), checked against truth.tsv
alike.

The model's ranking (metrics.json's "model_score"): `graph_ode` ranks by the `attention` column (sign:
`jacobian_signed`); the families with signed edge parameters (`hill`, `sigmoid`) by the standardised effect
(`effect`: mean |Jacobian| x sd(x_j) / sd(dx_k/dt), x_j in the coordinate the model reads it in: log(x + eps)
for `sigmoid`'s log inputs) signed by the parameter (`weight`, which the `sign` column must repeat), and their
mean |Jacobian| (`jacobian`) and |weight| rankings are recomputed and compared too.

Targets (issue 9), asserted for the families in --assert (--targets: which of them; default all;
--more-targets FAMILY=...: more of them for one family):
  prior (truth + 2x decoys): AUPRC ratio >= 3 for every type, AUPRC >= the ridge baseline's, sign accuracy
                             >= 0.9;
  dense:                     AUPRC >= 3 x a random order's expected AUPRC and >= the ridge baseline's;
  both:                      validation MSE below "no change" and below the relaxation predictor.
The consistency checks (metrics.json against the recomputation, candidates, truth, data not flat) hold for
every family run.

    python3 tools/recovery_suite.py --tessera build/bin/tessera --work runs/recovery --seeds 1-5 \
        --families graph_ode,hill,sigmoid --assert hill,sigmoid --table recovery.md --json recovery.json

Exit 0 when every check and asserted target holds, 1 naming each failure, 2 on a bad argument or a command
that fails, 77 (a ctest skip) without numpy or h5py.
"""
import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILIES = ("graph_ode", "hill", "sigmoid")
GRAPHS = ("prior", "dense")
TOLERANCE = 1e-9  # metrics.json holds 17 significant digits; both sides sum the same few terms
ROUNDING = 1e-12  # a perfect ranking's AUPRC (1) or ratio (3) to the rounding of the sums behind it


def fail_input(message):
    print("recovery_suite: " + message, file=sys.stderr)
    sys.exit(2)


def run(command, log_path, cwd=None):
    """Runs a command with its output in log_path; returns the wall time. A failure is an input error (2)."""
    start = time.monotonic()
    with open(log_path, "w") as log:
        code = subprocess.call(command, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    wall = time.monotonic() - start
    if code != 0:
        with open(log_path) as log:
            tail = log.read()[-2000:]
        fail_input("`%s` exited with %d (log %s):\n%s" % (" ".join(command), code, log_path, tail))
    return wall


def read_tsv(path):
    try:
        with open(path) as f:
            lines = [line.rstrip("\n").split("\t") for line in f if line.strip() and not line.startswith("#")]
    except OSError as e:
        fail_input("%s: %s" % (path, e))
    header = lines[0]
    return [dict(zip(header, row)) for row in lines[1:]]


def seeds_list(text):
    seeds = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        try:
            seeds += list(range(int(low), int(high or low) + 1))
        except ValueError:
            raise argparse.ArgumentTypeError("expected seeds like 1-5 or 1,3,7, got '%s'" % text)
    return seeds


def names_list(allowed):
    def parse(text):
        names = [n for n in text.split(",") if n]
        for n in names:
            if n not in allowed:
                raise argparse.ArgumentTypeError("'%s' is not one of %s" % (n, ", ".join(allowed)))
        return names
    return parse


def family_targets(text):
    """FAMILY=TARGET[,TARGET...] -> (family, [targets])."""
    family, _, targets = text.partition("=")
    if family not in FAMILIES:
        raise argparse.ArgumentTypeError("'%s' is not one of %s" % (family, ", ".join(FAMILIES)))
    return family, names_list(TARGETS)(targets)


def average_precision(scored, true_edges):
    """scored: [(score, (j, k))] over the candidates; true_edges: {(j, k)} (no self loops). Precision at the
    end of each block of tied scores; recall over every true edge, candidate or not."""
    ranked = sorted(scored, key=lambda s: -s[0])
    ap, through, hits, i = 0.0, 0, 0, 0
    while i < len(ranked):
        end, block_hits = i, 0
        while end < len(ranked) and ranked[end][0] == ranked[i][0]:
            block_hits += 1 if ranked[end][1] in true_edges else 0
            end += 1
        through += end - i
        hits += block_hits
        ap += block_hits / len(true_edges) * hits / through
        i = end
    return ap, hits


def truth_per_type(seed_dir, genes, types, failures, label):
    """The generator's truth {type: {(j, k): sign}} and prior {type: {(j, k)}}, checked for what
    tools/grn_motifs.py promises: no self loops or repeated edges, the prior the truth plus twice as many
    decoys."""
    index = {g: i for i, g in enumerate(genes)}
    truth = {t: {} for t in types}
    for row in read_tsv(os.path.join(seed_dir, "truth.tsv")):
        edge = (index[row["source"]], index[row["target"]])
        for t in (types if row["type"] == "*" else [row["type"]]):
            if edge[0] == edge[1] or edge in truth[t]:
                failures.append("%s: truth.tsv: %s -> %s is a self loop or repeats an edge of type %s"
                                % (label, row["source"], row["target"], t))
            truth[t][edge] = 1 if row["sign"] == "+" else -1
    prior = {t: set() for t in types}
    for row in read_tsv(os.path.join(seed_dir, "prior.tsv")):
        edge = (index[row["source"]], index[row["target"]])
        if edge[0] == edge[1] or edge in prior[row["type"]]:
            failures.append("%s: prior.tsv: %s -> %s is a self loop or repeats an edge of type %s"
                            % (label, row["source"], row["target"], row["type"]))
        prior[row["type"]].add(edge)
    for t in types:
        if not set(truth[t]) <= prior[t] or len(prior[t]) != 3 * len(truth[t]):
            failures.append("%s: type %s: the prior (%d edges) is not the %d true edges plus twice as many decoys"
                            % (label, t, len(prior[t]), len(truth[t])))
    return truth, prior


def check_dataset(dataset, truth, types, val_fraction, failures, label):
    """The data moves, /grn/truth is truth.tsv; returns the no-change validation MSE recomputed here."""
    import h5py
    import numpy as np
    with h5py.File(dataset, "r") as f:
        x = np.asarray(f["expression"][...], dtype=float)  # [T][N][G]
        stored = {}
        for name, edges in f["grn/truth"].items():
            stored[name] = {(int(e[0]), int(e[1])): int(e[2]) for e in edges[...]}
    for t in types:
        mine = dict(stored.get("*", {}))
        mine.update(stored.get(t, {}))
        if mine != truth[t]:
            failures.append("%s: dataset.h5 /grn/truth of type %s differs from truth.tsv" % (label, t))
    change = np.mean(np.abs(x[-1] - x[0]), axis=0)  # per gene, over cells
    flat = [g for g in range(x.shape[2]) if not change[g] > 1e-3]
    if flat:
        failures.append("%s: genes %s barely change over the trajectory (mean |x(end) - x(0)| <= 1e-3): the data "
                        "is flat" % (label, flat))
    n_times = x.shape[0]
    n_train = min(max(2, n_times - int(math.floor(val_fraction * n_times))), n_times)
    starts = range(n_train - 1, n_times - 1)
    no_change = float(np.mean([np.mean((x[k + 1] - x[k]) ** 2) for k in starts]))
    if not no_change > 1e-10:
        failures.append("%s: the held-out steps are flat (no-change MSE %.3g)" % (label, no_change))
    return no_change, float(np.mean(change))


def ranking(rows, score_column, sign_column, index):
    """[(score, (j, k))] and {(j, k): sign} of grn_<type>.tsv's rows j != k; |weight| when the column is
    'weight'; a nan score (the effect of a constant gene) ranks last, as tessera ranks it."""
    scored, signs = [], {}
    for r in rows:
        if r["source"] == r["target"]:
            continue
        edge = (index[r["source"]], index[r["target"]])
        score = float(r[score_column])
        if math.isnan(score):
            score = -math.inf
        scored.append((abs(score) if score_column == "weight" else score, edge))
        signs[edge] = float(r[sign_column])
    return scored, signs


def recovery(scored, signs, true_signs):
    """AUPRC, true candidates, the random order's precision and sign accuracy of one ranking."""
    true_edges = set(true_signs)
    auprc, positives = average_precision(scored, true_edges)
    true_candidates = [e for e in true_edges if e in signs]
    right = sum(1 for e in true_candidates if signs[e] * true_signs[e] > 0)
    return {"auprc": auprc, "positives": positives, "candidates": len(scored),
            "auprc_ratio": auprc / (positives / len(scored)), "sign_accuracy": right / len(true_candidates)}


def score_run(run_dir, family, graph, genes, types, truth, prior, no_change, failures, label):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        metrics = json.load(f)
    index = {g: i for i, g in enumerate(genes)}
    n = len(genes)
    rows = []
    # graph_ode ranks by attention (signed by the mean signed Jacobian); the families with signed edge
    # parameters by the standardised effect (mean |Jacobian| x sd(x_j) / sd(dx_k/dt)) signed by the
    # parameter, with the mean |Jacobian| and |parameter| rankings beside it.
    if family == "graph_ode":
        rankings = {"attention": ("attention", "jacobian_signed")}
    else:
        rankings = {"effect": ("effect", "weight"), "jacobian": ("jacobian", "jacobian_signed"),
                    "weight": ("weight", "weight")}
    headline = "attention" if family == "graph_ode" else "effect"
    if metrics.get("model_score") != headline:
        failures.append("%s: metrics.json ranks by %r, family %s by '%s'"
                        % (label, metrics.get("model_score"), family, headline))
        return [], metrics["validation_mse"], None
    for t in types:
        m = metrics["grn"].get(t)
        if m is None:
            failures.append("%s: metrics.json has no figures for type %s" % (label, t))
            continue
        tsv = read_tsv(os.path.join(run_dir, "grn_%s.tsv" % t))
        if any(r["source"] == r["target"] for r in tsv):
            failures.append("%s: grn_%s.tsv ranks a self loop" % (label, t))
        if family != "graph_ode":
            for r in tsv:
                w = float(r["weight"])
                if r["sign"] != ("+" if w > 0 else "-" if w < 0 else "0"):
                    failures.append("%s: grn_%s.tsv: %s -> %s has weight %s but sign '%s'"
                                    % (label, t, r["source"], r["target"], r["weight"], r["sign"]))
        figures = {}
        for key, (score_column, sign_column) in rankings.items():
            scored, signs = ranking(tsv, score_column, sign_column, index)
            candidates = set(signs)
            expected = prior[t] if graph == "prior" else {(j, k) for j in range(n) for k in range(n) if j != k}
            if candidates != expected or len(candidates) != len(scored):
                failures.append("%s: grn_%s.tsv ranks %d edges (%d distinct), the %s graph has %d"
                                % (label, t, len(scored), len(candidates), graph, len(expected)))
            mine = recovery(scored, signs, truth[t])
            figures[key] = mine
            theirs = m.get(key)
            if theirs is None:
                failures.append("%s: type %s: metrics.json has no '%s' ranking" % (label, t, key))
                continue
            for name in ("auprc", "auprc_ratio", "sign_accuracy"):
                if theirs[name] is None or not abs(theirs[name] - mine[name]) <= TOLERANCE * max(1.0, abs(mine[name])):
                    failures.append("%s: type %s: metrics.json %s.%s is %r, recomputed %.17g"
                                    % (label, t, key, name, theirs[name], mine[name]))
            if theirs["candidates"] != mine["candidates"] or theirs["positives"] != mine["positives"]:
                failures.append("%s: type %s: metrics.json %s counts %d candidates, %d true; grn_%s.tsv %d, %d"
                                % (label, t, key, theirs["candidates"], theirs["positives"], t, mine["candidates"],
                                   mine["positives"]))
        top = figures[headline]
        precision = top["positives"] / top["candidates"]
        rnd = m["random_order"]
        if not abs(rnd["precision"] - precision) <= 1e-12:
            failures.append("%s: type %s: random-order precision %.17g, recomputed %.17g"
                            % (label, t, rnd["precision"], precision))
        rows.append({"type": t, "candidates": top["candidates"], "true": top["positives"], "auprc": top["auprc"],
                     "ratio": top["auprc_ratio"], "sign_accuracy": top["sign_accuracy"],
                     "weight_auprc": figures["weight"]["auprc"] if "weight" in figures else None,
                     "ridge_auprc": m["ridge"]["auprc"], "ridge_ratio": m["ridge"]["auprc_ratio"],
                     "ridge_sign_accuracy": m["ridge"]["sign_accuracy"], "random_auprc": rnd["auprc"],
                     "random_precision": precision})
    mse = metrics["validation_mse"]
    if mse["no_change"] is None or not abs(mse["no_change"] - no_change) <= TOLERANCE * no_change:
        failures.append("%s: metrics.json's no-change MSE %r, recomputed from dataset.h5 %.17g"
                        % (label, mse["no_change"], no_change))
    lr = metrics.get("lr_pairs", {})
    lr_figures = None
    if lr.get("scored"):
        lr_model = lr.get(metrics["model_score"])
        if lr_model is None:
            failures.append("%s: metrics.json's lr_pairs has no '%s' ranking" % (label, metrics["model_score"]))
            return rows, mse, None
        lr_figures = {"auprc": lr_model["auprc"], "ridge_auprc": lr["ridge"]["auprc"],
                      "random_auprc": lr["random_order"]["auprc"], "candidates": lr_model["candidates"],
                      "true": lr_model["positives"]}
    return rows, mse, lr_figures


TARGETS = ("ratio", "ridge", "sign", "random", "mse")


def target_misses(result):
    """Issue 9's targets for one training run: [(target, message)] for each one missed."""
    label = result["label"]
    misses = []
    for r in result["types"]:
        where = "%s type %s" % (label, r["type"])
        if not r["auprc"] >= r["ridge_auprc"]:
            misses.append(("ridge", "%s: AUPRC %.3f < the ridge baseline's %.3f" % (where, r["auprc"], r["ridge_auprc"])))
        if result["graph"] == "prior":
            # With twice as many decoys as true edges a random order's precision is 1/3, so a ratio of 3 is a
            # perfect ranking (AUPRC 1): compared with a rounding allowance on P / (3 P).
            if not r["ratio"] >= 3 * (1 - ROUNDING):
                misses.append(("ratio", "%s: AUPRC ratio %.2f < 3" % (where, r["ratio"])))
            if not r["sign_accuracy"] >= 0.9:
                misses.append(("sign", "%s: sign accuracy %.2f < 0.9" % (where, r["sign_accuracy"])))
        elif not r["auprc"] >= 3 * r["random_auprc"]:
            misses.append(("random", "%s: AUPRC %.3f < 3 x a random order's %.3f"
                           % (where, r["auprc"], r["random_auprc"])))
    mse = result["validation_mse"]
    for baseline in ("no_change", "relaxation"):
        if mse["model"] is None or not mse["model"] < mse[baseline]:
            misses.append(("mse", "%s: validation MSE %r not below %s's %r"
                           % (label, mse["model"], baseline, mse[baseline])))
    return misses


def fmt(v, digits=3):
    return "-" if v is None else "%.*f" % (digits, v)


def result_groups(results):
    """(data model, family, graph, its results, their types) for every combination that has results."""
    for data in ("hill", "sigmoid"):
        for family in FAMILIES:
            for graph in GRAPHS:
                # Results written before --truth-model existed are hill data.
                group = [res for res in results if res["family"] == family and res["graph"] == graph and
                         res.get("truth_model", "hill") == data]
                if group:
                    yield data, family, graph, group, [r for res in group for r in res["types"]]


def markdown(results, command):
    lines = ["Reproduce: `%s`" % command, "",
             "| seed | genes | types | dim | motion | family | graph | type | cand. | true | AUPRC | ratio | sign "
             "| AUPRC of \\|weight\\| | ridge AUPRC / ratio / sign | random AUPRC | val. MSE model | no change "
             "| relaxation | wall s |",
             "|---:|---:|---:|---:|---|---|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for res in results:
        mse = res["validation_mse"]
        for r in res["types"]:
            lines.append("| %d | %d | %d | %d-D | %s | %s | %s | %s | %d | %d | %s | %s | %s | %s | %s / %s / %s "
                         "| %s | %.3g | %.3g | %.3g | %.1f |"
                         % (res["seed"], res["genes"], res["n_types"], res["dim"], res["motion"], res["family"],
                            res["graph"], r["type"], r["candidates"], r["true"], fmt(r["auprc"]),
                            fmt(r["ratio"], 2), fmt(r["sign_accuracy"], 2), fmt(r.get("weight_auprc")),
                            fmt(r["ridge_auprc"]),
                            fmt(r["ridge_ratio"], 2), fmt(r["ridge_sign_accuracy"], 2), fmt(r["random_auprc"]),
                            mse["model"], mse["no_change"], mse["relaxation"], res["wall_s"]))
        lr = res["lr_pairs"]
        if lr:
            lines.append("| %d | | | | | %s | %s | LR pairs | %d | %d | %s | | | | %s | %s | | | | |"
                         % (res["seed"], res["family"], res["graph"], lr["candidates"], lr["true"],
                            fmt(lr["auprc"]), fmt(lr["ridge_auprc"]), fmt(lr["random_auprc"])))
    lines += ["", "Per data model, family and graph, over every seed and type (targets: prior ratio >= 3, sign >= 0.9; "
              "dense AUPRC >= 3 x random; both AUPRC >= ridge, MSE below no change and relaxation):", "",
              "| data | family | graph | runs | min ratio | min AUPRC - ridge | types >= ridge | min sign "
              "| min AUPRC / random | runs with MSE < no change and < relaxation | mean wall s |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for data, family, graph, group, types in result_groups(results):
        beat = sum(1 for res in group if res["validation_mse"]["model"] is not None and
                   res["validation_mse"]["model"] < min(res["validation_mse"]["no_change"],
                                                        res["validation_mse"]["relaxation"]))
        lines.append("| %s | %s | %s | %d | %.2f | %+.3f | %d / %d | %.2f | %.2f | %d / %d | %.1f |"
                     % (data, family, graph, len(group), min(r["ratio"] for r in types),
                        min(r["auprc"] - r["ridge_auprc"] for r in types),
                        sum(1 for r in types if r["auprc"] >= r["ridge_auprc"]), len(types),
                        min(r["sign_accuracy"] for r in types),
                        min(r["auprc"] / r["random_auprc"] for r in types), beat, len(group),
                        sum(res["wall_s"] for res in group) / len(group)))
    return "\n".join(lines + [""] + ranges_markdown(results) + [""] + baselines_markdown(results)) + "\n"


def perfect(auprc):
    """Whether a ranking is perfect: every true edge above every decoy, AUPRC 1 to rounding."""
    return auprc >= 1 - ROUNDING


def baselines_markdown(results):
    """Per data model, family and graph, how many types the model ranks perfectly beside how many the ridge
    baseline does on the same data and candidates, and the lowest AUPRC of each beside a random order's: the
    summary at the head of docs/performance.md "Inference"."""
    lines = ["Perfect rankings (AUPRC 1) of the model and of the ridge baseline on the same data and candidates:", "",
             "| data | family | graph | seeds | types | perfect: model | perfect: ridge | AUPRC \u2265 ridge "
             "| lowest AUPRC: model | lowest AUPRC: ridge | highest AUPRC of a random order |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for data, family, graph, group, types in result_groups(results):
        lines.append("| %s | %s | %s | %d | %d | %d | %d | %d | %s | %s | %s |" % (
            data, family, graph, len({res["seed"] for res in group}), len(types),
            sum(1 for r in types if perfect(r["auprc"])), sum(1 for r in types if perfect(r["ridge_auprc"])),
            sum(1 for r in types if r["auprc"] >= r["ridge_auprc"]), fmt(min(r["auprc"] for r in types)),
            fmt(min(r["ridge_auprc"] for r in types)), fmt(max(r["random_auprc"] for r in types))))
    return lines


def span(values, digits=3, general=False):
    """min-max of `values` as docs/performance.md writes them ("0.859–1.000", one value when they agree)."""
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    text = (lambda v: "%.*g" % (digits - 1, v)) if general else (lambda v: "%.*f" % (digits, v))
    low, high = text(min(values)), text(max(values))
    return low if low == high else "%s\u2013%s" % (low, high)


def ranges_markdown(results):
    """Per data model, family and graph, the range over seeds and types of each figure: the tables of
    docs/performance.md "Inference"."""
    lines = ["Ranges per data model, family and graph over every seed and type:", "",
             "| data | family | graph | AUPRC | ratio | AUPRC / random order's | sign accuracy | AUPRC of \\|weight\\| "
             "| types with AUPRC \u2265 ridge | ridge AUPRC | val. MSE / no change | val. MSE / relaxation | wall s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for data, family, graph, group, types in result_groups(results):
        mse = [res["validation_mse"] for res in group if res["validation_mse"]["model"] is not None]
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %d of %d | %s | %s | %s | %s |" % (
            data, family, graph, span([r["auprc"] for r in types]), span([r["ratio"] for r in types], 2),
            span([r["auprc"] / r["random_auprc"] for r in types], 2),
            span([r["sign_accuracy"] for r in types], 2), span([r.get("weight_auprc") for r in types]),
            sum(1 for r in types if r["auprc"] >= r["ridge_auprc"]), len(types),
            span([r["ridge_auprc"] for r in types]),
            span([m["model"] / m["no_change"] for m in mse], 3, True),
            span([m["model"] / m["relaxation"] for m in mse], 3, True),
            span([res["wall_s"] for res in group], 1)))
    return lines


def write_reports(args, results, command):
    if args.table:
        with open(args.table, "w") as f:
            f.write(markdown(results, command))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": command, "results": results}, f, indent=1)
            f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tessera", help="the tessera executable (required unless --merge)")
    ap.add_argument("--work", help="directory for the generated decks and runs (created; required unless --merge)")
    ap.add_argument("--seeds", type=seeds_list, default=seeds_list("1-5"), help="e.g. 1-5 or 1,3,7")
    ap.add_argument("--families", type=names_list(FAMILIES), default=list(FAMILIES))
    ap.add_argument("--graphs", type=names_list(GRAPHS), default=list(GRAPHS))
    ap.add_argument("--assert", dest="asserted", type=names_list(FAMILIES), default=[],
                    help="families whose issue-9 targets must hold (the consistency checks hold for all)")
    ap.add_argument("--targets", type=names_list(TARGETS), default=list(TARGETS),
                    help="which targets --assert asserts: ratio (prior: AUPRC ratio >= 3), ridge (AUPRC >= the "
                         "ridge baseline's), sign (prior: sign accuracy >= 0.9), random (dense: AUPRC >= 3 x a "
                         "random order's), mse (validation MSE below no change and relaxation); default all")
    ap.add_argument("--more-targets", dest="more_targets", action="append", default=[], type=family_targets,
                    metavar="FAMILY=TARGET[,TARGET...]",
                    help="targets asserted for FAMILY (one of --assert) on top of --targets; repeatable")
    ap.add_argument("--genes", default="10:14", help="gene count or LOW:HIGH, for tools/grn_motifs.py")
    ap.add_argument("--cells", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=200, help="train.iterations")
    ap.add_argument("--truth-model", dest="truth_model", choices=("hill", "sigmoid"), default="hill",
                    help="the model family that simulates the networks (tools/grn_motifs.py; default hill)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="[FAMILY:]KEY=VALUE",
                    help="deck override for `tessera train` (-s KEY=VALUE), for every family or only FAMILY; "
                         "repeatable")
    ap.add_argument("--launcher", default="", help="command prefix for tessera, e.g. 'mpirun -np 2'")
    ap.add_argument("--merge", nargs="+", metavar="JSON",
                    help="no runs: write --table/--json from these earlier --json results (e.g. the ctests')")
    ap.add_argument("--table", help="markdown table to write")
    ap.add_argument("--json", help="JSON results to write")
    args = ap.parse_args()
    try:
        import h5py  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        print("recovery_suite: needs numpy and h5py (%s): skipped" % e, file=sys.stderr)
        return 77
    if args.merge:
        results, commands, source = [], [], {}
        for path in args.merge:
            try:
                with open(path) as f:
                    data = json.load(f)
            except (OSError, ValueError) as e:
                fail_input("%s: %s" % (path, e))
            for res in data["results"]:
                # The same run twice would count its types twice in every table (and the same seed with
                # another cell count or setting is other data: a table of its own).
                key = (res.get("truth_model", "hill"), res["seed"], res["family"], res["graph"])
                if key in source:
                    fail_input("%s: seed %d %s %s (%s data) is also in %s" % (path, key[1], key[2], key[3], key[0],
                                                                           source[key]))
                source[key] = path
            results += data["results"]
            commands.append(data["command"])
        write_reports(args, results, "; ".join(commands))
        return 0
    if not args.tessera or not args.work:
        ap.error("--tessera and --work are required unless --merge is given")
    if not os.access(args.tessera, os.X_OK):
        fail_input("%s: not an executable" % args.tessera)
    launcher = shlex.split(args.launcher)
    tessera = launcher + [os.path.abspath(args.tessera)]
    os.makedirs(args.work, exist_ok=True)

    failures, results = [], []
    for seed in args.seeds:
        seed_dir = os.path.abspath(os.path.join(args.work, "seed%d" % seed))
        run([sys.executable, os.path.join(HERE, "grn_motifs.py"), "--seed", str(seed), "--out", seed_dir,
             "--genes", args.genes, "--cells", str(args.cells), "--iterations", str(args.iterations),
             "--truth-model", args.truth_model],
            os.path.join(args.work, "seed%d_generate.log" % seed))
        with open(os.path.join(seed_dir, "network.json")) as f:
            info = json.load(f)
        genes, types = info["genes"], info["types"]
        truth, prior = truth_per_type(seed_dir, genes, types, failures, "seed %d" % seed)
        run(tessera + ["run", os.path.join(seed_dir, "run.yaml"), "-o", os.path.join(seed_dir, "sim"),
                       "--overwrite"], os.path.join(seed_dir, "run.log"))
        no_change, mean_change = check_dataset(os.path.join(seed_dir, "sim", "dataset.h5"), truth, types, 0.2,
                                               failures, "seed %d" % seed)
        for family in args.families:
            for graph in args.graphs:
                label = "seed %d %s %s" % (seed, family, graph)
                run_dir = os.path.join(seed_dir, "%s_%s" % (family, graph))
                overrides = []
                for o in args.overrides:
                    scope, _, setting = o.rpartition(":") if ":" in o.split("=")[0] else ("", "", o)
                    if scope in ("", family):
                        overrides += ["-s", setting]
                wall = run(tessera + ["train", os.path.join(seed_dir, "train_%s_%s.yaml" % (family, graph)), "-o",
                                      run_dir, "--overwrite"] + overrides, run_dir + ".log")
                rows, mse, lr = score_run(run_dir, family, graph, genes, types, truth, prior, no_change, failures,
                                          label)
                result = {"label": label, "truth_model": args.truth_model, "seed": seed, "genes": len(genes), "n_types": len(types),
                          "dim": info["dim"], "motion": "moving" if info["moving"] else "static",
                          "family": family, "graph": graph, "types": rows, "validation_mse": mse,
                          "lr_pairs": lr, "wall_s": wall, "mean_change": mean_change}
                results.append(result)
                misses = target_misses(result)
                target_failures = [message for _, message in misses]
                result["targets_met"] = not misses
                result["targets_missed"] = sorted({target for target, _ in misses})
                if family in args.asserted:
                    asserted = set(args.targets)
                    for more_family, more in args.more_targets:
                        if more_family == family:
                            asserted.update(more)
                    failures += [message for target, message in misses if target in asserted]
                print("%s: %s; MSE model %.3g, no change %.3g, relaxation %.3g; %.1f s%s"
                      % (label, ", ".join("%s AUPRC %.3f ratio %.2f sign %.2f (ridge %.3f)"
                                          % (r["type"], r["auprc"], r["ratio"], r["sign_accuracy"], r["ridge_auprc"])
                                          for r in rows),
                         mse["model"], mse["no_change"], mse["relaxation"], wall,
                         "" if not target_failures else "; targets missed: " + "; ".join(target_failures)))
                sys.stdout.flush()

    write_reports(args, results, " ".join(shlex.quote(a) for a in [os.path.relpath(sys.argv[0])] + sys.argv[1:]))
    if failures:
        for failure in failures:
            print("RECOVERY FAILED: " + failure, file=sys.stderr)
        return 1
    print("recovery suite OK: %d training runs" % len(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
