// Tests of the stopping rules on scripted loss sequences: each rule stops exactly where it should (and not
// one iteration earlier), with its reason; rules at 0 never stop; the best validation iteration is tracked.
#include "tessera/learn/stopping_rule.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace tessera {
namespace {

const double nan = std::numeric_limits<double>::quiet_NaN();

// The iteration at which `rule` first gives a reason on the scripted losses (0: never), and that reason.
struct Stop {
  long long iteration = 0;
  std::string reason;
};
Stop run(StoppingRule& rule, const std::vector<double>& train, const std::vector<double>& validation,
         const std::vector<double>& grad_norm) {
  for (std::size_t i = 0; i < train.size(); ++i) {
    const std::string reason =
        rule.observe(static_cast<long long>(i + 1), train[i], validation.empty() ? nan : validation[i],
                     grad_norm.empty() ? 1.0 : grad_norm[i]);
    if (!reason.empty()) return {static_cast<long long>(i + 1), reason};
  }
  return {};
}

TEST(StoppingRule, AllRulesOffNeverStop) {
  TrainParams p;
  StoppingRule rule(p);
  const std::vector<double> flat(200, 1.0);
  EXPECT_EQ(run(rule, flat, flat, std::vector<double>(200, 0.0)).iteration, 0);
}

TEST(StoppingRule, RelativeLossChangeOverWindowMeans) {
  TrainParams p;
  p.stop_rel_loss = 0.01;
  p.stop_window = 3;
  StoppingRule rule(p);
  // Means of 3 against the 3 before: at 11, (1.0, 1.05, 0.94) -> 0.99667 against (2, 1.1, 0.9) -> 1.333 (25
  // %); at 12, (1.05, 0.94, 0.995) -> 0.995 against (1.1, 0.9, 1.0) -> 1.0: 0.5 % < 1 %, the first stop.
  const std::vector<double> train = {10, 8, 6, 4, 3, 2, 1.1, 0.9, 1.0, 1.05, 0.94, 0.995};
  const Stop stop = run(rule, train, {}, {});
  EXPECT_EQ(stop.iteration, 12);
  EXPECT_EQ(
      stop.reason,
      "stopped at iteration 12: the mean train loss of the last 3 iterations (0.995) differs from the 3 "
      "before (1) by 0.005 relative, less than train.stop_rel_loss 0.01");
  EXPECT_EQ(rule.stopped(), stop.reason);
}

TEST(StoppingRule, GradientNormBelowTheThreshold) {
  TrainParams p;
  p.stop_grad_norm = 1e-3;
  StoppingRule rule(p);
  const Stop stop = run(rule, {5, 4, 3, 2, 1}, {}, {1.0, 0.1, 1e-3, 9e-4, 1e-5});
  EXPECT_EQ(stop.iteration, 4); // 1e-3 itself is not below
  EXPECT_EQ(stop.reason, "stopped at iteration 4: gradient norm 0.0009 below train.stop_grad_norm 0.001");
}

TEST(StoppingRule, ValidationPatienceAndTheBestIteration) {
  TrainParams p;
  p.patience = 3;
  p.improvement = 0.01;
  StoppingRule rule(p);
  // Best at iteration 3 (0.7); 0.699 at 4 is lower (kept as best) but within 1 % (not an improvement for
  // patience): iterations 4, 5, 6 without improvement -> stop at 6.
  const std::vector<double> validation = {1.0, 0.8, 0.7, 0.699, 0.75, 0.71, 0.5};
  const Stop stop = run(rule, std::vector<double>(7, 1.0), validation, {});
  EXPECT_EQ(stop.iteration, 6);
  EXPECT_EQ(stop.reason, "stopped at iteration 6: validation loss did not improve for 3 iterations (best "
                         "0.699 at iteration 4)");
  EXPECT_EQ(rule.best_iteration(), 4);
  EXPECT_EQ(rule.best_validation(), 0.699);
}

TEST(StoppingRule, BestTrackingFlagsEachNewMinimum) {
  TrainParams p;
  StoppingRule rule(p);
  const double validation[] = {nan, 2.0, 3.0, 1.5, 1.5, std::numeric_limits<double>::infinity(), 1.0};
  const bool improved[] = {false, true, false, true, false, false, true};
  for (long long i = 0; i < 7; ++i) {
    rule.observe(i + 1, 1.0, validation[i], 1.0);
    EXPECT_EQ(rule.improved_best(), improved[i]) << "iteration " << i + 1;
  }
  EXPECT_EQ(rule.best_iteration(), 7);
  EXPECT_EQ(rule.best_validation(), 1.0);
}

TEST(StoppingRule, NonFiniteValidationCountsAgainstPatience) {
  TrainParams p;
  p.patience = 2;
  StoppingRule rule(p);
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(run(rule, {1, 1, 1, 1}, {1.0, inf, inf, 0.5}, {}).iteration, 3);
}

} // namespace
} // namespace tessera
