// InstallEngine::streamInstall: the streamed install transaction (install_engine.hpp).
#include <lanspread/kernel/install/install_engine.hpp>
