#include "tessera/io/field_grid_file.hpp"

#include "tessera/core/error.hpp"
#include "tessera/io/hdf5.hpp"

#include <cmath>

namespace tessera {

std::vector<double> read_field_grid(const std::string& key, const std::string& file,
                                    const std::string& dataset, const std::vector<std::int64_t>& dims) {
  const h5::File h5 = h5::File::open_read(file);
  const std::string where = key + ": " + file + ": dataset '" + dataset + "'";
  if (!h5::exists(h5.get(), dataset)) throw input_error(where + " does not exist");
  const std::vector<std::int64_t> shape = h5::shape(h5.get(), dataset);
  if (shape != dims)
    throw input_error(where + " has shape " + h5::shape_text(shape) + ", the voxel grid is " +
                      h5::shape_text(dims) + " (slowest axis first)");
  std::vector<double> values = h5::read_all<double>(h5.get(), dataset);
  for (const double v : values)
    if (!std::isfinite(v) || v < 0)
      throw input_error(where + " holds a value that is negative or not finite (" + std::to_string(v) + ")");
  return values;
}

} // namespace tessera
