// A recursive-descent parser for the ECS cluster query language. Lexing depends on where the parser is (a `!`
// before a subject means `not`, after it starts an operator; an argument may hold characters that are syntax
// elsewhere, such as `.*` or `-`), so the parser reads the text directly instead of through a token stream.
#include <berth/state/cluster_query.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <regex>

namespace berth::state {

enum class Subject {
  kAgentConnected,
  kAgentVersion,
  kAttribute,
  kEc2InstanceId,
  kRegisteredAt,
  kRunningTasks,
  kTaskGroup
};

// Negative operators are stored as their positive form under `negate`.
enum class Op { kEq, kGt, kGe, kLt, kLe, kExists, kIn, kMatch };

struct ClusterQuery::Node {
  enum class Kind { kAnd, kOr, kNot, kTerm } kind = Kind::kTerm;
  std::shared_ptr<const Node> left;
  std::shared_ptr<const Node> right;
  // kTerm
  Subject subject = Subject::kAttribute;
  std::string attribute;  // for Subject::kAttribute
  Op op = Op::kEq;
  bool negate = false;
  std::vector<std::string> args;
  std::optional<std::regex> pattern;
  TimeMs time_arg = 0;       // registeredAt
  long long number_arg = 0;  // runningTasksCount
};

namespace {

using Node = ClusterQuery::Node;
constexpr int kMaxDepth = 64;

AwsError query_error(const std::string& detail) {
  return AwsError::client("InvalidParameterException",
                          "The cluster query expression is not valid: " + detail);
}

bool is_subject_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/' ||
         c == '\\' || c == ':';
}

// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool read_int(std::string_view s, std::size_t pos, std::size_t len, int& out) {
  if (pos + len > s.size()) {
    return false;
  }
  auto [p, ec] = std::from_chars(s.data() + pos, s.data() + pos + len, out);
  return ec == std::errc() && p == s.data() + pos + len;
}

// The date forms ECS documents for registeredAt: 2018-06-18T22:28:28+00:00, ...Z, 2018-06-18T22:28:28,
// 2018-06-18.
std::optional<TimeMs> parse_date(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (s.size() < 10 || s[4] != '-' || s[7] != '-' || !read_int(s, 0, 4, y) || !read_int(s, 5, 2, mo) ||
      !read_int(s, 8, 2, d) || mo < 1 || mo > 12 || d < 1 || d > 31) {
    return std::nullopt;
  }
  long long offset_s = 0;
  if (s.size() > 10) {
    if (s.size() < 19 || s[10] != 'T' || s[13] != ':' || s[16] != ':' || !read_int(s, 11, 2, h) ||
        !read_int(s, 14, 2, mi) || !read_int(s, 17, 2, sec) || h > 23 || mi > 59 || sec > 60) {
      return std::nullopt;
    }
    std::string_view zone = s.substr(19);
    if (zone == "Z") {
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
      int zh = 0, zm = 0;
      if (!read_int(zone, 1, 2, zh) || !read_int(zone, 4, 2, zm)) {
        return std::nullopt;
      }
      offset_s = (zh * 3600LL + zm * 60LL) * (zone[0] == '+' ? 1 : -1);
    } else if (!zone.empty()) {
      return std::nullopt;
    }
  }
  const long long secs = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400LL +
                         h * 3600LL + mi * 60LL + sec - offset_s;
  return secs * 1000;
}

// Agent versions compare part by part, numerically where both parts are numbers: 1.9.0 < 1.14.5.
int compare_versions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) {
    auto dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    return part;
  };
  while (!a.empty() || !b.empty()) {
    std::string_view pa = next(a);
    std::string_view pb = next(b);
    long long na = 0, nb = 0;
    auto ra = std::from_chars(pa.data(), pa.data() + pa.size(), na);
    auto rb = std::from_chars(pb.data(), pb.data() + pb.size(), nb);
    const bool numa = ra.ec == std::errc() && ra.ptr == pa.data() + pa.size();
    const bool numb = rb.ec == std::errc() && rb.ptr == pb.data() + pb.size();
    if (numa && numb) {
      if (na != nb) {
        return na < nb ? -1 : 1;
      }
    } else if (int c = pa.compare(pb); c != 0) {
      return c < 0 ? -1 : 1;
    }
  }
  return 0;
}

