//! Fuzzing every decoder of untrusted input, on the stable toolchain.
//!
//! cargo-fuzz (libFuzzer) needs nightly's `-Zsanitizer` and cargo-afl its
//! own instrumented rebuild of every dependency (RocksDB included), so this
//! is an in-process harness instead: deterministic, seeded from the real
//! fixtures (mainnet and Sepolia blobs and calldata, the cairo-lang oracle's
//! pages and program outputs, the published ZKsync commitment and KZG
//! vectors, the chain configs in `chains/`), with structure-aware mutations
//! (bit flips, truncation, splicing two seeds, 32-byte ABI words and felts set
//! to length-field extremes and numbers near 2^64, 2^128, 2^251 and the
//! field primes, words inserted and removed). Each input runs under
//! `catch_unwind`: a panic is a failure that prints the input (hex) and the
//! panic message. A decoder may refuse any input; it may not panic.
//!
//! `cargo test --test it fuzz::` runs each target for a fixed small number
//! of inputs (the CI budget). The long run sets the count (for every target)
//! and the seed, in a release build:
//!
//! ```text
//! ZKREPLAY_FUZZ_INPUTS=1000000 ZKREPLAY_FUZZ_SEED=7 \
//!     cargo test --release --test it fuzz:: -- --nocapture --test-threads 2
//! ```
//!
//! One target alone: `fuzz::fuzz_zksync_blobs` instead of `fuzz::`. Every
//! panic found is fixed with a typed error and its input
//! kept as a regression case at the end of this file.

use crate::common;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Once;
use std::time::Instant;

use alloy_primitives::{B256, U256};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use starknet_types_core::felt::Felt;

// ---------------------------------------------------------------- harness

thread_local! {
    /// Set while this thread runs fuzz inputs: panics are recorded, not printed.
    static CAPTURE: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A panic hook that records fuzz panics quietly and leaves every other
/// panic (a failing assertion of another test) to the default hook.
fn install_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let captured = CAPTURE.with(|c| {
                let mut slot = c.borrow_mut();
                match slot.as_mut() {
                    Some(message) => {
                        *message = format!("{info}");
                        true
                    }
                    None => false,
                }
            });
            if !captured {
                default(info);
            }
        }));
    });
}

