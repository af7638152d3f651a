// The operations table: the single source of truth for "is something running on this game"
// (docs/cli-contract.md). At most one operation per game id; a second is refused
// (operation-in-progress). Every change publishes the whole table, so a frontend that missed
// an event still converges (the seed's active-operations snapshot). Thread: reactor.
#pragma once

#include <lanspread/kernel/contract/views.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace lanspread::kernel::runtime {

enum class Operation {
    Downloading,
    Installing,
    Updating,
    Uninstalling,
    StreamInstalling,
    RemovingDownload
};

// "Downloading", "Installing", ... as in docs/cli-contract.md.
const char *operationName(Operation operation);

class OperationsTable {
  public:
    using Listener = std::function<void(const OperationsTable &table)>;

    // Starts op on gameId; false (and no change) when the game is busy.
    bool begin(const std::string &gameId, Operation op);
    // Changes a running operation (a download handing over to its install).
    void transition(const std::string &gameId, Operation op);
    void end(const std::string &gameId);

    std::optional<Operation> current(const std::string &gameId) const;
    bool empty() const { return _operations.empty(); }
    // {game: "Installing", ...} (status active_operations, the active-operations event)
    contract::OperationsView view() const;
    void setListener(Listener listener) { _listener = std::move(listener); }

  private:
    void changed();
    std::map<std::string, Operation> _operations;
    Listener _listener;
};

} // namespace lanspread::kernel::runtime
