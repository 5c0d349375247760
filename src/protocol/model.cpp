#include <berth/protocol/model.hpp>

#include <algorithm>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include <berth/common/json.hpp>

#include "detail/embedded_api.hpp"

namespace berth::protocol {
namespace {

// The table layout tools/gen_api.py writes; bumped there when the layout changes incompatibly.
constexpr int kTableFormat = 1;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("bad API table: " + what); }

const json& field(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) {
    fail(where + " has no \"" + key + "\"");
  }
  return *it;
}

std::string string_field(const json& object, const char* key, const std::string& where) {
  const json& value = field(object, key, where);
  if (!value.is_string()) {
    fail(where + "." + key + " is not a string");
  }
  return value.get<std::string>();
}

std::string optional_string_field(const json& object, const char* key, const std::string& where) {
  return object.contains(key) ? string_field(object, key, where) : std::string();
}

std::vector<std::string> string_list(const json& object, const char* key, const std::string& where) {
  std::vector<std::string> out;
  auto it = object.find(key);
  if (it == object.end()) {
    return out;
  }
  if (!it->is_array()) {
    fail(where + "." + key + " is not a list");
  }
  out.reserve(it->size());
  for (const json& item : *it) {
    if (!item.is_string()) {
      fail(where + "." + key + " holds a non-string");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::optional<double> number_field(const json& object, const char* key, const std::string& where) {
  auto it = object.find(key);
  if (it == object.end()) {
    return std::nullopt;
  }
  if (!it->is_number()) {
    fail(where + "." + key + " is not a number");
  }
  return it->get<double>();
}

std::optional<ShapeType> parse_type(std::string_view name) {
  static constexpr std::pair<std::string_view, ShapeType> kTypes[] = {
      {"structure", ShapeType::kStructure}, {"list", ShapeType::kList},       {"map", ShapeType::kMap},
      {"string", ShapeType::kString},       {"integer", ShapeType::kInteger}, {"long", ShapeType::kLong},
      {"boolean", ShapeType::kBoolean},     {"double", ShapeType::kDouble},   {"float", ShapeType::kFloat},
      {"timestamp", ShapeType::kTimestamp}, {"blob", ShapeType::kBlob},
  };
  for (const auto& [text, type] : kTypes) {
    if (text == name) {
      return type;
    }
  }
  return std::nullopt;
}

Shape parse_shape(const std::string& name, const json& spec) {
  const std::string where = "shape " + name;
  if (!spec.is_object()) {
    fail(where + " is not an object");
  }
  Shape shape;
  shape.name = name;
  const std::string type_name = string_field(spec, "type", where);
  std::optional<ShapeType> type = parse_type(type_name);
  if (!type) {
    fail(where + " has unknown type \"" + type_name + "\"");
  }
  shape.type = *type;

  if (shape.type == ShapeType::kStructure) {
    const json& members = field(spec, "members", where);
    if (!members.is_array()) {
      fail(where + ".members is not a list");
    }
    for (const json& member : members) {
      if (!member.is_array() || member.size() != 2 || !member[0].is_string() || !member[1].is_string()) {
        fail(where + ".members holds an entry that is not [name, shape]");
      }
      shape.members.emplace_back(member[0].get<std::string>(), member[1].get<std::string>());
    }
    shape.required = string_list(spec, "required", where);
    for (const std::string& required : shape.required) {
      bool known = std::any_of(shape.members.begin(), shape.members.end(),
                               [&](const auto& m) { return m.first == required; });
      if (!known) {
        fail(where + " requires \"" + required + "\", which is not a member");
      }
    }
  } else if (shape.type == ShapeType::kList) {
    shape.member = string_field(spec, "member", where);
  } else if (shape.type == ShapeType::kMap) {
    shape.key = string_field(spec, "key", where);
    shape.member = string_field(spec, "value", where);
  }
  shape.enum_values = string_list(spec, "enum", where);
  shape.min = number_field(spec, "min", where);
  shape.max = number_field(spec, "max", where);

  if (auto it = spec.find("exception"); it != spec.end()) {
    if (!it->is_boolean()) {
      fail(where + ".exception is not a boolean");
    }
    shape.exception = it->get<bool>();
  }
  if (auto it = spec.find("httpStatusCode"); it != spec.end()) {
    if (!it->is_number_integer() || it->get<long long>() < 100 || it->get<long long>() > 599) {
      fail(where + ".httpStatusCode is not an HTTP status");
    }
    shape.error_status = it->get<int>();
  }
  return shape;
}

// Every name a table mentions must resolve, so that the validator and handlers can trust find_shape().
// Document shapes resolve too, although they are not kept (see load_service_model).
void check_references(const ServiceModel& model, const std::set<std::string, std::less<>>& documents) {
  auto resolves = [&](const std::string& name) {
    return model.shapes.count(name) != 0 || documents.count(name) != 0;
  };
  auto expect = [&](const std::string& name, const std::string& where) {
    if (!resolves(name)) {
      fail(where + " refers to unknown shape \"" + name + "\"");
    }
  };
  for (const auto& [name, op] : model.operations) {
    const std::string where = "operation " + name;
    if (!op.input.empty()) {
      expect(op.input, where);
    }
    if (!op.output.empty()) {
      expect(op.output, where);
    }
    for (const std::string& error : op.errors) {
      expect(error, where);
    }
  }
  for (const auto& [name, shape] : model.shapes) {
    const std::string where = "shape " + name;
    for (const auto& member : shape.members) {
      expect(member.second, where);
    }
    if (shape.type == ShapeType::kList) {
      expect(shape.member, where);
    }
    if (shape.type == ShapeType::kMap) {
      expect(shape.member, where);
      expect(shape.key, where);
      const Shape* key = model.find_shape(shape.key);
      if (key == nullptr || key->type != ShapeType::kString) {
        fail(where + " has a map key that is not a string shape");
      }
    }
  }
}

ServiceModel parse_table(std::string_view compact_json) {
  json table = json::parse(compact_json.begin(), compact_json.end());
  if (!table.is_object()) {
    fail("the table is not a JSON object");
  }
  const json& format = field(table, "format", "table");
  if (!format.is_number_integer() || format.get<long long>() != kTableFormat) {
    fail("unsupported table format " + format.dump() + " (this build reads " + std::to_string(kTableFormat) +
         "; regenerate with tools/gen_api.py)");
  }

  ServiceModel model;
  model.id = string_field(table, "id", "table");
  const std::string where = "service " + model.id;
  const json& metadata = field(table, "metadata", where);
  if (!metadata.is_object()) {
    fail(where + ".metadata is not an object");
  }
  model.target_prefix = string_field(metadata, "targetPrefix", where + ".metadata");
  model.api_version = optional_string_field(metadata, "apiVersion", where + ".metadata");
  // SigV4 signs with signingName when the model has one, otherwise with the endpoint prefix.
  model.signing_name = optional_string_field(metadata, "signingName", where + ".metadata");
  if (model.signing_name.empty()) {
    model.signing_name = optional_string_field(metadata, "endpointPrefix", where + ".metadata");
  }

  const json& operations = field(table, "operations", where);
  if (!operations.is_object()) {
    fail(where + ".operations is not an object");
  }
  for (const auto& [name, spec] : operations.items()) {
    if (!spec.is_object()) {
      fail("operation " + name + " is not an object");
    }
    Operation op;
    op.name = name;
    op.input = optional_string_field(spec, "input", "operation " + name);
    op.output = optional_string_field(spec, "output", "operation " + name);
    op.errors = string_list(spec, "errors", "operation " + name);
    model.operations.emplace(name, std::move(op));
  }

  const json& shapes = field(table, "shapes", where);
  if (!shapes.is_object()) {
    fail(where + ".shapes is not an object");
  }
  // A Smithy document holds any JSON value and has no constraints. ShapeType has no such type, so document
  // shapes are left out of `shapes`: a member whose shape find_shape() does not know is accepted unchecked.
  std::set<std::string, std::less<>> documents;
  for (const auto& [name, spec] : shapes.items()) {
    if (spec.is_object() && spec.value("type", std::string()) == "document") {
      documents.insert(name);
      continue;
    }
    model.shapes.emplace(name, parse_shape(name, spec));
  }
  check_references(model, documents);
  return model;
}

struct Builtins {
  std::vector<std::unique_ptr<ServiceModel>> owned;
  std::vector<const ServiceModel*> all;
};

Builtins load_builtins() {
  Builtins builtins;
  for (const auto& [id, text] : detail::embedded_api_tables()) {
    auto model = std::make_unique<ServiceModel>(load_service_model(text));
    if (model->id != id) {
      throw std::runtime_error("bad API table: api/" + std::string(id) + ".json declares id \"" + model->id +
                               "\"");
    }
    builtins.all.push_back(model.get());
    builtins.owned.push_back(std::move(model));
  }
  return builtins;
}

const Builtins& builtins() {
  // A function-local static is initialised once, thread-safely, on first use.
  static const Builtins instance = load_builtins();
  return instance;
}

}  // namespace

const Operation* ServiceModel::find_operation(std::string_view name) const {
  auto it = operations.find(name);
  return it == operations.end() ? nullptr : &it->second;
}

const Shape* ServiceModel::find_shape(std::string_view name) const {
  auto it = shapes.find(name);
  return it == shapes.end() ? nullptr : &it->second;
}

ServiceModel load_service_model(std::string_view compact_json) {
  try {
    return parse_table(compact_json);
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("bad API table: ") + e.what());
  }
}

const std::vector<const ServiceModel*>& builtin_services() { return builtins().all; }

const ServiceModel* find_service_by_target_prefix(std::string_view prefix) {
  for (const ServiceModel* service : builtin_services()) {
    if (service->target_prefix == prefix) {
      return service;
    }
  }
  return nullptr;
}

const ServiceModel* find_service(std::string_view id) {
  for (const ServiceModel* service : builtin_services()) {
    if (service->id == id) {
      return service;
    }
  }
  return nullptr;
}

}  // namespace berth::protocol
