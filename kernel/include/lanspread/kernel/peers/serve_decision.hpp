// What the peer network needs to answer a request it serves: either a refusal (the
// protocol's ErrorReply) or, for GetChunk, the byte range of a file to stream. The decision
// itself belongs to the serve gates (transfer/serve_gate.hpp); the network only carries it
// out, so it does not depend on the transfer layer.
#pragma once

#include <cstdint>
#include <string>

namespace lanspread::kernel::peers {

struct ServeRefusal {
    std::string code; // a protocol::ErrorReply code
    std::string message;
};

struct ServeRange {
    std::string relativePath; // as indexed; opened below the game root without following links
    uint64_t offset = 0;
    uint64_t length = 0;
};

} // namespace lanspread::kernel::peers
