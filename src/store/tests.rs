use super::*;

#[test]
fn refuses_a_store_of_another_chain() {
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), "starknet-sepolia").unwrap());
    let err = Store::open(dir.path(), "zksync-era-mainnet")
        .err()
        .expect("must refuse");
    assert!(matches!(err, StoreError::ChainMismatch { .. }), "{err}");
    let (_, manifest) = Store::open_existing(dir.path()).unwrap();
    assert_eq!(manifest.chain, "starknet-sepolia");
}

#[test]
fn refuses_another_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "c").unwrap();
    let mut batch = StoreBatch::default();
    let manifest = Manifest {
        format_version: FORMAT_VERSION + 1,
        chain: "c".into(),
        rollup: None,
    };
    batch.put(
        Column::Meta,
        keys::MANIFEST,
        serde_json::to_vec(&manifest).unwrap(),
    );
    store.commit(batch).unwrap();
    drop(store);
    assert!(matches!(
        Store::open(dir.path(), "c"),
        Err(StoreError::FormatMismatch { .. })
    ));
}

#[test]
fn seeks_the_latest_entry_at_or_before_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), "c").unwrap();
    let mut batch = StoreBatch::default();
    for n in [2u64, 5, 9] {
        batch.put(
            Column::History,
            [b"p".as_slice(), &n.to_be_bytes()].concat(),
            n.to_be_bytes(),
        );
    }
    store.commit(batch).unwrap();
    let at = |n: u64| {
        store
            .get_at_or_before(
                Column::History,
                b"p",
                &[b"p".as_slice(), &n.to_be_bytes()].concat(),
            )
            .unwrap()
            .map(|(_, v)| u64::from_be_bytes(v.try_into().unwrap()))
    };
    assert_eq!(at(1), None);
    assert_eq!(at(5), Some(5));
    assert_eq!(at(8), Some(5));
    assert_eq!(at(100), Some(9));
}
