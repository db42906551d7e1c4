//! Proofs of L1 answers against a block header, with alloy's consensus types
//! and Merkle-Patricia roots (alloy-trie, through `alloy_consensus::proofs`).
//!
//! A node can answer anything, but it cannot find other contents that hash to
//! the same header. So a header is accepted only when its RLP hashes to a block
//! hash already trusted, and a block's transactions and receipts only when
//! their ordered tries hash to the header's `transactionsRoot` and
//! `receiptsRoot`. Logs, transactions and their status are then read from those
//! proved lists, never from the node's own claims (its `hash`, `blockHash`,
//! `logIndex` and `status` fields are ignored).

use alloy_consensus::{
    Header, ReceiptEnvelope, Signed, Transaction as _, TxEip4844Variant, TxEnvelope, proofs,
};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, B256, Bloom, BloomInput, keccak256};

use super::{L1Log, L1Transaction, LogFilter, RawBlock};

/// A block whose header, transactions and receipts are proved against its hash.
#[derive(Clone, Debug)]
pub struct VerifiedBlock {
    header: Header,
    hash: B256,
    transactions: Vec<TxEnvelope>,
    /// keccak of each transaction's EIP-2718 encoding, in block order.
    tx_hashes: Vec<B256>,
    receipts: Vec<ReceiptEnvelope>,
}

impl VerifiedBlock {
    /// Proves a block served by a node: its header hashes to `hash`, its
    /// transactions to `transactionsRoot` and `receipts` to `receiptsRoot`.
    pub fn verify(
        raw: RawBlock,
        hash: B256,
        receipts: Vec<ReceiptEnvelope>,
    ) -> Result<Self, VerifyError> {
        let RawBlock {
            header,
            transactions,
        } = raw;
        verify_header(&header, hash)?;
        let number = header.number;
        // Some nodes (anvil) serve blob transactions with their sidecars, and
        // root them that way too; keep what was served only in that case.
        let served = transactions
            .iter()
            .any(has_sidecar)
            .then(|| transactions.clone());
        let transactions: Vec<TxEnvelope> = transactions.into_iter().map(consensus_form).collect();
        let mut computed = proofs::calculate_transaction_root(&transactions);
        if computed != header.transactions_root
            && let Some(served) = &served
        {
            // Sound too: the sidecar wraps the signed transaction, so this
            // root binds the same consensus fields.
            computed = proofs::calculate_transaction_root(served);
        }
        if computed != header.transactions_root {
            return Err(VerifyError::TransactionsRoot {
                number,
                header_root: header.transactions_root,
                computed,
            });
        }
        if receipts.len() != transactions.len() {
            return Err(VerifyError::ReceiptCount {
                number,
                transactions: transactions.len(),
                receipts: receipts.len(),
            });
        }
        let computed = proofs::calculate_receipt_root(&receipts);
        if computed != header.receipts_root {
            return Err(VerifyError::ReceiptsRoot {
                number,
                header_root: header.receipts_root,
                computed,
            });
        }
        let tx_hashes = transactions
            .iter()
            .map(|tx| keccak256(tx.encoded_2718()))
            .collect();
        Ok(Self {
            header,
            hash,
            transactions,
            tx_hashes,
            receipts,
        })
    }

    /// The verified consensus header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The block hash, computed from the header.
    pub fn hash(&self) -> B256 {
        self.hash
    }

    /// The block number.
    pub fn number(&self) -> u64 {
        self.header.number
    }

    /// The proved transaction hashes, in block order.
    pub fn transaction_hashes(&self) -> &[B256] {
        &self.tx_hashes
    }

