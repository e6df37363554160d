//! hftbacktest's file format: a `.npz` (zip) holding `data.npy`, a 1-d structured array of
//! hftbacktest's 64-byte `Event` (`event_dtype`), its header padded so the data starts on a
//! 64-byte boundary, as `hftbacktest::backtest::data::read_npz_file` requires (it refuses any
//! other alignment) and as its own `write_npy` writes it.
//!
//! A roll is written as raw 64-byte events to `<name>.npz.events` while it is open (a crash
//! leaves that file: `numpy.fromfile(path, dtype=event_dtype)` reads it), then packaged into
//! `<name>.npz.part`, synced, and renamed to `<name>.npz`: a file with the final name is always
//! complete.

use std::{
    fs::File,
    io::{self, BufReader, BufWriter, Write},
    path::{Path, PathBuf},
};

use hftbacktest::{
    backtest::data::{NpyDTyped, NpyHeader},
    types::Event,
};
use zip::{write::SimpleFileOptions, CompressionMethod, ZipWriter};

/// The array's name inside the archive: `read_npz_file(path, "data")`, `np.load(path)["data"]`.
pub const ARRAY_NAME: &str = "data";

/// Size of one event in the file.
pub const EVENT_SIZE: usize = 64;

/// The `.npy` header (magic, version 1.0, length, dictionary) of `n` events, padded with
/// spaces and a newline so that the data begins at a multiple of 64 bytes: hftbacktest's
/// `NpyHeader` fields, formatted as its `write_npy` formats them.
pub fn npy_header(n: usize) -> Vec<u8> {
    let h = NpyHeader {
        descr: Event::descr(),
        fortran_order: false,
        shape: vec![n],
    };
    let mut dict = format!(
        "{{'descr': {}, 'fortran_order': {}, 'shape': {}}}",
        h.descr(),
        h.fortran_order(),
        h.shape()
    );
    let unpadded = 10 + dict.len() + 1;
    let padded = unpadded.div_ceil(64) * 64;
    dict.extend(std::iter::repeat_n(' ', padded - unpadded));
    dict.push('\n');
    let mut out = Vec::with_capacity(padded);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// The 64 bytes of an event as hftbacktest lays it out (`#[repr(C)]`, little-endian).
pub fn event_bytes(e: &Event) -> [u8; EVENT_SIZE] {
    let mut b = [0u8; EVENT_SIZE];
    let fields: [[u8; 8]; 8] = [
        e.ev.to_le_bytes(),
        e.exch_ts.to_le_bytes(),
        e.local_ts.to_le_bytes(),
        e.px.to_le_bytes(),
        e.qty.to_le_bytes(),
        e.order_id.to_le_bytes(),
        e.ival.to_le_bytes(),
        e.fval.to_le_bytes(),
    ];
    for (i, f) in fields.iter().enumerate() {
        b[i * 8..i * 8 + 8].copy_from_slice(f);
    }
    b
}

/// Where a roll's files go: `<final>.events` while it is written, `<final>.part` while it is
/// packaged, `<final>` once complete.
pub fn events_path(final_path: &Path) -> PathBuf {
    with_suffix(final_path, ".events")
}

fn part_path(final_path: &Path) -> PathBuf {
    with_suffix(final_path, ".part")
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Packages the raw events of a closed roll into `final_path` (via a `.part` file, synced and
/// renamed), then removes the raw file. Returns the size of the `.npz`.
pub fn package(final_path: &Path, compress: bool) -> io::Result<u64> {
    let raw_path = events_path(final_path);
    let part = part_path(final_path);
    let raw = File::open(&raw_path)?;
    let raw_len = raw.metadata()?.len();
    if raw_len % EVENT_SIZE as u64 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{}: {raw_len} bytes is not a whole number of events",
                raw_path.display()
            ),
        ));
    }
    let n = (raw_len / EVENT_SIZE as u64) as usize;
    let header = npy_header(n);
    let method = if compress {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    let opts = SimpleFileOptions::default()
        .compression_method(method)
        .compression_level(compress.then_some(1))
        .large_file(raw_len + header.len() as u64 >= u32::MAX as u64);
    let mut zip = ZipWriter::new(BufWriter::with_capacity(1 << 20, File::create(&part)?));
    zip.start_file(format!("{ARRAY_NAME}.npy"), opts)
        .map_err(io::Error::other)?;
    zip.write_all(&header)?;
    io::copy(&mut BufReader::with_capacity(1 << 20, raw), &mut zip)?;
    let file = zip
        .finish()
        .map_err(io::Error::other)?
        .into_inner()
        .map_err(|e| e.into_error())?;
    file.sync_all()?;
    let size = file.metadata()?.len();
    drop(file);
    std::fs::rename(&part, final_path)?;
    if let Some(dir) = final_path.parent() {
        // The rename is durable once the directory is synced (best effort).
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    std::fs::remove_file(&raw_path)?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_padded_to_64_bytes_and_names_hftbacktests_fields() {
        for n in [0, 1, 12345, usize::MAX >> 8] {
            let h = npy_header(n);
            assert_eq!(h.len() % 64, 0, "{n}");
            let text = std::str::from_utf8(&h[10..]).unwrap();
            assert!(text.ends_with('\n'));
            assert!(text.contains(&format!("'shape': ({n}, )")), "{text}");
            assert!(text.starts_with(
                "{'descr': [('ev', '<u8'), ('exch_ts', '<i8'), ('local_ts', '<i8'), ('px', \
                 '<f8'), ('qty', '<f8'), ('order_id', '<u8'), ('ival', '<i8'), ('fval', '<f8'), ]"
            ));
        }
    }
}
