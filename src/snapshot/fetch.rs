//! Downloading a snapshot published over HTTP(S): `URL/manifest.json` and
//! the chunk files it names, each read with a size cap (the manifest's own
//! cap, then exactly the size the manifest gives a chunk). Nothing is
//! trusted here: the import checks every checksum and the roots afterwards.

use std::io::Write;
use std::path::Path;

use super::manifest::{MANIFEST_FILE, SnapshotManifest};
use super::{MAX_MANIFEST_BYTES, SnapshotError};

/// Downloads the snapshot at `url` into `dir` (created; files already there
/// with the right size are kept, so an interrupted download resumes).
pub async fn download(url: &str, dir: &Path) -> Result<SnapshotManifest, SnapshotError> {
    let base = url.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| SnapshotError::Manifest(format!("HTTP client: {e}")))?;
    std::fs::create_dir_all(dir).map_err(SnapshotError::io(dir))?;
    let manifest_path = dir.join(MANIFEST_FILE);
    get_to_file(
        &client,
        &format!("{base}/{MANIFEST_FILE}"),
        &manifest_path,
        MAX_MANIFEST_BYTES,
        None,
    )
    .await?;
    let manifest = SnapshotManifest::read(dir)?;
    for chunk in &manifest.chunks {
        let path = dir.join(&chunk.file);
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == chunk.size) {
            continue;
        }
        get_to_file(
            &client,
            &format!("{base}/{}", chunk.file),
            &path,
            chunk.size,
            Some(chunk.size),
        )
        .await?;
    }
    Ok(manifest)
}

async fn get_to_file(
    client: &reqwest::Client,
    url: &str,
    path: &Path,
    cap: u64,
    exact: Option<u64>,
) -> Result<(), SnapshotError> {
    let fail = |detail: String| SnapshotError::Manifest(format!("GET {url}: {detail}"));
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        return Err(fail(format!("HTTP {}", response.status())));
    }
    let tmp = path.with_extension("part");
    let mut file = std::fs::File::create(&tmp).map_err(SnapshotError::io(&tmp))?;
    let mut total = 0u64;
    while let Some(bytes) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
        total = total.saturating_add(bytes.len() as u64);
        if total > cap {
            return Err(SnapshotError::Oversized {
                file: url.to_owned(),
                cap,
            });
        }
        file.write_all(&bytes).map_err(SnapshotError::io(&tmp))?;
    }
    if let Some(expected) = exact
        && total != expected
    {
        return Err(SnapshotError::ChunkSize {
            file: url.to_owned(),
            expected,
            found: total,
        });
    }
    file.sync_all().map_err(SnapshotError::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(SnapshotError::io(path))
}
