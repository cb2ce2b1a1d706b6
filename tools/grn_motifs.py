#!/usr/bin/env python3
"""Random motif-built gene networks for network-inference tests (issue 9, "Tests and figures"), simulated by
the `hill` model (default) or by the `sigmoid` model (--truth-model sigmoid).

A network is assembled from the motifs gene-regulation studies use: feed-forward loops (coherent and
incoherent), toggle switches (two mutual repressions), cascades, negative feedback loops, fan-in and fan-out.
Some motifs are shared by every cell type (`*`), the others belong to one type; in-degrees are capped (3
regulators per target and type, ligand inputs included) so each target stays identifiable from data; about
40 % of the edges are repressions. Ligand -> receptor pairs (2-4) make a receptor gene respond to its
neighbours' ligand gene. Unlike inputs/train_synthetic.yaml (one fixed 20-gene network, 2-D, static cells),
every seed draws a new network, a dimension (2-D or 3-D), static or moving cells (motility and repulsion; no
division or death, since a trajectory dataset needs a constant population) and 2-4 cell types.

    python3 tools/grn_motifs.py --seed 3 --out DIR [--genes 10:14] [--cells 100] [--iterations 200] \
        [--truth-model hill|sigmoid]

writes into DIR (created; existing files are replaced):
  run.yaml              a `tessera run` deck: grn.model hill, per-gene production/basal/decay and per-edge K, h,
                        n drawn at random, genes starting uniform in [0, gene_high) per gene, 21 observations
                        (every 0.5 min over 10 min) written as sim/dataset.h5 (output.dataset: true) with the
                        network under /grn/truth:  tessera run DIR/run.yaml -o DIR/sim
  truth.tsv             the true network (GRN table: type source target sign K h n; `*` = every type)
  lr.tsv                the true ligand -> receptor pairs (ligand receptor K h n)
  prior.tsv             a superset prior per type: the type's true edges plus twice as many decoys (ordered
                        pairs j != k that are not true edges of the type, each drawn once)
  train_<family>_prior.yaml, train_<family>_dense.yaml
                        `tessera train` decks fitting sim/dataset.h5 with model family <family> (graph_ode,
                        hill, sigmoid) on the prior's candidates or on every ordered pair (grn.<family>.prior:
                        dense); the signaling section adds 2 decoy ligand -> receptor pairs to the true ones;
                        hill and sigmoid start from the ridge fit (init: ridge), sigmoid with log inputs
                        (grn.sigmoid.inputs: log) whichever model made the data
  network.json          what was drawn (seed, genes, types, dimension, motion, motifs, edge counts)

--truth-model sigmoid keeps the seed's graph, types, LR pairs, prior, dimension, motion and tissue (the same
draws, in the same order; the sigmoid parameters are drawn after them) but simulates the network with
`grn.model: sigmoid`, dx_ik/dt = beta_ck sigma(sum_j W_c,jk x_ij + sum_q V_cq s_iq + b_ck) - gamma_ck x_ik,
whose true parameters the tool writes as a `sigmoid` model file (docs/file-formats.md):
  model.h5              family sigmoid, prior edges: per type its true edges (the candidates), one pair per
                        true LR pair; W = sign x u / gene_high_j with u uniform in [2, 4] (a regulator moved
                        from its typical level, half its initial range [0, gene_high_j), to either end of
                        it shifts its target's input by u / 2 = 1-2: sigma from its midpoint to 0.12-0.27
                        or 0.73-0.88, neither flat nor saturated); V = sign x u / s_typ,
                        u in [2, 4], the sign + (a ligand activates its receptor, as in the hill data), s_typ
                        the typical received signal (the ligand's typical level gene_high / 2 times the expected
                        sum of w(d) = exp(-d / 10 um) over the neighbours within 20 um at the tissue's density);
                        b_ck = -(sum_j W_jk gene_high_j / 2 + sum_q V_q s_typ,q), so that each target sits at
                        sigma's midpoint when its regulators are at their typical levels (half their initial
                        range); gamma_ck uniform in [0.1, 0.3] /min and beta_ck = gamma_ck gene_high_k u, u
                        uniform in [1, 2] (the midpoint's steady state beta / (2 gamma) is 0.5-1 gene_high_k),
                        per gene and cell type. W and V are drawn per edge key (a shared `*` edge has one W in
                        every type), beta and gamma per gene and type.
  run.yaml              grn.model: sigmoid with grn.sigmoid.model_file: model.h5, its candidate graph truth.tsv
  truth.tsv             the true network with its signs (header `type source target sign`)
  lr.tsv                the true LR pairs (header `ligand receptor`)
`tessera run run.yaml -o sim` records the model's network as sim/dataset.h5's /grn/truth (its candidate edges
with a non-zero W, signed as W: truth.tsv's edges). The train decks and prior.tsv are those of the hill
data.

The same seed and options always give the same files (numpy's PCG64 generator).
The choice of dimension, motion and type count follows the seed (dim 2 + seed mod 2, moving when
floor(seed / 2) is odd, 2 + seed mod 3 types) so any 4 consecutive seeds cover every combination;
--dim, --moving/--static and --types override it.
"""
import argparse
import json
import os
import sys

