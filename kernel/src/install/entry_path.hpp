// Internal to the extraction code (kernel/src/install/): the lexical rules for archive entry
// names, shared by the sink and the archive driver. Nothing else includes this. One file per
// job:
//   entry_path.cpp       entry names: normaliseEntryPath, its lexical helpers below, and names
//                        as they appear in messages
//   extraction_sink.cpp  the sink: entries into files, directories and links below the root,
//                        quotas, cancellation
//   extract_archive.cpp  FileByteSource and extractArchive (an unpacker's entries fed into the
//                        sink)
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lanspread::kernel::install::detail {

// An entry name as it may appear in a message, in single quotes: control bytes escaped, long
// names cut.
std::string quoted(std::string_view raw);

bool isDriveLetterPrefix(std::string_view path);

// A non-empty relative name made only of "." and separators ("./", ".", ".\\."): the root.
bool namesTheRootItself(std::string_view raw);

// Splits on '/' (the caller has already turned '\' into '/'), dropping "" and ".".
std::vector<std::string_view> components(std::string_view path);

} // namespace lanspread::kernel::install::detail
