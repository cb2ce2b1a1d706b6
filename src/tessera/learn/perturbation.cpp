#include "tessera/learn/perturbation.hpp"

#include "tessera/core/error.hpp"
#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>

namespace tessera {

namespace {

// Every rank's ids, concatenated and sorted.
std::vector<std::uint64_t> gather_ids(MPI_Comm comm, const std::vector<std::uint64_t>& local) {
  const int n = mpi::size(comm);
  int count = static_cast<int>(local.size());
  std::vector<int> counts(static_cast<std::size_t>(n)), displs(static_cast<std::size_t>(n), 0);
  mpi::check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  for (int r = 1; r < n; ++r)
    displs[static_cast<std::size_t>(r)] =
        displs[static_cast<std::size_t>(r - 1)] + counts[static_cast<std::size_t>(r - 1)];
  std::vector<std::uint64_t> all(static_cast<std::size_t>(displs.back() + counts.back()));
  mpi::check(MPI_Allgatherv(local.data(), count, MPI_UINT64_T, all.data(), counts.data(), displs.data(),
                            MPI_UINT64_T, comm),
             "MPI_Allgatherv");
  std::sort(all.begin(), all.end());
  return all;
}

template <class T>
Kokkos::View<T*> to_device(const std::string& label, const std::vector<T>& host) {
  Kokkos::View<T*> v(label, host.size());
  auto h = Kokkos::create_mirror_view(v);
  for (std::size_t i = 0; i < host.size(); ++i)
    h(i) = host[i];
  Kokkos::deep_copy(v, h);
  return v;
}

} // namespace

PerturbationTable make_perturbation_table(MPI_Comm comm, const std::vector<Perturbation>& perturbations,
                                          const Cells<>& cells, int n_types) {
  const std::size_t n = cells.n_owned;
  const auto range = std::make_pair(std::size_t(0), n);
  auto ids = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), Kokkos::subview(cells.id, range));
  auto pos = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                 Kokkos::subview(cells.position, range, Kokkos::ALL));
  const int P = static_cast<int>(perturbations.size());
  std::vector<int> gene, clamps, by_ids, offsets{0};
  std::vector<double> value;
  std::vector<std::uint64_t> all_ids;
  Kokkos::View<std::uint8_t**, Kokkos::LayoutRight> allowed(
      "tessera::predict::type_allowed", static_cast<std::size_t>(P), static_cast<std::size_t>(n_types));
  auto allowed_h = Kokkos::create_mirror_view(allowed);
  for (int p = 0; p < P; ++p) {
    const Perturbation& q = perturbations[static_cast<std::size_t>(p)];
    gene.push_back(q.gene);
    clamps.push_back(q.clamps() ? 1 : 0);
    value.push_back(q.value);
    for (int t = 0; t < n_types; ++t)
      allowed_h(p, t) = q.cells.types.empty() ||
                        std::find(q.cells.types.begin(), q.cells.types.end(), t) != q.cells.types.end();
    by_ids.push_back(q.cells.by_start_ids() ? 1 : 0);
    if (q.cells.by_start_ids()) {
      // This rank's cells that pass the id list and the region; the type is tested at every step instead.
      std::vector<std::uint64_t> local;
      for (std::size_t i = 0; i < n; ++i) {
        if (q.cells.by_id && !std::binary_search(q.cells.ids.begin(), q.cells.ids.end(), ids(i))) continue;
        const double p3[3] = {pos(i, 0), pos(i, 1), pos(i, 2)};
        if (!q.cells.in_region(p3, cells.dim)) continue;
        local.push_back(ids(i));
      }
      std::vector<std::uint64_t> selected = gather_ids(comm, local);
      if (q.cells.by_id && q.cells.region == SelectionRegion::none && selected.size() != q.cells.ids.size()) {
        std::vector<std::uint64_t> missing;
        std::set_difference(q.cells.ids.begin(), q.cells.ids.end(), selected.begin(), selected.end(),
                            std::back_inserter(missing));
        // The same gathered ids on every rank: every rank throws the same error.
        Error err = input_error(q.where + ": no cell of the initial tissue has id " +
                                std::to_string(missing.front()) + " (" + std::to_string(missing.size()) +
                                " of " + std::to_string(q.cells.ids.size()) + " listed ids missing)");
        err.mark_agreed(0);
        throw err;
      }
      all_ids.insert(all_ids.end(), selected.begin(), selected.end());
    }
    offsets.push_back(static_cast<int>(all_ids.size()));
  }
  Kokkos::deep_copy(allowed, allowed_h);
  PerturbationTable table;
  table.count = P;
  table.gene = to_device("tessera::predict::gene", gene);
  table.clamps = to_device("tessera::predict::clamps", clamps);
  table.value = to_device("tessera::predict::value", value);
  table.type_allowed = allowed;
  table.by_ids = to_device("tessera::predict::by_ids", by_ids);
  table.id_offsets = to_device("tessera::predict::id_offsets", offsets);
  table.ids = to_device("tessera::predict::ids", all_ids);
  return table;
}

