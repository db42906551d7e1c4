//! The Starknet OS program output (the first argument of `updateState` /
//! `updateStateKzgDA`) and the L1 calldata that carries it.
//!
//! Header versions (cairo-lang `src/starkware/starknet/core/os/output.cairo` at each
//! release tag, and `solidity/Output.sol` from v0.10 on, where the core contract's
//! Solidity was first published):
//! * before v0.7.0 (2 words, mainnet genesis in Nov 2021 ran v0.6): `prev_root, new_root`;
//!   both message segments then used the 3-word header `from, to, payload_size`
//!   (an L1→L2 message carried its selector as the first payload word, no nonce);
//! * v0.7.0 (3 words): `+ block_number`; L1→L2 messages get the 5-word header
//!   `from, to, nonce, selector, payload_size`;
//! * v0.8.0 – v0.11.0 (4 words): `+ config_hash` (`HEADER_SIZE = 4` in v0.10's `Output.sol`);
//!   v0.11.1 – v0.13.0 (5 words) add `block_hash` before `config_hash` (`HEADER_SIZE` 5).
//!   The four are calldata-era headers without a KZG segment: [`HeaderVersion::PreV0_7`],
//!   [`HeaderVersion::V0_7`] and [`HeaderVersion::V0_11`] (4 or 5 words). The data tells
//!   them apart: a header of the wrong size makes a message count out of a root-sized
//!   word (the block number, a config hash, a block hash, an address), which never
//!   leaves the segments ending exactly at the output's end; when two forms fit anyway
//!   [`detect`] reports it instead of guessing, and the follower cross-checks the
//!   block number with the one `LogStateUpdate` carries;
//! * v0.13.1 (6 words): `prev_root, new_root, block_number, block_hash, config_hash,
//!   use_kzg_da`, then when `use_kzg_da`: `[commitment_low, commitment_high, z, y_low, y_high]`;
//! * v0.13.2+ (10 words): `prev_root, new_root, prev_block_number, new_block_number,
//!   prev_block_hash, new_block_hash, os_program_hash, config_hash, use_kzg_da,
//!   full_output`, then when `use_kzg_da`: `[z, n_blobs, (c_low, c_high) * n, (y_low, y_high) * n]`.
//!
//! Then both versions have the L2→L1 and L1→L2 message segments (length, then
//! messages with headers of 3 and 5 words). On L1 the output ends there: in
//! calldata mode the DA follows in memory pages, in blob mode in blobs.
//!
//! A commitment is split as `high‖low` (192 bits each), `y` as `high << 128 | low`.

use alloy_primitives::{B256, U256};
use alloy_sol_types::SolCall;
use starknet_types_core::felt::Felt;

use super::{DaError, felt_from_u256, felt_to_u256};

/// The program-output header version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum HeaderVersion {
    /// Before v0.7.0: 2 words (the roots), 3-word headers on both message segments.
    PreV0_7,
    /// v0.7.x: 3 words (`+ block_number`).
    V0_7,
    /// v0.8 – v0.13.0: 4 words (`+ config_hash`), or 5 (with the block hash) from v0.11.1.
    V0_11,
    /// v0.13.1: 6 words (+ 5-word KZG segment).
    V0_13_1,
    /// v0.13.2 and later: 10 words (+ variable KZG segment).
    V0_13_2,
}

impl HeaderVersion {
    /// Every version, oldest first; the candidates [`detect`] tries when the L1 function does
    /// not narrow them.
    pub const ALL: [HeaderVersion; 5] = [
        HeaderVersion::PreV0_7,
        HeaderVersion::V0_7,
        HeaderVersion::V0_11,
        HeaderVersion::V0_13_1,
        HeaderVersion::V0_13_2,
    ];

    /// Whether the header carries the (last) L2 block number; before v0.7.0 only
    /// the core contract counted blocks.
    pub fn has_block_number(self) -> bool {
        self != HeaderVersion::PreV0_7
    }

    /// The version's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            HeaderVersion::PreV0_7 => "pre-v0.7",
            HeaderVersion::V0_7 => "v0.7",
            HeaderVersion::V0_11 => "v0.11",
            HeaderVersion::V0_13_1 => "v0.13.1",
            HeaderVersion::V0_13_2 => "v0.13.2+",
        }
    }
}

/// The KZG segment: the evaluation point and, per blob, the commitment and `y = p(z)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KzgSegment {
    /// The evaluation point, computed by the OS from the DA and the commitments.
    pub z: Felt,
    /// Commitments as posted to the point-evaluation precompile (`high‖low`).
    pub commitments: Vec<[u8; 48]>,
    /// `y_j` as 32 big-endian bytes (`high << 128 | low`).
    pub evaluations: Vec<[u8; 32]>,
}