/// Inputs per target: `ZKREPLAY_FUZZ_INPUTS`, else the CI budget given.
fn budget(ci: usize) -> usize {
    std::env::var("ZKREPLAY_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ci)
}

fn rng_seed() -> u64 {
    std::env::var("ZKREPLAY_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed)
}

/// Runs `target` on `inputs` mutants of `seeds`; fails listing every panic.
fn fuzz<I: Clone>(
    name: &str,
    seeds: &[I],
    inputs: usize,
    mut mutate: impl FnMut(&mut StdRng, &[I]) -> I,
    show: impl Fn(&I) -> String,
    mut target: impl FnMut(&I) -> bool,
) {
    assert!(!seeds.is_empty(), "{name}: no seeds");
    install_hook();
    let mut rng = StdRng::seed_from_u64(rng_seed() ^ fnv(name));
    let started = Instant::now();
    let mut panics: Vec<(String, String)> = Vec::new();
    // The seeds themselves first: real data must decode without a panic.
    let all = seeds
        .iter()
        .cloned()
        .chain((0..inputs).map(|_| mutate(&mut rng, seeds)));
    let (mut count, mut accepted, mut panicked) = (0usize, 0usize, 0usize);
    for input in all {
        count += 1;
        CAPTURE.with(|c| *c.borrow_mut() = Some(String::new()));
        let outcome = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let message = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
        match outcome {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => {
                panicked += 1;
                if panics.len() < 5 {
                    panics.push((message, show(&input)));
                }
            }
        }
    }
    // "accepted": inputs the main decoder decoded without error, a rough
    // measure of how deep the mutants reach.
    println!(
        "fuzz {name}: {count} inputs ({} seeds) in {:.1} s, {accepted} accepted, {panicked} panics",
        seeds.len(),
        started.elapsed().as_secs_f64(),
    );
    if !panics.is_empty() {
        let report: Vec<String> = panics
            .iter()
            .map(|(m, input)| format!("{m}\n  input: {input}"))
            .collect();
        panic!("{name}: decoders panicked:\n{}", report.join("\n"));
    }
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

// `&Vec` because these are passed as `fn(&Input) -> String` for each input type.
#[allow(clippy::ptr_arg)]
fn show_bytes(bytes: &Vec<u8>) -> String {
    let shown = &bytes[..bytes.len().min(4096)];
    format!("0x{} ({} bytes)", hex::encode(shown), bytes.len())
}

#[allow(clippy::ptr_arg)]
fn show_felts(felts: &Vec<Felt>) -> String {
    let shown: Vec<String> = felts.iter().take(512).map(|f| format!("{f:#x}")).collect();
    format!("[{}] ({} felts)", shown.join(","), felts.len())
}

// ---------------------------------------------------------------- mutations

/// 32-byte words that break length fields, offsets and counters.
fn extreme_word(rng: &mut StdRng) -> [u8; 32] {
    let value = match rng.random_range(0..14u8) {
        0 => U256::ZERO,
        1 => U256::from(1u8),
        2 => U256::from(u64::MAX),
        3 => U256::from(u64::MAX - rng.random_range(0..4u64)),
        4 => U256::from(1u8) << 64,
        5 => U256::from(u32::MAX),
        6 => U256::from(1u8) << 128,
        7 => U256::MAX,
        8 => U256::from(1u8) << 251,
        9 => (U256::from(1u8) << 251) + (U256::from(17u8) << 192), // the Stark prime
        10 => U256::from(rng.random_range(0..0x10000u32)),
        11 => U256::from(usize::MAX),
        12 => U256::from(i64::MAX as u64),
        _ => U256::from(rng.random::<u64>()) << rng.random_range(0..192usize),
    };
    value.to_be_bytes()
}

/// Structure-aware byte mutations: 1 to 4 stacked.
fn mutate_bytes(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..=4) {
        let len = data.len();
        match rng.random_range(0..10u8) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] = [0u8, 0xff, 0x7f, 0x80, 1][rng.random_range(0..5)];
            }
            2 => data.truncate(rng.random_range(0..=len)),
            3 if len >= 32 => {
                // An ABI word or a big-endian field set to an extreme.
                let at = rng.random_range(0..=(len - 32) / 32) * 32
                    + if rng.random_bool(0.5) { 4 } else { 0 };
                let at = at.min(len - 32);
                data[at..at + 32].copy_from_slice(&extreme_word(rng));
            }
            4 if len >= 8 => {
                // A u64/u32 length field anywhere.
                let at = rng.random_range(0..=len - 8);
                let v: u64 =
                    [u64::MAX, u64::MAX - 1, 1 << 32, u32::MAX as u64, 0][rng.random_range(0..5)];
                data[at..at + 8].copy_from_slice(&v.to_be_bytes());
            }
            5 => {
                // Splice: a prefix of this input and a suffix of another.
                let other = &seeds[rng.random_range(0..seeds.len())];
                let cut = rng.random_range(0..=len);
                let from = rng.random_range(0..=other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            6 if len >= 32 => {
                // Remove or duplicate a 32-byte word (shifts every offset after it).
                let at = rng.random_range(0..=len - 32);
                if rng.random_bool(0.5) {
                    data.drain(at..at + 32);
                } else {
                    let word: Vec<u8> = data[at..at + 32].to_vec();
                    data.splice(at..at, word);
                }
            }
            7 => {
                let extra = rng.random_range(1..64);
                data.extend((0..extra).map(|_| rng.random::<u8>()));
            }
            8 if len > 0 => {
                let at = rng.random_range(0..len);
                let end = (at + rng.random_range(1..16)).min(len);
                for b in &mut data[at..end] {
                    *b = rng.random();
                }
            }
            _ => {
                if len >= 4 {
                    let at = rng.random_range(0..=len - 4);
                    data[at..at + 4].copy_from_slice(&rng.random::<u32>().to_be_bytes());
                }
            }
        }
    }
    data
}

/// Felt-level mutations: counts, lengths and packed headers are felts in
/// Starknet's DA and program output.
fn mutate_felts(rng: &mut StdRng, seeds: &[Vec<Felt>]) -> Vec<Felt> {
    let mut data = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..=4) {
        let len = data.len();
        match rng.random_range(0..8u8) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] = Felt::from_bytes_be(&extreme_word(rng));
            }
            1 if len > 0 => {
                // Flip one bit of the felt (reduced mod p if it leaves the field).
                let i = rng.random_range(0..len);
                let mut bytes = data[i].to_bytes_be();
                let bit = rng.random_range(0..256);
                bytes[bit / 8] ^= 1 << (bit % 8);
                data[i] = Felt::from_bytes_be(&bytes);
            }
            2 => data.truncate(rng.random_range(0..=len)),
            3 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] += Felt::from(rng.random_range(1..4u8))
                    * if rng.random_bool(0.5) {
                        Felt::ONE
                    } else {
                        -Felt::ONE
                    };
            }
            4 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let cut = rng.random_range(0..=len);
                let from = rng.random_range(0..=other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            5 if len > 0 => {
                let at = rng.random_range(0..len);
                if rng.random_bool(0.5) {
                    data.remove(at);
                } else {
                    data.insert(at, data[at]);
                }
            }
            6 if len > 0 => {
                // A small count where a large one was, and the reverse.
                let i = rng.random_range(0..len.min(64));
                data[i] = Felt::from(rng.random_range(0..300u32));
            }
            _ => data.push(Felt::from(rng.random::<u64>())),
        }
    }
    data
}

