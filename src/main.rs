//! The `brick` executable: chooses and tunes the process's allocator, then hands over to the
//! CLI.

/// mimalloc (v2) instead of glibc's malloc. brick builds large structures of small objects
/// (values, addresses, expressions) and, for a large configuration, loads the configuration,
/// reads the state and runs validation on separate threads at once. With glibc, one arena
/// made those threads queue on its lock, and one arena per thread kept each arena's freed
/// space resident; mimalloc's per-thread heaps do neither. Measured with `bench/compare.sh`
/// at N = 5,000 (bench/RESULTS.md): the no-op plan takes less than half the time, at the
/// same or lower peak memory.
///
/// The cargo feature `system-allocator` leaves the system's malloc in place, for memory
/// profilers that intercept malloc (heaptrack, valgrind's massif): mimalloc's own heaps are
/// invisible to them. Never for a release: `cargo build --features system-allocator`.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    #[cfg(not(feature = "system-allocator"))]
    purge_freed_memory_at_once();
    brick::cli::main()
}

/// mimalloc returns freed memory to the system after a delay (10 ms), so a short burst of
/// temporary allocations — parsing a large state file — stays resident at the peak. brick's
/// runs are short and their peak memory is what users feel, so purge soon (1 ms, below). A
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
#[cfg(not(feature = "system-allocator"))]
#[allow(unsafe_code, reason = "mimalloc's C option setter: one FFI call")]
fn purge_freed_memory_at_once() {
    /// `mi_option_purge_delay` in mimalloc v2's `mimalloc.h`.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    // Not quite at once: with no delay, every freed span went back to the system and the next
    // allocation faulted it in again, zeroed (a 2 MiB transparent huge page at a time). On the
    // k8s no-op plan (bench/k8s.sh, Rook: ~1 MB of manifests built, copied and dropped) that
    // was 0.3-0.6 s of system time against 0.05-0.25 s with 1 ms, at the same peak memory
    // (200 MiB, debug build); freed memory still goes back within a millisecond.
    const DELAY_MS: std::ffi::c_long = 1;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mimalloc's options may be set at any time; this one only changes when
        // freed memory is given back to the system.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, DELAY_MS) }
    }
}
