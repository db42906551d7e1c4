//! Calldata-mode DA: memory pages registered with
//! `registerContinuousMemoryPage(uint256 startAddr, uint256[] values, uint256 z,
//! uint256 alpha, uint256 prime)` (selector 0x5578ceae) on the memory-page fact
//! registry. Pages 1.. of the output hold the DA (page 0 is the program output
//! passed to `updateState`); the OS splits the DA into pages of at most 3800 felts
//! (1000 before v0.11).

use alloy_primitives::U256;
use alloy_sol_types::SolCall;
use starknet_types_core::felt::Felt;

use super::{DaError, felt_from_u256};

alloy_sol_types::sol! {
    function registerContinuousMemoryPage(uint256 startAddr, uint256[] values, uint256 z, uint256 alpha, uint256 prime);
}

/// Selector of `registerContinuousMemoryPage`.
pub const REGISTER_PAGE_SELECTOR: [u8; 4] = registerContinuousMemoryPageCall::SELECTOR;

/// One registered memory page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPage {
    /// Cairo memory address of the page's first value.
    pub start_addr: U256,
    /// The page's values; for pages 1.. these are the DA felts.
    pub values: Vec<U256>,
    /// Interaction element `z` of the page hash `∏ (z − (addr + alpha·value)) mod prime`.
    pub z: U256,
    /// Interaction element `alpha` of the same product.
    pub alpha: U256,
    /// The field the product is taken in; the Stark prime for Starknet pages.
    pub prime: U256,
}

/// Decodes one `registerContinuousMemoryPage` calldata (selector included).
pub fn parse_page(calldata: &[u8]) -> Result<MemoryPage, DaError> {
    if calldata.get(..4) != Some(REGISTER_PAGE_SELECTOR.as_slice()) {
        return Err(DaError::Calldata(
            "not a registerContinuousMemoryPage call (selector 0x5578ceae)".into(),
        ));
    }
    let call = registerContinuousMemoryPageCall::abi_decode_validate(calldata)
        .map_err(|e| DaError::Calldata(e.to_string()))?;
    Ok(MemoryPage {
        start_addr: call.startAddr,
        values: call.values,
        z: call.z,
        alpha: call.alpha,
        prime: call.prime,
    })
}

/// Encodes a page registration (for the devnet and tests).
pub fn encode_page(page: &MemoryPage) -> Vec<u8> {
    registerContinuousMemoryPageCall {
        startAddr: page.start_addr,
        values: page.values.clone(),
        z: page.z,
        alpha: page.alpha,
        prime: page.prime,
    }
    .abi_encode()
}

/// Concatenates the pages' values (in page order) into DA felts, rejecting
/// values that are not Stark field elements.
pub fn pages_to_felts(pages: &[MemoryPage]) -> Result<Vec<Felt>, DaError> {
    let total: usize = pages.iter().map(|p| p.values.len()).sum();
    let mut felts = Vec::with_capacity(total);
    for value in pages.iter().flat_map(|p| p.values.iter()) {
        let index = felts.len();
        felts.push(felt_from_u256(value, "memory page value", index)?);
    }
    Ok(felts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_round_trip_and_selector() {
        assert_eq!(REGISTER_PAGE_SELECTOR, [0x55, 0x78, 0xce, 0xae]);
        let page = MemoryPage {
            start_addr: U256::from(100u64),
            values: vec![U256::from(1u64), U256::from(2u64)],
            z: U256::from(3u64),
            alpha: U256::from(4u64),
            prime: super::super::stark_prime(),
        };
        assert_eq!(parse_page(&encode_page(&page)).unwrap(), page);
        assert!(parse_page(&[0x55, 0x78, 0xce, 0xae, 1]).is_err());
        let bad = MemoryPage {
            values: vec![super::super::stark_prime()],
            ..page
        };
        assert!(matches!(
            pages_to_felts(&[bad]),
            Err(DaError::ElementOutOfRange { .. })
        ));
    }
}