/// Text mutations: byte-level, plus numbers swapped for extremes.
fn mutate_text(rng: &mut StdRng, seeds: &[String]) -> String {
    const NUMBERS: [&str; 8] = [
        "18446744073709551615",
        "18446744073709551616",
        "-1",
        "0",
        "99999999999999999999999999999",
        "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        "1e309",
        "9223372036854775807",
    ];
    let mut text = seeds[rng.random_range(0..seeds.len())].clone();
    if rng.random_bool(0.4) {
        // Replace a run of digits with an extreme number.
        let digits: Vec<usize> = text
            .char_indices()
            .filter(|(_, c)| c.is_ascii_digit())
            .map(|(i, _)| i)
            .collect();
        if let Some(&start) = digits.get(rng.random_range(0..digits.len().max(1))) {
            let end = text[start..]
                .find(|c: char| !c.is_ascii_alphanumeric())
                .map_or(text.len(), |e| start + e);
            text.replace_range(start..end, NUMBERS[rng.random_range(0..NUMBERS.len())]);
        }
        return text;
    }
    let bytes = mutate_bytes(rng, &[text.into_bytes()]);
    String::from_utf8_lossy(&bytes).into_owned()
}

// ---------------------------------------------------------------- seeds

fn hex_file(path: &Path) -> Vec<u8> {
    zkreplay::hexfmt::parse_bytes(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn hex_value(v: &Value) -> Vec<u8> {
    zkreplay::hexfmt::parse_bytes(v.as_str().unwrap()).unwrap()
}

fn felts_of(v: &Value) -> Vec<Felt> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| Felt::from_hex(x.as_str().unwrap()).unwrap())
        .collect()
}

/// Real Starknet blobs: mainnet v0.13.1 and the KZG blocks, Sepolia v0.13.3/v0.13.4.
fn starknet_blobs() -> Vec<Vec<u8>> {
    let mut out = vec![
        hex_file(&common::fixtures().join("starknet/mainnet-v0.13.1-blobs/631861/blob.hex")),
        hex_file(&common::fixtures().join("starknet/mainnet-kzg/651053/blob_data.txt")),
        hex_file(&common::fixtures().join("starknet/sepolia-v0.13.3-batches/l1-7070019/blob0.hex")),
    ];
    let v0134 = common::fixtures().join("starknet/sepolia-v0.13.4-batches/l1-7791723");
    let mut extra: Vec<_> = std::fs::read_dir(&v0134)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "hex"))
        .collect();
    extra.sort();
    out.extend(extra.iter().take(1).map(|p| hex_file(p)));
    out
}

/// The oracle's batches (cairo-lang 0.14.0.1): program output, pages and L1 calldata.
fn oracle_batches() -> Vec<Value> {
    let mut out = Vec::new();
    for set in ["seed1_blob", "seed2_calldata"] {
        for n in 1..=2 {
            out.push(common::read_json(
                &common::fixtures().join(format!("starknet/oracle/{set}/batch_000{n}.json")),
            ));
        }
    }
    out
}

/// DA felts: the IFFT of each real blob, and the oracle's pages.
fn starknet_da_felts() -> Vec<Vec<Felt>> {
    let mut out = Vec::new();
    for blob in starknet_blobs() {
        let (felts, _) = zkreplay::rollup::starknet::da::batch::blobs_to_felts(&[blob]).unwrap();
        // Trailing zero coefficients carry nothing; keep the seed small.
        let used = felts
            .iter()
            .rposition(|f| *f != Felt::ZERO)
            .map_or(0, |i| i + 1);
        out.push(felts[..used.max(1)].to_vec());
    }
    for batch in oracle_batches() {
        if let Some(pages) = batch["memory_pages"].as_array() {
            let pages: Vec<_> = pages
                .iter()
                .map(|p| {
                    zkreplay::rollup::starknet::da::pages::parse_page(&hex_value(&p["calldata"]))
                        .unwrap()
                })
                .collect();
            out.push(zkreplay::rollup::starknet::da::pages::pages_to_felts(&pages).unwrap());
        }
    }
    out
}

fn zksync_calldata() -> Vec<Vec<u8>> {
    let dir = common::fixtures().join("zksync/calldata");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "calldata"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| zkreplay::cli::decode_zksync::read_binary(p).unwrap())
        .collect()
}

/// ZKsync pubdata: the KZG vector's real batch pubdata.
fn zksync_pubdata() -> Vec<Vec<u8>> {
    let kzg = common::read_json(&common::fixtures().join("zksync/kzg/kzg_test_0.json"));
    let pubdata = kzg
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.contains("pubdata") && !k.contains("commitment"))
        .map(|(_, v)| hex_value(v))
        .expect("kzg_test_0.json has the pubdata");
    vec![pubdata]
}

