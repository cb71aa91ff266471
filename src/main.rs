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

/// mimalloc returns freed memory to the system after a delay (10 ms). brick's runs are short
/// and their peak memory is what users feel, so the commands that change things (apply,
/// destroy, import, refresh, the lab) purge soon, 1 ms: a large apply frees and allocates
/// throughout, and with 1 s its peak at 100,000 resources grew by about 100 MiB. The
/// commands that read and plan build their largest structures last, so a long delay (1 s)
/// costs them no peak memory and spares the kernel re-zeroing pages that were given back
/// and taken again: a no-op plan of 100,000 resources spent 1.9-5.2 s of system time with
/// 1 ms and 1.0-1.1 s with 1 s, at the same peak (bench/RESULTS.md). A
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
#[cfg(not(feature = "system-allocator"))]
#[allow(unsafe_code, reason = "mimalloc's C option setter: one FFI call")]
fn purge_freed_memory_at_once() {
    /// `mi_option_purge_delay` in mimalloc v2's `mimalloc.h`.
    const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // Not quite at once for the changing commands either: with no delay, every freed span
    // went back to the system and the next allocation faulted it in again, zeroed (a 2 MiB
    // transparent huge page at a time). On the k8s no-op plan (bench/k8s.sh, Rook: ~1 MB of
    // manifests built, copied and dropped) that was 0.3-0.6 s of system time against
    // 0.05-0.25 s with 1 ms, at the same peak memory (200 MiB, debug build).
    let delay_ms: std::ffi::c_long = if changes_things(std::env::args().skip(1)) {
        1
    } else {
        1000
    };
    // SAFETY: mimalloc's options may be set at any time; this one only changes when freed
    // memory is given back to the system.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, delay_ms) }
}

/// Whether the command line names a command that changes things (its first word that is not
/// a flag): those keep their peak memory low by giving freed memory back at once.
#[cfg(not(feature = "system-allocator"))]
fn changes_things(mut args: impl Iterator<Item = String>) -> bool {
    args.find(|a| !a.starts_with('-')).is_none_or(|c| {
        matches!(
            c.as_str(),
            "apply" | "destroy" | "import" | "refresh" | "lab"
        )
    })
}

#[cfg(all(test, not(feature = "system-allocator")))]
mod tests {
    use super::changes_things;

    fn args(s: &str) -> impl Iterator<Item = String> {
        s.split_whitespace()
            .map(String::from)
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn the_command_is_the_first_word_that_is_not_a_flag() {
        assert!(changes_things(args("apply -auto-approve")));
        assert!(changes_things(args("-chdir=infra destroy")));
        assert!(changes_things(args("lab demo")));
        assert!(changes_things(args("")));
        assert!(!changes_things(args("plan -out=p")));
        assert!(!changes_things(args("-chdir=infra validate")));
        assert!(!changes_things(args("show -json")));
    }
}
