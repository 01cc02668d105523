#include <catch2/catch.hpp>
// GCC 12 at -O2 reports a "potential null pointer dereference" inside
// RapidJSON's schema validator even though it is a system header.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <rapidjson/schema.h>
#pragma GCC diagnostic pop
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "templates/template.h"
#include "util/files.h"
#include "util/json.h"

using namespace provision;
using namespace provision::templates;

namespace {

const std::string kCertId = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

CertificateFacts certificate() {
  return {kCertId,
          {{"CN", "device-0001"},
           {"C", "US"},
           {"O", "Acme"},
           {"OU", "Sensors"},
           {"dnQualifier", "q1"},
           {"ST", "WA"},
           {"L", "Seattle"},
           {"serialNumber", "SN0001"}}};
}

Plan run(const std::string& body, const std::map<std::string, std::string>& params = {},
         const CertificateFacts& cert = certificate()) {
  return ProvisioningTemplate::parse(body).evaluate(params, cert);
}

// Runs f and checks that it throws a TemplateError with this code and path.
template <class F>
void check_error(F&& f, const std::string& code, const std::string& path) {
  try {
    f();
  } catch (const TemplateError& e) {
    INFO("message: " << e.what());
    CHECK(e.code == code);
    CHECK(e.path == path);
    CHECK(e.status_code == 400);
    CHECK(std::string(e.what()).starts_with(path + ": "));
    return;
  }
  FAIL("no TemplateError thrown (expected " << code << " at " << path << ")");
}

void check_invalid(const std::string& body, const std::string& path) {
  check_error([&] { ProvisioningTemplate::parse(body); }, "InvalidTemplate", path);
}

void check_eval_error(const std::string& body, const std::string& code, const std::string& path,
                      const std::map<std::string, std::string>& params = {},
                      const CertificateFacts& cert = certificate()) {
  auto t = ProvisioningTemplate::parse(body);
  check_error([&] { t.evaluate(params, cert); }, code, path);
}

// A template whose only purpose is to evaluate `value` into DeviceConfiguration.Out.
std::string config_template(const std::string& value, const std::string& extra = "") {
  return R"({)" + extra + R"("DeviceConfiguration": {"Out": )" + value + "}}";
}

std::string config_out(const Plan& plan) { return json::stringify(plan.device_configuration["Out"]); }

std::string thing_template(const std::string& name_expr, const std::string& extra_props = "",
                           const std::string& top = "") {
  return "{" + top + R"("Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": )" +
         name_expr + extra_props + "}}}}";
}

std::string read_example(const std::string& name) {
  return read_file(std::filesystem::path(PROVISION_SOURCE_DIR) / "tests/data/templates" / name);
}

}  // namespace

// ---------------------------------------------------------------- functions

TEST_CASE("Ref resolves declared parameters and pseudo parameters") {
  auto plan = run(thing_template(R"({"Ref": "Name"})", R"(, "AttributePayload": {"cert": {"Ref": "AWS::IoT::Certificate::Id"}})",
                                 R"("Parameters": {"Name": {"Type": "String"}},)"),
                  {{"Name", "dev-1"}});
  REQUIRE(plan.thing);
  CHECK(plan.thing->name == "dev-1");
  CHECK(plan.thing->attributes.at("cert") == kCertId);
}

TEST_CASE("Ref to an undeclared parameter is refused on save") {
  check_invalid(thing_template(R"({"Ref": "Nope"})"), "$.Resources.thing.Properties.ThingName.Ref");
  check_invalid(config_template(R"({"Ref": ["a"]})"), "$.DeviceConfiguration.Out.Ref");
}

TEST_CASE("Fn::Join joins evaluated values with the delimiter") {
  auto plan = run(config_template(R"({"Fn::Join": ["-", ["a", {"Ref": "P"}, {"Fn::Join": ["", ["x", "y"]]}]]})",
                                  R"("Parameters": {"P": {"Type": "String"}},)"),
                  {{"P", "mid"}});
  CHECK(config_out(plan) == R"("a-mid-xy")");
  // an empty list joins to the empty string
  CHECK(config_out(run(config_template(R"({"Fn::Join": [",", []]})"))) == R"("")");
}

TEST_CASE("Fn::Join errors: arity, list argument, non-string element") {
  check_invalid(config_template(R"({"Fn::Join": ["-"]})"), "$.DeviceConfiguration.Out.Fn::Join");
  check_invalid(config_template(R"({"Fn::Join": ["-", "not a list"]})"), "$.DeviceConfiguration.Out.Fn::Join[1]");
  check_invalid(config_template(R"({"Fn::Join": [["-"], ["a"]]})"), "$.DeviceConfiguration.Out.Fn::Join[0]");
  check_invalid(config_template(R"({"Fn::Join": ["-", {"Ref": "AWS::IoT::Certificate::Id"}]})"),
                "$.DeviceConfiguration.Out.Fn::Join[1]");
  // an element that evaluates to a list is only found at evaluation time
  std::string body = thing_template(
      R"({"Fn::Join": ["", [{"Fn::FindInMap": ["M", "k", "list"]}]]})", "",
      R"("Mappings": {"M": {"k": {"list": ["a", "b"]}}},)");
  check_eval_error(body, "TemplateEvaluationError", "$.Resources.thing.Properties.ThingName.Fn::Join[1][0]");
}

TEST_CASE("Fn::Sub substitutes parameters, pseudo parameters and local variables") {
  std::string extra = R"("Parameters": {"Site": {"Type": "String", "Default": "sea"}},)";
  CHECK(config_out(run(config_template(R"({"Fn::Sub": "${Site}/${AWS::IoT::Certificate::CommonName}/x"})", extra))) ==
        R"("sea/device-0001/x")");
  CHECK(config_out(run(config_template(
            R"({"Fn::Sub": ["${a}-${Site}-${b}", {"a": "A", "b": {"Fn::Join": ["", ["B", "B"]]}}]})", extra))) ==
        R"("A-sea-BB")");
  // a local variable shadows a parameter of the same name
  CHECK(config_out(run(config_template(R"({"Fn::Sub": ["${Site}", {"Site": "local"}]})", extra))) == R"("local")");
  // ${!Literal} is written out as ${Literal}
  CHECK(config_out(run(config_template(R"({"Fn::Sub": "${!iot:Connection.Thing.ThingName} ${Site}"})", extra))) ==
        R"("${iot:Connection.Thing.ThingName} sea")");
  CHECK(config_out(run(config_template(R"({"Fn::Sub": "no references"})"))) == R"("no references")");
}

