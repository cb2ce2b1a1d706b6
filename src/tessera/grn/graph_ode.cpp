#include "tessera/grn/graph_ode.hpp"

#include "tessera/core/device_copy.hpp"
#include "tessera/core/error.hpp"
#include "tessera/core/kernel_instance.hpp"
#include "tessera/grn/cells_by_type.hpp"
#include "tessera/grn/received_signal.hpp"
#include "tessera/io/deck.hpp"
#include "tessera/parallel/mpi.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace tessera {

namespace {

// BLAS can only be handed memory that the host can address.
constexpr bool blas_reaches_memory =
    Kokkos::SpaceAccessibility<Kokkos::DefaultHostExecutionSpace, GraphOdeModel::memory_space>::accessible;

} // namespace

GraphOdeModel::GraphOdeModel(GraphOdeParameters parameters, const GeneNetwork& network,
                             std::vector<LigandReceptorPair> pairs, GraphOdeOptions options)
    : parameters_(std::move(parameters)), options_(options), n_genes_(network.n_genes()),
      n_types_(static_cast<int>(parameters_.cell_types().size())), pairs_(std::move(pairs)) {
  if (parameters_.n_genes() != n_genes_)
    throw runtime_error("graph_ode: the parameters are for " + std::to_string(parameters_.n_genes()) +
                        " genes, the gene network has " + std::to_string(n_genes_));
  const GraphOdeArchitecture& a = parameters_.architecture();
  const int G = n_genes_;

  // The gene graph per (cell type, target gene); the shared parameter set still sees each type's own graph.
  std::vector<int> offsets{0}, sources;
  for (int c = 0; c < n_types_; ++c) {
    const auto regulators = network.regulators(c, a.prior == PriorGraph::dense);
    for (int k = 0; k < G; ++k) {
      sources.insert(sources.end(), regulators[static_cast<std::size_t>(k)].begin(),
                     regulators[static_cast<std::size_t>(k)].end());
      offsets.push_back(static_cast<int>(sources.size()));
    }
  }
  prior_offsets_ = to_device("tessera::grn::graph_ode::prior_offsets", offsets);
  prior_source_ = to_device("tessera::grn::graph_ode::prior_source", sources);
  weight_index_ = edge_term_index(a.edge_weights, a.weight_edges, offsets, sources);
  bias_index_ = edge_term_index(a.edge_bias, a.bias_edges, offsets, sources);
  if (a.edge_weights != EdgeTerms::none || a.edge_bias != EdgeTerms::none) {
    std::vector<int> type(sources.size());
    for (int c = 0; c < n_types_; ++c)
      for (int e = offsets[static_cast<std::size_t>(c * G)];
           e < offsets[static_cast<std::size_t>((c + 1) * G)]; ++e)
        type[static_cast<std::size_t>(e)] = c;
    position_type_ = to_device("tessera::grn::graph_ode::position_type", type);
  }

  tile_cells_ = std::max(1, options_.tile_nodes / std::max(1, G));
  const int width_one = a.mlp_layers == 1 ? 1 : a.mlp_width; // outputs of layer 1
  using Matrix = Kokkos::View<double**, Kokkos::LayoutRight>;
  const int sets = parameters_.n_sets();
  gat_scores_ = Matrix("tessera::grn::graph_ode::gat_scores", sets, 2 * a.heads);
  gamma_ = Matrix("tessera::grn::graph_ode::gamma", sets, G);
  if (a.mlp_layers >= 3) {
    const std::size_t hidden_weights = static_cast<std::size_t>(a.mlp_layers - 2) * a.mlp_width * a.mlp_width;
    if (mixed()) {
      using MatrixF = Kokkos::View<float**, Kokkos::LayoutRight>;
      weight_t_mixed_ = MatrixF("tessera::grn::graph_ode::weight_t_mixed", sets, hidden_weights);
      weight_mixed_ = MatrixF("tessera::grn::graph_ode::weight_mixed", sets, hidden_weights);
    } else {
      weight_t_ = Matrix("tessera::grn::graph_ode::weight_t", sets, hidden_weights);
    }
    std::vector<int> hidden_offsets;
    for (int l = 2; l < a.mlp_layers; ++l)
      hidden_offsets.push_back(static_cast<int>(parameters_.layout().tensor("W" + std::to_string(l)).offset));
    hidden_weight_offset_ = to_device("tessera::grn::graph_ode::hidden_weight_offset", hidden_offsets);
  }
  if (a.embedding > 0) {
    using Cube = Kokkos::View<double***, Kokkos::LayoutRight>;
    embedding_offset_ = Cube("tessera::grn::graph_ode::embedding_offset", sets, G, width_one);
    embedding_logit_ = Cube("tessera::grn::graph_ode::embedding_logit", sets, a.heads, G);
  }
  layer_one_.breakpoint = Kokkos::View<double***, Kokkos::LayoutRight>("tessera::grn::graph_ode::breakpoint",
                                                                       sets, a.heads, a.hidden);
  layer_one_.unit =
      Kokkos::View<int***, Kokkos::LayoutRight>("tessera::grn::graph_ode::unit", sets, a.heads, a.hidden);
  layer_one_.slope = Kokkos::View<double****, Kokkos::LayoutRight>("tessera::grn::graph_ode::slope", sets,
                                                                   a.heads, a.hidden + 1, width_one);
  layer_one_.offset = Kokkos::View<double****, Kokkos::LayoutRight>("tessera::grn::graph_ode::offset", sets,
                                                                    a.heads, a.hidden + 1, width_one);
}

