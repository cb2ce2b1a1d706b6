// The attributes that name the command a file came from — `command` (the full command line), `host`, and
// `slurm_job_id` / `slurm_array_task_id` inside SLURM — written alike on the root of tessera.h5 and a run's
// dataset.h5 and on model.h5's /provenance.
#pragma once

#include "tessera/core/invocation.hpp"

#include <hdf5.h>

namespace tessera {

// Collective in a parallel file (every rank passes the same invocation). The SLURM attributes are left out
// when empty.
void write_invocation(hid_t object, const Invocation& invocation);
// Attributes a file does not have read as empty.
Invocation read_invocation(hid_t object);

} // namespace tessera