TEST_CASE("Fn::Sub errors") {
  check_invalid(config_template(R"({"Fn::Sub": "${Undeclared}"})"), "$.DeviceConfiguration.Out.Fn::Sub");
  check_invalid(config_template(R"({"Fn::Sub": ["${a}${b}", {"a": "x"}]})"), "$.DeviceConfiguration.Out.Fn::Sub[0]");
  check_invalid(config_template(R"({"Fn::Sub": "open ${"})"), "$.DeviceConfiguration.Out.Fn::Sub");
  check_invalid(config_template(R"({"Fn::Sub": 5})"), "$.DeviceConfiguration.Out.Fn::Sub");
  check_invalid(config_template(R"({"Fn::Sub": ["x", {"v": ["list"]}]})"), "$.DeviceConfiguration.Out.Fn::Sub[1].v");
  // a subject field the certificate does not have
  auto cert = certificate();
  cert.subject.erase("OU");
  check_eval_error(config_template(R"({"Fn::Sub": "${AWS::IoT::Certificate::OrganizationalUnit}"})"),
                   "TemplateEvaluationError", "$.DeviceConfiguration.Out.Fn::Sub", {}, cert);
}

TEST_CASE("Fn::Split produces a list and Fn::Select picks from it") {
  std::string extra = R"("Parameters": {"Csv": {"Type": "String"}},)";
  std::map<std::string, std::string> params{{"Csv", "a,b,,c"}};
  CHECK(config_out(run(config_template(R"({"Fn::Split": [",", {"Ref": "Csv"}]})", extra), params)) ==
        R"(["a","b","","c"])");
  CHECK(config_out(run(config_template(R"({"Fn::Split": ["::", "x::y"]})"))) == R"(["x","y"])");
  CHECK(config_out(run(config_template(R"({"Fn::Select": [1, {"Fn::Split": [",", {"Ref": "Csv"}]}]})", extra),
                       params)) == R"("b")");
  CHECK(config_out(run(config_template(R"({"Fn::Select": ["3", {"Fn::Split": [",", {"Ref": "Csv"}]}]})", extra),
                       params)) == R"("c")");
  CHECK(config_out(run(config_template(R"({"Fn::Select": [0, [{"k": "v"}, "b"]]})"))) == R"({"k":"v"})");
  // the index may itself be a function
  CHECK(config_out(run(config_template(R"({"Fn::Select": [{"Ref": "I"}, ["x", "y"]]})",
                                       R"("Parameters": {"I": {"Type": "Number"}},)"),
                       {{"I", "1"}})) == R"("y")");
}

TEST_CASE("Fn::Split and Fn::Select errors") {
  std::string extra = R"("Parameters": {"Csv": {"Type": "String"}},)";
  check_eval_error(config_template(R"({"Fn::Select": [3, {"Fn::Split": [",", {"Ref": "Csv"}]}]})", extra),
                   "TemplateEvaluationError", "$.DeviceConfiguration.Out.Fn::Select[0]", {{"Csv", "a,b"}});
  check_eval_error(config_template(R"({"Fn::Select": [{"Ref": "Csv"}, ["x"]]})", extra), "TemplateEvaluationError",
                   "$.DeviceConfiguration.Out.Fn::Select[0]", {{"Csv", "one"}});
  check_invalid(config_template(R"({"Fn::Select": [2, ["a", "b"]]})"), "$.DeviceConfiguration.Out.Fn::Select[0]");
  check_invalid(config_template(R"({"Fn::Select": ["-1", ["a"]]})"), "$.DeviceConfiguration.Out.Fn::Select[0]");
  check_invalid(config_template(R"({"Fn::Select": [0, "abc"]})"), "$.DeviceConfiguration.Out.Fn::Select[1]");
  check_invalid(config_template(R"({"Fn::Select": [0]})"), "$.DeviceConfiguration.Out.Fn::Select");
  check_invalid(config_template(R"({"Fn::Split": ["", "abc"]})"), "$.DeviceConfiguration.Out.Fn::Split[0]");
  check_invalid(config_template(R"({"Fn::Split": [",", ["a"]]})"), "$.DeviceConfiguration.Out.Fn::Split[1]");
  check_invalid(config_template(R"({"Fn::Split": ","})"), "$.DeviceConfiguration.Out.Fn::Split");
}

TEST_CASE("Fn::FindInMap looks up two levels, with functions as arguments") {
  std::string extra =
      R"("Parameters": {"Loc": {"Type": "String"}}, "Mappings": {"Table": {"sea": {"Url": "https://sea", "Ports": [1, 2]}}},)";
  CHECK(config_out(run(config_template(R"({"Fn::FindInMap": ["Table", {"Ref": "Loc"}, "Url"]})", extra),
                       {{"Loc", "sea"}})) == R"("https://sea")");
  CHECK(config_out(run(config_template(R"({"Fn::FindInMap": [{"Fn::Join": ["", ["Ta", "ble"]]}, "sea", "Ports"]})",
                                       extra),
                       {{"Loc", "sea"}})) == R"([1,2])");
}

TEST_CASE("Fn::FindInMap errors") {
  std::string extra = R"("Parameters": {"Loc": {"Type": "String"}}, "Mappings": {"Table": {"sea": {"Url": "u"}}},)";
  check_eval_error(config_template(R"({"Fn::FindInMap": ["Table", {"Ref": "Loc"}, "Url"]})", extra),
                   "TemplateEvaluationError", "$.DeviceConfiguration.Out.Fn::FindInMap[1]", {{"Loc", "dub"}});
  check_eval_error(config_template(R"({"Fn::FindInMap": ["Table", {"Ref": "Loc"}, "Port"]})", extra),
                   "TemplateEvaluationError", "$.DeviceConfiguration.Out.Fn::FindInMap[2]", {{"Loc", "sea"}});
  check_eval_error(config_template(R"({"Fn::FindInMap": [{"Ref": "Loc"}, "sea", "Url"]})", extra),
                   "TemplateEvaluationError", "$.DeviceConfiguration.Out.Fn::FindInMap[0]", {{"Loc", "Other"}});
  check_invalid(config_template(R"({"Fn::FindInMap": ["Nope", "sea", "Url"]})", extra),
                "$.DeviceConfiguration.Out.Fn::FindInMap[0]");
  check_invalid(config_template(R"({"Fn::FindInMap": ["Table", "sea"]})", extra),
                "$.DeviceConfiguration.Out.Fn::FindInMap");
  check_invalid(config_template(R"({"Fn::FindInMap": ["Table", ["sea"], "Url"]})", extra),
                "$.DeviceConfiguration.Out.Fn::FindInMap[1]");
}

TEST_CASE("functions compose at any depth") {
  std::string extra = R"("Parameters": {"Csv": {"Type": "String"}}, "Mappings": {"M": {"b": {"v": "found"}}},)";
  auto plan = run(config_template(
                      R"({"Fn::Sub": ["${x}!", {"x": {"Fn::FindInMap": ["M", {"Fn::Select": [1, {"Fn::Split": [",", {"Ref": "Csv"}]}]}, "v"]}}]})",
                      extra),
                  {{"Csv", "a,b"}});
  CHECK(config_out(plan) == R"("found!")");
}

TEST_CASE("unknown functions are refused on save, wherever they are") {
  check_invalid(config_template(R"({"Fn::GetAtt": ["a", "b"]})"), "$.DeviceConfiguration.Out.Fn::GetAtt");
  check_invalid(thing_template(R"({"Fn::Join": ["", [{"Fn::Base64": "x"}]]})"),
                "$.Resources.thing.Properties.ThingName.Fn::Join[1][0].Fn::Base64");
  check_invalid(R"({"Conditions": {"c": {"Fn::Bogus": []}}})", "$.Conditions.c.Fn::Bogus");
  // a condition function used as a value
  check_invalid(config_template(R"({"Fn::Equals": ["a", "a"]})"), "$.DeviceConfiguration.Out.Fn::Equals");
  // an object with several keys is a plain object, not a function
  CHECK(config_out(run(config_template(R"({"Fn::Nope": 1, "other": 2})"))) == R"({"Fn::Nope":1,"other":2})");
}

// --------------------------------------------------------------- parameters

TEST_CASE("parameters: Default, missing, undeclared request parameters") {
  std::string body = thing_template(R"({"Fn::Join": ["-", [{"Ref": "A"}, {"Ref": "B"}]]})", "",
                                    R"("Parameters": {"A": {"Type": "String"}, "B": {"Type": "String", "Default": "def"}},)");
  auto plan = run(body, {{"A", "a"}, {"Unused", "x"}});
  CHECK(plan.thing->name == "a-def");
  CHECK(plan.parameters.at("A") == "a");
  CHECK(plan.parameters.at("B") == "def");
  CHECK_FALSE(plan.parameters.contains("Unused"));
  CHECK(run(body, {{"A", "a"}, {"B", "given"}}).thing->name == "a-given");
  check_eval_error(body, "MissingParameter", "$.Parameters.A", {{"B", "b"}});
  CHECK(ProvisioningTemplate::parse(body).required_parameters() == std::vector<std::string>{"A"});
}

TEST_CASE("parameters: Number, AllowedValues, AllowedPattern") {
  std::string body = config_template(
      R"([{"Ref": "N"}, {"Ref": "Color"}, {"Ref": "Serial"}])",
      R"("Parameters": {"N": {"Type": "Number", "Default": "1"},
                        "Color": {"Type": "String", "Default": "red", "AllowedValues": ["red", "green"]},
                        "Serial": {"Type": "String", "Default": "AB12", "AllowedPattern": "[A-Z]{2}[0-9]+"}},)");
  CHECK(config_out(run(body)) == R"(["1","red","AB12"])");
  CHECK(config_out(run(body, {{"N", "-2.5e3"}, {"Color", "green"}, {"Serial", "XY9"}})) == R"(["-2.5e3","green","XY9"])");
  check_eval_error(body, "InvalidParameter", "$.Parameters.N", {{"N", "12abc"}});
  check_eval_error(body, "InvalidParameter", "$.Parameters.N", {{"N", ""}});
  check_eval_error(body, "InvalidParameter", "$.Parameters.Color", {{"Color", "blue"}});
  // the pattern must match the whole value
  check_eval_error(body, "InvalidParameter", "$.Parameters.Serial", {{"Serial", "AB12x"}});
  check_eval_error(body, "InvalidParameter", "$.Parameters.Serial", {{"Serial", "ab12"}});
  // values matched against a pattern are bounded (std::regex recurses per character)
  std::string loose = config_template(R"({"Ref": "P"})", R"("Parameters": {"P": {"Type": "String", "AllowedPattern": "(a|b)*"}},)");
  CHECK(config_out(run(loose, {{"P", std::string(1024, 'a')}})) == "\"" + std::string(1024, 'a') + "\"");
  check_eval_error(loose, "InvalidParameter", "$.Parameters.P", {{"P", std::string(100000, 'a')}});
  // numeric AllowedValues compare as numbers
  std::string numeric = config_template(R"({"Ref": "N"})",
                                        R"("Parameters": {"N": {"Type": "Number", "AllowedValues": [1, 2]}},)");
  CHECK(config_out(run(numeric, {{"N", "2.0"}})) == R"("2.0")");
  check_eval_error(numeric, "InvalidParameter", "$.Parameters.N", {{"N", "3"}});
}

TEST_CASE("a parsed template checks every evaluation's values against each parameter's own pattern") {
  // Patterns are compiled once per template: each parameter must still get its own.
  auto t = ProvisioningTemplate::parse(config_template(
      R"([{"Ref": "A"}, {"Ref": "B"}, {"Ref": "C"}])",
      R"("Parameters": {"A": {"Type": "String", "AllowedPattern": "[a-z]+"},
                        "B": {"Type": "String", "AllowedPattern": "[0-9]+"},
                        "C": {"Type": "String", "AllowedPattern": "[a-z]+"}},)"));
  for (int i = 0; i < 3; ++i) {
    CHECK(config_out(t.evaluate({{"A", "ab"}, {"B", "12"}, {"C", "cd"}}, {})) == R"(["ab","12","cd"])");
    CHECK_THROWS_WITH(t.evaluate({{"A", "ab"}, {"B", "xy"}, {"C", "cd"}}, {}), Catch::Contains("$.Parameters.B"));
    CHECK_THROWS_WITH(t.evaluate({{"A", "12"}, {"B", "12"}, {"C", "cd"}}, {}), Catch::Contains("$.Parameters.A"));
    CHECK_THROWS_WITH(t.evaluate({{"A", "ab"}, {"B", "12"}, {"C", "3"}}, {}), Catch::Contains("$.Parameters.C"));
  }
}

TEST_CASE("invalid parameter declarations are refused on save") {
  check_invalid(R"({"Parameters": {"P": {}}})", "$.Parameters.P");
  check_invalid(R"({"Parameters": {"P": {"Type": "Integer"}}})", "$.Parameters.P.Type");
  check_invalid(R"({"Parameters": {"P": {"Type": "String", "Default": 5}}})", "$.Parameters.P.Default");
  check_invalid(R"({"Parameters": {"P": {"Type": "Number", "Default": "five"}}})", "$.Parameters.P.Default");
  check_invalid(R"({"Parameters": {"P": {"Type": "String", "AllowedPattern": "(["}}})", "$.Parameters.P.AllowedPattern");
  check_invalid(R"({"Parameters": {"P": {"Type": "String", "Default": "z", "AllowedValues": ["a"]}}})",
                "$.Parameters.P.Default");
  check_invalid(R"({"Parameters": {"P": {"Type": "String", "Colour": "x"}}})", "$.Parameters.P.Colour");
  check_invalid(R"({"Parameters": {"P": "String"}})", "$.Parameters.P");
  check_invalid(R"({"Parameters": {"P": {"Type": "String", "Default": "abc", "AllowedPattern": "[0-9]+"}}})",
                "$.Parameters.P.Default");
  check_invalid(R"({"Parameters": {"P": {"Type": "String", "AllowedValues": ["a", {}]}}})",
                "$.Parameters.P.AllowedValues[1]");
  auto issues = ProvisioningTemplate::validate(R"({"Parameters": {"P": {"Type": "Integer", "Colour": "x", "Default": 1}}})");
  REQUIRE(issues.size() == 3);
  CHECK(issues[0].path == "$.Parameters.P.Type");
  CHECK(issues[1].path == "$.Parameters.P.Colour");
  CHECK(issues[2].path == "$.Parameters.P.Default");
  check_invalid(R"({"Parameters": {"AWS::IoT::Certificate::Nope": {"Type": "String"}}})",
                "$.Parameters.AWS::IoT::Certificate::Nope");
}

TEST_CASE("pseudo parameters come from the certificate") {
  std::string body = config_template(R"({
      "id": {"Ref": "AWS::IoT::Certificate::Id"},
      "cn": {"Ref": "AWS::IoT::Certificate::CommonName"},
      "c": {"Ref": "AWS::IoT::Certificate::Country"},
      "o": {"Ref": "AWS::IoT::Certificate::Organization"},
      "ou": {"Ref": "AWS::IoT::Certificate::OrganizationalUnit"},
      "dnq": {"Ref": "AWS::IoT::Certificate::DistinguishedNameQualifier"},
      "st": {"Ref": "AWS::IoT::Certificate::StateName"},
      "l": {"Ref": "AWS::IoT::Certificate::Locality"},
      "sn": {"Ref": "AWS::IoT::Certificate::SerialNumber"}})");
  auto plan = run(body);
  const auto& out = plan.device_configuration["Out"];
  CHECK(json::view(out["id"]) == kCertId);
  CHECK(json::view(out["cn"]) == "device-0001");
  CHECK(json::view(out["c"]) == "US");
  CHECK(json::view(out["o"]) == "Acme");
  CHECK(json::view(out["ou"]) == "Sensors");
  CHECK(json::view(out["dnq"]) == "q1");
  CHECK(json::view(out["st"]) == "WA");
  CHECK(json::view(out["l"]) == "Seattle");
  CHECK(json::view(out["sn"]) == "SN0001");
  CHECK(plan.parameters.at("AWS::IoT::Certificate::Id") == kCertId);
  CHECK(plan.parameters.at("AWS::IoT::Certificate::CommonName") == "device-0001");

  auto cert = certificate();
  cert.subject.erase("L");
  check_eval_error(body, "TemplateEvaluationError", "$.DeviceConfiguration.Out.l.Ref", {}, cert);
}

TEST_CASE("a request cannot override pseudo parameters, even declared ones") {
  std::string body = config_template(
      R"([{"Ref": "AWS::IoT::Certificate::Id"}, {"Ref": "AWS::IoT::Certificate::CommonName"}])",
      R"("Parameters": {"AWS::IoT::Certificate::Id": {"Type": "String"},
                        "AWS::IoT::Certificate::CommonName": {"Type": "String", "Default": "dflt"}},)");
  auto t = ProvisioningTemplate::parse(body);
  CHECK(t.required_parameters().empty());
  auto plan = t.evaluate({{"AWS::IoT::Certificate::Id", "forged"}, {"AWS::IoT::Certificate::CommonName", "evil"}},
                         certificate());
  CHECK(config_out(plan) == "[\"" + kCertId + "\",\"device-0001\"]");
  CHECK(plan.parameters.at("AWS::IoT::Certificate::Id") == kCertId);
  // also not undeclared ones
  plan = run(config_template(R"({"Ref": "AWS::IoT::Certificate::Organization"})"),
             {{"AWS::IoT::Certificate::Organization", "evil"}});
  CHECK(config_out(plan) == R"("Acme")");
}

// --------------------------------------------------------------- conditions

TEST_CASE("conditions: Equals, And, Or, Not, Condition and Fn::If") {
  std::string extra = R"("Parameters": {"Stage": {"Type": "String"}, "N": {"Type": "Number", "Default": "3"}},
    "Conditions": {
      "IsDev": {"Fn::Equals": [{"Ref": "Stage"}, "dev"]},
      "IsThree": {"Fn::Equals": [{"Ref": "N"}, 3]},
      "NotDev": {"Fn::Not": [{"Condition": "IsDev"}]},
      "Both": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "IsThree"}]},
      "Either": {"Fn::Or": [{"Condition": "IsDev"}, {"Fn::Equals": [{"Ref": "Stage"}, "qa"]}]},
      "Lists": {"Fn::Equals": [{"Fn::Split": [",", "a,b"]}, ["a", "b"]]}
    },)";
  std::string body = config_template(R"({
      "dev": {"Fn::If": ["IsDev", "y", "n"]}, "three": {"Fn::If": ["IsThree", "y", "n"]},
      "notdev": {"Fn::If": ["NotDev", "y", "n"]}, "both": {"Fn::If": ["Both", "y", "n"]},
      "either": {"Fn::If": ["Either", "y", "n"]}, "lists": {"Fn::If": ["Lists", "y", "n"]}})",
                                     extra);
  auto out = [&](const std::map<std::string, std::string>& p) { return config_out(run(body, p)); };
  CHECK(out({{"Stage", "dev"}}) == R"({"dev":"y","three":"y","notdev":"n","both":"y","either":"y","lists":"y"})");
  CHECK(out({{"Stage", "dev"}, {"N", "4"}}) ==
        R"({"dev":"y","three":"n","notdev":"n","both":"n","either":"y","lists":"y"})");
  CHECK(out({{"Stage", "qa"}}) == R"({"dev":"n","three":"y","notdev":"y","both":"n","either":"y","lists":"y"})");
  CHECK(out({{"Stage", "prod"}}) == R"({"dev":"n","three":"y","notdev":"y","both":"n","either":"n","lists":"y"})");
}