FAMILIES = ("graph_ode", "hill", "sigmoid")
MAX_IN_DEGREE = 3  # regulators per target and type, ligand inputs included
REPRESSION_FRACTION = 0.3  # of the free signs; toggles and negative loops add their own


class Network:
    """Edges per cell type (`*` = shared by every type), kept free of self loops and repeated pairs."""

    def __init__(self, n_genes, types):
        self.n_genes = n_genes
        self.types = types
        self.edges = {}  # (type or "*", source, target) -> sign (+1 / -1)
        self.motifs = []  # (type, motif name, genes)
        self.lr_inputs = {}  # receptor gene -> ligand inputs (they count towards the in-degree cap)

    def type_edges(self, cell_type):
        """{(source, target): sign} of one type: its own edges and the shared ones."""
        return {(j, k): s for (t, j, k), s in self.edges.items() if t in ("*", cell_type)}

    def in_degree(self, cell_type, target):
        types = self.types if cell_type == "*" else [cell_type]
        return max(sum(1 for (j, k) in self.type_edges(t) if k == target) for t in types) + \
            self.lr_inputs.get(target, 0)

    def can_add(self, cell_type, j, k, pending):
        if j == k:
            return False
        types = self.types if cell_type == "*" else [cell_type]
        for t in types:
            if (j, k) in self.type_edges(t):
                return False
        extra = sum(1 for (_, kk) in pending if kk == k)
        return self.in_degree(cell_type, k) + extra + 1 <= MAX_IN_DEGREE

    def add_motif(self, cell_type, name, genes, edges):
        """Adds every edge of the motif, or none when one of them would repeat an edge or overload a target."""
        pending = []
        for (j, k, s) in edges:
            if not self.can_add(cell_type, j, k, pending) or (j, k) in [(a, b) for (a, b) in pending]:
                return False
            pending.append((j, k))
        for (j, k, s) in edges:
            self.edges[(cell_type, j, k)] = s
        self.motifs.append((cell_type, name, [int(g) for g in genes]))
        return True


def random_sign(rng):
    return -1 if rng.random() < REPRESSION_FRACTION else 1


def draw_motif(rng, n_genes):
    """A motif on distinct random genes: (name, genes, [(source, target, sign)])."""
    name = rng.choice(["feed_forward", "toggle", "cascade", "negative_feedback", "fan_out", "fan_in"])
    if name == "feed_forward":
        a, b, c = rng.choice(n_genes, 3, replace=False)
        s_ab, s_bc = random_sign(rng), random_sign(rng)
        # Coherent (the direct sign equals the indirect one) or incoherent, at even odds.
        s_ac = s_ab * s_bc if rng.random() < 0.5 else -s_ab * s_bc
        return name, [a, b, c], [(a, b, s_ab), (b, c, s_bc), (a, c, s_ac)]
    if name == "toggle":
        a, b = rng.choice(n_genes, 2, replace=False)
        return name, [a, b], [(a, b, -1), (b, a, -1)]
    if name == "cascade":
        length = int(rng.integers(3, 5))
        g = rng.choice(n_genes, length, replace=False)
        return name, list(g), [(g[i], g[i + 1], random_sign(rng)) for i in range(length - 1)]
    if name == "negative_feedback":
        length = int(rng.integers(2, 4))
        g = rng.choice(n_genes, length, replace=False)
        # A cycle with exactly one repression (an odd number makes the loop negative).
        flip = int(rng.integers(length))
        return name, list(g), [(g[i], g[(i + 1) % length], -1 if i == flip else 1) for i in range(length)]
    count = int(rng.integers(2, 4))
    g = rng.choice(n_genes, count + 1, replace=False)
    if name == "fan_out":
        return name, list(g), [(g[0], g[i], random_sign(rng)) for i in range(1, count + 1)]
    return name, list(g), [(g[i], g[0], random_sign(rng)) for i in range(1, count + 1)]


