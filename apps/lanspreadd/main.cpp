// lanspreadd: one lanspread peer. Reads the embedded default config, then --config FILE,
// then flags (each layer overrides the one before), loads the plugins it names and runs
// until SIGINT/SIGTERM or the shutdown command; SIGHUP re-reads the catalog.
#include <lanspread/kernel/host/settings.hpp>
#include <lanspread/kernel/kernel.hpp>
#include <lanspread/kernel/log/log.hpp>
#include <lanspread/result.hpp>

#include <Poco/File.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionSet.h>
#include <Poco/Util/ServerApplication.h>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace {

using Poco::Util::Application;
using Poco::Util::Option;
using Poco::Util::OptionSet;

// Layer priorities (lower wins): flags are Application's own layer (PRIO_APPLICATION, -100).
constexpr int kConfigFilePriority = 0;
constexpr int kEmbeddedDefaultPriority = 200;
// frontend-cli's output mode (auto, json or human), which --json sets.
constexpr const char *kCliModeKey = "plugin.org.lanspread.frontend.cli.mode";

// The signals the main thread waits for: the three that stop the peer and SIGHUP.
sigset_t daemonSignals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGQUIT);
    sigaddset(&signals, SIGHUP);
    return signals;
}

class Daemon : public Poco::Util::ServerApplication {
  protected:
    void defineOptions(OptionSet &options) override {
        ServerApplication::defineOptions(options);
        options.addOption(Option("help", "h", "print this help and exit")
                              .callback(Poco::Util::OptionCallback<Daemon>(this, &Daemon::onHelp)));
        options.addOption(
            Option("config", "c", "read settings from this INI file")
                .argument("FILE")
                .callback(Poco::Util::OptionCallback<Daemon>(this, &Daemon::onConfig)));
        addBound(options, "games", "games directory (holds <game>/version.ini, archives, local/)",
                 "DIR", "lanspread.games");
        addBound(options, "state", "state directory (identity, index cache, install intents)",
                 "DIR", "lanspread.state");
        addBound(options, "catalog", "catalog JSON file", "FILE", "lanspread.catalog");
        addBound(options, "listen", "transport listen address", "IP:PORT", "lanspread.listen");
        addBound(options, "name", "peer name shown to others", "NAME", "lanspread.name");
        addBound(options, "plugin-dir", "where plugins named by id are looked up", "DIR",
                 "lanspread.plugin_dir");
        addBound(options, "plugins", "comma-separated plugin ids or .so paths to load", "LIST",
                 "lanspread.plugins");
        addBound(options, "log-level",
                 "debug, info, warning, error, or auto (warning on a terminal, else info)", "LEVEL",
                 "lanspread.log_level");
        options.addOption(
            Option("json", "",
                   "JSON lines in and out even on a terminal (frontend-cli's mode = json)")
                .callback(Poco::Util::OptionCallback<Daemon>(this, &Daemon::onJson)));
    }

    int main(const ArgVec &args) override {
        using lanspread::Status;
        if (_helpRequested) {
            Poco::Util::HelpFormatter help(options());
            help.setCommand(commandName());
            help.setUsage("[OPTIONS]");
            help.setHeader("Runs one lanspread peer. Settings come from the embedded default, "
                           "then --config FILE, then the flags below (each overrides the one "
                           "before). Commands are read as JSON lines on standard input "
                           "(docs/cli-contract.md).");
            help.format(std::cout);
            std::cout << "\nEmbedded default config:\n"
                      << lanspread::kernel::host::embeddedDefaultConfig();
            return EXIT_OK;
        }
        if (!args.empty()) {
            std::cerr << "lanspreadd: unexpected argument '" << args.front() << "' (see --help)\n";
            return EXIT_USAGE;
        }
        auto settings = lanspread::kernel::host::Settings::fromConfig(config());
        if (!settings) {
            std::cerr << "lanspreadd: " << settings.status().message() << "\n";
            return EXIT_CONFIG;
        }
        // auto: someone typing at the terminal (human mode of frontend-cli) sees warnings and
        // errors only, so info lines do not tear through the progress bars; scripts, services
        // and JSON lines forced on a terminal (--json) get info.
        std::string level = settings.value().logLevel;
        if (level == "auto")
            level = ::isatty(0) && ::isatty(2) && config().getString(kCliModeKey, "auto") != "json"
                        ? "warning"
                        : "info";
        if (!lanspread::kernel::log::setThreshold(level)) {
            std::cerr << "lanspreadd: lanspread.log_level must be debug, info, warning, error or "
                         "auto, got '"
                      << settings.value().logLevel << "'\n";
            return EXIT_CONFIG;
        }
        for (const auto &[what, dir] :
             {std::pair<const char *, std::string>{"games", settings.value().gamesDir},
              {"state", settings.value().stateDir}}) {
            std::string problem = usableDirectory(dir);
            if (!problem.empty()) {
                std::cerr << "lanspreadd: " << what << " directory " << dir
                          << " is not usable: " << problem << "\n";
                return EXIT_CANTCREAT;
            }
        }

        lanspread::kernel::Kernel kernel(
            settings.value(), Poco::AutoPtr<Poco::Util::AbstractConfiguration>(&config(), true));
        Status prepared = kernel.prepare();
        if (!prepared) {
            std::cerr << "lanspreadd: " << prepared.message() << "\n";
            return EXIT_CONFIG;
        }
        kernel.setExitRequestHandler([] { terminate(); });
        if (Status started = kernel.start(); !started) {
            std::cerr << "lanspreadd: " << started.message() << "\n";
            kernel.stop();
            return EXIT_CONFIG;
        }
        waitForTermination(kernel);
        lanspread::kernel::log::info("lanspreadd", "stopping");
        kernel.stop();
        return EXIT_OK;
    }