TEST_CASE("Fn::If evaluates only the branch it takes") {
  std::string body = config_template(
      R"({"Fn::If": ["HasOU", {"Ref": "AWS::IoT::Certificate::OrganizationalUnit"}, "none"]})",
      R"("Parameters": {"WantOU": {"Type": "String"}}, "Conditions": {"HasOU": {"Fn::Equals": [{"Ref": "WantOU"}, "yes"]}},)");
  auto cert = certificate();
  cert.subject.erase("OU");
  CHECK(config_out(run(body, {{"WantOU", "no"}}, cert)) == R"("none")");
  check_eval_error(body, "TemplateEvaluationError", "$.DeviceConfiguration.Out.Fn::If[1].Ref", {{"WantOU", "yes"}}, cert);
}

TEST_CASE("a resource whose Condition is false is skipped") {
  std::string body = R"({
    "Parameters": {"Stage": {"Type": "String"}},
    "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
    "Resources": {
      "thing": {"Type": "AWS::IoT::Thing", "Condition": "IsProd", "Properties": {"ThingName": "t1"}},
      "p1": {"Type": "AWS::IoT::Policy", "Condition": "IsProd", "Properties": {"PolicyName": "Prod"}},
      "p2": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "Always"}}
    }})";
  auto prod = run(body, {{"Stage", "prod"}});
  REQUIRE(prod.thing);
  REQUIRE(prod.policies.size() == 2);
  CHECK(prod.policies[0].name == "Prod");
  auto dev = run(body, {{"Stage", "dev"}});
  CHECK_FALSE(dev.thing);
  REQUIRE(dev.policies.size() == 1);
  CHECK(dev.policies[0].name == "Always");
}