// ---------------------------------------------------------------- targets

#[test]
fn fuzz_starknet_da_felts() {
    use zkreplay::rollup::starknet::da::aliases::MemoryAliases;
    use zkreplay::rollup::starknet::da::batch::{BatchInput, DaInput, decode_batch};
    use zkreplay::rollup::starknet::da::{DaEnd, Layout, decode_da};
    let seeds = starknet_da_felts();
    let aliases = MemoryAliases::new();
    fuzz(
        "starknet DA felts (layout detection, decompression, every layout)",
        &seeds,
        budget(400),
        mutate_felts,
        show_felts,
        |felts| {
            let input = BatchInput {
                batch: Some(1),
                da: DaInput::Felts(felts),
                l1_update: None,
                versioned_hashes: None,
                blobs_checked: false,
                layout: None,
            };
            let accepted = decode_batch(&input, &aliases).is_ok();
            for layout in [Layout::V0_9, Layout::V0_10, Layout::V0_11, Layout::V0_13_3] {
                for end in [DaEnd::Exact, DaEnd::ZeroPadded] {
                    if let Ok((diff, _)) = decode_da(felts, layout, end) {
                        let _ = diff.to_state_diff();
                    }
                }
            }
            accepted
        },
    );
}

#[test]
fn fuzz_starknet_blobs() {
    use zkreplay::rollup::starknet::da::aliases::MemoryAliases;
    use zkreplay::rollup::starknet::da::batch::{BatchInput, DaInput, decode_batch};
    let seeds = starknet_blobs();
    let aliases = MemoryAliases::new();
    fuzz(
        "starknet blobs (IFFT, then the DA decoders)",
        &seeds,
        budget(12),
        |rng, seeds| {
            // Keep most inputs blob-sized so the decoders past the size check run.
            let mut blob = mutate_bytes(rng, seeds);
            if rng.random_bool(0.8) {
                blob.resize(131_072, 0);
            }
            blob
        },
        show_bytes,
        |blob| {
            let blobs = [blob.clone()];
            let input = BatchInput {
                batch: None,
                da: DaInput::Blobs(&blobs),
                l1_update: None,
                versioned_hashes: None,
                blobs_checked: false,
                layout: None,
            };
            decode_batch(&input, &aliases).is_ok()
        },
    );
}

#[test]
fn fuzz_starknet_program_output() {
    use zkreplay::rollup::starknet::da::program_output::{HeaderVersion, detect, parse};
    let mut seeds: Vec<Vec<Felt>> = oracle_batches()
        .iter()
        .map(|b| felts_of(&b["program_output"]))
        .collect();
    for block in ["651053", "651054"] {
        let snos = common::read_json(
            &common::fixtures().join(format!("starknet/mainnet-kzg/{block}/snos_output.json")),
        );
        if let Some(words) = snos.as_array().filter(|a| a.iter().all(Value::is_string)) {
            seeds.push(
                words
                    .iter()
                    .map(|w| Felt::from_hex(w.as_str().unwrap()).unwrap_or(Felt::ZERO))
                    .collect(),
            );
        }
    }
    let versions = [
        HeaderVersion::V0_11,
        HeaderVersion::V0_13_1,
        HeaderVersion::V0_13_2,
    ];
    fuzz(
        "starknet program output",
        &seeds,
        budget(3000),
        mutate_felts,
        show_felts,
        |words| {
            for v in versions {
                let _ = parse(words, v);
            }
            detect(words, &versions).is_ok()
        },
    );
}

#[test]
fn fuzz_starknet_l1_calldata_and_pages() {
    use zkreplay::rollup::starknet::da::pages::{pages_to_felts, parse_page};
    use zkreplay::rollup::starknet::da::program_output::parse_l1_calldata;
    let mut seeds = Vec::new();
    for batch in oracle_batches() {
        for (_, calldata) in batch["l1"].as_object().unwrap() {
            if let Some(text) = calldata.as_str().filter(|t| t.starts_with("0x")) {
                seeds.push(hex_value(&Value::from(text)));
            }
        }
        for page in batch["memory_pages"].as_array().into_iter().flatten() {
            seeds.push(hex_value(&page["calldata"]));
        }
    }
    fuzz(
        "starknet updateState*/registerContinuousMemoryPage calldata",
        &seeds,
        budget(2000),
        mutate_bytes,
        show_bytes,
        |calldata| {
            let update = parse_l1_calldata(calldata).is_ok();
            let _ = zkreplay::rollup::starknet::sharp::pages_in_call(calldata);
            let page = match parse_page(calldata) {
                Ok(page) => pages_to_felts(&[page]).is_ok(),
                Err(_) => false,
            };
            update || page
        },
    );
}