std::optional<double> as_number(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<std::shared_ptr<const Node>> parse_all() {
    auto root = parse_or(0);
    if (!root) {
      return root;
    }
    skip_ws();
    if (pos_ != s_.size()) {
      return error_here("unexpected '" + std::string(s_.substr(pos_, 12)) + "'");
    }
    return root;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;

  AwsError error_here(const std::string& what) const {
    return query_error(what + " at position " + std::to_string(pos_ + 1) + ".");
  }

  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) {
      ++pos_;
    }
  }

  bool at_end() const { return pos_ >= s_.size(); }

  // A keyword (and/or/not) counts only as a whole word.
  bool eat_word(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) {
      return false;
    }
    const std::size_t after = pos_ + word.size();
    if (after < s_.size() && is_subject_char(s_[after])) {
      return false;
    }
    pos_ = after;
    return true;
  }

  bool eat(std::string_view sym) {
    if (s_.substr(pos_, sym.size()) == sym) {
      pos_ += sym.size();
      return true;
    }
    return false;
  }

  static std::shared_ptr<const Node> join(Node::Kind kind, std::shared_ptr<const Node> l,
                                          std::shared_ptr<const Node> r) {
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->left = std::move(l);
    n->right = std::move(r);
    return n;
  }

  Result<std::shared_ptr<const Node>> parse_or(int depth) {
    auto left = parse_and(depth);
    if (!left) {
      return left;
    }
    std::shared_ptr<const Node> node = *left;
    for (;;) {
      skip_ws();
      if (!(eat("||") || eat_word("or"))) {
        return node;
      }
      auto right = parse_and(depth);
      if (!right) {
        return right;
      }
      node = join(Node::Kind::kOr, node, *right);
    }
  }

  Result<std::shared_ptr<const Node>> parse_and(int depth) {
    auto left = parse_unary(depth);
    if (!left) {
      return left;
    }
    std::shared_ptr<const Node> node = *left;
    for (;;) {
      skip_ws();
      if (!(eat("&&") || eat_word("and"))) {
        return node;
      }
      auto right = parse_unary(depth);
      if (!right) {
        return right;
      }
      node = join(Node::Kind::kAnd, node, *right);
    }
  }

  Result<std::shared_ptr<const Node>> parse_unary(int depth) {
    if (depth > kMaxDepth) {
      return error_here("expression nested too deeply");
    }
    skip_ws();
    if (at_end()) {
      return error_here("expected an expression");
    }
    if (eat("(")) {
      auto inner = parse_or(depth + 1);
      if (!inner) {
        return inner;
      }
      skip_ws();
      if (!eat(")")) {
        return error_here("expected ')'");
      }
      return inner;
    }
    const bool bang = s_[pos_] == '!' && (pos_ + 1 >= s_.size() || s_[pos_ + 1] != '=');
    if (eat_word("not") || (bang && eat("!"))) {
      auto inner = parse_unary(depth + 1);
      if (!inner) {
        return inner;
      }
      return join(Node::Kind::kNot, *inner, nullptr);
    }
    return parse_term();
  }

  Result<std::shared_ptr<const Node>> parse_term() {
    auto node = std::make_shared<Node>();
    const std::size_t start = pos_;
    while (!at_end() && is_subject_char(s_[pos_])) {
      ++pos_;
    }
    const std::string subject(s_.substr(start, pos_ - start));
    if (subject.empty()) {
      return error_here("expected a subject");
    }
    if (subject == "agentConnected") {
      node->subject = Subject::kAgentConnected;
    } else if (subject == "agentVersion") {
      node->subject = Subject::kAgentVersion;
    } else if (subject == "ec2InstanceId") {
      node->subject = Subject::kEc2InstanceId;
    } else if (subject == "registeredAt") {
      node->subject = Subject::kRegisteredAt;
    } else if (subject == "runningTasksCount") {
      node->subject = Subject::kRunningTasks;
    } else if (subject == "task:group") {
      node->subject = Subject::kTaskGroup;
    } else if (subject.starts_with("attribute:") && subject.size() > 10 && subject.size() <= 10 + 128) {
      node->subject = Subject::kAttribute;
      node->attribute = subject.substr(10);
    } else {
      pos_ = start;
      return error_here("unknown subject '" + subject + "'");
    }
    skip_ws();
    const std::size_t op_at = pos_;
    auto op = read_operator(*node);
    if (!op) {
      pos_ = op_at;
      return op.error();
    }
    if (!operator_allowed(node->subject, node->op)) {
      pos_ = op_at;
      return error_here("operator '" + *op + "' cannot be used with " + subject);
    }
    if (node->op == Op::kExists) {
      return std::shared_ptr<const Node>(node);
    }
    skip_ws();
    if (node->op == Op::kIn) {
      auto list = read_list();
      if (!list) {
        return list.error();
      }
      node->args = std::move(list).value();
    } else {
      auto arg = read_value(false);
      if (!arg) {
        return arg.error();
      }
      node->args.push_back(std::move(arg).value());
    }
    if (auto checked = check_arguments(*node); !checked) {
      return checked.error();
    }
    return std::shared_ptr<const Node>(node);
  }

  Result<std::string> read_operator(Node& n) {
    struct Sym {
      std::string_view text;
      Op op;
      bool negate;
    };
    // Longest first, so `>=` is not read as `>`.
    static constexpr Sym kSymbols[] = {{"!exists", Op::kExists, true}, {"!in", Op::kIn, true},
                                       {"==", Op::kEq, false},         {"!=", Op::kEq, true},
                                       {">=", Op::kGe, false},         {"<=", Op::kLe, false},
                                       {"=~", Op::kMatch, false},      {"!~", Op::kMatch, true},
                                       {">", Op::kGt, false},          {"<", Op::kLt, false}};
    for (const auto& sym : kSymbols) {
      if (sym.text.starts_with('!') && std::isalpha(static_cast<unsigned char>(sym.text.back()))) {
        if (!eat_word(sym.text)) {
          continue;
        }
      } else if (!eat(sym.text)) {
        continue;
      }
      n.op = sym.op;
      n.negate = sym.negate;
      return std::string(sym.text);
    }
    static constexpr Sym kWords[] = {{"equals", Op::kEq, false},       {"not_equals", Op::kEq, true},
                                     {"greater_than", Op::kGt, false}, {"greater_than_equal", Op::kGe, false},
                                     {"less_than", Op::kLt, false},    {"less_than_equal", Op::kLe, false},
                                     {"exists", Op::kExists, false},   {"not_exists", Op::kExists, true},
                                     {"in", Op::kIn, false},           {"not_in", Op::kIn, true},
                                     {"matches", Op::kMatch, false},   {"not_matches", Op::kMatch, true}};
    const std::size_t start = pos_;
    while (!at_end() && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      ++pos_;
    }
    const std::string_view word = s_.substr(start, pos_ - start);
    for (const auto& w : kWords) {
      if (w.text == word) {
        n.op = w.op;
        n.negate = w.negate;
        return std::string(word);
      }
    }
    pos_ = start;
    return error_here(at_end() ? "expected an operator" : "unknown operator");
  }

  static bool operator_allowed(Subject s, Op op) {
    const bool ordering = op == Op::kGt || op == Op::kGe || op == Op::kLt || op == Op::kLe;
    switch (s) {
      case Subject::kAgentConnected:
      case Subject::kEc2InstanceId:
        return op == Op::kEq || op == Op::kIn || op == Op::kMatch;
      case Subject::kAgentVersion:
      case Subject::kRegisteredAt:
      case Subject::kRunningTasks:
        return op == Op::kEq || ordering;
      case Subject::kTaskGroup:
        return !ordering;
      case Subject::kAttribute:
        return true;
    }
    return false;
  }

  // One literal: 'quoted', "quoted", or a bare run that stops at whitespace, at a comma or `]` inside a list,
  // and at a `)` that closes a group opened before the literal.
  Result<std::string> read_value(bool in_list) {
    if (at_end()) {
      return error_here("expected an argument");
    }
    const char q = s_[pos_];
    if (q == '\'' || q == '"') {
      const auto close = s_.find(q, pos_ + 1);
      if (close == std::string_view::npos) {
        return error_here("unterminated quoted argument");
      }
      std::string out(s_.substr(pos_ + 1, close - pos_ - 1));
      pos_ = close + 1;
      return out;
    }
    const std::size_t start = pos_;
    int depth = 0;
    while (!at_end()) {
      const char c = s_[pos_];
      if (std::isspace(static_cast<unsigned char>(c)) || (in_list && (c == ',' || c == ']'))) {
        break;
      }
      if (c == '(') {
        ++depth;
      } else if (c == ')') {
        if (depth == 0) {
          break;
        }
        --depth;
      }
      ++pos_;
    }
    if (pos_ == start) {
      return error_here("expected an argument");
    }
    return std::string(s_.substr(start, pos_ - start));
  }

  Result<std::vector<std::string>> read_list() {
    if (!eat("[")) {
      return error_here("expected '[' to open the argument list");
    }
    std::vector<std::string> out;
    for (;;) {
      skip_ws();
      auto v = read_value(true);
      if (!v) {
        return v.error();
      }
      out.push_back(std::move(v).value());
      skip_ws();
      if (eat("]")) {
        return out;
      }
      if (!eat(",")) {
        return error_here("expected ',' or ']' in the argument list");
      }
    }
  }

  Result<Unit> check_arguments(Node& n) {
    if (n.op == Op::kMatch) {
      try {
        n.pattern.emplace(n.args[0], std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        return query_error("'" + n.args[0] + "' is not a valid regular expression.");
      }
    }
    if (n.subject == Subject::kRegisteredAt) {
      auto t = parse_date(n.args[0]);
      if (!t) {
        return query_error("'" + n.args[0] + "' is not a valid registeredAt date.");
      }
      n.time_arg = *t;
    }
    if (n.subject == Subject::kRunningTasks) {
      const std::string& a = n.args[0];
      auto [p, ec] = std::from_chars(a.data(), a.data() + a.size(), n.number_arg);
      if (ec != std::errc() || p != a.data() + a.size()) {
        return query_error("'" + a + "' is not a valid runningTasksCount.");
      }
    }
    return Unit{};
  }
};

