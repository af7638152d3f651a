// Whole files and file tails for the real-process tests: read, write (parents created), the
// last lines of a log, and a file's SHA-256. Header-only.
#pragma once

#include <Poco/DigestEngine.h>
#include <Poco/SHA2Engine.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lanspread::test {

inline std::string readWholeFile(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

inline void writeWholeFile(const std::string &path, const std::string &data) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out)
        throw std::runtime_error("cannot write " + path);
}

// The last maxLines lines of a text file ("" when it cannot be read).
inline std::string fileTail(const std::string &path, std::size_t maxLines = 30) {
    std::ifstream in(path, std::ios::binary);
    std::deque<std::string> lines;
    std::string line;
    while (std::getline(in, line)) {
        lines.push_back(line);
        if (lines.size() > maxLines)
            lines.pop_front();
    }
    std::string out;
    for (const auto &l : lines)
        out += "    " + l + "\n";
    return out;
}

// Lowercase hex SHA-256 of a file, read in blocks (large files stay out of memory).
inline std::string sha256File(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return "unreadable";
    Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
    std::vector<char> buffer(4 << 20);
    while (in) {
        in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        if (in.gcount() > 0)
            engine.update(buffer.data(), static_cast<unsigned>(in.gcount()));
    }
    return Poco::DigestEngine::digestToHex(engine.digest());
}

} // namespace lanspread::test