#[test]
fn fuzz_starknet_feeder_json() {
    use zkreplay::rollup::starknet::feeder::parse_state_update;
    let seeds: Vec<String> = (0..8)
        .map(|i| {
            std::fs::read_to_string(
                common::fixtures().join(format!("starknet/sepolia-genesis-feeder/{i}.json")),
            )
            .unwrap()
        })
        .collect();
    fuzz(
        "starknet feeder-gateway state updates",
        &seeds,
        budget(1500),
        mutate_text,
        |t| t.chars().take(4096).collect(),
        |text| parse_state_update(text.as_bytes()).is_ok(),
    );
}

#[test]
fn fuzz_zksync_calldata() {
    use zkreplay::cli::decode_zksync::decode_json;
    use zkreplay::rollup::zksync::calldata::decode_commit;
    use zkreplay::rollup::zksync::decode::BlobStore;
    let seeds = zksync_calldata();
    fuzz(
        "zksync commit calldata (ABI, pubdata, state diffs, as `decode zksync` runs them)",
        &seeds,
        budget(200),
        mutate_bytes,
        show_bytes,
        |calldata| match decode_commit(calldata) {
            Ok(call) => {
                decode_json(&call, &mut BlobStore::default()).is_ok_and(|(_, failed)| !failed)
            }
            Err(_) => false,
        },
    );
}

#[test]
fn fuzz_zksync_pubdata_and_fields() {
    use zkreplay::rollup::zksync::compression::StateDiffs;
    use zkreplay::rollup::zksync::da::{
        parse_boojum_field, parse_pre_boojum_initial, parse_pre_boojum_repeated,
        parse_source_field, parse_v26_field,
    };
    use zkreplay::rollup::zksync::pubdata::{Pubdata, Trailer};
    let mut seeds = zksync_pubdata();
    // The same pubdata as a 1.4.2 calldata field (source byte 0 ‖ pubdata ‖ blob commitment).
    let mut field = vec![0u8];
    field.extend_from_slice(&seeds[0]);
    field.extend_from_slice(&[0u8; 32]);
    seeds.push(field);
    fuzz(
        "zksync pubdata, DA fields, compressed state diffs",
        &seeds,
        budget(250),
        mutate_bytes,
        show_bytes,
        |bytes| {
            let accepted = [Trailer::None, Trailer::ZeroPadding]
                .into_iter()
                .any(|trailer| Pubdata::parse(bytes, trailer).is_ok());
            let _ = StateDiffs::decode(bytes);
            let _ = parse_boojum_field(bytes, Some(B256::ZERO));
            let _ = parse_source_field(bytes);
            let _ = parse_v26_field(bytes);
            let _ = parse_pre_boojum_initial(bytes);
            let _ = parse_pre_boojum_repeated(bytes);
            accepted
        },
    );
}

#[test]
fn fuzz_zksync_blobs() {
    use zkreplay::rollup::zksync::blob::{blob_to_pubdata, pubdata_to_blob};
    use zkreplay::rollup::zksync::pubdata::{Pubdata, Trailer};
    let pubdata = zksync_pubdata();
    let seeds = vec![pubdata_to_blob(&pubdata[0]).unwrap()];
    fuzz(
        "zksync blobs (FFT back to pubdata, then the pubdata parser)",
        &seeds,
        budget(12),
        |rng, seeds| {
            let mut blob = mutate_bytes(rng, seeds);
            if rng.random_bool(0.8) {
                blob.resize(131_072, 0);
            }
            blob
        },
        show_bytes,
        |blob| match blob_to_pubdata(blob) {
            Ok(pubdata) => Pubdata::parse(&pubdata, Trailer::ZeroPadding).is_ok(),
            Err(_) => false,
        },
    );
}

#[test]
fn fuzz_zksync_gateway_messages() {
    use zkreplay::rollup::zksync::gateway::{
        encode_relayed_pubdata, parse_relayed_batch_info, parse_relayed_pubdata,
    };
    // A settlement-layer message relaying the start of the real pubdata.
    let pubdata = zksync_pubdata();
    let seeds = vec![encode_relayed_pubdata(
        U256::from(324u32),
        U256::from(1u8),
        &pubdata[0][..2048],
    )];
    fuzz(
        "zksync gateway (settlement-layer) messages",
        &seeds,
        budget(2000),
        mutate_bytes,
        show_bytes,
        |message| {
            let relayed = parse_relayed_pubdata(message).is_ok();
            parse_relayed_batch_info(message).is_ok() || relayed
        },
    );
}

/// An L1 log as one byte string: `n_topics (1) ‖ topics (32 each) ‖ data`,
/// so byte mutations can change the topic count, the topics and the data.
fn pack_log(topics: &[B256], data: &[u8]) -> Vec<u8> {
    let mut out = vec![topics.len() as u8];
    for t in topics {
        out.extend_from_slice(t.as_slice());
    }
    out.extend_from_slice(data);
    out
}

