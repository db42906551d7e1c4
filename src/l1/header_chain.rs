//! Block hashes proved to belong to one chain: trusted checkpoints, and
//! headers linked to them by parent hashes. Pure state; the fetching lives in
//! [`super::verified`].
//!
//! Direction matters. Walking *down* from a trusted block proves every
//! ancestor: a parent hash commits to the parent header. Walking *up* from a
//! checkpoint proves only descent: since the merge an execution header carries
//! no proof of work, so a node could make up children of a real block. Descent
//! still refuses another chain, a fork off any block already verified, and any
//! header that contradicts a later checkpoint; checkpoints at the finalized tip
//! (`--l1-checkpoint` of a recent block, or the beacon light client) turn the
//! blocks below them into proved ancestors.

use std::collections::BTreeMap;

use alloy_consensus::Header;
use alloy_primitives::{B256, Bloom};

use super::L1Block;
use super::verify::VerifyError;

/// A block hash the user trusts (a finalized block, as light clients start from).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L1Checkpoint {
    /// Block number.
    pub number: u64,
    /// Trusted block hash.
    pub hash: B256,
}

/// What is kept of a header once it is linked to the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainLink {
    /// Block number.
    pub number: u64,
    /// Block hash, checked to be the header's keccak.
    pub hash: B256,
    /// Parent hash from the header.
    pub parent_hash: B256,
    /// Timestamp from the header, Unix seconds.
    pub timestamp: u64,
    /// Bound by the hash: lets a block be skipped when it cannot hold a wanted log.
    pub logs_bloom: Bloom,
}

impl ChainLink {
    /// The link of a header whose hash is already checked to be `hash`.
    pub fn new(header: &Header, hash: B256) -> Self {
        Self {
            number: header.number,
            hash,
            parent_hash: header.parent_hash,
            timestamp: header.timestamp,
            logs_bloom: header.logs_bloom,
        }
    }

    /// The link's header fields as an [`L1Block`].
    pub fn block(&self) -> L1Block {
        L1Block {
            number: self.number,
            hash: self.hash,
            parent_hash: self.parent_hash,
            timestamp: self.timestamp,
        }
    }
}

/// Verified links (a bounded window) and checkpoints (never forgotten).
#[derive(Clone, Debug)]
pub struct HeaderChain {
    links: BTreeMap<u64, ChainLink>,
    checkpoints: BTreeMap<u64, B256>,
    capacity: usize,
}

/// The nearest place a block can be chained from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// A known hash above: walk down through parent hashes (proves ancestry).
    Above {
        /// Height of the known hash.
        number: u64,
        /// The known hash.
        hash: B256,
    },
    /// A known hash below: walk up checking parent hashes (proves descent).
    Below {
        /// Height of the known hash.
        number: u64,
        /// The known hash.
        hash: B256,
    },
}

impl HeaderChain {
    /// `capacity` bounds the links kept (each ~350 bytes); checkpoints are extra.
    pub fn new(capacity: usize) -> Self {
        Self {
            links: BTreeMap::new(),
            checkpoints: BTreeMap::new(),
            capacity: capacity.max(2),
        }
    }

    /// Trusts `checkpoint`; a link already verified at its height must agree.
    pub fn add_checkpoint(&mut self, checkpoint: L1Checkpoint) -> Result<(), VerifyError> {
        if let Some(known) = self.known_hash(checkpoint.number)
            && known != checkpoint.hash
        {
            return Err(VerifyError::NotOnChain {
                number: checkpoint.number,
                hash: checkpoint.hash,
                verified: known,
            });
        }
        self.checkpoints.insert(checkpoint.number, checkpoint.hash);
        Ok(())
    }

    /// The verified link at `number`, if kept.
    pub fn link(&self, number: u64) -> Option<&ChainLink> {
        self.links.get(&number)
    }

    /// The verified hash at `number`, from a link or a checkpoint.
    pub fn known_hash(&self, number: u64) -> Option<B256> {
        self.links
            .get(&number)
            .map(|l| l.hash)
            .or_else(|| self.checkpoints.get(&number).copied())
    }

