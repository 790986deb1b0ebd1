//! CPU time of the calling thread, shared by the ingester's benchmarks.

/// This thread's CPU time so far, in seconds (Linux: `/proc/thread-self/schedstat`).
pub(crate) fn thread_cpu_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let nanos: u64 = text
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .expect("schedstat's first field");
    nanos as f64 / 1e9
}
