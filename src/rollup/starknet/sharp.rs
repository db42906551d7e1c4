//! Calldata-era DA selected by the fact, never by a time window.
//!
//! Before blobs, Starknet's DA lived in SHARP memory pages, registered on a
//! memory-page fact registry that every SHARP customer shares. The pages of one
//! Starknet update are found through the fact that update proved:
//!
//! 1. the update transaction emits `LogStateTransitionFact(fact)` (core contract);
//! 2. the SHARP verifier emitted `LogMemoryPagesHashes(fact, pagesHashes)` when it
//!    registered that fact (cairo-lang `GpsOutputParser.registerGpsFacts`: one event
//!    per task, listing the task's continuous pages in output order; the first is
//!    the main part, the Starknet program output, the rest the DA);
//! 3. each page was registered with `registerContinuousMemoryPage` (selector
//!    `0x5578ceae`) or, on the 2024 registry, `registerContinuousPageBatch`
//!    (`0x739ef303`), which emit `LogMemoryPageFactContinuous(factHash, memoryHash,
//!    prod)` with `memoryHash = keccak256(values)`.
//!
//! [`select_fact_pages`] joins the three by hash and then recomputes the fact from
//! the pages it picked (the fact tree of cairo-lang `OnchainDataFactTreeEncoder`: a
//! root over the main page and one node over the DA pages). Pages of other
//! customers, forged events from other addresses and stale registrations cannot
//! pass that check, so which addresses were queried does not affect the result,
//! only whether every page was found.

use std::collections::HashMap;

use alloy_primitives::{B256, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent};

use super::da::binding::onchain_data_hash;
use super::da::pages::{MemoryPage, REGISTER_PAGE_SELECTOR, parse_page};

mod abi {
    alloy_sol_types::sol! {
        event LogMemoryPagesHashes(bytes32 factHash, bytes32[] pagesHashes);
        event LogMemoryPageFactContinuous(bytes32 factHash, uint256 memoryHash, uint256 prod);
        struct MemoryPageEntry {
            uint256 startAddr;
            uint256[] values;
            uint256 z;
            uint256 alpha;
            uint256 prime;
        }
        function registerContinuousPageBatch(MemoryPageEntry[] memoryPageEntries);
    }
}

/// topic0 of `LogMemoryPagesHashes(bytes32,bytes32[])` (SHARP verifier).
pub const LOG_MEMORY_PAGES_HASHES: B256 = abi::LogMemoryPagesHashes::SIGNATURE_HASH;
/// topic0 of `LogMemoryPageFactContinuous(bytes32,uint256,uint256)` (page registry).
pub const LOG_MEMORY_PAGE_FACT_CONTINUOUS: B256 = abi::LogMemoryPageFactContinuous::SIGNATURE_HASH;
/// Selector of `registerContinuousPageBatch((uint256,uint256[],uint256,uint256,uint256)[])`.
pub const REGISTER_PAGE_BATCH_SELECTOR: [u8; 4] = abi::registerContinuousPageBatchCall::SELECTOR;

/// `MemoryPageFactRegistry.CONTINUOUS_PAGE`: the first word of a continuous page's fact.
const CONTINUOUS_PAGE: u64 = 1;

/// One `LogMemoryPagesHashes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PagesHashes {
    /// The task's fact tree root; for Starknet, the update's `stateTransitionFact`.
    pub fact_hash: B256,
    /// The task's continuous pages in output order (main part first).
    pub pages_hashes: Vec<B256>,
}

/// One `LogMemoryPageFactContinuous`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFact {
    /// The registry's fact for the page (not the Starknet fact).
    pub fact_hash: B256,
    /// `keccak256` of the page's values, each a 32-byte big-endian word.
    pub memory_hash: U256,
    /// The page product `∏ (z − (addr + alpha·value)) mod prime`.
    pub prod: U256,
}

/// A logged page registration and the calldata of its transaction.
#[derive(Clone, Copy, Debug)]
pub struct PageRegistration<'a> {
    /// The logged `memoryHash`; a page in the calldata must hash to it.
    pub memory_hash: U256,
    /// Input of the transaction that emitted the log.
    pub calldata: &'a [u8],
}

