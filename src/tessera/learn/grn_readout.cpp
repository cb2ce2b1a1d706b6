#include "tessera/learn/grn_readout.hpp"

#include "tessera/core/error.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>

namespace tessera {

std::vector<int> readout_time_indices(std::size_t n_times, double val_fraction) {
  const TimeSplit split = split_times(n_times, val_fraction);
  std::vector<int> times(static_cast<std::size_t>(split.n_train));
  for (int k = 0; k < split.n_train; ++k)
    times[static_cast<std::size_t>(k)] = k;
  return times;
}

LearnedGrn learned_grn(const TrajectoryObjective& objective, TrainableGeneModel& model,
                       const std::vector<int>& times) {
  const TrajectoryDataset& ds = objective.dataset();
  const std::size_t T = ds.cell_types.size(), G = ds.n_genes();
  const std::size_t P = model.pairs().size();
  // Sums over cells and times, then the counts; one buffer so that one allreduce reduces all of them.
  const std::size_t intra = T * G * G, inter = T * T * P;
  std::vector<double> sums(5 * intra + 2 * inter + T, 0.0);
  double* attention = sums.data();
  double* jacobian = attention + intra;
  double* jacobian_signed = jacobian + intra;
  double* jacobian_u = jacobian_signed + intra; // |df_k/du_j| in the model's regulator_coordinate u(x_j)
  double* count = jacobian_u + intra;
  double* lr_attention = count + intra;
  double* lr_count = lr_attention + inter;
  double* cell_count = lr_count + inter; // cells of each type over the time points
  bool attended = false;                 // the family has attention (the same on every rank)
  auto at = [&](std::size_t c, std::size_t j, std::size_t k) { return (c * G + j) * G + k; };

  // The Jacobian of the cells' own terms: without this, the entry of a candidate edge l -> k that is also an
  // LR pair (ligand l, receptor k) held the neighbours' df_nk/dx_il too, and ranked such a decoy among the
  // strongest edges (families that cannot separate the paths keep both).
  struct IntracellularVjp {
    TrainableGeneModel& model;
    explicit IntracellularVjp(TrainableGeneModel& m) : model(m) { model.set_intracellular_vjp(true); }
    ~IntracellularVjp() { model.set_intracellular_vjp(false); }
    IntracellularVjp(const IntracellularVjp&) = delete;
    IntracellularVjp& operator=(const IntracellularVjp&) = delete;
  };
  for (const int k : times) {
    objective.visit_tissue(
        model, k, [&](const Cells<>& cells, GeneState x, const std::vector<std::size_t>& rows) {
          const std::size_t n = rows.size();
          EdgeAttention alpha;
          attended = model.edge_attention(x, alpha); // collective
          if (!attended) alpha.offsets.assign(n * G + 1, 0);
          const std::size_t rows_all = cells.n_owned + cells.n_ghost;
          const auto types = Kokkos::create_mirror_view_and_copy(
              Kokkos::HostSpace(), Kokkos::subview(cells.type, std::make_pair(std::size_t(0), rows_all)));
          for (std::size_t i = 0; i < n; ++i) {
            const auto c = static_cast<std::size_t>(types(i));
            cell_count[c] += 1.0;
            for (std::size_t g = 0; g < G; ++g) {
              const std::size_t node = i * G + g;
              for (int u = alpha.offsets[node]; u < alpha.offsets[node + 1]; ++u) {
                if (alpha.pair[u] < 0) {
                  const std::size_t e = at(c, static_cast<std::size_t>(alpha.source_gene[u]), g);
                  attention[e] += alpha.alpha[u];
                  count[e] += 1.0;
                } else {
                  const auto sender =
                      static_cast<std::size_t>(types(static_cast<std::size_t>(alpha.source_row[u])));
                  const std::size_t e = (sender * T + c) * P + static_cast<std::size_t>(alpha.pair[u]);
                  lr_attention[e] += alpha.alpha[u];
                  lr_count[e] += 1.0;
                }
              }
            }
          }
          // Row g of every cell's Jacobian: one VJP with lambda = e_g (collective, so every rank runs G of
          // them).
          const IntracellularVjp intracellular(model);
          // du/dx of every cell's regulators in the model's own coordinate (1 where it reads x itself).
          const auto x_host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
          std::vector<double> du_dx(n * G);
          for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < G; ++j)
              du_dx[i * G + j] = model.regulator_coordinate(x_host(i, j)).du_dv;
          GeneState lambda("tessera::learn::readout::lambda", n, G);
          GeneState x_bar("tessera::learn::readout::x_bar", n, G);
          for (std::size_t g = 0; g < G; ++g) {
            Kokkos::deep_copy(lambda, 0.0);
            if (n > 0) Kokkos::deep_copy(Kokkos::subview(lambda, Kokkos::ALL, g), 1.0);
            model.vjp(ds.time[static_cast<std::size_t>(k)], x, lambda, x_bar, ParameterGradient());
            const auto xb = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x_bar);
            for (std::size_t i = 0; i < n; ++i) {
              const auto c = static_cast<std::size_t>(types(i));
              for (std::size_t j = 0; j < G; ++j) {
                jacobian[at(c, j, g)] += std::fabs(xb(i, j));
                jacobian_signed[at(c, j, g)] += xb(i, j);
                // Where u is flat (du/dx = 0) the drive does not read x: df/dx = 0, and no slope in u.
                if (du_dx[i * G + j] > 0.0) jacobian_u[at(c, j, g)] += std::fabs(xb(i, j)) / du_dx[i * G + j];
              }
            }
          }
        });
  }
  mpi::check(MPI_Allreduce(MPI_IN_PLACE, sums.data(), static_cast<int>(sums.size()), MPI_DOUBLE, MPI_SUM,
                           objective.decomposition().comm()),
             "MPI_Allreduce");

  LearnedGrn out;
  out.has_attention = attended;
  const std::vector<SignedEdgeWeight> weights = model.signed_edge_weights();
  out.has_weight = !weights.empty();
  std::vector<double> weight(intra, NAN);
  std::map<std::array<int, 2>, double> lr_weight; // (receiver type, pair) -> weight
  for (const SignedEdgeWeight& w : weights) {
    if (w.type < 0 || static_cast<std::size_t>(w.type) >= T) continue;
    if (w.pair < 0) {
      const std::size_t e = at(static_cast<std::size_t>(w.type), static_cast<std::size_t>(w.source),
                               static_cast<std::size_t>(w.target));
      weight[e] = w.weight;
      if (!out.has_attention) count[e] = 1.0; // the candidate edges are the weighted ones
    } else {
      lr_weight[{w.type, w.pair}] = w.weight;
    }
  }
  // sd of each gene (in the model's regulator coordinate) and of its finite-difference derivative per type
  // over the read-out times (consecutive ones), from the dataset every rank holds: the ridge baseline's
  // standardisation, for `effect`.
  std::vector<double> sd_u(T * G, 0.0), sd_dx(T * G, 0.0);
  {
    std::vector<double> n(T, 0.0), nd(T, 0.0), su(T * G, 0.0), suu(T * G, 0.0), sd(T * G, 0.0),
        sdd(T * G, 0.0);
    for (std::size_t a = 0; a < times.size(); ++a) {
      const auto k = static_cast<std::size_t>(times[a]);
      const bool pair = a + 1 < times.size() && times[a + 1] == times[a] + 1;
      const double dt = pair ? ds.time[k + 1] - ds.time[k] : 0.0;
      for (std::size_t i = 0; i < ds.n_cells(); ++i) {
        const auto c = static_cast<std::size_t>(ds.cell_type[i]);
        n[c] += 1.0;
        if (pair && dt > 0) nd[c] += 1.0;
        for (std::size_t g = 0; g < G; ++g) {
          const double v = ds.x(k, i, g);
          const double u = model.regulator_coordinate(v).u;
          su[c * G + g] += u;
          suu[c * G + g] += u * u;
          if (pair && dt > 0) {
            const double d = (ds.x(k + 1, i, g) - v) / dt;
            sd[c * G + g] += d;
            sdd[c * G + g] += d * d;
          }
        }
      }
    }
    auto spread = [](double count, double sum, double squares) {
      if (count < 2) return 0.0;
      const double mean = sum / count;
      return std::sqrt(std::max(0.0, squares / count - mean * mean));
    };
    for (std::size_t c = 0; c < T; ++c)
      for (std::size_t g = 0; g < G; ++g) {
        sd_u[c * G + g] = spread(n[c], su[c * G + g], suu[c * G + g]);
        sd_dx[c * G + g] = spread(nd[c], sd[c * G + g], sdd[c * G + g]);
      }
  }
  out.edges.resize(T);
  for (std::size_t c = 0; c < T; ++c) {
    for (std::size_t j = 0; j < G; ++j)
      for (std::size_t g = 0; g < G; ++g) {
        const std::size_t e = at(c, j, g);
        if (count[e] == 0.0) continue;
        // Without attention the Jacobian sums are over every cell of the type; count[e] is then 1.
        const double cells = out.has_attention ? count[e] : cell_count[c];
        LearnedEdge edge;
        edge.source = static_cast<int>(j);
        edge.target = static_cast<int>(g);
        edge.weight = weight[e];
        edge.attention = out.has_attention ? attention[e] / count[e] : NAN;
        edge.jacobian = cells > 0 ? jacobian[e] / cells : NAN;
        edge.jacobian_signed = cells > 0 ? jacobian_signed[e] / cells : NAN;
        edge.effect = sd_u[c * G + j] > 0 && sd_dx[c * G + g] > 0 && cells > 0
                          ? jacobian_u[e] / cells * sd_u[c * G + j] / sd_dx[c * G + g]
                          : NAN;
        out.edges[c].push_back(edge);
      }
    // The headline score of train_metrics: attention where the family has it, else the standardised effect.
    const bool by_attention = out.has_attention;
    std::sort(out.edges[c].begin(), out.edges[c].end(),
              [by_attention](const LearnedEdge& a, const LearnedEdge& b) {
                if (by_attention && a.attention != b.attention) return a.attention > b.attention;
                // NaN effects (a constant gene) last.
                const double ea = std::isnan(a.effect) ? -1.0 : a.effect,
                             eb = std::isnan(b.effect) ? -1.0 : b.effect;
                if (!by_attention && ea != eb) return ea > eb;
                if (a.jacobian != b.jacobian) return a.jacobian > b.jacobian;
                return std::tie(a.source, a.target) < std::tie(b.source, b.target);
              });
  }
  if (out.has_attention) {
    for (std::size_t s = 0; s < T; ++s)
      for (std::size_t r = 0; r < T; ++r)
        for (std::size_t q = 0; q < P; ++q) {
          const std::size_t e = (s * T + r) * P + q;
          if (lr_count[e] == 0.0) continue;
          const auto w = lr_weight.find({static_cast<int>(r), static_cast<int>(q)});
          out.lr.push_back(LearnedLrScore{static_cast<int>(s), static_cast<int>(r), model.pairs()[q].ligand,
                                          model.pairs()[q].receptor, w == lr_weight.end() ? NAN : w->second,
                                          lr_attention[e] / lr_count[e],
                                          static_cast<long long>(lr_count[e])});
        }
  } else {
    // No per-edge attention: one row per (receiver type, pair) the model has a weight for, any sender.
    for (const auto& [key, w] : lr_weight)
      out.lr.push_back(LearnedLrScore{-1, key[0], model.pairs()[static_cast<std::size_t>(key[1])].ligand,
                                      model.pairs()[static_cast<std::size_t>(key[1])].receptor, w, NAN, 0});
  }
  std::sort(out.lr.begin(), out.lr.end(), [](const LearnedLrScore& a, const LearnedLrScore& b) {
    return std::tie(a.sender_type, a.receiver_type, a.ligand, a.receptor) <
           std::tie(b.sender_type, b.receiver_type, b.ligand, b.receptor);
  });
  return out;
}

