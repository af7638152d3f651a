// The checks every HTTP request passes before frontend-web acts on it (docs/web-api.md,
// "Security"): the access token, the Host header (against DNS rebinding) and the Origin header
// (against cross-site requests), and which page files may be served. Pure functions of the
// header texts, so they are tested without a server. Thread: any.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lanspread::plugins::web {

// Whether a Host header names this server in a way a rebinding site cannot: an IP literal
// (IPv6 in brackets), "localhost", or one of allowedNames (case-insensitive); any port.
// An empty or malformed header is refused.
bool hostAllowed(std::string_view hostHeader, const std::vector<std::string> &allowedNames);

// Whether an Origin header (when the request has one) is the page's own: "http://" + the Host
// header, compared case-insensitively. "null" and every other origin are refused.
bool originAllowed(std::string_view origin, std::string_view hostHeader);

// Compares a presented token with the real one in time independent of where they differ.
bool tokenMatches(std::string_view presented, std::string_view token);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or nullopt.
std::optional<std::string> cookieValue(std::string_view cookieHeader, std::string_view name);

// The bearer token of an Authorization header ("Bearer <token>"), or nullopt.
std::optional<std::string> bearerToken(std::string_view authorization);

// The page file a request path names: "/" is index.html, "/<name>" is <name> when name is a
// plain file name (letters, digits, '.', '-', '_'; not starting with '.'); anything else
// (sub-folders, "..", encoded characters) is nullopt.
std::optional<std::string> pageFileFor(std::string_view path);

// The Content-Type of a page file, by extension (application/octet-stream when unknown).
std::string contentTypeFor(std::string_view fileName);

// 64 lowercase hex digits: the only token shape the plugin creates or accepts from its file.
bool isTokenShaped(std::string_view text);

} // namespace lanspread::plugins::web
