#include <lanspread/kernel/catalog/catalog.hpp>
#include <lanspread/kernel/host/settings.hpp>

#include <Poco/JSON/Parser.h>
#include <Poco/Path.h>

#include <fstream>
#include <sstream>

namespace lanspread::kernel::catalog {

bool Catalog::validGameId(const std::string &id) {
    if (id.empty() || id.size() > 64 || id == "." || id == "..")
        return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    return true;
}

Result<Catalog> Catalog::load(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Status(LANSPREAD_E_IO, "catalog " + path + " cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    return parse(text.str(), path);
}

Result<Catalog> Catalog::parse(const std::string &json, const std::string &origin) {
    auto fail = [&](const std::string &why) {
        return Status(LANSPREAD_E_INVALID_ARGUMENT, "catalog " + origin + ": " + why);
    };
    Poco::JSON::Object::Ptr root;
    try {
        Poco::JSON::Parser parser;
        Poco::Dynamic::Var parsed = parser.parse(json);
        if (parsed.type() == typeid(Poco::JSON::Object::Ptr))
            root = parsed.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception &e) {
        return fail("not valid JSON (" + e.displayText() + ")");
    }
    if (!root)
        return fail("must be a JSON object {\"games\":[...]}");
    Poco::JSON::Array::Ptr games = root->getArray("games");
    if (!games)
        return fail("has no \"games\" array");

    Catalog catalog;
    catalog._origin = origin;
    for (std::size_t i = 0; i < games->size(); ++i) {
        const std::string where = "games[" + std::to_string(i) + "]";
        Poco::JSON::Object::Ptr game = games->getObject(static_cast<unsigned>(i));
        if (!game)
            return fail(where + " is not an object");
        CatalogGame entry;
        for (auto [field, target] : {std::pair<const char *, std::string *>{"id", &entry.id},
                                     {"name", &entry.name},
                                     {"version", &entry.version},
                                     {"description", &entry.description}}) {
            if (!game->has(field) || !game->get(field).isString()) {
                if (std::string(field) == "description")
                    continue; // optional
                return fail(where + " needs a string \"" + field + "\"");
            }
            *target = game->getValue<std::string>(field);
        }
        if (!validGameId(entry.id))
            return fail(where + " id \"" + entry.id +
                        "\" is not a valid game id (1-64 of a-z 0-9 . _ -)");
        if (entry.version.empty() || entry.version.find_first_of("\r\n") != std::string::npos)
            return fail(where + " (" + entry.id + ") needs a one-line, non-empty version");
        if (catalog._byId.count(entry.id))
            return fail("game id \"" + entry.id + "\" appears twice");
        catalog._byId[entry.id] = catalog._games.size();
        catalog._games.push_back(std::move(entry));
    }
    return catalog;
}

const CatalogGame *Catalog::find(const std::string &id) const {
    auto it = _byId.find(id);
    return it == _byId.end() ? nullptr : &_games[it->second];
}

std::string bundledCatalogPath() {
    Poco::Path pluginDir(host::defaultPluginDir()); // <prefix>/lib/lanspread/plugins
    Poco::Path prefix =
        Poco::Path(pluginDir).makeDirectory().popDirectory().popDirectory().popDirectory();
    return prefix.pushDirectory("share")
        .pushDirectory("lanspread")
        .setFileName("catalog.json")
        .toString();
}

} // namespace lanspread::kernel::catalog
