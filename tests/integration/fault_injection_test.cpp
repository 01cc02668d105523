// Faults injected into real processes (docs/reliability.md): provisiond
// killed with SIGKILL at each point of a RegisterThing (util/fault.h), and
// what the device and the registry see afterwards.
#include <catch2/catch.hpp>

#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstring>
#include <mutex>
#include <fstream>
#include <sstream>
#include <thread>

#include "flows.h"
#include "pki/csr.h"
#include "pki/key.h"
#include "process.h"
#include "stack.h"
#include "util/files.h"
#include "util/json.h"
#include "util/random.h"

using namespace provision;
using namespace provision::test;
using namespace std::chrono_literals;

namespace {

struct Snapshot {
  bool thing = false;
  std::string certificate_status;
  bool token_used = false;
};

Snapshot snapshot(Stack& stack, const std::string& thing, const std::string& certificate_id) {
  auto reg = stack.registry();
  Snapshot s;
  s.thing = reg.find_thing(thing).has_value();
  auto certificate = reg.find_certificate(certificate_id);
  REQUIRE(certificate);
  s.certificate_status = certificate->status;
  s.token_used = certificate->token_used_at.has_value();
  return s;
}

}  // namespace

TEST_CASE("provisiond killed at each point of a RegisterThing: nothing half-written, and the device's retry succeeds") {
  // before the transaction and inside it (everything written, not committed): nothing is left;
  // after the commit, before the reply: all of it is there, and the retry is answered as it would have been.
  auto point = GENERATE(as<std::string>{}, "register-thing.before-transaction", "register-thing.before-commit",
                        "register-thing.after-commit");
  INFO(point);
  StackOptions options;
  options.worker_threads = 1;
  options.worker_environment = {{"PROVISION_KILL_AT", point}};
  Stack stack(options);
  mqtt_session::Session claim(stack.claim("fault-" + random_token(4)));
  claim.connect();
  device::ProvisioningClient client(claim, protocol::Alias::Provision, 5s);
  auto issued = create_certificate(client);
  const std::map<std::string, std::string> parameters{{"SerialNumber", "f-1"}};

  auto lost = client.register_thing("DemoFleet", issued.ownership_token, parameters);
  INFO(lost.describe());
  CHECK_FALSE(lost.accepted());
  // the only worker died: the plugin answers at once that none is left (or the device's wait ends)
  CHECK((lost.status_code == 503 || lost.kind == device::Outcome::Kind::Timeout));
  CHECK(stack.stop_worker() == 128 + SIGKILL);

  auto after_crash = snapshot(stack, "demo-f-1", issued.certificate_id);
  if (point == "register-thing.after-commit") {
    CHECK(after_crash.thing);
    CHECK(after_crash.certificate_status == "ACTIVE");
    CHECK(after_crash.token_used);
  } else {
    CHECK_FALSE(after_crash.thing);
    CHECK(after_crash.certificate_status == "PENDING_ACTIVATION");
    CHECK_FALSE(after_crash.token_used);
  }

  stack.set_worker_environment({});
  stack.start_worker();
  auto retried = client.register_thing("DemoFleet", issued.ownership_token, parameters);
  INFO(retried.describe());
  REQUIRE(retried.accepted());
  CHECK(json::string_member(retried.body, "thingName") == "demo-f-1");
  REQUIRE(retried.body.HasMember("deviceConfiguration"));
  auto done = snapshot(stack, "demo-f-1", issued.certificate_id);
  CHECK(done.thing);
  CHECK(done.certificate_status == "ACTIVE");

  // The device holds a working certificate.
  auto files = CertificateFiles{(stack.dir / "f-1.pem").string(), (stack.dir / "f-1.key").string()};
  write_file(files.certificate, issued.certificate_pem, 0644);
  write_file(files.key, issued.private_key_pem, 0600);
  mqtt_session::Session device(stack.client(files, "demo-f-1"));
  CHECK_NOTHROW(device.connect());
}

