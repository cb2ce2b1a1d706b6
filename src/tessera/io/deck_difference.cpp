#include "tessera/io/deck_difference.hpp"

#include "tessera/core/error.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>

namespace tessera {

namespace {

bool is_free(const std::string& path, const std::vector<std::string>& free) {
  return std::any_of(free.begin(), free.end(), [&](const std::string& f) {
    return path == f || (path.size() > f.size() && path.compare(0, f.size(), f) == 0 &&
                         (path[f.size()] == '.' || path[f.size()] == '['));
  });
}

std::string join(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

std::string difference(const YAML::Node& a, const YAML::Node& b, const std::string& path,
                       const std::vector<std::string>& free) {
  if (is_free(path, free)) return "";
  if (a.Type() != b.Type()) return path;
  switch (a.Type()) {
  case YAML::NodeType::Map: {
    for (const auto& item : a) {
      const std::string key = item.first.as<std::string>();
      const YAML::Node other = b[key];
      const std::string where = join(path, key);
      if (!other) {
        if (!is_free(where, free)) return where;
        continue;
      }
      const std::string d = difference(item.second, other, where, free);
      if (!d.empty()) return d;
    }
    for (const auto& item : b) {
      const std::string key = item.first.as<std::string>();
      const std::string where = join(path, key);
      if (!a[key] && !is_free(where, free)) return where;
    }
    return "";
  }
  case YAML::NodeType::Sequence: {
    if (a.size() != b.size()) return path;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const std::string d = difference(a[i], b[i], path + "[" + std::to_string(i) + "]", free);
      if (!d.empty()) return d;
    }
    return "";
  }
  case YAML::NodeType::Scalar:
    return a.Scalar() == b.Scalar() ? "" : path;
  default:
    return "";
  }
}

YAML::Node parse(const std::string& text, const std::string& name) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw input_error(name + ": its deck is not YAML: " + e.what());
  }
}

} // namespace

std::string first_difference(const std::string& before, const std::string& after,
                             const std::vector<std::string>& free, const std::string& before_name) {
  const YAML::Node a = parse(before, before_name);
  const YAML::Node b = parse(after, "the deck");
  const std::string d = difference(a, b, "", free);
  // The roots themselves differing (one not a map) has the empty path.
  return d.empty() && a.Type() != b.Type() ? std::string("(the whole deck)") : d;
}

} // namespace tessera
