// Cancel tokens for long operations (download, install, unpack). The kernel creates one per
// operation, hands its handle to plugins, and fires it on cancel or shutdown; plugins poll
// host->is_cancelled(). Thread-safe.
#pragma once

#include <lanspread/host.h>

#include <mutex>
#include <unordered_map>

namespace lanspread::kernel::host {

class CancelRegistry {
  public:
    lanspread_cancel_handle create();
    void cancel(lanspread_cancel_handle token);
    // Forgets a finished operation's token; is_cancelled reads 0 for it afterwards.
    void release(lanspread_cancel_handle token);
    bool isCancelled(lanspread_cancel_handle token) const;
    // Fires every live token (kernel shutdown).
    void cancelAll();

  private:
    mutable std::mutex _mutex;
    lanspread_cancel_handle _next = 1;
    std::unordered_map<lanspread_cancel_handle, bool> _tokens;
};

} // namespace lanspread::kernel::host