GraphOdeModel::EdgeTermIndex GraphOdeModel::edge_term_index(EdgeTerms terms,
                                                            const std::vector<GraphOdeEdge>& list,
                                                            const std::vector<int>& offsets,
                                                            const std::vector<int>& sources) const {
  EdgeTermIndex out;
  if (terms == EdgeTerms::none) return out;
  const int G = n_genes_;
  std::map<std::tuple<int, int, int>, int> entry;
  for (std::size_t p = 0; p < list.size(); ++p)
    entry[{list[p].type, list[p].source, list[p].target}] = static_cast<int>(p);
  std::vector<int> index(sources.size());
  std::vector<std::vector<int>> positions(list.size());
  for (int c = 0; c < n_types_; ++c)
    for (int k = 0; k < G; ++k)
      for (int e = offsets[static_cast<std::size_t>(c * G + k)];
           e < offsets[static_cast<std::size_t>(c * G + k + 1)]; ++e) {
        const auto it =
            entry.find({terms == EdgeTerms::per_type ? c : -1, sources[static_cast<std::size_t>(e)], k});
        if (it == entry.end())
          throw runtime_error("graph_ode: an edge of the gene graph has no per-edge parameter (the "
                              "architecture's edge lists come from another graph: resolve_edge_terms)");
        index[static_cast<std::size_t>(e)] = it->second;
        positions[static_cast<std::size_t>(it->second)].push_back(e);
      }
  std::vector<int> inverse_offsets{0}, inverse;
  for (const auto& list_of_p : positions) {
    if (list_of_p.empty())
      throw runtime_error("graph_ode: a per-edge parameter belongs to no edge of the gene graph (the "
                          "architecture's edge lists come from another graph: resolve_edge_terms)");
    inverse.insert(inverse.end(), list_of_p.begin(), list_of_p.end());
    inverse_offsets.push_back(static_cast<int>(inverse.size()));
  }
  out.index = to_device("tessera::grn::graph_ode::edge_term_index", index);
  out.offsets = to_device("tessera::grn::graph_ode::edge_term_offsets", inverse_offsets);
  out.position = to_device("tessera::grn::graph_ode::edge_term_position", inverse);
  return out;
}

void GraphOdeModel::set_cell_types(Kokkos::View<const int*> cell_type) {
  cell_type_ = cell_type;
  grouping_stale_ = true;
}

void GraphOdeModel::set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) {
  if (graph && !exchange) throw runtime_error("graph_ode: a signalling graph needs its ligand exchange");
  signaling_graph_ = graph;
  ligand_exchange_ = exchange;
  if (!graph) return;
  std::vector<std::vector<int>> columns(static_cast<std::size_t>(n_genes_)),
      ligands(static_cast<std::size_t>(n_genes_));
  for (const LigandReceptorPair& pair : pairs_) {
    const int column = exchange->column_of(pair.ligand);
    if (column < 0)
      throw runtime_error("graph_ode: ligand gene " + std::to_string(pair.ligand) +
                          " is not carried by the ligand exchange");
    columns[static_cast<std::size_t>(pair.receptor)].push_back(column);
    ligands[static_cast<std::size_t>(pair.receptor)].push_back(pair.ligand);
  }
  std::vector<int> offsets{0}, flat, flat_ligands;
  for (int k = 0; k < n_genes_; ++k) {
    const auto& c = columns[static_cast<std::size_t>(k)];
    const auto& l = ligands[static_cast<std::size_t>(k)];
    flat.insert(flat.end(), c.begin(), c.end());
    flat_ligands.insert(flat_ligands.end(), l.begin(), l.end());
    offsets.push_back(static_cast<int>(flat.size()));
  }
  receptor_offsets_ = to_device("tessera::grn::graph_ode::receptor_offsets", offsets);
  receptor_column_ = to_device("tessera::grn::graph_ode::receptor_column", flat);
  receptor_ligand_ = to_device("tessera::grn::graph_ode::receptor_ligand", flat_ligands);

  // The transposed graph (a stable sort on the device): once per step, while the VJP runs many times per
  // step. Receivers ascend within each ligand row, whatever the thread count.
  const EdgesBySource transposed = edges_by_source(*graph, exchange->n_rows());
  ligand_edge_offsets_ = transposed.offsets;
  ligand_edge_ = transposed.edge;
}

void GraphOdeModel::group_cells(int n_cells) const {
  const int n_sets = parameters_.n_sets();
  if (n_sets == 1) {
    set_begin_ = {0, n_cells};
    return;
  }
  if (!grouping_stale_ && grouped_cells_ == n_cells) return;
  // Types change at most once per step while the RHS runs many times per step. Grouped by type (with several
  // sets, set = type) by a stable sort on the device, each tile's cells are in one parameter set, so the MLP
  // is a plain dense product; the n_sets + 1 run starts (the tiles' bounds) cross to the host.
  CellsByType by_type; // regrouped whenever asked: grouping_stale_ is the cache
  by_type.update(cell_type_, n_cells, n_types_, "graph_ode");
  order_ = by_type.order();
  const auto begin = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), by_type.begin());
  set_begin_.assign(begin.data(), begin.data() + begin.extent(0));
  grouping_stale_ = false;
  grouped_cells_ = n_cells;
}

template <class Real>
const Real* GraphOdeModel::hidden_weight_t(int set, int l) const {
  const std::size_t M = static_cast<std::size_t>(parameters_.architecture().mlp_width);
  const std::size_t layer = static_cast<std::size_t>(l - 2) * M * M;
  if constexpr (std::is_same_v<Real, float>)
    return weight_t_mixed_.data() + static_cast<std::size_t>(set) * weight_t_mixed_.extent(1) + layer;
  else
    return weight_t_.data() + static_cast<std::size_t>(set) * weight_t_.extent(1) + layer;
}
template const double* GraphOdeModel::hidden_weight_t<double>(int, int) const;
template const float* GraphOdeModel::hidden_weight_t<float>(int, int) const;

