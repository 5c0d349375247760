#include <berth/protocol/validator.hpp>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::protocol {
namespace {

// Coral stops listing violations after a handful; a hostile request must not make the message large either.
constexpr std::size_t kMaxViolations = 10;
// How much of a caller's value or map key a message echoes (in characters).
constexpr std::size_t kMaxQuotedValue = 256;
constexpr std::size_t kMaxQuotedKey = 64;

// ---- UTF-8 helpers: messages quote caller text, and a message must stay valid UTF-8 to be rendered as JSON.

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  std::uint32_t code = 0;
  if (lead < 0x80) {
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return 0;
    }
    code = (code << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr std::uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code < kSmallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    return 0;
  }
  return length;
}

// Appends at most `limit` characters of `text`, replacing invalid bytes with U+FFFD and marking a cut with
// "...".
void append_clipped(std::string& out, std::string_view text, std::size_t limit) {
  std::size_t chars = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    if (chars == limit) {
      out += "...";
      return;
    }
    std::size_t length = utf8_sequence_length(text, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";
      i += 1;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
    ++chars;
  }
}

// Length in characters (Unicode code points), as Smithy's @length counts a string.
std::size_t character_count(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// ---- Scalars that arrive as strings.

bool is_digits(std::string_view s, std::size_t from, std::size_t count) {
  if (from + count > s.size()) {
    return false;
  }
  return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(from),
                     s.begin() + static_cast<std::ptrdiff_t>(from + count),
                     [](char c) { return c >= '0' && c <= '9'; });
}

int number_at(std::string_view s, std::size_t from, std::size_t count) {
  int value = 0;
  for (std::size_t k = from; k < from + count; ++k) {
    value = value * 10 + (s[k] - '0');
  }
  return value;
}

// RFC 3339 date-time: 2024-05-01T12:00:00Z, with optional fraction and a Z or +hh:mm / +hhmm offset.
bool is_iso8601(std::string_view s) {
  if (!is_digits(s, 0, 4) || s.size() < 20 || s[4] != '-' || !is_digits(s, 5, 2) || s[7] != '-' ||
      !is_digits(s, 8, 2) || (s[10] != 'T' && s[10] != 't') || !is_digits(s, 11, 2) || s[13] != ':' ||
      !is_digits(s, 14, 2) || s[16] != ':' || !is_digits(s, 17, 2)) {
    return false;
  }
  const int year = number_at(s, 0, 4);
  const int month = number_at(s, 5, 2);
  const int day = number_at(s, 8, 2);
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0) ||
      number_at(s, 11, 2) > 23 || number_at(s, 14, 2) > 59 || number_at(s, 17, 2) > 60) {
    return false;
  }
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    std::size_t digits = 0;
    while (i + 1 + digits < s.size() && is_digits(s, i + 1 + digits, 1)) {
      ++digits;
    }
    if (digits == 0 || digits > 9) {
      return false;
    }
    i += 1 + digits;
  }
  std::string_view zone = s.substr(i);
  if (zone == "Z" || zone == "z") {
    return true;
  }
  if (zone.size() != 6 && zone.size() != 5) {
    return false;
  }
  if (zone[0] != '+' && zone[0] != '-') {
    return false;
  }
  const bool colon = zone.size() == 6;
  if (!is_digits(zone, 1, 2) || (colon && zone[3] != ':') || !is_digits(zone, colon ? 4 : 3, 2)) {
    return false;
  }
  return number_at(zone, 1, 2) <= 23 && number_at(zone, colon ? 4 : 3, 2) <= 59;
}

