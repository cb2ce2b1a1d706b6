// The build rule of cmake/TesseraArch.cmake that keeps results independent of TESSERA_ARCH: no contraction
// of a*b+c into a fused multiply-add, which GCC does by default as soon as -march enables FMA.
#include <gtest/gtest.h>

namespace {

// a*a = 1 + 2^-26 + 2^-54 exactly; rounded to double the 2^-54 (a quarter of an ulp at 1) is lost, so
// a*a - (1 + 2^-26) is 0 when the product and the sum round separately and 2^-54 when they are fused. This
// test file is compiled with the library's flags (they are PUBLIC in the build tree), and the volatile read
// keeps the compiler from folding the expression at compile time. The test fails with -march=native alone.
TEST(FpContract, ProductAndSumRoundSeparately) {
  volatile double stored = 1.0 + 0x1p-27;
  const double a = stored;
  const double c = -(1.0 + 0x1p-26);
  const double r = a * a + c;
  EXPECT_EQ(r, 0.0) << "a*b+c was fused into an FMA (result " << r << "): build with -ffp-contract=off";
}

} // namespace
