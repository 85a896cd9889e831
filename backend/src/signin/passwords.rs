//! Argon2id hashing on a fixed set of worker threads, one per allowed concurrent hash. Each worker fills one memory
//! block of `m` KiB that it maps on its first hash and reuses for every hash after, so memory does not grow with
//! the number of requests waiting (they wait on a semaphore, which allocates nothing) and no 19 MiB buffer is
//! allocated, faulted in and freed per sign-in. A worker that has had nothing to do for [`RELEASE_AFTER`] unmaps its
//! block, so a burst of sign-ins does not leave the process holding it.
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use argon2::{
    password_hash::{rand_core::OsRng, Output, PasswordHash, SaltString},
    Algorithm, Argon2, Block, Params, Version,
};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use crate::{platform::config::Config, Unexpected};

/// How long a hashing worker keeps its memory block without work.
pub const RELEASE_AFTER: Duration = Duration::from_secs(5);

pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    jobs: flume::Sender<Job>,
    /// Bytes of Argon2 memory the workers hold right now.
    held: Arc<AtomicUsize>,
    /// Unknown e-mails are hashed with this salt so they cost the same time as a real verification.
    dummy_salt: SaltString,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but stored with other parameters: re-hash with the current ones.
    YesNeedsRehash,
}

/// Work for a hashing thread, given that thread's memory.
type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// A worker's Argon2 memory: mapped on its first hash, kept while there is work.
struct Memory {
    blocks: Option<Blocks>,
    /// The current parameters' block count: a stored hash that needs more (older, larger parameters) gets a buffer
    /// of its own for that one verification instead of growing this one.
    keep: usize,
    held: Arc<AtomicUsize>,
}

impl Memory {
    fn run<T>(&mut self, params: &Params, f: impl FnOnce(&mut [Block]) -> T) -> anyhow::Result<T> {
        let need = params.block_count();
        if need > self.keep {
            return Ok(f(Blocks::map(need)?.as_mut_slice()));
        }
        let blocks = match &mut self.blocks {
            Some(blocks) => blocks,
            None => {
                let blocks = Blocks::map(self.keep)?;
                self.held.fetch_add(blocks.bytes(), Ordering::Relaxed);
                self.blocks.insert(blocks)
            }
        };
        Ok(f(&mut blocks.as_mut_slice()[..need]))
    }

    /// Hands the block back to the system (the next hash maps it again).
    fn release(&mut self) {
        if let Some(blocks) = self.blocks.take() {
            self.held.fetch_sub(blocks.bytes(), Ordering::Relaxed);
        }
    }
}

/// Argon2 memory mapped from the system for one worker, and unmapped when dropped. Not from the allocator: mimalloc
/// keeps a freed 19 MiB block resident until the thread that freed it allocates again, which an idle hashing worker
/// never does, so "released" memory stayed in the process (measured on the server binary: a 64 MiB block still
/// resident 15 s after the last hash, 10 s after its release). `munmap` returns it at once.
struct Blocks {
    ptr: std::ptr::NonNull<Block>,
    len: usize,
}

// SAFETY: `Blocks` owns its mapping alone (no copy of the pointer escapes), like a `Vec<Block>`.
unsafe impl Send for Blocks {}

impl Blocks {
    /// `len` zeroed blocks (a zeroed `Block` is a valid one: it is an array of integers).
    fn map(len: usize) -> anyhow::Result<Self> {
        let bytes = len.checked_mul(std::mem::size_of::<Block>()).filter(|b| *b > 0);
        let bytes = bytes.ok_or_else(|| anyhow::anyhow!("no Argon2 memory to map for {len} blocks"))?;
        // SAFETY: a new private anonymous mapping; nothing else refers to it.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            anyhow::bail!("mapping {bytes} bytes for Argon2: {}", std::io::Error::last_os_error());
        }
        // Page-aligned, so aligned for `Block` (64 bytes); not null, since the mapping succeeded.
        let ptr = std::ptr::NonNull::new(ptr.cast::<Block>()).expect("a successful mmap is not null");
        Ok(Self { ptr, len })
    }

    fn as_mut_slice(&mut self) -> &mut [Block] {
        // SAFETY: the mapping holds `len` initialised (zeroed, then written) blocks, is aligned for `Block`, lives
        // as long as `self`, and `&mut self` makes this the only reference to it.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    fn bytes(&self) -> usize {
        self.len * std::mem::size_of::<Block>()
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        // SAFETY: the mapping `map` made, of this size, unmapped once; no slice of it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.bytes());
        }
    }
}

/// One request counted in the `password_hash_waiting` gauge until it is dropped (also when the request is).
struct Waiting(metrics::Gauge);

