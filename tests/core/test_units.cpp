// Unit suffixes of deck quantities (SPEC §6.1): conversion to µm/min, and rejection of what is not a number.
#include "tessera/core/units.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace tessera;

TEST(Units, ConvertsToMicrometresAndMinutes) {
  EXPECT_DOUBLE_EQ(parse_quantity("10 um", Dimension::length).value, 10.0);
  EXPECT_DOUBLE_EQ(parse_quantity("1.5mm", Dimension::length).value, 1500.0);
  EXPECT_DOUBLE_EQ(parse_quantity("2 h", Dimension::time).value, 120.0);
  EXPECT_DOUBLE_EQ(parse_quantity("30 s", Dimension::time).value, 0.5);
  EXPECT_DOUBLE_EQ(parse_quantity("1 d", Dimension::time).value, 1440.0);
  EXPECT_DOUBLE_EQ(parse_quantity("0.6 /h", Dimension::rate).value, 0.01);
  EXPECT_DOUBLE_EQ(parse_quantity("2 um^2/s", Dimension::diffusivity).value, 120.0);
  EXPECT_DOUBLE_EQ(parse_quantity("-3.25e-2", Dimension::none).value, -0.0325);
}

TEST(Units, InfinityIsParsedNaNIsNot) {
  EXPECT_TRUE(std::isinf(parse_quantity(".inf", Dimension::time).value));
  EXPECT_TRUE(std::isinf(parse_quantity("inf", Dimension::length).value));
  EXPECT_FALSE(parse_quantity(".nan", Dimension::none).ok);
  EXPECT_FALSE(parse_quantity("NaN", Dimension::none).ok);
}

TEST(Units, RejectsUnknownUnitsAndText) {
  const auto bad_unit = parse_quantity("10 parsec", Dimension::length);
  EXPECT_FALSE(bad_unit.ok);
  EXPECT_NE(bad_unit.problem.find("parsec"), std::string::npos);
  EXPECT_FALSE(parse_quantity("10 um", Dimension::none).ok); // dimensionless key with a unit
  EXPECT_FALSE(parse_quantity("10 min", Dimension::length).ok);
  EXPECT_FALSE(parse_quantity("abc", Dimension::none).ok);
  EXPECT_FALSE(parse_quantity("", Dimension::none).ok);
  EXPECT_FALSE(parse_quantity("1e999", Dimension::none).ok);
}
