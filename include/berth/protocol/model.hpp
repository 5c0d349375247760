#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::protocol {

enum class ShapeType { kStructure, kList, kMap, kString, kInteger, kLong, kBoolean, kDouble, kFloat, kTimestamp, kBlob };

// One shape of an AWS service model, reduced to what validation needs (no documentation text).
struct Shape {
  std::string name;
  ShapeType type = ShapeType::kString;
  std::vector<std::pair<std::string, std::string>> members;  // structure: member name -> shape name, model order
  std::vector<std::string> required;                         // structure
  std::string member;                                        // list: member shape; map: value shape
  std::string key;                                           // map: key shape
  std::vector<std::string> enum_values;                      // string
  std::optional<double> min;                                 // string/blob length, list/map size, number value
  std::optional<double> max;
  bool exception = false;                                    // an error shape
  int error_status = 400;                                    // for exceptions: the modelled HTTP status
};

struct Operation {
  std::string name;
  std::string input;   // shape name; empty when the operation takes no input
  std::string output;  // shape name; may be empty
  std::vector<std::string> errors;
};

// One AWS JSON service (ECS, ECR, Application Auto Scaling, ...), loaded from a compact table in api/.
struct ServiceModel {
  std::string id;             // "ecs", "ecr", "application-autoscaling"
  std::string target_prefix;  // "AmazonEC2ContainerServiceV20141113"
  std::string signing_name;   // "ecs"
  std::string api_version;
  std::map<std::string, Operation, std::less<>> operations;
  std::map<std::string, Shape, std::less<>> shapes;

  const Operation* find_operation(std::string_view name) const;
  const Shape* find_shape(std::string_view name) const;
};

// Parses one compact table (the format tools/gen_api.py writes). Throws std::runtime_error on a bad table.
ServiceModel load_service_model(std::string_view compact_json);

// The services compiled into this binary (from api/*.json), loaded once on first use.
const std::vector<const ServiceModel*>& builtin_services();
const ServiceModel* find_service_by_target_prefix(std::string_view prefix);
const ServiceModel* find_service(std::string_view id);

}  // namespace berth::protocol
