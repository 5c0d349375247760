#include <berth/common/ids.hpp>

#include <random>
#include <string_view>

namespace berth::ids {
namespace {

std::mt19937_64& rng() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

std::string random_hex(int n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(n), '0');
  std::uniform_int_distribution<int> dist(0, 15);
  for (auto& c : out) {
    c = kHex[dist(rng())];
  }
  return out;
}

std::string random_from(std::string_view alphabet, int n) {
  std::string out(static_cast<std::size_t>(n), alphabet[0]);
  std::uniform_int_distribution<std::size_t> dist(0, alphabet.size() - 1);
  for (auto& c : out) {
    c = alphabet[dist(rng())];
  }
  return out;
}

}  // namespace

std::string hex32() { return random_hex(32); }

std::string uuid4() {
  std::string h = random_hex(32);
  h[12] = '4';
  static constexpr char kVariant[] = "89ab";
  h[16] = kVariant[std::uniform_int_distribution<int>(0, 3)(rng())];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::string secret_hex(int bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  // libstdc++'s random_device draws each value from the hardware generator or the kernel (getrandom), never from
  // a seeded engine.
  std::random_device device;
  std::string out;
  out.reserve(static_cast<std::size_t>(bytes) * 2);
  unsigned int word = 0;
  for (int i = 0; i < bytes; ++i) {
    if (i % 4 == 0) {
      word = device();
    }
    const unsigned int byte = (word >> (8 * (i % 4))) & 0xffu;
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xfu]);
  }
  return out;
}

std::string secret_uuid4() {
  std::string h = secret_hex(16);
  h[12] = '4';
  static constexpr char kVariant[] = "89ab";
  h[16] = kVariant[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::string digits(int n) {
  std::string out(static_cast<std::size_t>(n), '0');
  std::uniform_int_distribution<int> dist(0, 9);
  for (auto& c : out) {
    c = static_cast<char>('0' + dist(rng()));
  }
  if (n > 0 && out[0] == '0') {
    out[0] = '1';
  }
  return out;
}

// Both draw from the shared engine; they differ only in alphabet.
std::string url_safe(int n) {
  return random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", n);
}

std::string alnum(int n) { return random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", n); }

}  // namespace berth::ids