fn unpack_log(bytes: &[u8]) -> (Vec<B256>, &[u8]) {
    let Some((&n, rest)) = bytes.split_first() else {
        return (Vec::new(), bytes);
    };
    let n = usize::from(n % 6).min(rest.len() / 32);
    let topics = rest[..n * 32]
        .chunks_exact(32)
        .map(B256::from_slice)
        .collect();
    (topics, &rest[n * 32..])
}

#[test]
fn fuzz_l1_event_logs() {
    use zkreplay::rollup::starknet::events::{decode_state_transition_fact, decode_state_update};
    use zkreplay::rollup::starknet::sharp::{decode_page_fact, decode_pages_hashes};
    use zkreplay::rollup::zksync::events::{parse_log, parse_verification};
    // Every log of mainnet block 19,299,001 (SHARP memory-page facts among them).
    let receipts = common::read_json(
        &common::fixtures().join("ethereum/mainnet-block-19299001/raw/receipts.json"),
    );
    let mut seeds = Vec::new();
    for receipt in receipts["result"].as_array().unwrap() {
        for log in receipt["logs"].as_array().unwrap() {
            let topics: Vec<B256> = log["topics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().parse().unwrap())
                .collect();
            seeds.push(pack_log(&topics, &hex_value(&log["data"])));
        }
    }
    fuzz(
        "L1 event logs (Starknet, SHARP, ZKsync decoders)",
        &seeds,
        budget(20000),
        |rng, seeds| {
            let mut log = mutate_bytes(rng, seeds);
            // Often aim the log at a decoder: a topic0 one of them knows.
            if rng.random_bool(0.5) && log.len() > 33 {
                let known = &seeds[rng.random_range(0..seeds.len())];
                if known.len() > 33 {
                    log[1..33].copy_from_slice(&known[1..33]);
                }
            }
            log
        },
        show_bytes,
        |bytes| {
            let (topics, data) = unpack_log(bytes);
            let a = decode_state_update(&topics, data).is_ok();
            let b = decode_state_transition_fact(&topics, data).is_ok();
            let c = decode_pages_hashes(&topics, data).is_ok();
            let d = decode_page_fact(&topics, data).is_ok();
            let e = matches!(parse_log(&topics, data), Ok(Some(_)));
            let f = matches!(parse_verification(&topics), Ok(Some(_)));
            a || b || c || d || e || f
        },
    );
}

#[test]
fn fuzz_chain_configs() {
    use zkreplay::chain::ChainConfig;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("chains");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    let seeds: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    fuzz(
        "chain configs (TOML)",
        &seeds,
        budget(1000),
        mutate_text,
        |t| t.clone(),
        |text| ChainConfig::parse(text).is_ok(),
    );
}

#[test]
fn fuzz_graphql_cursors_and_scalars() {
    use zkreplay::api::paging::decode_cursor;
    use zkreplay::api::scalars::{parse_felt, parse_hex_word};
    use zkreplay::api::{self, RollupHandle, RollupKind};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = common::sepolia_store(dir.path());
    let schema = api::build_schema(vec![RollupHandle::new(
        "starknet-sepolia",
        RollupKind::Starknet,
        store,
    )]);
    let cursor = |text: &str| hex::encode(text);
    let seeds: Vec<String> = vec![
        cursor("batch:3"),
        cursor("batch:18446744073709551615"),
        cursor("batch:0"),
        "0x49d36570d4e46f48e99674bd3fcc84644ddd6b96f7c741b1562b82f9e004dc7".into(),
        "0x800000000000011000000000000000000000000000000000000000000000000".into(),
        "7".into(),
        "ETH".into(),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    fuzz(
        "GraphQL cursors and scalars (parsers, and through the schema)",
        &seeds,
        budget(1000),
        |rng, seeds| {
            if rng.random_bool(0.3) {
                // A well-formed cursor around an extreme batch number.
                let n = [u64::MAX, u64::MAX - 1, 0, 1 << 63, rng.random()][rng.random_range(0..5)];
                return cursor(&format!("batch:{n}"));
            }
            mutate_text(rng, seeds)
        },
        |t| format!("{t:?}"),
        |text| {
            let cursor = decode_cursor(text).is_ok();
            let _ = parse_felt(text);
            let _ = parse_hex_word(text);
            // The cursor alone, so a valid one reaches the paging resolvers...
            let paging = r#"query($c: String) {
                rollup(name: "starknet-sepolia") {
                    batches(first: 2, after: $c) { edges { cursor } pageInfo { hasNextPage endCursor } }
                    findings(after: $c) { edges { cursor } }
                }
            }"#;
            let request = async_graphql::Request::new(paging).variables(
                async_graphql::Variables::from_json(serde_json::json!({ "c": text })),
            );
            let paged = runtime.block_on(schema.execute(request)).errors.is_empty();
            // ...and the text as every scalar of the state fields.
            let state = r#"query($a: Address!, $k: Word!) {
                rollup(name: "starknet-sepolia") {
                    storage(address: $a, key: $k, atBatch: 7)
                    proof(address: $a, key: $k, atBatch: 7) { ... on StarknetProof { value } }
                    balance(token: "ETH", account: $a, atBatch: 7)
                }
            }"#;
            let variables = serde_json::json!({ "a": text, "k": text });
            let request = async_graphql::Request::new(state)
                .variables(async_graphql::Variables::from_json(variables));
            let answered = runtime.block_on(schema.execute(request)).errors.is_empty();
            (cursor && paged) || answered
        },
    );
}