    /// The closest known hash to chain `number` from; above wins a tie, since
    /// walking down proves more.
    pub fn anchor(&self, number: u64) -> Option<Anchor> {
        let above = self.nearest(number.saturating_add(1)..);
        let below = self.nearest_below(number);
        match (above, below) {
            (Some((a, ha)), Some((b, hb))) => Some(if a - number <= number - b {
                Anchor::Above {
                    number: a,
                    hash: ha,
                }
            } else {
                Anchor::Below {
                    number: b,
                    hash: hb,
                }
            }),
            (Some((number, hash)), None) => Some(Anchor::Above { number, hash }),
            (None, Some((number, hash))) => Some(Anchor::Below { number, hash }),
            (None, None) => None,
        }
    }

    /// Accepts `header`, hashing to `hash`, at a height whose hash is known.
    pub fn accept_known(&mut self, header: &Header, hash: B256) -> Result<ChainLink, VerifyError> {
        match self.known_hash(header.number) {
            Some(known) if known == hash => Ok(self.insert(ChainLink::new(header, hash))),
            Some(known) => Err(VerifyError::NotOnChain {
                number: header.number,
                hash,
                verified: known,
            }),
            None => Err(VerifyError::NoCheckpoint {
                number: header.number,
            }),
        }
    }

    /// Accepts `header` (hashing to `hash`) as the parent of the verified
    /// block `child`.
    pub fn accept_parent(
        &mut self,
        child: &ChainLink,
        header: &Header,
        hash: B256,
    ) -> Result<ChainLink, VerifyError> {
        if header.number.checked_add(1) != Some(child.number) {
            return Err(VerifyError::WrongBlock {
                asked: format!("parent of {}", child.number),
                number: header.number,
            });
        }
        if hash != child.parent_hash {
            return Err(VerifyError::NotOnChain {
                number: header.number,
                hash,
                verified: child.parent_hash,
            });
        }
        self.accept_unknown_or_equal(header, hash)
    }

    /// Accepts `header` (hashing to `hash`) as the child of the verified block
    /// `parent`.
    pub fn accept_child(
        &mut self,
        parent: &ChainLink,
        header: &Header,
        hash: B256,
    ) -> Result<ChainLink, VerifyError> {
        if parent.number.checked_add(1) != Some(header.number) {
            return Err(VerifyError::WrongBlock {
                asked: format!("child of {}", parent.number),
                number: header.number,
            });
        }
        if header.parent_hash != parent.hash {
            return Err(VerifyError::ParentHash {
                number: header.number,
                parent_hash: header.parent_hash,
                expected: parent.hash,
            });
        }
        self.accept_unknown_or_equal(header, hash)
    }

    /// The highest checkpoint: blocks above it are proved only to descend from it.
    pub fn newest_checkpoint(&self) -> Option<L1Checkpoint> {
        self.checkpoints
            .last_key_value()
            .map(|(&number, &hash)| L1Checkpoint { number, hash })
    }

    /// Forgets links above `number` (after an unwind on `safe`/`latest`);
    /// checkpoints stay.
    pub fn forget_above(&mut self, number: u64) {
        self.links.split_off(&number.saturating_add(1));
    }

    fn accept_unknown_or_equal(
        &mut self,
        header: &Header,
        hash: B256,
    ) -> Result<ChainLink, VerifyError> {
        match self.known_hash(header.number) {
            Some(known) if known != hash => Err(VerifyError::NotOnChain {
                number: header.number,
                hash,
                verified: known,
            }),
            _ => Ok(self.insert(ChainLink::new(header, hash))),
        }
    }

    /// Inserts a link; past capacity, drops the link farthest from it (the
    /// window follows where the caller is working).
    fn insert(&mut self, link: ChainLink) -> ChainLink {
        let number = link.number;
        self.links.insert(number, link.clone());
        while self.links.len() > self.capacity {
            let (Some((&low, _)), Some((&high, _))) =
                (self.links.first_key_value(), self.links.last_key_value())
            else {
                break;
            };
            let drop = if number - low.min(number) >= high.max(number) - number {
                low
            } else {
                high
            };
            self.links.remove(&drop);
        }
        link
    }

