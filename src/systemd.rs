//! systemd's notify protocol, for a `Type=notify` unit: `READY=1` once the daemon serves and
//! polls, `STATUS=` lines for `systemctl status`, `STOPPING=1` at shutdown, and `WATCHDOG=1`
//! pings when the unit sets `WatchdogSec=`. Datagrams to the unix socket named by
//! `NOTIFY_SOCKET` (a path, or `@name` for an abstract socket); without it, nothing is sent.
//!
//! Owns nothing else: the daemon decides when to say what. A message that cannot be sent is
//! logged at debug level and otherwise ignored, as systemd itself would have it.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use tracing::debug;

/// Where to send notifications, if anywhere.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, String)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` of the environment.
    pub fn from_env() -> Notifier {
        let socket = std::env::var("NOTIFY_SOCKET").ok();
        let watchdog_usec = std::env::var("WATCHDOG_USEC").ok();
        let watchdog_pid = std::env::var("WATCHDOG_PID").ok();
        Notifier::new(
            socket.as_deref(),
            watchdog_usec.as_deref(),
            watchdog_pid.as_deref(),
        )
    }

    fn new(
        socket: Option<&str>,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
    ) -> Notifier {
        let target =
            socket
                .filter(|path| !path.is_empty())
                .and_then(|path| match UnixDatagram::unbound() {
                    Ok(datagram) => Some((datagram, path.to_string())),
                    Err(error) => {
                        debug!(error = %error, "cannot open a socket for systemd notifications");
                        None
                    }
                });
        // The watchdog is ours only when no other process is named for it.
        let ours = watchdog_pid.is_none_or(|pid| pid.trim() == std::process::id().to_string());
        let watchdog = watchdog_usec
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0 && ours)
            .map(Duration::from_micros);
        Notifier { target, watchdog }
    }

    /// Whether there is anyone to notify.
    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// How often to ping the watchdog: half the unit's `WatchdogSec`, when there is one.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.target
            .as_ref()
            .and(self.watchdog.map(|limit| limit / 2))
    }

    /// Sends one message (`KEY=value` lines).
    pub fn send(&self, message: &str) {
        let Some((socket, path)) = &self.target else {
            return;
        };
        if let Err(error) = send_to(socket, path, message.as_bytes()) {
            debug!(error = %error, socket = %path, "cannot notify systemd");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
    }

    pub fn stopping(&self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={}", one_line(status)));
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }
}

/// A status is one line of the protocol.
fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

fn send_to(socket: &UnixDatagram, path: &str, message: &[u8]) -> std::io::Result<usize> {
    if let Some(name) = path.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt as _;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            return socket.send_to_addr(message, &address);
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = name;
            return Err(std::io::Error::other("abstract sockets need Linux"));
        }
    }
    socket.send_to(message, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_the_socket_and_the_watchdog_is_halved() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::new(path.to_str(), Some("3000000"), None);
        assert!(notifier.enabled());
        assert_eq!(notifier.watchdog_every(), Some(Duration::from_millis(1500)));
        notifier.ready("polling 3 feeds\nnow");
        notifier.watchdog();
        let mut buffer = [0u8; 256];
        let read = listener.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..read], b"READY=1\nSTATUS=polling 3 feeds now");
        let read = listener.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..read], b"WATCHDOG=1");
    }

    #[test]
    fn without_a_socket_nothing_is_sent_and_another_pids_watchdog_is_not_ours() {
        let notifier = Notifier::new(None, Some("3000000"), None);
        assert!(!notifier.enabled());
        assert_eq!(notifier.watchdog_every(), None);
        notifier.ready("no one listens");
        let other = Notifier::new(Some("/nonexistent/notify.sock"), Some("3000000"), Some("1"));
        assert_eq!(other.watchdog_every(), None);
        // A socket that does not exist is not an error for the daemon.
        other.status("lost");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_sockets_work() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("tidings-test-{}", std::process::id());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let listener = UnixDatagram::bind_addr(&address).unwrap();
        let notifier = Notifier::new(Some(&format!("@{name}")), None, None);
        notifier.stopping("bye");
        let mut buffer = [0u8; 64];
        let read = listener.recv(&mut buffer).unwrap();
        assert_eq!(&buffer[..read], b"STOPPING=1\nSTATUS=bye");
    }
}
