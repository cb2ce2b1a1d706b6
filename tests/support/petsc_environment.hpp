// One PETSc lifetime for a whole test program: including this header registers it. PETSc cannot be
// initialised again after PetscFinalize (and PETSc 3.18 would not register TAO's methods a second time), so
// each test's own petsc::Session only joins this one.
#pragma once

#include "tessera/learn/petsc.hpp"

#include <gtest/gtest.h>
#include <mpi.h>

#include <memory>

namespace tessera::test {

class PetscEnvironment : public ::testing::Environment {
public:
  void SetUp() override { session_ = std::make_unique<petsc::Session>(MPI_COMM_WORLD); }
  void TearDown() override { session_.reset(); }

private:
  std::unique_ptr<petsc::Session> session_;
};

// An inline variable: initialised once per program, whichever of its files include this header.
[[maybe_unused]] inline ::testing::Environment* const petsc_environment =
    ::testing::AddGlobalTestEnvironment(new PetscEnvironment);

} // namespace tessera::test