/// A parsed program output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramOutput {
    /// Which header the words were parsed with.
    pub version: HeaderVersion,
    /// The state root before the batch; must equal the root the core contract holds.
    pub prev_root: Felt,
    /// The root the follower must reproduce after applying this batch.
    pub new_root: Felt,
    /// Block number before the batch (v0.13.2+ headers only).
    pub prev_block_number: Option<Felt>,
    /// Zero for [`HeaderVersion::PreV0_7`], whose header has no block number.
    pub new_block_number: Felt,
    /// Block hash before the batch (v0.13.2+).
    pub prev_block_hash: Option<Felt>,
    /// Hash of the last block of the batch (v0.11.1+ headers; `None` before).
    pub new_block_hash: Option<Felt>,
    /// Hash of the Starknet OS program that produced the output (v0.13.2+).
    pub os_program_hash: Option<Felt>,
    /// Hash of the OS config (chain id, fee token); zero in headers that predate it.
    pub config_hash: Felt,
    /// True when the DA is in blobs (v0.13.1+ headers), false for memory pages.
    pub use_kzg_da: bool,
    /// The KZG segment, present exactly when `use_kzg_da`.
    pub kzg: Option<KzgSegment>,
    /// The L2→L1 message segment, without its length word: messages as `from, to, payload_size,
    /// payload…`.
    pub messages_to_l1: Vec<Felt>,
    /// The L1→L2 message segment, without its length word: messages as `from, to, nonce,
    /// selector, payload_size, payload…` (3-word headers before v0.7).
    pub messages_to_l2: Vec<Felt>,
    /// Number of words (the size of fact-tree page 0 in calldata mode).
    pub len: usize,
}

/// Parses a program output with a known header version; every word must be used.
pub fn parse(words: &[Felt], version: HeaderVersion) -> Result<ProgramOutput, DaError> {
    if version != HeaderVersion::V0_11 {
        return parse_form(words, version, false);
    }
    match (
        parse_form(words, version, false),
        parse_form(words, version, true),
    ) {
        (Ok(output), Err(_)) | (Err(_), Ok(output)) => Ok(output),
        (Err(e), Err(_)) => Err(e),
        (Ok(_), Ok(_)) => Err(DaError::LayoutUndetermined(
            "the program output fits the v0.11 header with and without a block hash".into(),
        )),
    }
}

/// `with_block_hash`: the 5-word v0.11.1 – v0.13.0 form of the v0.11 header.
fn parse_form(
    words: &[Felt],
    version: HeaderVersion,
    with_block_hash: bool,
) -> Result<ProgramOutput, DaError> {
    let mut r = super::Reader::new(words);
    let prev_root = r.next("prev_root")?;
    let new_root = r.next("new_root")?;
    let mut out = ProgramOutput {
        version,
        prev_root,
        new_root,
        prev_block_number: None,
        new_block_number: Felt::ZERO,
        prev_block_hash: None,
        new_block_hash: None,
        os_program_hash: None,
        config_hash: Felt::ZERO,
        use_kzg_da: false,
        kzg: None,
        messages_to_l1: Vec::new(),
        messages_to_l2: Vec::new(),
        len: words.len(),
    };
    // The L1→L2 message header: 3 words before v0.7.0, 5 after.
    let mut to_l2_header = 5;
    match version {
        HeaderVersion::PreV0_7 => to_l2_header = 3,
        HeaderVersion::V0_7 => out.new_block_number = r.next("block_number")?,
        HeaderVersion::V0_11 => {
            out.new_block_number = r.next("block_number")?;
            if with_block_hash {
                out.new_block_hash = Some(r.next("block_hash")?);
            }
            out.config_hash = r.next("config_hash")?;
        }
        HeaderVersion::V0_13_1 => {
            out.new_block_number = r.next("block_number")?;
            out.new_block_hash = Some(r.next("block_hash")?);
            out.config_hash = r.next("config_hash")?;
            out.use_kzg_da = flag(r.next("use_kzg_da")?, "use_kzg_da")?;
            if out.use_kzg_da {
                let low = r.next("commitment_low")?;
                let high = r.next("commitment_high")?;
                let z = r.next("z")?;
                let y_low = r.next("y_low")?;
                let y_high = r.next("y_high")?;
                out.kzg = Some(KzgSegment {
                    z,
                    commitments: vec![join_commitment(&low, &high)?],
                    evaluations: vec![join_y(&y_low, &y_high)?],
                });
            }
        }
        HeaderVersion::V0_13_2 => {
            out.prev_block_number = Some(r.next("prev_block_number")?);
            out.new_block_number = r.next("new_block_number")?;
            out.prev_block_hash = Some(r.next("prev_block_hash")?);
            out.new_block_hash = Some(r.next("new_block_hash")?);
            out.os_program_hash = Some(r.next("os_program_hash")?);
            out.config_hash = r.next("config_hash")?;
            out.use_kzg_da = flag(r.next("use_kzg_da")?, "use_kzg_da")?;
            if flag(r.next("full_output")?, "full_output")? {
                return Err(DaError::UnknownVersion(
                    "full_output = 1 is never posted to L1".into(),
                ));
            }
            if out.use_kzg_da {
                let z = r.next("z")?;
                let n_blobs = r.count("n_blobs", 4)?;
                // n_blobs is at most a quarter of the felts left: no overflow.
                let commitments = r.take(n_blobs.saturating_mul(2), "commitments")?;
                let evaluations = r.take(n_blobs.saturating_mul(2), "evaluations")?;
                out.kzg = Some(KzgSegment {
                    z,
                    commitments: commitments
                        .chunks_exact(2)
                        .map(|c| join_commitment(&c[0], &c[1]))
                        .collect::<Result<_, _>>()?,
                    evaluations: evaluations
                        .chunks_exact(2)
                        .map(|y| join_y(&y[0], &y[1]))
                        .collect::<Result<_, _>>()?,
                });
            }
        }
    }
    out.messages_to_l1 = read_messages(&mut r, 3, "messages to L1")?;
    out.messages_to_l2 = read_messages(&mut r, to_l2_header, "messages to L2")?;
    super::DaEnd::Exact.check(words, r.position())?;
    Ok(out)
}

