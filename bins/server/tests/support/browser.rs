//! A small WebDriver client for the browser tests: starts Debian's `chromedriver` on a free loopback port with a
//! headless Chromium and a fresh profile, and finds controls by their accessible names (label text, button name,
//! tab name, dialog heading), as a person would.

#![allow(dead_code, unreachable_pub)]

use serde_json::{Value, json};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The WebDriver element key.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long finding a control may wait for the page.
const FIND_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the browser and its driver are, if installed.
pub fn installed() -> Option<(PathBuf, PathBuf)> {
    let chromium = PathBuf::from(std::env::var("CUTOVER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    let driver =
        PathBuf::from(std::env::var("CUTOVER_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()));
    (chromium.exists() && driver.exists()).then_some((chromium, driver))
}

/// The browser, or `None` after printing `skipped: no chromium`; with `CUTOVER_REQUIRE_BROWSER=1` a missing browser
/// fails the test instead.
pub async fn browser_or_skip(test: &str) -> Option<Browser> {
    match installed() {
        Some((chromium, driver)) => Some(Browser::start(&chromium, &driver).await),
        None => {
            assert!(
                std::env::var("CUTOVER_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "{test}: no chromium/chromedriver, and CUTOVER_REQUIRE_BROWSER=1"
            );
            eprintln!("skipped: no chromium ({test})");
            None
        }
    }
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// One Chromium session driven through chromedriver.
pub struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

/// A found element, with the XPath that found it (a live page may replace the element; a click then finds it again).
#[derive(Debug, Clone)]
pub struct Element(String, String);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("address").port()
}

fn quote(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    let parts: Vec<String> = text.split('\'').map(|part| format!("'{part}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}

impl Browser {
    async fn start(chromium: &Path, driver: &Path) -> Self {
        let port = free_port();
        // Its own process group, which Chromium's processes join: ending the group ends them all.
        let child = Command::new(driver)
            .process_group(0)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        let base = format!("http://127.0.0.1:{port}");
        let ready = Instant::now() + Duration::from_secs(20);
        loop {
            let status = http.get(format!("{base}/status")).send().await;
            if let Ok(response) = status
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < ready, "chromedriver did not get ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile");
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,800".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium.display().to_string(), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let response: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("session")
            .json()
            .await
            .expect("json");
        let session =
            response["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {response}")).to_owned();
        let browser = Self { driver: child, http, base, session, _profile: profile };
        browser.viewport(1280, 800, 1.0).await;
        browser
    }

    async fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, Value> {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request.send().await.expect("webdriver answers");
        let ok = response.status().is_success();
        let value: Value = response.json().await.expect("webdriver json");
        if ok { Ok(value["value"].clone()) } else { Err(value["value"].clone()) }
    }

    async fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, path, body).await.unwrap_or_else(|error| panic!("{method} {path}: {error}"))
    }

    /// Signs in at `base` with an API token and waits for the first page after it.
    pub async fn sign_in(&self, base: &str, token: &str) {
        self.goto(&format!("{base}/")).await;
        self.heading("Sign in").await;
        self.fill(&self.field("API token").await, token).await;
        self.click(&self.button("Sign in").await).await;
        self.heading("Integration Connections").await;
    }

    /// No CSP violation was reported, neither in the browser console nor to our modules' listener, and the page's
    /// module ran: it sets `data-READY` on the document element (`consoleReady`, `runbookReady`).
    pub async fn assert_no_csp_violation(&self, ready: &str) {
        let log = self.console_log().await;
        let violations: Vec<&String> = log.iter().filter(|line| line.contains("Content Security Policy")).collect();
        assert!(violations.is_empty(), "CSP violations: {violations:?}");
        let recorded = self.execute("return document.documentElement.dataset.cspViolations ?? '0';", vec![]).await;
        assert_eq!(recorded, Value::from("0"));
        let script = format!("return document.documentElement.dataset.{ready} ?? 'no';");
        assert_eq!(self.execute(&script, vec![]).await, Value::from("true"), "the page's module ran ({ready})");
    }

    /// Sets the layout viewport in CSS pixels and the zoom (device scale) through the DevTools protocol.
    pub async fn viewport(&self, width: u32, height: u32, scale: f64) {
        let params = json!({"width": width, "height": height, "deviceScaleFactor": scale, "mobile": false});
        self.must(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": params})),
        )
        .await;
    }

    /// Opens a URL.
    pub async fn goto(&self, url: &str) {
        self.must("POST", "/url", Some(json!({"url": url}))).await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.must("GET", "/url", None).await.as_str().unwrap_or_default().to_owned()
    }

    /// Runs a script (`arguments` are the args) and returns its value.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.must("POST", "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    async fn find_all(&self, xpath: &str) -> Vec<Element> {
        match self.command("POST", "/elements", Some(json!({"using": "xpath", "value": xpath}))).await {
            Ok(Value::Array(items)) => items
                .iter()
                .filter_map(|item| item[ELEMENT].as_str().map(|id| Element(id.to_owned(), xpath.to_owned())))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether an element is displayed.
    pub async fn displayed(&self, element: &Element) -> bool {
        self.command("GET", &format!("/element/{}/displayed", element.0), None).await.ok() == Some(Value::Bool(true))
    }

    /// The first displayed element matching `xpath`, waiting for it up to ten seconds.
    pub async fn find(&self, xpath: &str, what: &str) -> Element {
        let deadline = Instant::now() + FIND_TIMEOUT;
        loop {
            for element in self.find_all(xpath).await {
                if self.displayed(&element).await {
                    return element;
                }
            }
            if Instant::now() >= deadline {
                let shown = self.execute("return document.documentElement.outerHTML.slice(0, 3000);", vec![]).await;
                let found = self.find_all(xpath).await.len();
                panic!("not found: {what} ({xpath}, {found} hidden) on {}: {shown}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether a displayed element matches `xpath` now.
    pub async fn present(&self, xpath: &str) -> bool {
        for element in self.find_all(xpath).await {
            if self.displayed(&element).await {
                return true;
            }
        }
        false
    }

    /// Where a person can act: inside the open modal dialog if there is one, else the whole page.
    async fn scope(&self) -> &'static str {
        if self.find_all("//dialog[@open]").await.is_empty() { "" } else { "//dialog[@open]" }
    }

    /// The input, select or textarea labelled `label` (a `<label for>` or a wrapping `<label>`).
    pub async fn field(&self, label: &str) -> Element {
        let q = quote(label);
        let scope = self.scope().await;
        let xpath = format!(
            "{scope}//*[@id=//label[normalize-space()={q}]/@for] | {scope}//label[normalize-space()={q}]//*[self::input or self::select or self::textarea]"
        );
        self.find(&xpath, &format!("field `{label}`")).await
    }

    fn button_xpath(scope: &str, name: &str) -> String {
        let q = quote(name);
        format!(
            "{scope}//*[(self::button or @role='button' or (self::input and @type='submit')) and (normalize-space()={q} or @aria-label={q} or @value={q})]"
        )
    }

    /// Picks the option shown as `option` in the select labelled `label`.
    pub async fn choose(&self, label: &str, option: &str) {
        let select = self.field(label).await;
        let id = self.attribute(&select, "id").await.unwrap_or_default();
        let xpath = format!("//select[@id={}]/option[normalize-space()={}]", quote(&id), quote(option));
        let found = self.find_all(&xpath).await;
        let option_element = found.first().unwrap_or_else(|| panic!("no option `{option}` in `{label}`"));
        self.click(option_element).await;
    }

    /// The button named `name`.
    pub async fn button(&self, name: &str) -> Element {
        let scope = self.scope().await;
        self.find(&Self::button_xpath(scope, name), &format!("button `{name}`")).await
    }

    /// Whether a button named `name` is offered.
    pub async fn has_button(&self, name: &str) -> bool {
        self.present(&Self::button_xpath("", name)).await
    }

    /// The link named `name`.
    pub async fn link(&self, name: &str) -> Element {
        let q = quote(name);
        let scope = self.scope().await;
        self.find(&format!("{scope}//a[normalize-space()={q} or @aria-label={q}]"), &format!("link `{name}`")).await
    }

    /// The tab named `name`.
    pub async fn tab(&self, name: &str) -> Element {
        let q = quote(name);
        self.find(&format!("//*[@role='tab'][normalize-space()={q}]"), &format!("tab `{name}`")).await
    }

    /// The open dialog whose heading is `heading`.
    pub async fn dialog(&self, heading: &str) -> Element {
        let q = quote(heading);
        self.find(
            &format!("//dialog[@open][.//*[self::h1 or self::h2][normalize-space()={q}]]"),
            &format!("dialog `{heading}`"),
        )
        .await
    }

    /// Whether an open dialog has the heading `heading`.
    pub async fn has_dialog(&self, heading: &str) -> bool {
        let q = quote(heading);
        self.present(&format!("//dialog[@open][.//*[self::h1 or self::h2][normalize-space()={q}]]")).await
    }

    /// The heading with text `text`.
    pub async fn heading(&self, text: &str) -> Element {
        let q = quote(text);
        self.find(&format!("//*[self::h1 or self::h2][normalize-space()={q}]"), &format!("heading `{text}`")).await
    }

    /// Clicks an element, scrolled to the middle of its view first (as a person scrolls to what they want).
    ///
    /// The runbook page is live: an event may replace the element between finding and clicking it. A stale element is
    /// found again by the XPath that found it (a few times), as a person clicks again what moved under the pointer.
    pub async fn click(&self, element: &Element) {
        let mut element = element.clone();
        for _ in 0..5 {
            let reference = json!({ELEMENT: element.0});
            let scroll = json!({"script": "arguments[0].scrollIntoView({block: 'center', inline: 'nearest'});", "args": [reference]});
            let clicked = match self.command("POST", "/execute/sync", Some(scroll)).await {
                Ok(_) => self.command("POST", &format!("/element/{}/click", element.0), None).await,
                Err(error) => Err(error),
            };
            match clicked {
                Ok(_) => return,
                Err(error) if error["error"] == "stale element reference" => {
                    element = self.find(&element.1, "an element replaced by the live page").await;
                }
                Err(error) => panic!("clicking {}: {error}", element.1),
            }
        }
        panic!("clicking {}: replaced by the live page five times in a row", element.1);
    }

    /// Clicks a button that submits a form, then waits until the page the post lands on has loaded, so that what is
    /// checked next is read from the answer, not from the page the click left (which may still be shown for a while).
    pub async fn submit(&self, element: &Element) {
        self.execute("window.__leftBySubmit = true;", vec![]).await;
        self.click(element).await;
        self.wait_for(
            "return window.__leftBySubmit !== true && document.readyState === 'complete';",
            &format!("the page after submitting with {}", element.1),
        )
        .await;
    }

    /// Clears a field and types `text` into it.
    pub async fn fill(&self, element: &Element, text: &str) {
        self.must("POST", &format!("/element/{}/clear", element.0), None).await;
        self.type_keys(element, text).await;
    }

    /// Types `text` into an element, as keystrokes.
    pub async fn type_keys(&self, element: &Element, text: &str) {
        self.must("POST", &format!("/element/{}/value", element.0), Some(json!({"text": text}))).await;
    }

    /// Presses keys on whatever has the focus (`\u{E00C}` is Escape, `\u{E014}` arrow right).
    pub async fn press(&self, keys: &str) {
        let actions: Vec<Value> = keys
            .chars()
            .flat_map(|key| {
                [
                    json!({"type": "keyDown", "value": key.to_string()}),
                    json!({"type": "keyUp", "value": key.to_string()}),
                ]
            })
            .collect();
        let body = json!({"actions": [{"type": "key", "id": "keyboard", "actions": actions}]});
        self.must("POST", "/actions", Some(body)).await;
    }

    /// An element's text.
    pub async fn text(&self, element: &Element) -> String {
        self.must("GET", &format!("/element/{}/text", element.0), None).await.as_str().unwrap_or_default().to_owned()
    }

    /// An element's DOM property (`value`, `checked`).
    pub async fn property(&self, element: &Element, name: &str) -> Value {
        self.must("GET", &format!("/element/{}/property/{name}", element.0), None).await
    }

    /// An element's attribute.
    pub async fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.must("GET", &format!("/element/{}/attribute/{name}", element.0), None).await.as_str().map(str::to_owned)
    }

    /// The page's text.
    pub async fn page_text(&self) -> String {
        self.execute("return document.body.innerText;", vec![]).await.as_str().unwrap_or_default().to_owned()
    }

    /// What has the focus, as `tag#id[role]` and its accessible text.
    pub async fn focused(&self) -> String {
        let script = "const e = document.activeElement; return `${e.tagName.toLowerCase()}#${e.id} ${e.getAttribute('role') ?? ''} ${(e.getAttribute('aria-label') ?? e.textContent ?? '').trim()}`;";
        self.execute(script, vec![]).await.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until `script` returns `true`.
    pub async fn wait_for(&self, script: &str, what: &str) {
        let deadline = Instant::now() + FIND_TIMEOUT;
        while self.execute(script, vec![]).await != Value::Bool(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what} on {}", self.url().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the viewport as `target/screenshots/NAME.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine as _;
        let encoded = self.must("GET", "/screenshot", None).await;
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(encoded.as_str().unwrap_or_default()).expect("PNG base64");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, bytes).expect("screenshot written");
        path
    }

    /// The browser console's entries since the last call (chromedriver's `goog:loggingPrefs`).
    pub async fn console_log(&self) -> Vec<String> {
        match self.command("POST", "/se/log", Some(json!({"type": "browser"}))).await {
            Ok(Value::Array(entries)) => {
                entries.iter().map(|entry| entry["message"].as_str().unwrap_or_default().to_owned()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Whether the page overflows its viewport sideways (a broken layout).
    pub async fn overflows_sideways(&self) -> bool {
        self.execute("return document.documentElement.scrollWidth > window.innerWidth + 1;", vec![]).await
            == Value::Bool(true)
    }

    /// Ends the session, then the driver and whatever of the browser is left.
    pub async fn quit(self) {
        let _ = self.command("DELETE", "", None).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver's process group holds the browser's processes too (a failed test never reaches `quit`).
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.driver.wait();
    }
}
