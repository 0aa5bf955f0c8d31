//! The length-prefixed frame codec shared by all swap protocols.
//!
//! A frame is a 4-byte big-endian length `n`, then `n` bytes: a tag byte and a body.
//!
//! | tag    | meaning                      | body                                   |
//! |--------|------------------------------|----------------------------------------|
//! | `0x01` | request                      | opaque payload                         |
//! | `0x02` | ack without payload          | empty                                  |
//! | `0x03` | ack with payload             | opaque payload                         |
//! | `0x04` | refusal                      | UTF-8 reason, at most 1 KiB            |
//! | `0x05` | busy: send again later       | UTF-8 reason, at most 1 KiB            |
//!
//! The length is checked against the protocol's limit *before* the body is allocated, so a
//! peer cannot make us allocate more than [`SwapProtocol::max_message_bytes`] + 1 bytes per
//! stream. A bad *request* frame is read as [`RequestFrame::Invalid`] rather than an error,
//! because libp2p's request-response behaviour does not report failed request reads together
//! with the peer that caused them; the network layer sees the peer with the frame and
//! disconnects it. A bad *response* frame surfaces as a [`CodecError`] wrapped in an
//! [`io::Error`] (unwrap it with [`CodecError::from_io`]).

use crate::protocol::{SwapProtocol, MAX_REFUSAL_REASON_BYTES};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::request_response;
use libp2p::StreamProtocol;
use std::io;

const TAG_REQUEST: u8 = 0x01;
const TAG_ACK_EMPTY: u8 = 0x02;
const TAG_ACK_BYTES: u8 = 0x03;
const TAG_REFUSED: u8 = 0x04;
const TAG_BUSY: u8 = 0x05;

/// A peer's answer to a request: an acknowledgement or a typed refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The request was accepted; optionally with a payload (e.g. a quote).
    Ack(Option<Vec<u8>>),
    /// The request was refused for good; the reason is a short human-readable string from
    /// the peer.
    Refused(String),
    /// The peer cannot take the request now (it is starting, its storage is busy, its queue
    /// is full) and asks for it again later; the reason is as for [`Reply::Refused`].
    Busy(String),
}

/// A request as read from (or written to) a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestFrame {
    /// A well-formed request with its opaque payload.
    Payload(Vec<u8>),
    /// The peer sent an oversized or malformed frame; reading stopped before allocating.
    /// Never written: writing it fails.
    Invalid(CodecError),
}

/// Why a frame could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The payload is bigger than the protocol allows.
    #[error("{protocol}: message of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Protocol the frame was sent on.
        protocol: SwapProtocol,
        /// Size announced or attempted, in bytes.
        size: usize,
        /// The protocol's limit, in bytes.
        max: usize,
    },
    /// The frame is not well-formed (empty, unknown tag, wrong tag for the direction, bad
    /// UTF-8 in a refusal, over-long refusal).
    #[error("{protocol}: malformed frame: {what}")]
    Malformed {
        /// Protocol the frame was sent on.
        protocol: SwapProtocol,
        /// What was wrong (never contains payload bytes).
        what: &'static str,
    },
}