    fn nearest(&self, range: std::ops::RangeFrom<u64>) -> Option<(u64, B256)> {
        let link = self
            .links
            .range(range.clone())
            .next()
            .map(|(n, l)| (*n, l.hash));
        let checkpoint = self.checkpoints.range(range).next().map(|(n, h)| (*n, *h));
        [link, checkpoint]
            .into_iter()
            .flatten()
            .min_by_key(|(n, _)| *n)
    }

    fn nearest_below(&self, number: u64) -> Option<(u64, B256)> {
        let link = self
            .links
            .range(..number)
            .next_back()
            .map(|(n, l)| (*n, l.hash));
        let checkpoint = self
            .checkpoints
            .range(..number)
            .next_back()
            .map(|(n, h)| (*n, *h));
        [link, checkpoint]
            .into_iter()
            .flatten()
            .max_by_key(|(n, _)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain of real-format headers (RLP-hashed by alloy), linked by parent hash.
    fn chain(length: u64) -> Vec<(Header, B256)> {
        let mut out: Vec<(Header, B256)> = Vec::new();
        for number in 0..length {
            let header = Header {
                number,
                parent_hash: out.last().map_or(B256::ZERO, |(_, h)| *h),
                timestamp: 1_700_000_000 + 12 * number,
                ..Header::default()
            };
            let hash = header.hash_slow();
            out.push((header, hash));
        }
        out
    }

    #[test]
    fn links_walk_up_and_down_from_checkpoints_and_refuse_other_chains() {
        let blocks = chain(10);
        let mut headers = HeaderChain::new(100);
        headers
            .add_checkpoint(L1Checkpoint {
                number: 5,
                hash: blocks[5].1,
            })
            .unwrap();
        let five = headers.accept_known(&blocks[5].0, blocks[5].1).unwrap();
        let four = headers
            .accept_parent(&five, &blocks[4].0, blocks[4].1)
            .unwrap();
        headers
            .accept_child(&five, &blocks[6].0, blocks[6].1)
            .unwrap();
        assert_eq!(headers.known_hash(4), Some(four.hash));
        // A header of another chain at height 3: right number, wrong hash.
        let mut other = blocks[3].0.clone();
        other.extra_data = b"another chain".to_vec().into();
        let other_hash = other.hash_slow();
        assert!(matches!(
            headers.accept_parent(&four, &other, other_hash),
            Err(VerifyError::NotOnChain { number: 3, .. })
        ));
        // A fork at height 7: its parent is not the verified 6.
        let mut fork = blocks[7].0.clone();
        fork.parent_hash = other_hash;
        let six = headers.link(6).unwrap().clone();
        assert!(matches!(
            headers.accept_child(&six, &fork, fork.hash_slow()),
            Err(VerifyError::ParentHash { number: 7, .. })
        ));
        assert_eq!(
            headers.anchor(8),
            Some(Anchor::Below {
                number: 6,
                hash: blocks[6].1
            })
        );
    }

    #[test]
    fn the_window_is_bounded_and_checkpoints_are_kept() {
        let blocks = chain(50);
        let mut headers = HeaderChain::new(8);
        headers
            .add_checkpoint(L1Checkpoint {
                number: 0,
                hash: blocks[0].1,
            })
            .unwrap();
        let mut parent = headers.accept_known(&blocks[0].0, blocks[0].1).unwrap();
        for (header, hash) in &blocks[1..] {
            parent = headers.accept_child(&parent, header, *hash).unwrap();
        }
        assert_eq!(headers.links.len(), 8);
        assert_eq!(headers.known_hash(0), Some(blocks[0].1));
        assert_eq!(headers.known_hash(49), Some(blocks[49].1));
        assert_eq!(headers.known_hash(20), None);
    }
}
