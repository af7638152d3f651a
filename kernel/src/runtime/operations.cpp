#include <lanspread/kernel/runtime/operations.hpp>

namespace lanspread::kernel::runtime {

const char *operationName(Operation operation) {
    switch (operation) {
    case Operation::Downloading: return "Downloading";
    case Operation::Installing: return "Installing";
    case Operation::Updating: return "Updating";
    case Operation::Uninstalling: return "Uninstalling";
    case Operation::StreamInstalling: return "StreamInstalling";
    case Operation::RemovingDownload: return "RemovingDownload";
    }
    return "Unknown";
}

bool OperationsTable::begin(const std::string &gameId, Operation op) {
    if (_operations.count(gameId))
        return false;
    _operations[gameId] = op;
    changed();
    return true;
}

void OperationsTable::transition(const std::string &gameId, Operation op) {
    _operations[gameId] = op;
    changed();
}

void OperationsTable::end(const std::string &gameId) {
    if (_operations.erase(gameId))
        changed();
}

std::optional<Operation> OperationsTable::current(const std::string &gameId) const {
    auto it = _operations.find(gameId);
    if (it == _operations.end())
        return std::nullopt;
    return it->second;
}

contract::OperationsView OperationsTable::view() const {
    contract::OperationsView view;
    for (const auto &[game, op] : _operations)
        view[game] = operationName(op);
    return view;
}

void OperationsTable::changed() {
    if (_listener)
        _listener(*this);
}

} // namespace lanspread::kernel::runtime