namespace {

std::string tsv_number(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

} // namespace

std::vector<std::string> write_learned_grn(const std::string& directory, const LearnedGrn& grn,
                                           const TrajectoryDataset& dataset) {
  namespace fs = std::filesystem;
  std::vector<std::string> written;
  auto open = [&](const std::string& name) {
    const std::string path = (fs::path(directory) / name).string();
    std::ofstream file(path);
    if (!file) throw runtime_error(path + ": cannot write");
    written.push_back(path);
    return file;
  };
  const auto sign_text = [](double w) { return w > 0 ? "+" : w < 0 ? "-" : "0"; };
  for (std::size_t c = 0; c < dataset.cell_types.size(); ++c) {
    std::ofstream file = open("grn_" + dataset.cell_types[c] + ".tsv");
    file << "source\ttarget" << (grn.has_weight ? "\tweight\tsign" : "")
         << (grn.has_attention ? "\tattention" : "") << "\tjacobian\tjacobian_signed"
         << (grn.has_attention ? "" : "\teffect") << '\n';
    if (c < grn.edges.size())
      for (const LearnedEdge& e : grn.edges[c]) {
        if (e.source == e.target) continue;
        file << dataset.genes[static_cast<std::size_t>(e.source)] << '\t'
             << dataset.genes[static_cast<std::size_t>(e.target)];
        if (grn.has_weight) file << '\t' << tsv_number(e.weight) << '\t' << sign_text(e.weight);
        if (grn.has_attention) file << '\t' << tsv_number(e.attention);
        file << '\t' << tsv_number(e.jacobian) << '\t' << tsv_number(e.jacobian_signed);
        if (!grn.has_attention) file << '\t' << tsv_number(e.effect);
        file << '\n';
      }
    if (!file) throw runtime_error(written.back() + ": write failed");
  }
  {
    std::ofstream file = open("lr_scores.tsv");
    file << "sender_type\treceiver_type\tligand\treceptor" << (grn.has_weight ? "\tweight\tsign" : "")
         << (grn.has_attention ? "\tattention\tedges" : "") << '\n';
    for (const LearnedLrScore& s : grn.lr) {
      file << (s.sender_type < 0 ? std::string("*")
                                 : dataset.cell_types[static_cast<std::size_t>(s.sender_type)])
           << '\t' << dataset.cell_types[static_cast<std::size_t>(s.receiver_type)] << '\t'
           << dataset.genes[static_cast<std::size_t>(s.ligand)] << '\t'
           << dataset.genes[static_cast<std::size_t>(s.receptor)];
      if (grn.has_weight) file << '\t' << tsv_number(s.weight) << '\t' << sign_text(s.weight);
      if (grn.has_attention) file << '\t' << tsv_number(s.attention) << '\t' << s.edges;
      file << '\n';
    }
    if (!file) throw runtime_error(written.back() + ": write failed");
  }
  return written;
}

} // namespace tessera
