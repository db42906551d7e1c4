//! ZKsync history in the shipped chain configs: for every era boundary (one
//! L1 block before it, and the block itself) the config and the dispatcher
//! give the commit decoder and settlement layer the public record names.
//!
//! The expected boundaries, selectors and addresses below are the public
//! ones (issue 13, each cited in the config files), retyped here on purpose:
//! the test fails when a config drifts from them. Selectors are checked as
//! keccak of the function signatures l2beat tracks, not against this crate's
//! constants alone.

use std::path::PathBuf;

use alloy_primitives::{Address, address, keccak256};
use zkreplay::chain::ChainConfig;
use zkreplay::rollup::zksync::calldata::{CommitVersion, decode_commit};
use zkreplay::rollup::zksync::history::{DaLayout, L1Point, SettlementKind};

fn config(name: &str) -> ChainConfig {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("chains/{name}.toml"));
    ChainConfig::load(&path).unwrap()
}

fn selector(signature: &str) -> [u8; 4] {
    keccak256(signature.as_bytes())[..4].try_into().unwrap()
}

/// Boundaries known only by their block's timestamp (l2beat zksync2.ts), and
/// the first v29 Gateway commit's timestamp (used with the blocks around the
/// exact v29 boundary 23,633,924 as a plausible timestamp, not a claim that
/// it is that block's).
const V24_TS: u64 = 1_717_681_823;
const V26_TS: u64 = 1_741_792_103;
const V29_TS: u64 = 1_761_146_555;
const BACK_TS: u64 = 1_769_897_051;

const STORED: &str = "(uint64,bytes32,uint64,uint256,bytes32,bytes32,uint256,bytes32)";
const COMMIT: &str = "(uint64,uint64,uint64,bytes32,uint256,bytes32,bytes32,bytes32,bytes,bytes)";

/// (version, selector from the public function signature, the selector as the issue writes it).
fn selectors() -> Vec<(CommitVersion, [u8; 4], &'static str)> {
    vec![
        (
            CommitVersion::PreBoojum,
            // CommitBlockInfo before Boojum: explicit write lists, logs, messages, deps.
            selector(&format!(
                "commitBlocks({STORED},(uint64,uint64,uint64,bytes32,uint256,bytes32,bytes32,bytes,bytes,bytes,bytes[],bytes[])[])"
            )),
            "0c4dd810",
        ),
        (
            CommitVersion::Boojum,
            selector(&format!("commitBatches({STORED},{COMMIT}[])")),
            "701f58c5",
        ),
        (
            CommitVersion::V24,
            selector(&format!(
                "commitBatchesSharedBridge(uint256,{STORED},{COMMIT}[])"
            )),
            "6edd4f12",
        ),
        (
            CommitVersion::V26,
            selector("commitBatchesSharedBridge(uint256,uint256,uint256,bytes)"),
            "98f81962",
        ),
        (
            CommitVersion::V29,
            selector("commitBatchesSharedBridge(address,uint256,uint256,bytes)"),
            "0db9eb87",
        ),
    ]
}

#[test]
fn commit_selectors_are_the_published_signatures() {
    for (version, from_signature, published) in selectors() {
        assert_eq!(hex::encode(from_signature), published, "{version:?}");
        assert_eq!(version.selector(), from_signature, "{version:?}");
        // The dispatcher routes the selector to this version's decoder: with a
        // truncated body each decoder fails in ABI decoding, never as unknown.
        let err = decode_commit(&from_signature).unwrap_err().to_string();
        assert!(
            !err.contains("unknown commit selector"),
            "{version:?}: {err}"
        );
    }
}

/// One expectation: at this L1 point, this era (commit version, DA layout).
struct At {
    point: L1Point,
    era: &'static str,
    commit: CommitVersion,
    da: DaLayout,
}

fn at(point: L1Point, era: &'static str, commit: CommitVersion, da: DaLayout) -> At {
    At {
        point,
        era,
        commit,
        da,
    }
}

