#!/usr/bin/python3
"""The web console in a real browser: headless Debian chromium driven by
chromedriver through python3-selenium, against a running provisiond (and
broker) that tests/integration/console_test.cpp started.

  console_browser.py CONTEXT.json SCENARIO

CONTEXT.json: {"url": "http://127.0.0.1:PORT", "tokens": {role: token},
"data": {...what the scenario needs}}. Prints what it does; exit status 0
when every check held, 1 when one failed (the message says which), 2 when the
browser cannot be started. With PROVISION_CONSOLE_SCREENSHOTS=DIR it saves
PNGs of the screens it visits into DIR (docs/console.md's pictures).

Every browser gets its own profile directory and chromedriver its own free
port; both are stopped and removed on the way out, whatever happens.
"""

import json
import os
import re
import shutil
import signal
import ssl
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# How long a wait for the page gives up after. A wait ends as soon as what it
# waits for holds, so this costs time only when a test fails; on a loaded CI
# machine with chromium starting beside the rest of the suite, 5-10 s was not
# always enough.
WAIT = 30

try:
    from selenium import webdriver
    from selenium.common.exceptions import ElementClickInterceptedException, NoAlertPresentException, TimeoutException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:  # reported as a failure, never a skip
    print(f"python3-selenium is not importable by {sys.executable}: {e} (scripts/install-deps installs it)")
    sys.exit(2)


class Failed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failed(message)


def log(message):
    print(message, flush=True)


SCREENS = {
    "admin": ["overview", "activate", "things", "enrollments", "templates", "policies", "claims", "cas", "brokers",
              "firmware", "bootstrap", "identities", "audit", "tokens"],
    "operator": ["overview", "things", "enrollments", "templates", "policies", "claims", "cas", "brokers",
                 "firmware", "bootstrap", "identities", "audit"],
    "factory": ["overview", "things", "enrollments", "templates", "policies", "claims", "cas", "brokers", "firmware"],
    "activator": ["activate"],
    "installer": [],
}

# What only an admin is offered: forms and buttons the other roles' screens leave out.
ADMIN_ONLY = ["#firmware-publish", "#identity-register", "#claim-create", "#broker-create", "#token-create",
              'button[data-action="delete"]', 'button[data-action="reset"]', 'button[data-action="edit"]',
              'button[data-action="disable"]', 'button[data-action="enable"]']


def utc(seconds):
    """A Unix time as the console shows it (dom.js time())."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(seconds))


class Console:
    def __init__(self, context):
        self.context = context
        self.url = context["url"]
        self.shots = os.environ.get("PROVISION_CONSOLE_SCREENSHOTS", "")
        for path in (CHROMIUM, CHROMEDRIVER):
            if not os.path.exists(path):
                print(f"{path} is missing: the console tests need Debian's chromium and chromium-driver (scripts/install-deps)")
                sys.exit(2)
        # the harness names the profile directory, and checks afterwards
        # that no process still uses it
        self.profile = context.get("profile") or tempfile.mkdtemp(prefix="console-chromium-")
        os.makedirs(self.profile, exist_ok=True)
        options = Options()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                         "--disable-background-networking", "--disable-sync", "--window-size=1280,1000",
                         f"--user-data-dir={self.profile}"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.downloads = os.path.join(self.profile, "downloads")
        options.add_experimental_option("prefs", {"download.default_directory": self.downloads,
                                                  "download.prompt_for_download": False})
        self.service = Service(CHROMEDRIVER, port=0, log_path=os.devnull)
        self.driver = None
        try:
            self.driver = webdriver.Chrome(service=self.service, options=options)
        except Exception:
            self.close()
            raise
        self.driver.set_page_load_timeout(30)
        self.wait = WebDriverWait(self.driver, WAIT)

    def dump(self):
        """What the page showed and logged, for a failure's report."""
        try:
            if self.driver:
                log(f"page {self.driver.current_url}: {self.driver.find_element(By.TAG_NAME, 'body').text[:3000]!r}")
                for entry in self.driver.get_log("browser"):
                    log(f"browser log: {entry['level']} {entry['message']}")
        except Exception as e:
            log(f"(no page to show: {e})")

    def close(self):
        try:
            if self.driver:
                self.driver.quit()
        finally:
            self.driver = None
            try:
                self.service.stop()
            except Exception:
                pass
            shutil.rmtree(self.profile, ignore_errors=True)

    # --- the page
    def find(self, css):
        return self.wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def visible(self, css):
        return self.wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text_in(self, css, text, timeout=None):
        try:
            WebDriverWait(self.driver, timeout or WAIT).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
        except TimeoutException:
            found = self.all(css)
            raise Failed(f"{css} never showed {text!r}; it shows {found[0].text if found else '(nothing)'!r}")

    def click(self, css):
        element = self.find(css)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        try:
            element.click()
        except ElementClickInterceptedException:  # moved while the page laid itself out: click it where it is now
            self.driver.execute_script("arguments[0].click();", element)

    def type_into(self, css, text):
        # the editors validate on input events: select all, then type
        element = self.find(css)
        self.driver.execute_script("arguments[0].value = '';", element)
        element.send_keys(text)
        return element

    # the pictures docs/console.md shows
    PICTURES = {"overview", "activation", "activation-bulk", "thing", "template-error", "template-dry-run",
                "audit", "claim-created", "enrollments-import", "firmware-releases", "bootstrap-log",
                "service-identities", "enrollment-reset", "claim-edit"}

    def screenshot(self, name):
        if not self.shots or name not in self.PICTURES:
            return
        os.makedirs(self.shots, exist_ok=True)
        time.sleep(0.3)
        self.driver.save_screenshot(os.path.join(self.shots, f"{name}.png"))
        log(f"screenshot {name}.png")

    def sign_in(self, role):
        # signed in before: forget the token on a page of the same origin
        # that is not the console (which would sign in with it meanwhile)
        self.driver.get(self.url + "/health")
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.get_log("browser")
        self.driver.get(self.url + "/console/")
        self.visible("#token").send_keys(self.context["tokens"][role])
        self.click("#signin-button")
        self.text_in("#who", f"({role})")
        self.errors_in_log(f"signing in as {role}")

    def nav(self):
        return [a.get_attribute("id")[4:] for a in self.all("#nav a")]

    def open(self, screen, *args):
        suffix = "".join("/" + urllib.request.quote(a, safe="") for a in args)
        self.driver.execute_script("location.hash = arguments[0];", f"#/{screen}{suffix}")
        self.find(f"#screen-{screen}")

    def errors_in_log(self, where, allowed=()):
        entries = self.driver.get_log("browser")
        bad = [e for e in entries if e["level"] in ("SEVERE", "ERROR")
               and not any(re.search(pattern, e["message"]) for pattern in allowed)]
        check(not bad, f"the browser's console logged errors {where}: {bad}")

    def no_alert(self):
        try:
            alert = self.driver.switch_to.alert
            raise Failed(f"an alert opened: {alert.text!r}")
        except NoAlertPresentException:
            pass

    def confirm(self, question=None):
        """Answers the confirmation dialog with Confirm (after checking it asks `question`)."""
        self.visible("#confirm-ok")
        if question:
            self.text_in("#confirm-text", question)
        self.click("#confirm-ok")
        WebDriverWait(self.driver, WAIT).until(lambda d: not self.find("#confirm").get_attribute("open"))

    def cancel(self, question=None):
        """Answers the confirmation dialog with Cancel; waits for the page to have done whatever it would."""
        self.visible("#confirm-cancel")
        if question:
            self.text_in("#confirm-text", question)
        self.click("#confirm-cancel")
        WebDriverWait(self.driver, WAIT).until(lambda d: not self.find("#confirm").get_attribute("open"))
        time.sleep(0.5)

    def invalid(self, css):
        """Whether the input is marked as the one the server's error names."""
        return "is-invalid" in (self.find(css).get_attribute("class") or "").split()

    # --- the API, called directly (what the server enforces whatever the screen shows)
    def api(self, role, method, path, body=None):
        return self.api_as(self.context["tokens"][role], method, path, body)

    def api_as(self, token, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + token)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            return e.code, json.loads(text) if text else None


