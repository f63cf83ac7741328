//! A relay that reads the frames of PostgreSQL's protocol, so that a test can cut a connection at
//! its COMMIT: before the server sees it (the server rolls the transaction back), or once the
//! server has committed and answered, before the client hears (the commit landed, and the client
//! cannot know). Everything sent before the COMMIT is answered to the client first, as when a
//! leader cuts a session waiting for its COMMIT.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Where a connection is cut at its COMMIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitCut {
    /// The COMMIT never reaches the server: the transaction rolls back.
    Unsent,
    /// The server commits and answers; the answer never reaches the client.
    Unanswered,
}

/// How long the relay waits for the server's answers before cutting anyway: a test then fails
/// on its own checks instead of hanging.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// The next COMMIT any connection sends is cut so, once: a test arms it when only the journal's
/// writer commits (an engine runs no other transaction by itself).
#[derive(Default)]
pub(crate) struct CommitTrap {
    armed: Mutex<Option<CommitCut>>,
    sprung: AtomicUsize,
}

impl CommitTrap {
    pub(crate) fn arm(&self, cut: CommitCut) {
        *self.armed.lock().expect("the trap") = Some(cut);
    }

    pub(crate) fn sprung(&self) -> usize {
        self.sprung.load(Ordering::SeqCst)
    }

    fn take(&self) -> Option<CommitCut> {
        self.armed.lock().expect("the trap").take()
    }
}

pub(crate) async fn relay(inbound: TcpStream, target: SocketAddr, trap: Arc<CommitTrap>) {
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let (client_read, client_write) = inbound.into_split();
    let (server_read, server_write) = outbound.into_split();
    let (answered, answers) = watch::channel(0);
    let muted = Arc::new(AtomicBool::new(false));
    let answering = tokio::spawn(relay_answers(
        server_read,
        client_write,
        answered,
        muted.clone(),
    ));
    let requests = Requests {
        server: server_write,
        answers,
        muted,
        trap,
        answers_due: 0,
    };
    requests.relay(client_read).await;
    // Both sockets close: the client reads the end, the server rolls back what is open.
    answering.abort();
}

/// The client's side of one connection.
struct Requests {
    server: OwnedWriteHalf,
    /// How many ReadyForQuery the server has sent so far.
    answers: watch::Receiver<usize>,
    /// Set, the server's answers go no further than the relay.
    muted: Arc<AtomicBool>,
    trap: Arc<CommitTrap>,
    /// How many ReadyForQuery the requests relayed so far will get: one for the startup, one per
    /// simple query and one per Sync.
    answers_due: usize,
}

impl Requests {
    async fn relay(mut self, mut client: OwnedReadHalf) {
        // The startup message is the only one without a type byte.
        let mut typed = false;
        while let Some(frame) = read_frame(&mut client, typed).await {
            let kind = if typed { frame[0] } else { b'\0' };
            typed = true;
            if kind == b'Q' && is_commit(&frame) {
                if let Some(cut) = self.trap.take() {
                    self.spring(cut, &frame).await;
                    return;
                }
            }
            if matches!(kind, b'\0' | b'Q' | b'S') {
                self.answers_due += 1;
            }
            if self.server.write_all(&frame).await.is_err() {
                return;
            }
        }
    }

    /// Counted as sprung only when every answer it waited for came: otherwise the connection is
    /// cut all the same, and a test's count of cuts tells it the cut was not the one it meant.
    async fn spring(&mut self, cut: CommitCut, commit: &[u8]) {
        // The statements before the COMMIT are answered, as they were when a leader cut in.
        let mut in_time = self.answered(self.answers_due).await;
        self.muted.store(true, Ordering::SeqCst);
        if cut == CommitCut::Unanswered {
            in_time = in_time
                && self.server.write_all(commit).await.is_ok()
                && self.answered(self.answers_due + 1).await;
        }
        if in_time {
            self.trap.sprung.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn answered(&mut self, count: usize) -> bool {
        let answered = self.answers.wait_for(|n| *n >= count);
        matches!(tokio::time::timeout(ANSWER_WAIT, answered).await, Ok(Ok(_)))
    }
}

async fn relay_answers(
    mut server: OwnedReadHalf,
    mut client: OwnedWriteHalf,
    answered: watch::Sender<usize>,
    muted: Arc<AtomicBool>,
) {
    while let Some(frame) = read_frame(&mut server, true).await {
        // Relayed first, counted after: a count seen means the answer reached the client.
        if !muted.load(Ordering::SeqCst) && client.write_all(&frame).await.is_err() {
            return;
        }
        if frame[0] == b'Z' {
            answered.send_modify(|n| *n += 1);
        }
    }
}

/// One whole frame (type byte, length, body), or none at the end of the stream.
async fn read_frame(stream: &mut OwnedReadHalf, typed: bool) -> Option<Vec<u8>> {
    let header_len = if typed { 5 } else { 4 };
    let mut frame = vec![0; header_len];
    stream.read_exact(&mut frame).await.ok()?;
    let length_at = header_len - 4;
    let length = u32::from_be_bytes(frame[length_at..].try_into().expect("4 bytes"));
    let body_len = (length as usize).checked_sub(4)?;
    frame.resize(header_len + body_len, 0);
    stream.read_exact(&mut frame[header_len..]).await.ok()?;
    Some(frame)
}

/// Whether a simple query frame is a COMMIT.
fn is_commit(frame: &[u8]) -> bool {
    let query = frame[5..]
        .split(|byte| *byte == 0)
        .next()
        .unwrap_or_default();
    String::from_utf8_lossy(query)
        .trim()
        .eq_ignore_ascii_case("COMMIT")
}
