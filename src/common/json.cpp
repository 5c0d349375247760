#include <berth/common/json.hpp>

namespace berth {

Result<json> parse_request_json(std::string_view body, std::size_t max_depth) {
  bool blank = true;
  for (char c : body) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      blank = false;
      break;
    }
  }
  if (blank) {
    return json::object();
  }
  // The SAX callback sees every nesting step, so a deeply nested body is refused before it is built.
  std::size_t depth = 0;
  bool too_deep = false;
  json::parser_callback_t bound = [&](int d, json::parse_event_t event, json&) {
    if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) {
      depth = static_cast<std::size_t>(d) + 1;
      if (depth > max_depth) {
        too_deep = true;
        return false;
      }
    }
    return !too_deep;
  };
  json parsed;
  try {
    parsed = json::parse(body.begin(), body.end(), bound, /*allow_exceptions=*/true);
  } catch (const json::exception&) {
    return AwsError::client("SerializationException", "Start of structure or map found where not expected.");
  }
  if (too_deep) {
    return AwsError::client("SerializationException",
                            "Request body nests deeper than " + std::to_string(max_depth) + " levels.");
  }
  if (!parsed.is_object()) {
    return AwsError::client("SerializationException", "Start of structure or map expected.");
  }
  return parsed;
}

}  // namespace berth