    /// Every log of the block, numbered as the node numbers them (block-wide index).
    pub fn logs(&self) -> impl Iterator<Item = L1Log> + '_ {
        self.receipts
            .iter()
            .zip(&self.tx_hashes)
            .flat_map(|(receipt, tx)| receipt.logs().iter().map(move |log| (tx, log)))
            .enumerate()
            .map(|(index, (tx, log))| L1Log {
                address: log.address,
                topics: log.data.topics().to_vec(),
                data: log.data.data.clone(),
                block_number: self.header.number,
                block_hash: self.hash,
                transaction_hash: *tx,
                log_index: index as u64,
                removed: false,
            })
    }

    /// The block's logs that `filter` selects (its block range is not looked at).
    pub fn matching_logs(&self, filter: &LogFilter) -> Vec<L1Log> {
        self.logs().filter(|log| log_matches(log, filter)).collect()
    }

    /// Checks the logs a node answered for this block against the proved ones
    /// and returns the proved ones: every claimed log must be the proved log
    /// at its index, and no proved log matching `filter` may be missing.
    pub fn prove_logs(
        &self,
        claimed: &[&L1Log],
        filter: &LogFilter,
    ) -> Result<Vec<L1Log>, VerifyError> {
        let proved = self.matching_logs(filter);
        for log in claimed {
            let forged = |detail: &str| VerifyError::ForgedLog {
                number: self.header.number,
                log_index: log.log_index,
                detail: detail.to_string(),
            };
            let Some(real) = proved.iter().find(|p| p.log_index == log.log_index) else {
                return Err(forged("no matching log at that index in the receipts"));
            };
            let differs = if real.address != log.address {
                Some("address")
            } else if real.topics != log.topics {
                Some("topic list")
            } else if real.data != log.data {
                Some("data")
            } else if real.transaction_hash != log.transaction_hash {
                Some("transaction hash")
            } else if real.block_hash != log.block_hash {
                Some("block hash")
            } else {
                None
            };
            if let Some(field) = differs {
                return Err(forged(&format!("its {field} differs from the receipt's")));
            }
        }
        if let Some(withheld) = proved
            .iter()
            .find(|p| !claimed.iter().any(|c| c.log_index == p.log_index))
        {
            return Err(VerifyError::WithheldLog {
                number: self.header.number,
                log_index: withheld.log_index,
            });
        }
        Ok(proved)
    }

    /// A transaction of this block, accepted only if it succeeded and, when
    /// `recipients` is not empty, called one of them: sent to it, or (through
    /// a forwarder, as ZKsync's `ValidatorTimelock` forwards `commitBatches`
    /// to the diamond proxy) made it emit a log, which its proved receipt shows.
    pub fn transaction(
        &self,
        hash: B256,
        recipients: &[Address],
    ) -> Result<L1Transaction, VerifyError> {
        let number = self.header.number;
        let index = self
            .tx_hashes
            .iter()
            .position(|h| *h == hash)
            .ok_or(VerifyError::TransactionNotInBlock { hash, number })?;
        if !self.receipts[index].status() {
            return Err(VerifyError::TransactionFailed { hash, number });
        }
        let tx = &self.transactions[index];
        let to = tx.to();
        let called = to.is_some_and(|to| recipients.contains(&to))
            || self.receipts[index]
                .logs()
                .iter()
                .any(|log| recipients.contains(&log.address));
        if !recipients.is_empty() && !called {
            return Err(VerifyError::UnexpectedRecipient { hash, to });
        }
        Ok(L1Transaction {
            hash,
            to,
            input: tx.input().clone(),
            blob_versioned_hashes: tx
                .blob_versioned_hashes()
                .map(<[B256]>::to_vec)
                .unwrap_or_default(),
            block_number: Some(number),
            block_hash: Some(self.hash),
        })
    }

    /// Bytes of the proved data as RLP (header, transactions, receipts): what a
    /// verified block costs at least to transfer.
    pub fn encoded_len(&self) -> usize {
        alloy_rlp::Encodable::length(&self.header)
            + self
                .transactions
                .iter()
                .map(Encodable2718::encode_2718_len)
                .sum::<usize>()
            + self
                .receipts
                .iter()
                .map(Encodable2718::encode_2718_len)
                .sum::<usize>()
    }
}

