#pragma once
#include <string>
#include <utility>
#include <variant>

namespace berth {

// An AWS-shaped error: the modelled error type (rendered as `__type`), its message and HTTP status.
struct AwsError {
  std::string type;
  std::string message;
  int http_status = 400;

  static AwsError client(std::string type, std::string message) {
    return AwsError{std::move(type), std::move(message), 400};
  }
  static AwsError server(std::string message) { return AwsError{"ServerException", std::move(message), 500}; }
};

// Expected failures are values (std::expected is not available in GCC 12's C++20 mode).
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(AwsError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const AwsError& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, AwsError> v_;
};

struct Unit {};

}  // namespace berth