#[test]
fn era_mainnet_every_boundary() {
    use CommitVersion::*;
    use DaLayout::*;
    let chain = config("zksync-era-mainnet");
    let zk = chain.zksync.as_ref().unwrap();
    let history = &zk.history;
    // Past 19,412,473 the next boundaries are block timestamps, so points
    // there carry one: `before_v24` is any timestamp before the v24 boundary.
    let before_v24 = V24_TS - 1;
    // A block between the exact-block boundaries, used with timestamps around
    // the timestamp-only boundaries.
    let mid_2024 = 20_000_000;
    let mid_2025 = 22_000_000;
    let cases = [
        at(
            L1Point::block(16_627_460),
            "pre-boojum",
            PreBoojum,
            PreBoojumLists,
        ),
        at(
            L1Point::block(18_715_402),
            "pre-boojum",
            PreBoojum,
            PreBoojumLists,
        ),
        at(L1Point::block(18_715_403), "boojum", Boojum, Inline),
        at(L1Point::block(19_412_472), "boojum", Boojum, Inline),
        at(
            L1Point::at(19_412_473, before_v24),
            "v21-source-byte",
            Boojum,
            SourceByte,
        ),
        // 2024-06-06 13:50:23 UTC: the first 0x6edd4f12 commit's block timestamp.
        at(
            L1Point::at(mid_2024, V24_TS - 12),
            "v21-source-byte",
            Boojum,
            SourceByte,
        ),
        at(
            L1Point::at(mid_2024, V24_TS),
            "v24-shared-bridge",
            V24,
            SourceByte,
        ),
        // 2025-03-12 15:08:23 UTC: the first 0x98f81962 commit's block timestamp.
        at(
            L1Point::at(mid_2025, V26_TS - 12),
            "v24-shared-bridge",
            V24,
            SourceByte,
        ),
        at(L1Point::at(mid_2025, V26_TS), "v26", V26, V26Header),
        at(L1Point::at(23_633_923, V29_TS - 12), "v26", V26, V26Header),
        at(L1Point::at(23_633_924, V29_TS), "v29", V29, V26Header),
    ];
    for case in &cases {
        let era = history.era_at(case.point).unwrap();
        assert_eq!(era.name, case.era, "{:?}", case.point);
        assert_eq!(era.commit, case.commit, "{:?}", case.point);
        assert_eq!(era.da, case.da, "{:?}", case.point);
        assert_eq!(
            era.nine_field_stored_batch_info,
            case.commit == V29,
            "{:?}",
            case.point
        );
    }
    assert!(history.era_at(L1Point::block(16_627_459)).is_err());
    // A timestamp boundary cannot be placed without the block's timestamp.
    assert!(history.era_at(L1Point::block(mid_2024)).is_err());
    // Past the last exact-block boundary no timestamp is needed.
    assert_eq!(
        history.era_at(L1Point::block(23_700_000)).unwrap().name,
        "v29"
    );
}