/// Seeds for the snapshot targets: a real snapshot, exported from the store
/// of Sepolia blocks 0-7 (real data): contract, storage and class records in
/// one chunk.
fn sepolia_snapshot() -> (
    String,
    Vec<Vec<u8>>,
    Vec<zkreplay::snapshot::manifest::ChunkInfo>,
) {
    use zkreplay::snapshot::{ExportOptions, export};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("starknet-sepolia");
    drop(common::sepolia_store(&data));
    let out = dir.path().join("snap");
    let options = ExportOptions::new(&data, "starknet-sepolia", &out);
    let manifest = export(&options).unwrap();
    let text = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    let chunks = manifest
        .chunks
        .iter()
        .map(|c| std::fs::read(out.join(&c.file)).unwrap())
        .collect();
    (text, chunks, manifest.chunks)
}

#[test]
fn fuzz_snapshot_manifests_and_era_headers() {
    use zkreplay::snapshot::SnapshotManifest;
    use zkreplay::snapshot::zksync_era::EraHeader;
    let (manifest, _, _) = sepolia_snapshot();
    // A zksync-era header of the shape Matter Labs' snapshot creator writes.
    let era_header = serde_json::json!({
        "version": 1,
        "l1BatchNumber": 12,
        "miniblockNumber": 100,
        "storageLogsChunks": [
            { "chunkId": 0, "filepath": "gs://bucket/snapshot_l1_batch_12_storage_logs_part_0000.proto.gzip" },
            { "chunkId": 1, "filepath": "snapshot_l1_batch_12_storage_logs_part_0001.proto.gzip" }
        ],
        "factoryDepsFilepath": "snapshot_l1_batch_12_factory_deps.proto.gzip",
        "lastL1BatchWithMetadata": { "metadata": {
            "root_hash": "0x1f1e0bd1e8b3c1b8e9c8ed1cbc1d1a3ec0d9ecbe2f3b0b1e31fe2a0d5b0e0f0a",
            "rollup_last_leaf_index": 257
        } }
    })
    .to_string();
    let seeds = vec![manifest, era_header];
    let dir = Path::new("/snapshot");
    fuzz(
        "snapshot manifests and zksync-era headers (JSON)",
        &seeds,
        budget(2000),
        mutate_text,
        |t| t.chars().take(4096).collect(),
        |text| {
            let manifest = SnapshotManifest::parse(text.as_bytes()).is_ok();
            let header = EraHeader::parse(text.as_bytes(), dir);
            if let Ok(header) = &header {
                // A header never names a file outside the snapshot directory.
                for (_, path) in &header.chunks {
                    assert_eq!(path.parent(), Some(dir), "{path:?}");
                }
            }
            manifest || header.is_ok()
        },
    );
}

#[test]
fn fuzz_snapshot_chunks() {
    use zkreplay::snapshot::chunk::read_records_from;
    use zkreplay::snapshot::export::starknet_record_len;
    let (_, chunks, infos) = sepolia_snapshot();
    // Half the mutants change the compressed bytes (zstd frames, window
    // sizes, checksums), half the record stream inside, recompressed.
    let plain: Vec<Vec<u8>> = chunks
        .iter()
        .map(|c| zstd::decode_all(c.as_slice()).unwrap())
        .collect();
    let cap = plain.iter().map(|p| p.len() as u64).max().unwrap() * 2;
    let mut seeds: Vec<(bool, Vec<u8>)> = chunks.into_iter().map(|c| (true, c)).collect();
    seeds.extend(plain.into_iter().map(|p| (false, p)));
    let leaves = infos[0].leaves;
    fuzz(
        "snapshot chunks (zstd frames and the record stream)",
        &seeds,
        budget(2000),
        |rng, seeds| {
            let (compressed, bytes) = &seeds[rng.random_range(0..seeds.len())];
            let mutated = mutate_bytes(rng, std::slice::from_ref(bytes));
            if *compressed {
                (true, mutated)
            } else {
                (true, zstd::encode_all(mutated.as_slice(), 1).unwrap())
            }
        },
        |(_, bytes)| show_bytes(bytes),
        |(_, bytes)| {
            let mut info = infos[0].clone();
            info.size = bytes.len() as u64;
            info.leaves = leaves;
            let mut seen = 0u64;
            read_records_from(
                bytes.as_slice(),
                &info,
                cap,
                starknet_record_len,
                |record| {
                    assert!(starknet_record_len(record[0]) == Some(record.len()));
                    seen += 1;
                    Ok(())
                },
            )
            .is_ok_and(|count| count == seen)
        },
    );
}