const float* GraphOdeModel::hidden_weight_mixed(int set, int l) const {
  const std::size_t M = static_cast<std::size_t>(parameters_.architecture().mlp_width);
  return weight_mixed_.data() + static_cast<std::size_t>(set) * weight_mixed_.extent(1) +
         static_cast<std::size_t>(l - 2) * M * M;
}

template <class Real>
void GraphOdeModel::dense_product(const TileKernels& kernels, int rows, int out, int in, const Real* a,
                                  const Real* weight_t, Real* c) const {
  if constexpr (blas_reaches_memory) {
    if (options_.dense == GraphOdeOptions::DenseProducts::automatic) {
      kernels.fence(); // the kernel that wrote `a` must be done before BLAS reads it
      // C (rows x out) = A (rows x in) W^T, all row-major, from W^T stored in x out: no transpose, which
      // OpenBLAS's small-matrix kernels take at about 1.4x the speed of the transposed form at tile sizes.
      if constexpr (std::is_same_v<Real, float>) {
        // One call per cell (its G rows): OpenBLAS's result for a row depends on the shape of the call and
        // the row's place in it (its blocking; a one-row call differs from a row of a larger one in half the
        // rows for sgemm), by about one float ulp. Calls cut at the cells, which every decomposition keeps
        // whole, give each cell the same bits on any number of ranks, as the double path gives them to its
        // 1e-16 (docs/performance.md, "Towards 0.16 s").
        for (int first = 0; first < rows; first += n_genes_)
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, std::min(n_genes_, rows - first), out, in,
                      1.0f, a + static_cast<std::size_t>(first) * in, in, weight_t, out, 0.0f,
                      c + static_cast<std::size_t>(first) * out, out);
      } else {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, out, in, 1.0, a, in, weight_t, out, 0.0,
                    c, out);
      }
      return;
    }
  }
  using Unmanaged = Kokkos::MemoryTraits<Kokkos::Unmanaged>;
  const GraphOdeDenseFunctor<Real> f{
      Kokkos::View<const Real**, Kokkos::LayoutRight, memory_space, Unmanaged>(a, rows, in), weight_t,
      Kokkos::View<Real**, Kokkos::LayoutRight, memory_space, Unmanaged>(c, rows, out)};
  kernels.range_2d("tessera::grn::graph_ode::dense", rows, out, f);
}
template void GraphOdeModel::dense_product<double>(const TileKernels&, int, int, int, const double*,
                                                   const double*, double*) const;
template void GraphOdeModel::dense_product<float>(const TileKernels&, int, int, int, const float*,
                                                  const float*, float*) const;

template <AttentionVariant Variant, class Real>
void GraphOdeModel::attention(const TileKernels& kernels, const GraphOdeTile& tile, int rows, int set,
                              ConstGeneState x, const GraphOdeEdges& edges,
                              const GraphOdeAttentionRecord& record,
                              const GraphOdeTileWorkspace& work) const {
  const ParameterLayout& layout = parameters_.layout();
  const GraphOdeArchitecture& arch = parameters_.architecture();
  const double* theta = parameters_.values().data() + set * parameters_.values().extent(1);
  GraphOdeAttentionFunctor<Variant, Real> f;
  f.x = x;
  f.cell_type = cell_type_;
  f.tile = tile;
  f.edges = edges;
  f.layer_one = layer_one_;
  f.set = set;
  f.heads = arch.heads;
  f.hidden = arch.hidden;
  if constexpr (Variant == AttentionVariant::gatv2) {
    f.a = theta + layout.tensor("a").offset;
    f.v_src = theta + layout.tensor("v_src").offset;
    f.v_dst = theta + layout.tensor("v_dst").offset;
  }
  f.gat_scores = gat_scores_.data() + set * gat_scores_.extent(1);
  if (layout.has("edge_weight")) f.edge_weight = theta + layout.tensor("edge_weight").offset;
  if (layout.has("edge_bias")) f.edge_bias = theta + layout.tensor("edge_bias").offset;
  if (arch.embedding > 0) {
    // Host-side pointer arithmetic only: the Views may live in device memory.
    f.gene_offset =
        embedding_offset_.data() + set * embedding_offset_.extent(1) * embedding_offset_.extent(2);
    f.source_logit = embedding_logit_.data() + set * embedding_logit_.extent(1) * embedding_logit_.extent(2);
  }
  f.activate = arch.mlp_layers >= 2;
  f.y = Kokkos::subview(work.hidden_y<Real>()[0], std::make_pair(0, rows), Kokkos::ALL);
  f.record = record;
  kernels.range("tessera::grn::graph_ode::attention", rows, f);
}

