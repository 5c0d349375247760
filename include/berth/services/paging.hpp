#pragma once
#include <string>
#include <vector>

#include <berth/common/json.hpp>
#include <berth/common/result.hpp>

namespace berth::services {

struct Page {
  std::vector<std::string> items;
  std::string next_token;  // empty on the last page
};

// Pages through `sorted` (ascending, unique) keys: the token is opaque to clients (base64 of the last key
// returned) and is absent on the last page. A token that does not decode is InvalidParameterException.
Result<Page> paginate(const std::vector<std::string>& sorted, int max_results, const std::string& next_token);

// Reads maxResults/nextToken (or another casing) from `input` and paginates.
Result<Page> paginate_input(const std::vector<std::string>& sorted, const json& input, int default_max,
                            const char* max_key = "maxResults", const char* token_key = "nextToken");

}  // namespace berth::services