/// The pages of one Starknet fact, in `pagesHashes` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactPages {
    /// The `stateTransitionFact` the pages were recomputed to.
    pub fact: B256,
    /// The main part: the program output `updateState` carries.
    pub main: MemoryPage,
    /// The DA pages (pages 1..).
    pub da: Vec<MemoryPage>,
}

/// Why the pages of a fact could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum SharpError {
    /// A log's data does not ABI-decode as the event its topic names.
    #[error("{event}: {detail}")]
    Abi {
        /// The event being decoded.
        event: &'static str,
        /// The decoder's message.
        detail: String,
    },
    /// A page registration's calldata is not a page call the decoder reads.
    #[error(
        "calldata is neither registerContinuousMemoryPage nor registerContinuousPageBatch: {0}"
    )]
    Calldata(String),
    /// No `LogMemoryPagesHashes` given for the fact lists it.
    #[error("no LogMemoryPagesHashes for fact {fact} in the scanned window")]
    NoPagesHashes {
        /// The update's `stateTransitionFact`.
        fact: B256,
    },
    /// The fact's `LogMemoryPagesHashes` has an empty page list, so it has no main page.
    #[error("LogMemoryPagesHashes for fact {fact} lists no pages")]
    NoPages {
        /// The update's `stateTransitionFact`.
        fact: B256,
    },
    /// A page SHARP listed for the fact has no registration among those read.
    #[error(
        "fact {fact}: SHARP lists page {index} with memory hash {page_hash}, and no configured \
         memory-page registry yielded its registration (the node withholds it, or the chain \
         config lacks the registry)"
    )]
    MissingPage {
        /// The update's `stateTransitionFact`.
        fact: B256,
        /// Position of the page in `pagesHashes` (0 = main page).
        index: usize,
        /// The page's memory hash as listed.
        page_hash: B256,
    },
    /// The listed pages were all found but their fact tree does not hash to the
    /// fact the update proved.
    #[error("fact {fact}: the listed pages hash to fact {computed}")]
    FactMismatch {
        /// The update's `stateTransitionFact`.
        fact: B256,
        /// The fact recomputed from the pages.
        computed: B256,
    },
    /// The L1 node returned no `LogMemoryPagesHashes` for the fact in the blocks
    /// searched before the update, though SHARP must have registered it first.
    #[error("no LogMemoryPagesHashes for fact {fact} in the {blocks} L1 blocks before the update")]
    FactNotRegistered {
        /// The update's `stateTransitionFact`.
        fact: B256,
        /// L1 blocks searched back from the update.
        blocks: u64,
    },
    /// Without a SHARP verifier to read, no contiguous run of registered pages
    /// has the bound `onchainDataHash` and `onchainDataSize`.
    #[error("no run of registered pages hashes to the bound onchainDataHash {hash} ({size} felts)")]
    NoBoundPages {
        /// The bound `onchainDataHash`.
        hash: B256,
        /// The bound `onchainDataSize`, in felts.
        size: U256,
    },
    /// The core contract logged no `LogStateTransitionFact` before the
    /// `LogStateUpdate` in the same transaction.
    #[error("the core contract logged no LogStateTransitionFact in the update's transaction")]
    NoTransitionFact,
}

impl SharpError {
    /// The audit check a batch fails when this error stops it: every cause
    /// but calldata the decoder cannot read is L1 evidence (the node's
    /// answers, or the registrations SHARP relied on) that the pages the
    /// proof bound cannot be assembled, recorded as a finding before the halt.
    pub fn evidence_check(&self) -> Option<&'static str> {
        match self {
            SharpError::NoBoundPages { .. } => Some("calldata.onchain_data_hash"),
            SharpError::MissingPage { .. }
            | SharpError::FactMismatch { .. }
            | SharpError::NoPagesHashes { .. }
            | SharpError::NoPages { .. }
            | SharpError::FactNotRegistered { .. }
            | SharpError::NoTransitionFact => Some("sharp.fact_pages"),
            SharpError::Abi { .. } | SharpError::Calldata(_) => None,
        }
    }
}

/// Decodes `LogMemoryPagesHashes`.
pub fn decode_pages_hashes(topics: &[B256], data: &[u8]) -> Result<PagesHashes, SharpError> {
    abi::LogMemoryPagesHashes::decode_raw_log(topics.iter().copied(), data)
        .map(|e| PagesHashes {
            fact_hash: e.factHash,
            pages_hashes: e.pagesHashes,
        })
        .map_err(|e| SharpError::Abi {
            event: "LogMemoryPagesHashes",
            detail: e.to_string(),
        })
}

