#!/usr/bin/python3
"""A plain vectorised PyTorch implementation of tessera's `graph_ode` training iteration (SPEC §2.2, §3.2).

Why it exists: issue 9 measures `tessera train` against "a plain vectorised PyTorch implementation of the
same model (fp64, 2 threads, autograd, same data and work)". This is that reference, in the repository, so the
ratio can be rerun on any machine, and with a check mode showing that it computes what tessera computes.

The model: GAT attention over each gene node's in-edges (self loop, the dataset's prior graph of the cell's
type, ligand -> receptor edges from neighbours within r_sig with weight exp(-d/ell)), z = ReLU(w m + b0), an
MLP of L layers, minus a softplus-parametrised decay; all parameter sets shared by the cell types (`share:
all`). The objective: `one_step` (each sampled start time t_k is integrated from the observed x(t_k) to
t_{k+1} by rk4 and scored there), mean squared error over scored times x cells x genes, autograd for the
gradient, torch.optim.AdamW with tessera's defaults (weight decay 0).

Usage (the dataset of bench/train_cli.sh):
  build/bin/tessera_bench_train --cells 100 --genes 100 --write-dataset data.h5
  OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_reference.py data.h5 --iterations 30
Check against tessera (model.h5 of any `tessera train` with the bench deck, then `--gradient-only` at it):
  tessera train DECK -o run1 -s train.iterations=1
  tessera train DECK -o grad -s grn.graph_ode.model_file=run1/model.h5 --gradient-only
  /usr/bin/python3 bench/torch_reference.py data.h5 --check grad/gradient.h5 --model run1/model.h5

Limits: GAT only (no GATv2, per-edge terms, embeddings or per-type sets), a non-periodic domain, the model's
genes in the dataset's order, signalling not autocrine.
"""

import argparse
import math
import sys
import time
import warnings

import h5py
import numpy as np
import torch

warnings.filterwarnings("ignore", message="scatter_reduce")  # torch 1.13 calls it beta; the API used is stable


def parse_arguments():
    p = argparse.ArgumentParser(
        description="PyTorch reference of tessera's graph_ode one_step training (issue 9's speed comparison).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("dataset", help="trajectory dataset (.h5, docs/file-formats.md), e.g. from "
                   "`tessera_bench_train --cells 100 --genes 100 --write-dataset data.h5`")
    p.add_argument("--iterations", type=int, default=30, help="AdamW iterations to time")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--precision", choices=["float64", "float32"], default="float64",
                   help="dtype of parameters, states and activations")
    p.add_argument("--time-points", type=int, default=10,
                   help="start times sampled per iteration (train.time_points_per_iter)")
    p.add_argument("--hidden", type=int, default=64, help="H, hidden units per head")
    p.add_argument("--heads", type=int, default=1, help="K, attention heads")
    p.add_argument("--mlp-width", type=int, default=64, help="M")
    p.add_argument("--mlp-layers", type=int, default=3, help="L")
    p.add_argument("--range", type=float, default=20.0, help="signaling.range r_sig, um")
    p.add_argument("--length", type=float, default=10.0, help="signaling.length ell in exp(-d/ell), um")
    p.add_argument("--dt", type=float, default=1.0, help="rk4 step (train.dt), in the dataset's time unit")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate")
    p.add_argument("--decay-init", type=float, default=0.1, help="initial gamma (grn.graph_ode.decay_init)")
    p.add_argument("--seed", type=int, default=1, help="seed of the initialisation and the start-time sampling")
    p.add_argument("--check", metavar="GRADIENT_H5",
                   help="instead of timing: compare loss and gradient with tessera's `train --gradient-only` "
                   "output at the parameters of --model, over its start times")
    p.add_argument("--model", metavar="MODEL_H5", help="tessera model.h5 whose /params/all to start from")
    p.add_argument("--tolerance", type=float,
                   help="with --check: exit 1 unless the loss and the gradient (2-norm over all parameters) agree "
                   "to this relative difference")
    a = p.parse_args()
    if a.check and not a.model:
        p.error("--check needs --model (the model.h5 the gradient was computed at)")
    return a


