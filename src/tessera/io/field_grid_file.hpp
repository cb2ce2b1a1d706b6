#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

// One substrate's values on the whole voxel grid from a dataset of an HDF5 file (a field's
// `initial_file`/`initial_dataset`): shaped `dims` (slowest axis first, as tessera.h5 and checkpoint.h5 store
// fields), every value finite and non-negative. Every failure is an input error naming `key`, the file and
// the dataset. Read by one process: the caller makes it collective.
std::vector<double> read_field_grid(const std::string& key, const std::string& file,
                                    const std::string& dataset, const std::vector<std::int64_t>& dims);

} // namespace tessera