impl Waiting {
    fn new() -> Self {
        let gauge = metrics::gauge!("password_hash_waiting");
        gauge.increment(1.0);
        Self(gauge)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl Hasher {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        Self::with_release_after(config, RELEASE_AFTER)
    }

    /// As [`Hasher::new`], with workers that release their memory after `idle` without work.
    pub fn with_release_after(config: &Config, idle: Duration) -> anyhow::Result<Self> {
        let params = Params::new(config.argon2_m_kib, config.argon2_t, config.argon2_p, None)
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let (jobs, queue) = flume::unbounded::<Job>();
        let held = Arc::new(AtomicUsize::new(0));
        for i in 0..config.hash_concurrency {
            let queue = queue.clone();
            let mut memory = Memory { blocks: None, keep: params.block_count(), held: held.clone() };
            std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || loop {
                match queue.recv_timeout(idle) {
                    Ok(job) => job(&mut memory),
                    Err(flume::RecvTimeoutError::Timeout) => memory.release(),
                    // The hasher (the only sender) was dropped.
                    Err(flume::RecvTimeoutError::Disconnected) => return memory.release(),
                }
            })?;
        }
        Ok(Self {
            params,
            permits: Arc::new(Semaphore::new(config.hash_concurrency)),
            jobs,
            held,
            dummy_salt: SaltString::generate(&mut OsRng),
        })
    }

    /// Bytes of Argon2 memory the hashing workers hold now: at most one block each, none after a quiet spell.
    pub fn memory_held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Runs `f` on a free hashing worker with its memory; waits (without allocating) while all are busy.
    async fn on_worker<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Memory) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, Unexpected> {
        // Requests waiting for a free worker (a gauge: how far sign-ins are queued behind the hashing capacity).
        let waiting = Waiting::new();
        let permit = self.permits.acquire().await;
        drop(waiting);
        let _permit = permit.map_err(|e| Unexpected(e.into()))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move |memory| {
                let _ = tx.send(f(memory));
            }))
            .map_err(|_| Unexpected(anyhow::anyhow!("the hashing workers have stopped")))?;
        rx.await.map_err(|e| Unexpected(e.into()))?.map_err(Unexpected)
    }

    pub async fn hash(&self, password: &str) -> Result<String, Unexpected> {
        let params = self.params.clone();
        let password = Zeroizing::new(password.to_string());
        self.on_worker(move |memory| hash_with(memory, &params, &password, &SaltString::generate(&mut OsRng))).await
    }

    /// Verifies against `stored`, or, when there is no user, hashes with the current parameters anyway so that an
    /// unknown e-mail takes the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<Verified, Unexpected> {
        let params = self.params.clone();
        let password = Zeroizing::new(password.to_string());
        let Some(stored) = stored.map(str::to_string) else {
            let salt = self.dummy_salt.clone();
            self.on_worker(move |memory| hash_with(memory, &params, &password, &salt)).await?;
            return Ok(Verified::No);
        };
        self.on_worker(move |memory| {
            let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
            let algorithm = Algorithm::try_from(parsed.algorithm).map_err(anyhow::Error::msg)?;
            let version = parsed.version.map(Version::try_from).transpose().map_err(anyhow::Error::msg)?;
            let theirs = Params::try_from(&parsed).map_err(anyhow::Error::msg)?;
            let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
                anyhow::bail!("stored hash has no salt or no output");
            };
            let mut salt_buf = [0u8; 64];
            let salt = salt.decode_b64(&mut salt_buf).map_err(anyhow::Error::msg)?;
            let argon = Argon2::new(algorithm, version.unwrap_or_default(), theirs.clone());
            let mut out = Zeroizing::new(vec![0u8; expected.len()]);
            memory
                .run(&theirs, |blocks| {
                    argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
                })?
                .map_err(anyhow::Error::msg)?;
            // `Output`'s equality is constant-time.
            if Output::new(&out).map_err(anyhow::Error::msg)? != expected {
                return Ok(Verified::No);
            }
            let same = algorithm == Algorithm::Argon2id
                && theirs.m_cost() == params.m_cost()
                && theirs.t_cost() == params.t_cost()
                && theirs.p_cost() == params.p_cost();
            Ok(if same { Verified::Yes } else { Verified::YesNeedsRehash })
        })
        .await
    }

    pub fn params(&self) -> &Params {
        &self.params
    }
}