TEST_CASE("condition errors are refused on save") {
  check_invalid(R"({"Conditions": {"a": {"Condition": "b"}, "b": {"Fn::Not": [{"Condition": "a"}]}}})",
                "$.Conditions.a");
  check_invalid(R"({"Conditions": {"x": {"Fn::Equals": ["1", "1"]}, "self": {"Fn::Not": [{"Condition": "self"}]}}})",
                "$.Conditions.self");
  // a cycle through an Fn::If in a compared value
  check_invalid(R"({"Conditions": {"a": {"Fn::Equals": [{"Fn::If": ["a", "x", "y"]}, "x"]}}})", "$.Conditions.a");
  check_invalid(config_template(R"({"Fn::If": ["Missing", "a", "b"]})"), "$.DeviceConfiguration.Out.Fn::If[0]");
  check_invalid(config_template(R"({"Fn::If": ["C", "a"]})", R"("Conditions": {"C": {"Fn::Equals": ["a", "a"]}},)"),
                "$.DeviceConfiguration.Out.Fn::If");
  check_invalid(R"({"Resources": {"p": {"Type": "AWS::IoT::Policy", "Condition": "Missing", "Properties": {"PolicyName": "x"}}}})",
                "$.Resources.p.Condition");
  check_invalid(R"({"Conditions": {"c": {"Fn::And": [{"Fn::Equals": ["a", "a"]}]}}})", "$.Conditions.c.Fn::And");
  check_invalid(R"({"Conditions": {"c": {"Fn::Not": [{"Fn::Equals": ["a"]}]}}})", "$.Conditions.c.Fn::Not[0].Fn::Equals");
  check_invalid(R"({"Conditions": {"c": {"Condition": "nope"}}})", "$.Conditions.c.Condition");
  check_invalid(R"({"Conditions": {"c": "true"}})", "$.Conditions.c");
  // in a compared value, {"Condition": ...} is a literal object, not a reference
  CHECK_NOTHROW(ProvisioningTemplate::parse(R"({"Conditions": {"a": {"Fn::Equals": [{"Condition": "a"}, "x"]}}})"));
  // an acyclic chain is fine
  CHECK_NOTHROW(ProvisioningTemplate::parse(
      R"({"Conditions": {"a": {"Condition": "b"}, "b": {"Condition": "c"}, "c": {"Fn::Equals": ["1", "1"]}}})"));
}

