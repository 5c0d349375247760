#pragma once
#include <memory>

#include <berth/app/config.hpp>

namespace berth::app {

// Wires every component and owns their lifetimes; start() and stop() run them in order.
class App {
 public:
  explicit App(Config config);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Starts listening; returns the bound port or why it could not.
  Result<std::uint16_t> start();
  // Serves until SIGINT/SIGTERM, then shuts down gracefully. Returns the process exit code.
  int run_until_signal();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::app
