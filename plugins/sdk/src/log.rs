//! Logging: the macros `trace!`, `debug!`, `info!`, `warn!` and `error!`.

use crate::{Level, MAX_LOG_MESSAGE_BYTES, truncate_str};

/// Appends `message` to this call's guest log at `level`, cut (at a character
/// boundary) to [`MAX_LOG_MESSAGE_BYTES`] so that a long message does not stop
/// the call. The host's per-call log budget still applies. Called by the
/// logging macros.
#[doc(hidden)]
pub fn __log(level: Level, message: &str) {
    let message = truncate_str(message, MAX_LOG_MESSAGE_BYTES);
    #[cfg(target_arch = "wasm32")]
    crate::raw::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    crate::testing::log(level, message);
}

/// Logs a `format!`-style message at `trace` level.
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::__log($crate::Level::Trace, &$crate::__format!($($arg)+)) };
}
/// Logs a `format!`-style message at `debug` level.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::__log($crate::Level::Debug, &$crate::__format!($($arg)+)) };
}
/// Logs a `format!`-style message at `info` level: `info!("creating {}", principal.email)`.
///
/// Messages are cut to [`MAX_LOG_MESSAGE_BYTES`](crate::MAX_LOG_MESSAGE_BYTES).
/// Guest log lines are kept in each login's audit event: do not log claims
/// you consider sensitive.
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::__log($crate::Level::Info, &$crate::__format!($($arg)+)) };
}
/// Logs a `format!`-style message at `warn` level.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::__log($crate::Level::Warn, &$crate::__format!($($arg)+)) };
}
/// Logs a `format!`-style message at `error` level.
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::__log($crate::Level::Error, &$crate::__format!($($arg)+)) };
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use crate::{Level, MAX_LOG_MESSAGE_BYTES, testing};

    #[test]
    fn the_macros_log_at_their_level_and_cut_long_messages() {
        let _ = testing::configure("{}");
        crate::info!("creating {}", "jane@acme.example");
        crate::warn!("{}", "é".repeat(MAX_LOG_MESSAGE_BYTES));
        let logs = testing::logs();
        assert_eq!(logs[0], (Level::Info, "creating jane@acme.example".to_string()));
        assert_eq!((logs[1].0, logs[1].1.len()), (Level::Warn, MAX_LOG_MESSAGE_BYTES));
    }
}
