// Seeding a party: when several peers fetch the same game from this peer at once, hand each
// chunk out once before handing any out twice, so that the receivers hold distinct chunks and
// trade them among themselves instead of all pulling the same bytes from here. BitTorrent's
// super-seeding has the same aim; here the seeder keeps advertising every chunk and instead
// answers a request for a chunk it recently sent to another peer with "elsewhere": the
// requester defers that chunk on this peer and fetches it from the peer that got it (which
// announces it in a Have within moments), or asks here again after the deferral.
//
// Rules, per game:
//   - spreading applies only while at least two peers have asked for the game within the
//     window: a lone downloader is always served;
//   - a chunk is refused to a peer when it was served this round to another peer that is
//     still fetching the game (it asked within the window) and relays it (it advertises the
//     game as partial: a streamed install never does), and some chunk of the game has
//     not been served to anyone yet in this round (once every chunk went out at least once,
//     duplicates are the fastest way to finish);
//   - everything else is served and recorded;
//   - a round ends when nobody asked for the game within the window.
// A peer that left stops asking, so the chunks it got are served again one window later.
//
// Pure logic, no I/O; times are passed in. Thread: one (the reactor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace lanspread::kernel::transfer {

class ServeSpreader {
  public:
    explicit ServeSpreader(uint64_t windowNs = 10'000'000'000ull) : _windowNs(windowNs) {}

    // A request for chunk chunkId (of chunkCount, the game's whole list) from requester. True:
    // serve it (recorded as served to requester now). False: refuse it as "elsewhere".
    // relays(peer): whether the peer that got a chunk passes it on (empty: every peer does).
    bool admit(const std::string &game, std::size_t chunkId, std::size_t chunkCount,
               const std::string &requester, uint64_t nowNs,
               const std::function<bool(const std::string &)> &relays = {});

  private:
    struct Served {
        std::string to;
        uint64_t atNs = 0;
    };
    struct Game {
        std::vector<Served> chunks;                 // by chunk id; atNs 0 = not this round
        std::size_t servedOnce = 0;                 // chunks served at least once this round
        std::map<std::string, uint64_t> requesters; // peer -> last request (ns)
    };

    uint64_t _windowNs;
    std::map<std::string, Game> _games;
};

} // namespace lanspread::kernel::transfer