void GraphOdeModel::update_shared() const {
  const ParameterLayout& layout = parameters_.layout();
  const GraphOdeArchitecture& arch = parameters_.architecture();
  const int sets = parameters_.n_sets();
  GraphOdeSharedFunctor shared;
  shared.theta = parameters_.values();
  shared.gat = arch.variant == AttentionVariant::gat;
  shared.heads = arch.heads;
  shared.hidden = arch.hidden;
  shared.n_genes = n_genes_;
  shared.w = static_cast<int>(layout.tensor("w").offset);
  shared.b0 = static_cast<int>(layout.tensor("b0").offset);
  if (shared.gat) {
    shared.a_src = static_cast<int>(layout.tensor("a_src").offset);
    shared.a_dst = static_cast<int>(layout.tensor("a_dst").offset);
  }
  shared.decay_rho = static_cast<int>(layout.tensor("decay_rho").offset);
  shared.gat_scores = gat_scores_;
  shared.gamma = gamma_;
  shared.layer_one = layer_one_;
  Kokkos::parallel_for("tessera::grn::graph_ode::shared",
                       Kokkos::RangePolicy<execution_space>(space_, 0, sets * arch.heads), shared);

  if (weight_t_.extent(0))
    Kokkos::parallel_for("tessera::grn::graph_ode::weight_t",
                         Kokkos::MDRangePolicy<execution_space, Kokkos::Rank<2>>(
                             space_, {0, 0}, {sets, static_cast<int>(weight_t_.extent(1))}),
                         GraphOdeTransposeFunctor<double>{parameters_.values(), weight_t_,
                                                          hidden_weight_offset_, arch.mlp_width});
  if (weight_t_mixed_.extent(0))
    for (const bool transpose : {true, false})
      Kokkos::parallel_for("tessera::grn::graph_ode::weight_mixed",
                           Kokkos::MDRangePolicy<execution_space, Kokkos::Rank<2>>(
                               space_, {0, 0}, {sets, static_cast<int>(weight_t_mixed_.extent(1))}),
                           GraphOdeTransposeFunctor<float>{parameters_.values(),
                                                           transpose ? weight_t_mixed_ : weight_mixed_,
                                                           hidden_weight_offset_, arch.mlp_width, transpose});

  GraphOdeLayerOneFunctor table;
  table.theta = parameters_.values();
  table.heads = arch.heads;
  table.hidden = arch.hidden;
  table.width = static_cast<int>(layer_one_.slope.extent(3));
  table.w = shared.w;
  table.b0 = shared.b0;
  table.weight = static_cast<int>(layout.tensor("W1").offset);
  table.bias = static_cast<int>(layout.tensor("b1").offset);
  table.layer_one = layer_one_;
  Kokkos::parallel_for("tessera::grn::graph_ode::layer_one_table",
                       Kokkos::RangePolicy<execution_space>(space_, 0, sets * arch.heads * table.width),
                       table);
  if (arch.embedding > 0) {
    GraphOdeEmbeddingFunctor embedding;
    embedding.theta = parameters_.values();
    embedding.heads = arch.heads;
    embedding.width = table.width;
    embedding.dimension = arch.embedding;
    embedding.n_genes = n_genes_;
    embedding.embedding = static_cast<int>(layout.tensor("embedding").offset);
    embedding.attention = static_cast<int>(layout.tensor("attention_embedding").offset);
    embedding.weight = static_cast<int>(layout.tensor("W1_embedding").offset);
    embedding.offset = embedding_offset_;
    embedding.logit = embedding_logit_;
    Kokkos::parallel_for("tessera::grn::graph_ode::embedding",
                         Kokkos::RangePolicy<execution_space>(space_, 0, sets * n_genes_), embedding);
  }
}

GraphOdeEdges GraphOdeModel::edges_for(ConstGeneState x) const {
  const int n_cells = static_cast<int>(x.extent(0));
  GraphOdeEdges edges;
  edges.prior_offsets = prior_offsets_;
  edges.prior_source = prior_source_;
  edges.weight_index = weight_index_.index;
  edges.bias_index = bias_index_.index;
  if (signaling_graph_ && !pairs_.empty()) {
    if (signaling_graph_->n_owned != static_cast<std::size_t>(n_cells))
      throw runtime_error("graph_ode: the signalling graph has " + std::to_string(signaling_graph_->n_owned) +
                          " owned cells, the state " + std::to_string(n_cells));
    edges.signaling = true;
    edges.receptor_offsets = receptor_offsets_;
    edges.receptor_column = receptor_column_;
    edges.receptor_ligand = receptor_ligand_;
    edges.neighbour_offsets = signaling_graph_->offsets;
    edges.neighbour_source = signaling_graph_->source;
    edges.neighbour_weight = signaling_graph_->weight;
    // Collective (ghost ligands): every rank gathers, also one without cells.
    edges.ligand = ligand_exchange_->gather(x);
  }
  return edges;
}

void GraphOdeModel::evaluate(double /*t*/, ConstGeneState x, GeneState dxdt) const {
  ScopedRegion region("tessera::grn::graph_ode::rhs");
  const int n_cells = static_cast<int>(x.extent(0));
  const int G = n_genes_;
  const GraphOdeArchitecture& arch = parameters_.architecture();

  const GraphOdeEdges edges = edges_for(x);
  if (n_cells == 0) return;
  space_ = execution_for<execution_space>(static_cast<std::size_t>(n_cells) * static_cast<std::size_t>(G));
  if (cell_type_.extent(0) < static_cast<std::size_t>(n_cells))
    throw runtime_error("graph_ode: cell types are set for " + std::to_string(cell_type_.extent(0)) +
                        " cells, the state has " + std::to_string(n_cells));
  group_cells(n_cells);
  update_shared();

  const int L = arch.mlp_layers;
  // Recording: the slot holds (L-2) layers x nodes x M, rows in tile order (the position of the cell in
  // order_ times G plus the gene), which vjp() visits in the same tiles.
  const std::size_t nodes = static_cast<std::size_t>(n_cells) * static_cast<std::size_t>(G);
  double* tape = nullptr;
  if (tape_record_ && L >= 3) {
    const std::size_t size = tape_bytes(static_cast<std::size_t>(n_cells)) / sizeof(double);
    if (tape_record_->extent(0) != size)
      *tape_record_ = ActivationSlot(
          Kokkos::view_alloc("tessera::grn::graph_ode::tape", Kokkos::WithoutInitializing), size);
    tape = tape_record_->data();
  }
  // Every tile (set, first cell in order_): the tiles write disjoint rows of dxdt and of the tape.
  std::vector<std::pair<int, int>> tiles;
  for (int set = 0; set < parameters_.n_sets(); ++set)
    for (int first = set_begin_[set]; first < set_begin_[set + 1]; first += tile_cells_)
      tiles.emplace_back(set, first);
  const auto run = [&](const TileKernels& kernels, const int t, const GraphOdeTileWorkspace& work) {
    const auto [set, first] = tiles[static_cast<std::size_t>(t)];
    const int rows = std::min(tile_cells_, set_begin_[set + 1] - first) * G;
    const GraphOdeTile tile{order_, parameters_.n_sets() > 1, first, G};
    if (mixed())
      forward_tile<float>(kernels, tile, rows, set, x, dxdt, edges, tape, nodes, work);
    else
      forward_tile<double>(kernels, tile, rows, set, x, dxdt, edges, tape, nodes, work);
  };
  const int n_tiles = static_cast<int>(tiles.size());
  if constexpr (tiles_on_threads) {
    const auto host = execution_for<Kokkos::DefaultHostExecutionSpace>(nodes); // space_ on a host build
    allocate_workspaces(thread_workers(host), false);
    space_.fence(); // update_shared()'s tables
    for_each_on_threads("tessera::grn::graph_ode::tiles", host, n_tiles, [&](const int t, const int worker) {
      run(TileKernels{space_, true}, t, workspace_[static_cast<std::size_t>(worker)]);
    });
  } else {
    allocate_workspaces(1, false);
    for (int t = 0; t < n_tiles; ++t)
      run(TileKernels{space_, false}, t, workspace_[0]);
  }
}

