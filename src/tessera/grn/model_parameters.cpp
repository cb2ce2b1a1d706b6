#include "tessera/grn/model_parameters.hpp"

#include "tessera/core/error.hpp"

#include <algorithm>
#include <cmath>

namespace tessera {

std::size_t TensorSpec::size() const {
  std::size_t n = 1;
  for (const std::int64_t d : shape)
    n *= static_cast<std::size_t>(d);
  return n;
}

double TensorSpec::glorot_bound() const {
  return std::sqrt(6.0 / (fan_in + fan_out));
}

const TensorSpec& ParameterLayout::add(TensorSpec tensor) {
  tensor.offset = size_;
  size_ += tensor.size();
  tensors_.push_back(std::move(tensor));
  return tensors_.back();
}

bool ParameterLayout::has(const std::string& name) const {
  return std::any_of(tensors_.begin(), tensors_.end(), [&](const TensorSpec& t) { return t.name == name; });
}

const TensorSpec& ParameterLayout::tensor(const std::string& name) const {
  for (const TensorSpec& t : tensors_)
    if (t.name == name) return t;
  throw runtime_error("model parameters: no tensor '" + name + "' in this layout");
}

ModelParameters::ModelParameters(std::string family, ParameterLayout layout,
                                 std::vector<std::string> set_names, std::vector<std::string> genes,
                                 std::vector<std::string> cell_types)
    : family_(std::move(family)), layout_(std::move(layout)), genes_(std::move(genes)),
      cell_types_(std::move(cell_types)), set_names_(std::move(set_names)) {
  values_ = Values("tessera::grn::" + family_ + "::parameters", set_names_.size(), layout_.size());
}

std::vector<double> ModelParameters::tensor(int set, const std::string& name) const {
  const TensorSpec& t = layout_.tensor(name);
  const auto row = Kokkos::subview(values_, set, std::make_pair(t.offset, t.offset + t.size()));
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), row);
  return std::vector<double>(host.data(), host.data() + t.size());
}

void ModelParameters::set_tensor(int set, const std::string& name, const std::vector<double>& values) {
  const TensorSpec& t = layout_.tensor(name);
  if (values.size() != t.size())
    throw runtime_error(family_ + ": tensor '" + name + "' has " + std::to_string(t.size()) +
                        " values, got " + std::to_string(values.size()));
  const auto row = Kokkos::subview(values_, set, std::make_pair(t.offset, t.offset + t.size()));
  Kokkos::View<const double*, Kokkos::HostSpace, Kokkos::MemoryTraits<Kokkos::Unmanaged>> source(
      values.data(), values.size());
  Kokkos::deep_copy(row, source);
}

std::vector<double> ModelParameters::flat() const {
  const auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), values_);
  return std::vector<double>(host.data(), host.data() + host.size());
}

void ModelParameters::set_flat(const std::vector<double>& values) {
  if (values.size() != values_.size())
    throw runtime_error(family_ + ": " + std::to_string(values.size()) + " parameter values for a model of " +
                        std::to_string(values_.size()));
  auto host = Kokkos::create_mirror_view(values_);
  std::copy(values.begin(), values.end(), host.data());
  Kokkos::deep_copy(values_, host);
}

bool ModelParameters::same_shape(const ModelParameters& other) const {
  if (family_ != other.family_ || genes_ != other.genes_ || cell_types_ != other.cell_types_ ||
      set_names_ != other.set_names_ || layout_.size() != other.layout_.size() ||
      layout_.tensors().size() != other.layout_.tensors().size())
    return false;
  for (std::size_t i = 0; i < layout_.tensors().size(); ++i) {
    const TensorSpec &a = layout_.tensors()[i], &b = other.layout_.tensors()[i];
    if (a.name != b.name || a.shape != b.shape) return false;
  }
  return true;
}

double softplus(double rho) {
  return rho > 0 ? rho + std::log1p(std::exp(-rho)) : std::log1p(std::exp(rho));
}

double inverse_softplus(double value) {
  constexpr double lowest_rho = -50.0;
  if (!(value > softplus(lowest_rho))) return lowest_rho;
  // rho = log(exp(value) - 1), written so that neither a large nor a small value loses precision.
  return value > 30.0 ? value + std::log1p(-std::exp(-value)) : std::log(std::expm1(value));
}

} // namespace tessera
