//! `eth_getLogs` range splitting: chunks of bounded width, halved on refusal.

use std::future::Future;

/// Fetches logs over `[from, to]` in chunks of at most `max_span` blocks,
/// halving any chunk the node refuses (`refused(&err)`), and concatenates the
/// results in block order. A single block that is still refused is an error:
/// no narrower query exists.
///
/// Iterative (an explicit stack of pending ranges, leftmost on top) so order
/// is preserved without recursion in async code.
pub async fn split_log_ranges<T, E, F, Fut>(
    from: u64,
    to: u64,
    max_span: u64,
    mut fetch: F,
    refused: impl Fn(&E) -> bool,
) -> Result<Vec<T>, E>
where
    F: FnMut(u64, u64) -> Fut,
    Fut: Future<Output = Result<Vec<T>, E>>,
{
    let mut out = Vec::new();
    if from > to {
        return Ok(out);
    }
    let span = max_span.max(1);
    // Chunks are pushed lazily: only the next untouched chunk start is kept,
    // so a huge range does not allocate one entry per chunk up front.
    let mut next_chunk = Some(from);
    let mut pending: Vec<(u64, u64)> = Vec::new();
    loop {
        let (lo, hi) = match pending.pop() {
            Some(range) => range,
            None => match next_chunk {
                Some(start) => {
                    let end = start.saturating_add(span - 1).min(to);
                    next_chunk = if end >= to { None } else { Some(end + 1) };
                    (start, end)
                }
                None => return Ok(out),
            },
        };
        match fetch(lo, hi).await {
            Ok(items) => out.extend(items),
            Err(e) if hi > lo && refused(&e) => {
                let mid = lo + (hi - lo) / 2;
                tracing::debug!(lo, hi, mid, "log range refused, splitting");
                pending.push((mid + 1, hi));
                pending.push((lo, mid));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::is_range_refusal;
    use super::*;
    use std::cell::RefCell;

    #[tokio::test]
    async fn range_splitting_halves_refused_ranges_and_keeps_order() {
        let calls = RefCell::new(Vec::new());
        let result = split_log_ranges(
            10,
            30,
            8,
            |lo, hi| {
                calls.borrow_mut().push((lo, hi));
                async move {
                    if hi - lo + 1 > 3 {
                        Err("block range too large")
                    } else {
                        Ok((lo..=hi).collect::<Vec<u64>>())
                    }
                }
            },
            |e: &&str| is_range_refusal(None, e),
        )
        .await
        .unwrap();
        assert_eq!(result, (10..=30).collect::<Vec<_>>());
        let calls = calls.into_inner();
        assert_eq!(calls[0], (10, 17), "first chunk is max_span wide");
        assert!(calls.iter().all(|(lo, hi)| hi - lo < 8));
    }

    #[tokio::test]
    async fn range_splitting_stops_on_other_errors_and_single_blocks() {
        let refused_always = split_log_ranges(
            0,
            5,
            100,
            |_, _| async { Err::<Vec<u64>, _>("block range too large") },
            |e: &&str| is_range_refusal(None, e),
        )
        .await;
        assert_eq!(refused_always, Err("block range too large"));
        let other = split_log_ranges(
            0,
            5,
            100,
            |_, _| async { Err::<Vec<u64>, _>("execution reverted") },
            |e: &&str| is_range_refusal(None, e),
        )
        .await;
        assert_eq!(other, Err("execution reverted"));
        let empty = split_log_ranges(
            5,
            4,
            10,
            |_, _| async { Ok::<Vec<u64>, &str>(vec![1]) },
            |_| true,
        )
        .await;
        assert_eq!(empty, Ok(vec![]));
        let top = split_log_ranges(
            u64::MAX - 1,
            u64::MAX,
            10,
            |lo, hi| async move { Ok::<_, &str>(vec![lo, hi]) },
            |_| true,
        )
        .await;
        assert_eq!(top, Ok(vec![u64::MAX - 1, u64::MAX]));
    }
}