/// Parses with the only header version among `candidates` that fits the words
/// exactly. Several fitting versions is an error, not a guess.
pub fn detect(words: &[Felt], candidates: &[HeaderVersion]) -> Result<ProgramOutput, DaError> {
    let mut fits = Vec::new();
    let mut failures = Vec::new();
    for version in candidates {
        match parse(words, *version) {
            Ok(output) => fits.push(output),
            Err(e) => failures.push(format!("{version:?}: {e}")),
        }
    }
    match fits.len() {
        1 => Ok(fits.pop().expect("one element")),
        0 => Err(DaError::UnknownVersion(format!(
            "the program output fits no known header version ({})",
            failures.join("; ")
        ))),
        _ => Err(DaError::LayoutUndetermined(format!(
            "the program output fits several header versions ({:?}); pass --layout",
            fits.iter().map(|f| f.version).collect::<Vec<_>>()
        ))),
    }
}

/// Walks a message segment: its length, then messages whose payload size sits at
/// `header - 1`; the messages must end exactly at the segment end.
fn read_messages(
    r: &mut super::Reader<'_>,
    header: usize,
    what: &'static str,
) -> Result<Vec<Felt>, DaError> {
    let len = r.count(what, 1)?;
    let segment = r.take(len, what)?;
    let mut rest = segment;
    while !rest.is_empty() {
        // `header` felts, the last of them the payload size, then the payload.
        let (head, body) = rest.split_at_checked(header).ok_or(DaError::Truncated {
            what,
            needed: header,
            available: 0,
        })?;
        let size = head.last().ok_or(DaError::Truncated {
            what,
            needed: header,
            available: 0,
        })?;
        let size = usize::try_from(felt_to_u256(size)).unwrap_or(usize::MAX);
        rest = body.get(size..).ok_or_else(|| DaError::CountExceedsData {
            what: "message payload size",
            count: size.to_string(),
            available: segment.len(),
        })?;
    }
    Ok(segment.to_vec())
}

fn flag(value: Felt, what: &'static str) -> Result<bool, DaError> {
    match value {
        v if v == Felt::ZERO => Ok(false),
        v if v == Felt::ONE => Ok(true),
        v => Err(DaError::BadPacking(format!(
            "{what} = {v:#x}, expected 0 or 1"
        ))),
    }
}

/// `high‖low`, each half 192 bits.
pub fn join_commitment(low: &Felt, high: &Felt) -> Result<[u8; 48], DaError> {
    let (low, high) = (felt_to_u256(low), felt_to_u256(high));
    if low.bit_len() > 192 || high.bit_len() > 192 {
        return Err(DaError::BadPacking(
            "KZG commitment half exceeds 192 bits".into(),
        ));
    }
    let mut out = [0u8; 48];
    out[..24].copy_from_slice(&high.to_be_bytes::<32>()[8..]);
    out[24..].copy_from_slice(&low.to_be_bytes::<32>()[8..]);
    Ok(out)
}

