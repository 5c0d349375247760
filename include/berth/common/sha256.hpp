#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace berth {

// SHA-256 (FIPS 180-4), fed in pieces. Kept in-tree so berth needs no crypto library for the few digests it takes.
class Sha256 {
 public:
  using Digest = std::array<std::uint8_t, 32>;

  Sha256();
  void update(std::string_view data);
  // Ends the message; the object must not be fed again afterwards.
  Digest finish();

 private:
  void block(const std::uint8_t* p);

  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buf_{};
  std::size_t buf_len_ = 0;
  std::uint64_t total_ = 0;
};

Sha256::Digest sha256(std::string_view data);
// HMAC-SHA256 (RFC 2104).
Sha256::Digest hmac_sha256(std::string_view key, std::string_view message);
// Lowercase hex of any bytes.
std::string to_hex(const std::uint8_t* data, std::size_t size);
inline std::string to_hex(const Sha256::Digest& d) { return to_hex(d.data(), d.size()); }

}  // namespace berth