// The positive form of an operator applied to one value.
bool test_value(const Node& n, const std::string& value) {
  switch (n.op) {
    case Op::kExists:
      return true;
    case Op::kEq:
      return value == n.args[0];
    case Op::kIn:
      return std::find(n.args.begin(), n.args.end(), value) != n.args.end();
    case Op::kMatch:
      return std::regex_match(value, *n.pattern);
    case Op::kGt:
    case Op::kGe:
    case Op::kLt:
    case Op::kLe: {
      int c = 0;
      if (n.subject == Subject::kAgentVersion) {
        c = compare_versions(value, n.args[0]);
      } else {
        auto a = as_number(value);
        auto b = as_number(n.args[0]);
        c = a && b ? (*a < *b ? -1 : (*a > *b ? 1 : 0)) : value.compare(n.args[0]);
        c = c < 0 ? -1 : (c > 0 ? 1 : 0);
      }
      return n.op == Op::kGt ? c > 0 : n.op == Op::kGe ? c >= 0 : n.op == Op::kLt ? c < 0 : c <= 0;
    }
  }
  return false;
}

bool compare_numbers(Op op, long long a, long long b) {
  switch (op) {
    case Op::kEq:
      return a == b;
    case Op::kGt:
      return a > b;
    case Op::kGe:
      return a >= b;
    case Op::kLt:
      return a < b;
    case Op::kLe:
      return a <= b;
    default:
      return false;
  }
}

