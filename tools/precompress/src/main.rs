//! `precompress DIR`: removes the debugging sections (`name`, `producers`) from each `.wasm` file in DIR (the lazily
//! loaded chunks come out of the splitter with them, and they are most of a chunk's bytes), then writes, beside each
//! `.js` and `.wasm` file in DIR, its brotli (quality 11) and gzip (level 9)
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
    let (mut files, mut totals) = (0, [0u64; 3]);
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if !matches!(ext, "js" | "wasm") {
            continue;
        }
        let mut bytes = fs::read(&path)?;
        if ext == "wasm" {
            let stripped = without_debug_sections(&bytes)?;
            if stripped.len() != bytes.len() {
                fs::write(&path, &stripped)?;
                bytes = stripped;
            }
        }
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
        let sizes = [bytes.len() as u64, fs::metadata(&br)?.len(), fs::metadata(&gz)?.len()];
        let name = path.file_name().unwrap_or_default().to_string_lossy().to_string();
        if name.starts_with("portcullis.") {
            println!("{name}: {} bytes, brotli {}, gzip {}", sizes[0], sizes[1], sizes[2]);
        }
        files += 1;
        for (total, size) in totals.iter_mut().zip(sizes) {
            *total += size;
        }
        keep.extend([br, gz]);
    }
    println!("all {files} files: {} bytes, brotli {}, gzip {}", totals[0], totals[1], totals[2]);
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let variant = matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz"));
        if variant && !keep.contains(&path) {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// The module without its `name` and `producers` custom sections (function names and tool versions: nothing a
/// browser needs), every other section copied byte for byte.
fn without_debug_sections(wasm: &[u8]) -> Result<Vec<u8>, wasmparser::BinaryReaderError> {
    let mut module = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        if let wasmparser::Payload::CustomSection(c) = &payload {
            if matches!(c.name(), "name" | "producers") {
                continue;
            }
        }
        if let Some((id, range)) = payload.as_section() {
            let data = &wasm[range.start as usize..range.end as usize]; // offsets within `wasm`, which is in memory
            module.section(&wasm_encoder::RawSection { id, data });
        }
    }
    Ok(module.finish())
}
