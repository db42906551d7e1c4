//! DA layout of v0.10 (calldata pages only):
//!
//! ```text
//! deployments_len, (address, class_hash) * (deployments_len / 2),
//! n_contracts, (address, nonce << 64 | n_updates, (key, value) * n_updates) * n_contracts
//! ```
//!
//! The nonce is written for every contract listed. The DA has no count after
//! the contracts, so it must fill the pages exactly.

use alloy_primitives::U256;
use starknet_types_core::felt::Felt;

use super::layout_v0_11::{contract_entry, finish, read_pairs};
use super::{DaContract, DaError, DaStateDiff, Reader, felt_to_u256, u256_to_felt};

/// Parses the layout from the start of `felts`; returns the diff and the felts used.
pub fn parse(felts: &[Felt]) -> Result<(DaStateDiff, usize), DaError> {
    let mut reader = Reader::new(felts);
    let deployments_len = reader.count("deployments segment length", 1)?;
    if deployments_len % 2 != 0 {
        return Err(DaError::BadPacking(format!(
            "deployments segment of odd length {deployments_len}"
        )));
    }
    let deployments = read_pairs(&mut reader, deployments_len / 2, "deployment")?;
    let mut contracts: Vec<DaContract> = deployments
        .into_iter()
        .map(|(address, class_hash)| DaContract {
            address,
            class_hash: Some(class_hash),
            ..Default::default()
        })
        .collect();
    let n_contracts = reader.count("n_contracts", 2)?;
    for _ in 0..n_contracts {
        let address = reader.next("contract address")?;
        let word = felt_to_u256(&reader.next("contract word")?);
        let mask = U256::from(u64::MAX);
        let nonce = word.wrapping_shr(64);
        if nonce > mask {
            return Err(DaError::BadPacking(format!(
                "contract word {word:#x}: nonce exceeds 64 bits"
            )));
        }
        let nonce = Some(u256_to_felt(&nonce));
        contracts.push(contract_entry(
            &mut reader,
            address,
            nonce,
            None,
            &(word & mask),
        )?);
    }
    finish(reader, contracts, false)
}
