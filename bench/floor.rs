//! The loopback floor: the fastest any HTTP server can answer one connection's requests on this machine. It reads
//! a request up to the end of its headers and answers `ok`, one thread per connection, nothing else: no parsing, no
//! routing, no body. `bench/floor.sh` builds it with plain `rustc` (std only) and runs wrk against it beside the
//! real server, so the session check at one connection can be read against what the machine allows.
//!   rustc --edition 2021 -O -o floor bench/floor.rs && ./floor PORT
use std::io::{Read, Write};
use std::net::TcpListener;

const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).expect("usage: floor PORT");
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    for stream in listener.incoming() {
        let mut stream = stream?;
        stream.set_nodelay(true)?;
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 16 * 1024];
            let mut filled = 0;
            loop {
                let n = match stream.read(&mut buf[filled..]) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                filled += n;
                // One answer per request whose headers are complete (wrk sends no body here).
                while let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                    if stream.write_all(ANSWER).is_err() {
                        return;
                    }
                    buf.copy_within(end + 4..filled, 0);
                    filled -= end + 4;
                }
                if filled == buf.len() {
                    return;
                }
            }
        });
    }
    Ok(())
}
