// What every model.h5 shares whatever its family (SPEC §6.5): the root attributes format, version and
// family, and the parameter sets under /params/<set>/<tensor>. Each family writes and checks its own
// settings, candidate edges and pairs around these (graph_ode_parameters.cpp, learnable_hill_file.cpp,
// sigmoid.cpp).
#pragma once

namespace tessera {

namespace h5 {
class File;
}
class ModelParameters;

// The root attributes format = "tessera-model", version = 1 and family = parameters.family().
void write_model_identity(h5::File& file, const ModelParameters& parameters);

// /params/<set name>/<tensor> for every set, each tensor in its own shape. Serial.
void write_model_parameters(h5::File& file, const ModelParameters& parameters);

// input_error naming the file unless it says it is a tessera model file of this version.
void require_model_file(const h5::File& file);

} // namespace tessera
