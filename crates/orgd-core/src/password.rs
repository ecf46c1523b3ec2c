//! Password hashing: argon2id with the `argon2` crate's defaults (m = 19 MiB, t = 2, p = 1, the OWASP
//! recommendation), PHC strings at rest.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use parking_lot::Mutex;
use std::sync::{mpsc, Arc, OnceLock};

/// Hash a password into a PHC string.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters cannot fail on a generated salt")
        .to_string()
}

/// Check a password against a PHC string; a malformed string never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Spend the same work as a real check, so that an unknown user costs as much time as a wrong password.
pub fn dummy_verify(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("orgd-dummy-password"));
    let _ = verify(password, phc);
}

/// A job for the hashing threads.
type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads: one per core but one (at least one), each at a lower CPU priority (nice 10 on
/// Linux). Argon2 is made to be slow; run on the async workers or at normal priority, a sign-in flood
/// would take the CPU from token-authenticated requests. At nice 10 the scheduler gives the hashes about a
/// tenth of a contended core and all of an idle one.
fn hashing_threads() -> &'static Mutex<mpsc::Sender<Job>> {
    static POOL: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        for i in 0..cores.saturating_sub(1).max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("orgd-hash-{i}"))
                .spawn(move || {
                    lower_this_threads_priority();
                    loop {
                        let next = queue.lock().recv();
                        let Ok(job) = next else { return };
                        job();
                    }
                })
                .expect("the operating system refused to start a hashing thread");
        }
        Mutex::new(jobs)
    })
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // SAFETY: plain system calls on integer arguments; on Linux the nice value belongs to the thread
    // named by its tid, so only this hashing thread is lowered.
    unsafe {
        let tid = libc::gettid() as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, HASHING_NICE);
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

/// The nice value of the hashing threads.
pub const HASHING_NICE: i32 = 10;

/// Run password work `f` on the hashing threads and wait for it without blocking the async workers.
/// A panic in `f` is raised again in the caller.
pub async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, answer) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    hashing_threads().lock().send(job).expect("the hashing threads never stop");
    match answer.await.expect("a hashing job always answers") {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// [`verify`] on the hashing threads.
pub async fn verify_off_thread(password: &str, phc: &str) -> bool {
    let (password, phc) = (password.to_string(), phc.to_string());
    off_thread(move || verify(&password, &phc)).await
}

/// [`dummy_verify`] on the hashing threads.
pub async fn dummy_verify_off_thread(password: &str) {
    let password = password.to_string();
    off_thread(move || dummy_verify(&password)).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_verify_and_never_hold_the_password() {
        let h = super::hash("S3cret!pw");
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("S3cret"));
        assert!(super::verify("S3cret!pw", &h));
        assert!(!super::verify("S3cret!pW", &h));
        assert!(!super::verify("S3cret!pw", "not-a-hash"));
    }

    #[tokio::test]
    async fn password_work_runs_on_lowered_threads_and_panics_reach_the_caller() {
        let h = super::hash("S3cret!pw");
        assert!(super::verify_off_thread("S3cret!pw", &h).await);
        assert!(!super::verify_off_thread("wrong", &h).await);
        let name = super::off_thread(|| std::thread::current().name().map(str::to_string)).await;
        assert!(name.is_some_and(|n| n.starts_with("orgd-hash-")));
        #[cfg(target_os = "linux")]
        {
            // SAFETY: reads this thread's nice value.
            let nice =
                super::off_thread(|| unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) })
                    .await;
            assert_eq!(nice, super::HASHING_NICE);
        }
        let caught = tokio::spawn(super::off_thread(|| panic!("hash failed"))).await;
        assert!(caught.unwrap_err().is_panic());
        assert!(super::verify_off_thread("S3cret!pw", &h).await, "the threads survive a panicking job");
    }
}
