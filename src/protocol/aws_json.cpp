#include <berth/protocol/aws_json.hpp>

#include <cctype>
#include <exception>

#include <spdlog/spdlog.h>

#include <berth/protocol/validator.hpp>

namespace berth::protocol {
namespace {

bool all_digits(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

// The error type a service uses to say "berth does not do this (yet)": ECS models UnsupportedFeatureException;
// ECR and Application Auto Scaling model ValidationException.
std::string unsupported_error_type(const ServiceModel& service) {
  if (service.find_shape("UnsupportedFeatureException") != nullptr) {
    return "UnsupportedFeatureException";
  }
  return "ValidationException";
}

// The model treats a null member as absent (validation already has); removing them here means no handler ever
// meets a null where it reads a member with value() or contains().
json without_null_members(const json& value) {
  if (value.is_object()) {
    json out = json::object();
    for (const auto& [key, member] : value.items()) {
      if (!member.is_null()) {
        out[key] = without_null_members(member);
      }
    }
    return out;
  }
  if (value.is_array()) {
    json out = json::array();
    for (const auto& entry : value) {
      out.push_back(without_null_members(entry));
    }
    return out;
  }
  return value;
}

}  // namespace

Caller caller_from_authorization(std::string_view authorization, const Scope& defaults) {
  Caller caller{defaults, {}};
  auto pos = authorization.find("Credential=");
  if (pos == std::string_view::npos) {
    return caller;
  }
  std::string_view cred = authorization.substr(pos + 11);
  auto end = cred.find_first_of(", ");
  cred = cred.substr(0, end);
  // <AKID>/<date>/<region>/<service>/aws4_request
  std::string_view parts[5];
  int n = 0;
  while (n < 5) {
    auto slash = cred.find('/');
    parts[n++] = cred.substr(0, slash);
    if (slash == std::string_view::npos) {
      break;
    }
    cred.remove_prefix(slash + 1);
  }
  caller.access_key_id.assign(parts[0]);
  if (parts[0].size() == 12 && all_digits(parts[0])) {
    caller.scope.account.assign(parts[0]);
  }
  if (n >= 3 && !parts[2].empty() && parts[2].size() <= 64) {
    caller.scope.region.assign(parts[2]);
  }
  return caller;
}

Result<Call> prepare_call(const AwsJsonRequest& request, const Scope& defaults, std::string request_id) {
  auto dot = request.target.rfind('.');
  if (request.target.empty() || dot == std::string_view::npos) {
    return AwsError::client("UnknownOperationException",
                            request.target.empty() ? "Missing X-Amz-Target header." : "Unknown operation.");
  }
  const ServiceModel* service = find_service_by_target_prefix(request.target.substr(0, dot));
  if (service == nullptr) {
    return AwsError::client("UnknownOperationException", "Unknown operation.");
  }
  const Operation* op = service->find_operation(request.target.substr(dot + 1));
  if (op == nullptr) {
    return AwsError::client("UnknownOperationException", "Unknown operation.");
  }
  auto input = parse_request_json(request.body);
  if (!input) {
    return input.error();
  }
  if (auto invalid = validate_input(*service, *op, *input)) {
    return *invalid;
  }
  Call call;
  call.service = service;
  call.operation = op;
  call.input = without_null_members(*input);
  call.caller = caller_from_authorization(request.authorization, defaults);
  call.request_id = std::move(request_id);
  return call;
}

void HandlerTable::add(std::string service_id, std::string operation, Handler handler) {
  handlers_[{std::move(service_id), std::move(operation)}] = std::move(handler);
}

const Handler* HandlerTable::find(std::string_view service_id, std::string_view operation) const {
  auto it = handlers_.find(std::pair{std::string(service_id), std::string(operation)});
  return it == handlers_.end() ? nullptr : &it->second;
}

AwsResponse invoke(const HandlerTable& table, const Call& call) {
  const Handler* handler = table.find(call.service->id, call.operation->name);
  if (handler == nullptr) {
    return render_error(AwsError::client(unsupported_error_type(*call.service),
                                         "The " + call.operation->name + " operation is not supported by berth yet."),
                        call.request_id);
  }
  try {
    auto result = (*handler)(call);
    if (!result) {
      return render_error(result.error(), call.request_id);
    }
    return render_ok(*result, call.request_id);
  } catch (const std::exception& e) {
    spdlog::error("handler {} failed: {}", call.operation->name, e.what());
    return render_error(AwsError::server("An internal error occurred in berth."), call.request_id);
  }
}

AwsResponse render_error(const AwsError& error, std::string request_id) {
  AwsResponse r;
  r.status = error.http_status;
  json body = {{"__type", error.type}, {"message", error.message}};
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  r.request_id = std::move(request_id);
  return r;
}

AwsResponse render_ok(const json& output, std::string request_id) {
  AwsResponse r;
  r.status = 200;
  r.body = output.dump(-1, ' ', false, json::error_handler_t::replace);
  r.request_id = std::move(request_id);
  return r;
}

}  // namespace berth::protocol