/// Encodes a `LogMemoryPagesHashes` body (for the devnet and tests).
pub fn encode_pages_hashes(log: &PagesHashes) -> Vec<u8> {
    abi::LogMemoryPagesHashes {
        factHash: log.fact_hash,
        pagesHashes: log.pages_hashes.clone(),
    }
    .encode_data()
}

/// Decodes `LogMemoryPageFactContinuous`.
pub fn decode_page_fact(topics: &[B256], data: &[u8]) -> Result<PageFact, SharpError> {
    abi::LogMemoryPageFactContinuous::decode_raw_log(topics.iter().copied(), data)
        .map(|e| PageFact {
            fact_hash: e.factHash,
            memory_hash: e.memoryHash,
            prod: e.prod,
        })
        .map_err(|e| SharpError::Abi {
            event: "LogMemoryPageFactContinuous",
            detail: e.to_string(),
        })
}

/// The pages a registration transaction carries, in call order.
pub fn pages_in_call(calldata: &[u8]) -> Result<Vec<MemoryPage>, SharpError> {
    match calldata.get(..4) {
        Some(s) if s == REGISTER_PAGE_SELECTOR => parse_page(calldata)
            .map(|p| vec![p])
            .map_err(|e| SharpError::Calldata(e.to_string())),
        Some(s) if s == REGISTER_PAGE_BATCH_SELECTOR => {
            abi::registerContinuousPageBatchCall::abi_decode_validate(calldata)
                .map(|call| {
                    call.memoryPageEntries
                        .into_iter()
                        .map(|e| MemoryPage {
                            start_addr: e.startAddr,
                            values: e.values,
                            z: e.z,
                            alpha: e.alpha,
                            prime: e.prime,
                        })
                        .collect()
                })
                .map_err(|e| SharpError::Calldata(e.to_string()))
        }
        _ => Err(SharpError::Calldata(format!(
            "selector {}",
            calldata.get(..4).map_or_else(
                || "missing".to_string(),
                |s| format!("0x{}", hex::encode(s))
            )
        ))),
    }
}

/// Encodes `registerContinuousPageBatch` calldata (for the devnet and tests).
pub fn encode_page_batch(pages: &[MemoryPage]) -> Vec<u8> {
    abi::registerContinuousPageBatchCall {
        memoryPageEntries: pages
            .iter()
            .map(|p| abi::MemoryPageEntry {
                startAddr: p.start_addr,
                values: p.values.clone(),
                z: p.z,
                alpha: p.alpha,
                prime: p.prime,
            })
            .collect(),
    }
    .abi_encode()
}

/// `keccak256(values)`: the memory hash the registry logs and SHARP lists.
pub fn memory_hash(values: &[U256]) -> B256 {
    let mut bytes = Vec::with_capacity(values.len().saturating_mul(32));
    values
        .iter()
        .for_each(|v| bytes.extend_from_slice(&v.to_be_bytes::<32>()));
    keccak256(&bytes)
}

/// The registry's product `∏ (z − (addr_i + alpha·value_i)) mod prime` over a
/// continuous page (`MemoryPageFactRegistry.registerContinuousMemoryPage`).
/// `None` when the prime is 0 (no field to compute in).
pub fn page_prod(page: &MemoryPage) -> Option<U256> {
    let p = page.prime;
    if p.is_zero() {
        return None;
    }
    let z = page.z.reduce_mod(p);
    let alpha = page.alpha.reduce_mod(p);
    let mut prod = U256::from(1u8);
    let mut addr = page.start_addr.reduce_mod(p);
    for value in &page.values {
        let lin = addr.add_mod(alpha.mul_mod(*value, p), p);
        // `lin` is reduced below `p`: `p - lin` is exact.
        prod = prod.mul_mod(z.add_mod(p.wrapping_sub(lin), p), p);
        addr = addr.add_mod(U256::from(1u8), p);
    }
    Some(prod)
}