template <class Real>
void GraphOdeModel::forward_tile(const TileKernels& kernels, const GraphOdeTile& tile, int rows, int set,
                                 ConstGeneState x, GeneState dxdt, const GraphOdeEdges& edges, double* tape,
                                 std::size_t nodes, const GraphOdeTileWorkspace& work) const {
  const GraphOdeArchitecture& arch = parameters_.architecture();
  const ParameterLayout& layout = parameters_.layout();
  const int L = arch.mlp_layers, M = arch.mlp_width, G = n_genes_;
  const int first = tile.first;
  // Host-side pointer arithmetic only: the Views may live in device memory.
  const double* theta = parameters_.values().data() + set * parameters_.values().extent(1);
  const auto weight = [&](int l) { return theta + layout.tensor("W" + std::to_string(l)).offset; };
  const auto bias = [&](int l) { return theta + layout.tensor("b" + std::to_string(l)).offset; };
  const GraphOdeAttentionRecord record =
      tape ? tape_record(tape, nodes, static_cast<std::size_t>(first) * G, rows) : GraphOdeAttentionRecord{};
  if (arch.variant == AttentionVariant::gat)
    attention<AttentionVariant::gat, Real>(kernels, tile, rows, set, x, edges, record, work);
  else
    attention<AttentionVariant::gatv2, Real>(kernels, tile, rows, set, x, edges, record, work);

  // Layers 2 .. L-1 as dense products over the tile. The attention kernel left y_1 activated; the product
  // of a later layer gets its bias and ReLU from its consumer (the next layer, or the output kernel).
  // When recording, each product goes into the tape and is activated there (the same operations, so the
  // same values), for the VJP to read: by a pass of its own before the next product, by the output
  // kernel as it reads the last one.
  using Values = Kokkos::View<Real**, Kokkos::LayoutRight>;
  const Values* y = work.hidden_y<Real>();
  Values product = Kokkos::subview(y[0], std::make_pair(0, rows), Kokkos::ALL);
  bool activated = true;
  for (int l = 2; l < L; ++l) {
    if (!activated)
      kernels.range("tessera::grn::graph_ode::bias_relu", rows,
                    GraphOdeBiasReluFunctor<Real>{product, bias(l - 1)});
    Values next;
    if (tape)
      next = tape_layer<Real>(tape, nodes, l, static_cast<std::size_t>(first) * G, rows);
    else
      next = Kokkos::subview(y[(l - 1) % 2], std::make_pair(0, rows), Kokkos::ALL);
    dense_product<Real>(kernels, rows, M, M, product.data(), hidden_weight_t<Real>(set, l), next.data());
    product = next;
    activated = false;
    if (tape && l < L - 1) {
      kernels.range("tessera::grn::graph_ode::tape_bias_relu", rows,
                    GraphOdeBiasReluFunctor<Real>{product, bias(l)});
      activated = true;
    }
  }

  GraphOdeOutputFunctor<Real> out;
  out.x = x;
  out.dxdt = dxdt;
  out.tile = tile;
  out.y = product;
  out.hidden_bias = L >= 3 && !activated ? bias(L - 1) : nullptr;
  out.store_activation = tape != nullptr;
  out.weight = L >= 2 ? weight(L) : nullptr;
  out.bias = bias(L);
  out.gamma = gamma_.data() + set * gamma_.extent(1);
  kernels.range("tessera::grn::graph_ode::output", rows, out);
}

