//! A real browser renders GraphiQL from the locally served assets (no CDN) and
//! runs a balance query against a store rebuilt from real Sepolia blocks.
//!
//! Needs a Chromium binary (`chromium`, `chromium-browser`, `google-chrome`, or
//! the path in `ZKREPLAY_CHROMIUM`); without one the test fails naming the
//! install command (`scripts/install-deps.sh`), unless
//! `ZKREPLAY_SKIP_TOOL_TESTS=1` asks to skip it. GraphiQL's assets come from `web/node_modules`
//! (`scripts/install-web.sh`, which the test runs when they are missing).
//! `ZKREPLAY_DUMP_DOM=<file>` keeps the rendered DOM for inspection.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zkreplay::api::{self, AppState, RollupHandle, RollupKind};

/// The account of a real 1 ETH transfer in Sepolia block 6 (see tests/api.rs).
const ACCOUNT: &str = "0x43abaa073c768ebf039c0c4f46db9acc39e9ec165690418060a652aab39e7d8";
/// 1 ETH in wei, the balance block 6 wrote.
const ONE_ETH: &str = "0xde0b6b3a7640000";

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("ZKREPLAY_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
    .find(|candidate| candidate.is_file())
}

fn graphiql_assets() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let assets = root.join("web/node_modules");
    if !assets.join("graphiql/graphiql.min.js").is_file() {
        let status = Command::new(root.join("scripts/install-web.sh"))
            .status()
            .expect("running scripts/install-web.sh");
        assert!(
            status.success(),
            "GraphiQL assets missing and scripts/install-web.sh failed"
        );
    }
    assets
}

/// Runs headless Chromium on `url` and returns the DOM after the page settled.
fn dump_dom(chromium: &Path, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            // Lets timers and the query's fetch finish before the DOM is dumped.
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromium");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_in_headless_chromium_runs_a_balance_query() {
    let Some(chromium) = find_chromium() else {
        common::skip_missing_tool(
            "chromium (or $ZKREPLAY_CHROMIUM)",
            "scripts/install-deps.sh",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::sepolia_store(dir.path());
    let state = AppState {
        graphiql_assets: Some(graphiql_assets()),
        ..AppState::new(
            api::build_schema(vec![RollupHandle::new(
                "starknet-sepolia",
                RollupKind::Starknet,
                store,
            )]),
            Default::default(),
        )
    };
    let (graphql, _monitor, _task) = api::serve(
        state,
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1:0".parse().unwrap(),
        std::future::pending(),
    )
    .await
    .unwrap();
    let query = format!(
        r#"{{ rollup(name: "starknet-sepolia") {{ balance(token: "ETH", account: "{ACCOUNT}", atBatch: 7) }} }}"#
    );
    let mut url = format!("http://{graphql}/graphql?run&query=");
    url.extend(query.bytes().map(|b| match b {
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
        other => format!("%{other:02X}"),
    }));
    let dom = tokio::task::spawn_blocking(move || dump_dom(&chromium, &url))
        .await
        .unwrap();
    assert!(
        dom.contains("graphiql-container"),
        "GraphiQL did not render (assets not served?):\n{dom}"
    );
    if let Ok(path) = std::env::var("ZKREPLAY_DUMP_DOM") {
        std::fs::write(path, &dom).unwrap();
    }
    // The query names no value, so the balance can only come from the response,
    // rendered by GraphiQL's result editor.
    let result_pane = dom
        .find("result-window")
        .map(|at| &dom[at..])
        .unwrap_or_else(|| panic!("no GraphiQL result pane:\n{dom}"));
    assert!(
        result_pane.contains(&format!(r#""{ONE_ETH}""#)),
        "the result pane does not show the balance {ONE_ETH}:\n{dom}"
    );
}
