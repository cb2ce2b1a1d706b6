// Host vectors of parameters (read from decks, on the host) copied into Views in the execution space's
// memory, where kernels read them.
#pragma once

#include <Kokkos_Core.hpp>

#include <string>
#include <vector>

namespace tessera {

template <class T>
Kokkos::View<T*> to_device(const std::string& label, const std::vector<T>& values) {
  Kokkos::View<T*> out(label, values.size());
  auto host = Kokkos::create_mirror_view(out);
  for (std::size_t i = 0; i < values.size(); ++i)
    host(i) = values[i];
  Kokkos::deep_copy(out, host);
  return out;
}

} // namespace tessera