/// An Argon2id PHC string for `password` with `salt`, computed in the worker's memory.
fn hash_with(memory: &mut Memory, params: &Params, password: &str, salt: &SaltString) -> anyhow::Result<String> {
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf).map_err(anyhow::Error::msg)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    memory
        .run(params, |blocks| argon.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, blocks))?
        .map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: params.try_into().map_err(anyhow::Error::msg)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(anyhow::Error::msg)?),
    };
    Ok(phc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(m: u32) -> Hasher {
        let mut c = Config::for_tests("sqlite::memory:");
        c.argon2_m_kib = m;
        Hasher::new(&c).unwrap()
    }

    #[tokio::test]
    async fn s8_hashes_are_argon2id_and_verify() {
        let h = hasher(8192);
        let stored = h.hash("correct horse battery staple").await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
        assert_eq!(h.verify("correct horse battery staple", Some(&stored)).await.unwrap(), Verified::Yes);
        assert_eq!(h.verify("correct horse battery stapl", Some(&stored)).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn s8_hashes_with_old_parameters_ask_for_a_rehash() {
        let old = hasher(8192).hash("correct horse battery staple").await.unwrap();
        let new = hasher(9216);
        assert_eq!(new.verify("correct horse battery staple", Some(&old)).await.unwrap(), Verified::YesNeedsRehash);
    }

    #[tokio::test]
    async fn s8_verifies_hashes_the_argon2_crate_made_and_the_crate_verifies_ours() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let h = hasher(8192);
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 1, 1, None).unwrap())
            .hash_password(b"correct horse battery staple", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert_eq!(h.verify("correct horse battery staple", Some(&theirs)).await.unwrap(), Verified::Yes);
        assert_eq!(h.verify("correct horse battery stapler", Some(&theirs)).await.unwrap(), Verified::No);
        let ours = h.hash("purple elephants dance quietly").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"purple elephants dance quietly", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"purple elephants dance quietly!", &parsed).is_err());
    }

    #[tokio::test]
    async fn s8_a_hash_with_more_memory_than_the_workers_keep_still_verifies() {
        let big = hasher(16384).hash("correct horse battery staple").await.unwrap();
        let h = hasher(8192);
        assert_eq!(h.verify("correct horse battery staple", Some(&big)).await.unwrap(), Verified::YesNeedsRehash);
        assert_eq!(h.verify("correct horse battery stapl", Some(&big)).await.unwrap(), Verified::No);
        // The worker's own memory still serves the current parameters afterwards.
        let mine = h.hash("correct horse battery staple").await.unwrap();
        assert_eq!(h.verify("correct horse battery staple", Some(&mine)).await.unwrap(), Verified::Yes);
    }

    #[tokio::test]
    async fn many_hashes_at_once_all_finish_on_the_fixed_workers() {
        let mut c = Config::for_tests("sqlite::memory:");
        c.argon2_m_kib = 8192;
        c.hash_concurrency = 2;
        let h = Arc::new(Hasher::new(&c).unwrap());
        let stored = h.hash("correct horse battery staple").await.unwrap();
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let (h, stored) = (h.clone(), stored.clone());
                tokio::spawn(async move {
                    let pw = if i % 2 == 0 { "correct horse battery staple" } else { "wrong horse battery staple" };
                    h.verify(pw, Some(&stored)).await.unwrap()
                })
            })
            .collect();
        let mut yes = 0;
        for t in tasks {
            if t.await.unwrap() == Verified::Yes {
                yes += 1;
            }
        }
        assert_eq!(yes, 12);
        // Twenty-four hashes, two blocks: one per worker, whatever the number waiting.
        assert!(h.memory_held() <= 2 * 8192 * 1024, "held {} bytes", h.memory_held());
    }

    #[tokio::test]
    async fn an_idle_worker_hands_its_memory_back_and_hashes_again_when_asked() {
        let mut c = Config::for_tests("sqlite::memory:");
        c.argon2_m_kib = 8192;
        c.hash_concurrency = 1;
        let h = Hasher::with_release_after(&c, Duration::from_millis(100)).unwrap();
        assert_eq!(h.memory_held(), 0, "nothing is allocated before the first hash");
        let stored = h.hash("correct horse battery staple").await.unwrap();
        assert_eq!(h.memory_held(), 8192 * 1024);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while h.memory_held() != 0 {
            assert!(std::time::Instant::now() < deadline, "the idle worker kept its block");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(h.verify("correct horse battery staple", Some(&stored)).await.unwrap(), Verified::Yes);
        assert_eq!(h.memory_held(), 8192 * 1024);
    }

    #[tokio::test]
    async fn unknown_users_never_verify() {
        let h = hasher(8192);
        assert_eq!(h.verify("anything at all here", None).await.unwrap(), Verified::No);
    }
}