// ---------------------------------------------------------------- resources

TEST_CASE("every OverrideSettings value is parsed into the ThingPlan") {
  struct Case {
    const char* text;
    Override value;
  };
  for (auto [text, value] : {Case{"DO_NOTHING", Override::DoNothing}, Case{"REPLACE", Override::Replace},
                             Case{"MERGE", Override::Merge}, Case{"FAIL", Override::Fail}}) {
    INFO(text);
    std::string s = std::string("\"") + text + "\"";
    auto plan = run(R"({"Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "t"},
                         "OverrideSettings": {"AttributePayload": )" + s + R"(, "ThingGroups": )" + s + "}}}}");
    CHECK(plan.thing->attributes_override == value);
    CHECK(plan.thing->groups_override == value);
    CHECK(plan.thing->thing_type_override == Override::DoNothing);
    if (value != Override::Merge) {
      plan = run(R"({"Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "t"},
                      "OverrideSettings": {"ThingTypeName": )" + s + "}}}}");
      CHECK(plan.thing->thing_type_override == value);
      CHECK(plan.thing->attributes_override == Override::DoNothing);
    }
  }
}

TEST_CASE("invalid OverrideSettings are refused on save") {
  auto with = [](const std::string& overrides) {
    return R"({"Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "t"}, "OverrideSettings": )" +
           overrides + "}}}";
  };
  check_invalid(with(R"({"ThingTypeName": "MERGE"})"), "$.Resources.thing.OverrideSettings.ThingTypeName");
  check_invalid(with(R"({"ThingGroups": "merge"})"), "$.Resources.thing.OverrideSettings.ThingGroups");
  check_invalid(with(R"({"AttributePayload": "OVERWRITE"})"), "$.Resources.thing.OverrideSettings.AttributePayload");
  check_invalid(with(R"({"ThingName": "REPLACE"})"), "$.Resources.thing.OverrideSettings.ThingName");
  check_invalid(with(R"("REPLACE")"), "$.Resources.thing.OverrideSettings");
}

