// Sweep files: the members a file describes (grid order, zip, replicates), the random and Latin-hypercube
// draws (in range, one per slice, reproducible), and members.csv. The rejected files are in bad/.
#include "tessera/core/error.hpp"
#include "tessera/sweep/members.hpp"
#include "tessera/sweep/sweep_file.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

using namespace tessera;
using namespace tessera::sweep;

namespace {

std::vector<double> column(const Block& b, std::size_t j) {
  std::vector<double> out;
  for (const auto& row : b.rows)
    out.push_back(std::stod(row[j]));
  return out;
}

} // namespace

TEST(SweepFile, GridZipAndReplicatesInOrder) {
  const SweepFile s = parse_sweep_file(R"(
base: quickstart.yaml
axes:
  - key: signaling.range
    values: [10 um, 15 um]
  - zip:
      - {key: time.dt, values: [1 min, 2 min, 3 min]}
      - {key: time.end, values: [1 h, 2 h, 3 h]}
replicates: 2
)",
                                       "s.yaml");
  ASSERT_EQ(s.blocks.size(), 2u);
  const std::vector<Member> m = expand_members(s);
  ASSERT_EQ(m.size(), 2u * 3u * 2u);
  // First axis slowest, replicates fastest; zipped keys move together.
  EXPECT_EQ(m[0].values, (std::vector<std::string>{"10 um", "1 min", "1 h"}));
  EXPECT_EQ(m[0].replicate, 0);
  EXPECT_EQ(m[1].values, m[0].values);
  EXPECT_EQ(m[1].replicate, 1);
  EXPECT_EQ(m[2].values, (std::vector<std::string>{"10 um", "2 min", "2 h"}));
  EXPECT_EQ(m[6].values, (std::vector<std::string>{"15 um", "1 min", "1 h"}));
  EXPECT_EQ(m[11].index, 11);
  EXPECT_EQ(member_overrides(s, m[6]),
            (std::vector<std::string>{"signaling.range=15 um", "time.dt=1 min", "time.end=1 h"}));
}

TEST(SweepFile, LatinHypercubeHasOneDrawPerSlice) {
  const std::string text = R"(
base: b.yaml
axes:
  - sample: latin_hypercube
    count: 10
    seed: 7
    ranges:
      - {key: signaling.range, lo: 10, hi: 20}
      - {key: signaling.length, lo: 1, hi: 100, scale: log}
      - {key: cells.init.count, lo: 100, hi: 1000}
)";
  const SweepFile s = parse_sweep_file(text, "s.yaml");
  const Block& b = s.blocks.at(0);
  ASSERT_EQ(b.rows.size(), 10u);
  // Linear key: slice floor((v - lo) / (hi - lo) * n) is a permutation of 0..n-1.
  std::set<int> slices;
  for (const double v : column(b, 0)) {
    ASSERT_GE(v, 10.0);
    ASSERT_LT(v, 20.0);
    slices.insert(static_cast<int>(std::floor((v - 10.0) / 10.0 * 10)));
  }
  EXPECT_EQ(slices.size(), 10u);
  // Log key: the same in log space.
  std::set<int> log_slices;
  for (const double v : column(b, 1)) {
    ASSERT_GE(v, 1.0);
    ASSERT_LE(v, 100.0);
    log_slices.insert(static_cast<int>(std::floor(std::log(v) / std::log(100.0) * 10)));
  }
  EXPECT_EQ(log_slices.size(), 10u);
  // An integer deck key gets integers.
  for (const auto& row : b.rows)
    EXPECT_EQ(row[2].find_first_not_of("0123456789"), std::string::npos) << row[2];
  // Reproducible; another seed draws otherwise.
  EXPECT_EQ(parse_sweep_file(text, "again.yaml").blocks[0].rows, b.rows);
  std::string other = text;
  other.replace(other.find("seed: 7"), 7, "seed: 8");
  EXPECT_NE(parse_sweep_file(other, "s.yaml").blocks[0].rows, b.rows);
}

TEST(SweepFile, UniformDrawsAreInRange) {
  const SweepFile s = parse_sweep_file(R"(
base: b.yaml
axes:
  - sample: uniform
    count: 200
    seed: 1
    ranges: [{key: mechanics.repulsion, lo: -3, hi: 5}]
)",
                                       "s.yaml");
  const std::vector<double> v = column(s.blocks.at(0), 0);
  ASSERT_EQ(v.size(), 200u);
  EXPECT_GE(*std::min_element(v.begin(), v.end()), -3.0);
  EXPECT_LT(*std::max_element(v.begin(), v.end()), 5.0);
  // 200 uniform draws over 8: the mean is 1 within 4 standard errors (8 / sqrt(12 * 200) = 0.16).
  double mean = 0;
  for (const double x : v)
    mean += x / 200;
  EXPECT_NEAR(mean, 1.0, 4 * 0.163);
}

TEST(SweepFile, MembersCsvQuotesListValues) {
  const SweepFile s = parse_sweep_file(R"(
base: b.yaml
axes:
  - key: domain.hi
    values: [[100, 100], [200, 200]]
)",
                                       "s.yaml");
  std::vector<Member> m = expand_members(s);
  m[0].seed = 1;
  m[1].seed = 1;
  EXPECT_EQ(members_csv(s, m), "member,domain.hi,random.seed\n0,\"[100, 100]\",1\n1,\"[200, 200]\",1\n");
  EXPECT_EQ(split_csv_line("0,\"[100, 100]\",\"a \"\"b\"\"\""),
            (std::vector<std::string>{"0", "[100, 100]", "a \"b\""}));
}

TEST(SweepFile, MistakesNameLineAndKey) {
  auto message = [](const std::string& text) {
    try {
      parse_sweep_file(text, "s.yaml");
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ExitCode::input);
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(message("base: b.yaml\naxes:\n  - key: time.dt\n    values: []\n"),
            "s.yaml:4:13: 'axes[0].values': empty list: give at least one value");
  EXPECT_EQ(message("base: b.yaml\naxes:\n  - {key: time.dtt, values: [1]}\n"),
            "s.yaml:3:11: 'axes[0].key': unknown deck key 'time.dtt'; did you mean 'time.dt'?");
  EXPECT_EQ(message("base: b.yaml\nset: {time.dt: 1}\naxes:\n  - {key: time.dt, values: [1]}\n"),
            "s.yaml:2:7: 'set.time.dt' is also varied at s.yaml:4:11");
}
