//! `commitBlocks` (`0x0c4dd810`), before Boojum: the writes are explicit,
//! uncompressed lists (`initialStorageChanges`, `repeatedStorageChanges`).

use alloy_sol_types::SolCall;

use super::{CalldataError, CommitBatch, CommitCall, CommitVersion};
use crate::rollup::zksync::abi::{CommitBlockInfo, StoredBatchInfo, commitBlocksCall};
use crate::rollup::zksync::da::{self, DaField, DaInput, PreBoojumData};

/// Selector of `commitBlocks` (before Boojum).
pub const SELECTOR: [u8; 4] = [0x0c, 0x4d, 0xd8, 0x10];

/// Decodes pre-Boojum `commitBlocks` calldata (selector included).
pub fn decode(input: &[u8]) -> Result<CommitCall, CalldataError> {
    let call = commitBlocksCall::abi_decode(input)?;
    let previous = (&call._lastCommittedBlockData).into();
    let batches = call
        ._newBlocksData
        .iter()
        .map(|b| {
            let wrap = |source| CalldataError::Da {
                batch: b.blockNumber,
                source,
            };
            let initial = da::parse_pre_boojum_initial(&b.initialStorageChanges).map_err(wrap)?;
            let repeated =
                da::parse_pre_boojum_repeated(&b.repeatedStorageChanges).map_err(wrap)?;
            let l2_logs = da::parse_list(&b.l2Logs, crate::rollup::zksync::L2_LOG_SIZE, "l2 logs")
                .map_err(wrap)?
                .len();
            Ok(CommitBatch {
                batch_number: b.blockNumber,
                timestamp: b.timestamp,
                index_repeated_storage_changes: b.indexRepeatedStorageChanges,
                new_state_root: b.newStateRoot,
                number_of_layer1_txs: b.numberOfLayer1Txs,
                priority_operations_hash: b.priorityOperationsHash,
                bootloader_heap_initial_contents_hash: b.l2LogsTreeRoot,
                events_queue_state_hash: Default::default(),
                system_logs: vec![],
                da: DaField {
                    header: None,
                    input: DaInput::PreBoojum(PreBoojumData {
                        initial,
                        repeated,
                        l2_logs_raw: b.l2Logs.to_vec(),
                        l2_logs,
                        messages: b
                            .l2ArbitraryLengthMessages
                            .iter()
                            .map(|m| m.to_vec())
                            .collect(),
                        factory_deps: b.factoryDeps.iter().map(|m| m.to_vec()).collect(),
                    }),
                },
            })
        })
        .collect::<Result<Vec<_>, CalldataError>>()?;
    Ok(CommitCall {
        version: CommitVersion::PreBoojum,
        chain_id: None,
        chain_address: None,
        process_range: None,
        previous,
        batches,
    })
}

/// Encodes a pre-Boojum call (the inverse of [`decode`]).
pub fn encode(call: &CommitCall) -> Vec<u8> {
    let previous = StoredBatchInfo::from(&call.previous);
    let blocks = call
        .batches
        .iter()
        .map(|b| {
            let data = match &b.da.input {
                DaInput::PreBoojum(d) => d.clone(),
                _ => PreBoojumData {
                    initial: vec![],
                    repeated: vec![],
                    l2_logs_raw: vec![0; 4],
                    l2_logs: 0,
                    messages: vec![],
                    factory_deps: vec![],
                },
            };
            let mut initial = (data.initial.len() as u32).to_be_bytes().to_vec();
            for (k, v) in &data.initial {
                initial.extend_from_slice(k.as_slice());
                initial.extend_from_slice(v.as_slice());
            }
            let mut repeated = (data.repeated.len() as u32).to_be_bytes().to_vec();
            for (i, v) in &data.repeated {
                repeated.extend_from_slice(&i.to_be_bytes());
                repeated.extend_from_slice(v.as_slice());
            }
            CommitBlockInfo {
                blockNumber: b.batch_number,
                timestamp: b.timestamp,
                indexRepeatedStorageChanges: b.index_repeated_storage_changes,
                newStateRoot: b.new_state_root,
                numberOfLayer1Txs: b.number_of_layer1_txs,
                l2LogsTreeRoot: b.bootloader_heap_initial_contents_hash,
                priorityOperationsHash: b.priority_operations_hash,
                initialStorageChanges: initial.into(),
                repeatedStorageChanges: repeated.into(),
                l2Logs: data.l2_logs_raw.clone().into(),
                l2ArbitraryLengthMessages: data.messages.iter().map(|m| m.clone().into()).collect(),
                factoryDeps: data.factory_deps.iter().map(|m| m.clone().into()).collect(),
            }
        })
        .collect();
    commitBlocksCall {
        _lastCommittedBlockData: previous,
        _newBlocksData: blocks,
    }
    .abi_encode()
}

#[cfg(test)]
mod tests {
    #[test]
    fn selector_matches_the_signature() {
        use alloy_sol_types::SolCall;
        assert_eq!(super::commitBlocksCall::SELECTOR, super::SELECTOR);
    }
}