# ---------------------------------------------------------------- scenarios

def scenario_roles(c):
    """Each role sees its screens and no other; each screen renders without
    console errors; what a role may not do is refused by the server."""
    for role, expected in SCREENS.items():
        c.sign_in(role)
        shown = c.nav()
        log(f"{role}: {shown}")
        check(shown == expected, f"{role} sees {shown}, not {expected}")
        for screen in expected:
            c.open(screen)
            time.sleep(0.6)  # the screen's API calls answer
            alerts = [a.text for a in c.all("#screen .alert-danger")]
            check(not alerts, f"{role} on {screen}: {alerts}")
            c.errors_in_log(f"on {screen} as {role}")
            if role == "admin":
                c.screenshot(screen)
            else:  # the server refuses them anyway; the screen does not offer them
                offered = [css for css in ADMIN_ONLY if c.all(f"#screen {css}")]
                check(not offered, f"{role} is offered {offered} on {screen}")
        if not expected:
            c.find("#no-screens")
        # a screen the role does not have is not shown, even by its address
        for hidden in set(SCREENS["admin"]) - set(expected):
            c.driver.execute_script("location.hash = arguments[0];", f"#/{hidden}")
            time.sleep(0.2)
            check(not c.all(f"#screen-{hidden}"), f"{role} was shown {hidden}")
        c.errors_in_log(f"as {role}")
    forbidden = {
        "activator": [("GET", "/v1/things"), ("GET", "/v1/templates"), ("GET", "/v1/audit"),
                      ("POST", "/v1/tokens", {"name": "sneaky", "role": "admin"}),
                      ("POST", "/v1/enrollments", {"registrationId": "SN-sneaky", "templateName": "DemoFleet"})],
        "factory": [("GET", "/v1/audit"), ("POST", "/v1/enrollments/SN-any/activate", {}), ("GET", "/v1/tokens"),
                    ("GET", "/v1/bootstrap/access"), ("GET", "/v1/service-identities"),
                    ("POST", "/v1/firmware", {"productId": 1, "version": "9.9.9", "downloadUrl": "https://x.example.com/f",
                                              "fileSize": 1, "sha256": "a" * 64})],
        "operator": [("POST", "/v1/templates", {"name": "Sneaky", "body": {}}), ("GET", "/v1/tokens"),
                     ("DELETE", "/v1/enrollments/SN-any"), ("POST", "/v1/enrollments/SN-any/reset", {}),
                     ("PATCH", "/v1/firmware/1", {"enabled": False}), ("DELETE", "/v1/firmware/1"),
                     ("POST", "/v1/service-identities", {"name": "sneaky", "certificatePem": "x"}),
                     ("PATCH", "/v1/claims/any", {"templates": ["DemoFleet"]}), ("PATCH", "/v1/cas/any", {"templates": []})],
        "installer": [("GET", "/v1/enrollments"), ("GET", "/v1/summary"), ("GET", "/v1/firmware")],
    }
    for role, calls in forbidden.items():
        for call in calls:
            status, body = c.api(role, *call)
            log(f"{role} {call[0]} {call[1]} -> {status}")
            check(status == 403 and body["error"]["code"] == "Forbidden", f"{role} {call[:2]}: {status} {body}")