class Dataset:
    """What the objective needs of a tessera trajectory dataset."""

    def __init__(self, path):
        with h5py.File(path, "r") as f:
            if f.attrs.get("format") != "tessera-dataset":
                sys.exit("%s: not a tessera dataset (root attribute format)" % path)
            self.x = f["expression"][...]  # [T][N][G]
            self.time = f["time"][...]
            self.positions = f["positions"][...]  # [N][dim] or [T][N][dim]
            self.cell_type = f["cell_type"][...].astype(np.int64)
            self.type_names = [t.decode() for t in f["cell_types"][...]]
            self.ligand_receptor = f["ligand_receptor"][...] if "ligand_receptor" in f else np.zeros((0, 2), int)
            prior = {}
            if "grn/prior" in f:
                for name in f["grn/prior"]:
                    prior[name] = f["grn/prior"][name][...]
        self.T, self.N, self.G = self.x.shape
        # Each type's in-edges (source, target), as tessera reads them: self loops (the model has them anyway)
        # and repeated rows dropped; a `*` group applies to every type.
        self.prior = []
        for name in self.type_names:
            rows = [r for group in (name, "*") if group in prior for r in prior[group].tolist()]
            seen, edges = set(), []
            for s, t in rows:
                if s != t and (s, t) not in seen:
                    seen.add((s, t))
                    edges.append((s, t))
            self.prior.append(np.array(edges, dtype=np.int64).reshape(-1, 2))

    def frame_positions(self, k):
        return self.positions[k] if self.positions.ndim == 3 else self.positions


def build_graph(ds, k, r_sig, ell):
    """The in-edges of every gene node (cell i, gene k) -> node i*G + k at observation time k: (source node,
    target node, weight). Built once per frame with numpy, outside the timed loop."""
    G, N = ds.G, ds.N
    cells = np.arange(N)
    src, dst, wgt = [], [], []
    # Self loops.
    nodes = np.arange(N * G)
    src.append(nodes), dst.append(nodes), wgt.append(np.ones(N * G))
    # Prior edges j -> k of each cell's type.
    for c, edges in enumerate(ds.prior):
        members = cells[ds.cell_type == c]
        if len(edges) == 0 or len(members) == 0:
            continue
        base = (members * G)[:, None]
        src.append((base + edges[None, :, 0]).ravel())
        dst.append((base + edges[None, :, 1]).ravel())
        wgt.append(np.ones(len(members) * len(edges)))
    # Ligand l of neighbour n -> receptor k of cell i, for every pair (l, k), d(i, n) <= r_sig, n != i.
    if len(ds.ligand_receptor):
        p = ds.frame_positions(k)
        d = np.sqrt(((p[:, None, :] - p[None, :, :]) ** 2).sum(-1))
        i_idx, n_idx = np.nonzero((d <= r_sig) & ~np.eye(N, dtype=bool))
        w = np.exp(-d[i_idx, n_idx] / ell) if math.isfinite(ell) else np.ones(len(i_idx))
        for lig, rec in ds.ligand_receptor.tolist():
            src.append(n_idx * G + lig)
            dst.append(i_idx * G + rec)
            wgt.append(w)
    return np.concatenate(src), np.concatenate(dst), np.concatenate(wgt)


