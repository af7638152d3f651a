#include "request_guard.hpp"

#include <Poco/Net/IPAddress.h>

#include <algorithm>
#include <cctype>

namespace lanspread::plugins::web {

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool isPort(std::string_view text) {
    return !text.empty() && text.size() <= 5 &&
           std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

} // namespace

bool hostAllowed(std::string_view hostHeader, const std::vector<std::string> &allowedNames) {
    std::string_view host = hostHeader;
    if (host.empty())
        return false;
    if (host.front() == '[') { // [IPv6]:port
        const auto close = host.find(']');
        if (close == std::string_view::npos)
            return false;
        const std::string_view rest = host.substr(close + 1);
        if (!rest.empty() && !(rest.front() == ':' && isPort(rest.substr(1))))
            return false;
        Poco::Net::IPAddress address;
        return Poco::Net::IPAddress::tryParse(std::string(host.substr(1, close - 1)), address) &&
               address.family() == Poco::Net::IPAddress::IPv6;
    }
    const auto colon = host.rfind(':');
    if (colon != std::string_view::npos) {
        if (!isPort(host.substr(colon + 1)))
            return false;
        host = host.substr(0, colon);
    }
    if (host.empty())
        return false;
    const std::string name = lower(host);
    Poco::Net::IPAddress address;
    if (Poco::Net::IPAddress::tryParse(name, address) &&
        address.family() == Poco::Net::IPAddress::IPv4 &&
        std::all_of(name.begin(), name.end(),
                    [](unsigned char c) { return std::isdigit(c) || c == '.'; }) &&
        std::count(name.begin(), name.end(), '.') == 3)
        return true; // a dotted quad: no DNS name a rebinding site could control
    if (name == "localhost")
        return true;
    return std::any_of(allowedNames.begin(), allowedNames.end(),
                       [&](const std::string &allowed) { return lower(allowed) == name; });
}

bool originAllowed(std::string_view origin, std::string_view hostHeader) {
    if (hostHeader.empty())
        return false;
    return lower(origin) == "http://" + lower(hostHeader);
}

bool tokenMatches(std::string_view presented, std::string_view token) {
    // Length is not secret (always 64); the content is compared without an early exit.
    if (presented.size() != token.size() || token.empty())
        return false;
    unsigned char diff = 0;
    for (std::size_t i = 0; i < token.size(); ++i)
        diff |= static_cast<unsigned char>(presented[i] ^ token[i]);
    return diff == 0;
}

std::optional<std::string> cookieValue(std::string_view cookieHeader, std::string_view name) {
    while (!cookieHeader.empty()) {
        const auto semi = cookieHeader.find(';');
        std::string_view pair = trim(cookieHeader.substr(0, semi));
        cookieHeader =
            semi == std::string_view::npos ? std::string_view() : cookieHeader.substr(semi + 1);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos)
            continue;
        if (trim(pair.substr(0, eq)) == name) {
            std::string_view value = trim(pair.substr(eq + 1));
            if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
                value = value.substr(1, value.size() - 2);
            return std::string(value);
        }
    }
    return std::nullopt;
}

std::optional<std::string> bearerToken(std::string_view authorization) {
    authorization = trim(authorization);
    if (authorization.size() < 7 || lower(authorization.substr(0, 7)) != "bearer ")
        return std::nullopt;
    return std::string(trim(authorization.substr(7)));
}

std::optional<std::string> pageFileFor(std::string_view path) {
    if (path == "/")
        return std::string("index.html");
    if (path.size() < 2 || path.front() != '/')
        return std::nullopt;
    const std::string_view name = path.substr(1);
    if (name.front() == '.' || name.size() > 128)
        return std::nullopt;
    const bool plain = std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '-' || c == '_';
    });
    if (!plain)
        return std::nullopt;
    return std::string(name);
}

std::string contentTypeFor(std::string_view fileName) {
    const auto dot = fileName.rfind('.');
    const std::string ext = dot == std::string_view::npos ? "" : lower(fileName.substr(dot + 1));
    if (ext == "html")
        return "text/html; charset=utf-8";
    if (ext == "js")
        return "text/javascript; charset=utf-8";
    if (ext == "css")
        return "text/css; charset=utf-8";
    if (ext == "svg")
        return "image/svg+xml";
    if (ext == "png")
        return "image/png";
    if (ext == "ico")
        return "image/x-icon";
    if (ext == "txt")
        return "text/plain; charset=utf-8";
    if (ext == "json")
        return "application/json";
    return "application/octet-stream";
}

bool isTokenShaped(std::string_view text) {
    return text.size() == 64 && std::all_of(text.begin(), text.end(), [](unsigned char c) {
               return std::isdigit(c) || (c >= 'a' && c <= 'f');
           });
}

} // namespace lanspread::plugins::web