def scenario_activation(c):
    """The portal: the enrollment the factory made, metadata validated as it
    is typed, the broker chosen, activated."""
    data = c.context["data"]
    c.sign_in("activator")
    c.type_into("#portal-device", data["registrationId"])
    c.click("#portal-find")
    c.text_in("#portal-status", "DISABLED")
    c.text_in("#portal-template", data["template"])
    c.text_in("#portal-enrollment", "factory")  # enrolled by the factory's token
    # typed wrong: the problem is named at its path and line, and Activate is off
    c.type_into("#portal-metadata", '{\n  "attributes": {"chassis": 7},\n  "colour": "red"\n}')
    c.text_in("#portal-problems", "$.attributes.chassis")
    c.text_in("#portal-problems", "line 3, $.colour")
    check(not c.find("#portal-activate").is_enabled(), "Activate is enabled with invalid metadata")
    c.type_into("#portal-metadata", '{"attributes": {"chassis": "CH-')
    c.text_in("#portal-problems", "line 1")
    check(not c.find("#portal-activate").is_enabled(), "Activate is enabled with unfinished JSON")
    c.type_into("#portal-metadata", json.dumps(data["metadata"], indent=2))
    WebDriverWait(c.driver, WAIT).until(lambda d: c.find("#portal-activate").is_enabled())
    check(c.find("#portal-problems").text == "", "problems shown for valid metadata")
    WebDriverWait(c.driver, WAIT).until(lambda d: len(Select(c.find("#portal-broker")).options) > 1)
    Select(c.find("#portal-broker")).select_by_value(data["broker"])
    c.screenshot("activation")
    c.click("#portal-activate")
    c.text_in("#portal-result", "ENABLED")
    c.text_in("#portal-result", data["broker"])
    c.text_in("#portal-status", "ENABLED")
    c.errors_in_log("activating")
    # bulk: a JSON-lines file, a bad line and an unknown device get their own results
    bulk = os.path.join(c.profile, "bulk.jsonl")
    with open(bulk, "w") as f:
        f.write(json.dumps({"registrationId": data["bulk"][0], "attributes": {"line": "1"}}) + "\n")
        f.write("{not json\n")
        f.write(json.dumps({"registrationId": "SN-unknown", "attributes": {}}) + "\n")
        f.write(json.dumps({"registrationId": data["bulk"][1], "broker": data["broker"]}) + "\n")
    c.find("#portal-bulk-file").send_keys(bulk)
    c.click("#portal-bulk-run")
    c.text_in("#portal-bulk-summary", "2 of 4 activated")
    rows = [r.text for r in c.all("#portal-bulk-table tbody tr")]
    log(f"bulk: {rows}")
    check(rows[0].startswith("1 ") and "ENABLED" in rows[0], rows[0])
    check(rows[1].startswith("2 ") and "not JSON" in rows[1], rows[1])
    check(rows[2].startswith("3 ") and "404" in rows[2], rows[2])
    check(rows[3].startswith("4 ") and "ENABLED" in rows[3], rows[3])
    c.screenshot("activation-bulk")
    c.errors_in_log("bulk activation", allowed=[r"status of 404"])


def scenario_template_error(c):
    """A template saved with an error: the error at its JSON path and line; nothing saved."""
    c.sign_in("admin")
    c.open("templates", "DemoFleet")
    editor = c.find("#template-editor")
    body = json.loads(editor.get_attribute("value"))
    body.setdefault("Parameters", {})["Colour"] = {"Type": "Paint"}
    text = json.dumps(body, indent=2)
    line = next(i + 1 for i, l in enumerate(text.split("\n")) if '"Colour"' in l) + 1
    c.type_into("#template-editor", text)
    c.click("#template-save")
    c.text_in("#template-result", "nothing was saved")
    errors = c.all("#template-problems .template-error")
    check(errors, "no error shown")
    paths = [e.get_attribute("data-path") for e in errors]
    lines = [e.get_attribute("data-line") for e in errors]
    log(f"errors at {paths} lines {lines}: {[e.text for e in errors]}")
    check("$.Parameters.Colour.Type" in paths, f"the error is not at $.Parameters.Colour.Type: {paths}")
    check(str(line) == lines[paths.index("$.Parameters.Colour.Type")], f"the error is not on line {line}: {lines}")
    c.screenshot("template-error")
    # a syntax error: its line, and nothing sent
    c.type_into("#template-editor", '{\n  "Parameters": {\n    "A": {"Type": "String"},,\n  }\n}')
    c.text_in("#template-problems", "line 3")
    c.click("#template-save")
    c.text_in("#template-result", "nothing was saved")
    status, t = c.api("admin", "GET", "/v1/templates/DemoFleet")
    check(len(t["versions"]) == c.context["data"]["versions"], f"a version was added: {t['versions']}")
    c.errors_in_log("saving a wrong template", allowed=[r"status of 400"])


def scenario_dry_run(c):
    """A dry run shows what would be created, and writes nothing (the harness compares the registry)."""
    c.sign_in("admin")
    c.open("templates", "DemoFleet")
    c.type_into("#dryrun-parameters", json.dumps({"SerialNumber": c.context["data"]["serial"]}))
    c.click("#dryrun-run")
    c.text_in("#dryrun-written", "Nothing was written")
    c.text_in("#dryrun-result", "demo-" + c.context["data"]["serial"])
    c.screenshot("template-dry-run")
    c.errors_in_log("dry run")


def scenario_revoke(c):
    """The device connected with its certificate; revoked in the console, it is cut off within a second."""
    import paho.mqtt.client as mqtt
    data = c.context["data"]
    gone = {}
    connected = {}
    device = mqtt.Client(client_id=data["thing"], protocol=mqtt.MQTTv311)
    device.tls_set(ca_certs=data["ca"], certfile=data["cert"], keyfile=data["key"], cert_reqs=ssl.CERT_REQUIRED)
    device.on_connect = lambda client, userdata, flags, rc: connected.setdefault("rc", rc)
    device.on_disconnect = lambda client, userdata, rc: gone.setdefault("at", time.time())
    device.connect("127.0.0.1", data["port"], keepalive=30)
    device.loop_start()
    try:
        deadline = time.time() + 10
        while "rc" not in connected and time.time() < deadline:
            time.sleep(0.05)
        check(connected.get("rc") == 0, f"the device did not connect: {connected}")
        c.sign_in("operator")
        c.open("things", data["thing"])
        c.text_in("#thing-name", data["thing"])
        c.text_in("#thing-certificates", "ACTIVE")
        c.screenshot("thing")
        c.click(f'button[data-action="revoked"][data-certificate="{data["certificate"]}"]')
        c.text_in("#confirm-text", data["certificate"])
        clicked = time.time()
        c.confirm()
        c.text_in("#thing-result", "REVOKED")
        c.text_in("#thing-certificates", "REVOKED")
        while "at" not in gone and time.time() < clicked + 5:
            time.sleep(0.02)
        check("at" in gone, "the device is still connected 5 s after the revocation")
        took = gone["at"] - clicked
        log(f"the device was cut off {took * 1000:.0f} ms after Confirm")
        check(took < 1.0, f"the device was cut off only after {took:.2f} s")
        # the revoked certificate is found by its status
        Select(c.find("#certificates-status")).select_by_value("REVOKED")
        c.click("#certificates-search button[type=submit]")
        c.text_in("#certificates-table", data["certificate"])
        c.errors_in_log("revoking")
    finally:
        device.loop_stop()
        device.disconnect()


def scenario_markup(c):
    """A thing whose name and attributes are markup is shown as text."""
    data = c.context["data"]
    c.sign_in("admin")
    c.open("things")
    c.text_in("#things-table", data["thing"])
    c.no_alert()
    c.open("things", data["thing"])
    c.text_in("#thing-name", data["thing"])
    c.text_in("#thing-attributes", data["attribute"])
    c.no_alert()
    check(not c.all("#screen img") and not c.all("#screen script"), "markup from the API became elements")
    check(c.driver.execute_script("return window.__xss === undefined"), "a script ran")
    c.errors_in_log("showing markup")