class GraphOde(torch.nn.Module):
    """dx_ik/dt of SPEC §2.2 (GAT, one parameter set for all types), on a batch of disjoint graphs."""

    def __init__(self, G, heads, hidden, width, layers, dtype):
        super().__init__()
        P = lambda *shape: torch.nn.Parameter(torch.zeros(*shape, dtype=dtype))
        self.heads, self.hidden = heads, hidden
        # Names and shapes of tessera's /params/<set> (grn/graph_ode_parameters.hpp).
        self.w, self.b0, self.a_src, self.a_dst = (P(heads, hidden) for _ in range(4))
        sizes = [heads * hidden] + [width] * (layers - 1) + [1]
        self.W = torch.nn.ParameterList([P(o, i) for i, o in zip(sizes[:-1], sizes[1:])])
        self.b = torch.nn.ParameterList([P(o) for o in sizes[1:]])
        self.decay_rho = P(G)

    def tensors(self):
        """(tessera tensor name, parameter), in /params storage order."""
        named = [("w", self.w), ("b0", self.b0), ("a_src", self.a_src), ("a_dst", self.a_dst)]
        for l, (W, b) in enumerate(zip(self.W, self.b), start=1):
            named += [("W%d" % l, W), ("b%d" % l, b)]
        return named + [("decay_rho", self.decay_rho)]

    def glorot_init(self, generator, decay_init):
        # tessera's initialisation in distribution (its CounterRng stream is not reproduced): Glorot-uniform
        # weights, zero biases, softplus(rho) = decay_init.
        def glorot(t, fan_in, fan_out):
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            with torch.no_grad():
                t.copy_((torch.rand(t.shape, generator=generator, dtype=torch.float64) * 2 - 1) * bound)

        for t in (self.w, self.a_src, self.a_dst):
            glorot(t, 1, self.hidden)
        for W in self.W:
            glorot(W, W.shape[1], W.shape[0])
        with torch.no_grad():
            self.decay_rho.fill_(math.log(math.expm1(decay_init)))

    def load(self, path):
        with h5py.File(path, "r") as f:
            group = f["params/all"]
            for name, t in self.tensors():
                values = group[name][...]
                if values.size != t.numel():
                    sys.exit("%s: /params/all/%s has shape %s, this model %s" % (path, name, values.shape,
                                                                                tuple(t.shape)))
                with torch.no_grad():
                    t.copy_(torch.from_numpy(values.reshape(t.shape)))

    def forward(self, x, graph, gene):
        """x: [nodes] states; graph: (src, dst, weight) over the nodes; gene: [nodes] gene index."""
        src, dst, weight = graph
        n, K = x.shape[0], self.heads
        # GAT with scalar features: a_dst.(w x_k) + a_src.(w h) = x_k (a_dst.w) + h (a_src.w).
        score_dst = (self.a_dst * self.w).sum(1)  # [K]
        score_src = (self.a_src * self.w).sum(1)
        h = x[src]
        e = torch.nn.functional.leaky_relu(x[dst, None] * score_dst + h[:, None] * score_src, 0.2)  # [E][K]
        # Softmax over each node's in-edges, max-subtracted (the max is a constant of the softmax: detached).
        e_max = torch.full((n, K), -math.inf, dtype=x.dtype).scatter_reduce(
            0, dst[:, None].expand(-1, K), e.detach(), "amax", include_self=True)
        p = torch.exp(e - e_max[dst])
        denominator = torch.zeros((n, K), dtype=x.dtype).index_add(0, dst, p)
        numerator = torch.zeros((n, K), dtype=x.dtype).index_add(0, dst, p * (weight * h)[:, None])
        m = numerator / denominator  # [n][K]
        y = torch.relu(m[:, :, None] * self.w + self.b0).reshape(n, K * self.hidden)
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            y = torch.nn.functional.linear(y, W, b)
            if l + 1 < len(self.W):
                y = torch.relu(y)
        return y[:, 0] - torch.nn.functional.softplus(self.decay_rho)[gene] * x


class OneStepObjective:
    """tessera's `one_step` loss: for each start time k, rk4 from the observed x(t_k) to t_{k+1}, squared misfit
    to x(t_{k+1}), summed and divided by (start times x N x G) (learn/objective.cpp)."""

    def __init__(self, ds, r_sig, ell, dt, dtype):
        self.ds, self.dt, self.dtype = ds, dt, dtype
        frames = ds.T if ds.positions.ndim == 3 else 1
        graphs = [build_graph(ds, f, r_sig, ell) for f in range(frames)]
        self.graphs = [tuple(torch.from_numpy(a) for a in g) for g in graphs]
        self.x = torch.from_numpy(ds.x).to(dtype)
        self.edges_per_frame = [len(g[0]) for g in graphs]

    def batch(self, starts):
        """The windows' graphs side by side, one disjoint copy per start time: one vectorised evaluation."""
        NG = self.ds.N * self.ds.G
        src, dst, w = [], [], []
        for b, k in enumerate(starts):
            s, d, weight = self.graphs[k if len(self.graphs) > 1 else 0]
            src.append(s + b * NG), dst.append(d + b * NG), w.append(weight)
        gene = torch.arange(self.ds.G).repeat(self.ds.N * len(starts))
        return (torch.cat(src), torch.cat(dst), torch.cat(w).to(self.dtype)), gene

    def loss(self, model, starts):
        graph, gene = self.batch(starts)
        x = torch.stack([self.x[k] for k in starts]).reshape(-1)
        target = torch.stack([self.x[k + 1] for k in starts]).reshape(-1)
        t = self.ds.time
        spans = {float(t[k + 1] - t[k]) for k in starts}
        if len(spans) != 1:
            sys.exit("torch_reference.py: start times of different intervals need one batch each")
        span = spans.pop()
        steps = max(1, math.ceil(span / self.dt - 1e-9))
        h = span / steps
        f = lambda y: model(y, graph, gene)
        for _ in range(steps):
            k1 = f(x)
            k2 = f(x + 0.5 * h * k1)
            k3 = f(x + 0.5 * h * k2)
            k4 = f(x + h * k3)
            x = x + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return ((x - target) ** 2).sum() / (len(starts) * self.ds.N * self.ds.G)


