//! `precompress DIR`: writes, beside each `.js` and `.wasm` file in DIR, its brotli (quality 11) and gzip (level 9)
//! variants, named by the content hash the server gives the file (`<hash>.br`, `<hash>.gz`, the first 12 bytes of
//! its SHA-256 in hex), and removes variants of files that are no longer there. The server embeds the folder and
//! serves a variant only when its name matches the file it has, so a stale variant is never served: compression
//! costs the build a few seconds once instead of costing every server process its CPU and memory at start.
use std::{fs, io::Write, path::Path};

use sha2::{Digest, Sha256};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: precompress DIR")?;
    let dir = Path::new(&dir);
    let mut keep = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if !matches!(ext, "js" | "wasm") {
            continue;
        }
        let bytes = fs::read(&path)?;
        let hash = hex::encode(&Sha256::digest(&bytes)[..12]);
        let (br, gz) = (dir.join(format!("{hash}.br")), dir.join(format!("{hash}.gz")));
        if !br.exists() {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
            brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
            fs::write(&br, &out)?;
        }
        if !gz.exists() {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(&bytes)?;
            fs::write(&gz, enc.finish()?)?;
        }
        println!(
            "{}: {} bytes, brotli {}, gzip {}",
            path.file_name().unwrap_or_default().to_string_lossy(),
            bytes.len(),
            fs::metadata(&br)?.len(),
            fs::metadata(&gz)?.len()
        );
        keep.extend([br, gz]);
    }
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let variant = matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz"));
        if variant && !keep.contains(&path) {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}