def scenario_fleet(c):
    """A claim's private key is shown once, with a download; an enrollment
    file's errors are named by line."""
    c.sign_in("admin")
    c.open("claims")
    c.type_into("#claim-description", "line 3 installers")
    c.type_into("#claim-templates", "DemoFleet")
    c.click("#claim-create button[type=submit]")
    c.text_in("#claims-result", "created")
    key = c.find("#claim-private-key").text
    check("PRIVATE KEY" in key, f"no private key shown: {key[:60]!r}")
    c.click("#claim-download-key")
    deadline = time.time() + 10
    saved = []
    while time.time() < deadline and not saved:
        saved = [f for f in os.listdir(c.downloads) if f.endswith(".key")] if os.path.isdir(c.downloads) else []
        time.sleep(0.1)
    check(saved, "the private key was not downloaded")
    with open(os.path.join(c.downloads, saved[0])) as f:
        check(f.read().strip() == key.strip(), "the downloaded key is not the one shown")
    claim_id = c.find("#claims-result").text.split()[1]
    status, claim = c.api("admin", "GET", f"/v1/claims/{claim_id}")
    check(status == 200 and "privateKey" not in claim, f"the key is shown again: {status} {list(claim)}")
    c.screenshot("claim-created")
    # leaving the screen forgets the key
    c.open("brokers")
    c.open("claims")
    time.sleep(0.3)
    check(not c.all("#claim-private-key"), "the private key is shown again")
    # an enrollment file: the good lines enrolled, each bad one named by its line
    c.open("enrollments")
    path = os.path.join(c.profile, "enrollments.csv")
    with open(path, "w") as f:
        f.write("registrationId,templateName\nSN-900,DemoFleet\nSN-901\nSN-902,NoSuchTemplate\nSN-903,DemoFleet\n")
    c.find("#enrollment-import-file").send_keys(path)
    c.click("#enrollment-import-run")
    c.text_in("#enrollment-import-summary", "2 of 4 lines enrolled")
    rows = [r.text for r in c.all("#enrollment-import-table tbody tr")]
    log(f"import: {rows}")
    check(rows[0].startswith("2 SN-900 ENABLED") or rows[0].startswith("2 SN-900 DISABLED"), rows[0])
    check(rows[1].startswith("3 ") and "columns" in rows[1], rows[1])
    check(rows[2].startswith("4 SN-902") and "templateName" in rows[2], rows[2])
    check(rows[3].startswith("5 SN-903"), rows[3])
    c.text_in("#enrollments-table", "SN-903")
    c.screenshot("enrollments-import")
    # a policy with an error: named at its path and line, nothing saved; then saved
    c.open("policies")
    c.type_into("#policy-name", "PressPolicy")
    c.type_into("#policy-editor", '{\n  "statements": [\n    {\n      "effect": "allow",\n      "actions": ["fly"]\n    }\n  ]\n}')
    c.click("#policy-save")
    c.text_in("#policies-result", "nothing was saved")
    c.text_in("#policy-problems", "line 5, $.statements[0].actions")
    check(c.api("admin", "GET", "/v1/policies/PressPolicy")[0] == 404, "the wrong policy was saved")
    c.type_into("#policy-editor", json.dumps({"statements": [{"effect": "allow", "actions": ["connect"], "clientIds": ["${thingName}"]}]}))
    c.click("#policy-save")
    c.text_in("#policies-result", "policy PressPolicy saved")
    c.text_in("#policies-table", "PressPolicy")
    check(c.api("admin", "GET", "/v1/policies/PressPolicy")[0] == 200, "the policy was not saved")
    c.errors_in_log("claims, enrollments and policies", allowed=[r"status of 400"])


def scenario_settings(c):
    """A template's default version, enabled state and broker assignment set
    in the console; the audit log filtered; a token deleted meanwhile sends
    its user back to the sign-in."""
    status, t = c.api("admin", "GET", "/v1/templates/DemoFleet")
    status, added = c.api("admin", "POST", "/v1/templates/DemoFleet/versions", {"body": t["body"], "makeDefault": False})
    check(status == 201, f"version 2: {status} {added}")
    c.sign_in("admin")
    c.open("templates", "DemoFleet")
    c.text_in("#template-state", "Enabled; default version 1")
    Select(c.find("#template-version")).select_by_value("2")
    c.click("#template-make-default")
    c.text_in("#template-result", "version 2 is the default")
    c.text_in("#template-state", "default version 2")
    c.click("#template-toggle")
    c.text_in("#template-result", "disabled")
    c.text_in("#template-state", "Disabled")
    check(c.api("admin", "GET", "/v1/templates/DemoFleet")[1]["enabled"] is False, "the template is still enabled")
    c.click("#template-toggle")
    c.text_in("#template-state", "Enabled")
    c.type_into("#template-brokerAssignment", '{"policy": "hashed"}')
    c.click("#template-save-brokerAssignment")
    c.text_in("#template-result", "Broker assignment saved")
    t = c.api("admin", "GET", "/v1/templates/DemoFleet")[1]
    check(t["defaultVersion"] == 2 and t["enabled"] and t["brokerAssignment"]["policy"] == "hashed", f"not as set: {t}")
    c.errors_in_log("changing a template")
    # the audit log, filtered by action
    c.open("audit")
    c.type_into("#audit-action", "UpdateTemplate")
    c.click("#audit-filters button[type=submit]")
    WebDriverWait(c.driver, WAIT).until(lambda d: len(c.all("#audit-table tbody tr")) >= 4)
    actions = {r.find_elements(By.TAG_NAME, "td")[2].text for r in c.all("#audit-table tbody tr")}
    check(actions == {"UpdateTemplate"}, f"the filter shows {actions}")
    c.errors_in_log("on the audit log")
    # a deleted token: back to the sign-in
    c.sign_in("operator")
    status, _ = c.api("admin", "DELETE", "/v1/tokens/console-operator")
    check(status == 204, f"deleting the token: {status}")
    c.driver.execute_script("location.hash = '#/audit';")
    c.visible("#token")
    c.text_in("#signin-error", "no longer valid")
    check(not c.all("#nav a"), "the screens are still offered")
    c.errors_in_log("after the token was deleted", allowed=[r"status of 401"])


