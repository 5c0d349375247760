#pragma once
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <berth/common/arn.hpp>
#include <berth/common/json.hpp>
#include <berth/common/result.hpp>
#include <berth/protocol/model.hpp>

namespace berth::protocol {

// What the protocol layer needs of an HTTP request (the http module fills it; this module knows no Beast).
struct AwsJsonRequest {
  std::string_view target;         // X-Amz-Target
  std::string_view body;
  std::string_view authorization;  // Authorization header, may be empty
};

struct AwsResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/x-amz-json-1.1";
  std::string request_id;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

// The caller identity read from the SigV4 credential scope (signatures are not verified: berth is local).
struct Caller {
  Scope scope;
  std::string access_key_id;
};

// Reads `Credential=<AKID>/<date>/<region>/<service>/aws4_request` from an Authorization header.
// A 12-digit access key id is the account id; anything else (or no header) means the default account.
Caller caller_from_authorization(std::string_view authorization, const Scope& defaults);

// A request that has been parsed and validated, ready for a handler.
struct Call {
  const ServiceModel* service = nullptr;
  const Operation* operation = nullptr;
  json input;
  Caller caller;
  std::string request_id;
};

// Target -> operation, body -> JSON (bounded depth), JSON -> validated input. Pure: safe on any thread.
Result<Call> prepare_call(const AwsJsonRequest& request, const Scope& defaults, std::string request_id);

using Handler = std::function<Result<json>(const Call&)>;

// Operation handlers by service id and operation name.
class HandlerTable {
 public:
  void add(std::string service_id, std::string operation, Handler handler);
  const Handler* find(std::string_view service_id, std::string_view operation) const;
  bool has(std::string_view service_id, std::string_view operation) const {
    return find(service_id, operation) != nullptr;
  }

 private:
  std::map<std::pair<std::string, std::string>, Handler, std::less<>> handlers_;
};

// Runs the handler for a prepared call. An operation without a handler answers a clear "not supported by berth
// yet" error of the service's own error type; an exception escaping a handler becomes a 500 ServerException.
AwsResponse invoke(const HandlerTable& table, const Call& call);

// The one error renderer: {"__type": type, "message": message} with the error's status and x-amzn-RequestId.
AwsResponse render_error(const AwsError& error, std::string request_id);
AwsResponse render_ok(const json& output, std::string request_id);

}  // namespace berth::protocol
