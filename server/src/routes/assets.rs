//! Static assets, served the way a CDN serves them. The stylesheet (`style/`) and the WASM bundle
//! (`target/site/pkg`, built before the server; read from disk in debug builds) are embedded in the binary and read
//! once, when the process first needs them. Each is published under a name that carries its content hash
//! (`/pkg/portcullis.<hash>.css`; the bundle's files, which import each other by relative names, in a folder named
//! by a hash over all of them, `/pkg/<hash>/portcullis.wasm`): those answers are
//! `Cache-Control: public, max-age=31536000, immutable`, so a browser downloads a bundle once per release. Every answer has a strong `ETag` and a matching `If-None-Match`
//! gets 304. Brotli and gzip variants of the bundle are made at build time (`scripts/build.sh` runs
//! `tools/precompress`) and embedded beside it, named by the content hash of the file they compress, so a stale one
//! is never used; any other variant (the stylesheet, or a bundle built without that step) is made once per process
//! in the background — never per request. Clients that accept them get them (`Vary: Accept-Encoding`); until a
//! variant is ready the file goes out as it is.
//! The plain names (`/pkg/portcullis.css`, `/pkg/portcullis.wasm`, …) still answer, revalidated (`no-cache`), for pages that cannot know the
//! hash (the dev mailbox, error pages). HTML pages are not compressed (BREACH) and not cached (`no-store`).
use std::{
    collections::HashMap,
    io::Write,
    sync::{atomic::AtomicBool, atomic::Ordering, Arc, OnceLock},
};

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::middleware::header_items;

#[derive(RustEmbed)]
#[folder = "../target/site/pkg/"] // relative to server/
#[allow_missing = true]
struct Pkg;

/// A release build without the browser bundle does not compile (it would serve pages that never hydrate).
#[cfg(not(debug_assertions))]
const _BUNDLE_IS_BUILT: (&[u8], &[u8]) = (
    include_bytes!(concat!("../../../target/site/pkg/", env!("LEPTOS_OUTPUT_NAME"), ".js")),
    include_bytes!(concat!("../../../target/site/pkg/", env!("LEPTOS_OUTPUT_NAME"), ".wasm")),
);

const STYLESHEET: &str = include_str!("../../../style/main.css");
const FAVICON: &str = include_str!("../../../style/favicon.svg");
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One asset: its bytes, type, content hash, and its compressed variants once made.
pub struct Asset {
    bytes: Bytes,
    mime: &'static str,
    hash: String,
    compressible: bool,
    started: AtomicBool,
    from_build: AtomicBool,
    brotli: OnceLock<Bytes>,
    gzip: OnceLock<Bytes>,
}

impl Asset {
    fn new(bytes: Bytes, mime: &'static str) -> Arc<Self> {
        let hash = Sha256::digest(&bytes).into();
        Self::with_hash(bytes, mime, hash)
    }

    /// An asset whose SHA-256 is known: for the embedded bundle it was computed at build time, so the process does
    /// not read the bundle's megabytes at start-up (they stay on disk until someone downloads them).
    fn with_hash(bytes: Bytes, mime: &'static str, sha256: [u8; 32]) -> Arc<Self> {
        let hash = hex::encode(&sha256[..12]);
        let compressible = matches!(mime, "application/wasm" | "text/javascript" | "text/css; charset=utf-8");
        Arc::new(Self {
            bytes,
            mime,
            hash,
            compressible,
            started: AtomicBool::new(false),
            from_build: AtomicBool::new(false),
            brotli: OnceLock::new(),
            gzip: OnceLock::new(),
        })
    }

    /// Whether the build made its variants (they are served whatever `PRECOMPRESS_ASSETS` says).
    fn built(&self) -> bool {
        self.from_build.load(Ordering::Relaxed)
    }

    /// Makes the brotli and gzip variants, once, on a blocking thread (brotli at its best quality in release
    /// builds: it costs seconds of CPU for the bundle, which is why it is never done per request).
    pub fn precompress(self: &Arc<Self>) {
        if !self.compressible || self.built() || self.started.swap(true, Ordering::SeqCst) {
            return;
        }
        let asset = self.clone();
        std::thread::spawn(move || {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            if gz.write_all(&asset.bytes).is_ok() {
                if let Ok(v) = gz.finish() {
                    let _ = asset.gzip.set(Bytes::from(v));
                }
            }
            let quality = if cfg!(debug_assertions) { 5 } else { 11 };
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams { quality, lgwin: 22, ..Default::default() };
            if brotli::BrotliCompress(&mut &asset.bytes[..], &mut out, &params).is_ok() {
                let _ = asset.brotli.set(Bytes::from(out));
            }
            // Brotli's best quality works in tens of megabytes, which the allocator would otherwise keep.
            backend::release_freed_memory();
        });
    }
}

/// The type of a file of the browser bundle, by its name (the compressed variants beside them are not files of it).
fn bundle_mime(name: &str) -> Option<&'static str> {
    match name.rsplit_once('.')?.1 {
        "js" => Some("text/javascript"),
        "wasm" => Some("application/wasm"),
        _ => None,
    }
}

