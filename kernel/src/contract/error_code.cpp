#include <lanspread/kernel/contract/error_code.hpp>

namespace lanspread::kernel::contract {

const char *codeString(ErrorCode code) {
    switch (code) {
    case ErrorCode::InvalidCommand: return "invalid-command";
    case ErrorCode::UnknownGame: return "unknown-game";
    case ErrorCode::NoPeersHaveGame: return "no-peers-have-game";
    case ErrorCode::OperationInProgress: return "operation-in-progress";
    case ErrorCode::SelfConnect: return "self-connect";
    case ErrorCode::ConnectFailed: return "connect-failed";
    case ErrorCode::NotDownloaded: return "not-downloaded";
    case ErrorCode::NotDownloading: return "not-downloading";
    case ErrorCode::NotInstalled: return "not-installed";
    case ErrorCode::AlreadyInstalled: return "already-installed";
    case ErrorCode::AlreadyDownloaded: return "already-downloaded";
    case ErrorCode::InsufficientSpace: return "insufficient-space";
    case ErrorCode::Timeout: return "timeout";
    case ErrorCode::IoError: return "io-error";
    case ErrorCode::InternalError: return "internal-error";
    }
    // Only a value outside the enum gets here (a cast from a bad integer).
    return "internal-error";
}

} // namespace lanspread::kernel::contract