def check(args, model, objective):
    """Loss and gradient at --model's parameters against tessera's gradient.h5 over the same start times."""
    with h5py.File(args.check, "r") as f:
        windows = f["objective/windows"][...]
        tessera_loss = float(f["objective"].attrs["data"])
        tessera_gradient = {name: f["params/all"][name][...] for name, _ in model.tensors()}
    if np.any(windows[:, 1] != windows[:, 0] + 1):
        sys.exit("%s: windows are not one_step (end = start + 1)" % args.check)
    loss = objective.loss(model, [int(k) for k in windows[:, 0]])
    loss.backward()
    print("start times %s" % windows[:, 0].tolist())
    print("loss: torch %.17g, tessera %.17g, relative difference %.3g" %
          (loss.item(), tessera_loss, abs(loss.item() - tessera_loss) / abs(tessera_loss)))
    worst_name, worst = None, 0.0
    scale = math.sqrt(sum(float((g ** 2).sum()) for g in tessera_gradient.values()))
    for name, t in model.tensors():
        ours = t.grad.detach().double().numpy().reshape(tessera_gradient[name].shape)
        diff = float(np.abs(ours - tessera_gradient[name]).max())
        rel = float(np.linalg.norm(ours - tessera_gradient[name]) / max(np.linalg.norm(tessera_gradient[name]),
                                                                       1e-300))
        # A tensor whose gradient is rounding noise (a_dst, ~1e-21: the target's term of the logit cancels in
        # the softmax unless LeakyReLU bends between a node's edges) differs by 100 %: its norm is printed.
        print("  d/d %-9s |gradient| %.3g, max |difference| %.3g, relative (2-norm) %.3g" %
              (name, np.linalg.norm(tessera_gradient[name]), diff, rel))
        if rel > worst:
            worst_name, worst = name, rel
    total = math.sqrt(sum(float(((t.grad.detach().double().numpy().reshape(tessera_gradient[n].shape) -
                                  tessera_gradient[n]) ** 2).sum()) for n, t in model.tensors()))
    print("gradient: relative difference (2-norm over all parameters) %.3g; worst tensor %s %.3g" %
          (total / scale, worst_name, worst))
    return max(abs(loss.item() - tessera_loss) / abs(tessera_loss), total / scale)


def main():
    args = parse_arguments()
    torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.precision == "float64" else torch.float32
    ds = Dataset(args.dataset)
    model = GraphOde(ds.G, args.heads, args.hidden, args.mlp_width, args.mlp_layers, torch.float64)
    generator = torch.Generator().manual_seed(args.seed)
    if args.model:
        model.load(args.model)
    else:
        model.glorot_init(generator, args.decay_init)
    model = model.to(dtype)
    objective = OneStepObjective(ds, args.range, args.length, args.dt, dtype)
    parameters = sum(p.numel() for p in model.parameters())
    print("dataset %s: %d times x %d cells x %d genes, %d types, %d LR pairs; %d in-edges per frame; "
          "%d parameters; %s, %d threads" % (args.dataset, ds.T, ds.N, ds.G, len(ds.type_names),
                                            len(ds.ligand_receptor), objective.edges_per_frame[0], parameters,
                                            args.precision, torch.get_num_threads()))
    if args.check:
        # With float32 the differences are float32's rounding (what the mixed precision is compared with).
        difference = check(args, model, objective)
        if args.tolerance is not None and not difference <= args.tolerance:
            sys.exit("torch_reference.py: relative difference %.3g from tessera exceeds --tolerance %g" %
                     (difference, args.tolerance))
        return

    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=0.0)
    starts = ds.T - 1
    if args.time_points > starts:
        sys.exit("--time-points %d: the dataset has %d start times" % (args.time_points, starts))
    wall, cpu = [], []
    begin = time.perf_counter()
    for iteration in range(1, args.iterations + 1):
        sample = torch.randperm(starts, generator=generator)[:args.time_points].tolist()
        optimizer.zero_grad(set_to_none=True)
        loss = objective.loss(model, sample)
        loss.backward()
        optimizer.step()
        wall.append(time.perf_counter() - begin)
        cpu.append(time.process_time())  # all threads: what a loaded machine inflates less than wall time
        print("iteration %d loss %.6g wall %.3f s" % (iteration, loss.item(), wall[-1]), flush=True)
    # As bench/train_cli.sh: the mean over iterations 3..N (the first two warm up the allocations).
    skip = 2
    if len(wall) > skip:
        steps = np.diff(wall[skip - 1:])
        print("torch reference, %s, %d threads, iterations %d..%d: %.4f s/iteration (mean), %.4f (fastest); "
              "process CPU %.4f s/iteration (mean), %.4f (least)" %
              (args.precision, torch.get_num_threads(), skip + 1, len(wall), (wall[-1] - wall[skip - 1]) /
               (len(wall) - skip), steps.min(), (cpu[-1] - cpu[skip - 1]) / (len(cpu) - skip),
               np.diff(cpu[skip - 1:]).min()))


if __name__ == "__main__":
    main()
