//! Chunk files: writing records into zstd chunks with their SHA-256, and
//! reading them back with every check before a byte is decompressed.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::{ChunkInfo, chunk_file_name};
use super::{MAX_CHUNK_BYTES, MAX_ZSTD_WINDOW_LOG, SnapshotError};

/// zstd level of exported chunks: level 3 compresses leaf records about as
/// well as 19 here (hashes do not compress) at a fraction of the time.
const ZSTD_LEVEL: i32 = 3;

/// Writes records into numbered chunks of at most `chunk_leaves` records.
pub struct ChunkWriter {
    dir: PathBuf,
    chunk_leaves: u64,
    current: Option<(zstd::stream::write::Encoder<'static, HashingWriter>, u64)>,
    next_leaf: u64,
    /// Chunks closed so far, in order.
    pub chunks: Vec<ChunkInfo>,
}

impl ChunkWriter {
    /// A writer into `dir`, closing a chunk every `chunk_leaves` records (at least 1).
    pub fn new(dir: &Path, chunk_leaves: u64) -> Self {
        ChunkWriter {
            dir: dir.to_path_buf(),
            chunk_leaves: chunk_leaves.max(1),
            current: None,
            next_leaf: 0,
            chunks: Vec::new(),
        }
    }

    /// Appends one record (a leaf); records never straddle chunks.
    pub fn push(&mut self, record: &[u8]) -> Result<(), SnapshotError> {
        if self.current.is_none() {
            let path = self.dir.join(chunk_file_name(self.chunks.len()));
            let file = File::create(&path).map_err(SnapshotError::io(&path))?;
            let writer = HashingWriter {
                inner: BufWriter::with_capacity(1 << 20, file),
                hasher: Sha256::new(),
                written: 0,
            };
            let encoder = zstd::stream::write::Encoder::new(writer, ZSTD_LEVEL)
                .map_err(SnapshotError::io(&path))?;
            self.current = Some((encoder, 0));
        }
        let (encoder, count) = self.current.as_mut().expect("opened above");
        encoder
            .write_all(record)
            .map_err(SnapshotError::io(&self.dir))?;
        // Below `chunk_leaves` before this record (the chunk closes on
        // reaching it), so the sum never saturates.
        *count = count.saturating_add(1);
        if *count >= self.chunk_leaves {
            self.close_chunk()?;
        }
        Ok(())
    }

    fn close_chunk(&mut self) -> Result<(), SnapshotError> {
        let Some((encoder, count)) = self.current.take() else {
            return Ok(());
        };
        let file = chunk_file_name(self.chunks.len());
        let path = self.dir.join(&file);
        let mut writer = encoder.finish().map_err(SnapshotError::io(&path))?;
        writer.inner.flush().map_err(SnapshotError::io(&path))?;
        writer
            .inner
            .get_ref()
            .sync_all()
            .map_err(SnapshotError::io(&path))?;
        self.chunks.push(ChunkInfo {
            file,
            size: writer.written,
            first_leaf: self.next_leaf,
            leaves: count,
            sha256: format!("0x{}", hex::encode(writer.hasher.finalize())),
        });
        // Leaves this process wrote, one by one: u64 does not run out.
        self.next_leaf = self.next_leaf.saturating_add(count);
        Ok(())
    }