def scenario_overview(c):
    """The overview counts what the registry holds and charts the last hour's requests."""
    c.sign_in("admin")
    c.open("overview")
    c.text_in("#overview-things", f"{c.context['data']['things']} things")
    c.text_in("#overview-certificates", "ACTIVE")
    c.text_in("#health-broker", "connected")
    WebDriverWait(c.driver, WAIT).until(lambda d: c.find("#chart-requests").get_attribute("data-total") not in (None, "0"))
    check("EnrollmentNotAllowed" in c.find("#chart-rejections").get_attribute("data-codes"), "no rejection by errorCode charted")
    c.screenshot("overview")
    c.errors_in_log("on the overview")


def scenario_firmware(c):
    """Firmware releases: one published with every field, the server's errors shown next to their field
    with nothing published, the list filtered, disabled and enabled again, deleted after a confirmation
    (a cancelled one deletes nothing); the server holds what the screen says. An operator only reads."""
    data = c.context["data"]
    c.sign_in("admin")
    c.open("firmware")
    c.text_in("#firmware-table", data["other"])  # the harness's release
    fields = {"productId": "7", "version": "1.4.0", "hardwareVersions": "ESP32-S3, ESP32-C3", "channel": "beta",
              "downloadUrl": "https://fw.example.com/1.4.0.bin", "fileSize": "123456", "sha256": "not-a-digest",
              "minCurrentVersion": "1.0.0", "rolloutPercent": "25", "changelog": "Faster boot"}
    for name, value in fields.items():
        c.type_into(f"#firmware-{name}", value)
    published = lambda: c.api("admin", "GET", "/v1/firmware?productId=7")[1]["items"]
    c.click("#firmware-publish-button")
    c.text_in("#firmware-result", "nothing was published")
    c.text_in("#firmware-sha256-feedback", "64 hex digits")
    check(c.invalid("#firmware-sha256"), "the SHA-256 field is not marked")
    check(published() == [], "published despite the error")
    # a version that is not semantic: named at the version field, the SHA-256 mark gone
    c.type_into("#firmware-sha256", "AB" * 32)
    c.type_into("#firmware-version", "1.4")
    c.click("#firmware-publish-button")
    c.text_in("#firmware-version-feedback", "semantic version")
    check(c.invalid("#firmware-version") and not c.invalid("#firmware-sha256"), "the wrong field is marked")
    c.screenshot("firmware-releases")
    check(published() == [], "published despite the error")
    c.type_into("#firmware-version", "1.4.0")
    c.click("#firmware-publish-button")
    c.text_in("#firmware-result", "published: product 7 version 1.4.0 on beta")
    check(not c.invalid("#firmware-version"), "the version is still marked")
    items = published()
    check(len(items) == 1, f"published: {items}")
    r = items[0]
    expected = {"productId": 7, "version": "1.4.0", "hardwareVersions": ["ESP32-S3", "ESP32-C3"], "channel": "beta",
                "downloadUrl": "https://fw.example.com/1.4.0.bin", "fileSize": 123456, "sha256": "ab" * 32,
                "changelog": "Faster boot", "enabled": True, "minCurrentVersion": "1.0.0", "rolloutPercent": 25}
    wrong = {k: (r.get(k), v) for k, v in expected.items() if r.get(k) != v}
    check(not wrong, f"the release is not as published: {wrong}")
    release = str(r["id"])
    c.text_in("#firmware-table", "1.4.0")
    # the same version on the same channel again: refused
    c.click("#firmware-publish-button")
    c.text_in("#firmware-result", "Conflict")
    check(len(published()) == 1, "published twice")
    # filtered by product
    c.type_into("#firmware-filter-product", "7")
    c.click("#firmware-filters button[type=submit]")
    WebDriverWait(c.driver, WAIT).until(lambda d: data["other"] not in c.find("#firmware-table").text)
    c.text_in("#firmware-table", "1.4.0")
    # disabled and enabled again, each after a confirmation
    enabled = lambda: c.api("admin", "GET", f"/v1/firmware/{release}")[1]["enabled"]
    c.click(f'button[data-action="disable"][data-release="{release}"]')
    c.confirm(f"Disable release {release}")
    c.text_in("#firmware-result", f"release {release} is disabled")
    c.text_in(f'.release-enabled[data-release="{release}"]', "no")
    check(enabled() is False, "the release is still enabled")
    c.click(f'button[data-action="enable"][data-release="{release}"]')
    c.confirm(f"Enable release {release}")
    c.text_in("#firmware-result", f"release {release} is enabled")
    check(enabled() is True, "the release is still disabled")
    # delete: cancelled, it stays; confirmed, it is gone
    c.click(f'button[data-action="delete"][data-release="{release}"]')
    c.cancel(f"Delete release {release}")
    check(c.api("admin", "GET", f"/v1/firmware/{release}")[0] == 200, "a cancelled deletion deleted")
    c.click(f'button[data-action="delete"][data-release="{release}"]')
    c.confirm(f"Delete release {release}")
    c.text_in("#firmware-result", f"release {release} deleted")
    check(c.api("admin", "GET", f"/v1/firmware/{release}")[0] == 404, "the release was not deleted")
    check(not c.all(f'button[data-release="{release}"]'), "the deleted release is still listed")
    c.errors_in_log("on firmware", allowed=[r"status of 400", r"status of 409"])
    # an operator reads the catalog and is offered no change
    c.sign_in("operator")
    c.open("firmware")
    c.text_in("#firmware-table", data["other"])
    check(not c.all("#firmware-publish") and not c.all("#screen button[data-release]"), "an operator is offered changes")
    c.errors_in_log("on firmware as operator")