TEST_CASE("thing: attributes, type and groups") {
  auto plan = run(thing_template(R"("t-1")", R"(, "AttributePayload": {"a.b": "x=[1]", "n": 5, "empty": ""},
                                           "ThingTypeName": "Sensor", "ThingGroups": ["g1", "g2", "g1"])"));
  REQUIRE(plan.thing);
  CHECK(plan.thing->name == "t-1");
  CHECK(plan.thing->has_attributes);
  CHECK(plan.thing->attributes == std::map<std::string, std::string>{{"a.b", "x=[1]"}, {"n", "5"}, {"empty", ""}});
  CHECK(plan.thing->thing_type == "Sensor");
  CHECK(plan.thing->has_groups);
  CHECK(plan.thing->groups == std::vector<std::string>{"g1", "g2"});

  auto bare = run(thing_template(R"("t-2")"));
  CHECK_FALSE(bare.thing->has_attributes);
  CHECK_FALSE(bare.thing->has_groups);
  CHECK_FALSE(bare.thing->thing_type);
  CHECK(bare.thing->attributes_override == Override::DoNothing);
}

TEST_CASE("an invalid thing name produced at evaluation names the path") {
  std::string body = thing_template(R"({"Fn::Sub": "dev-${Serial}"})", "", R"("Parameters": {"Serial": {"Type": "String"}},)");
  CHECK(run(body, {{"Serial", "A:b_c-1"}}).thing->name == "dev-A:b_c-1");
  check_eval_error(body, "TemplateEvaluationError", "$.Resources.thing.Properties.ThingName", {{"Serial", "has space"}});
  check_eval_error(body, "TemplateEvaluationError", "$.Resources.thing.Properties.ThingName", {{"Serial", "a/b"}});
  check_eval_error(body, "TemplateEvaluationError", "$.Resources.thing.Properties.ThingName",
                   {{"Serial", std::string(125, 'x')}});
  CHECK(run(body, {{"Serial", std::string(124, 'x')}}).thing->name.size() == 128);
  // empty name
  check_eval_error(thing_template(R"({"Ref": "S"})", "", R"("Parameters": {"S": {"Type": "String"}},)"),
                   "TemplateEvaluationError", "$.Resources.thing.Properties.ThingName", {{"S", ""}});
  // a list is not a name
  check_eval_error(thing_template(R"({"Fn::If": ["C", ["a"], "b"]})", "", R"("Conditions": {"C": {"Fn::Equals": ["1", "1"]}},)"),
                   "TemplateEvaluationError", "$.Resources.thing.Properties.ThingName");
}

TEST_CASE("a device's value quoted in an evaluation error is escaped and bounded") {
  std::string body = thing_template(R"({"Fn::Sub": "dev-${Serial}"})", "", R"("Parameters": {"Serial": {"Type": "String"}},)");
  auto message = [&](const std::string& serial) {
    try {
      run(body, {{"Serial", serial}});
    } catch (const TemplateError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(message("a\nb\x1b[2J\"") ==
        R"($.Resources.thing.Properties.ThingName: invalid thing name "dev-a\nb\u001b[2J\"" (1-128 of a-z A-Z 0-9 : _ -))");
  CHECK(message(std::string(10000, ' ')).size() < 300);
}

TEST_CASE("templates get the same JSON limits as every other input: UTF-8, one document, 64 levels") {
  using namespace std::string_literals;
  auto first = [](const std::string& body) {
    auto issues = ProvisioningTemplate::validate(body);
    return issues.empty() ? std::string() : issues.front().path + ": " + issues.front().message;
  };
  CHECK(first(R"({"Resources": {}})" "\0junk"s) == "$: trailing bytes at offset 17");
  CHECK(first("{\"Description\": \"\xc0\xaf\"}") == "$: invalid UTF-8 at offset 17");
  const std::string deep = R"({"DeviceConfiguration": )" + std::string(300000, '[') + std::string(300000, ']') + "}";
  CHECK(first(deep) == "$: nesting deeper than 64 at offset " + std::to_string(24 + 63));
  CHECK_THROWS_AS(ProvisioningTemplate::parse(deep), TemplateError);
}

TEST_CASE("invalid attributes and groups produced at evaluation name the path") {
  std::string top = R"("Parameters": {"V": {"Type": "String"}},)";
  std::string attrs = thing_template(R"("t")", R"(, "AttributePayload": {"ok": {"Ref": "V"}})", top);
  check_eval_error(attrs, "TemplateEvaluationError", "$.Resources.thing.Properties.AttributePayload.ok", {{"V", "a b"}});
  check_eval_error(attrs, "TemplateEvaluationError", "$.Resources.thing.Properties.AttributePayload.ok",
                   {{"V", std::string(801, 'v')}});
  check_eval_error(thing_template(R"("t")", R"(, "AttributePayload": {"bad name": "v"})"), "TemplateEvaluationError",
                   "$.Resources.thing.Properties.AttributePayload.bad name");
  check_eval_error(thing_template(R"("t")", R"(, "ThingGroups": {"Fn::Split": [",", {"Ref": "V"}]})", top),
                   "TemplateEvaluationError", "$.Resources.thing.Properties.ThingGroups[1]", {{"V", "good,bad group"}});
  check_eval_error(thing_template(R"("t")", R"(, "ThingTypeName": {"Ref": "V"})", top), "TemplateEvaluationError",
                   "$.Resources.thing.Properties.ThingTypeName", {{"V", "no spaces"}});
}

TEST_CASE("thing shape errors are refused on save") {
  check_invalid(thing_template(R"("has space")"), "$.Resources.thing.Properties.ThingName");
  check_invalid(thing_template(R"(["list"])"), "$.Resources.thing.Properties.ThingName");
  check_invalid(thing_template(R"({"Fn::Split": [",", "a,b"]})"), "$.Resources.thing.Properties.ThingName");
  check_invalid(R"({"Resources": {"thing": {"Type": "AWS::IoT::Thing", "Properties": {}}}})",
                "$.Resources.thing.Properties");
  check_invalid(thing_template(R"("t")", R"(, "BillingGroup": "b")"), "$.Resources.thing.Properties.BillingGroup");
  check_invalid(thing_template(R"("t")", R"(, "ThingGroups": "g")"), "$.Resources.thing.Properties.ThingGroups");
  check_invalid(thing_template(R"("t")", R"(, "AttributePayload": {"a": ["x"]})"),
                "$.Resources.thing.Properties.AttributePayload.a");
  check_invalid(R"({"Resources": {"a": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "a"}},
                                  "b": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "b"}}}})",
                "$.Resources.b");
}

TEST_CASE("unknown resource types and keys are refused on save") {
  check_invalid(R"({"Resources": {"role": {"Type": "AWS::IAM::Role", "Properties": {}}}})", "$.Resources.role.Type");
  check_invalid(R"({"Resources": {"x": {"Properties": {}}}})", "$.Resources.x");
  check_invalid(R"({"Resources": {"x": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "p"}, "DependsOn": "y"}}})",
                "$.Resources.x.DependsOn");
}

TEST_CASE("certificate: Status and CertificateId") {
  auto with = [](const std::string& props) {
    return R"({"Resources": {"cert": {"Type": "AWS::IoT::Certificate", "Properties": )" + props + "}}}";
  };
  CHECK(run(R"({"Resources": {}})").certificate_status == "ACTIVE");
  CHECK(run(with(R"({"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "Active"})")).certificate_status ==
        "ACTIVE");
  CHECK(run(with(R"({"Status": "INACTIVE"})")).certificate_status == "INACTIVE");
  CHECK(run(with(R"({"Status": "inactive"})")).certificate_status == "INACTIVE");
  CHECK(run(with(R"({"Status": "Inactive"})")).certificate_status == "INACTIVE");
  check_invalid(with(R"({"Status": "REVOKED"})"), "$.Resources.cert.Properties.Status");
  check_invalid(with(R"({"CertificatePem": "x"})"), "$.Resources.cert.Properties.CertificatePem");
  check_eval_error(with(R"({"CertificateId": "someone-else"})"), "TemplateEvaluationError",
                   "$.Resources.cert.Properties.CertificateId");
  check_eval_error(with(R"({"Status": {"Ref": "S"}})").insert(1, R"("Parameters": {"S": {"Type": "String"}},)"),
                   "TemplateEvaluationError", "$.Resources.cert.Properties.Status", {{"S", "PENDING"}});
  check_invalid(R"({"Resources": {"a": {"Type": "AWS::IoT::Certificate", "Properties": {}},
                                  "b": {"Type": "AWS::IoT::Certificate", "Properties": {}}}})",
                "$.Resources.b");
}

