#pragma once
#include <string>
#include <vector>

namespace berth {

struct TarEntry {
  std::string path;  // relative, e.g. "pause"
  std::string content;
  unsigned mode = 0644;
};

// A ustar archive of regular files (what `docker import` takes as a root filesystem).
std::string make_tar(const std::vector<TarEntry>& entries);

}  // namespace berth