impl RawBlock {
    /// The consensus parts of a JSON-RPC block (`eth_getBlockBy*` with full
    /// transactions); `None` when it carries only transaction hashes.
    pub fn from_rpc(block: alloy_rpc_types_eth::Block) -> Option<Self> {
        let alloy_rpc_types_eth::BlockTransactions::Full(transactions) = block.transactions else {
            return None;
        };
        Some(Self {
            header: block.header.inner,
            transactions: transactions.into_iter().map(|tx| tx.into_inner()).collect(),
        })
    }
}

/// The consensus receipt of a JSON-RPC receipt (its claims about hashes,
/// indexes and gas price are dropped).
pub fn receipt_from_rpc(receipt: alloy_rpc_types_eth::TransactionReceipt) -> ReceiptEnvelope {
    receipt.into_inner().into_primitives_receipt()
}

/// Whether `tx` is a blob transaction carrying its sidecar (network form).
fn has_sidecar(tx: &TxEnvelope) -> bool {
    matches!(tx, TxEnvelope::Eip4844(signed) if has_sidecar_variant(signed.tx()))
}

fn has_sidecar_variant(tx: &TxEip4844Variant) -> bool {
    matches!(tx, TxEip4844Variant::TxEip4844WithSidecar(_))
}

/// A transaction as a block commits to it and as its hash is taken: a blob
/// transaction without its sidecar (EIP-4844: the sidecar is not part of the
/// transaction's consensus encoding).
fn consensus_form(tx: TxEnvelope) -> TxEnvelope {
    match tx {
        TxEnvelope::Eip4844(signed) if has_sidecar_variant(signed.tx()) => {
            let (variant, signature, _) = signed.into_parts();
            TxEnvelope::Eip4844(Signed::new_unhashed(variant.drop_sidecar(), signature))
        }
        other => other,
    }
}

/// Checks that `header` hashes (keccak of its RLP) to `expected`.
pub fn verify_header(header: &Header, expected: B256) -> Result<(), VerifyError> {
    let computed = header.hash_slow();
    if computed != expected {
        return Err(VerifyError::HeaderHash {
            number: header.number,
            expected,
            computed,
        });
    }
    Ok(())
}

/// Whether a block with this `logsBloom` may hold a log `filter` selects. A
/// `false` is a proof of absence (the bloom is bound by the header hash); a
/// `true` may be a false positive.
pub fn bloom_may_match(bloom: &Bloom, filter: &LogFilter) -> bool {
    let any = |items: &[&[u8]]| {
        items.is_empty()
            || items
                .iter()
                .any(|item| bloom.contains_input(BloomInput::Raw(item)))
    };
    let addresses: Vec<&[u8]> = filter.addresses.iter().map(|a| a.as_slice()).collect();
    let topics: Vec<&[u8]> = filter.topics0.iter().map(|t| t.as_slice()).collect();
    any(&addresses) && any(&topics)
}

fn log_matches(log: &L1Log, filter: &LogFilter) -> bool {
    (filter.addresses.is_empty() || filter.addresses.contains(&log.address))
        && (filter.topics0.is_empty()
            || log
                .topics
                .first()
                .is_some_and(|t| filter.topics0.contains(t)))
}

