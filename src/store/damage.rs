//! Telling a damaged store from a missing one: RocksDB's corruption errors
//! turned into messages that name the file, the store's damage record
//! (first damage, count) and the whole-store checks (`check_files`, `scrub`).

use super::*;

/// What a RocksDB error says about damage, with the file named, or `None`
/// for an error that is not damage (busy, I/O on a healthy store...).
fn damage_of(error: &rocksdb::Error) -> Option<String> {
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
fn file_name(name: &str) -> &str {
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

impl Store {
    /// Checks every table file of the store's current version against the
    /// size RocksDB recorded for it: a truncated or replaced file is named.
    pub fn check_files(&self) -> Result<(), StoreError> {
        for file in self.live_files()? {
            let on_disk = Path::new(&self.path).join(file.name.trim_start_matches('/'));
            let problem = match std::fs::metadata(&on_disk) {
                Ok(meta) if meta.len() == file.size as u64 => continue,
                Ok(meta) => format!(
                    "file {} is {} bytes, the store recorded {} (truncated or overwritten)",
                    file_name(&file.name),
                    meta.len(),
                    file.size
                ),
                Err(e) => format!("file {} cannot be read: {e}", file_name(&file.name)),
            };
            return Err(self.damaged(problem));
        }
        Ok(())
    }

    /// The first damage a read met, if any.
    pub fn damage(&self) -> Option<String> {
        self.damage.first.lock().map(|g| g.clone()).unwrap_or(None)
    }

    /// Reads that met damage so far (a Prometheus counter).
    pub fn damage_errors(&self) -> u64 {
        self.damage.errors.load(Ordering::Relaxed)
    }

    /// Lets reads go on after damage (for `verify`, which reports every
    /// damaged file); by default the store refuses every read once one met damage.
    pub fn keep_reading_after_damage(&self) {
        self.damage
            .keep_reading
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Records damage and returns its error.
    pub(super) fn damaged(&self, problem: String) -> StoreError {
        self.damage.errors.fetch_add(1, Ordering::Relaxed);
        // Recorded before logging: a log write that fails (a closed stderr)
        // must not keep the damage from `/ready`.
        let is_first = match self.damage.first.lock() {
            Ok(mut first) if first.is_none() => {
                *first = Some(problem.clone());
                self.damage.seen.store(true, Ordering::Release);
                true
            }
            _ => false,
        };
        if is_first {
            tracing::error!(store = %self.path, %problem, "the store is damaged");
        }
        StoreError::Damaged {
            path: self.path.clone(),
            problem,
        }
    }

    /// Maps a read error: corruption becomes [`StoreError::Damaged`], counted.
    pub(super) fn read_error(&self, error: rocksdb::Error) -> StoreError {
        match damage_of(&error) {
            Some(problem) => self.damaged(problem),
            None => error.into(),
        }
    }

    /// Refuses reads of a store known to be damaged.
    pub(super) fn refuse_if_damaged(&self) -> Result<(), StoreError> {
        // Every read passes here: one atomic load on a healthy store.
        if !self.damage.seen.load(Ordering::Acquire)
            || self.damage.keep_reading.load(Ordering::Relaxed)
        {
            return Ok(());
        }
        match self.damage() {
            Some(problem) => Err(StoreError::Damaged {
                path: self.path.clone(),
                problem,
            }),
            None => Ok(()),
        }
    }

    /// Reads every entry of `column` with checksums verified, calling
    /// `visit` on each; the first damage ends the column with its error.
    pub fn scan_column(
        &self,
        column: Column,
        mut visit: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.refuse_if_damaged()?;
        let mut options = read_options();
        // A whole-store pass must not evict the working set.
        options.fill_cache(false);
        let mut iter = self.db.raw_iterator_cf_opt(&self.cf(column), options);
        iter.seek_to_first();
        while let (Some(k), Some(v)) = (iter.key(), iter.value()) {
            visit(k, v)?;
            iter.next();
        }
        iter.status().map_err(|e| self.read_error(e))
    }

    /// Reads every block of every column with its checksum verified, so
    /// that damage anywhere is found (and, like any read that meets damage,
    /// recorded: the store then refuses reads and `/ready` reports it).
    /// Returns the entries read, or the first damage.
    pub fn scrub(&self) -> Result<u64, StoreError> {
        let mut entries = 0u64;
        for column in Column::ALL {
            self.scan_column(column, |_, _| {
                entries = entries.saturating_add(1);
                Ok(())
            })?;
        }
        Ok(entries)
    }
}