bool test_term(const Node& n, const QueryTarget& t) {
  switch (n.subject) {
    case Subject::kAgentConnected:
      return test_value(n, t.agent_connected ? "true" : "false");
    case Subject::kAgentVersion:
      return !t.agent_version.empty() && test_value(n, t.agent_version);
    case Subject::kEc2InstanceId:
      return !t.ec2_instance_id.empty() && test_value(n, t.ec2_instance_id);
    case Subject::kRegisteredAt:
      // Dates are compared at one-second resolution, as they are written.
      return compare_numbers(n.op, t.registered_at / 1000, n.time_arg / 1000);
    case Subject::kRunningTasks:
      return compare_numbers(n.op, t.running_tasks_count, n.number_arg);
    case Subject::kTaskGroup:
      return std::any_of(t.task_groups.begin(), t.task_groups.end(),
                         [&](const std::string& g) { return test_value(n, g); });
    case Subject::kAttribute: {
      if (t.attributes == nullptr) {
        return false;
      }
      auto it = t.attributes->find(n.attribute);
      if (it == t.attributes->end()) {
        return false;
      }
      if (n.op == Op::kExists) {
        return true;
      }
      return it->second.has_value() && test_value(n, *it->second);
    }
  }
  return false;
}

bool eval(const Node& n, const QueryTarget& t) {
  switch (n.kind) {
    case Node::Kind::kAnd:
      return eval(*n.left, t) && eval(*n.right, t);
    case Node::Kind::kOr:
      return eval(*n.left, t) || eval(*n.right, t);
    case Node::Kind::kNot:
      return !eval(*n.left, t);
    case Node::Kind::kTerm:
      return test_term(n, t) != n.negate;
  }
  return false;
}

}  // namespace

Result<ClusterQuery> ClusterQuery::parse(std::string_view expression) {
  if (expression.size() > kMaxQueryLength) {
    return query_error("it is longer than " + std::to_string(kMaxQueryLength) + " characters.");
  }
  Parser p(expression);
  auto root = p.parse_all();
  if (!root) {
    return root.error();
  }
  return ClusterQuery(std::move(root).value());
}

bool ClusterQuery::matches(const QueryTarget& target) const { return eval(*root_, target); }

}  // namespace berth::state