impl CodecError {
    /// Extracts a [`CodecError`] carried inside an [`io::Error`] produced by [`FrameCodec`].
    ///
    /// Returns `None` for ordinary I/O errors (connection reset, end of stream, ...), which
    /// say nothing about the peer's honesty.
    pub fn from_io(error: &io::Error) -> Option<CodecError> {
        error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<CodecError>())
            .cloned()
    }

    fn into_io(self) -> io::Error {
        let kind = match self {
            CodecError::TooLarge { .. } => io::ErrorKind::InvalidInput,
            CodecError::Malformed { .. } => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

/// The libp2p request-response codec for one [`SwapProtocol`].
///
/// Requests are opaque byte vectors; responses are [`Reply`]s. Each instance enforces its
/// protocol's size limit on read and on write.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    protocol: SwapProtocol,
}

impl FrameCodec {
    /// A codec enforcing `protocol`'s limits.
    pub fn new(protocol: SwapProtocol) -> FrameCodec {
        FrameCodec { protocol }
    }

    fn max_frame(&self) -> usize {
        self.protocol.max_message_bytes() + 1
    }

    fn too_large(&self, size: usize) -> CodecError {
        CodecError::TooLarge {
            protocol: self.protocol,
            size,
            max: self.protocol.max_message_bytes(),
        }
    }

    fn malformed(&self, what: &'static str) -> io::Error {
        CodecError::Malformed {
            protocol: self.protocol,
            what,
        }
        .into_io()
    }

    /// Reads one frame; returns `(tag, body)`. Checks the length before allocating.
    async fn read_frame<T: AsyncRead + Unpin + Send>(
        &self,
        io: &mut T,
    ) -> io::Result<(u8, Vec<u8>)> {
        let mut len = [0u8; 4];
        io.read_exact(&mut len).await?;
        let len = u32::from_be_bytes(len) as usize;
        if len == 0 {
            return Err(self.malformed("empty frame"));
        }
        if len > self.max_frame() {
            return Err(self.too_large(len - 1).into_io());
        }
        let mut tag = [0u8; 1];
        io.read_exact(&mut tag).await?;
        let mut body = vec![0u8; len - 1];
        io.read_exact(&mut body).await?;
        Ok((tag[0], body))
    }

    async fn write_frame<T: AsyncWrite + Unpin + Send>(
        &self,
        io: &mut T,
        tag: u8,
        body: &[u8],
    ) -> io::Result<()> {
        if body.len() > self.protocol.max_message_bytes() {
            return Err(self.too_large(body.len()).into_io());
        }
        let len =
            u32::try_from(body.len() + 1).map_err(|_| self.too_large(body.len()).into_io())?;
        io.write_all(&len.to_be_bytes()).await?;
        io.write_all(&[tag]).await?;
        io.write_all(body).await?;
        io.flush().await?;
        io.close().await
    }
}

impl request_response::Codec for FrameCodec {
    type Protocol = StreamProtocol;
    type Request = RequestFrame;
    type Response = Reply;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<RequestFrame>
    where
        T: AsyncRead + Unpin + Send,
    {
        let error = match self.read_frame(io).await {
            Ok((TAG_REQUEST, body)) => return Ok(RequestFrame::Payload(body)),
            Ok(_) => self.malformed("expected a request tag"),
            Err(e) => e,
        };
        match CodecError::from_io(&error) {
            Some(reason) => Ok(RequestFrame::Invalid(reason)),
            None => Err(error),
        }
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Reply>
    where
        T: AsyncRead + Unpin + Send,
    {
        match self.read_frame(io).await? {
            (TAG_ACK_EMPTY, body) if body.is_empty() => Ok(Reply::Ack(None)),
            (TAG_ACK_EMPTY, _) => Err(self.malformed("empty ack with a body")),
            (TAG_ACK_BYTES, body) => Ok(Reply::Ack(Some(body))),
            (tag @ (TAG_REFUSED | TAG_BUSY), body) => {
                if body.len() > MAX_REFUSAL_REASON_BYTES {
                    return Err(self.malformed("refusal reason too long"));
                }
                let reason = String::from_utf8(body)
                    .map_err(|_| self.malformed("refusal reason is not UTF-8"))?;
                Ok(if tag == TAG_BUSY {
                    Reply::Busy(reason)
                } else {
                    Reply::Refused(reason)
                })
            }
            _ => Err(self.malformed("expected a response tag")),
        }
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: RequestFrame,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match req {
            RequestFrame::Payload(body) => self.write_frame(io, TAG_REQUEST, &body).await,
            RequestFrame::Invalid(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid request frame",
            )),
        }
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Reply,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match res {
            Reply::Ack(None) => self.write_frame(io, TAG_ACK_EMPTY, &[]).await,
            Reply::Ack(Some(body)) => self.write_frame(io, TAG_ACK_BYTES, &body).await,
            Reply::Refused(reason) => {
                let reason = truncate_reason(reason);
                self.write_frame(io, TAG_REFUSED, reason.as_bytes()).await
            }
            Reply::Busy(reason) => {
                let reason = truncate_reason(reason);
                self.write_frame(io, TAG_BUSY, reason.as_bytes()).await
            }
        }
    }
}

/// Cuts a refusal reason to [`MAX_REFUSAL_REASON_BYTES`] on a character boundary.
pub(crate) fn truncate_reason(mut reason: String) -> String {
    if reason.len() > MAX_REFUSAL_REASON_BYTES {
        let mut end = MAX_REFUSAL_REASON_BYTES;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use request_response::Codec;

    fn proto() -> StreamProtocol {
        SwapProtocol::Quote.stream_protocol()
    }

    #[test]
    fn a_request_round_trips() {
        let mut codec = FrameCodec::new(SwapProtocol::Quote);
        let mut buf = Vec::new();
        block_on(codec.write_request(
            &proto(),
            &mut futures::io::Cursor::new(&mut buf),
            RequestFrame::Payload(b"hi".to_vec()),
        ))
        .expect("writing to memory");
        let got = block_on(codec.read_request(&proto(), &mut futures::io::Cursor::new(buf)))
            .expect("valid frame");
        assert_eq!(got, RequestFrame::Payload(b"hi".to_vec()));
    }

    #[test]
    fn every_reply_round_trips() {
        for reply in [
            Reply::Ack(None),
            Reply::Ack(Some(vec![1, 2])),
            Reply::Refused("no".into()),
            Reply::Busy("later".into()),
        ] {
            let mut codec = FrameCodec::new(SwapProtocol::Abort);
            let mut buf = Vec::new();
            block_on(codec.write_response(
                &proto(),
                &mut futures::io::Cursor::new(&mut buf),
                reply.clone(),
            ))
            .expect("writing to memory");
            let got = block_on(codec.read_response(&proto(), &mut futures::io::Cursor::new(buf)))
                .expect("valid frame");
            assert_eq!(got, reply);
        }
    }

    #[test]
    fn an_oversized_length_is_rejected_before_allocating() {
        let mut codec = FrameCodec::new(SwapProtocol::Quote);
        let frame = u32::MAX.to_be_bytes().to_vec();
        let got = block_on(codec.read_request(&proto(), &mut futures::io::Cursor::new(frame)))
            .expect("read as an invalid frame");
        assert!(matches!(
            got,
            RequestFrame::Invalid(CodecError::TooLarge { .. })
        ));
    }

    #[test]
    fn an_oversized_write_is_refused() {
        let mut codec = FrameCodec::new(SwapProtocol::Quote);
        let big = vec![0u8; SwapProtocol::Quote.max_message_bytes() + 1];
        let err = block_on(codec.write_request(
            &proto(),
            &mut futures::io::Cursor::new(Vec::new()),
            RequestFrame::Payload(big),
        ))
        .expect_err("oversized");
        assert!(matches!(
            CodecError::from_io(&err),
            Some(CodecError::TooLarge { .. })
        ));
    }

    #[test]
    fn an_unknown_tag_is_malformed() {
        let mut codec = FrameCodec::new(SwapProtocol::Quote);
        let frame = vec![0, 0, 0, 2, 0x7f, 0];
        let err = block_on(codec.read_response(&proto(), &mut futures::io::Cursor::new(frame)))
            .expect_err("bad tag");
        assert!(matches!(
            CodecError::from_io(&err),
            Some(CodecError::Malformed { .. })
        ));
    }
}
