// The access token of the page: 32 random bytes as 64 hex digits, kept in
// <state dir>/frontend-web.token (mode 0600) so the URL a user bookmarked keeps working across
// restarts, and the whole URL in <state dir>/frontend-web.url (mode 0600) for scripts and tests.
// Thread: any (called once at start, on the reactor).
#pragma once

#include <lanspread/result.hpp>

#include <string>

namespace lanspread::plugins::web {

// Reads the token file in stateDir, or creates it with a new random token. A file that is
// there but does not hold one token, or is not a regular file, is an error naming it (it is
// never overwritten: delete it to get a new token); one readable by group or others is made
// 0600 again and `warning` says so.
Result<std::string> loadOrCreateToken(const std::string &stateDir, std::string &warning);

// Writes text to path atomically (a temporary file renamed over it) with mode 0600.
Status writePrivateFile(const std::string &path, const std::string &text);

} // namespace lanspread::plugins::web