/// What did not verify. Each names the block and the field that failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A header does not hash to the hash it was expected to have: the node served another block.
    #[error("block {number}: header hashes to {computed}, not to the expected {expected}")]
    HeaderHash {
        /// Block number.
        number: u64,
        /// Hash asked for or chained to.
        expected: B256,
        /// Keccak of the served header.
        computed: B256,
    },
    /// The served transactions do not rebuild the header's `transactionsRoot`: forged or incomplete body.
    #[error(
        "block {number}: transactions hash to root {computed}, not to the header's transactionsRoot {header_root}"
    )]
    TransactionsRoot {
        /// Block number.
        number: u64,
        /// `transactionsRoot` of the verified header.
        header_root: B256,
        /// Root of the served transactions.
        computed: B256,
    },
    /// The served receipts do not rebuild the header's `receiptsRoot`: forged or incomplete receipts.
    #[error(
        "block {number}: receipts hash to root {computed}, not to the header's receiptsRoot {header_root}"
    )]
    ReceiptsRoot {
        /// Block number.
        number: u64,
        /// `receiptsRoot` of the verified header.
        header_root: B256,
        /// Root of the served receipts.
        computed: B256,
    },
    /// The node served a different number of receipts than the block has transactions.
    #[error("block {number}: {transactions} transactions but {receipts} receipts")]
    ReceiptCount {
        /// Block number.
        number: u64,
        /// Transactions in the verified block.
        transactions: usize,
        /// Receipts served.
        receipts: usize,
    },
    /// A log from `eth_getLogs` is not in the verified receipts as served: evidence against the node.
    #[error("block {number}: log {log_index} is forged: {detail}")]
    ForgedLog {
        /// Block number.
        number: u64,
        /// Index of the log in its block.
        log_index: u64,
        /// Which field differs.
        detail: String,
    },
    /// The verified receipts hold a log the filter selects that `eth_getLogs` left out: evidence against the node.
    #[error("block {number}: the node withheld log {log_index}, which the filter selects")]
    WithheldLog {
        /// Block number.
        number: u64,
        /// Index of the withheld log in its block.
        log_index: u64,
    },
    /// A transaction is not in the verified block the node placed it in.
    #[error("transaction {hash} is not in the verified block {number}")]
    TransactionNotInBlock {
        /// Transaction hash.
        hash: B256,
        /// Block the node named.
        number: u64,
    },
    /// The transaction reverted (receipt status 0), so its data is not the rollup's.
    #[error("transaction {hash} failed in block {number} (receipt status 0)")]
    TransactionFailed {
        /// Transaction hash.
        hash: B256,
        /// Block holding it.
        number: u64,
    },
    /// The transaction neither calls a followed contract nor makes one emit a log.
    #[error("transaction {hash} was sent to {to:?} and made no followed contract emit a log")]
    UnexpectedRecipient {
        /// Transaction hash.
        hash: B256,
        /// Its recipient (`None` for a contract creation).
        to: Option<Address>,
    },
    /// The node answered with another block than the one asked for.
    #[error("asked for block {asked}, the node served block {number}")]
    WrongBlock {
        /// The block asked for (number, hash or tag).
        asked: String,
        /// Number of the block served.
        number: u64,
    },
    /// A header's parent hash is not the verified block below it: the header is not on the verified chain.
    #[error(
        "block {number}: parent hash {parent_hash} is not the verified block {} {expected}",
        number.saturating_sub(1)
    )]
    ParentHash {
        /// Number of the child block.
        number: u64,
        /// Parent hash in its header.
        parent_hash: B256,
        /// Verified hash of the block below.
        expected: B256,
    },
    /// A hash differs from the verified hash at that height (another fork, or a conflicting checkpoint).
    #[error("block {number}: {hash} is not the verified block {verified} at that height")]
    NotOnChain {
        /// Block number.
        number: u64,
        /// Hash given.
        hash: B256,
        /// Hash already verified at that height.
        verified: B256,
    },
    /// No trusted checkpoint at or below the block, so it cannot be chained; configure an earlier checkpoint.
    #[error("block {number} cannot be chained to a checkpoint: none is at or below it")]
    NoCheckpoint {
        /// Block number.
        number: u64,
    },
    /// The node did not serve something the proof needs (a header, block body or receipts).
    #[error("the node withheld {0}, which the proof needs")]
    Withheld(String),
    /// The beacon light client could not prove a finalized block.
    #[error("beacon light client: {0}")]
    LightClient(String),
}