def scenario_bootstrap_log(c):
    """The bootstrap listener's access log: every request listed, filtered by MAC (as a label prints it),
    outcome, endpoint and time; a time that is not one is named and nothing asked; the device's thing shows
    its last bootstrap access and links to its requests."""
    data = c.context["data"]
    mac, unknown = data["mac"], data["unknown"]
    c.sign_in("operator")
    c.open("bootstrap")
    c.text_in("#bootstrap-table", mac)
    c.text_in("#bootstrap-table", unknown)
    shown = lambda: [r.find_elements(By.TAG_NAME, "td") for r in c.all("#bootstrap-table tbody tr")]
    everything = c.api("operator", "GET", "/v1/bootstrap/access?limit=200")[1]["items"]
    check(len(shown()) == len(everything), f"{len(shown())} rows, the API has {len(everything)}")
    c.screenshot("bootstrap-log")

    def filtered(expect, why):
        old = c.find("#bootstrap-table")
        c.click("#bootstrap-filters button[type=submit]")
        try:
            WebDriverWait(c.driver, WAIT).until(EC.staleness_of(old))  # the list asked for again
            WebDriverWait(c.driver, WAIT).until(lambda d: c.all("#bootstrap-table") and len(shown()) == len(expect))
        except TimeoutException:
            raise Failed(f"{why}: {len(shown())} rows shown, expected {len(expect)}")
        rows = [[cell.text for cell in r] for r in shown()]
        return rows

    # by MAC, typed as a label prints it: only that device's requests, as the API has them
    c.type_into("#bootstrap-mac", mac.lower().replace(":", "-"))
    by_mac = c.api("operator", "GET", "/v1/bootstrap/access?mac=" + urllib.request.quote(mac))[1]["items"]
    check(len(by_mac) >= 2, f"the harness made two requests for {mac}: {by_mac}")
    rows = filtered(by_mac, "by MAC")
    check(all(r[2] == mac for r in rows), f"other MACs shown: {rows}")
    check([r[4] for r in rows] == [e["outcome"] for e in by_mac], f"not as the API says: {rows} {by_mac}")
    # by outcome
    c.type_into("#bootstrap-mac", "")
    c.type_into("#bootstrap-outcome", "not_found")
    rows = filtered([e for e in everything if e["outcome"] == "not_found"], "by outcome")
    check(rows and all(r[2] == unknown and r[5] == "404" for r in rows), f"by outcome: {rows}")
    # by endpoint
    c.type_into("#bootstrap-outcome", "")
    Select(c.find("#bootstrap-endpoint")).select_by_value("/firmware/check")
    rows = filtered([e for e in everything if e["endpoint"] == "/firmware/check"], "by endpoint")
    check(rows and all(r[3] == "/firmware/check" for r in rows), f"by endpoint: {rows}")
    Select(c.find("#bootstrap-endpoint")).select_by_value("")
    # a time that is not one: named, nothing asked; from an hour ahead: nothing
    c.type_into("#bootstrap-since", "yesterday")
    c.click("#bootstrap-filters button[type=submit]")
    c.text_in("#bootstrap-error", "since: a Unix time in milliseconds")
    c.type_into("#bootstrap-since", str(int(time.time() * 1000) + 3600 * 1000))
    filtered([], "an hour ahead")
    c.text_in("#bootstrap-count", "0 requests")
    c.type_into("#bootstrap-since", "2000-01-01T00:00Z")
    filtered(everything, "since 2000")
    c.errors_in_log("on the bootstrap log")
    # the device's thing: its last bootstrap access, and a link to its requests
    c.open("things", data["thing"])
    c.text_in("#thing-last-bootstrap", utc(data["lastSeenAt"]))
    c.text_in("#thing-credential", "ACTIVE")
    c.click("#thing-bootstrap-log")
    c.find("#screen-bootstrap")
    WebDriverWait(c.driver, WAIT).until(lambda d: c.find("#bootstrap-mac").get_attribute("value") == mac)
    rows = filtered(by_mac, "the thing's requests")
    check(all(r[2] == mac for r in rows), f"the thing's link shows {rows}")
    c.errors_in_log("on the thing and its requests")


def scenario_enrollments(c):
    """A used enrollment is reset, an enrollment deleted, each after a confirmation (a cancelled one changes
    nothing) and with its result; the server holds it. An operator is offered neither."""
    data = c.context["data"]
    used, other = data["used"], data["other"]
    enrollment = lambda e: c.api("admin", "GET", f"/v1/enrollments/{e}")
    c.sign_in("admin")
    c.open("enrollments")
    c.text_in("#enrollments-table", used)
    reset = f'button[data-action="reset"][data-enrollment="{used}"]'
    check(not c.all(f'button[data-action="reset"][data-enrollment="{other}"]'), "an unused enrollment is offered a reset")
    c.click(reset)
    c.cancel(data["thing"])
    check(enrollment(used)[1]["used"] is True, "a cancelled reset reset")
    c.click(reset)
    c.screenshot("enrollment-reset")
    c.confirm(f"Reset {used}?")
    c.text_in("#enrollments-result", f"{used} was reset: its device may register once more (for {data['thing']})")
    check(enrollment(used)[1]["used"] is False, "the enrollment is still used")
    WebDriverWait(c.driver, WAIT).until(lambda d: not c.all(reset))
    delete = f'button[data-action="delete"][data-enrollment="{other}"]'
    c.click(delete)
    c.cancel(other)
    check(enrollment(other)[0] == 200, "a cancelled deletion deleted")
    c.click(delete)
    c.confirm(f"Delete the enrollment of {other}?")
    c.text_in("#enrollments-result", f"enrollment {other} deleted")
    check(enrollment(other)[0] == 404, "the enrollment was not deleted")
    WebDriverWait(c.driver, WAIT).until(lambda d: other not in c.find("#enrollments-table").text)
    c.errors_in_log("resetting and deleting enrollments")
    c.sign_in("operator")
    c.open("enrollments")
    c.text_in("#enrollments-table", used)
    check(not c.all("#enrollments-table button"), "an operator is offered enrollment changes")
    c.errors_in_log("on enrollments as operator")