/// The registry's fact of a continuous page:
/// `keccak256(CONTINUOUS_PAGE, prime, n, z, alpha, prod, memoryHash, startAddr)`.
pub fn page_fact(page: &MemoryPage, memory_hash: B256, prod: U256) -> B256 {
    let words = [
        U256::from(CONTINUOUS_PAGE),
        page.prime,
        U256::from(page.values.len()),
        page.z,
        page.alpha,
        prod,
        U256::from_be_bytes(memory_hash.0),
        page.start_addr,
    ];
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes::<32>()).collect();
    keccak256(&bytes)
}

/// The Starknet fact of a program output and its DA pages (cairo-lang
/// `OnchainDataFactTreeEncoder.encodeFactWithOnchainData`): a root over the main
/// part and the DA node, each child with its cumulative end; inner nodes are
/// `keccak + 1`.
pub fn state_transition_fact(main: &[U256], da_pages: &[&[U256]]) -> B256 {
    let da_size: usize = da_pages.iter().map(|p| p.len()).sum();
    let data_hash = onchain_data_hash(main.len(), da_pages);
    state_transition_fact_of(main, data_hash, U256::from(da_size))
}

/// [`state_transition_fact`] from what `updateState` carries: the program
/// output and the DA node's `onchainDataHash` and `onchainDataSize`, as the
/// core contract computes it.
pub fn state_transition_fact_of(main: &[U256], data_hash: B256, data_size: U256) -> B256 {
    let main_len = U256::from(main.len());
    let mut root = Vec::with_capacity(128);
    root.extend_from_slice(memory_hash(main).as_slice());
    root.extend_from_slice(&main_len.to_be_bytes::<32>());
    root.extend_from_slice(data_hash.as_slice());
    root.extend_from_slice(&main_len.wrapping_add(data_size).to_be_bytes::<32>());
    let hash = U256::from_be_bytes(keccak256(&root).0).wrapping_add(U256::from(1u8));
    B256::from(hash.to_be_bytes::<32>())
}

