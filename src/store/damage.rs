//! Telling a damaged store from a missing one: RocksDB's corruption errors
//! turned into messages that name the file.

use super::*;

/// What a RocksDB error says about damage, with the file named, or `None`
/// for an error that is not damage (busy, I/O on a healthy store...).
pub(super) fn damage_of(error: &rocksdb::Error) -> Option<String> {
    let message = error.as_ref();
    let lower = message.to_ascii_lowercase();
    let is_damage = error.kind() == rocksdb::ErrorKind::Corruption
        || lower.contains("checksum")
        || lower.contains("truncated")
        || lower.contains("too short")
        || lower.contains("size mismatch");
    if !is_damage {
        return None;
    }
    Some(match table_file_in(message) {
        Some(file) if lower.contains("checksum") => {
            format!("file {file} failed its checksum ({message})")
        }
        // RocksDB adds that the MANIFEST "may be corrupted": it is the table
        // file whose size differs from the one the MANIFEST recorded.
        Some(file) if lower.contains("size mismatch") => format!(
            "file {file} does not have the size the store recorded: truncated or overwritten ({message})"
        ),
        Some(file) => format!("file {file} is damaged ({message})"),
        None => format!("RocksDB reports corruption ({message})"),
    })
}

/// The first `NNNNNN.sst` (or `.blob`, `MANIFEST-N`) file named in a RocksDB message.
pub(super) fn table_file_in(message: &str) -> Option<&str> {
    message
        .split(|c: char| c.is_whitespace() || c == '/' || c == ',' || c == ':')
        .find(|word| {
            word.ends_with(".sst") || word.ends_with(".blob") || word.starts_with("MANIFEST-")
        })
}

/// `/000011.sst` -> `000011.sst`.
pub(super) fn file_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Whether an open failed because a file went away (a writer's compaction).
pub(super) fn is_missing_file(error: &rocksdb::Error) -> bool {
    let lower = error.as_ref().to_ascii_lowercase();
    error.kind() == rocksdb::ErrorKind::NotFound
        || (error.kind() == rocksdb::ErrorKind::IOError && lower.contains("no such file"))
}

/// An open error, with damage named as damage.
pub(super) fn open_error(path: &Path, error: rocksdb::Error) -> StoreError {
    match damage_of(&error) {
        Some(problem) => StoreError::Damaged {
            path: path.display().to_string(),
            problem,
        },
        None => error.into(),
    }
}