def scenario_identities(c):
    """Service identities: the one provisiond links with is marked and refused disabling; a factory's is
    registered (a bad certificate named at its field, nothing registered), disabled, enabled and deleted,
    each after a confirmation; the server holds it. An operator only reads."""
    data = c.context["data"]
    ident, own = data["id"], data["own"]
    identity = lambda i: c.api("admin", "GET", f"/v1/service-identities/{i}")
    c.sign_in("admin")
    c.open("identities")
    c.text_in("#identities-table", "provisiond")
    c.text_in("#identities-table", "this provisiond")
    c.type_into("#identity-name", "line-9")
    Select(c.find("#identity-kind")).select_by_value("factory")
    c.type_into("#identity-certificate", "not a certificate")
    c.click("#identity-register button[type=submit]")
    c.text_in("#identities-result", "nothing was registered")
    check(c.invalid("#identity-certificate"), "the certificate field is not marked")
    check(c.find("#identity-certificate-feedback").text, "no word next to the certificate")
    check(identity(ident)[0] == 404, "registered despite the error")
    c.type_into("#identity-certificate", data["pem"])
    c.click("#identity-register button[type=submit]")
    c.text_in("#identities-result", "factory identity line-9 registered (ACTIVE)")
    status, s = identity(ident)
    check(status == 200 and s["kind"] == "factory" and s["status"] == "ACTIVE" and s["name"] == "line-9", f"{status} {s}")
    c.text_in("#identities-table", "line-9")
    c.screenshot("service-identities")
    c.click(f'button[data-action="disable"][data-identity="{ident}"]')
    c.confirm("Disable factory identity line-9?")
    c.text_in("#identities-result", "line-9 is INACTIVE")
    c.text_in(f'.identity-status[data-identity="{ident}"]', "INACTIVE")
    check(identity(ident)[1]["status"] == "INACTIVE", "not disabled")
    c.click(f'button[data-action="enable"][data-identity="{ident}"]')
    c.confirm("Enable factory identity line-9?")
    c.text_in("#identities-result", "line-9 is ACTIVE")
    check(identity(ident)[1]["status"] == "ACTIVE", "not enabled")
    # the one provisiond links with: refused, and it stays
    c.click(f'button[data-action="disable"][data-identity="{own}"]')
    c.confirm("Disable worker identity provisiond?")
    c.text_in("#identities-result", "Conflict")
    c.text_in("#identities-result", "links to the broker with")
    check(identity(own)[1]["status"] == "ACTIVE", "provisiond's own identity was disabled")
    c.click(f'button[data-action="delete"][data-identity="{ident}"]')
    c.cancel("Delete factory identity line-9?")
    check(identity(ident)[0] == 200, "a cancelled deletion deleted")
    c.click(f'button[data-action="delete"][data-identity="{ident}"]')
    c.confirm("Delete factory identity line-9?")
    c.text_in("#identities-result", "identity line-9 deleted")
    check(identity(ident)[0] == 404, "not deleted")
    c.errors_in_log("on service identities", allowed=[r"status of 400", r"status of 409"])
    c.sign_in("operator")
    c.open("identities")
    c.text_in("#identities-table", "provisiond")
    check(not c.all("#identity-register") and not c.all("#identities-table button"), "an operator is offered changes")
    c.errors_in_log("on service identities as operator")


def scenario_claims_cas(c):
    """A claim's templates, description and expiry, and a CA's templates, changed in the console (an unknown
    template or a wrong expiry named at its field, nothing changed); a CA disabled and enabled again after a
    confirmation; the server holds each."""
    data = c.context["data"]
    claim, template, ca = data["claim"], data["template"], data["ca"]
    get_claim = lambda: c.api("admin", "GET", f"/v1/claims/{claim}")[1]
    c.sign_in("admin")
    c.open("claims")
    c.click(f'button[data-action="edit"][data-claim="{claim}"]')
    check(c.find("#claim-edit-templates").get_attribute("value") == "DemoFleet", "the form does not show the templates")
    c.type_into("#claim-edit-templates", "DemoFleet, NoSuchTemplate")
    c.click("#claim-edit-save")
    c.text_in("#claim-edit-templates-feedback", "no template NoSuchTemplate")
    c.text_in("#claims-result", "nothing was changed")
    c.screenshot("claim-edit")
    check(get_claim()["templates"] == ["DemoFleet"], "changed despite the error")
    c.type_into("#claim-edit-templates", f"DemoFleet, {template}")
    c.type_into("#claim-edit-expiresAt", "soon")
    c.click("#claim-edit-save")
    WebDriverWait(c.driver, WAIT).until(lambda d: c.invalid("#claim-edit-expiresAt"))
    check(not c.invalid("#claim-edit-templates"), "the templates are still marked")
    check(get_claim()["templates"] == ["DemoFleet"], "changed despite the error")
    expires = int(time.time()) + 30 * 86400
    c.type_into("#claim-edit-expiresAt", str(expires))
    c.type_into("#claim-edit-description", "line 4 installers")
    c.click("#claim-edit-save")
    c.text_in("#claims-result", f"claim line 4 installers saved: templates DemoFleet, {template}, expires {utc(expires)}")
    got = get_claim()
    check(got["templates"] == ["DemoFleet", template] and got.get("expiresAt") == expires and got["description"] == "line 4 installers",
          f"the claim is not as saved: {got}")
    check(not c.all("#claim-edit"), "the form stays open")
    # the expiry taken away again
    c.click(f'button[data-action="edit"][data-claim="{claim}"]')
    c.type_into("#claim-edit-expiresAt", "")
    c.click("#claim-edit-save")
    c.text_in("#claims-result", "saved")
    check("expiresAt" not in get_claim(), "the expiry stays")
    c.errors_in_log("editing a claim", allowed=[r"status of 400"])
    # the CA: its templates, then its status
    get_ca = lambda: c.api("admin", "GET", f"/v1/cas/{ca}")[1]
    c.open("cas")
    c.click(f'button[data-action="edit"][data-ca="{ca}"]')
    c.type_into("#ca-edit-templates", template)
    c.click("#ca-edit-save")
    c.text_in("#cas-result", f"saved: templates {template}")
    check(get_ca()["templates"] == [template], f"the CA is not as saved: {get_ca()}")
    c.click(f'button[data-action="disable"][data-ca="{ca}"]')
    c.confirm("The certificates it issued are refused from then on")
    c.text_in("#cas-result", "INACTIVE")
    check(get_ca()["status"] == "INACTIVE", "the CA is still active")
    c.click(f'button[data-action="enable"][data-ca="{ca}"]')
    c.confirm("Enable CA")
    c.text_in("#cas-result", "ACTIVE")
    check(get_ca()["status"] == "ACTIVE", "the CA is still inactive")
    c.errors_in_log("editing a CA")


