// The plugin acceptance rules of sdk/docs/ABI.md, in order. Each rejection carries its own
// LoadFailure and a one-line reason naming the file, so a user sees why a plugin did not load
// and the process keeps running.
#include <lanspread/kernel/host/plugin_loader.hpp>

#include <lanspread/kinds/discovery.h>
#include <lanspread/kinds/frontend.h>
#include <lanspread/kinds/transport.h>
#include <lanspread/kinds/unpacker.h>

#include <Poco/Exception.h>
#include <Poco/File.h>
#include <Poco/Path.h>

#include <dlfcn.h>

#include <algorithm>
#include <cstring>

namespace lanspread::kernel::host {

const char *loadFailureName(LoadFailure failure) {
    switch (failure) {
    case LoadFailure::None: return "none";
    case LoadFailure::FileNotLoadable: return "file-not-loadable";
    case LoadFailure::MissingEntrySymbol: return "missing-entry-symbol";
    case LoadFailure::NullEntry: return "null-entry";
    case LoadFailure::AbiMajorMismatch: return "abi-major-mismatch";
    case LoadFailure::AbiMinorNewer: return "abi-minor-newer";
    case LoadFailure::EntryTooSmall: return "entry-too-small";
    case LoadFailure::DescriptorInvalid: return "descriptor-invalid";
    case LoadFailure::MissingRequiredMember: return "missing-required-member";
    case LoadFailure::EmptyDescriptorString: return "empty-descriptor-string";
    case LoadFailure::InvalidKind: return "invalid-kind";
    case LoadFailure::DuplicateId: return "duplicate-id";
    case LoadFailure::InitFailed: return "init-failed";
    case LoadFailure::MissingInterface: return "missing-interface";
    }
    return "unknown";
}

const char *kindName(uint32_t kind) {
    switch (kind) {
    case LANSPREAD_KIND_TRANSPORT: return "transport";
    case LANSPREAD_KIND_DISCOVERY: return "discovery";
    case LANSPREAD_KIND_UNPACKER: return "unpacker";
    case LANSPREAD_KIND_FRONTEND: return "frontend";
    default: return "invalid";
    }
}

const char *kindInterfaceId(uint32_t kind) {
    switch (kind) {
    case LANSPREAD_KIND_TRANSPORT: return LANSPREAD_TRANSPORT_INTERFACE_ID;
    case LANSPREAD_KIND_DISCOVERY: return LANSPREAD_DISCOVERY_INTERFACE_ID;
    case LANSPREAD_KIND_UNPACKER: return LANSPREAD_UNPACKER_INTERFACE_ID;
    case LANSPREAD_KIND_FRONTEND: return LANSPREAD_FRONTEND_INTERFACE_ID;
    default: return "";
    }
}

Result<std::shared_ptr<SharedObject>> SharedObject::open(const std::string &path) {
    void *handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char *error = ::dlerror();
        return Status(LANSPREAD_E_IO, error ? error : "dlopen failed");
    }
    return std::shared_ptr<SharedObject>(new SharedObject(handle));
}

void *SharedObject::symbol(const char *name) const {
    ::dlerror();
    return ::dlsym(_handle, name);
}

namespace {

ImageOutcome refuse(const std::string &path, LoadFailure failure, const std::string &why) {
    ImageOutcome outcome;
    outcome.failure = failure;
    outcome.reason = path + ": " + loadFailureName(failure) + ": " + why;
    return outcome;
}

// Copies min(declared, sizeof(T)) bytes of a plugin struct into a zeroed T, so members
// appended after the plugin's SDK read as zero (ngtcp2's convert_to_latest, OBS's
// REGISTER_OBS_DEF).
template <typename T> T copyPrefix(const T *source, uint32_t declaredSize) {
    T copy;
    std::memset(&copy, 0, sizeof copy);
    std::memcpy(&copy, source, std::min<std::size_t>(declaredSize, sizeof copy));
    copy.struct_size = declaredSize;
    return copy;
}

bool emptyString(const char *s) {
    return s == nullptr || s[0] == '\0';
}

} // namespace

