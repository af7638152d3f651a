// The error codes of the command contract: every failed command's result carries one as its
// stable "code" string ({"ok":false,"error":{"code":...,"message":...}}). Code travels as a
// typed ErrorCode from the component that knows it to the reply; codeString() is the only
// place that spells it, and no code is ever read back out of a message.
#pragma once

#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace lanspread::kernel::contract {

enum class ErrorCode {
    InvalidCommand,      // not JSON, no cmd, unknown cmd, a missing or malformed field
    UnknownGame,         // the game is not in the local catalog
    NoPeersHaveGame,     // no connected peer offers the game Ready at the catalog version
    OperationInProgress, // the game (or, for set-game-dir, any game) is busy
    SelfConnect,         // connect reached this peer's own listener
    ConnectFailed,       // no connection or no handshake with the peer
    NotDownloaded,       // the game has no downloaded files
    NotDownloading,      // cancel-download for a game that is not being downloaded
    NotInstalled,        // the game has no local/ install
    AlreadyInstalled,    // remove of a game that is still installed; stream-install of one
    AlreadyDownloaded,   // stream-install of a game whose archives are downloaded
    InsufficientSpace,   // download: the games dir's filesystem is too full for the archives
    Timeout,             // wait-peers ran out of time
    IoError,             // the disk or the library failed
    InternalError,       // the command ended without an answer (a kernel bug)
};

// Every code, for whoever must cover them all (the contract test).
inline constexpr std::array<ErrorCode, 15> kAllErrorCodes{
    ErrorCode::InvalidCommand,    ErrorCode::UnknownGame,
    ErrorCode::NoPeersHaveGame,   ErrorCode::OperationInProgress,
    ErrorCode::SelfConnect,       ErrorCode::ConnectFailed,
    ErrorCode::NotDownloaded,     ErrorCode::NotDownloading,
    ErrorCode::NotInstalled,      ErrorCode::AlreadyInstalled,
    ErrorCode::AlreadyDownloaded, ErrorCode::InsufficientSpace,
    ErrorCode::Timeout,           ErrorCode::IoError,
    ErrorCode::InternalError};

// The stable string frontends and scripts see: "invalid-command", "unknown-game", ...
const char *codeString(ErrorCode code);

// Why a command failed: the code for programs, the message for people.
struct Failure {
    ErrorCode code = ErrorCode::InternalError;
    std::string message;
};

// A value, or the Failure a command answers with. Reading the side that is not there
// throws std::logic_error (a kernel bug, never a user's mistake).
template <typename T> class Outcome {
  public:
    Outcome(T value) : _value(std::move(value)) {}
    Outcome(Failure failure) : _failure(std::move(failure)) {}

    bool ok() const { return _value.has_value(); }
    explicit operator bool() const { return ok(); }
    const T &value() const {
        if (!_value)
            throw std::logic_error("Outcome::value() of a failure: " + _failure.message);
        return *_value;
    }
    const Failure &failure() const {
        if (_value)
            throw std::logic_error("Outcome::failure() of a success");
        return _failure;
    }

  private:
    std::optional<T> _value;
    Failure _failure;
};

// Success without a value, or a Failure.
template <> class Outcome<void> {
  public:
    Outcome() = default;
    Outcome(Failure failure) : _failure(std::move(failure)) {}

    bool ok() const { return !_failure.has_value(); }
    explicit operator bool() const { return ok(); }
    const Failure &failure() const {
        if (!_failure)
            throw std::logic_error("Outcome::failure() of a success");
        return *_failure;
    }

  private:
    std::optional<Failure> _failure;
};

} // namespace lanspread::kernel::contract
