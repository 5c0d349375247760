#include <berth/runtime/docker_runtime.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace berth::runtime {
namespace {

constexpr std::string_view kDefaultRegistry = "docker.io";
constexpr std::string_view kOfficialPrefix = "library/";
constexpr std::size_t kMaxNameLength = 255;
constexpr std::size_t kMaxTagLength = 128;
constexpr std::size_t kMinDigestHex = 32;

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// path-component: [a-z0-9]+ joined by one of "." "_" "__" or any run of "-".
bool valid_path_component(std::string_view s) {
  if (s.empty() || !is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) {
    return false;
  }
  for (std::size_t i = 0; i < s.size();) {
    if (is_lower_alnum(s[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < s.size() && !is_lower_alnum(s[j])) {
      ++j;
    }
    std::string_view sep = s.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) {
      return false;
    }
    i = j;
  }
  return true;
}

// domain-component: alphanumerics with inner dashes; the domain may end in ":port".
bool valid_domain(std::string_view s) {
  std::size_t colon = s.find(':');
  std::string_view host = s.substr(0, colon);
  if (colon != std::string_view::npos) {
    std::string_view port = s.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return false;
    }
  }
  if (host.empty()) {
    return false;
  }
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t dot = host.find('.', start);
    std::string_view part =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (part.empty() || !is_alnum(part.front()) || !is_alnum(part.back())) {
      return false;
    }
    for (char c : part) {
      if (!is_alnum(c) && c != '-') {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return true;
}

bool valid_tag(std::string_view s) {
  if (s.empty() || s.size() > kMaxTagLength) {
    return false;
  }
  auto word = [](char c) { return is_alnum(c) || c == '_'; };
  if (!word(s.front())) {
    return false;
  }
  for (char c : s) {
    if (!word(c) && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

// algorithm ":" hex, e.g. sha256:<64 hex>.
bool valid_digest(std::string_view s) {
  std::size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return false;
  }
  std::string_view algorithm = s.substr(0, colon);
  std::string_view hex = s.substr(colon + 1);
  if (!is_alnum(algorithm.front()) || !is_alnum(algorithm.back())) {
    return false;
  }
  for (char c : algorithm) {
    if (!is_alnum(c) && c != '+' && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  if (hex.size() < kMinDigestHex) {
    return false;
  }
  for (char c : hex) {
    if (!is_hex(c)) {
      return false;
    }
  }
  return true;
}

bool looks_like_domain(std::string_view first) {
  return first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
         first == "localhost";
}

bool has_upper(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') {
      return true;
    }
  }
  return false;
}

std::optional<ImageReference> fail(std::string* error, std::string message) {
  if (error != nullptr) {
    *error = std::move(message);
  }
  return std::nullopt;
}

}  // namespace

std::string ImageReference::familiar_name() const {
  if (registry == kDefaultRegistry) {
    if (path.starts_with(kOfficialPrefix) && path.find('/', kOfficialPrefix.size()) == std::string::npos) {
      return path.substr(kOfficialPrefix.size());
    }
    return path;
  }
  return registry + "/" + path;
}

std::string ImageReference::pull_tag() const { return digest.empty() ? tag : digest; }

std::string ImageReference::pinned() const {
  return digest.empty() ? familiar_name() + ":" + tag : familiar_name() + "@" + digest;
}

std::optional<ImageReference> parse_image_reference(std::string_view reference, std::string* error) {
  constexpr std::string_view kInvalid = "invalid reference format";
  if (reference.empty()) {
    return fail(error, std::string(kInvalid));
  }
  ImageReference out;
  std::string_view rest = reference;

  if (std::size_t at = rest.find('@'); at != std::string_view::npos) {
    out.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!valid_digest(out.digest)) {
      return fail(error, std::string(kInvalid));
    }
  }
  // A colon after the last slash starts the tag; one before it belongs to a registry port.
  std::size_t last_colon = rest.rfind(':');
  std::size_t last_slash = rest.rfind('/');
  if (last_colon != std::string_view::npos &&
      (last_slash == std::string_view::npos || last_colon > last_slash)) {
    out.tag = std::string(rest.substr(last_colon + 1));
    rest = rest.substr(0, last_colon);
    if (!valid_tag(out.tag)) {
      return fail(error, std::string(kInvalid));
    }
  }
  if (rest.empty() || rest.size() > kMaxNameLength) {
    return fail(error, std::string(kInvalid));
  }

  std::string_view path = rest;
  out.registry = std::string(kDefaultRegistry);
  if (std::size_t slash = rest.find('/');
      slash != std::string_view::npos && looks_like_domain(rest.substr(0, slash))) {
    out.registry = std::string(rest.substr(0, slash));
    path = rest.substr(slash + 1);
    if (!valid_domain(out.registry)) {
      return fail(error, std::string(kInvalid));
    }
    if (out.registry == "index.docker.io") {
      out.registry = std::string(kDefaultRegistry);
    }
  }
  if (has_upper(path)) {
    return fail(error, std::string(kInvalid) + ": repository name must be lowercase");
  }
  std::size_t start = 0;
  while (true) {
    std::size_t slash = path.find('/', start);
    std::string_view component =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!valid_path_component(component)) {
      return fail(error, std::string(kInvalid));
    }
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  out.path = std::string(path);
  if (out.registry == kDefaultRegistry && out.path.find('/') == std::string::npos) {
    out.path = std::string(kOfficialPrefix) + out.path;
  }
  if (out.tag.empty() && out.digest.empty()) {
    out.tag = "latest";
  }
  return out;
}

}  // namespace berth::runtime