ImageOutcome PluginLoader::readImage(const std::string &path) {
    auto opened = SharedObject::open(path);
    if (!opened)
        return refuse(path, LoadFailure::FileNotLoadable,
                      "cannot load: " + opened.status().message());
    std::shared_ptr<SharedObject> library = opened.value();

    // Rule 1: the versioned entry symbol.
    void *symbol = library->symbol(LANSPREAD_ENTRY_SYMBOL);
    if (symbol == nullptr)
        return refuse(path, LoadFailure::MissingEntrySymbol,
                      "not a lanspread plugin (ABI 1): no symbol " LANSPREAD_ENTRY_SYMBOL);
    auto entryFn = reinterpret_cast<lanspread_plugin_entry_fn>(symbol);
    const lanspread_plugin_entry *entry = entryFn();
    if (entry == nullptr)
        return refuse(path, LoadFailure::NullEntry, LANSPREAD_ENTRY_SYMBOL "() returned NULL");

    // The three header fields precede every layout, so they are safe to read first.
    // Rule 2: same major.
    if (entry->abi_major != LANSPREAD_ABI_MAJOR)
        return refuse(path, LoadFailure::AbiMajorMismatch,
                      "built for ABI major " + std::to_string(entry->abi_major) +
                          ", this kernel speaks " + std::to_string(LANSPREAD_ABI_MAJOR));
    // Rule 3: not newer than us.
    if (entry->abi_minor > LANSPREAD_ABI_MINOR)
        return refuse(path, LoadFailure::AbiMinorNewer,
                      "built against a newer SDK (ABI 1." + std::to_string(entry->abi_minor) +
                          ", kernel has 1." + std::to_string(LANSPREAD_ABI_MINOR) + ")");
    // Rule 4: at least the first published layout.
    if (entry->struct_size < LANSPREAD_ENTRY_SIZE_V1_0)
        return refuse(path, LoadFailure::EntryTooSmall,
                      "entry struct_size " + std::to_string(entry->struct_size) +
                          " is below the ABI 1.0 size " +
                          std::to_string(LANSPREAD_ENTRY_SIZE_V1_0));

    auto image = std::make_unique<PluginImage>();
    image->path = path;
    image->library = library;
    image->declaredEntrySize = entry->struct_size;
    image->entry = copyPrefix(entry, entry->struct_size);

    // Rule 5: the descriptor and the required members.
    const lanspread_plugin_descriptor *descriptor = image->entry.descriptor;
    if (descriptor == nullptr)
        return refuse(path, LoadFailure::DescriptorInvalid, "entry has no descriptor");
    if (descriptor->struct_size < LANSPREAD_DESCRIPTOR_SIZE_V1_0)
        return refuse(path, LoadFailure::DescriptorInvalid,
                      "descriptor struct_size " + std::to_string(descriptor->struct_size) +
                          " is below the ABI 1.0 size " +
                          std::to_string(LANSPREAD_DESCRIPTOR_SIZE_V1_0));
    image->declaredDescriptorSize = descriptor->struct_size;
    image->descriptor = copyPrefix(descriptor, descriptor->struct_size);
    image->entry.descriptor = nullptr; // see PluginImage: read image->descriptor only

    const lanspread_plugin_entry &e = image->entry;
    const char *missing = e.init == nullptr            ? "init"
                          : e.shutdown == nullptr      ? "shutdown"
                          : e.get_interface == nullptr ? "get_interface"
                                                       : nullptr;
    if (missing != nullptr)
        return refuse(path, LoadFailure::MissingRequiredMember,
                      std::string("required entry member ") + missing + " is NULL");

    const lanspread_plugin_descriptor &d = image->descriptor;
    const char *empty = emptyString(d.id)            ? "id"
                        : emptyString(d.name)        ? "name"
                        : emptyString(d.version)     ? "version"
                        : emptyString(d.vendor)      ? "vendor"
                        : emptyString(d.description) ? "description"
                                                     : nullptr;
    if (empty != nullptr)
        return refuse(path, LoadFailure::EmptyDescriptorString,
                      std::string("descriptor ") + empty + " is empty");

    if (d.kind == LANSPREAD_KIND_INVALID || d.kind > LANSPREAD_KIND_MAX)
        return refuse(path, LoadFailure::InvalidKind,
                      "descriptor kind " + std::to_string(d.kind) + " is not a known kind");

    ImageOutcome outcome;
    outcome.image = std::move(image);
    return outcome;
}