#[test]
fn fuzz_zksync_era_snapshot_protobuf() {
    use zkreplay::snapshot::zksync_era::{
        SnapshotFactoryDependencies, SnapshotStorageLog, SnapshotStorageLogsChunk, gunzip_capped,
    };
    // Storage logs of the real ZKsync Era genesis (Matter Labs' genesis
    // file), in both key forms the format allows, as protobuf, and gzipped.
    let genesis =
        common::read_json(&common::fixtures().join("zksync/genesis/InitialStateMainnet.json"));
    let mut hashed = Vec::new();
    let mut plain = Vec::new();
    for (i, log) in genesis["storage_logs"]
        .as_array()
        .unwrap()
        .iter()
        .take(64)
        .enumerate()
    {
        let word = |name: &str| hex_value(&log[name]);
        let (address, key, value) = (word("address"), word("key"), word("value"));
        let base = SnapshotStorageLog {
            account_address: None,
            storage_key: None,
            storage_value: Some(value),
            l1_batch_number_of_initial_write: Some(0),
            enumeration_index: Some(i as u64 + 1),
            hashed_key: Some(word("hashed_key")),
        };
        plain.push(SnapshotStorageLog {
            account_address: Some(address),
            storage_key: Some(key),
            hashed_key: None,
            ..base.clone()
        });
        hashed.push(base);
    }
    let mut deps = Vec::new();
    let mut dep = Vec::new();
    crate::snapshot::pb::bytes_field(&mut dep, 1, &[0u8; 64]);
    crate::snapshot::pb::bytes_field(&mut dep, 2, &[7u8; 32]);
    crate::snapshot::pb::bytes_field(&mut deps, 1, &dep);
    let mut seeds = vec![
        crate::snapshot::encode_chunk(&hashed),
        crate::snapshot::encode_chunk(&plain),
        deps,
    ];
    seeds.extend(seeds.clone().iter().map(|s| {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut encoder, s).unwrap();
        encoder.finish().unwrap()
    }));
    fuzz(
        "zksync-era snapshot files (gzip, storage-log and factory-dep protobuf)",
        &seeds,
        budget(2000),
        mutate_bytes,
        show_bytes,
        |bytes| {
            let unzipped = gunzip_capped(bytes.as_slice(), 1 << 20, "fuzz").ok();
            let bytes = unzipped.as_deref().unwrap_or(bytes);
            let _ = SnapshotFactoryDependencies::decode(bytes);
            match SnapshotStorageLogsChunk::decode(bytes) {
                Ok(chunk) => {
                    let leaves = chunk
                        .storage_logs
                        .iter()
                        .filter(|l| l.leaf().is_ok())
                        .count();
                    leaves > 0
                }
                Err(_) => false,
            }
        },
    );
}

/// The harness itself: a decoder that panics on some mutants is reported,
/// with the panic message and the input.
#[test]
fn harness_reports_a_panicking_decoder() {
    let outcome = catch_unwind(|| {
        fuzz(
            "self-test",
            &[vec![0u8; 64]],
            2000,
            mutate_bytes,
            show_bytes,
            |bytes| {
                assert!(bytes.len() <= 64, "input grew to {} bytes", bytes.len());
                true
            },
        )
    });
    let message = outcome.expect_err("the harness fails on a panic");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(text.contains("input grew to"), "{text}");
    assert!(text.contains("input: 0x"), "{text}");
}

// ---------------------------------------------------------------- regressions
//
// Inputs the fuzzers (or issue 16) found to panic, each now a typed error.

/// Issue 16: `indexRepeatedStorageChanges` near 2^64 in a real commit made
/// `decode zksync` add with overflow; it is now `IndexOverflow`.
#[test]
fn regression_zksync_index_near_u64_max() {
    use zkreplay::cli::decode_zksync::decode_json;
    use zkreplay::rollup::zksync::calldata::decode_commit;
    use zkreplay::rollup::zksync::decode::BlobStore;
    let calldata = zksync_calldata();
    let mut call = decode_commit(&calldata[1]).unwrap();
    call.previous.index_repeated_storage_changes = u64::MAX - 1;
    let err = decode_json(&call, &mut BlobStore::default()).unwrap_err();
    assert!(
        err.to_string()
            .contains("overflow the 64-bit enumeration index"),
        "{err}"
    );
}
