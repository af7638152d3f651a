// Whole-file helpers for tests: write a file (creating its parent directories) and read one
// back. A write that fails fails the test at once, naming the path.
#pragma once

#include <cppunit/extensions/HelperMacros.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace lanspread::test {

inline void writeFile(const std::filesystem::path &path, const std::string &content) {
    if (path.has_parent_path())
        std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    CPPUNIT_ASSERT_MESSAGE("cannot write " + path.string(), out.good());
}

// The file's bytes; "" when it cannot be opened.
inline std::string readFile(const std::filesystem::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

} // namespace lanspread::test
