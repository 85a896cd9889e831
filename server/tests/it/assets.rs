//! Static assets served like a CDN's: content-hashed names cached forever, strong validators and 304s, brotli and
//! gzip made once per process; pages neither compressed nor cached.
use std::io::Read;

use reqwest::{header, StatusCode};

use crate::common::*;

/// The bundle's and the stylesheet's name: the project's.
const P: &str = backend::PROJECT;

/// The `href`/`src` in `html` that starts with `prefix` and ends with `suffix`.
fn asset_url(html: &str, prefix: &str, suffix: &str) -> String {
    html.match_indices(prefix)
        .map(|(i, _)| &html[i..])
        .filter_map(|rest| rest.split(['"', '\'']).next())
        .find(|url| url.ends_with(suffix))
        .unwrap_or_else(|| panic!("a {prefix}…{suffix} in the page"))
        .to_string()
}

async fn get(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = bare_client().get(app.url(path));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_have_hashed_names_are_cached_forever_and_compressed_once() {
    let app = TestApp::spawn_with(|c| c.precompress_assets = true).await;
    let page = get(&app, "/users/log-in", &[("accept-encoding", "br, gzip")]).await;
    assert!(page.headers().get(header::CONTENT_ENCODING).is_none(), "pages are not compressed (BREACH)");
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store", "nor cached");
    let html = page.text().await.unwrap();
    let css = asset_url(&html, &format!("/pkg/{P}."), ".css");
    assert_ne!(css, format!("/pkg/{P}.css"), "the stylesheet's name carries its hash: {css}");
    // The bundle too, when it is built (the test script builds it first).
    if std::path::Path::new(&format!("{}/../target/site/pkg/{P}.wasm", env!("CARGO_MANIFEST_DIR"))).exists() {
        let wasm = asset_url(&html, "/pkg/", &format!("/{P}.wasm"));
        let js = asset_url(&html, "/pkg/", &format!("/{P}.js"));
        let folder = wasm.trim_end_matches(&format!("{P}.wasm"));
        assert_eq!(folder, js.trim_end_matches(&format!("{P}.js")), "one versioned folder for the bundle: {wasm} {js}");
        assert!(folder.len() == "/pkg/".len() + 25, "the folder is named by a hash: {folder}");
        // The files the glue imports by relative names (the chunks' loader) are in the same folder, cached alike.
        for (path, mime) in [
            (wasm.clone(), "application/wasm"),
            (js, "text/javascript"),
            (format!("{folder}__wasm_split.js"), "text/javascript"),
        ] {
            let r = get(&app, &path, &[]).await;
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::CONTENT_TYPE], mime);
            assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
            assert!(r.headers().contains_key(header::ETAG));
        }
        // Another version's folder is not there (a page from an older release reloads instead; see the journeys).
        assert_eq!(
            get(&app, &format!("/pkg/0123456789abcdef01234567/{P}.wasm"), &[]).await.status(),
            StatusCode::NOT_FOUND
        );
    }

    // Cached forever, with a strong validator; asked again with it, 304 and no body.
    let r = get(&app, &css, &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    let etag = r.headers()[header::ETAG].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    let plain = r.bytes().await.unwrap();
    let again = get(&app, &css, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());
    // The plain name still answers, revalidated each time.
    let r = get(&app, &format!("/pkg/{P}.css"), &[]).await;
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
    assert_eq!(r.headers()[header::ETAG].to_str().unwrap(), etag);
    assert_eq!(get(&app, &format!("/pkg/{P}.0123456789ab.css"), &[]).await.status(), StatusCode::NOT_FOUND);

    // Brotli and gzip, made once in the background; until then the file goes out as it is.
    let mut br = None;
    for _ in 0..200 {
        let r = get(&app, &css, &[("accept-encoding", "gzip, br")]).await;
        assert_eq!(r.headers()[header::VARY], "accept-encoding");
        if r.headers().get(header::CONTENT_ENCODING).is_some_and(|e| e == "br") {
            assert_ne!(r.headers()[header::ETAG].to_str().unwrap(), etag, "each representation has its own tag");
            br = Some(r.bytes().await.unwrap());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let br = br.expect("a brotli variant");
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, plain);
    assert!(br.len() < plain.len() / 3, "{} bytes of {}", br.len(), plain.len());
    let gz = get(&app, &css, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..]).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, plain);
    // A client that refuses an encoding does not get it.
    let r = get(&app, &css, &[("accept-encoding", "br;q=0, gzip;q=0")]).await;
    assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
    app.stop().await;
}

/// Nothing is compressed on request: with the stylesheet's variants not made (`PRECOMPRESS_ASSETS=false`, the default
/// of debug builds; the build makes only the bundle's), a client that accepts brotli and gzip gets it as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_asset_is_compressed_on_request() {
    let app = TestApp::spawn_with(|c| c.precompress_assets = false).await;
    let html = get(&app, "/users/log-in", &[]).await.text().await.unwrap();
    let css = asset_url(&html, &format!("/pkg/{P}."), ".css");
    for _ in 0..3 {
        let r = get(&app, &css, &[("accept-encoding", "br, gzip")]).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.stop().await;
}

/// The bundle's brotli and gzip variants are made by the build (`tools/precompress`) and embedded beside it: a
/// server that compresses nothing itself serves them from its first request, and they unpack to the very file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundle_is_compressed_at_build_time_not_by_the_server() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/site/pkg");
    assert!(
        std::path::Path::new(&format!("{dir}/{P}.wasm")).exists(),
        "the test script builds the bundle first (scripts/build.sh --wasm-only)"
    );
    let app = TestApp::spawn_with(|c| c.precompress_assets = false).await;
    let html = get(&app, "/users/log-in", &[]).await.text().await.unwrap();
    let wasm = asset_url(&html, "/pkg/", &format!("/{P}.wasm"));
    let plain = get(&app, &wasm, &[]).await.bytes().await.unwrap();
    assert_eq!(&plain[..4], b"\0asm");
    let br = get(&app, &wasm, &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(br.headers()[header::CONTENT_ENCODING], "br", "served compressed from the first request");
    let br = br.bytes().await.unwrap();
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, plain);
    assert!(br.len() < plain.len() / 3, "{} bytes of {}", br.len(), plain.len());
    let gz = get(&app, &wasm, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&gz.bytes().await.unwrap()[..]).read_to_end(&mut unpacked).unwrap();
    assert_eq!(unpacked, plain);
    app.stop().await;
}
