//! The `brick` executable: tunes the process's allocator, then hands over to the CLI.

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    brick::cli::main()
}

/// glibc's malloc gives every thread that allocates its own arena (up to eight per core).
/// brick builds its data on several threads in turn — the parser thread, the runtime's
/// workers, the blocking pool that reads and writes files — and memory freed in one arena
/// cannot serve an allocation made in another, so each arena keeps its own fragmented free
/// space resident; which thread lands in which arena varies from run to run, and so did the
/// peak. brick's allocations happen essentially one thread at a time (a few provider calls
/// overlap), so one arena costs no measurable speed. Measured with `bench/compare.sh` at
/// N = 5,000 (see bench/RESULTS.md): the no-op plan's peak RSS drops by about 36 MiB and
/// stops varying (two arenas still gave an extra 57 MiB in one run of twelve).
/// `MALLOC_ARENA_MAX` in the environment still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    const M_ARENA_MAX: i32 = -8;
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only tunes glibc's allocator and is called before any other
        // thread of this process exists.
        unsafe {
            mallopt(M_ARENA_MAX, 1);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}