TEST_CASE("policy by name and inline (string and object forms)") {
  auto plan = run(R"({"Parameters": {"Thing": {"Type": "String", "Default": "t1"}}, "Resources": {
      "named": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyName": "Existing"}},
      "inlineString": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": "{\"Version\": \"2012-10-17\", \"Statement\": []}"}},
      "inlineObject": {"Type": "AWS::IoT::Policy", "Properties": {"PolicyDocument": {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": {"Fn::Sub": "topic/${Thing}/${!iot:ClientId}"}}]}}}
    }})");
  REQUIRE(plan.policies.size() == 3);
  CHECK(plan.policies[0].name == "Existing");
  CHECK(plan.policies[0].document.empty());
  CHECK(plan.policies[1].name == "inlineString");
  CHECK(plan.policies[1].document == R"({"Version": "2012-10-17", "Statement": []})");
  CHECK(plan.policies[2].name == "inlineObject");
  auto doc = json::parse(plan.policies[2].document);
  CHECK(json::view(doc["Statement"][0]["Resource"]) == "topic/t1/${iot:ClientId}");
  CHECK(json::view(doc["Version"]) == "2012-10-17");
}

TEST_CASE("policy errors") {
  auto with = [](const std::string& props) {
    return R"({"Parameters": {"D": {"Type": "String"}}, "Resources": {"p": {"Type": "AWS::IoT::Policy", "Properties": )" +
           props + "}}}";
  };
  check_invalid(with(R"({})"), "$.Resources.p.Properties");
  check_invalid(with(R"({"PolicyName": "a", "PolicyDocument": "{}"})"), "$.Resources.p.Properties");
  check_invalid(with(R"({"PolicyDocument": "{not json"})"), "$.Resources.p.Properties.PolicyDocument");
  check_invalid(with(R"({"PolicyDocument": "[1]"})"), "$.Resources.p.Properties.PolicyDocument");
  check_invalid(with(R"({"PolicyDocument": 5})"), "$.Resources.p.Properties.PolicyDocument");
  check_invalid(R"({"Resources": {"p": {"Type": "AWS::IoT::Policy"}}})", "$.Resources.p");
  check_eval_error(with(R"({"PolicyDocument": {"Ref": "D"}})"), "TemplateEvaluationError",
                   "$.Resources.p.Properties.PolicyDocument", {{"D", "not json"}});
  CHECK(run(with(R"({"PolicyDocument": {"Ref": "D"}})"), {{"D", R"({"Statement":[]})"}}).policies.at(0).document ==
        R"({"Statement":[]})");
}

TEST_CASE("DeviceConfiguration is evaluated at any depth, {} when absent") {
  auto plan = run(R"({"Parameters": {"S": {"Type": "String", "Default": "s1"}},
    "DeviceConfiguration": {"Plain": 1, "Nested": {"List": ["a", {"Ref": "S"}, {"deep": {"Fn::Join": ["/", ["x", {"Ref": "S"}]]}}]},
                            "Flag": true, "Null": null}})");
  CHECK(json::stringify(plan.device_configuration) ==
        R"({"Plain":1,"Nested":{"List":["a","s1",{"deep":"x/s1"}]},"Flag":true,"Null":null})");
  auto empty = run(R"({"Resources": {}})");
  CHECK(empty.device_configuration.IsObject());
  CHECK(json::stringify(empty.device_configuration) == "{}");
  check_invalid(R"({"DeviceConfiguration": "x"})", "$.DeviceConfiguration");
  check_invalid(R"({"DeviceConfiguration": {"Ref": "AWS::IoT::Certificate::Id"}})", "$.DeviceConfiguration");
}

// --------------------------------------------------------- whole documents

TEST_CASE("validate returns every issue in document order") {
  auto issues = ProvisioningTemplate::validate(R"({
    "Parameters": {"P": {"Type": "Text"}, "Q": {"Type": "String", "AllowedPattern": "(("}},
    "Extra": 1,
    "Resources": {
      "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Join": ["", [{"Ref": "Nope"}, {"Fn::Magic": 1}]]}},
                "OverrideSettings": {"ThingTypeName": "MERGE"}},
      "odd": {"Type": "AWS::IoT::Gizmo"}
    },
    "DeviceConfiguration": {"a": {"Fn::Sub": "${Missing}"}}
  })");
  std::vector<std::string> paths;
  for (const auto& i : issues) {
    paths.push_back(i.path);
    CHECK_FALSE(i.message.empty());
  }
  CHECK(paths == std::vector<std::string>{
                     "$.Parameters.P.Type",
                     "$.Parameters.Q.AllowedPattern",
                     "$.Extra",
                     "$.Resources.thing.Properties.ThingName.Fn::Join[1][0].Ref",
                     "$.Resources.thing.Properties.ThingName.Fn::Join[1][1].Fn::Magic",
                     "$.Resources.thing.OverrideSettings.ThingTypeName",
                     "$.Resources.odd.Type",
                     "$.DeviceConfiguration.a.Fn::Sub",
                 });
  // parse throws the first one
  check_invalid(R"({"Extra": 1, "Resources": {"x": {"Type": "Nope"}}})", "$.Extra");
  CHECK(ProvisioningTemplate::validate(read_example("basic.json")).empty());
}

TEST_CASE("documents that are not templates") {
  check_invalid("[]", "$");
  check_invalid("{not json", "$");
  check_invalid(R"({"Outputs": {}})", "$.Outputs");
  check_invalid(R"({"Resources": []})", "$.Resources");
  check_invalid(R"({"Mappings": {"M": {"k": "v"}}})", "$.Mappings.M.k");
  CHECK_NOTHROW(ProvisioningTemplate::parse(R"({"AWSTemplateFormatVersion": "2010-09-09", "Description": "d"})"));
  auto issues = ProvisioningTemplate::validate("{not json");
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].path == "$");
}

TEST_CASE("example: basic template (serial number, certificate, inline policy)") {
  auto t = ProvisioningTemplate::parse(read_example("basic.json"));
  CHECK(t.required_parameters() == std::vector<std::string>{"SerialNumber"});
  auto plan = t.evaluate({{"SerialNumber", "ABC-123"}}, certificate());
  REQUIRE(plan.thing);
  CHECK(plan.thing->name == "sensor_ABC-123");
  CHECK(plan.thing->attributes == std::map<std::string, std::string>{{"version", "v1"}, {"serialNumber", "ABC-123"}});
  CHECK(plan.certificate_status == "ACTIVE");
  REQUIRE(plan.policies.size() == 1);
  CHECK(plan.policies[0].name == "policy");
  auto policy = json::parse(plan.policies[0].document);
  CHECK(policy["Statement"].Size() == 2);
  CHECK(json::stringify(plan.device_configuration) == "{}");
  check_error([&] { t.evaluate({{"SerialNumber", "no"}}, certificate()); }, "InvalidParameter",
              "$.Parameters.SerialNumber");
  check_error([&] { t.evaluate({}, certificate()); }, "MissingParameter", "$.Parameters.SerialNumber");
}

