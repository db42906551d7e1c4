//! Pages of batches as Relay connections, with opaque cursors.

use async_graphql::{Error, Result, SimpleObject};

use super::batch::{Batch, load_batch};
use super::budget::Budget;
use super::schema::RollupHandle;
use crate::audit::Verdict;
use crate::store::{Column, keys};

/// Default and maximum page sizes of every list (The Graph's conventions).
pub const DEFAULT_PAGE: usize = 100;
/// Largest `first` a list accepts (a larger one is refused).
pub const MAX_PAGE: usize = 1000;

/// A page of batches (Relay connection).
#[derive(SimpleObject)]
pub struct BatchConnection {
    edges: Vec<BatchEdge>,
    page_info: PageInfo,
}

/// One batch of a page and its cursor.
#[derive(SimpleObject)]
pub struct BatchEdge {
    /// Opaque cursor; pass it as `after` to continue.
    cursor: String,
    node: Batch,
}

/// Whether a page has a successor and where it starts.
#[derive(SimpleObject)]
pub struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

/// One page of batches after `after`, optionally only those with `verdict`.
/// Checks the deadline between batches: a filtered page may scan many.
pub(crate) fn page(
    handle: &RollupHandle,
    b: &Budget,
    first: Option<i32>,
    after: Option<String>,
    verdict: Option<Verdict>,
) -> Result<BatchConnection> {
    let first = page_size(first)?;
    let mut next = match after {
        None => Some(0),
        Some(cursor) => Some(decode_cursor(&cursor)?.checked_add(1).ok_or_else(|| {
            Error::new(format!(
                "cursor {cursor:?} names batch {}, after which no batch number exists",
                u64::MAX
            ))
        })?),
    };
    let mut edges = Vec::new();
    let mut has_next_page = false;
    // Batch records exist for every applied batch of both families (audits may be
    // missing, or outlive an unwind after a crash) and are keyed by big-endian
    // batch number, so a forward scan is batch order.
    'scan: while let Some(from) = next {
        let chunk = handle
            .store
            .scan_from(Column::Batches, &keys::batch(from), 256)
            .map_err(|e| b.internal(e))?;
        if chunk.is_empty() {
            break;
        }
        for (key, _) in &chunk {
            b.check()?;
            let number = u64::from_be_bytes(
                key.as_slice()
                    .try_into()
                    .map_err(|_| b.internal("malformed batch key"))?,
            );
            next = number.checked_add(1);
            let Some(batch) = load_batch(handle, b, number)? else {
                continue;
            };
            if verdict.is_some_and(|v| v != batch.verdict) {
                continue;
            }
            if edges.len() == first {
                has_next_page = true;
                break 'scan;
            }
            edges.push(BatchEdge {
                cursor: encode_cursor(number),
                node: batch,
            });
        }
    }
    // A batch the follower halted on with evidence (a MISMATCH audit written
    // with the halt record, the batch itself never applied) has no batch
    // record; it is the one finding past the last applied batch.
    if let Some(after_last) = next
        && !has_next_page
    {
        let halted = crate::audit::HaltRecord::read(&handle.store)
            .map_err(|e| b.internal(e))?
            .and_then(|h| h.batch);
        if halted.is_some_and(|h| h >= after_last)
            && let Some(number) = halted
            && let Some(batch) = load_batch(handle, b, number)?
            && batch.verdict == Verdict::Mismatch
            && verdict.is_none_or(|v| v == batch.verdict)
        {
            if edges.len() == first {
                has_next_page = true;
            } else {
                edges.push(BatchEdge {
                    cursor: encode_cursor(number),
                    node: batch,
                });
            }
        }
    }
    let end_cursor = edges.last().map(|e| e.cursor.clone());
    Ok(BatchConnection {
        edges,
        page_info: PageInfo {
            has_next_page,
            end_cursor,
        },
    })
}

/// The page size `first` asks for, within the limits.
pub(crate) fn page_size(first: Option<i32>) -> Result<usize> {
    match first.map(usize::try_from) {
        None => Ok(DEFAULT_PAGE),
        Some(Ok(n)) if n <= MAX_PAGE => Ok(n),
        Some(_) => Err(Error::new(format!(
            "first must be between 0 and {MAX_PAGE}, got {}",
            first.unwrap_or_default()
        ))),
    }
}

fn encode_cursor(batch: u64) -> String {
    hex::encode(format!("batch:{batch}"))
}

/// The batch a cursor names; any other text is a clear error.
pub fn decode_cursor(cursor: &str) -> Result<u64> {
    hex::decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("batch:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| {
            let shown: String = cursor.chars().take(80).collect();
            Error::new(format!("invalid cursor {shown:?}"))
        })
}
