// The catalog: the authoritative list of game ids and the version each should have
// (docs/on-disk-layout.md). A JSON file {"games":[{"id","name","version","description"}]}.
// Ids become directory names under the games dir, so only [a-z0-9._-] (not "." or "..")
// is accepted.
#pragma once

#include <lanspread/result.hpp>

#include <map>
#include <string>
#include <vector>

namespace lanspread::kernel::catalog {

struct CatalogGame {
    std::string id;
    std::string name;
    std::string version;
    std::string description;
};

class Catalog {
  public:
    // Reads and validates path; the error names the file and what is wrong in it.
    static Result<Catalog> load(const std::string &path);
    // origin names the text in error messages.
    static Result<Catalog> parse(const std::string &json, const std::string &origin);

    const CatalogGame *find(const std::string &id) const;
    const std::vector<CatalogGame> &games() const { return _games; }
    const std::string &origin() const { return _origin; }

    static bool validGameId(const std::string &id);

  private:
    std::vector<CatalogGame> _games; // file order
    std::map<std::string, std::size_t> _byId;
    std::string _origin;
};

// The catalog shipped with lanspread: <exe dir>/../share/lanspread/catalog.json.
std::string bundledCatalogPath();

} // namespace lanspread::kernel::catalog
