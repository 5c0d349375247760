#include <berth/services/paging.hpp>

#include <algorithm>

#include <berth/common/base64.hpp>

namespace berth::services {

Result<Page> paginate(const std::vector<std::string>& sorted, int max_results, const std::string& next_token) {
  auto begin = sorted.begin();
  if (!next_token.empty()) {
    auto after = base64_decode(next_token);
    if (!after || after->empty() || (*after)[0] != '>') {
      return AwsError::client("InvalidParameterException", "Invalid nextToken.");
    }
    begin = std::upper_bound(sorted.begin(), sorted.end(), after->substr(1));
  }
  Page page;
  auto end = begin + std::min<std::ptrdiff_t>(max_results, sorted.end() - begin);
  page.items.assign(begin, end);
  if (end != sorted.end() && !page.items.empty()) {
    page.next_token = base64_encode(">" + page.items.back());
  }
  return page;
}

Result<Page> paginate_input(const std::vector<std::string>& sorted, const json& input, int default_max,
                            const char* max_key, const char* token_key) {
  int max_results = default_max;
  if (auto it = input.find(max_key); it != input.end() && it->is_number_integer()) {
    max_results = it->get<int>();
  }
  if (max_results < 1) {
    max_results = default_max;
  }
  std::string token;
  if (auto it = input.find(token_key); it != input.end() && it->is_string()) {
    token = it->get<std::string>();
  }
  return paginate(sorted, max_results, token);
}

}  // namespace berth::services