std::vector<long long> apply_initial_perturbations(const PerturbationTable& table, Cells<>& cells) {
  std::vector<long long> selected(static_cast<std::size_t>(table.count), 0);
  const auto ids = cells.id;
  const auto type = cells.type;
  const auto genes = cells.genes;
  const auto n = static_cast<int>(cells.n_owned);
  // One perturbation after the other, so a later one acts on what an earlier one left.
  for (int p = 0; p < table.count; ++p) {
    long long count = 0;
    Kokkos::parallel_reduce(
        "tessera::predict::apply_initial", Kokkos::RangePolicy<>(0, n),
        KOKKOS_LAMBDA(const int i, long long& c) {
          if (!table.selects(p, ids(i), type(i))) return;
          const int g = table.gene(p);
          genes(i, g) = table.clamps(p) ? table.value(p) : genes(i, g) * table.value(p);
          ++c;
        },
        count);
    selected[static_cast<std::size_t>(p)] = count;
  }
  return selected;
}

PerturbedModel::PerturbedModel(std::unique_ptr<CellGeneModel> model, PerturbationTable table,
                               const Cells<>& cells, int n_genes)
    : model_(std::move(model)), table_(std::move(table)), cells_(&cells), n_genes_(n_genes) {}

void PerturbedModel::set_cell_types(Kokkos::View<const int*> cell_type) {
  model_->set_cell_types(cell_type);
  const std::size_t n = cells_->n_owned;
  if (clamped_.extent(0) < n || clamped_.extent(1) != static_cast<std::size_t>(n_genes_))
    clamped_ = Kokkos::View<std::uint8_t**, Kokkos::LayoutRight>(
        Kokkos::view_alloc(Kokkos::WithoutInitializing, "tessera::predict::clamped"), n + n / 4 + 16,
        static_cast<std::size_t>(n_genes_));
  const auto clamped = clamped_;
  const auto ids = cells_->id;
  const PerturbationTable table = table_;
  const int G = n_genes_;
  Kokkos::parallel_for(
      "tessera::predict::clamp_mask", Kokkos::RangePolicy<>(0, static_cast<int>(n)),
      KOKKOS_LAMBDA(const int i) {
        for (int g = 0; g < G; ++g)
          clamped(i, g) = 0;
        for (int p = 0; p < table.count; ++p)
          if (table.clamps(p) && table.selects(p, ids(i), cell_type(i))) clamped(i, table.gene(p)) = 1;
      });
}

void PerturbedModel::set_signaling(const SignalingGraph* graph, const LigandExchange* exchange) {
  model_->set_signaling(graph, exchange);
}

void PerturbedModel::evaluate(double t, ConstGeneState x, GeneState dxdt) const {
  model_->evaluate(t, x, dxdt);
  const auto clamped = clamped_;
  const int n = static_cast<int>(dxdt.extent(0));
  const int G = static_cast<int>(dxdt.extent(1));
  if (static_cast<std::size_t>(n) > clamped.extent(0))
    throw runtime_error("PerturbedModel::evaluate: " + std::to_string(n) +
                        " cells but the clamp mask covers " + std::to_string(clamped.extent(0)) +
                        ": call set_cell_types() first");
  Kokkos::parallel_for(
      "tessera::predict::clamp_rhs", Kokkos::MDRangePolicy<Kokkos::Rank<2>>({0, 0}, {n, G}),
      KOKKOS_LAMBDA(const int i, const int g) {
        if (clamped(i, g)) dxdt(i, g) = 0.0;
      });
}

namespace {

// Collective. The table of `perturbations` resolved on `start`'s cells (the tissue a prediction starts from),
// with its start values applied there; per perturbation the global number of cells it selected.
std::pair<PerturbationTable, std::vector<long long>>
resolve_at_start(MPI_Comm comm, Simulation& start, const std::vector<Perturbation>& perturbations) {
  PerturbationTable table;
  mpi::agree(comm, [&] {
    table = make_perturbation_table(comm, perturbations, start.cells(), start.types().count());
  });
  std::vector<long long> selected = apply_initial_perturbations(table, start.cells());
  for (long long& count : selected)
    count = mpi::sum(comm, count);
  return {table, selected};
}

// Wraps `simulation`'s gene model so the clamped genes of `table` stay fixed, when any perturbation clamps.
void clamp_genes(Simulation& simulation, const PerturbationTable& table,
                 const std::vector<Perturbation>& perturbations) {
  const bool clamps = std::any_of(perturbations.begin(), perturbations.end(),
                                  [](const Perturbation& p) { return p.clamps(); });
  if (!clamps) return;
  const int n_genes = simulation.network().n_genes();
  const Cells<>& cells = simulation.cells();
  simulation.wrap_gene_model([&](std::unique_ptr<CellGeneModel> model) -> std::unique_ptr<CellGeneModel> {
    return std::make_unique<PerturbedModel>(std::move(model), table, cells, n_genes);
  });
}

} // namespace

std::vector<long long> apply_perturbations(MPI_Comm comm, Simulation& simulation,
                                           const std::vector<Perturbation>& perturbations) {
  auto [table, selected] = resolve_at_start(comm, simulation, perturbations);
  clamp_genes(simulation, table, perturbations);
  return selected;
}

std::vector<long long> resume_perturbations(MPI_Comm comm, Simulation& restarted, Simulation& start,
                                            const std::vector<Perturbation>& perturbations) {
  auto [table, selected] = resolve_at_start(comm, start, perturbations);
  clamp_genes(restarted, table, perturbations);
  return selected;
}

} // namespace tessera
