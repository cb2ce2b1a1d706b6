// Which key two resolved decks disagree on: `tessera run --restart` continues a run only under the deck it
// was started with, except for the keys that cannot change its physics.
#pragma once

#include <string>
#include <vector>

namespace tessera {

// The first key, in document order of `before` then keys only `after` has, whose value differs between the
// resolved decks (Deck::resolved_yaml) `before` and `after`, as a dotted path ("grn.edges[2].K"); keys at or
// below one of `free` ("time.end", "output") are not compared. "" when they agree. Throws input_error when
// either text is not YAML (`before_name` names where the first came from).
std::string first_difference(const std::string& before, const std::string& after,
                             const std::vector<std::string>& free, const std::string& before_name);

} // namespace tessera
