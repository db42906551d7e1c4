//! The repository itself: what a fresh machine and a fresh clone get.
//! - `scripts/install-deps.sh` detects libclang the way clang-sys does (a fake
//!   machine root where only `libclang-cpp.so.14` exists must ask for libclang-dev);
//! - no tracked file names a path of one particular machine;
//! - a clone with no `../shared` next to it loads the shipped chain configs,
//!   and the shipped ZKsync genesis files yield the genesis roots Matter Labs
//!   published (expected values from zksync-era's l1-recovery tests, via the configs).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use zkreplay::chain::ChainConfig;
use zkreplay::rollup::zksync::genesis;

/// The Debian packages `install-deps.sh --dry-run` asks for on a machine whose
/// filesystem is `fake_root` (empty: nothing installed but what the test creates).
fn debian_packages_asked(fake_root: &Path) -> Vec<String> {
    let out = Command::new("bash")
        .arg(common::root().join("scripts/install-deps.sh"))
        .arg("--dry-run")
        .env("ZKREPLAY_DEPS_ROOT", fake_root)
        .output()
        .expect("running scripts/install-deps.sh");
    assert!(
        out.status.success(),
        "install-deps --dry-run failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("debian:"))
        .unwrap_or_else(|| panic!("no `debian:` line in {stdout:?}"));
    line.split_whitespace().map(str::to_owned).collect()
}

fn touch(root: &Path, file: &str) {
    let path = root.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"").unwrap();
}

#[test]
fn install_deps_asks_for_libclang_dev_when_only_libclang_cpp_exists() {
    let machine = tempfile::tempdir().unwrap();
    touch(machine.path(), "usr/lib/llvm-14/lib/libclang-cpp.so.14");
    touch(
        machine.path(),
        "usr/lib/x86_64-linux-gnu/libclang-cpp.so.14",
    );
    // A runtime-only soname is not what bindgen's build script loads either.
    touch(machine.path(), "usr/lib/x86_64-linux-gnu/libclang.so.1");
    let asked = debian_packages_asked(machine.path());
    assert!(asked.contains(&"libclang-dev".to_owned()), "{asked:?}");
    // Nothing else exists on that machine, so every other requirement is asked for too.
    for package in [
        "gcc",
        "g++",
        "make",
        "pkg-config",
        "libssl-dev",
        "npm",
        "chromium",
    ] {
        assert!(
            asked.contains(&package.to_owned()),
            "{package} not in {asked:?}"
        );
    }
}

#[test]
fn install_deps_accepts_the_libclang_files_clang_sys_loads() {
    for file in [
        "usr/lib/llvm-14/lib/libclang.so",
        "usr/lib/x86_64-linux-gnu/libclang-14.so",
        "usr/lib/aarch64-linux-gnu/libclang-16.so",
    ] {
        let machine = tempfile::tempdir().unwrap();
        touch(machine.path(), file);
        let asked = debian_packages_asked(machine.path());
        assert!(
            !asked.contains(&"libclang-dev".to_owned()),
            "{file}: {asked:?}"
        );
    }
}

/// Absolute paths that only exist on one particular machine: home and build
/// directories. Spelled in pieces so this file does not match itself.
const MACHINE_PATHS: [&str; 5] = [
    concat!("/ho", "me/"),
    concat!("/ro", "ot/"),
    concat!("/Us", "ers/"),
    concat!("/wo", "rk/"),
    concat!(".cache/zk", "replay"),
];

fn tracked_files() -> Vec<PathBuf> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(common::root())
        .output()
        .expect("git ls-files");
    assert!(out.status.success(), "git ls-files failed");
    out.stdout
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| common::root().join(String::from_utf8_lossy(name).as_ref()))
        .collect()
}

#[test]
fn no_tracked_file_names_a_path_of_one_machine() {
    let mut hits = Vec::new();
    for file in tracked_files() {
        // Binary and generated files (lock files, bytecode) carry no paths we wrote.
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if let Some(p) = MACHINE_PATHS.iter().find(|p| line.contains(**p)) {
                hits.push(format!(
                    "{}:{}: {p}: {}",
                    file.display(),
                    n + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "machine-specific paths:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_product_never_reads_the_shared_test_fixtures() {
    let mut hits = Vec::new();
    for file in tracked_files() {
        let relative = file.strip_prefix(common::root()).unwrap();
        let product = relative.starts_with("src") || relative.starts_with("chains");
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            let comment = code.starts_with("//") || code.starts_with('#');
            if product && !comment && code.contains("shared/fixtures") {
                hits.push(format!("{}:{}: {}", relative.display(), n + 1, code));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "product code naming ../shared/fixtures:\n{}",
        hits.join("\n")
    );
}

#[test]
fn a_fresh_clone_loads_every_shipped_chain_config_and_zksync_genesis() {
    // The clone sits in a directory with no `shared/` beside it, as on a user's machine.
    let parent = tempfile::tempdir().unwrap();
    let clone = parent.path().join("zkreplay");
    let out = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(common::root())
        .arg(&clone)
        .output()
        .expect("git clone");
    assert!(
        out.status.success(),
        "git clone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!parent.path().join("shared").exists());
    let mut zksync = 0;
    for entry in std::fs::read_dir(clone.join("chains")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let config = ChainConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
        if let Some(chain) = &config.zksync {
            // A settlement layer (the Gateway) is followed only for what it
            // relays; every other ZKsync chain is replayed from its genesis.
            let Some(file) = chain.genesis_file.as_ref() else {
                assert!(
                    chain.relayed_da_validator.is_some(),
                    "{} names no genesis file",
                    path.display()
                );
                continue;
            };
            assert!(
                file.starts_with(&clone),
                "{} is outside the clone",
                file.display()
            );
            let root = genesis::root(&genesis::load(file).unwrap()).unwrap();
            assert_eq!(Some(root), chain.genesis_root, "{}", path.display());
            zksync += 1;
        }
    }
    assert_eq!(zksync, 2, "mainnet and Sepolia Era configs");
}

/// The README says every flag of the operator commands also reads a
/// `ZKREPLAY_*` variable (for systemd units and containers); clap's own model of
/// the CLI is the ground truth for that claim.
#[test]
fn every_flag_of_follow_serve_and_status_reads_a_zkreplay_variable() {
    use clap::CommandFactory;
    let cli = zkreplay::cli::Cli::command();
    let mut missing = Vec::new();
    for name in ["follow", "serve", "status"] {
        let command = cli
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("no `{name}` subcommand"));
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            match arg.get_env() {
                Some(var) if var.to_string_lossy().starts_with("ZKREPLAY_") => {}
                other => missing.push(format!("{name} --{id}: {other:?}")),
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags without a ZKREPLAY_* variable: {missing:?}"
    );
}

/// `.cargo/config.toml` compiles jemalloc's options into every build of the
/// crate; a build that lost them (say, a renamed variable) would fall back to
/// four arenas per CPU and dirty pages kept for 10 s, the peak-RSS growth the
/// README measured without them.
#[test]
fn jemalloc_runs_with_the_options_the_repository_compiles_in() {
    // The test binary links the library, whose global allocator is jemalloc.
    assert_eq!(tikv_jemalloc_ctl::opt::narenas::read().unwrap(), 2);
    assert!(tikv_jemalloc_ctl::opt::background_thread::read().unwrap());
}