#[test]
fn era_mainnet_settlement_through_the_gateway_window() {
    let chain = config("zksync-era-mainnet");
    let history = &chain.zksync.as_ref().unwrap().history;
    let gateway_diamond_of_era = address!("CE7CBd23193d029410b40e0fD8a79a5121f9250C");
    let layer = |p: L1Point| history.settlement_at(p).unwrap();
    assert_eq!(layer(L1Point::block(16_627_460)).layer, SettlementKind::L1);
    assert_eq!(layer(L1Point::block(23_016_894)).layer, SettlementKind::L1);
    let window = layer(L1Point::at(23_016_895, BACK_TS - 1));
    assert_eq!(window.layer, SettlementKind::ZkChain);
    assert_eq!(window.chain.as_deref(), Some("zksync-gateway-mainnet"));
    assert_eq!(window.diamond_on_layer, Some(gateway_diamond_of_era));
    // Inside the window, across the v29 upgrade.
    assert_eq!(
        layer(L1Point::at(23_633_924, V29_TS)).layer,
        SettlementKind::ZkChain
    );
    // The migration back: the block with timestamp 1769897051 (2026-01-31 22:04:11 UTC).
    let late = 24_300_000;
    assert_eq!(
        layer(L1Point::at(late, BACK_TS - 12)).layer,
        SettlementKind::ZkChain
    );
    let back = layer(L1Point::at(late, BACK_TS));
    assert_eq!(back.layer, SettlementKind::L1);
    assert_eq!(back.chain, None);
    assert_eq!(
        history.settlement_chains(),
        vec![PathBuf::from("zksync-gateway-mainnet.toml")]
    );
    // The Gateway's config is loaded beside Era's, and the follower reads the
    // Gateway diamond's L1 logs besides Era's own.
    let gateway = window
        .settlement_config
        .as_deref()
        .expect("Gateway config loaded");
    assert_eq!(
        gateway.diamond_proxy,
        address!("6E96D1172a6593D5027Af3c2664C5112Ca75F2B9")
    );
    assert_eq!(
        gateway.relayed_da_validator,
        Some(address!("595b8C88B9e5f3a4c596C3e81BE6e11D53Bb9200"))
    );
    let engine = zkreplay::follow::zksync::ZksyncEngine::new(&chain).unwrap();
    use zkreplay::follow::engine::RollupEngine;
    assert_eq!(
        engine.events().addresses,
        [
            address!("32400084C286CF3E17e7B677ea9583e60a000324"),
            gateway.diamond_proxy
        ]
    );
}

#[test]
fn gateway_mainnet_config() {
    let chain = config("zksync-gateway-mainnet");
    let zk = chain.zksync.as_ref().unwrap();
    assert_eq!(zk.chain_id, Some(9075));
    assert_eq!(
        zk.diamond_proxy,
        address!("6E96D1172a6593D5027Af3c2664C5112Ca75F2B9")
    );
    assert_eq!(
        zk.relayed_da_validator,
        Some(address!("595b8C88B9e5f3a4c596C3e81BE6e11D53Bb9200"))
    );
    let h = &zk.history;
    let v26 = h.era_at(L1Point::block(23_016_895)).unwrap();
    assert_eq!(v26.commit.selector(), [0x98, 0xf8, 0x19, 0x62]);
    let before = h.era_at(L1Point::block(23_633_923)).unwrap();
    assert_eq!(before.commit, CommitVersion::V26);
    assert!(!before.nine_field_stored_batch_info);
    let v29 = h.era_at(L1Point::block(23_633_924)).unwrap();
    assert_eq!(v29.commit.selector(), [0x0d, 0xb9, 0xeb, 0x87]);
    assert!(v29.nine_field_stored_batch_info);
    let timelock = |b: u64| -> Address {
        h.validator_timelock_at(L1Point::block(b))
            .unwrap()
            .unwrap()
            .address
    };
    assert_eq!(
        timelock(23_633_923),
        address!("8c0Bfc04AdA21fd496c55B8C50331f904306F564")
    );
    assert_eq!(
        timelock(23_633_924),
        address!("2e5110cF18678Ec99818bFAa849B8C881744b776")
    );
    assert_eq!(
        h.settlement_at(L1Point::block(23_016_895)).unwrap().layer,
        SettlementKind::L1
    );
}

#[test]
fn era_sepolia_every_boundary() {
    let chain = config("zksync-era-sepolia");
    let h = &chain.zksync.as_ref().unwrap().history;
    let era = |b: u64| h.era_at(L1Point::block(b)).unwrap();
    assert_eq!(era(4_800_000).commit, CommitVersion::Boojum);
    assert_eq!(era(4_800_000).da, DaLayout::Inline);
    assert_eq!(era(5_435_345).da, DaLayout::Inline);
    assert_eq!(era(5_435_346).da, DaLayout::SourceByte);
    assert_eq!(era(5_435_346).commit, CommitVersion::Boojum);
    assert!(h.era_at(L1Point::block(4_799_999)).is_err());
    assert_eq!(
        h.settlement_at(L1Point::block(5_435_346)).unwrap().layer,
        SettlementKind::L1
    );
}
