//! The executor: runs exactly the plan that was shown, in dependency order, with bounded
//! parallelism, recording each step durably.
