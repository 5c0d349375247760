#include <berth/common/tar.hpp>

#include <cstdio>
#include <cstring>

namespace berth {
namespace {

void put_octal(char* field, std::size_t width, unsigned long long value) {
  // width-1 octal digits and a NUL, as ustar wants (formatted into a roomy buffer: a value too large for the
  // field keeps its low digits instead of overflowing it).
  char digits[32];
  std::snprintf(digits, sizeof(digits), "%022llo", value);
  std::memcpy(field, digits + 22 - (width - 1), width - 1);
  field[width - 1] = '\0';
}

}  // namespace

std::string make_tar(const std::vector<TarEntry>& entries) {
  std::string out;
  for (const auto& e : entries) {
    char header[512];
    std::memset(header, 0, sizeof(header));
    std::strncpy(header, e.path.c_str(), 99);
    put_octal(header + 100, 8, e.mode);
    put_octal(header + 108, 8, 0);
    put_octal(header + 116, 8, 0);
    put_octal(header + 124, 12, e.content.size());
    put_octal(header + 136, 12, 0);
    header[156] = '0';  // regular file
    std::memcpy(header + 257, "ustar", 6);
    std::memcpy(header + 263, "00", 2);
    std::memset(header + 148, ' ', 8);
    unsigned sum = 0;
    for (unsigned char c : header) {
      sum += c;
    }
    std::snprintf(header + 148, 8, "%06o", sum);
    header[155] = ' ';
    out.append(header, sizeof(header));
    out += e.content;
    out.append((512 - e.content.size() % 512) % 512, '\0');
  }
  out.append(1024, '\0');
  return out;
}

}  // namespace berth
