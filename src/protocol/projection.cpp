#include <berth/protocol/projection.hpp>

namespace berth::protocol {

json project_to_shape(const ServiceModel& model, std::string_view shape_name, const json& value) {
  const Shape* shape = model.find_shape(shape_name);
  if (shape == nullptr) {
    return value;
  }
  switch (shape->type) {
    case ShapeType::kStructure: {
      if (!value.is_object()) {
        return value;
      }
      json out = json::object();
      for (const auto& [member, member_shape] : shape->members) {
        if (auto it = value.find(member); it != value.end()) {
          out[member] = project_to_shape(model, member_shape, *it);
        }
      }
      return out;
    }
    case ShapeType::kList: {
      if (!value.is_array()) {
        return value;
      }
      json out = json::array();
      for (const auto& item : value) {
        out.push_back(project_to_shape(model, shape->member, item));
      }
      return out;
    }
    case ShapeType::kMap: {
      if (!value.is_object()) {
        return value;
      }
      json out = json::object();
      for (const auto& [k, v] : value.items()) {
        out[k] = project_to_shape(model, shape->member, v);
      }
      return out;
    }
    default:
      return value;
  }
}

}  // namespace berth::protocol