  private:
    // ServerApplication::waitForTerminationRequest() with SIGHUP added: SIGHUP (`systemctl
    // reload`) re-reads the catalog and the wait goes on; SIGINT, SIGTERM and SIGQUIT (also
    // what terminate() sends) end it. main() blocked all four before any thread existed.
    // On a terminal SIGHUP keeps its old meaning, hang-up: a peer whose terminal window is
    // closed stops rather than running on unseen.
    static void waitForTermination(lanspread::kernel::Kernel &kernel) {
        sigset_t signals = daemonSignals();
        const bool hangUpStops = ::isatty(0);
        for (;;) {
            int signal = 0;
            if (sigwait(&signals, &signal) != 0)
                return;
            if (signal != SIGHUP || hangUpStops)
                return;
            lanspread::kernel::log::info("lanspreadd", "SIGHUP: reloading the catalog");
            kernel.reloadCatalog();
        }
    }

    void addBound(OptionSet &options, const char *name, const char *help, const char *arg,
                  const char *key) {
        options.addOption(Option(name, "", help).argument(arg).binding(key));
    }

    void onHelp(const std::string &, const std::string &) {
        _helpRequested = true;
        stopOptionsProcessing();
    }

    // In the flags' layer, so it wins over a config file's mode, like every flag.
    void onJson(const std::string &, const std::string &) {
        config().setString(kCliModeKey, "json");
    }

    void onConfig(const std::string &, const std::string &path) {
        // Always INI, whatever the file's extension; a missing or malformed file stops here
        // with Poco's message, which names the file.
        config().add(new Poco::Util::IniFileConfiguration(path), kConfigFilePriority);
    }

    void initialize(Application &self) override {
        std::istringstream defaults(lanspread::kernel::host::embeddedDefaultConfig());
        config().add(new Poco::Util::IniFileConfiguration(defaults), kEmbeddedDefaultPriority);
        ServerApplication::initialize(self);
    }

    // Creates dir if missing; returns "" when it is a writable directory, else why not.
    static std::string usableDirectory(const std::string &dir) {
        try {
            Poco::File file(dir);
            if (!file.exists())
                file.createDirectories();
            if (!file.isDirectory())
                return "it is not a directory";
            if (!file.canWrite())
                return "it is not writable";
        } catch (const Poco::Exception &e) {
            return e.displayText();
        }
        return "";
    }

    bool _helpRequested = false;
};

} // namespace

int main(int argc, char **argv) {
    // Block the termination signals and SIGHUP before any thread exists, so every thread
    // inherits the mask and only waitForTermination()'s sigwait receives them.
    sigset_t signals = daemonSignals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    // A closed stdout must not kill the peer; writes fail with EPIPE instead.
    std::signal(SIGPIPE, SIG_IGN);
    // Avahi's Bonjour compat library (discovery-dnssd) prints a banner to stderr on every
    // first use unless this is set; setenv is only safe here, before any thread exists.
    ::setenv("AVAHI_COMPAT_NOWARN", "1", 0);

    Daemon daemon;
    try {
        return daemon.run(argc, argv);
    } catch (const Poco::Exception &e) {
        std::cerr << "lanspreadd: " << e.displayText() << " (see --help)\n";
        return Application::EXIT_USAGE;
    } catch (const std::exception &e) {
        std::cerr << "lanspreadd: " << e.what() << "\n";
        return Application::EXIT_SOFTWARE;
    }
}