TEST_CASE("example: Mappings, FindInMap and DeviceConfiguration") {
  auto t = ProvisioningTemplate::parse(read_example("mappings.json"));
  auto plan = t.evaluate({{"SerialNumber", "SN-9"}}, certificate());
  CHECK(plan.thing->name == "SN-9");
  CHECK(plan.thing->attributes.at("region") == "us-west-2");
  REQUIRE(plan.policies.size() == 1);
  CHECK(plan.policies[0].name == "FleetDevicePolicy");
  CHECK(plan.policies[0].document.empty());
  CHECK(json::stringify(plan.device_configuration) ==
        R"({"FallbackUrl":"https://www.example.com/test-site","LocationUrl":"https://seattle.example.com",)"
        R"("Telemetry":{"Topic":"telemetry/SN-9","IntervalSeconds":60}})");
  plan = t.evaluate({{"SerialNumber", "SN-9"}, {"DeviceLocation", "Dublin"}}, certificate());
  CHECK(json::view(plan.device_configuration["LocationUrl"]) == "https://dublin.example.com");
  CHECK(plan.parameters.at("DeviceLocation") == "Dublin");
  check_error([&] { t.evaluate({{"SerialNumber", "SN-9"}, {"DeviceLocation", "Paris"}}, certificate()); },
              "InvalidParameter", "$.Parameters.DeviceLocation");
}

TEST_CASE("example: OverrideSettings and ThingGroups") {
  auto t = ProvisioningTemplate::parse(read_example("overrides.json"));
  auto plan = t.evaluate({{"SerialNumber", "0042"}}, certificate());
  REQUIRE(plan.thing);
  CHECK(plan.thing->name == "lightbulb-0042");
  CHECK(plan.thing->thing_type == "lightbulb");
  CHECK(plan.thing->groups == std::vector<std::string>{"v1-lightbulbs", "all-devices"});
  CHECK(plan.thing->attributes == std::map<std::string, std::string>{{"model", "lightbulb"}, {"serialNumber", "0042"}});
  CHECK(plan.thing->attributes_override == Override::Merge);
  CHECK(plan.thing->thing_type_override == Override::Replace);
  CHECK(plan.thing->groups_override == Override::DoNothing);
  CHECK(plan.policies.at(0).name == "LightbulbPolicy");
  plan = t.evaluate({{"SerialNumber", "7"}, {"Model", "plug"}, {"Groups", "plugs"}}, certificate());
  CHECK(plan.thing->name == "plug-7");
  CHECK(plan.thing->groups == std::vector<std::string>{"plugs"});
}

TEST_CASE("example: Conditions extension") {
  auto t = ProvisioningTemplate::parse(read_example("conditions.json"));
  auto dev = t.evaluate({{"SerialNumber", "1"}, {"Stage", "dev"}}, certificate());
  CHECK(dev.thing->name == "dev-1");
  CHECK(dev.thing->groups == std::vector<std::string>{"development"});
  CHECK(dev.certificate_status == "ACTIVE");
  REQUIRE(dev.policies.size() == 1);
  CHECK(dev.policies[0].name == "DevEverything");
  CHECK(json::view(dev.device_configuration["LogLevel"]) == "debug");

  auto prod = t.evaluate({{"SerialNumber", "1"}}, certificate());
  CHECK(prod.thing->name == "prod-1");
  CHECK(prod.thing->groups == std::vector<std::string>{"production"});
  CHECK(prod.certificate_status == "ACTIVE");
  REQUIRE(prod.policies.size() == 1);
  CHECK(prod.policies[0].name == "ProdRestricted");
  CHECK(json::view(prod.device_configuration["LogLevel"]) == "warn");

  auto debug = t.evaluate({{"SerialNumber", "1"}, {"Debug", "true"}}, certificate());
  CHECK(debug.certificate_status == "INACTIVE");
  CHECK(json::view(debug.device_configuration["LogLevel"]) == "debug");
}

TEST_CASE("example templates conform to schemas/template.schema.json") {
  auto schema_json = json::parse(read_file(PROVISION_SOURCE_DIR "/schemas/template.schema.json"), "template schema");
  rapidjson::SchemaDocument schema(schema_json);
  auto conforms = [&](const rapidjson::Document& doc, std::string* where) {
    rapidjson::SchemaValidator validator(schema);
    if (doc.Accept(validator)) return true;
    rapidjson::StringBuffer sb;
    validator.GetInvalidDocumentPointer().StringifyUriFragment(sb);
    *where = std::string(sb.GetString()) + " (" + validator.GetInvalidSchemaKeyword() + ")";
    return false;
  };
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(PROVISION_SOURCE_DIR "/tests/data/templates")) {
    if (entry.path().extension() != ".json") continue;
    ++count;
    INFO(entry.path().filename().string());
    auto doc = json::parse(read_file(entry.path()), entry.path().string());
    std::string where;
    CHECK(conforms(doc, &where));
    INFO(where);
    CHECK(where.empty());
  }
  CHECK(count >= 3);
  // and the schema does reject what the engine rejects
  for (const char* bad : {R"({"Outputs": {}})", R"({"Resources": {"r": {"Type": "AWS::IAM::Role"}}})",
                          R"({"Parameters": {"P": {"Type": "Text"}}})",
                          R"({"Resources": {"t": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": "t"},
                               "OverrideSettings": {"ThingTypeName": "MERGE"}}}})",
                          R"({"Resources": {"p": {"Type": "AWS::IoT::Policy", "Properties": {}}}})",
                          R"({"Conditions": {"c": {"Fn::And": [{"Condition": "a"}]}}})"}) {
    INFO(bad);
    std::string where;
    CHECK_FALSE(conforms(json::parse(bad), &where));
  }
}

TEST_CASE("evaluate is safe to call from several threads at once") {
  auto t = ProvisioningTemplate::parse(read_example("overrides.json"));
  auto conditions = ProvisioningTemplate::parse(read_example("conditions.json"));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int n = 0; n < 4; ++n) {
    threads.emplace_back([&, n] {
      for (int i = 0; i < 200; ++i) try {
        std::string serial = std::to_string(n) + "x" + std::to_string(i);
        CertificateFacts cert{"cert-" + serial, {{"CN", serial}}};
        auto plan = t.evaluate({{"SerialNumber", serial}, {"Groups", "g" + std::to_string(n) + ",shared"}}, cert);
        if (!plan.thing || plan.thing->name != "lightbulb-" + serial ||
            plan.thing->groups != std::vector<std::string>{"g" + std::to_string(n), "shared"} ||
            plan.parameters.at("AWS::IoT::Certificate::Id") != "cert-" + serial)
          ++failures[n];
        auto c = conditions.evaluate({{"SerialNumber", serial}, {"Stage", i % 2 ? "dev" : "prod"}}, cert);
        if (c.thing->name != (i % 2 ? "dev-" : "prod-") + serial) ++failures[n];
      } catch (const std::exception&) {
        ++failures[n];
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == std::vector<int>(4, 0));
}
