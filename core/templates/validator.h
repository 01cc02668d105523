#pragma once
// Internal to the templates module: the save-time validator (validator.cpp).
// It walks the document once, in document order, and records every problem
// it can find without knowing the request.
#include <rapidjson/document.h>

#include <vector>

#include "templates/template.h"

namespace provision::templates {

std::vector<ValidationIssue> validate_document(const rapidjson::Document& doc);

}  // namespace provision::templates
