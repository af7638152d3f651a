// Loads plugin shared libraries through the C ABI and applies every acceptance rule of
// sdk/docs/ABI.md, each with its own LoadFailure and a one-line reason. Used by the kernel
// (with its real per-plugin host tables), by lanspread-plugin-check and by the loader tests
// (with the SDK's FakeHost). A rejected plugin never takes the process down.
#pragma once

#include <lanspread/plugin.h>
#include <lanspread/result.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lanspread::kernel::host {

// Why a plugin was refused, one value per acceptance rule, in the order they are checked.
enum class LoadFailure {
    None,
    FileNotLoadable,       // dlopen failed (missing file, not an ELF, unresolved symbol)
    MissingEntrySymbol,    // no lanspread_plugin_v1: not a lanspread plugin (ABI 1)
    NullEntry,             // lanspread_plugin_v1() returned NULL
    AbiMajorMismatch,      // entry.abi_major != LANSPREAD_ABI_MAJOR
    AbiMinorNewer,         // entry.abi_minor > LANSPREAD_ABI_MINOR: built against a newer SDK
    EntryTooSmall,         // entry.struct_size < LANSPREAD_ENTRY_SIZE_V1_0
    DescriptorInvalid,     // descriptor NULL or its struct_size below the 1.0 layout
    MissingRequiredMember, // init, shutdown or get_interface is NULL
    EmptyDescriptorString, // id, name, version, vendor or description NULL or ""
    InvalidKind,           // kind is 0 or unknown
    DuplicateId,           // another accepted plugin has the same id
    InitFailed,            // init() returned an error (shutdown is then not called)
    MissingInterface,      // get_interface(kind's interface id) returned NULL
};

// Stable short name ("missing-entry-symbol") for logs and tests.
const char *loadFailureName(LoadFailure failure);
// "transport", "discovery", "unpacker", "frontend", or "invalid".
const char *kindName(uint32_t kind);
// The interface id a plugin of this kind must offer ("lanspread.unpacker/1"), or "".
const char *kindInterfaceId(uint32_t kind);

// A dlopen()ed library. It is never dlclose()d: a plugin's callbacks, timers and
// thread-locals can outlive a careless shutdown (sdk/docs/ABI.md). Opened with
// RTLD_NOW | RTLD_LOCAL: NOW so a plugin with an unresolved symbol is refused at load time
// instead of killing the process at its first call; LOCAL so two plugins' dependencies
// cannot interpose on each other. (Poco::SharedLibrary, which the design first named, binds
// lazily and offers no RTLD_NOW, so the loader calls dlopen itself.)
class SharedObject {
  public:
    static Result<std::shared_ptr<SharedObject>> open(const std::string &path);
    void *symbol(const char *name) const;

  private:
    explicit SharedObject(void *handle) : _handle(handle) {}
    void *_handle;
};

// A library that passed the static checks (rules up to InvalidKind). The entry and the
// descriptor are copies: min(struct_size, sizeof) bytes of the plugin's, the rest zero, so
// members the plugin's SDK did not have read as 0/NULL. Read the descriptor only through
// `descriptor`: entry.descriptor is cleared, since the plugin's own struct may be shorter
// than this kernel's.
struct PluginImage {
    std::string path;
    std::shared_ptr<SharedObject> library; // kept for the process lifetime
    lanspread_plugin_entry entry{};
    lanspread_plugin_descriptor descriptor{};
    uint32_t declaredEntrySize = 0;      // entry.struct_size as the plugin compiled it
    uint32_t declaredDescriptorSize = 0; // descriptor.struct_size as the plugin compiled it

    std::string id() const { return descriptor.id ? descriptor.id : ""; }
};

// A plugin that passed every rule and whose init() succeeded.
struct LoadedPlugin {
    PluginImage image;
    const lanspread_host_api *host = nullptr; // the table it was initialised with
    void *state = nullptr;                    // what init() returned
    const void *interface = nullptr;          // its kind's interface table

    std::string id() const { return image.id(); }
    uint32_t kind() const { return image.descriptor.kind; }
};

struct LoadOutcome {
    LoadFailure failure = LoadFailure::None;
    std::string reason;             // one line, names the file and the rule
    LoadedPlugin *plugin = nullptr; // set when accepted (owned by the loader)
    bool ok() const { return failure == LoadFailure::None; }
};

struct ImageOutcome {
    LoadFailure failure = LoadFailure::None;
    std::string reason;
    std::unique_ptr<PluginImage> image; // set when the static checks passed
};

// Turns a config entry into a file: a path (contains '/' or ends in ".so") is used as it is;
// an id is looked up in pluginDir, first as the conventional file name
// (org.lanspread.frontend.cli -> lanspread-frontend-cli.so), then by reading the descriptor
// of every .so there. Returns the path, or a failed Status saying what was searched.
Result<std::string> resolvePluginSpec(const std::string &spec, const std::string &pluginDir);

class PluginLoader {
  public:
    // Gives the host table a plugin is initialised with. Called once per plugin, after the
    // static checks and the duplicate-id check, before init(). The table must stay valid
    // until that plugin's shutdown() has returned.
    using HostFactory = std::function<const lanspread_host_api *(const PluginImage &image)>;
    // Told when a table from the factory is no longer used by any plugin: after a failed
    // init, a missing interface, or shutdown. The owner may then clean up after it.
    using HostRelease = std::function<void(const lanspread_host_api *host)>;

    explicit PluginLoader(HostFactory hostFactory, HostRelease hostRelease = {});
    // Shuts down every accepted plugin (reverse load order). Libraries stay mapped.
    ~PluginLoader();
    PluginLoader(const PluginLoader &) = delete;
    PluginLoader &operator=(const PluginLoader &) = delete;

    // dlopens path (RTLD_LOCAL|RTLD_NOW) and applies the static rules; calls no plugin code
    // except lanspread_plugin_v1().
    static ImageOutcome readImage(const std::string &path);

    // Every rule, then init() and the kind-interface check. Accepted plugins are kept;
    // rejections are returned (and remembered in rejections()).
    LoadOutcome load(const std::string &path);

    const std::vector<std::unique_ptr<LoadedPlugin>> &plugins() const { return _plugins; }
    struct Rejection {
        std::string path;
        LoadFailure failure;
        std::string reason;
    };
    const std::vector<Rejection> &rejections() const { return _rejections; }

    // Calls shutdown() on every accepted plugin in reverse load order and forgets them.
    void shutdownAll();

  private:
    LoadOutcome reject(const std::string &path, LoadFailure failure, std::string reason);

    HostFactory _hostFactory;
    HostRelease _hostRelease;
    std::vector<std::unique_ptr<LoadedPlugin>> _plugins;
    std::vector<Rejection> _rejections;
};

} // namespace lanspread::kernel::host