def fill(rng, network, cell_type, target_edges):
    """Adds random motifs to `cell_type` until it has `target_edges` edges of its own (or 200 draws fail)."""
    failures = 0
    while sum(1 for (t, _, _) in network.edges if t == cell_type) < target_edges and failures < 200:
        name, genes, edges = draw_motif(rng, network.n_genes)
        if not network.add_motif(cell_type, name, genes, edges):
            failures += 1


def build(args):
    import numpy as np

    rng = np.random.default_rng(args.seed)
    low, high = args.genes
    n_genes = int(rng.integers(low, high + 1))
    dim = args.dim if args.dim else 2 + args.seed % 2
    moving = args.moving if args.moving is not None else (args.seed // 2) % 2 == 1
    n_types = args.types if args.types else 2 + args.seed % 3
    genes = ["G%02d" % (g + 1) for g in range(n_genes)]
    types = ["type%d" % (t + 1) for t in range(n_types)]

    network = Network(n_genes, types)
    # Ligand -> receptor pairs first: their receptors' in-degree counts the ligand input.
    n_lr = int(rng.integers(2, 5))
    pairs = []
    for ligand, receptor in zip(*[iter(rng.choice(n_genes, 2 * n_lr, replace=False))] * 2):
        pairs.append((int(ligand), int(receptor)))
        network.lr_inputs[int(receptor)] = 1
    # About 0.7 G shared edges and 0.35 G of each type's own.
    fill(rng, network, "*", int(round(0.7 * n_genes)))
    for t in types:
        fill(rng, network, t, int(round(0.35 * n_genes)))

    # Hill parameters: decay 0.1-0.3 /min, production so that a fully activated gene settles at 1.5-3, basal
    # 0.02-0.1; K 0.6-1.4, h 0.3-1.0 (inside the expression range), n 1.5-3.
    decay = rng.uniform(0.1, 0.3, n_genes)
    production = decay * rng.uniform(1.0, 2.0, n_genes)
    basal = rng.uniform(0.02, 0.1, n_genes)
    edge_params = {}
    for key in sorted(network.edges, key=lambda e: (e[0] != "*", e[0], e[1], e[2])):
        edge_params[key] = (float(rng.uniform(0.6, 1.4)), float(rng.uniform(0.3, 1.0)), float(rng.uniform(1.5, 3.0)))
    lr_params = [(float(rng.uniform(0.8, 1.5)), float(rng.uniform(0.3, 0.8)), 2.0) for _ in pairs]
    gene_high = rng.uniform(1.5, 3.0, n_genes)

    # Decoy ligand -> receptor pairs for the train decks (not true pairs, ligand != receptor).
    decoy_lr = []
    while len(decoy_lr) < 2:
        l, r = (int(v) for v in rng.choice(n_genes, 2, replace=False))
        if (l, r) not in pairs and (l, r) not in decoy_lr:
            decoy_lr.append((l, r))

    # Superset prior per type: the truth plus twice as many decoys, each an ordered pair j != k drawn once.
    prior = {}
    for t in types:
        truth = sorted(network.type_edges(t))
        others = [(j, k) for j in range(n_genes) for k in range(n_genes) if j != k and (j, k) not in truth]
        picks = rng.choice(len(others), min(len(others), 2 * len(truth)), replace=False)
        prior[t] = sorted(truth + [others[i] for i in picks])

    # Tissue: ≈6 neighbours within r_sig = 20 um in 2-D (0.005 cells/um^2), ≈10 in 3-D (3e-4 cells/um^3).
    density = 0.005 if dim == 2 else 3e-4
    side = (args.cells / density) ** (1.0 / dim)
    # Whole percentages, at least 15 % per type, that sum to exactly 100 (tessera checks the sum).
    percent = np.maximum(np.round(100 * rng.dirichlet(np.full(n_types, 4.0))), 15).astype(int)
    percent[int(np.argmax(percent))] += 100 - int(percent.sum())
    fractions = percent / 100.0
    d = dict(seed=args.seed, genes=genes, types=types, dim=dim, moving=moving, network=network,
             pairs=pairs, lr_params=lr_params, decoy_lr=decoy_lr, prior=prior, decay=decay,
             production=production, basal=basal, edge_params=edge_params, gene_high=gene_high,
             side=side, fractions=fractions, cells=args.cells, truth_model=args.truth_model)
    if args.truth_model == "sigmoid":
        # Drawn after everything above, so the graph, prior and tissue are those of the hill data.
        d["sigmoid"] = sigmoid_parameters(rng, d, density)
    return d


def typical_signal_weight(dim, density, signal_range=20.0, length=10.0):
    """Expected sum of w(d) = exp(-d / length) over the neighbours within signal_range of a cell in a tissue of
    uniform density (cells per um^dim): density x the integral of w over the ball (trapezoid rule)."""
    import numpy as np
    r = np.linspace(0.0, signal_range, 2001)
    shell = 2 * np.pi * r if dim == 2 else 4 * np.pi * r ** 2
    f = np.exp(-r / length) * shell
    return density * float(np.sum((f[1:] + f[:-1]) * np.diff(r)) / 2)


def sigmoid_parameters(rng, d, density):
    """The true `sigmoid` parameters (see the module docstring for the choices): W per edge key, V per LR pair,
    and per cell type b, beta, gamma [T][G]."""
    import numpy as np
    network, types, gene_high = d["network"], d["types"], d["gene_high"]
    n_genes = len(d["genes"])
    typical = gene_high / 2  # the genes start uniform in [0, gene_high)
    weight = {}
    for key in sorted(network.edges, key=lambda e: (e[0] != "*", e[0], e[1], e[2])):
        _, j, _ = key
        weight[key] = network.edges[key] * float(rng.uniform(2.0, 4.0)) / gene_high[j]
    s_typ = [typical[l] * typical_signal_weight(d["dim"], density) for (l, _) in d["pairs"]]
    v = [float(rng.uniform(2.0, 4.0)) / s for s in s_typ]
    gamma = rng.uniform(0.1, 0.3, (len(types), n_genes))
    beta = gamma * gene_high[None, :] * rng.uniform(1.0, 2.0, (len(types), n_genes))
    b = np.zeros((len(types), n_genes))
    for c, t in enumerate(types):
        for (t_key, j, k), w in weight.items():
            if t_key in ("*", t):
                b[c, k] -= w * typical[j]
        for q, (_, receptor) in enumerate(d["pairs"]):
            b[c, receptor] -= v[q] * s_typ[q]
    return dict(W=weight, V=v, b=b, beta=beta, gamma=gamma, s_typ=s_typ)


def softplus_inverse(y):
    import numpy as np
    return y + np.log(-np.expm1(-y))


def write_sigmoid_model(d, path):
    """model.h5 of the `sigmoid` family (docs/file-formats.md) holding the true parameters: per type its true
    edges as the candidates (targets ascending, then sources), the true LR pairs."""
    import h5py
    import numpy as np
    p, network = d["sigmoid"], d["network"]
    edge_type, source, target, w = [], [], [], []
    for c, t in enumerate(d["types"]):
        for (j, k) in sorted(network.type_edges(t), key=lambda e: (e[1], e[0])):
            key = (t, j, k) if (t, j, k) in network.edges else ("*", j, k)
            edge_type.append(c)
            source.append(j)
            target.append(k)
            w.append(p["W"][key])
    n_types = len(d["types"])
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "tessera-model"
        f.attrs["version"] = np.int64(1)
        f.attrs["family"] = "sigmoid"
        f.create_group("sigmoid").attrs["prior"] = "edges"
        f["genes"] = np.array([g.encode() for g in d["genes"]])
        f["cell_types"] = np.array([t.encode() for t in d["types"]])
        f["edges/type"] = np.array(edge_type, dtype=np.int32)
        f["edges/source"] = np.array(source, dtype=np.int32)
        f["edges/target"] = np.array(target, dtype=np.int32)
        f["pairs/ligand"] = np.array([l for (l, _) in d["pairs"]], dtype=np.int32)
        f["pairs/receptor"] = np.array([r for (_, r) in d["pairs"]], dtype=np.int32)
        f["params/all/W"] = np.array(w, dtype=np.float64)
        f["params/all/V"] = np.tile(np.array(p["V"], dtype=np.float64), (n_types, 1))
        f["params/all/b"] = p["b"]
        f["params/all/beta_rho"] = softplus_inverse(p["beta"])
        f["params/all/gamma_rho"] = softplus_inverse(p["gamma"])


def fmt(values, digits=4):
    return "[" + ", ".join("%.*g" % (digits, v) for v in values) + "]"


def common_sections(d, for_training):
    dim, side = d["dim"], d["side"]
    lines = ["domain:", "  dim: %d" % dim, "  lo: [%s]" % ", ".join(["0 um"] * dim),
             "  hi: [%s]" % ", ".join(["%.1f um" % side] * dim),
             "  boundary: %s" % ("reflecting" if d["moving"] else "periodic"), "",
             "cells:", "  types: [%s]" % ", ".join(d["types"])]
    if not for_training:
        lines += ["  fractions: %s" % fmt(d["fractions"], 2), "  init:", "    placement: random",
                  "    count: %d" % d["cells"], "    genes: uniform", "    gene_low: 0",
                  "    gene_high: %s" % fmt(d["gene_high"])]
    lines += [""]
    if not for_training:
        if d["moving"]:
            lines += ["mechanics:", "  motility: 2 um^2/min", "  repulsion: 10", ""]
        else:
            lines += ["mechanics:", "  frozen: true", ""]
    return lines


def signaling_section(d, pairs):
    lines = ["signaling:", "  range: 20 um", "  length: 10 um", "  pairs:"]
    for (l, r), (K, h, n) in pairs:
        lines.append("    - {ligand: %s, receptor: %s, K: %.4g, h: %.4g, n: %.4g}"
                     % (d["genes"][l], d["genes"][r], K, h, n))
    return lines + [""]


def run_deck(d):
    lines = ["# tessera run deck drawn by tools/grn_motifs.py --seed %d: %d genes, %d cell types, %d-D, %s cells."
             % (d["seed"], len(d["genes"]), len(d["types"]), d["dim"], "moving" if d["moving"] else "static"),
             "# The hill network is truth.tsv; `tessera run run.yaml -o sim` writes sim/dataset.h5 for the",
             "# train_*.yaml decks."]
    lines += common_sections(d, False)
    if d["truth_model"] == "sigmoid":
        lines[1:3] = ["# The sigmoid network is model.h5 (its graph and signs: truth.tsv); `tessera run run.yaml -o sim`",
                      "# writes sim/dataset.h5 for the train_*.yaml decks."]
        lines += ["grn:", "  model: sigmoid", "  genes: [%s]" % ", ".join(d["genes"]), "  table: truth.tsv",
                  "  sigmoid:", "    prior: edges", "    model_file: model.h5", ""]
    else:
        lines += ["grn:", "  model: hill", "  genes: [%s]" % ", ".join(d["genes"]), "  table: truth.tsv",
                  "  production: %s" % fmt(d["production"]), "  basal: %s" % fmt(d["basal"]),
                  "  decay: %s" % fmt(d["decay"]), ""]
    lines += ["signaling:", "  table: lr.tsv", "  range: 20 um", "  length: 10 um", ""]
    lines += ["time:", "  dt: 0.5 min", "  end: 10 min", "  integrator: rk4", "  dt_grn: 0.125 min", "",
              "output:", "  every: 1", "  progress_every: 20", "  dataset: true", "",
              "random:", "  seed: %d" % d["seed"]]
    return "\n".join(lines) + "\n"


def train_deck(d, family, dense, iterations):
    graph = "every ordered pair j -> k (grn.%s.prior: dense)" % family if dense else \
        "prior.tsv (the truth plus twice as many decoys per type)"
    lines = ["# tessera train deck drawn by tools/grn_motifs.py --seed %d: fits model family %s to" % (d["seed"], family),
             "# sim/dataset.h5 (run run.yaml -o sim first) on the candidates %s." % graph,
             "# The signaling section holds the true ligand -> receptor pairs and 2 decoys."]
    lines += common_sections(d, True)
    lines += ["grn:", "  model: %s" % family, "  genes: [%s]" % ", ".join(d["genes"])]
    if family == "graph_ode":
        lines += ["  graph_ode:", "    variant: gat", "    heads: 2", "    hidden: 8", "    mlp_width: 16",
                  "    mlp_layers: 2", "    share: per_type", "    prior: %s" % ("dense" if dense else "edges"),
                  "    init_seed: 1", "    decay_init: 0.1"]
    else:
        # Both mechanistic families start from the ridge fit on the same data and candidates (the deck holds
        # no edges: the truth never reaches the model).
        lines += ["  %s:" % family, "    prior: %s" % ("dense" if dense else "edges"), "    init: ridge"]
        if family == "sigmoid":
            # Log inputs, so that each regulator's term can be a Hill function (docs/performance.md
            # "Inference"); the same on either truth model, so the deck does not tell the model what made the data.
            lines += ["    inputs: log", "    log_offset: 0.05"]
    lines += [""]
    lines += signaling_section(d, list(zip(d["pairs"], d["lr_params"])) +
                               [(p, (1.0, 0.5, 2.0)) for p in d["decoy_lr"]])
    # graph_ode is what train fits by default on a grn.model: graph_ode deck; the others name their family.
    lines += ["time:", "  dt: 0.5 min", "", "train:"] + ([] if family == "graph_ode" else ["  model: %s" % family])
    lines += ["  dataset: sim/dataset.h5"]
    if not dense:
        lines += ["  prior: prior.tsv"]
    # The mechanistic families are fitted by L-BFGS on every window: with AdamW (lr 0.01, 100 iterations) hill
    # stayed at 70x the no-change MSE on seed 1, and L-BFGS reaches 0.002x there (sigmoid: about equal).
    optimizer = ["  lr: 1e-2"] if family == "graph_ode" else ["  optimizer: lbfgs"]
    lines += ["  mode: one_step", "  iterations: %d" % iterations, "  time_points_per_iter: 4", "  dt: 0.5 min"]
    lines += optimizer + ["  val_fraction: 0.2", "  progress_every: %d" % max(1, iterations // 5), "",
              "random:", "  seed: %d" % d["seed"]]
    return "\n".join(lines) + "\n"


def write_files(d, out, iterations):
    os.makedirs(out, exist_ok=True)
    genes, network = d["genes"], d["network"]

    def write(name, text):
        with open(os.path.join(out, name), "w") as f:
            f.write(text)

    sigmoid = d["truth_model"] == "sigmoid"
    # A sigmoid network's parameters are model.h5: its tables hold the graph and signs only.
    rows = ["type\tsource\ttarget\tsign" + ("" if sigmoid else "\tK\th\tn")]
    for (t, j, k), (K, h, n) in d["edge_params"].items():
        sign = "+" if network.edges[(t, j, k)] > 0 else "-"
        rows.append("%s\t%s\t%s\t%s" % (t, genes[j], genes[k], sign) + ("" if sigmoid else "\t%.6g\t%.6g\t%.6g" % (K, h, n)))
    write("truth.tsv", "\n".join(rows) + "\n")
    rows = ["ligand\treceptor" + ("" if sigmoid else "\tK\th\tn")]
    for (l, r), (K, h, n) in zip(d["pairs"], d["lr_params"]):
        rows.append("%s\t%s" % (genes[l], genes[r]) + ("" if sigmoid else "\t%.6g\t%.6g\t%.6g" % (K, h, n)))
    write("lr.tsv", "\n".join(rows) + "\n")
    if sigmoid:
        write_sigmoid_model(d, os.path.join(out, "model.h5"))
    rows = ["type\tsource\ttarget"]
    for t in d["types"]:
        rows += ["%s\t%s\t%s" % (t, genes[j], genes[k]) for (j, k) in d["prior"][t]]
    write("prior.tsv", "\n".join(rows) + "\n")
    write("run.yaml", run_deck(d))
    for family in FAMILIES:
        for dense in (False, True):
            write("train_%s_%s.yaml" % (family, "dense" if dense else "prior"), train_deck(d, family, dense, iterations))

    per_type = {}
    for t in d["types"]:
        edges = network.type_edges(t)
        per_type[t] = {"edges": len(edges), "repressions": sum(1 for s in edges.values() if s < 0),
                       "prior_candidates": len(d["prior"][t])}
    info = {"seed": d["seed"], "genes": genes, "types": d["types"], "dim": d["dim"], "moving": d["moving"],
            "cells": d["cells"], "ligand_receptor": [[genes[l], genes[r]] for (l, r) in d["pairs"]],
            "decoy_ligand_receptor": [[genes[l], genes[r]] for (l, r) in d["decoy_lr"]],
            "motifs": [{"type": t, "motif": name, "genes": [genes[g] for g in g_list]}
                       for (t, name, g_list) in network.motifs],
            "per_type": per_type}
    if d["truth_model"] != "hill":  # (the hill files stay those of the tool before the option)
        info["truth_model"] = d["truth_model"]
    write("network.json", json.dumps(info, indent=1) + "\n")
    return info


def gene_range(text):
    try:
        low, _, high = text.partition(":")
        low, high = int(low), int(high or low)
    except ValueError:
        raise argparse.ArgumentTypeError("expected G or LOW:HIGH, got '%s'" % text)
    if not 4 <= low <= high:
        raise argparse.ArgumentTypeError("gene counts need 4 <= LOW <= HIGH, got '%s'" % text)
    return low, high


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True, help="directory to write into (created)")
    ap.add_argument("--genes", type=gene_range, default=(10, 14), help="gene count or LOW:HIGH (default 10:14)")
    ap.add_argument("--cells", type=int, default=100, help="cells (default 100)")
    ap.add_argument("--types", type=int, choices=(2, 3, 4), help="cell types (default: 2 + seed mod 3)")
    ap.add_argument("--dim", type=int, choices=(2, 3), help="dimension (default: 2 + seed mod 2)")
    motion = ap.add_mutually_exclusive_group()
    motion.add_argument("--moving", dest="moving", action="store_true", default=None)
    motion.add_argument("--static", dest="moving", action="store_false")
    ap.add_argument("--iterations", type=int, default=200, help="train.iterations of the train decks")
    ap.add_argument("--truth-model", dest="truth_model", choices=("hill", "sigmoid"), default="hill",
                    help="the model family that simulates the network (default hill)")
    args = ap.parse_args()
    if args.seed < 0 or args.cells < 10 or args.iterations < 1:
        ap.error("--seed must be >= 0, --cells >= 10, --iterations >= 1")
    try:
        import numpy  # noqa: F401
        if args.truth_model == "sigmoid":
            import h5py  # noqa: F401
    except ImportError as e:
        print("grn_motifs: needs numpy (and h5py for --truth-model sigmoid) (%s)" % e, file=sys.stderr)
        return 77
    info = write_files(build(args), args.out, args.iterations)
    edges = ", ".join("%s %d (%d -)" % (t, v["edges"], v["repressions"]) for t, v in info["per_type"].items())
    print("grn_motifs: seed %d: %s network, %d genes, %d-D %s, edges per type: %s; %d LR pairs; wrote %s"
          % (info["seed"], args.truth_model, len(info["genes"]), info["dim"],
             "moving" if info["moving"] else "static", edges, len(info["ligand_receptor"]), args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
