// PeerNetwork: the upload limit. Serving takes its bytes from a TokenBucket; a stream
// that finds it empty waits for one refill timer shared by every waiting stream.
#include "network_internal.hpp"

namespace lanspread::kernel::peers {

using namespace network_detail;

bool PeerNetwork::takeUploadBudget(Session &s, Stream &st, std::size_t bytes) {
    if (_uploadBucket.take(bytes, _reactor.now()))
        return true;
    _uploadWaiters.emplace_back(s.conn, s.serial, st.id);
    if (_uploadTimer == 0) {
        _reactor.startTimer(
            _uploadBucket.waitNs(bytes),
            [this, alive = _alive] {
                if (!*alive)
                    return;
                _uploadTimer = 0;
                auto waiters = std::move(_uploadWaiters);
                _uploadWaiters.clear();
                for (auto &[conn, serial, streamId] : waiters) {
                    Session *t = nullptr;
                    if (Stream *waiting = liveStream(conn, serial, streamId, t))
                        pumpServe(*t, *waiting);
                }
            },
            _uploadTimer);
    }
    return false;
}

} // namespace lanspread::kernel::peers
