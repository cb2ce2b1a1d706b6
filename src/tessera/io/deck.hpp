// Input decks (SPEC §6.1): YAML parsed with yaml-cpp, `-s key=value` overrides applied, every key checked
// against the modules' key tables, and typed read access whose errors name file, line, column and key.
#pragma once

#include "tessera/core/keys.hpp"

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace tessera {

class Deck;

// One map of the deck — the root, a section, or an entry of a list — read through the key tables.
// Absent optional keys read as their table default.
class DeckView {
public:
  DeckView(const Deck& deck, YAML::Node node, std::string spec_prefix, std::string display_prefix);

  bool has(const std::string& key) const;
  // Whether `key` (a key or a section) is written in the deck, even with nothing under it; and whether it is
  // written with nothing under it (`key:`).
  bool given(const std::string& key) const;
  bool given_empty(const std::string& key) const;
  bool boolean(const std::string& key) const;
  long long integer(const std::string& key) const;
  double real(const std::string& key) const;
  std::string text(const std::string& key) const;
  // A relative path written in the deck is resolved against the deck's folder; one given with -s on the
  // command line against the current directory (Deck::resolve_path).
  std::string path(const std::string& key) const;
  // The whole content of the file a path key names; an unreadable file fails naming the key.
  std::string file_text(const std::string& key) const;
  std::vector<double> reals(const std::string& key) const;
  std::vector<double> per_type(const std::string& key, int n_types) const; // scalar broadcast to n_types
  std::vector<double> per_gene(const std::string& key, int n_genes) const; // scalar broadcast to n_genes
  std::vector<long long> integers(const std::string& key) const;
  std::vector<std::string> texts(const std::string& key) const;
  std::vector<std::vector<double>> matrix(const std::string& key) const;
  std::vector<DeckView> entries(const std::string& key) const;
  DeckView section(const std::string& key) const;

  // "deck.yaml:12:5: key 'grn.genes'" — where a key (or its enclosing map, when absent) stands.
  std::string where(const std::string& key) const;
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;

private:
  const KeySpec& spec(const std::string& key) const;
  YAML::Node value(const std::string& key) const; // the node, or the parsed default

  const Deck* deck_;
  YAML::Node node_;
  std::string spec_prefix_;    // "grn.edges[]"
  std::string display_prefix_; // "grn.edges[3]"
};

class Deck {
public:
  // Parses `text` (the contents of `filename`), applies overrides ("a.b=value") and validates every key
  // against `tables`. Throws input_error naming file:line:column and key. Not collective: every rank parses
  // the same text (read once on rank 0 and broadcast, see app/) and so reaches the same verdict.
  static Deck parse(const std::string& text, const std::string& filename,
                    const std::vector<std::string>& overrides, const std::vector<const KeyTable*>& tables);

  DeckView root() const;
  DeckView section(const std::string& name) const { return root().section(name); }

  const std::string& filename() const { return filename_; }
  const std::string& directory() const { return directory_; }
  // The deck with every default filled in, as YAML: echoed by `tessera check`, stored in every output file.
  std::string resolved_yaml() const;
  // The same with every file path made absolute (resolve_path), so the deck reads the same files when it is
  // written to another folder (a sweep's member decks).
  std::string standalone_yaml() const;

  const KeySpec* find_spec(const std::string& path) const;
  std::string location(const YAML::Node& node, const std::string& display_path) const;
  bool overridden(const std::string& display_path) const { return overrides_.count(display_path) != 0; }
  // The file a path key names: relative to the current directory when the key (or a map or list holding it)
  // was set with -s, as any path typed in a shell is; relative to the deck's folder when the deck says it, so
  // a deck and its data files move together.
  std::string resolve_path(const std::string& display_path, const std::string& value) const;

private:
  void validate_map(const YAML::Node& map, const std::string& spec_prefix,
                    const std::string& display_prefix) const;
  void validate_value(const KeySpec& spec, const YAML::Node& node, const std::string& display_path) const;
  void apply_override(const std::string& assignment);
  void fill_defaults(YAML::Node map, const std::string& spec_prefix) const;
  void absolute_paths(YAML::Node map, const std::string& spec_prefix,
                      const std::string& display_prefix) const;

  std::string filename_;
  std::string directory_;
  YAML::Node root_;
  std::map<std::string, std::string> overrides_; // display path -> "-s a.b=value"
  std::vector<const KeyTable*> tables_;
  std::map<std::string, const KeySpec*> specs_;
  int n_types_ = -1, n_genes_ = -1, dim_ = -1; // for per-type/per-gene/per-axis list lengths
};

// Levenshtein distance, for "did you mean".
int edit_distance(const std::string& a, const std::string& b);

} // namespace tessera