Result<std::string> resolvePluginSpec(const std::string &spec, const std::string &pluginDir) {
    if (spec.find('/') != std::string::npos ||
        (spec.size() > 3 && spec.compare(spec.size() - 3, 3, ".so") == 0)) {
        if (!Poco::File(spec).exists())
            return Status(LANSPREAD_E_NOT_FOUND, "plugin file " + spec + " does not exist");
        return spec;
    }
    const std::string prefix = "org.lanspread.";
    if (spec.rfind(prefix, 0) == 0) {
        std::string file = "lanspread-" + spec.substr(prefix.size());
        std::replace(file.begin(), file.end(), '.', '-');
        Poco::Path conventional(Poco::Path::forDirectory(pluginDir), file + ".so");
        if (Poco::File(conventional).exists()) {
            ImageOutcome read = PluginLoader::readImage(conventional.toString());
            if (read.image && read.image->id() == spec)
                return conventional.toString();
        }
    }
    if (!Poco::File(pluginDir).exists())
        return Status(LANSPREAD_E_NOT_FOUND,
                      "plugin " + spec + ": plugin directory " + pluginDir + " does not exist");
    std::vector<std::string> names;
    Poco::File(pluginDir).list(names);
    std::sort(names.begin(), names.end());
    for (const auto &name : names) {
        if (name.size() < 4 || name.compare(name.size() - 3, 3, ".so") != 0)
            continue;
        Poco::Path candidate(Poco::Path::forDirectory(pluginDir), name);
        ImageOutcome read = PluginLoader::readImage(candidate.toString());
        if (read.image && read.image->id() == spec)
            return candidate.toString();
    }
    return Status(LANSPREAD_E_NOT_FOUND, "no plugin with id " + spec + " in " + pluginDir);
}

PluginLoader::PluginLoader(HostFactory hostFactory, HostRelease hostRelease)
    : _hostFactory(std::move(hostFactory)), _hostRelease(std::move(hostRelease)) {}

PluginLoader::~PluginLoader() {
    shutdownAll();
}

LoadOutcome PluginLoader::reject(const std::string &path, LoadFailure failure, std::string reason) {
    _rejections.push_back({path, failure, reason});
    LoadOutcome outcome;
    outcome.failure = failure;
    outcome.reason = std::move(reason);
    return outcome;
}

LoadOutcome PluginLoader::load(const std::string &path) {
    ImageOutcome read = readImage(path);
    if (!read.image)
        return reject(path, read.failure, read.reason);
    PluginImage &image = *read.image;

    // Rule 5 (continued): ids are unique among accepted plugins.
    const std::string id = image.id();
    for (const auto &loaded : _plugins)
        if (loaded->id() == id)
            return reject(path, LoadFailure::DuplicateId,
                          path + ": duplicate-id: id " + id + " is already loaded from " +
                              loaded->image.path);

    // Rule 6: init, and only then. A failed init is not followed by shutdown.
    auto plugin = std::make_unique<LoadedPlugin>();
    plugin->host = _hostFactory(image);
    void *state = nullptr;
    lanspread_status status = image.entry.init(plugin->host, &state);
    if (status != LANSPREAD_OK) {
        if (_hostRelease)
            _hostRelease(plugin->host);
        return reject(path, LoadFailure::InitFailed,
                      path + ": init-failed: init of " + id + " returned " +
                          lanspread_status_name(status) + " (its log says why)");
    }

    // The kind's interface must exist; without it the kernel cannot use the plugin.
    const char *interfaceId = kindInterfaceId(image.descriptor.kind);
    const void *interface = image.entry.get_interface(state, interfaceId);
    if (interface == nullptr) {
        image.entry.shutdown(state);
        if (_hostRelease)
            _hostRelease(plugin->host);
        return reject(path, LoadFailure::MissingInterface,
                      path + ": missing-interface: " + id + " (" + kindName(image.descriptor.kind) +
                          ") does not offer " + interfaceId);
    }

    plugin->image = std::move(image);
    plugin->state = state;
    plugin->interface = interface;
    _plugins.push_back(std::move(plugin));
    LoadOutcome outcome;
    outcome.plugin = _plugins.back().get();
    return outcome;
}

void PluginLoader::shutdownAll() {
    while (!_plugins.empty()) {
        std::unique_ptr<LoadedPlugin> plugin = std::move(_plugins.back());
        _plugins.pop_back();
        plugin->image.entry.shutdown(plugin->state);
        if (_hostRelease)
            _hostRelease(plugin->host);
    }
}

} // namespace lanspread::kernel::host
