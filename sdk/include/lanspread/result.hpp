// lanspread plugin SDK — C++20 wrapper: Status and Result<T>.
//
// Header-only. g++ 12 has no std::expected, so this is the small stand-in the wrapper and
// the kernel use: a status code from status.h, a message for the log, and a value on success.
#pragma once

#include <lanspread/status.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace lanspread {

// A status code with an optional human message (the message is for logs, never the ABI).
class Status {
  public:
    Status() = default;
    Status(lanspread_status code, std::string message = {})
        : _code(code), _message(std::move(message)) {}
    static Status ok() { return Status(); }

    lanspread_status code() const { return _code; }
    const std::string &message() const { return _message; }
    // OK and END count as success, like lanspread_succeeded().
    bool succeeded() const { return lanspread_succeeded(_code) != 0; }
    explicit operator bool() const { return succeeded(); }
    // "E_IO: cannot open /x" or just "E_IO".
    std::string describe() const {
        std::string text = lanspread_status_name(_code);
        if (!_message.empty())
            text += ": " + _message;
        return text;
    }

  private:
    lanspread_status _code = LANSPREAD_OK;
    std::string _message;
};

// Thrown by plugin code that wants a hook to return a specific status; the wrapper's
// trampolines turn it into that status (any other exception becomes E_FAILED).
class StatusError : public std::runtime_error {
  public:
    explicit StatusError(Status status)
        : std::runtime_error(status.describe()), _status(std::move(status)) {}
    StatusError(lanspread_status code, std::string message)
        : StatusError(Status(code, std::move(message))) {}
    const Status &status() const { return _status; }

  private:
    Status _status;
};

// A value or a failed Status. Accessing value() of a failed result throws std::logic_error.
template <typename T> class Result {
  public:
    Result(T value) : _value(std::move(value)) {}
    Result(Status failure) : _status(std::move(failure)) {
        if (_status.succeeded())
            _status = Status(LANSPREAD_E_FAILED, "Result built from a success status");
    }
    Result(lanspread_status code, std::string message) : Result(Status(code, std::move(message))) {}

    bool ok() const { return _value.has_value(); }
    explicit operator bool() const { return ok(); }
    const Status &status() const { return _status; }

    T &value() {
        check();
        return *_value;
    }
    const T &value() const {
        check();
        return *_value;
    }
    T valueOr(T fallback) const { return _value ? *_value : std::move(fallback); }

  private:
    void check() const {
        if (!_value)
            throw std::logic_error("Result::value() on failure: " + _status.describe());
    }
    std::optional<T> _value;
    Status _status;
};

} // namespace lanspread