void GraphOdeModel::allocate_workspaces(int count, bool vjp) const {
  const GraphOdeArchitecture& a = parameters_.architecture();
  const std::size_t rows = static_cast<std::size_t>(tile_cells_) * static_cast<std::size_t>(n_genes_);
  const int K = a.heads, KH = a.heads * a.hidden, M = a.mlp_width, L = a.mlp_layers;
  const int width_one = L == 1 ? 1 : M; // outputs of layer 1
  using Matrix = GraphOdeTileWorkspace::Matrix;
  if (workspace_.size() < static_cast<std::size_t>(count)) workspace_.resize(static_cast<std::size_t>(count));
  // Per tile cell, the prior edges of the largest type's graph (the per-edge partials).
  int widest = 0;
  if (vjp && (weight_index_.index.extent(0) || bias_index_.index.extent(0))) {
    const auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), prior_offsets_);
    for (int c = 0; c < n_types_; ++c)
      widest = std::max(widest, offsets((c + 1) * n_genes_) - offsets(c * n_genes_));
  }
  const auto cells = static_cast<std::size_t>(tile_cells_);
  using MatrixF = GraphOdeTileWorkspace::MatrixF;
  const bool in_float = mixed(); // then L >= 3 and width_one is M
  for (GraphOdeTileWorkspace& w : workspace_) {
    if (in_float && !w.y_mixed[0].extent(0)) {
      for (auto& y : w.y_mixed)
        y = MatrixF("tessera::grn::graph_ode::layer_product_mixed", rows, M);
    } else if (!in_float && !w.y[0].extent(0)) {
      w.y[0] = Matrix("tessera::grn::graph_ode::layer_product", rows, width_one);
      if (L >= 3) w.y[1] = Matrix("tessera::grn::graph_ode::layer_product", rows, M);
    }
    if (!vjp || w.vjp) continue;
    w.record.m = Matrix("tessera::grn::graph_ode::vjp_m", rows, K);
    w.record.softmax_max = Matrix("tessera::grn::graph_ode::vjp_softmax_max", rows, K);
    w.record.softmax_denominator = Matrix("tessera::grn::graph_ode::vjp_softmax_denominator", rows, K);
    w.record.interval =
        Kokkos::View<int**, Kokkos::LayoutRight>("tessera::grn::graph_ode::vjp_interval", rows, K);
    w.m_bar = Matrix("tessera::grn::graph_ode::vjp_m_bar", rows, K);
    const int partials = a.variant == AttentionVariant::gat ? 2 * K : 3 * KH;
    w.partial = Matrix("tessera::grn::graph_ode::vjp_partial", rows, partials);
    w.partial_sum = Kokkos::View<double*>("tessera::grn::graph_ode::vjp_partial_sum", partials);
    if (in_float) {
      w.activation_mixed.assign(static_cast<std::size_t>(L), MatrixF());
      for (int l = 1; l < L; ++l)
        w.activation_mixed[static_cast<std::size_t>(l)] =
            MatrixF("tessera::grn::graph_ode::vjp_activation_mixed", rows, M);
      for (auto& c : w.cotangent_mixed)
        c = Kokkos::View<float*>("tessera::grn::graph_ode::vjp_cotangent_mixed",
                                 rows * static_cast<std::size_t>(M));
      w.weight_bar_mixed = MatrixF("tessera::grn::graph_ode::vjp_weight_bar_mixed", M, M);
      // cotangent[0] takes only the output's cotangent (rows x 1).
      w.cotangent[0] = Kokkos::View<double*>("tessera::grn::graph_ode::vjp_cotangent", rows);
    } else {
      w.activation.assign(static_cast<std::size_t>(std::max(L, 2)), Matrix());
      for (int l = 1; l < std::max(L, 2); ++l)
        w.activation[static_cast<std::size_t>(l)] =
            Matrix("tessera::grn::graph_ode::vjp_activation", rows, width_one);
      for (auto& c : w.cotangent)
        c = Kokkos::View<double*>("tessera::grn::graph_ode::vjp_cotangent",
                                  rows * static_cast<std::size_t>(M));
    }
    w.rho_partial = Kokkos::View<double*>("tessera::grn::graph_ode::vjp_rho_partial", rows);
    if (weight_index_.index.extent(0))
      w.weight_partial = Matrix("tessera::grn::graph_ode::vjp_weight_partial", cells, widest);
    if (bias_index_.index.extent(0))
      w.bias_partial = Matrix("tessera::grn::graph_ode::vjp_bias_partial", cells, widest);
    if (a.embedding > 0) {
      w.source_partial = Matrix("tessera::grn::graph_ode::vjp_source_partial", cells, K * n_genes_);
      w.source_sum = Kokkos::View<double*>("tessera::grn::graph_ode::vjp_source_sum", K * n_genes_);
      w.gene_cotangent = Matrix("tessera::grn::graph_ode::vjp_gene_cotangent", n_genes_, width_one);
    }
    w.vjp = true;
  }
}

