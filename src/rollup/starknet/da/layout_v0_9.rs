//! DA layout of v0.9 and earlier (calldata pages only):
//!
//! ```text
//! deployments_len,
//! (address, class_hash, calldata_len, calldata * calldata_len) ... filling deployments_len felts,
//! n_contracts, (address, n_updates, (key, value) * n_updates) * n_contracts
//! ```
//!
//! There are no nonces and no declared classes. The constructor calldata of a
//! deployment is not state and is skipped.

use starknet_types_core::felt::Felt;

use super::layout_v0_11::{contract_entry, finish};
use super::{DaContract, DaError, DaStateDiff, Reader, felt_to_u256};

/// Parses the layout from the start of `felts`; returns the diff and the felts used.
pub fn parse(felts: &[Felt]) -> Result<(DaStateDiff, usize), DaError> {
    let mut reader = Reader::new(felts);
    let deployments_len = reader.count("deployments segment length", 1)?;
    let segment = reader.take(deployments_len, "deployments segment")?;
    let mut contracts = Vec::new();
    let mut deployments = Reader::new(segment);
    while deployments.remaining() > 0 {
        let address = deployments.next("deployment address")?;
        let class_hash = deployments.next("deployment class hash")?;
        let calldata_len = deployments.count("constructor calldata length", 1)?;
        deployments.take(calldata_len, "constructor calldata")?;
        contracts.push(DaContract {
            address,
            class_hash: Some(class_hash),
            ..Default::default()
        });
    }
    let n_contracts = reader.count("n_contracts", 2)?;
    for _ in 0..n_contracts {
        let address = reader.next("contract address")?;
        let n_updates = felt_to_u256(&reader.next("n_updates")?);
        contracts.push(contract_entry(
            &mut reader,
            address,
            None,
            None,
            &n_updates,
        )?);
    }
    finish(reader, contracts, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_calldata_is_skipped() {
        let f = |v: u64| Felt::from(v);
        let felts = [
            f(5),
            f(0xa),
            f(0xc),
            f(2),
            f(1),
            f(2),
            f(1),
            f(0xa),
            f(1),
            f(3),
            f(4),
        ];
        let (diff, used) = parse(&felts).unwrap();
        assert_eq!(used, felts.len());
        assert_eq!(diff.contracts.len(), 2);
        assert_eq!(diff.contracts[0].class_hash, Some(f(0xc)));
        assert_eq!(diff.contracts[1].storage, vec![(f(3), f(4))]);
        // A deployment header cut short inside the segment.
        assert!(matches!(
            parse(&[f(2), f(0xa), f(0xc), f(0)]),
            Err(DaError::Truncated { .. })
        ));
    }
}