// Decoded size of padded standard base64, or nullopt if invalid. The rules are those of berth::base64_decode,
// which the handlers use, so what passes here decodes there; only the size is computed, as a blob may be
// megabytes.
std::optional<std::size_t> base64_decoded_size(std::string_view s) {
  if (s.size() % 4 != 0) {
    return std::nullopt;
  }
  std::size_t data = s.size();
  while (data > 0 && s[data - 1] == '=') {
    --data;
  }
  if (s.size() - data > 2) {
    return std::nullopt;
  }
  const bool alphabet = std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(data), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
  });
  if (!alphabet) {
    return std::nullopt;
  }
  return data / 4 * 3 + (data % 4 == 0 ? 0 : data % 4 - 1);
}

// ---- Rendering for messages.

// Bounds print as integers where they are integral (the models' bounds are), so "100" rather than
// "100.000000".
std::string format_bound(double bound) {
  if (std::trunc(bound) == bound && std::fabs(bound) < 1e18) {
    return std::to_string(static_cast<long long>(bound));
  }
  return json(bound).dump();
}

// Appends a value the way Coral quotes it (Java's toString style), stopping once `out` reaches `limit` bytes
// so that a huge list costs no more than a small one.
void render_value(const json& value, std::string& out, std::size_t limit) {
  if (out.size() >= limit) {
    return;
  }
  switch (value.type()) {
    case json::value_t::string:
      append_clipped(out, value.get_ref<const std::string&>(), kMaxQuotedValue);
      return;
    case json::value_t::array: {
      out += '[';
      bool first = true;
      for (const json& entry : value) {
        if (out.size() >= limit) {
          out += "...";
          break;
        }
        if (!first) {
          out += ", ";
        }
        first = false;
        render_value(entry, out, limit);
      }
      out += ']';
      return;
    }
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (out.size() >= limit) {
          out += "...";
          break;
        }
        if (!first) {
          out += ", ";
        }
        first = false;
        append_clipped(out, it.key(), kMaxQuotedKey);
        out += '=';
        render_value(it.value(), out, limit);
      }
      out += '}';
      return;
    }
    case json::value_t::number_integer:
      out += std::to_string(value.get<std::int64_t>());
      return;
    case json::value_t::number_unsigned:
      out += std::to_string(value.get<std::uint64_t>());
      return;
    case json::value_t::number_float:
      out += json(value.get<double>()).dump();
      return;
    case json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    default:
      out += "null";
      return;
  }
}

std::string shown_value(const json& value) {
  std::string out;
  render_value(value, out, kMaxQuotedValue);
  return out;
}

// The JSON token names Coral's messages use for what it found.
const char* token_name(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return "STRING_VALUE";
    case json::value_t::boolean:
      return "BOOLEAN_VALUE";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "NUMBER_VALUE";
    case json::value_t::null:
      return "NULL_VALUE";
    default:
      return "VALUE";
  }
}

// ---- The walk.

// One step from the input root to a value; rendered only when a message needs the path.
struct Step {
  std::string_view name;  // member name or map key; unused for a list entry
  std::size_t index = 0;  // 1-based list position; 0 for members and map values
};

class Checker {
 public:
  explicit Checker(const ServiceModel& service) : service_(service) {}

