#pragma once
// The fleet's changes: every change an admin, a factory, an operator or an
// activator makes to the fleet is one function of this module, with one
// validation and one audit action, whichever door it comes in by (the admin
// API, provisiond's commands, MQTT for the factory, later doors). Doors only
// translate: their input into the function's, its result or RequestError
// into their answer.
//
// Each function runs in its own transaction, writes its audit entry in it
// (who, what, when, from where) and throws RequestError (status, errorCode,
// the field at fault) for bad input, with nothing written. Devices'
// provisioning is the other half (service/provisioning).
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "registry/registry.h"
#include "util/error.h"

namespace provision::pki {
class CertificateAuthority;
}

namespace provision::service {
struct ServiceConfig;
}

namespace provision::service::fleet {

// Who makes a change, for the audit log.
struct Actor {
  std::string name = "cli";  // "cli", "api:<token name>", "factory:<certificate id>", "init"
  std::string source;        // their address, when there is one
};

// What some changes need beyond the registry.
struct Context {
  Actor actor;
  const ServiceConfig* config = nullptr;  // the claim CA (claim certificates made here); the fleet CA's files
  std::filesystem::path config_file;      // provisiond.json: a fleet CA brought in is written next to it
  // The certificate id of the fleet CA issuing device certificates now
  // (unset: the one config names).
  std::function<std::string()> issuing_fleet_ca;
  // Called when a fleet CA is brought in with its key, after its files and
  // provisiond.json are written: the running worker issues from it at once.
  std::function<void(const pki::CertificateAuthority&)> use_fleet_ca;
};

// The audit action of each change. Admin routes name the one they perform,
// so that a change refused before it ran is audited like one that ran.
namespace action {
inline constexpr const char* kCreateTemplate = "CreateTemplate";
inline constexpr const char* kUpdateTemplate = "UpdateTemplate";
inline constexpr const char* kDeleteTemplate = "DeleteTemplate";
inline constexpr const char* kAddTemplateVersion = "AddTemplateVersion";
inline constexpr const char* kDeleteTemplateVersion = "DeleteTemplateVersion";
inline constexpr const char* kCreatePolicy = "CreatePolicy";
inline constexpr const char* kUpdatePolicy = "UpdatePolicy";
inline constexpr const char* kDeletePolicy = "DeletePolicy";
inline constexpr const char* kCreateClaim = "CreateClaim";      // a claim certificate made here, key returned once
inline constexpr const char* kRegisterClaim = "RegisterClaim";  // an existing claim certificate
inline constexpr const char* kUpdateClaim = "UpdateClaim";
inline constexpr const char* kDeleteClaim = "DeleteClaim";
inline constexpr const char* kRegisterCa = "RegisterCa";
inline constexpr const char* kUpdateCa = "UpdateCa";
inline constexpr const char* kDeleteCa = "DeleteCa";
inline constexpr const char* kRevokeCertificate = "RevokeCertificate";
inline constexpr const char* kDeactivateCertificate = "DeactivateCertificate";
inline constexpr const char* kActivateCertificate = "ActivateCertificate";
inline constexpr const char* kDetachCertificate = "DetachCertificate";
inline constexpr const char* kDeleteCertificate = "DeleteCertificate";
inline constexpr const char* kDeleteThing = "DeleteThing";
inline constexpr const char* kDeprovisionThing = "DeprovisionThing";
inline constexpr const char* kRegisterThingProgrammatically = "RegisterThingProgrammatically";
inline constexpr const char* kCreateEnrollment = "CreateEnrollment";
inline constexpr const char* kActivateEnrollment = "ActivateEnrollment";
inline constexpr const char* kDisableEnrollment = "DisableEnrollment";
inline constexpr const char* kResetEnrollment = "ResetEnrollment";
inline constexpr const char* kDeleteEnrollment = "DeleteEnrollment";
inline constexpr const char* kCreateBroker = "CreateBroker";
inline constexpr const char* kUpdateBroker = "UpdateBroker";
inline constexpr const char* kDeleteBroker = "DeleteBroker";
inline constexpr const char* kPublishFirmwareRelease = "PublishFirmwareRelease";
inline constexpr const char* kUpdateFirmwareRelease = "UpdateFirmwareRelease";
inline constexpr const char* kDeleteFirmwareRelease = "DeleteFirmwareRelease";
inline constexpr const char* kRotateDeviceSecret = "RotateDeviceSecret";
inline constexpr const char* kCreateToken = "CreateToken";
inline constexpr const char* kDeleteToken = "DeleteToken";
inline constexpr const char* kRegisterServiceIdentity = "RegisterServiceIdentity";
inline constexpr const char* kUpdateServiceIdentity = "UpdateServiceIdentity";
inline constexpr const char* kDeleteServiceIdentity = "DeleteServiceIdentity";
inline constexpr const char* kInitialise = "Initialise";

// The action a certificate status change is audited under.
const char* for_certificate_status(const std::string& status);
}  // namespace action

// Writes an audit entry for `subject` with result "ok" (inside the caller's transaction).
void audit(registry::Registry& registry, const Actor& actor, const char* action, const std::string& subject,
           const std::string& detail = "{}");
// A JSON object of strings, for audit details: {"role": "fleet", ...}.
std::string detail(const std::vector<std::pair<std::string, std::string>>& fields);

// 404 NotFound / 409 Conflict / 400 InvalidField, the errors most changes share.
[[noreturn]] void not_found(const std::string& what);
[[noreturn]] void conflict(const std::string& message, const std::string& field = {});
[[noreturn]] void invalid_field(const std::string& field, const std::string& message);

}  // namespace provision::service::fleet
