#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>

namespace berth {

// Milliseconds since the Unix epoch; all of berth's timestamps are this type.
using TimeMs = std::int64_t;

// Never read the wall clock directly: take a `const Clock&` so tests can move time by hand.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimeMs now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

// A clock that only moves when told to (unit tests; later `berth serve --manual-clock`).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs start = 1'700'000'000'000) : now_(start) {}
  TimeMs now_ms() const override { return now_.load(); }
  void advance_ms(TimeMs delta) { now_ += delta; }
  void set_ms(TimeMs t) { now_ = t; }

 private:
  std::atomic<TimeMs> now_;
};

// AWS JSON timestamps are epoch seconds as a double.
inline double to_epoch_seconds(TimeMs t) { return static_cast<double>(t) / 1000.0; }

}  // namespace berth