TEST_CASE("RegisterThing retried with the same token and request gets the same answer, and anything else is refused") {
  Stack stack;
  mqtt_session::Session claim(stack.claim("retry-" + random_token(4)));
  claim.connect();
  device::ProvisioningClient client(claim);
  auto issued = create_certificate(client);
  auto first = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-1"}});
  REQUIRE(first.accepted());
  auto again = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-1"}});
  INFO(again.describe());
  REQUIRE(again.accepted());
  CHECK(json::stringify(again.body) == json::stringify(first.body));
  // the audit log holds one registration, not two
  auto reg = stack.registry();
  registry::AuditFilter filter;
  filter.action = "RegisterThing";
  filter.subject = "demo-r-1";
  CHECK(reg.audit_entries(filter).size() == 1);

  // other parameters, or another claim with the token: the token is used
  auto other = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-2"}});
  CHECK(other.error_code == "CertificateOwnershipTokenUsed");
  auto second_claim = stack.new_claim("other-claim", true, {"DemoFleet"});
  mqtt_session::Session thief(stack.client(second_claim, "thief-" + random_token(4)));
  thief.connect();
  device::ProvisioningClient thief_client(thief);
  auto stolen = thief_client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-1"}});
  CHECK_FALSE(stolen.accepted());
  CHECK(stolen.error_code == "CertificateOwnershipTokenUsed");

  // a revoked certificate is not answered again
  REQUIRE(reg.set_certificate_status(issued.certificate_id, "REVOKED"));
  auto revoked = client.register_thing("DemoFleet", issued.ownership_token, {{"SerialNumber", "r-1"}});
  CHECK(revoked.error_code == "CertificateOwnershipTokenUsed");
}

namespace {

// The lines of provisiond's output that are not log lines of its start.
std::vector<std::string> lines_of(const std::string& output) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

bool claim_refused(Stack& stack) {
  mqtt_session::Session claim(stack.claim("after-damage-" + random_token(4)));
  try {
    claim.connect();
    return false;
  } catch (const std::exception&) {
    return true;
  }
}

}  // namespace

TEST_CASE("a registry of a newer schema, or a corrupt one: provisiond refuses to start saying why in one line, and the "
          "broker refuses clients") {
  const bool corrupt = GENERATE(false, true);
  INFO((corrupt ? "corrupt" : "newer schema"));
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  const auto file = std::filesystem::path(stack.registry_location);
  if (corrupt) {
    // the header and first pages overwritten, as a failing disk or a stray write would
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    const std::string garbage(8192, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  } else {
    std::string out;
    REQUIRE(run_command({"/usr/bin/sqlite3", file.string(), "PRAGMA user_version = 999"}, out) == 0);
  }
  std::string output;
  int status = run_command({provisiond_binary(), "serve", "--config", stack.config_file.string()}, output, 20s);
  INFO(output);
  CHECK(status != 0);
  auto lines = lines_of(output);
  REQUIRE_FALSE(lines.empty());
  const std::string& last = lines.back();
  if (corrupt) CHECK_THAT(last, Catch::Contains("not a database") || Catch::Contains("corrupt"));
  else CHECK_THAT(last, Catch::Contains("newer than this build knows"));
  // A broker (re)started on it fails closed: no client gets in on a
  // registry it cannot read, and its log says why.
  stack.stop_broker();
  stack.start_broker();
  CHECK(claim_refused(stack));
  CHECK(wait_for_text(stack.broker_log, corrupt ? "not a database" : "newer than this build knows", 2s));
}

namespace {

// The disk-full test's small disks: tmpfs mounts at <temp>/provision-disk-full-<pid>-<token>,
// one per run, named after the test process that mounted it.
constexpr const char* kDiskPrefix = "provision-disk-full-";

// Mount points from /proc/self/mountinfo (octal escapes such as \040 undone).
std::vector<std::filesystem::path> mount_points() {
  std::vector<std::filesystem::path> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, device, root, point;
    fields >> id >> parent >> device >> root >> point;
    std::string unescaped;
    for (size_t i = 0; i < point.size(); ++i) {
      if (point[i] == '\\' && i + 3 < point.size()) {
        unescaped += static_cast<char>(std::stoi(point.substr(i + 1, 3), nullptr, 8));
        i += 3;
      } else {
        unescaped += point[i];
      }
    }
    out.emplace_back(unescaped);
  }
  return out;
}

// Unmounts (and removes) the small disks of earlier runs that were killed or
// aborted before their guard ran: only mounts in this test's own area
// (kDiskPrefix under the temporary directory) whose process is gone. Returns
// how many it removed. A run still going keeps its disk.
int unmount_stale_disks() {
  const auto temp = std::filesystem::temp_directory_path();
  int removed = 0;
  for (const auto& point : mount_points()) {
    if (point.parent_path() != temp) continue;
    const std::string name = point.filename().string();
    if (!name.starts_with(kDiskPrefix)) continue;
    const std::string rest = name.substr(std::strlen(kDiskPrefix));
    pid_t owner = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), owner);
    if (ec != std::errc() || end == rest.data() || owner <= 0) continue;
    if (::kill(owner, 0) == 0 || errno == EPERM) continue;  // its run is still going
    if (::umount2(point.c_str(), MNT_DETACH) != 0) continue;
    std::error_code ignored;
    std::filesystem::remove(point, ignored);
    ++removed;
  }
  return removed;
}

