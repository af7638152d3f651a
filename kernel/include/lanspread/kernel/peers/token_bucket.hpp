// A token bucket: the upload limit's arithmetic. It fills at `rate` bytes per second up to
// `burst` bytes and starts full; a take succeeds only when the bucket holds that many bytes.
// It keeps no clock of its own (the caller passes its reactor's time) and no queue (the
// caller decides who waits and for how long: waitNs()). Thread: one at a time.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lanspread::kernel::peers {

class TokenBucket {
  public:
    explicit TokenBucket(double burstBytes) : _burst(burstBytes), _tokens(burstBytes) {}

    // Bytes per second; 0 (or less) = no limit: every take succeeds.
    void setRate(double bytesPerSecond) { _rate = bytesPerSecond; }
    double rate() const { return _rate; }
    bool limited() const { return _rate > 0; }

    // Takes `bytes` at time nowNs if they are there. More than the burst can never be there:
    // such a take waits for a full bucket and leaves it in debt.
    bool take(std::size_t bytes, uint64_t nowNs);
    // After a refused take at nowNs: how long until the same take succeeds (at least 1 ns).
    uint64_t waitNs(std::size_t bytes) const;

  private:
    void refill(uint64_t nowNs);

    double _burst;
    double _rate = 0;
    double _tokens;
    uint64_t _lastNs = 0;
    bool _started = false; // _lastNs is meaningful
};

} // namespace lanspread::kernel::peers
