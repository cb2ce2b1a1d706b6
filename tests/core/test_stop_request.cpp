// Stopping on time (issue 10 item 2): a signal that reaches one rank stops every rank at the same poll, the
// wall-clock limit stops the loop with room for one more step and a checkpoint, and the limit's spellings.
#include "tessera/core/error.hpp"
#include "tessera/core/stop_request.hpp"
#include "tessera/parallel/mpi.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <iostream>
#include <limits>
#include <thread>

using namespace tessera;

namespace {

const double no_limit = std::numeric_limits<double>::infinity();

int rank() {
  return mpi::rank(MPI_COMM_WORLD);
}
int size() {
  return mpi::size(MPI_COMM_WORLD);
}

// Each test starts with no signal received and no stop agreed.
class StopRequestTest : public ::testing::Test {
protected:
  void SetUp() override {
    MPI_Barrier(MPI_COMM_WORLD);
    forget_stop_signal();
  }
  void TearDown() override {
    forget_stop_signal();
    MPI_Barrier(MPI_COMM_WORLD);
  }
};

// The same value on every rank: min == max over MPI_COMM_WORLD.
bool same_on_every_rank(int value) {
  int lo = 0, hi = 0;
  MPI_Allreduce(&value, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&value, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return lo == hi;
}

void sleep_s(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

} // namespace

TEST_F(StopRequestTest, ASignalRaisedOnOneRankIsSeenByAllAtTheNextPoll) {
  for (const int signal_number : {SIGUSR1, SIGTERM}) {
    forget_stop_signal();
    StopPoll stop(no_limit);
    EXPECT_EQ(stop.poll(MPI_COMM_WORLD), StopReason::none);
    // The last rank alone receives it (the handler records it; the process goes on).
    if (rank() == size() - 1) std::raise(signal_number);
    if (size() > 1 && rank() == 0) EXPECT_EQ(local_stop_signal(), StopReason::none);
    const StopReason expected = signal_number == SIGTERM ? StopReason::sigterm : StopReason::sigusr1;
    EXPECT_EQ(stop.poll(MPI_COMM_WORLD), expected);
    EXPECT_EQ(agreed_stop(), expected);
    // Once agreed, the stop stays: a loop that polls again does not go on.
    EXPECT_EQ(stop.poll(MPI_COMM_WORLD), expected);
  }
  EXPECT_EQ(describe(StopReason::sigterm), "SIGTERM");
  EXPECT_EQ(describe(StopReason::sigusr1), "SIGUSR1");
}

TEST_F(StopRequestTest, SigtermOutranksSigusr1WhenRanksSawDifferentSignals) {
  StopPoll stop(no_limit);
  if (rank() == 0) std::raise(SIGUSR1);
  if (rank() == size() - 1) std::raise(SIGTERM); // on one rank that received both, SIGTERM counts
  EXPECT_EQ(stop.poll(MPI_COMM_WORLD), StopReason::sigterm);
}

// The receipt (which rank, during which iteration) is what the handler recorded, not what the poll saw:
// std::raise runs the handler before it returns, at a known iteration, on one rank only.
TEST_F(StopRequestTest, TheReceiptNamesTheRankAndTheIterationTheSignalCameIn) {
  for (const int signal_number : {SIGUSR1, SIGTERM}) {
    forget_stop_signal();
    const StopReason expected = signal_number == SIGTERM ? StopReason::sigterm : StopReason::sigusr1;
    const long long first = 5, k = 7; // a restart at iteration 4; the signal comes during iteration 7
    StopPoll stop(no_limit, first);
    long long stopped_at = 0;
    for (long long it = first; it < first + 10; ++it) {
      // SIGUSR1 before the iteration's work, SIGTERM after it: either way during iteration k.
      if (rank() == size() - 1 && it == k && signal_number == SIGUSR1) std::raise(signal_number);
      sleep_s(0.001); // the iteration
      if (rank() == size() - 1 && it == k && signal_number == SIGTERM) std::raise(signal_number);
      if (stop.poll(MPI_COMM_WORLD) != StopReason::none) {
        stopped_at = it;
        break;
      }
    }
    EXPECT_EQ(stopped_at, k) << "the poll that ends the signal's iteration stops the loop";
    EXPECT_EQ(agreed_stop(), expected);
    const StopReceipt& r = stop.receipt();
    EXPECT_EQ(r.signal, expected);
    EXPECT_EQ(r.rank, size() - 1);
    EXPECT_EQ(r.during, k);
    EXPECT_EQ(describe(r, "iteration"),
              describe(expected) + " received by rank " + std::to_string(size() - 1) + " during iteration 7");
    // A second signal after the stop was agreed changes neither the stop nor its receipt.
    if (rank() == size() - 1) std::raise(SIGTERM);
    EXPECT_EQ(stop.poll(MPI_COMM_WORLD), expected);
    EXPECT_EQ(stop.receipt().during, k);
  }
}

TEST_F(StopRequestTest, TheReceiptIsTheEarliestAndLowestRankOfSeveral) {
  // Rank r receives SIGUSR1 during iteration 3 + r / 2: ranks 0 and 1 during iteration 3, which stops.
  StopPoll stop(no_limit, 1);
  long long it = 1;
  for (; it < 20; ++it) {
    if (it == 3 + rank() / 2) std::raise(SIGUSR1);
    if (stop.poll(MPI_COMM_WORLD) != StopReason::none) break;
  }
  EXPECT_EQ(it, 3);
  EXPECT_EQ(stop.receipt().signal, StopReason::sigusr1);
  EXPECT_EQ(stop.receipt().rank, 0);
  EXPECT_EQ(stop.receipt().during, 3);
}

TEST_F(StopRequestTest, ASignalBeforeTheLoopCountsAsReceivedDuringItsFirstIteration) {
  { StopPoll installs(no_limit); } // the handlers, as an earlier loop of the process would leave them
  if (rank() == 0) std::raise(SIGUSR1);
  StopPoll stop(no_limit, 12);
  EXPECT_EQ(stop.poll(MPI_COMM_WORLD), StopReason::sigusr1);
  EXPECT_EQ(stop.receipt().rank, 0);
  EXPECT_EQ(stop.receipt().during, 12);
}

TEST_F(StopRequestTest, WalltimeStopsWithRoomForOneMoreStepAndACheckpoint) {
  const double step_s = 0.02;
  const double limit = seconds_since_start() + 0.6;
  StopPoll stop(limit);
  // The longest time from one poll to the next, the poll's wait for the slowest rank included, over all
  // ranks: what the margin of whichever rank decided was made of.
  double longest_step = 0.0, stopped_at = 0.0, last_poll = seconds_since_start();
  int steps = 0;
  for (; steps < 1000; ++steps) {
    sleep_s(step_s); // "the step"
    const StopReason why = stop.poll(MPI_COMM_WORLD);
    const double now = seconds_since_start();
    longest_step = std::max(longest_step, now - last_poll);
    last_poll = now;
    if (why != StopReason::none) {
      stopped_at = now;
      break;
    }
  }
  longest_step = mpi::max(MPI_COMM_WORLD, longest_step);
  EXPECT_EQ(agreed_stop(), StopReason::walltime);
  EXPECT_EQ(stop.receipt().signal, StopReason::none); // no rank received a signal
  EXPECT_TRUE(same_on_every_rank(steps)) << "ranks stopped at different steps";
  // Stopped before the limit (with a step's time to spare unless the last step was more than twice as long as
  // every one before it, which a loaded machine can do: not asserted) ...
  EXPECT_LT(stopped_at, limit);
  // ... and not long before it: the margin is 2 steps + 2 % of the limit; 4 more steps and 0.1 s of slack
  // for timing noise on a loaded machine.
  EXPECT_GT(stopped_at, limit - (6 * longest_step + 0.02 * limit + 0.1));
}

TEST_F(StopRequestTest, TheMarginKeepsRoomForTheLongestCheckpoint) {
  StopPoll stop(1000.0);
  const double before = stop.margin_s();
  EXPECT_NEAR(before, 0.02 * 1000.0 + 2 * 0.0, 1.0); // no step measured yet: about the 2 % reserve
  stop.checkpoint_took(3.0);
  stop.checkpoint_took(1.0); // the longest counts
  EXPECT_NEAR(stop.margin_s() - before, 6.0, 1e-12);
  // A checkpoint longer than what is left makes the next poll stop at once.
  StopPoll soon(seconds_since_start() + 5.0);
  EXPECT_EQ(soon.poll(MPI_COMM_WORLD), StopReason::none);
  soon.checkpoint_took(3.0);
  EXPECT_EQ(soon.poll(MPI_COMM_WORLD), StopReason::walltime);
}

TEST_F(StopRequestTest, RanksWithDifferentClocksStopTogether) {
  // Rank 0's limit comes first (its clock, or its deck, says so); the others have none: all stop together.
  StopPoll stop(rank() == 0 ? seconds_since_start() + 0.2 : no_limit);
  int steps = 0;
  while (stop.poll(MPI_COMM_WORLD) == StopReason::none && steps < 1000) {
    sleep_s(0.01);
    ++steps;
  }
  EXPECT_LT(steps, 1000);
  EXPECT_TRUE(same_on_every_rank(steps));
}

TEST_F(StopRequestTest, APollCostsOneSmallAllreduce) {
  // Measured, not asserted against a number (machines differ): printed for docs/cluster.md.
  StopPoll stop(no_limit);
  const int n = 2000;
  MPI_Barrier(MPI_COMM_WORLD);
  const double t0 = MPI_Wtime();
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(stop.poll(MPI_COMM_WORLD), StopReason::none);
  const double per_poll_us = (MPI_Wtime() - t0) / n * 1e6;
  if (rank() == 0) std::cout << "poll: " << per_poll_us << " us on " << size() << " rank(s)" << std::endl;
  EXPECT_LT(per_poll_us, 1e5); // a tenth of a second would mean the poll blocks on something
}

TEST(ParseWalltime, SlurmFormsAndTimesWithUnits) {
  EXPECT_DOUBLE_EQ(parse_walltime("00:55:00"), 3300.0);
  EXPECT_DOUBLE_EQ(parse_walltime("55:00"), 3300.0); // Slurm: minutes:seconds
  EXPECT_DOUBLE_EQ(parse_walltime("55"), 3300.0);    // Slurm and decks: a bare number is minutes
  EXPECT_DOUBLE_EQ(parse_walltime("3300 s"), 3300.0);
  EXPECT_DOUBLE_EQ(parse_walltime("55 min"), 3300.0);
  EXPECT_DOUBLE_EQ(parse_walltime(" 1h "), 3600.0);
  EXPECT_DOUBLE_EQ(parse_walltime("1-00:00:00"), 86400.0);
  EXPECT_DOUBLE_EQ(parse_walltime("2-12"), 2 * 86400.0 + 12 * 3600.0);
  EXPECT_DOUBLE_EQ(parse_walltime("2-12:30"), 2 * 86400.0 + 12 * 3600.0 + 30 * 60.0);
  for (const char* bad : {"", "soon", "-5 min", "0", "1:2:3:4", "1-2:3:4:5", "a-01:00", "1 parsec", "inf",
                          "00:-1:00", "5 min 3 s"}) {
    try {
      parse_walltime(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::input) << bad;
      EXPECT_NE(std::string(e.what()).find("00:55:00"), std::string::npos) << e.what();
    }
  }
}

TEST(ExitCodes, ResumableIsDistinctFromSuccessFailureShellAndSignalCodes) {
  EXPECT_EQ(resumable_exit_code, 75);
  for (const int taken : {0, 1, 2, 126, 127})
    EXPECT_NE(resumable_exit_code, taken);
  EXPECT_LT(resumable_exit_code, 128); // 128 + n is how shells report death by signal n
}