// A tmpfs of `bytes` for the test's life (root with CAP_SYS_ADMIN only), in
// the test's own area: unmounted and removed when the guard goes, and by
// unmount_stale_disks() (at the next run's start, and by ctest's cleanup
// fixture fault_injection_unmount_stale) when the test was killed first.
struct SmallFilesystem {
  std::filesystem::path dir;
  bool mounted = false;
  std::string why;
  SmallFilesystem()
      : dir(std::filesystem::temp_directory_path() / (kDiskPrefix + std::to_string(::getpid()) + "-" + random_token(6))) {}
  // Mounts it; false (with `why`) where mounting is not permitted.
  bool mount(size_t bytes) {
    std::filesystem::create_directories(dir);
    const std::string size = "size=" + std::to_string(bytes);
    mounted = ::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, size.c_str()) == 0;
    if (!mounted) {
      why = std::strerror(errno);
      std::error_code ignored;
      std::filesystem::remove(dir, ignored);
    }
    return mounted;
  }
  void resize(size_t bytes) {
    const std::string size = "size=" + std::to_string(bytes);
    INFO(std::strerror(errno));
    REQUIRE(::mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, size.c_str()) == 0);
  }
  ~SmallFilesystem() {
    if (!mounted) return;
    // Lazily when a process still holds a file there (its stack stops after this guard).
    if (::umount2(dir.c_str(), 0) != 0) ::umount2(dir.c_str(), MNT_DETACH);
    std::error_code ignored;
    std::filesystem::remove(dir, ignored);
  }
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;
};

}  // namespace

// ctest's cleanup fixture (tests/CMakeLists.txt) for the disk-full test: runs
// after the fault injection tests, also when one was killed by a timeout.
TEST_CASE("stale small disks of killed disk-full runs are unmounted", "[.][disk-cleanup]") {
  const int removed = unmount_stale_disks();
  if (removed) WARN("unmounted " << removed << " small disks left by killed runs");
  for (const auto& point : mount_points()) {
    const std::string name = point.filename().string();
    if (point.parent_path() != std::filesystem::temp_directory_path() || !name.starts_with(kDiskPrefix)) continue;
    WARN("a small disk of a run still going stays: " << point);
  }
}