/// Splits a commitment into `(low, high)` felts.
pub fn split_commitment(commitment: &[u8; 48]) -> (Felt, Felt) {
    (
        Felt::from_bytes_be_slice(&commitment[24..]),
        Felt::from_bytes_be_slice(&commitment[..24]),
    )
}

/// `high << 128 | low`, each half 128 bits.
pub fn join_y(low: &Felt, high: &Felt) -> Result<[u8; 32], DaError> {
    let (low, high) = (felt_to_u256(low), felt_to_u256(high));
    if low.bit_len() > 128 || high.bit_len() > 128 {
        return Err(DaError::BadPacking("y half exceeds 128 bits".into()));
    }
    // `high` has at most 128 bits: the shift loses none.
    let y: U256 = high.wrapping_shl(128) | low;
    Ok(y.to_be_bytes::<32>())
}

/// Splits `y` into `(low, high)` felts.
pub fn split_y(y: &[u8; 32]) -> (Felt, Felt) {
    (
        Felt::from_bytes_be_slice(&y[16..]),
        Felt::from_bytes_be_slice(&y[..16]),
    )
}

mod abi {
    alloy_sol_types::sol! {
        function updateState(uint256[] programOutput, uint256 onchainDataHash, uint256 onchainDataSize);
        function updateStateKzgDA(uint256[] programOutput, bytes[] kzgProofs);
    }
    pub(super) mod v0_13_1 {
        alloy_sol_types::sol! {
            function updateStateKzgDA(uint256[] programOutput, bytes kzgProof);
        }
    }
}

/// Selector of `updateState(uint256[],uint256,uint256)`.
pub const UPDATE_STATE_SELECTOR: [u8; 4] = abi::updateStateCall::SELECTOR;
/// Selector of `updateStateKzgDA(uint256[],bytes[])` (v0.13.2+).
pub const UPDATE_STATE_KZG_SELECTOR: [u8; 4] = abi::updateStateKzgDACall::SELECTOR;
/// Selector of `updateStateKzgDA(uint256[],bytes)` (v0.13.1).
pub const UPDATE_STATE_KZG_V0_13_1_SELECTOR: [u8; 4] = abi::v0_13_1::updateStateKzgDACall::SELECTOR;

/// What the L1 state-update transaction carried besides the program output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum L1Binding {
    /// `updateState`: the DA is in memory pages bound by this fact-tree node and size.
    Calldata {
        /// The fact-tree node over the DA pages (`onchainDataHash`).
        onchain_data_hash: B256,
        /// Number of DA felts in the pages (`onchainDataSize`).
        onchain_data_size: U256,
    },
    /// `updateStateKzgDA`: one KZG proof per blob (`single` for the v0.13.1 signature).
    Kzg {
        /// The KZG proofs, one per blob, 48 bytes each.
        proofs: Vec<[u8; 48]>,
        /// True for the v0.13.1 `updateStateKzgDA(uint256[],bytes)` with its single proof.
        single: bool,
    },
    /// Only the program output is known (a JSON array of felts).
    None,
}

/// An L1 state update: the program output words and what bound the DA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L1Update {
    /// The program output words, page 0 of the fact tree.
    pub program_output: Vec<Felt>,
    /// How the DA was bound: memory-page fact, KZG proofs, or nothing known.
    pub binding: L1Binding,
}

impl L1Update {
    /// Header versions the L1 function allows.
    pub fn header_candidates(&self) -> &'static [HeaderVersion] {
        match &self.binding {
            L1Binding::Kzg { single: true, .. } => &[HeaderVersion::V0_13_1],
            L1Binding::Kzg { single: false, .. } => &[HeaderVersion::V0_13_2],
            _ => &HeaderVersion::ALL,
        }
    }
}