  // Checks `value` (never null) against `shape`. Returns false once a SerializationException has been
  // recorded: like Coral, a request that does not deserialize is not validated further.
  bool check(const Shape* shape, const json& value) {
    if (shape == nullptr) {
      return true;  // a document shape (see load_service_model): any JSON value is fine
    }
    // JSON depth is bounded by the parser; this bounds recursion for any other caller and any recursive
    // model.
    if (path_.size() > kMaxJsonDepth) {
      return fail("Input nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    switch (shape->type) {
      case ShapeType::kStructure:
        return check_structure(*shape, value);
      case ShapeType::kList:
        return check_list(*shape, value);
      case ShapeType::kMap:
        return check_map(*shape, value);
      case ShapeType::kString:
        return check_string(*shape, value);
      case ShapeType::kInteger:
        return check_integral(*shape, value, "an Integer", std::numeric_limits<std::int32_t>::min(),
                              std::numeric_limits<std::int32_t>::max());
      case ShapeType::kLong:
        return check_integral(*shape, value, "a Long", std::numeric_limits<std::int64_t>::min(),
                              std::numeric_limits<std::int64_t>::max());
      case ShapeType::kDouble:
        return check_floating(*shape, value, "a Double", std::numeric_limits<double>::max());
      case ShapeType::kFloat:
        return check_floating(*shape, value, "a Float", FLT_MAX);
      case ShapeType::kBoolean:
        return value.is_boolean() || wrong_type(value, "a Boolean", false);
      case ShapeType::kTimestamp:
        return check_timestamp(value);
      case ShapeType::kBlob:
        return check_blob(*shape, value);
    }
    return true;
  }

  std::optional<AwsError> result() const {
    if (serialization_) {
      return serialization_;
    }
    if (violations_.empty()) {
      return std::nullopt;
    }
    std::string message =
        std::to_string(violations_.size()) +
        (violations_.size() == 1 ? " validation error detected: " : " validation errors detected: ");
    for (std::size_t i = 0; i < violations_.size(); ++i) {
      if (i > 0) {
        message += "; ";
      }
      message += violations_[i];
    }
    return AwsError::client("ValidationException", std::move(message));
  }

 private:
  // Pops its step however the check it guards returns.
  class PathStep {
   public:
    PathStep(std::vector<Step>& path, Step step) : path_(path) { path_.push_back(step); }
    ~PathStep() { path_.pop_back(); }
    PathStep(const PathStep&) = delete;
    PathStep& operator=(const PathStep&) = delete;

   private:
    std::vector<Step>& path_;
  };

  std::string path_text() const {
    std::string text;
    for (const Step& step : path_) {
      if (!text.empty()) {
        text += '.';
      }
      if (step.index > 0) {
        // Coral names list entries "<list>.<n>.member", counting from 1.
        text += std::to_string(step.index);
        text += ".member";
      } else {
        append_clipped(text, step.name, kMaxQuotedKey);
      }
    }
    return text;
  }

  bool fail(std::string message) {
    if (!path_.empty()) {
      message += " at '" + path_text() + "'";
    }
    serialization_ = AwsError::client("SerializationException", std::move(message));
    return false;
  }

  // `container` says whether `expected` is a structure, list or map (Coral words those mismatches
  // differently).
  bool wrong_type(const json& value, const char* expected, bool container) {
    if (value.is_object()) {
      return fail("Start of structure or map found where not expected");
    }
    if (value.is_array()) {
      return fail("Start of list found where not expected");
    }
    if (container) {
      return fail(std::string("Unexpected field type: ") + token_name(value) + " found where " + expected +
                  " is expected");
    }
    return fail(std::string(token_name(value)) + " can not be converted to " + expected);
  }

  // Records "Value <v> at '<path>' failed to satisfy constraint: <constraint>"; `value` null means absent.
  void violate(const json* value, const std::string& constraint) {
    if (violations_.size() >= kMaxViolations) {
      return;
    }
    std::string text = "Value ";
    if (value == nullptr || value->is_null()) {
      text += "null";
    } else {
      text += '\'';
      render_value(*value, text, text.size() + kMaxQuotedValue);
      text += '\'';
    }
    text += " at '" + path_text() + "' failed to satisfy constraint: " + constraint;
    violations_.push_back(std::move(text));
  }

  // The length constraints of `shape` that `length` breaks (strings: characters; lists/maps: entries; blobs:
  // bytes).
  static std::vector<std::string> length_violations(const Shape& shape, std::size_t length) {
    std::vector<std::string> out;
    const auto size = static_cast<double>(length);
    if (shape.max && size > *shape.max) {
      out.push_back("Member must have length less than or equal to " + format_bound(*shape.max));
    }
    if (shape.min && size < *shape.min) {
      out.push_back("Member must have length greater than or equal to " + format_bound(*shape.min));
    }
    return out;
  }

  static std::vector<std::string> string_violations(const Shape& shape, std::string_view text) {
    std::vector<std::string> out;
    if (!shape.enum_values.empty() &&
        std::find(shape.enum_values.begin(), shape.enum_values.end(), text) == shape.enum_values.end()) {
      std::string allowed = "Member must satisfy enum value set: [";
      for (std::size_t i = 0; i < shape.enum_values.size(); ++i) {
        allowed += (i > 0 ? ", " : "") + shape.enum_values[i];
      }
      out.push_back(allowed + "]");
    }
    for (std::string& length : length_violations(shape, character_count(text))) {
      out.push_back(std::move(length));
    }
    return out;
  }

  void check_range(const Shape& shape, long double number, const json& value) {
    if (shape.max && number > static_cast<long double>(*shape.max)) {
      violate(&value, "Member must have value less than or equal to " + format_bound(*shape.max));
    }
    if (shape.min && number < static_cast<long double>(*shape.min)) {
      violate(&value, "Member must have value greater than or equal to " + format_bound(*shape.min));
    }
  }

  bool is_required(const Shape& shape, std::string_view member) const {
    return std::find(shape.required.begin(), shape.required.end(), member) != shape.required.end();
  }

  bool check_structure(const Shape& shape, const json& value) {
    if (!value.is_object()) {
      return wrong_type(value, "a structure", true);
    }
    // Model order, so the violations read in the order the API documents its members. Members the model does
    // not know are never looked at: AWS JSON services ignore them.
    for (const auto& [member, member_shape] : shape.members) {
      PathStep step(path_, Step{member, 0});
      auto it = value.find(member);
      if (it == value.end() || it->is_null()) {
        if (is_required(shape, member)) {
          violate(nullptr, "Member must not be null");
        }
        continue;
      }
      if (!check(service_.find_shape(member_shape), *it)) {
        return false;
      }
    }
    return true;
  }

  bool check_list(const Shape& shape, const json& value) {
    if (!value.is_array()) {
      return wrong_type(value, "a list", true);
    }
    for (const std::string& violation : length_violations(shape, value.size())) {
      violate(&value, violation);
    }
    const Shape* member = service_.find_shape(shape.member);
    std::size_t index = 0;
    for (const json& entry : value) {
      PathStep step(path_, Step{{}, ++index});
      if (entry.is_null()) {
        violate(nullptr, "Member must not be null");
        continue;
      }
      if (!check(member, entry)) {
        return false;
      }
    }
    return true;
  }

  bool check_map(const Shape& shape, const json& value) {
    if (!value.is_object()) {
      return wrong_type(value, "a map", true);
    }
    for (const std::string& violation : length_violations(shape, value.size())) {
      violate(&value, violation);
    }
    const Shape* key_shape = service_.find_shape(shape.key);
    const Shape* value_shape = service_.find_shape(shape.member);
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string& key = it.key();
      const json& entry = it.value();
      if (key_shape != nullptr && violations_.size() < kMaxViolations) {
        std::vector<std::string> broken = string_violations(*key_shape, key);
        if (!broken.empty()) {
          std::string constraint = "Map keys must satisfy constraint: [";
          for (std::size_t i = 0; i < broken.size(); ++i) {
            constraint += (i > 0 ? ", " : "") + broken[i];
          }
          const json quoted_key(key);
          violate(&quoted_key, constraint + "]");
        }
      }
      PathStep step(path_, Step{it.key(), 0});
      if (entry.is_null()) {
        violate(nullptr, "Member must not be null");
        continue;
      }
      if (!check(value_shape, entry)) {
        return false;
      }
    }
    return true;
  }

