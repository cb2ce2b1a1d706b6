#include "tessera/grn/model_file.hpp"

#include "tessera/grn/model_parameters.hpp"
#include "tessera/io/hdf5.hpp"

#include <cstdint>

namespace tessera {

namespace {

constexpr const char* model_format = "tessera-model";
constexpr std::int64_t model_version = 1;

} // namespace

void write_model_identity(h5::File& file, const ModelParameters& parameters) {
  const hid_t root = file.get();
  h5::write_text_attribute(root, "format", model_format);
  h5::write_int_attribute(root, "version", model_version);
  h5::write_text_attribute(root, "family", parameters.family());
}

void write_model_parameters(h5::File& file, const ModelParameters& parameters) {
  h5::Handle params = h5::create_group(file.get(), "params");
  for (int s = 0; s < parameters.n_sets(); ++s) {
    h5::Handle group = h5::create_group(params.get(), parameters.set_name(s));
    for (const TensorSpec& t : parameters.layout().tensors()) {
      const std::vector<double> values = parameters.tensor(s, t.name);
      const h5::Rows rows{0, t.shape[0], t.shape[0]};
      if (t.shape.size() == 1)
        h5::write_rows(group.get(), t.name, values.data(), rows);
      else
        h5::write_rows(group.get(), t.name, values.data(), rows, t.shape[1]);
    }
  }
}

void require_model_file(const h5::File& file) {
  h5::require_format(file, "a tessera model file", model_format, "version", model_version);
}

} // namespace tessera