GraphOdeAttention GraphOdeModel::attention_weights(ConstGeneState x) const {
  const GraphOdeEdges edges = edges_for(x); // collective
  const int n_cells = static_cast<int>(x.extent(0));
  const int G = n_genes_;
  const GraphOdeArchitecture& arch = parameters_.architecture();
  const ParameterLayout& layout = parameters_.layout();
  const int K = arch.heads, H = arch.hidden;
  GraphOdeAttention out;
  out.offsets.assign(1, 0);
  if (n_cells == 0) return out;
  const auto xh = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x);
  const auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters_.values());
  const auto types = Kokkos::create_mirror_view_and_copy(
      Kokkos::HostSpace(), Kokkos::subview(cell_type_, std::make_pair(0, n_cells)));
  const auto prior_offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), prior_offsets_);
  const auto prior_source = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), prior_source_);
  Kokkos::View<const double**, Kokkos::LayoutRight, Kokkos::HostSpace> ligand;
  Kokkos::View<const int*, Kokkos::HostSpace> neighbour_offsets, neighbour_source;
  Kokkos::View<const double*, Kokkos::HostSpace> neighbour_weight;
  if (edges.signaling) {
    ligand = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), edges.ligand);
    neighbour_offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), edges.neighbour_offsets);
    neighbour_source = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), edges.neighbour_source);
  }
  const std::size_t w = layout.tensor("w").offset;
  const bool gat = arch.variant == AttentionVariant::gat;
  const auto bias_index = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), bias_index_.index);
  const bool biased = layout.has("edge_bias");
  std::vector<double> logits, sum, bias;
  for (int i = 0; i < n_cells; ++i) {
    const int set = parameters_.set_of_type(types(i));
    auto t = [&](std::size_t offset) { return theta(set, offset); };
    for (int k = 0; k < G; ++k) {
      const double x_k = xh(i, k);
      const std::size_t first = out.alpha.size();
      bias.clear();
      auto push = [&](int gene, int row, int pair, double h, double logit_bias) {
        out.source_gene.push_back(gene);
        out.source_row.push_back(row);
        out.pair.push_back(pair);
        out.alpha.push_back(h); // the source value for now
        bias.push_back(logit_bias);
      };
      push(k, -1, -1, x_k, 0.0);
      const int r = types(i) * G + k;
      for (int e = prior_offsets(r); e < prior_offsets(r + 1); ++e)
        push(prior_source(e), -1, -1, xh(i, prior_source(e)),
             biased ? t(layout.tensor("edge_bias").offset + static_cast<std::size_t>(bias_index(e))) : 0.0);
      if (edges.signaling)
        for (std::size_t q = 0; q < pairs_.size(); ++q) {
          if (pairs_[q].receptor != k) continue;
          const int column = ligand_exchange_->column_of(pairs_[q].ligand);
          for (int n = neighbour_offsets(i); n < neighbour_offsets(i + 1); ++n)
            push(pairs_[q].ligand, neighbour_source(n), static_cast<int>(q),
                 ligand(neighbour_source(n), column), 0.0);
        }
      const std::size_t count = out.alpha.size() - first;
      sum.assign(count, 0.0);
      logits.resize(count);
      for (int h = 0; h < K; ++h) {
        const std::size_t head = static_cast<std::size_t>(h * H);
        double destination = 0.0, source = 0.0;
        if (gat)
          for (int d = 0; d < H; ++d) {
            destination += t(layout.tensor("a_dst").offset + head + d) * t(w + head + d);
            source += t(layout.tensor("a_src").offset + head + d) * t(w + head + d);
          }
        // The embedding's source term q^h . e_j of edge u's source gene.
        auto source_term = [&](std::size_t u) {
          if (arch.embedding <= 0) return 0.0;
          const std::size_t D = static_cast<std::size_t>(arch.embedding);
          const std::size_t q = layout.tensor("attention_embedding").offset + static_cast<std::size_t>(h) * D;
          const std::size_t e =
              layout.tensor("embedding").offset + static_cast<std::size_t>(out.source_gene[first + u]) * D;
          double sum = 0.0;
          for (std::size_t d = 0; d < D; ++d)
            sum += t(q + d) * t(e + d);
          return sum;
        };
        double largest = -HUGE_VAL;
        for (std::size_t u = 0; u < count; ++u) {
          const double value = out.alpha[first + u];
          double e = 0.0;
          if (gat) {
            e = leaky_relu(x_k * destination + source * value);
          } else {
            for (int d = 0; d < H; ++d)
              e += t(layout.tensor("a").offset + head + d) *
                   leaky_relu(t(layout.tensor("v_dst").offset + head + d) * x_k +
                              t(layout.tensor("v_src").offset + head + d) * value);
          }
          logits[u] = e + source_term(u) + bias[u];
          largest = std::max(largest, e);
        }
        double denominator = 0.0;
        for (std::size_t u = 0; u < count; ++u)
          denominator += (logits[u] = std::exp(logits[u] - largest));
        for (std::size_t u = 0; u < count; ++u)
          sum[u] += logits[u] / denominator / K;
      }
      for (std::size_t u = 0; u < count; ++u)
        out.alpha[first + u] = sum[u];
      out.offsets.push_back(static_cast<int>(out.alpha.size()));
    }
  }
  return out;
}

std::vector<SignedEdgeWeight> GraphOdeModel::signed_edge_weights() const {
  std::vector<SignedEdgeWeight> out;
  const ParameterLayout& layout = parameters_.layout();
  if (!layout.has("edge_weight")) return out;
  const auto theta = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters_.values());
  const auto offsets = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), prior_offsets_);
  const auto sources = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), prior_source_);
  const auto index = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), weight_index_.index);
  const std::size_t first = layout.tensor("edge_weight").offset;
  // Every candidate edge of every type once, with the value its type's cells use.
  for (int c = 0; c < n_types_; ++c)
    for (int k = 0; k < n_genes_; ++k)
      for (int e = offsets(c * n_genes_ + k); e < offsets(c * n_genes_ + k + 1); ++e)
        out.push_back({c, sources(e), k, -1,
                       theta(parameters_.set_of_type(c), first + static_cast<std::size_t>(index(e)))});
  return out;
}

std::size_t GraphOdeModel::tape_bytes(std::size_t n_cells) const {
  const GraphOdeArchitecture& arch = parameters_.architecture();
  if (arch.mlp_layers < 3) return 0;
  const std::size_t nodes = n_cells * static_cast<std::size_t>(n_genes_);
  const std::size_t records = nodes * static_cast<std::size_t>(arch.heads);
  // The hidden activations, the attention record's three doubles and (two to a double) its interval.
  return (tape_hidden_doubles(nodes) + 3 * records + (records + 1) / 2) * sizeof(double);
}

std::size_t GraphOdeModel::tape_hidden_doubles(std::size_t nodes) const {
  const GraphOdeArchitecture& arch = parameters_.architecture();
  if (arch.mlp_layers < 3) return 0;
  const std::size_t values =
      static_cast<std::size_t>(arch.mlp_layers - 2) * nodes * static_cast<std::size_t>(arch.mlp_width);
  return mixed() ? (values + 1) / 2 : values;
}