  bool check_string(const Shape& shape, const json& value) {
    if (!value.is_string()) {
      return wrong_type(value, "a String", false);
    }
    for (const std::string& violation : string_violations(shape, value.get_ref<const std::string&>())) {
      violate(&value, violation);
    }
    return true;
  }

  bool check_integral(const Shape& shape, const json& value, const char* target, std::int64_t lowest,
                      std::int64_t highest) {
    if (!value.is_number()) {
      return wrong_type(value, target, false);
    }
    const std::string shown = shown_value(value);
    long double number = 0;
    if (value.is_number_unsigned()) {
      const auto n = value.get<std::uint64_t>();
      if (n > static_cast<std::uint64_t>(highest)) {
        return fail("NUMBER_VALUE " + shown + " is out of range for " + target);
      }
      number = static_cast<long double>(n);
    } else if (value.is_number_integer()) {
      const auto n = value.get<std::int64_t>();
      if (n < lowest || n > highest) {
        return fail("NUMBER_VALUE " + shown + " is out of range for " + target);
      }
      number = static_cast<long double>(n);
    } else {
      const double d = value.get<double>();
      if (!std::isfinite(d) || std::trunc(d) != d) {
        return fail("NUMBER_VALUE " + shown + " can not be converted to " + target);
      }
      // 2^63 is exact as a double, so the upper test is exact; int32 bounds are exact too.
      const bool in_range = static_cast<long double>(d) >= static_cast<long double>(lowest) &&
                            static_cast<long double>(d) <= static_cast<long double>(highest);
      if (!in_range || d >= 9223372036854775808.0) {
        return fail("NUMBER_VALUE " + shown + " is out of range for " + target);
      }
      number = static_cast<long double>(d);
    }
    check_range(shape, number, value);
    return true;
  }