/// Returns exactly the pages of `fact`, in the order SHARP listed them, from the
/// `LogMemoryPagesHashes` and page registrations of the scanned window. Pages of
/// other facts are ignored however many there are; a registration whose calldata
/// is not a page call, or whose page does not hash to the logged memory hash, is
/// ignored too (it cannot be one of ours). The result is checked by recomputing
/// the fact from the pages.
pub fn select_fact_pages(
    fact: B256,
    pages_hashes: &[PagesHashes],
    registrations: &[PageRegistration<'_>],
) -> Result<FactPages, SharpError> {
    let mut by_hash: HashMap<B256, MemoryPage> = HashMap::new();
    for registration in registrations {
        let logged = B256::from(registration.memory_hash.to_be_bytes::<32>());
        if by_hash.contains_key(&logged) {
            continue;
        }
        let Ok(pages) = pages_in_call(registration.calldata) else {
            continue;
        };
        if let Some(page) = pages.into_iter().find(|p| memory_hash(&p.values) == logged) {
            by_hash.insert(logged, page);
        }
    }

    let mut first_error = None;
    // A fact registered twice lists the same pages; a list from a forged event
    // fails the recomputation below and the next one is tried.
    for log in pages_hashes.iter().filter(|l| l.fact_hash == fact) {
        match assemble(fact, &log.pages_hashes, &by_hash) {
            Ok(pages) => return Ok(pages),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or(SharpError::NoPagesHashes { fact }))
}

fn assemble(
    fact: B256,
    hashes: &[B256],
    by_hash: &HashMap<B256, MemoryPage>,
) -> Result<FactPages, SharpError> {
    if hashes.is_empty() {
        return Err(SharpError::NoPages { fact });
    }
    let mut pages = Vec::with_capacity(hashes.len());
    for (index, page_hash) in hashes.iter().enumerate() {
        let page = by_hash.get(page_hash).ok_or(SharpError::MissingPage {
            fact,
            index,
            page_hash: *page_hash,
        })?;
        pages.push(page.clone());
    }
    let main = pages.remove(0);
    let da_values: Vec<&[U256]> = pages.iter().map(|p| p.values.as_slice()).collect();
    let computed = state_transition_fact(&main.values, &da_values);
    if computed != fact {
        return Err(SharpError::FactMismatch { fact, computed });
    }
    Ok(FactPages {
        fact,
        main,
        da: pages,
    })
}

/// Candidate orderings [`select_bound_pages`] may try before giving up: each
/// page can only be followed by a page that starts where it ends, so an honest
/// registry needs one path per candidate start; the cap bounds the work forged
/// pages sharing start addresses can cause.
const MAX_BOUND_PATHS: usize = 100_000;

/// For a chain without a SHARP verifier to read `LogMemoryPagesHashes` from
/// (local stand-ins), the DA pages are the run of registered pages that the
/// proof bound: contiguous in memory (each starts where the previous ends), of
/// total size `bound_size` (`onchainDataSize`), and hashing to `bound_hash`
/// (`onchainDataHash`, the DA
/// node of the fact tree, with the main part `main_len` felts long). Pages of
/// other facts cannot hash to it, so they are ignored however many there are.
pub fn select_bound_pages(
    main_len: usize,
    bound_hash: B256,
    bound_size: U256,
    candidates: &[MemoryPage],
) -> Result<Vec<MemoryPage>, SharpError> {
    let not_found = || SharpError::NoBoundPages {
        hash: bound_hash,
        size: bound_size,
    };
    let size = usize::try_from(bound_size).map_err(|_| not_found())?;
    let mut by_start: HashMap<U256, Vec<usize>> = HashMap::new();
    for (i, page) in candidates.iter().enumerate() {
        by_start.entry(page.start_addr).or_default().push(i);
    }
    let mut budget = MAX_BOUND_PATHS;
    // Depth-first over contiguous runs; `stack` holds (run so far, its size).
    let mut stack: Vec<(Vec<usize>, usize)> = (0..candidates.len())
        .map(|i| (vec![i], candidates[i].values.len()))
        .collect();
    while let Some((run, used)) = stack.pop() {
        budget = budget.checked_sub(1).ok_or_else(not_found)?;
        if used == size {
            let values: Vec<&[U256]> = run
                .iter()
                .map(|i| candidates[*i].values.as_slice())
                .collect();
            if onchain_data_hash(main_len, &values) == bound_hash {
                return Ok(run.iter().map(|i| candidates[*i].clone()).collect());
            }
            continue;
        }
        let last = &candidates[*run.last().expect("runs are never empty")];
        // Start addresses are from L1: a page ending past 2^256 has no successor.
        let Some(next_start) = last.start_addr.checked_add(U256::from(last.values.len())) else {
            continue;
        };
        for next in by_start.get(&next_start).into_iter().flatten() {
            // Lengths of pages in memory: exact.
            let grown = used.saturating_add(candidates[*next].values.len());
            if grown <= size && !run.contains(next) {
                let mut longer = run.clone();
                longer.push(*next);
                stack.push((longer, grown));
            }
        }
    }
    Err(not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(start: u64, values: &[u64]) -> MemoryPage {
        MemoryPage {
            start_addr: U256::from(start),
            values: values.iter().map(|v| U256::from(*v)).collect(),
            z: U256::from(5u8),
            alpha: U256::from(7u8),
            prime: super::super::da::stark_prime(),
        }
    }

    #[test]
    fn topics_and_selectors_are_the_keccak_of_their_signatures() {
        assert_eq!(
            LOG_MEMORY_PAGES_HASHES,
            keccak256("LogMemoryPagesHashes(bytes32,bytes32[])")
        );
        assert_eq!(
            LOG_MEMORY_PAGE_FACT_CONTINUOUS,
            keccak256("LogMemoryPageFactContinuous(bytes32,uint256,uint256)")
        );
        // l2beat lists 0x739ef303 for registerContinuousPageBatch on the 2024 registry.
        assert_eq!(REGISTER_PAGE_BATCH_SELECTOR, [0x73, 0x9e, 0xf3, 0x03]);
        assert_eq!(
            &keccak256(
                "registerContinuousPageBatch((uint256,uint256[],uint256,uint256,uint256)[])"
            )[..4],
            REGISTER_PAGE_BATCH_SELECTOR
        );
    }

    #[test]
    fn batch_calls_yield_every_page() {
        let pages = vec![page(10, &[1, 2]), page(12, &[3])];
        let batch = encode_page_batch(&pages);
        assert_eq!(pages_in_call(&batch).unwrap(), pages);
        // One batch transaction, one registry log per page: both pages are found.
        let fact = state_transition_fact(&pages[0].values, &[&pages[1].values]);
        let registrations: Vec<PageRegistration<'_>> = pages
            .iter()
            .map(|p| PageRegistration {
                memory_hash: U256::from_be_bytes(memory_hash(&p.values).0),
                calldata: &batch,
            })
            .collect();
        let log = PagesHashes {
            fact_hash: fact,
            pages_hashes: pages.iter().map(|p| memory_hash(&p.values)).collect(),
        };
        let selected = select_fact_pages(fact, &[log], &registrations).unwrap();
        assert_eq!(
            (selected.main, selected.da),
            (pages[0].clone(), vec![pages[1].clone()])
        );
        assert!(matches!(
            pages_in_call(&[1, 2, 3, 4]),
            Err(SharpError::Calldata(_))
        ));
    }

    #[test]
    fn selects_the_facts_pages_in_listed_order_and_ignores_decoys() {
        let main = page(100, &[11, 12, 13]);
        let da = [page(103, &[1, 2, 3, 4]), page(107, &[5, 6])];
        let decoy = page(500, &[9, 9, 9]);
        let fact = state_transition_fact(&main.values, &[&da[0].values, &da[1].values]);
        let calls: Vec<Vec<u8>> = [&decoy, &da[1], &main, &da[0]]
            .iter()
            .map(|p| super::super::da::pages::encode_page(p))
            .collect();
        let registrations: Vec<PageRegistration<'_>> = [&decoy, &da[1], &main, &da[0]]
            .iter()
            .zip(&calls)
            .map(|(p, c)| PageRegistration {
                memory_hash: U256::from_be_bytes(memory_hash(&p.values).0),
                calldata: c,
            })
            .collect();
        let hashes = |pages: &[&MemoryPage]| -> Vec<B256> {
            pages.iter().map(|p| memory_hash(&p.values)).collect()
        };
        let logs = vec![
            PagesHashes {
                fact_hash: B256::repeat_byte(1),
                pages_hashes: hashes(&[&decoy]),
            },
            PagesHashes {
                fact_hash: fact,
                pages_hashes: hashes(&[&main, &da[0], &da[1]]),
            },
        ];
        let selected = select_fact_pages(fact, &logs, &registrations).unwrap();
        assert_eq!(selected.main, main);
        assert_eq!(selected.da, da.to_vec());

        // A page nobody registered is named in the error.
        let err = select_fact_pages(fact, &logs, &registrations[..3]).unwrap_err();
        match err {
            SharpError::MissingPage {
                fact: f,
                index,
                page_hash,
            } => {
                assert_eq!((f, index), (fact, 1));
                assert_eq!(page_hash, memory_hash(&da[0].values));
            }
            other => panic!("{other}"),
        }
        // A list that does not hash to the fact is refused.
        let forged = vec![PagesHashes {
            fact_hash: fact,
            pages_hashes: hashes(&[&main, &da[1], &da[0]]),
        }];
        assert!(matches!(
            select_fact_pages(fact, &forged, &registrations),
            Err(SharpError::FactMismatch { .. })
        ));
        assert!(matches!(
            select_fact_pages(B256::repeat_byte(2), &logs, &registrations),
            Err(SharpError::NoPagesHashes { .. })
        ));
    }

    #[test]
    fn bound_pages_are_the_contiguous_run_that_hashes_to_the_binding() {
        let main_len = 7;
        let da = [page(107, &[1, 2, 3]), page(110, &[4, 5])];
        let values: Vec<&[U256]> = da.iter().map(|p| p.values.as_slice()).collect();
        let hash = onchain_data_hash(main_len, &values);
        let size = U256::from(5u8);
        // Decoys at the same start addresses and of the same sizes, in between.
        let candidates = vec![
            page(107, &[9, 9, 9]),
            da[0].clone(),
            page(110, &[8, 8]),
            da[1].clone(),
            page(300, &[1, 2, 3, 4, 5]),
        ];
        assert_eq!(
            select_bound_pages(main_len, hash, size, &candidates).unwrap(),
            da.to_vec()
        );
        // Without the true second page nothing is bound: an error, not a guess.
        let without: Vec<MemoryPage> = candidates
            .iter()
            .filter(|p| **p != da[1])
            .cloned()
            .collect();
        assert!(matches!(
            select_bound_pages(main_len, hash, size, &without),
            Err(SharpError::NoBoundPages { .. })
        ));
    }
}