/// Every asset, by the names it answers to.
pub struct Assets {
    by_name: HashMap<String, (Arc<Asset>, bool)>,
    /// The bundle's versioned folder under `/pkg/` (a hash over all its files).
    pub bundle_dir: String,
    /// `/pkg/portcullis.<hash>.css`
    pub stylesheet_href: String,
}

impl Assets {
    fn load() -> Self {
        let mut by_name = HashMap::new();
        let mut publish = |plain: &str, hashed: String, asset: Arc<Asset>| {
            by_name.insert(plain.to_string(), (asset.clone(), false));
            by_name.insert(hashed, (asset, true));
        };
        let css = Asset::new(Bytes::from_static(STYLESHEET.as_bytes()), "text/css; charset=utf-8");
        let stylesheet_href = format!("/pkg/{}.{}.css", backend::PROJECT, css.hash);
        publish(&format!("{}.css", backend::PROJECT), format!("{}.{}.css", backend::PROJECT, css.hash), css);
        // In release builds the embedded bytes are static: served from the binary's pages, not copied.
        let bytes = |data: std::borrow::Cow<'static, [u8]>| match data {
            std::borrow::Cow::Borrowed(b) => Bytes::from_static(b),
            std::borrow::Cow::Owned(v) => Bytes::from(v),
        };
        let file = |name: &str, mime: &'static str| {
            let file = Pkg::get(name)?;
            let asset = Asset::with_hash(bytes(file.data), mime, file.metadata.sha256_hash());
            // The build's variants, when they are of this very file.
            let variant = |ext: &str| Pkg::get(&format!("{}.{ext}", asset.hash)).map(|f| bytes(f.data));
            if let (Some(br), Some(gz)) = (variant("br"), variant("gz")) {
                let _ = (asset.brotli.set(br), asset.gzip.set(gz));
                asset.from_build.store(true, Ordering::Relaxed);
            }
            Some(asset)
        };
        // The bundle is a set of files that import each other by relative names (the glue `portcullis.js`, the main
        // module, the split loader and the lazily loaded chunks), so it is published as one folder whose name is a
        // hash over every file in it: `/pkg/<version>/<file>`, cached forever; a new build is a new folder.
        let mut names: Vec<String> = Pkg::iter().map(|n| n.to_string()).filter(|n| bundle_mime(n).is_some()).collect();
        names.sort();
        let files: Vec<(String, Arc<Asset>)> =
            names.into_iter().filter_map(|name| file(&name, bundle_mime(&name)?).map(|asset| (name, asset))).collect();
        let mut version = Sha256::new();
        for (name, asset) in &files {
            version.update(format!("{name}\0{}\0", asset.hash));
        }
        let bundle_dir = hex::encode(&version.finalize()[..12]);
        for (name, asset) in files {
            publish(&name, format!("{bundle_dir}/{name}"), asset);
        }
        Self { by_name, bundle_dir, stylesheet_href }
    }

    /// The assets of this process, read on first use.
    pub fn get() -> &'static Assets {
        static ASSETS: OnceLock<Assets> = OnceLock::new();
        ASSETS.get_or_init(Assets::load)
    }

    /// Starts making every compressed variant (at start-up in release builds).
    pub fn precompress_all(&self) {
        for (asset, _) in self.by_name.values() {
            asset.precompress();
        }
    }

    pub fn find(&self, name: &str) -> Option<(&Arc<Asset>, bool)> {
        self.by_name.get(name).map(|(a, hashed)| (a, *hashed))
    }
}

pub async fn favicon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "max-age=86400")], FAVICON).into_response()
}

/// The encodings the client accepts, from `Accept-Encoding` (an explicit `q=0` refuses one).
fn accepts(headers: &HeaderMap, coding: &str) -> bool {
    header_items(headers, header::ACCEPT_ENCODING, ',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()) == Some(0.0));
        name.eq_ignore_ascii_case(coding) && !refused
    })
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    header_items(headers, header::IF_NONE_MATCH, ',').map(|t| t.trim_start_matches("W/")).any(|t| t == etag || t == "*")
}

pub async fn pkg(State(st): State<backend::AppState>, Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some((asset, hashed)) = Assets::get().find(&path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let (br, gzip) = (accepts(&headers, "br"), accepts(&headers, "gzip"));
    if st.config.precompress_assets && (br || gzip) {
        asset.precompress(); // once per asset and process; this answer goes out as it is if the variants are not ready
    }
    // The first variant the client accepts that is made (an asset that is not compressible has none).
    let variant = [(br, &asset.brotli, "br"), (gzip, &asset.gzip, "gzip")]
        .into_iter()
        .filter(|(wanted, _, _)| *wanted && (asset.built() || st.config.precompress_assets))
        .find_map(|(_, cell, name)| cell.get().map(|bytes| (bytes.clone(), name)));
    let (body, encoding) = match variant {
        Some((bytes, name)) => (bytes, Some(name)),
        None => (asset.bytes.clone(), None),
    };
    // A strong validator per representation: the same bytes, the same tag.
    let etag = match encoding {
        Some(e) => format!("\"{}-{e}\"", asset.hash),
        None => format!("\"{}\"", asset.hash),
    };
    let cache = if hashed { IMMUTABLE } else { "no-cache" };
    let mut res = if not_modified(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut res = body.into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
        if let Some(e) = encoding {
            res.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(e));
        }
        res
    };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if asset.compressible {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res
}