  bool check_floating(const Shape& shape, const json& value, const char* target, double largest) {
    if (!value.is_number()) {
      return wrong_type(value, target, false);
    }
    const double d = value.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > largest) {
      return fail("NUMBER_VALUE " + shown_value(value) + " is out of range for " + target);
    }
    check_range(shape, static_cast<long double>(d), value);
    return true;
  }

  bool check_timestamp(const json& value) {
    // AWS JSON sends epoch seconds; ISO-8601 strings are accepted as well, as the AWS CLI user may type them.
    if (value.is_number()) {
      return std::isfinite(value.get<double>()) || fail("NUMBER_VALUE can not be converted to a Timestamp");
    }
    if (value.is_string()) {
      return is_iso8601(value.get_ref<const std::string&>()) ||
             fail("STRING_VALUE can not be converted to a Timestamp (expected epoch seconds or ISO-8601)");
    }
    return wrong_type(value, "a Timestamp", false);
  }

  bool check_blob(const Shape& shape, const json& value) {
    if (!value.is_string()) {
      return wrong_type(value, "a Blob", false);
    }
    const std::string& text = value.get_ref<const std::string&>();
    std::optional<std::size_t> bytes = base64_decoded_size(text);
    if (!bytes) {
      return fail("STRING_VALUE can not be converted to a Blob (expected base64)");
    }
    for (const std::string& violation : length_violations(shape, *bytes)) {
      // The base64 text itself could be megabytes: quote only its size.
      const json size_note("<" + std::to_string(*bytes) + " bytes>");
      violate(&size_note, violation);
    }
    return true;
  }

  const ServiceModel& service_;
  std::vector<Step> path_;
  std::optional<AwsError> serialization_;
  std::vector<std::string> violations_;
};

}  // namespace

std::optional<AwsError> validate_input(const ServiceModel& service, const Operation& op, const json& input) {
  Checker checker(service);
  // An operation without an input shape takes `{}`; whatever else is sent is ignored, as unknown members are.
  const Shape* shape = op.input.empty() ? nullptr : service.find_shape(op.input);
  // JSON null for the whole body means "no members", as null does for any one member.
  if (!input.is_null()) {
    checker.check(shape, input);
  } else if (shape != nullptr) {
    checker.check(shape, json::object());
  }
  return checker.result();
}

}  // namespace berth::protocol