/// Decodes `updateState` / `updateStateKzgDA` calldata (selector included).
pub fn parse_l1_calldata(calldata: &[u8]) -> Result<L1Update, DaError> {
    let selector: [u8; 4] = calldata
        .get(..4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| DaError::Calldata("shorter than a selector".into()))?;
    let abi_err = |e: alloy_sol_types::Error| DaError::Calldata(e.to_string());
    let (words, binding) = match selector {
        UPDATE_STATE_SELECTOR => {
            let call = abi::updateStateCall::abi_decode_validate(calldata).map_err(abi_err)?;
            let binding = L1Binding::Calldata {
                onchain_data_hash: B256::from(call.onchainDataHash),
                onchain_data_size: call.onchainDataSize,
            };
            (call.programOutput, binding)
        }
        UPDATE_STATE_KZG_SELECTOR => {
            let call = abi::updateStateKzgDACall::abi_decode_validate(calldata).map_err(abi_err)?;
            let proofs = call
                .kzgProofs
                .iter()
                .map(|p| proof_bytes(p))
                .collect::<Result<_, _>>()?;
            (
                call.programOutput,
                L1Binding::Kzg {
                    proofs,
                    single: false,
                },
            )
        }
        UPDATE_STATE_KZG_V0_13_1_SELECTOR => {
            let call = abi::v0_13_1::updateStateKzgDACall::abi_decode_validate(calldata)
                .map_err(abi_err)?;
            (
                call.programOutput,
                L1Binding::Kzg {
                    proofs: vec![proof_bytes(&call.kzgProof)?],
                    single: true,
                },
            )
        }
        other => {
            return Err(DaError::Calldata(format!(
                "selector 0x{} is not updateState or updateStateKzgDA",
                hex::encode(other)
            )));
        }
    };
    let program_output = words
        .iter()
        .enumerate()
        .map(|(i, w)| felt_from_u256(w, "program output word", i))
        .collect::<Result<_, _>>()?;
    Ok(L1Update {
        program_output,
        binding,
    })
}

fn proof_bytes(proof: &[u8]) -> Result<[u8; 48], DaError> {
    proof
        .try_into()
        .map_err(|_| DaError::Calldata(format!("KZG proof of {} bytes, expected 48", proof.len())))
}

/// Encodes `updateState` calldata (for the devnet and tests).
pub fn encode_update_state(
    program_output: &[Felt],
    onchain_data_hash: B256,
    onchain_data_size: usize,
) -> Vec<u8> {
    abi::updateStateCall {
        programOutput: program_output.iter().map(felt_to_u256).collect(),
        onchainDataHash: U256::from_be_bytes(onchain_data_hash.0),
        onchainDataSize: U256::from(onchain_data_size),
    }
    .abi_encode()
}

/// Encodes `updateStateKzgDA(uint256[],bytes[])` calldata (for the devnet and tests).
pub fn encode_update_state_kzg(program_output: &[Felt], proofs: &[[u8; 48]]) -> Vec<u8> {
    abi::updateStateKzgDACall {
        programOutput: program_output.iter().map(felt_to_u256).collect(),
        kzgProofs: proofs.iter().map(|p| p.to_vec().into()).collect(),
    }
    .abi_encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_match_the_published_values() {
        assert_eq!(UPDATE_STATE_SELECTOR, [0x77, 0x55, 0x26, 0x41]);
        assert_eq!(UPDATE_STATE_KZG_SELECTOR, [0x50, 0x7e, 0xe5, 0x28]);
    }

    #[test]
    fn detects_each_header_version() {
        let f = Felt::from;
        let v11 = [f(1u64), f(2u64), f(3u64), f(4u64), f(0u64), f(0u64)];
        assert_eq!(
            detect(&v11, &HeaderVersion::ALL).unwrap().version,
            HeaderVersion::V0_11
        );
        let v1321 = [
            f(1u64),
            f(2u64),
            f(3u64),
            f(4u64),
            f(5u64),
            f(0u64),
            f(0u64),
            f(0u64),
        ];
        assert_eq!(
            detect(&v1321, &HeaderVersion::ALL).unwrap().version,
            HeaderVersion::V0_13_1
        );
        let mut v132 = vec![f(1u64); 8];
        v132.extend([f(0u64), f(0u64), f(0u64), f(0u64)]);
        assert_eq!(
            detect(&v132, &HeaderVersion::ALL).unwrap().version,
            HeaderVersion::V0_13_2
        );
        // A message segment longer than the output.
        assert!(
            detect(
                &[f(1u64), f(2u64), f(3u64), f(4u64), f(9u64)],
                &HeaderVersion::ALL
            )
            .is_err()
        );
    }

    #[test]
    fn commitment_and_y_halves_round_trip() {
        let mut c = [0u8; 48];
        c.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let (low, high) = split_commitment(&c);
        assert_eq!(join_commitment(&low, &high).unwrap(), c);
        let y = [0xabu8; 32];
        let (low, high) = split_y(&y);
        assert_eq!(join_y(&low, &high).unwrap(), y);
    }
}