def scenario_thing_actions(c):
    """A thing's certificate disabled and re-enabled, then the thing deprovisioned (a cancelled confirmation
    changes nothing); the server's state checked after each."""
    data = c.context["data"]
    thing, certificate = data["thing"], data["certificate"]
    status = lambda: c.api("admin", "GET", f"/v1/certificates/{certificate}")[1]["status"]
    c.sign_in("admin")
    c.open("things", thing)
    c.text_in("#thing-certificates", "ACTIVE")
    c.click(f'button[data-action="inactive"][data-certificate="{certificate}"]')
    c.confirm(f"Disable certificate {certificate} of {thing}?")
    c.text_in("#thing-result", f"certificate {certificate} is INACTIVE")
    c.text_in(f'.cert-status[data-certificate="{certificate}"]', "INACTIVE")
    check(status() == "INACTIVE", "the certificate is not disabled")
    c.click(f'button[data-action="active"][data-certificate="{certificate}"]')
    c.confirm(f"Re-enable certificate {certificate}")
    c.text_in("#thing-result", f"certificate {certificate} is ACTIVE")
    check(status() == "ACTIVE", "the certificate is not enabled again")
    c.click("#thing-deprovision")
    c.cancel(f"Deprovision {thing}?")
    check(c.api("admin", "GET", f"/v1/things/{thing}")[0] == 200, "a cancelled deprovisioning deprovisioned")
    c.click("#thing-deprovision")
    c.confirm(f"Deprovision {thing}?")
    c.text_in("#thing-result", f"deprovisioned {thing}: 1 certificate(s) removed")
    check(c.api("admin", "GET", f"/v1/things/{thing}")[0] == 404, "the thing is still there")
    check(c.api("admin", "GET", f"/v1/certificates/{certificate}")[0] == 404, "its certificate is still there")
    c.errors_in_log("changing a thing")


def scenario_bulk_csv(c):
    """Bulk activation from a CSV file: the good line activated with its columns as attributes, a line with
    the wrong number of columns not sent, an unknown device 404, each on its own line."""
    data = c.context["data"]
    c.sign_in("activator")
    path = os.path.join(c.profile, "units.csv")
    with open(path, "w") as f:
        f.write(f"registrationId,chassis,colour\n{data['good']},CH-1,red\nSN-611,CH-2\nSN-unknown,CH-3,blue\n")
    c.find("#portal-bulk-file").send_keys(path)
    c.click("#portal-bulk-run")
    c.text_in("#portal-bulk-summary", "1 of 3 activated")
    rows = [r.text for r in c.all("#portal-bulk-table tbody tr")]
    log(f"bulk: {rows}")
    check(len(rows) == 3, rows)
    check(rows[0].startswith(f"2 {data['good']} ENABLED"), rows[0])
    check(rows[1].startswith("3 ") and "not sent" in rows[1] and "2 columns, the header has 3" in rows[1], rows[1])
    check(rows[2].startswith("4 SN-unknown 404") and "NotFound" in rows[2], rows[2])
    status, e = c.api("admin", "GET", f"/v1/enrollments/{data['good']}")
    check(status == 200 and e["status"] == "ENABLED" and e["attributes"] == {"chassis": "CH-1", "colour": "red"}, f"{status} {e}")
    check(c.api("admin", "GET", "/v1/enrollments/SN-611")[0] == 404, "the bad line made an enrollment")
    c.errors_in_log("bulk activation from CSV", allowed=[r"status of 404"])


def scenario_tokens_brokers(c):
    """A token created (its secret shown once works) and deleted (it is refused from then on), a broker
    added, disabled and deleted, each deletion after a confirmation; the server holds each."""
    c.sign_in("admin")
    c.open("tokens")
    c.type_into("#token-new-name", "night-shift")
    Select(c.find("#token-new-role")).select_by_value("operator")
    c.click("#token-create button[type=submit]")
    WebDriverWait(c.driver, WAIT).until(lambda d: c.all("#token-new-secret") and c.find("#token-new-secret").text)
    secret = c.find("#token-new-secret").text
    status, who = c.api_as(secret, "GET", "/v1/whoami")
    check(status == 200 and who == {"name": "night-shift", "role": "operator"}, f"the new token: {status} {who}")
    c.text_in("#tokens-table", "night-shift")
    c.click('button[data-action="delete"][data-token="night-shift"]')
    c.cancel("Delete token night-shift?")
    check(c.api_as(secret, "GET", "/v1/whoami")[0] == 200, "a cancelled deletion deleted")
    c.click('button[data-action="delete"][data-token="night-shift"]')
    c.confirm("Delete token night-shift?")
    c.text_in("#tokens-result", "token night-shift deleted")
    check(c.api_as(secret, "GET", "/v1/whoami")[0] == 401, "the deleted token still works")
    c.errors_in_log("creating and deleting a token")
    c.open("brokers")
    c.type_into("#broker-name", "eu-9")
    c.type_into("#broker-endpoint", "mqtts://eu-9.example.com:8883")
    c.type_into("#broker-weight", "3")
    c.click("#broker-create button[type=submit]")
    c.text_in("#brokers-result", "broker eu-9 added")
    status, b = c.api("admin", "GET", "/v1/brokers/eu-9")
    check(status == 200 and b["endpoint"] == "mqtts://eu-9.example.com:8883" and b["weight"] == 3 and b["enabled"], f"{status} {b}")
    c.click('button[data-action="disable"][data-broker="eu-9"]')
    c.confirm("Disable broker eu-9?")
    c.text_in("#brokers-result", "broker eu-9 is disabled")
    check(c.api("admin", "GET", "/v1/brokers/eu-9")[1]["enabled"] is False, "the broker is still enabled")
    c.click('button[data-action="delete"][data-broker="eu-9"]')
    c.cancel("Delete broker eu-9?")
    check(c.api("admin", "GET", "/v1/brokers/eu-9")[0] == 200, "a cancelled deletion deleted")
    c.click('button[data-action="delete"][data-broker="eu-9"]')
    c.confirm("Delete broker eu-9?")
    c.text_in("#brokers-result", "broker eu-9 deleted")
    check(c.api("admin", "GET", "/v1/brokers/eu-9")[0] == 404, "the broker is still there")
    check("eu-9" not in c.find("#brokers-table").text, "the deleted broker is still listed")
    c.errors_in_log("adding and deleting a broker")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    with open(sys.argv[1]) as f:
        context = json.load(f)
    scenario = globals().get("scenario_" + sys.argv[2].replace("-", "_"))
    if not scenario:
        print(f"no scenario {sys.argv[2]}")
        return 2
    # never outlive the harness: a hard limit, then the browser is closed
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(Failed("the scenario took longer than 150 s")))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(Failed("terminated")))
    signal.alarm(150)
    try:
        console = Console(context)
    except Exception as e:
        print(f"cannot start {CHROMIUM} through {CHROMEDRIVER}: {e}")
        return 2
    try:
        scenario(console)
        log("ok")
        return 0
    except Failed as e:
        log(f"FAILED: {e}")
        return 1
    except Exception as e:
        log(f"FAILED: {type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stdout)
        return 1
    finally:
        console.dump()
        console.close()


if __name__ == "__main__":
    sys.exit(main())