TEST_CASE("the registry's disk full: registrations are refused with RegistryFull, nothing is corrupted, and service "
          "resumes when space returns") {
  if (int stale = unmount_stale_disks()) WARN("unmounted " << stale << " small disks left by killed runs");
  // Declared before the stack, so that the stack's processes have stopped
  // when the guard unmounts it.
  SmallFilesystem disk;
  StackOptions options;
  options.start_worker = false;
  Stack stack(options);
  stack.stop_broker();
  const auto original = std::filesystem::path(stack.registry_location);
  // Room for the registry and little more: a few registrations fill it.
  if (!disk.mount(std::filesystem::file_size(original) + 320 * 1024)) {
    // Not root with CAP_SYS_ADMIN (a container without it): this fault cannot be injected here.
    WARN("cannot mount a small tmpfs here, the disk-full test did not run: " << disk.why);
    return;
  }
  const auto registry = disk.dir / "registry.db";
  std::filesystem::copy_file(original, registry);
  stack.set_plugin_option("registry", registry.string());
  {
    auto config = json::parse(read_file(stack.config_file), "provisiond.json");
    config["registry"].SetString(registry.string().c_str(), config.GetAllocator());
    write_file(stack.config_file, json::stringify(config), 0644);
  }
  stack.registry_location = registry.string();
  stack.start_broker();
  stack.start_worker();

  mqtt_session::Session claim(stack.claim("filler-" + random_token(4)));
  claim.connect();
  device::ProvisioningClient client(claim);
  std::vector<std::string> registered;
  device::Outcome full;
  for (int i = 0; i < 400 && registered.size() < 400; ++i) {
    auto key = pki::PrivateKey::generate_ec();
    auto created = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", "filler"}}));
    if (!created.accepted()) {
      full = std::move(created);
      break;
    }
    auto done = client.register_thing("DemoFleet", *json::string_member(created.body, "certificateOwnershipToken"),
                                      {{"SerialNumber", "full-" + std::to_string(i)}});
    if (!done.accepted()) {
      full = std::move(done);
      break;
    }
    registered.push_back("demo-full-" + std::to_string(i));
  }
  INFO(registered.size() << " registered before: " << full.describe());
  CHECK_FALSE(registered.empty());  // some fitted before the disk filled
  REQUIRE(full.kind == device::Outcome::Kind::Rejected);
  CHECK(full.status_code == 503);
  CHECK(full.error_code == "RegistryFull");
  CHECK(stack.worker_running());

  // Space returns: the same session provisions again, and nothing was lost or corrupted.
  disk.resize(64 << 20);
  auto deadline = std::chrono::steady_clock::now() + 10s;
  device::Outcome again;
  do {
    auto key = pki::PrivateKey::generate_ec();
    auto created = client.create_certificate_from_csr(pki::create_csr(key, {{"CN", "after"}}));
    if (created.accepted())
      again = client.register_thing("DemoFleet", *json::string_member(created.body, "certificateOwnershipToken"),
                                    {{"SerialNumber", "after-full"}});
    else
      again = std::move(created);
    if (again.accepted()) break;
    std::this_thread::sleep_for(200ms);
  } while (std::chrono::steady_clock::now() < deadline);
  INFO(again.describe());
  CHECK(again.accepted());
  std::string integrity;
  REQUIRE(run_command({"/usr/bin/sqlite3", registry.string(), "PRAGMA integrity_check"}, integrity) == 0);
  CHECK(integrity == "ok\n");
  auto reg = stack.registry();
  for (const auto& thing : registered) CHECK(reg.find_thing(thing));
  CHECK(reg.find_thing("demo-after-full"));
  stack.stop_worker();
  stack.stop_broker();
}

TEST_CASE("the broker killed and restarted during a flood: devices and the worker resume, and every device provisions") {
  Stack stack;
  std::atomic<int> done{0};
  std::mutex failures_lock;
  std::vector<std::string> failures;
  std::vector<std::thread> flood;
  for (int t = 0; t < 3; ++t)
    flood.emplace_back([&, t] {
      for (int i = 0; i < 6; ++i) {
        try {
          provision_with_retries(stack, "bk-" + std::to_string(t) + "-" + std::to_string(i), 12);
          ++done;
        } catch (const std::exception& e) {
          std::lock_guard lock(failures_lock);
          failures.push_back(e.what());
        }
      }
    });
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (done < 3 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  stack.signal_broker(SIGKILL);
  stack.stop_broker();
  std::this_thread::sleep_for(500ms);
  stack.start_broker();
  for (auto& t : flood) t.join();
  INFO(failures.size() << " failures; first: " << (failures.empty() ? "" : failures[0]));
  CHECK(done == 18);
  CHECK(stack.worker_running());
  // the worker's links came back by themselves
  CHECK(count_text(stack.worker_log, "provisiond ready") >= 2);
  auto reg = stack.registry();
  for (int t = 0; t < 3; ++t)
    for (int i = 0; i < 6; ++i) CHECK(reg.find_thing("demo-bk-" + std::to_string(t) + "-" + std::to_string(i)));
}