    /// Closes the last chunk and returns every chunk written.
    pub fn finish(mut self) -> Result<(Vec<ChunkInfo>, u64), SnapshotError> {
        self.close_chunk()?;
        Ok((self.chunks, self.next_leaf))
    }
}

/// A file writer that computes the SHA-256 and byte count of what it writes.
pub struct HashingWriter {
    inner: BufWriter<File>,
    hasher: Sha256,
    written: u64,
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written = self.written.saturating_add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Checks a chunk file against its manifest entry: exact size, then SHA-256,
/// streaming (the file is never held in memory).
pub fn verify_chunk(dir: &Path, info: &ChunkInfo) -> Result<(), SnapshotError> {
    let path = dir.join(&info.file);
    let file = File::open(&path).map_err(SnapshotError::io(&path))?;
    let mut reader = file.take(info.size.min(MAX_CHUNK_BYTES).saturating_add(1));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(SnapshotError::io(&path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total = total.saturating_add(n as u64);
    }
    if total != info.size {
        return Err(SnapshotError::ChunkSize {
            file: info.file.clone(),
            expected: info.size,
            found: total,
        });
    }
    let found = format!("0x{}", hex::encode(hasher.finalize()));
    if !found.eq_ignore_ascii_case(&info.sha256) {
        return Err(SnapshotError::Checksum {
            file: info.file.clone(),
            expected: info.sha256.clone(),
            found,
        });
    }
    Ok(())
}

/// Streams the fixed-width records of a verified chunk to `each`. The
/// decompressed stream is read through a reader capped at `cap` bytes (one
/// byte more is an error), and the zstd window is capped too, so neither a
/// bomb nor a lying header can make the import allocate more than a few MB.
/// `record_len` gives the length of the record starting with a byte.
pub fn read_records(
    dir: &Path,
    info: &ChunkInfo,
    cap: u64,
    record_len: impl Fn(u8) -> Option<usize>,
    each: impl FnMut(&[u8]) -> Result<(), SnapshotError>,
) -> Result<u64, SnapshotError> {
    let path = dir.join(&info.file);
    let file = File::open(&path).map_err(SnapshotError::io(&path))?;
    read_records_from(BufReader::new(file), info, cap, record_len, each)
}

/// [`read_records`] over any source of the compressed chunk (the file, or
/// bytes in memory); at most `info.size` bytes of it are read.
pub fn read_records_from(
    compressed: impl BufRead,
    info: &ChunkInfo,
    cap: u64,
    record_len: impl Fn(u8) -> Option<usize>,
    mut each: impl FnMut(&[u8]) -> Result<(), SnapshotError>,
) -> Result<u64, SnapshotError> {
    let decompress = |e: std::io::Error| SnapshotError::Decompress {
        file: info.file.clone(),
        detail: e.to_string(),
    };
    let mut decoder =
        zstd::stream::read::Decoder::with_buffer(compressed.take(info.size)).map_err(decompress)?;
    decoder
        .window_log_max(MAX_ZSTD_WINDOW_LOG)
        .map_err(decompress)?;
    let cap = cap.min(MAX_CHUNK_BYTES);
    let mut reader = BufReader::with_capacity(1 << 16, decoder.take(cap.saturating_add(1)));
    let mut record = [0u8; 256];
    let mut read = 0u64;
    let mut count = 0u64;
    loop {
        let mut tag = [0u8; 1];
        // `read` stays at most `cap + 1` (checked after every record, and the
        // reader yields no more), `cap` at most MAX_CHUNK_BYTES, a record at
        // most 256 bytes: the saturating sums below are exact.
        let at = read;
        match reader.read(&mut tag).map_err(decompress)? {
            0 => break,
            _ => read = read.saturating_add(1),
        }
        let len = record_len(tag[0])
            .filter(|len| (1..=record.len()).contains(len))
            .ok_or_else(|| SnapshotError::Record {
                file: info.file.clone(),
                detail: format!("unknown record tag {:#04x} at byte {at}", tag[0]),
            })?;
        record[0] = tag[0];
        let rest = len.saturating_sub(1) as u64;
        reader
            .read_exact(&mut record[1..len])
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof if read.saturating_add(rest) > cap => {
                    SnapshotError::Oversized {
                        file: info.file.clone(),
                        cap,
                    }
                }
                std::io::ErrorKind::UnexpectedEof => SnapshotError::Record {
                    file: info.file.clone(),
                    detail: "truncated record".into(),
                },
                _ => decompress(e),
            })?;
        read = read.saturating_add(rest);
        if read > cap {
            return Err(SnapshotError::Oversized {
                file: info.file.clone(),
                cap,
            });
        }
        count = count.saturating_add(1);
        if count > info.leaves {
            return Err(SnapshotError::Record {
                file: info.file.clone(),
                detail: format!("more records than the {} the manifest names", info.leaves),
            });
        }
        each(&record[..len])?;
    }
    if read > cap {
        return Err(SnapshotError::Oversized {
            file: info.file.clone(),
            cap,
        });
    }
    if count != info.leaves {
        return Err(SnapshotError::Record {
            file: info.file.clone(),
            detail: format!("{count} records, the manifest names {}", info.leaves),
        });
    }
    Ok(count)
}