template <class Real>
Kokkos::View<Real**, Kokkos::LayoutRight> GraphOdeModel::tape_layer(double* tape, std::size_t nodes, int l,
                                                                    std::size_t first_row, int rows) const {
  const std::size_t M = static_cast<std::size_t>(parameters_.architecture().mlp_width);
  // Float layers are only ever written and read as floats (as the record's ints below).
  Real* values = reinterpret_cast<Real*>(tape);
  return Kokkos::View<Real**, Kokkos::LayoutRight>(
      values + (static_cast<std::size_t>(l - 2) * nodes + first_row) * M, rows, M);
}
template Kokkos::View<double**, Kokkos::LayoutRight>
GraphOdeModel::tape_layer<double>(double*, std::size_t, int, std::size_t, int) const;
template Kokkos::View<float**, Kokkos::LayoutRight>
GraphOdeModel::tape_layer<float>(double*, std::size_t, int, std::size_t, int) const;

GraphOdeAttentionRecord GraphOdeModel::tape_record(double* tape, std::size_t nodes, std::size_t first_row,
                                                   int rows) const {
  const GraphOdeArchitecture& arch = parameters_.architecture();
  const std::size_t K = static_cast<std::size_t>(arch.heads);
  double* record = tape + tape_hidden_doubles(nodes);
  using Matrix = Kokkos::View<double**, Kokkos::LayoutRight>;
  GraphOdeAttentionRecord out;
  out.m = Matrix(record + first_row * K, rows, K);
  out.softmax_max = Matrix(record + (nodes + first_row) * K, rows, K);
  out.softmax_denominator = Matrix(record + (2 * nodes + first_row) * K, rows, K);
  // The intervals are ints in the tape's last part (only ever written and read as ints).
  out.interval = Kokkos::View<int**, Kokkos::LayoutRight>(
      reinterpret_cast<int*>(record + 3 * nodes * K) + first_row * K, rows, K);
  return out;
}

double GraphOdeModel::resident_bytes(const GraphOdeArchitecture& a, int n_genes, int n_sets) {
  const double K = a.heads, H = a.hidden, M = a.mlp_width, L = a.mlp_layers;
  const double width_one = L == 1 ? 1.0 : M;
  const double parameters = static_cast<double>(graph_ode_layout(a, n_genes).size());
  const double layer_one = 2.0 * K * (H + 1.0) * width_one + 2.0 * K * H; // slopes, offsets, breakpoints
  return static_cast<double>(n_sets) * (parameters + layer_one) * sizeof(double);
}

double GraphOdeModel::flops_per_node(double in_edges) const {
  const GraphOdeArchitecture& a = parameters_.architecture();
  const double K = a.heads, H = a.hidden, M = a.mlp_width, L = a.mlp_layers;
  // Per edge and head: the logit (GAT: multiply-add and LeakyReLU; GATv2: H x (two multiply-adds, LeakyReLU,
  // multiply-add)) and the running softmax (exp, compare, multiply-add, add).
  const double logit = a.variant == AttentionVariant::gat ? 3.0 : 7.0 * H;
  const double width_one = L == 1 ? 1.0 : M;
  // Per head: the division of the softmax, the breakpoint search (log2 H compares), layer 1's slope * m +
  // offset accumulated over heads.
  const double attention = K * (in_edges * (logit + 5.0) + 1.0 + std::log2(H + 1.0) + 3.0 * width_one);
  // Layer 1's bias and ReLU; layers 2 .. L-1: the M x M product, bias and ReLU; the last layer's dot product.
  const double hidden =
      (L >= 2 ? 2.0 * M : 1.0) + (L >= 3 ? L - 2 : 0) * (2.0 * M * M + 2.0 * M) + (L >= 2 ? 2.0 * M : 0.0);
  return attention + hidden + 3.0; // + b_L, - gamma x
}

void GraphOdeModel::write(h5::File& file) const {
  write_graph_ode_model(file, parameters_);
}

void GraphOdeModel::read(const std::string& path) {
  const GraphOdeParameters read =
      read_graph_ode_model(path, parameters_.architecture(), parameters_.genes(), parameters_.cell_types());
  Kokkos::deep_copy(parameters_.values(), read.values());
}

std::unique_ptr<GraphOdeModel> make_graph_ode_model(MPI_Comm comm, const Deck& deck,
                                                    const GeneNetwork& network,
                                                    const SignalingParams& signaling,
                                                    const std::vector<std::string>& type_names,
                                                    GraphOdeOptions options) {
  return make_graph_ode_model(comm, read_graph_ode_config(deck), network, signaling, type_names, options);
}

std::unique_ptr<GraphOdeModel> make_graph_ode_model(MPI_Comm comm, const GraphOdeConfig& config,
                                                    const GeneNetwork& network,
                                                    const SignalingParams& signaling,
                                                    const std::vector<std::string>& type_names,
                                                    GraphOdeOptions options) {
  // The per-edge terms' entries follow this network (a no-op when the caller already resolved them).
  GraphOdeArchitecture architecture = config.architecture;
  resolve_edge_terms(architecture, network, static_cast<int>(type_names.size()));
  GraphOdeParameters parameters(architecture, network.genes, type_names);
  if (config.model_file.empty()) {
    parameters.glorot_init(config.init_seed, config.decay_init);
  } else {
    mpi::agree(comm, [&] {
      if (mpi::rank(comm) == 0)
        parameters = read_graph_ode_model(config.model_file, architecture, network.genes, type_names);
    });
    auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), parameters.values());
    mpi::check(MPI_Bcast(host.data(), static_cast<int>(host.size()), MPI_DOUBLE, 0, comm), "MPI_Bcast");
    Kokkos::deep_copy(parameters.values(), host);
  }
  options.precision = config.precision;
  return std::make_unique<GraphOdeModel>(std::move(parameters), network, signaling.pairs, options);
}

} // namespace tessera
