#include "tessera/integrate/rk4_adjoint.hpp"

#include "tessera/core/error.hpp"
#include "tessera/core/kernel_instance.hpp"

#include <cmath>
#include <string>

namespace tessera {

namespace {

GeneState make_state(const char* label, std::size_t n, std::size_t g) {
  return GeneState(Kokkos::view_alloc(std::string(label), Kokkos::WithoutInitializing), n, g);
}

// Switches a model's tape recording (or replay) to one slot for the lifetime of the guard, and off again
// even when the evaluation throws, so that the model never writes into a slot it no longer owns.
class RecordingGuard {
public:
  RecordingGuard(const AdjointGeneRhs* model, ActivationSlot* slot) : model_(model) {
    if (model_) model_->record_activations(slot);
  }
  ~RecordingGuard() {
    if (model_) model_->record_activations(nullptr);
  }
  RecordingGuard(const RecordingGuard&) = delete;
  RecordingGuard& operator=(const RecordingGuard&) = delete;

private:
  const AdjointGeneRhs* model_;
};

class ReplayGuard {
public:
  ReplayGuard(const AdjointGeneRhs* model, const ActivationSlot* slot) : model_(model) {
    if (model_) model_->replay_activations(slot);
  }
  ~ReplayGuard() {
    if (model_) model_->replay_activations(nullptr);
  }
  ReplayGuard(const ReplayGuard&) = delete;
  ReplayGuard& operator=(const ReplayGuard&) = delete;

private:
  const AdjointGeneRhs* model_;
};

// The model, with each state it is evaluated at copied into the next of `saved` first (and, with a tape,
// the evaluation's activations recorded into the next of `tape`): how forward() keeps the stage states
// without a copy of Rk4Integrator's arithmetic.
struct StageRecorder : GeneRhs {
  const GeneRhs* rhs = nullptr;
  std::vector<GeneState>* saved = nullptr;
  const AdjointGeneRhs* taping = nullptr;
  std::vector<ActivationSlot>* tape = nullptr;
  mutable std::size_t next = 0;
  void evaluate(double t, ConstGeneState x, GeneState dxdt) const override {
    const std::size_t slot = next++;
    Kokkos::deep_copy((*saved)[slot], x);
    const RecordingGuard recording(taping, taping ? &(*tape)[slot] : nullptr);
    rhs->evaluate(t, x, dxdt);
  }
};

} // namespace

std::size_t Rk4Adjoint::tape_bytes() const {
  std::size_t bytes = 0;
  if (taped_by_)
    for (const auto& slot : tape_)
      bytes += slot.size() * sizeof(double);
  return bytes;
}

void Rk4Adjoint::forward(const GeneRhs& rhs, GeneState x, double t0, double t1, const AdjointGeneRhs* tape) {
  const std::size_t n = x.extent(0), g = x.extent(1);
  substeps_ = stepper_.substeps(t0, t1);
  t0_ = t0;
  h_ = (t1 - t0) / static_cast<double>(substeps_);
  if (slope_.extent(0) != n || slope_.extent(1) != g) {
    slope_ = make_state("tessera::rk4_adjoint::slope", n, g);
    for (auto& s : stage_)
      s = make_state("tessera::rk4_adjoint::stage", n, g);
    cotangent_ = make_state("tessera::rk4_adjoint::cotangent", n, g);
    stage_bar_ = make_state("tessera::rk4_adjoint::stage_bar", n, g);
    end_bar_ = make_state("tessera::rk4_adjoint::end_bar", n, g);
    saved_.clear();
  }
  const bool stages = storage_ == Storage::stages;
  saved_.resize(static_cast<std::size_t>(substeps_ * (stages ? 4 : 1)));
  for (auto& c : saved_)
    if (c.extent(0) != n || c.extent(1) != g) c = make_state("tessera::rk4_adjoint::saved_state", n, g);
  // The integrator's own step, so x(t1) is exactly Rk4Integrator's; only the copies are added.
  // A model that keeps nothing (tape_bytes 0, e.g. no hidden layer) is not asked to record.
  taped_by_ = stages && tape && tape->tape_bytes(n) > 0 ? tape : nullptr;
  if (taped_by_)
    tape_.resize(saved_.size()); // the model sizes each slot as it records
  else
    tape_.clear();
  if (stages) {
    StageRecorder recorder;
    recorder.rhs = &rhs;
    recorder.saved = &saved_;
    recorder.taping = taped_by_;
    recorder.tape = &tape_;
    stepper_.advance(recorder, x, t0, t1);
  } else {
    stepper_.advance(rhs, x, t0, t1, [&](long long s, ConstGeneState state) {
      Kokkos::deep_copy(saved_[static_cast<std::size_t>(s)], state);
    });
  }
}

void Rk4Adjoint::reverse(const GeneRhs& rhs, const AdjointGeneRhs& adjoint, GeneState x_bar,
                         ParameterGradient theta_bar) {
  if (saved_.empty()) throw runtime_error("rk4 adjoint: reverse() needs a forward() first");
  const std::size_t n = x_bar.extent(0), g = x_bar.extent(1);
  if (n != slope_.extent(0) || g != slope_.extent(1))
    throw runtime_error("rk4 adjoint: x_bar has another shape than the forward state");
  const double h = h_;
  const GeneState k = slope_, lambda = cotangent_, y = stage_bar_, a = end_bar_;
  const auto cells = Kokkos::MDRangePolicy<Kokkos::Rank<2>>(
      execution_for(n * g), {0, 0}, {static_cast<long long>(n), static_cast<long long>(g)});
  for (long long s = substeps_ - 1; s >= 0; --s) {
    const double t = t0_ + static_cast<double>(s) * h;
    GeneState x, stage2, stage3, stage4;
    // The tape slots of this substep's four stages, when forward() recorded them for this adjoint.
    const bool replay = taped_by_ == &adjoint;
    const ActivationSlot* slots = replay ? &tape_[static_cast<std::size_t>(4 * s)] : nullptr;
    const AdjointGeneRhs* replaying = replay ? &adjoint : nullptr;
    if (storage_ == Storage::stages) {
      const std::size_t first = static_cast<std::size_t>(4 * s);
      x = saved_[first];
      stage2 = saved_[first + 1];
      stage3 = saved_[first + 2];
      stage4 = saved_[first + 3];
    } else {
      // The stage states X2 = x + h/2 k1, X3 = x + h/2 k2, X4 = x + h k3, recomputed from the checkpoint
      // with the forward's operations.
      x = saved_[static_cast<std::size_t>(s)];
      stage2 = stage_[0];
      stage3 = stage_[1];
      stage4 = stage_[2];
      const GeneState start = x;
      auto stage_from = [&](GeneState out, double c) {
        Kokkos::parallel_for(
            "tessera::rk4_adjoint::recompute_stage", cells,
            KOKKOS_LAMBDA(const long long i, const long long j) { out(i, j) = start(i, j) + c * k(i, j); });
      };
      rhs.evaluate(t, x, k);
      stage_from(stage2, 0.5 * h);
      rhs.evaluate(t + 0.5 * h, stage2, k);
      stage_from(stage3, 0.5 * h);
      rhs.evaluate(t + 0.5 * h, stage3, k);
      stage_from(stage4, h);
    }

    // x_{s+1} = x + h/6 (k1 + 2 k2 + 2 k3 + k4): with a = dL/dx_{s+1}, k_i's cotangent is h/6 a, h/3 a,
    // h/3 a, h/6 a, plus what the later stages send back through X_{i+1} = x + c k_i.
    Kokkos::deep_copy(a, x_bar); // x_bar now accumulates dL/dx_s, starting from a (the identity term)
    auto cotangent = [&](double of_end, double of_stage) {
      Kokkos::parallel_for(
          "tessera::rk4_adjoint::cotangent", cells, KOKKOS_LAMBDA(const long long i, const long long j) {
            lambda(i, j) = of_end * a(i, j) + of_stage * y(i, j);
          });
    };
    auto accumulate = [&] {
      Kokkos::parallel_for(
          "tessera::rk4_adjoint::accumulate", cells,
          KOKKOS_LAMBDA(const long long i, const long long j) { x_bar(i, j) += y(i, j); });
    };
    Kokkos::deep_copy(y, 0.0);
    auto stage_vjp = [&](int stage, double time, GeneState at) {
      const ReplayGuard replaying_stage(replaying, slots ? slots + stage : nullptr);
      adjoint.vjp(time, at, lambda, y, theta_bar);
    };
    cotangent(h / 6.0, 0.0);     // k4
    stage_vjp(3, t + h, stage4); // y = X4_bar
    accumulate();
    cotangent(h / 3.0, h); // k3: its own weight plus X4 = x + h k3
    stage_vjp(2, t + 0.5 * h, stage3);
    accumulate();
    cotangent(h / 3.0, 0.5 * h); // k2, through X3 = x + h/2 k2
    stage_vjp(1, t + 0.5 * h, stage2);
    accumulate();
    cotangent(h / 6.0, 0.5 * h); // k1, through X2 = x + h/2 k1
    stage_vjp(0, t, x);
    accumulate();
  }
}

} // namespace tessera
