// Fuzz target: catalog parsing (kernel/src/catalog/catalog.cpp, Catalog::parse), the JSON file
// that names every game. Invariants: parse() never throws or crashes; a catalog it accepts has
// only valid, distinct game ids (they become directory names), find() returns each game, and
// an unknown id is not found.
#include "fuzz_support.hpp"

#include <lanspread/kernel/catalog/catalog.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <set>
#include <string>

namespace catalog = lanspread::kernel::catalog;
using lanspread::fuzz::check;
using lanspread::fuzz::fail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    const std::string json(reinterpret_cast<const char *>(data), size);
    try {
        auto parsed = catalog::Catalog::parse(json, "fuzz.json");
        if (!parsed.ok()) {
            check(!parsed.status().message().empty(), "a refused catalog without a message");
            return 0;
        }
        const catalog::Catalog &c = parsed.value();
        std::set<std::string> ids;
        for (const auto &game : c.games()) {
            check(catalog::Catalog::validGameId(game.id), "an invalid game id was accepted");
            check(game.id != "." && game.id != ".." && game.id.find('/') == std::string::npos,
                  "a game id that is not a plain directory name: " + game.id);
            check(ids.insert(game.id).second, "a game id accepted twice: " + game.id);
            const catalog::CatalogGame *found = c.find(game.id);
            check(found != nullptr && found->id == game.id, "find() misses " + game.id);
        }
        check(c.find("no/such/game") == nullptr, "find() returned a game for an invalid id");
    } catch (const std::exception &e) {
        fail(std::string("Catalog::parse threw: ") + e.what());
    }
    return 0;
}
