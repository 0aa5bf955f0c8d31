//! Quotes: how a taker learns a maker's price and limits before a swap, and how both turn a
//! quote and an amount into the [`SwapTerms`] of the swap.
//!
//! Wire format, like [`crate::messages`] but with its own magic so the two can never be
//! confused: `b"CFRQ"`, a version byte ([`QUOTE_VERSION`]), a kind byte (1: [`QuoteRequest`],
//! 2: [`QuoteReply`]), then the bincode body, at most [`MAX_QUOTE_BYTES`] in all.
//! [`decode_request`] and [`decode_reply`] never panic and accept only values that are valid
//! on their own (ordered limits above dust, a positive price, timelocks no shorter than the
//! network's, a reserve proof of bounded size).
//!
//! A maker may attach a [`ReserveProof`] to its quote: a Monero reserve proof of its wallet
//! over a message that names the maker, the network and the time it was made
//! ([`ReserveProof::message`]), so a taker can check — with its own wallet RPC, against the
//! chain — that the maker holds the XMR it offers before trusting the offer.
//!
//! Prices are integers: piconero per whole bitcoin. The XMR amount of a swap is
//! `floor(btc_sat × price / 100_000_000)`, computed in 128-bit integers, so both parties
//! compute exactly the same value.

use crate::btc::DUST_LIMIT;
use crate::messages::SwapTerms;
use crate::network::Network;
use crate::{Direction, SwapId, XmrAmount};
use bitcoin::Amount;
use serde::{Deserialize, Serialize};

/// The quote wire format version this crate speaks.
///
/// Version 3 (2026-12-06): a reply carries one quote per direction the maker takes.
pub const QUOTE_VERSION: u8 = 3;
/// The magic prefix of quote messages.
pub const QUOTE_MAGIC: &[u8; 4] = b"CFRQ";
/// The largest encoded quote message (a reply with a reserve proof of many outputs).
pub const MAX_QUOTE_BYTES: usize = 60 * 1024;
/// The longest reserve proof signature accepted, in bytes.
pub const MAX_RESERVE_SIGNATURE_BYTES: usize = 56 * 1024;
const HEADER_LEN: usize = QUOTE_MAGIC.len() + 2;
const SATS_PER_BTC: u128 = 100_000_000;

/// A taker's request for a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRequest {
    /// The network the taker swaps on; a maker on another network refuses.
    pub network: Network,
}

/// A price in piconero per whole bitcoin (1 XMR = 10^12 piconero, 1 BTC = 10^8 sat).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Price(pub u64);

impl Price {
    /// The XMR bought with `btc` at this price, rounded down to the piconero.
    ///
    /// Returns `None` if the result does not fit in a `u64` of piconero.
    pub fn xmr_for(self, btc: Amount) -> Option<XmrAmount> {
        let piconero = u128::from(btc.to_sat()) * u128::from(self.0) / SATS_PER_BTC;
        u64::try_from(piconero).ok().map(XmrAmount::from_piconero)
    }

    /// The BTC bought with `xmr` at this price, rounded down to the satoshi (a taker selling
    /// XMR sends exactly `xmr`). `None` for a zero price or an amount above 21 million BTC.
    pub fn btc_for(self, xmr: XmrAmount) -> Option<Amount> {
        let sat = u128::from(xmr.as_piconero())
            .checked_mul(SATS_PER_BTC)?
            .checked_div(u128::from(self.0))?;
        u64::try_from(sat)
            .ok()
            .map(Amount::from_sat)
            .filter(|btc| *btc <= Amount::MAX_MONEY)
    }
}

impl std::fmt::Display for Price {
    /// As XMR per BTC with all twelve decimals, e.g. `150.000000000000 XMR/BTC`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per_xmr = crate::amount::PICONERO_PER_XMR;
        write!(f, "{}.{:012} XMR/BTC", self.0 / per_xmr, self.0 % per_xmr)
    }
}

/// A maker's offer for one direction: its price and the BTC amounts it accepts per swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// The network the maker swaps on.
    pub network: Network,
    /// Which side the taker takes: [`Direction::BuyXmr`] (the maker sells XMR at this
    /// price) or [`Direction::SellXmr`] (the maker buys XMR at it).
    pub direction: Direction,
    /// Piconero per BTC: what a taker buying XMR gets per BTC, or what a taker selling XMR
    /// pays per BTC.
    pub price: Price,
    /// Smallest BTC amount per swap.
    pub min_btc: Amount,
    /// Largest BTC amount per swap.
    pub max_btc: Amount,
    /// Cancel timelock the maker uses (blocks).
    pub cancel_timelock: u16,
    /// Punish timelock the maker uses (blocks).
    pub punish_timelock: u16,
}

/// A maker's proof that its Monero wallet holds funds: a Monero reserve proof
/// (`get_reserve_proof` over all of the wallet's outputs) of `address`, signing
/// [`ReserveProof::message`] for this maker, network and time. It proves the total of the
/// wallet's unspent outputs when it was made, not that they are unlocked or unpromised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveProof {
    /// The wallet's primary address.
    pub address: String,
    /// When the proof was made (Unix seconds).
    pub made_at: u64,
    /// The proof string (`ReserveProofV2…`).
    pub signature: String,
}

impl ReserveProof {
    /// The message a reserve proof of the maker `maker` (its peer id) on `network`, made at
    /// `made_at` (Unix seconds), signs: a proof cannot be passed off by another maker, on
    /// another network, or long after.
    pub fn message(maker: &str, network: Network, made_at: u64) -> String {
        format!("confiaro reserve proof v1 {network:?} {maker} {made_at}")
    }

    /// The message a taker selling XMR signs with the reserve proof of its wallet for one
    /// swap: it names the maker, the network, the swap and the XMR to be locked, so the
    /// proof cannot be replayed to another maker or for another swap.
    pub fn swap_message(maker: &str, network: Network, swap_id: &SwapId, xmr: XmrAmount) -> String {
        format!(
            "confiaro sell reserve proof v1 {network:?} {maker} {swap_id} {}",
            xmr.as_piconero()
        )
    }
}

/// A maker's answer to a [`QuoteRequest`]: a quote for each direction it takes and, if it
/// offers one, a reserve proof of the XMR it sells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteReply {
    /// One or two quotes, of different directions.
    pub quotes: Vec<Quote>,
    /// The maker's reserve proof, when it attaches one.
    pub reserve_proof: Option<ReserveProof>,
}

impl QuoteReply {
    /// The quote for `direction`, if the maker takes that side.
    pub fn quote(&self, direction: Direction) -> Option<&Quote> {
        self.quotes.iter().find(|q| q.direction == direction)
    }
}

/// Why a quote, or terms built from it, are not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuoteError {
    /// Fewer bytes than the header.
    #[error("quote message too short: {len} bytes")]
    TooShort {
        /// Length received.
        len: usize,
    },
    /// Not a quote message.
    #[error("not a quote message (bad magic bytes)")]
    BadMagic,
    /// Another version of the quote format.
    #[error("unsupported quote version {version} (this build speaks {QUOTE_VERSION})")]
    UnsupportedVersion {
        /// Version received.
        version: u8,
    },
    /// Not the kind expected here.
    #[error("quote message of kind {kind}, expected {expected}")]
    WrongKind {
        /// Kind received.
        kind: u8,
        /// Kind expected.
        expected: u8,
    },
    /// Larger than [`MAX_QUOTE_BYTES`].
    #[error("quote message is {len} bytes, limit {MAX_QUOTE_BYTES}")]
    TooLarge {
        /// Length received.
        len: usize,
    },
    /// The body does not parse, or bytes follow it.
    #[error("malformed quote message: {reason}")]
    Malformed {
        /// What was wrong.
        reason: String,
    },
    /// A field is out of range.
    #[error("invalid quote: {0}")]
    Invalid(String),
    /// The amount asked for is outside the quote's limits.
    #[error("{requested} is outside the maker's limits {min}..={max}")]
    OutOfLimits {
        /// The amount asked for.
        requested: Amount,
        /// The quote's minimum.
        min: Amount,
        /// The quote's maximum.
        max: Amount,
    },
    /// Proposed terms do not follow from the quote.
    #[error("terms do not match the quote: {0}")]
    TermsMismatch(String),
}

impl Quote {
    /// Checks that the quote is valid on its own: positive price, `DUST_LIMIT ≤ min ≤ max`,
    /// timelocks at least the network's, and a price that cannot overflow at `max`.
    ///
    /// # Errors
    /// [`QuoteError::Invalid`] naming the first problem.
    pub fn validate(&self) -> Result<(), QuoteError> {
        let params = self.network.params_for(self.direction);
        if self.price.0 == 0 {
            return Err(QuoteError::Invalid("price is zero".into()));
        }
        if self.min_btc < DUST_LIMIT {
            return Err(QuoteError::Invalid(format!(
                "minimum {} is below the dust limit {DUST_LIMIT}",
                self.min_btc
            )));
        }
        if self.min_btc > self.max_btc {
            return Err(QuoteError::Invalid(format!(
                "minimum {} is above maximum {}",
                self.min_btc, self.max_btc
            )));
        }
        // exactly the network's: a longer lock holds the taker's BTC hostage for as long as
        // the maker likes (finding 6, docs/2026-12-06-malicious-counterparty.md)
        if self.cancel_timelock != params.cancel_timelock
            || self.punish_timelock != params.punish_timelock
        {
            return Err(QuoteError::Invalid(format!(
                "timelocks {}/{} are not the network's {}/{}",
                self.cancel_timelock,
                self.punish_timelock,
                params.cancel_timelock,
                params.punish_timelock
            )));
        }
        if self.price.xmr_for(self.max_btc).is_none() {
            return Err(QuoteError::Invalid("price overflows at the maximum".into()));
        }
        Ok(())
    }

    /// The terms of a swap of `btc` at this quote (for a buy quote: the taker names the BTC
    /// it pays).
    ///
    /// # Errors
    /// [`QuoteError::OutOfLimits`] when `btc` is outside `min_btc..=max_btc`;
    /// [`QuoteError::Invalid`] when the XMR amount rounds to zero or the quote is for the
    /// other direction.
    pub fn terms_for(&self, btc: Amount) -> Result<SwapTerms, QuoteError> {
        if self.direction != Direction::BuyXmr {
            return Err(QuoteError::Invalid(
                "a sell quote is priced by the XMR the taker sends".into(),
            ));
        }
        if btc < self.min_btc || btc > self.max_btc {
            return Err(QuoteError::OutOfLimits {
                requested: btc,
                min: self.min_btc,
                max: self.max_btc,
            });
        }
        let xmr = self
            .price
            .xmr_for(btc)
            .filter(|x| *x != XmrAmount::ZERO)
            .ok_or_else(|| QuoteError::Invalid(format!("{btc} buys no XMR at {}", self.price)))?;
        Ok(self.terms(btc, xmr))
    }

    /// The terms of a swap in which the taker sells exactly `xmr` at this sell quote; the BTC
    /// it receives is rounded down to the satoshi.
    ///
    /// # Errors
    /// [`QuoteError::OutOfLimits`] when the BTC is outside `min_btc..=max_btc`;
    /// [`QuoteError::Invalid`] when the quote is for the other direction.
    pub fn terms_for_xmr(&self, xmr: XmrAmount) -> Result<SwapTerms, QuoteError> {
        if self.direction != Direction::SellXmr {
            return Err(QuoteError::Invalid(
                "a buy quote is priced by the BTC the taker pays".into(),
            ));
        }
        let btc = self
            .price
            .btc_for(xmr)
            .ok_or_else(|| QuoteError::Invalid(format!("{xmr} is beyond any BTC amount")))?;
        if btc < self.min_btc || btc > self.max_btc {
            return Err(QuoteError::OutOfLimits {
                requested: btc,
                min: self.min_btc,
                max: self.max_btc,
            });
        }
        Ok(self.terms(btc, xmr))
    }

    fn terms(&self, btc: Amount, xmr: XmrAmount) -> SwapTerms {
        SwapTerms {
            network: self.network,
            btc_amount: btc,
            xmr_amount: xmr,
            cancel_timelock: self.cancel_timelock,
            punish_timelock: self.punish_timelock,
            direction: self.direction,
        }
    }

    /// What this quote gives for the amount `terms` name on the taker's side: the BTC it
    /// pays (buy) or the XMR it sends (sell).
    fn expected_terms(&self, terms: &SwapTerms) -> Result<SwapTerms, QuoteError> {
        match self.direction {
            Direction::BuyXmr => self.terms_for(terms.btc_amount),
            Direction::SellXmr => self.terms_for_xmr(terms.xmr_amount),
        }
    }

    /// Checks that `terms` proposed by a taker are exactly what this quote gives for the
    /// amount the taker names (BTC when buying, XMR when selling), in this quote's direction
    /// (the maker calls this on the taker's setup).
    ///
    /// # Errors
    /// [`QuoteError::OutOfLimits`] or [`QuoteError::TermsMismatch`].
    pub fn check_terms(&self, terms: &SwapTerms) -> Result<(), QuoteError> {
        if terms.direction != self.direction {
            return Err(QuoteError::TermsMismatch(format!(
                "a {} swap against a {} quote",
                terms.direction.name(),
                self.direction.name()
            )));
        }
        let expected = self.expected_terms(terms)?;
        if expected != *terms {
            return Err(QuoteError::TermsMismatch(format!(
                "expected {} for {} with timelocks {}/{} on {:?}, got {} with {}/{} on {:?}",
                expected.xmr_amount,
                expected.btc_amount,
                expected.cancel_timelock,
                expected.punish_timelock,
                expected.network,
                terms.xmr_amount,
                terms.cancel_timelock,
                terms.punish_timelock,
                terms.network
            )));
        }
        Ok(())
    }
}

fn encode<T: Serialize>(kind: u8, value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(QUOTE_MAGIC);
    out.push(QUOTE_VERSION);
    out.push(kind);
    let body = bincode::serde::encode_to_vec(value, bincode::config::standard())
        .expect("serializing our own quote types into a Vec cannot fail");
    out.extend_from_slice(&body);
    out
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], kind: u8) -> Result<T, QuoteError> {
    if bytes.len() < HEADER_LEN {
        return Err(QuoteError::TooShort { len: bytes.len() });
    }
    if bytes.len() > MAX_QUOTE_BYTES {
        return Err(QuoteError::TooLarge { len: bytes.len() });
    }
    if &bytes[..QUOTE_MAGIC.len()] != QUOTE_MAGIC {
        return Err(QuoteError::BadMagic);
    }
    let version = bytes[QUOTE_MAGIC.len()];
    if version != QUOTE_VERSION {
        return Err(QuoteError::UnsupportedVersion { version });
    }
    let got = bytes[QUOTE_MAGIC.len() + 1];
    if got != kind {
        return Err(QuoteError::WrongKind {
            kind: got,
            expected: kind,
        });
    }
    let body = &bytes[HEADER_LEN..];
    let config = bincode::config::standard().with_limit::<MAX_QUOTE_BYTES>();
    let (value, read) =
        bincode::serde::decode_from_slice(body, config).map_err(|e| QuoteError::Malformed {
            reason: e.to_string(),
        })?;
    if read != body.len() {
        return Err(QuoteError::Malformed {
            reason: format!("{} trailing bytes", body.len() - read),
        });
    }
    Ok(value)
}

impl QuoteRequest {
    /// Encodes the request for the wire.
    pub fn encode(&self) -> Vec<u8> {
        encode(1, self)
    }
}

impl QuoteReply {
    /// Encodes the reply for the wire.
    pub fn encode(&self) -> Vec<u8> {
        encode(2, self)
    }
}

/// Decodes a quote request.
///
/// # Errors
/// A [`QuoteError`] naming what is wrong.
pub fn decode_request(bytes: &[u8]) -> Result<QuoteRequest, QuoteError> {
    decode(bytes, 1)
}

/// Decodes and validates a quote reply (each quote on its own, one or two of different
/// directions; the reserve proof's size and shape — whether it proves anything is for the
/// taker's wallet to check).
///
/// # Errors
/// A [`QuoteError`] naming what is wrong.
pub fn decode_reply(bytes: &[u8]) -> Result<QuoteReply, QuoteError> {
    let reply: QuoteReply = decode(bytes, 2)?;
    match reply.quotes.as_slice() {
        [_] => {}
        [a, b] if a.direction != b.direction => {}
        _ => {
            return Err(QuoteError::Invalid(format!(
                "{} quotes (one or two of different directions expected)",
                reply.quotes.len()
            )))
        }
    }
    for quote in &reply.quotes {
        quote.validate()?;
    }
    if let Some(proof) = &reply.reserve_proof {
        if proof.signature.is_empty()
            || proof.signature.len() > MAX_RESERVE_SIGNATURE_BYTES
            || !proof.signature.is_ascii()
        {
            return Err(QuoteError::Invalid(format!(
                "reserve proof signature of {} bytes (1 to {MAX_RESERVE_SIGNATURE_BYTES} ASCII bytes expected)",
                proof.signature.len()
            )));
        }
        if proof.address.is_empty() || proof.address.len() > 128 || !proof.address.is_ascii() {
            return Err(QuoteError::Invalid(
                "reserve proof address is not a Monero address".into(),
            ));
        }
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quote() -> Quote {
        let params = Network::Regtest.params();
        Quote {
            network: Network::Regtest,
            direction: Direction::BuyXmr,
            price: Price(150_000_000_000_000),
            min_btc: Amount::from_sat(10_000),
            max_btc: Amount::from_sat(100_000_000),
            cancel_timelock: params.cancel_timelock,
            punish_timelock: params.punish_timelock,
        }
    }

    #[test]
    fn terms_follow_from_the_price_in_integers() {
        let terms = quote().terms_for(Amount::from_sat(1_234_567)).unwrap();
        // 1_234_567 sat × 150 XMR/BTC = 1.8518505 XMR
        assert_eq!(
            terms.xmr_amount,
            XmrAmount::from_piconero(1_851_850_500_000)
        );
        quote().check_terms(&terms).unwrap();
    }

    #[test]
    fn amounts_outside_the_limits_and_altered_terms_are_refused() {
        let q = quote();
        assert!(matches!(
            q.terms_for(Amount::from_sat(9_999)),
            Err(QuoteError::OutOfLimits { .. })
        ));
        assert!(matches!(
            q.terms_for(Amount::from_sat(100_000_001)),
            Err(QuoteError::OutOfLimits { .. })
        ));
        let mut terms = q.terms_for(Amount::from_sat(50_000)).unwrap();
        terms.xmr_amount = XmrAmount::from_piconero(terms.xmr_amount.as_piconero() + 1);
        assert!(matches!(
            q.check_terms(&terms),
            Err(QuoteError::TermsMismatch(_))
        ));
    }

    fn reply(quote: Quote) -> QuoteReply {
        QuoteReply {
            quotes: vec![quote],
            reserve_proof: None,
        }
    }

    fn decode_quote(bytes: &[u8]) -> Result<Quote, QuoteError> {
        decode_reply(bytes).map(|r| r.quotes[0])
    }

    fn sell_quote() -> Quote {
        let params = Network::Mainnet.params_for(Direction::SellXmr);
        Quote {
            network: Network::Mainnet,
            direction: Direction::SellXmr,
            price: Price(160_000_000_000_000),
            min_btc: Amount::from_sat(10_000),
            max_btc: Amount::from_sat(100_000_000),
            cancel_timelock: params.cancel_timelock,
            punish_timelock: params.punish_timelock,
        }
    }

    #[test]
    fn a_sell_quote_prices_the_xmr_sent_and_names_its_direction_and_timelocks() {
        let q = sell_quote();
        // 1.6 XMR at 160 XMR/BTC = 0.01 BTC; one piconero less rounds the BTC down
        let terms = q
            .terms_for_xmr(XmrAmount::from_piconero(1_600_000_000_000))
            .unwrap();
        assert_eq!(terms.btc_amount, Amount::from_sat(1_000_000));
        assert_eq!(terms.direction, Direction::SellXmr);
        assert_eq!(terms.cancel_timelock, 36);
        terms.validate().unwrap();
        q.check_terms(&terms).unwrap();
        let short = q
            .terms_for_xmr(XmrAmount::from_piconero(1_599_999_999_999))
            .unwrap();
        assert_eq!(short.btc_amount, Amount::from_sat(999_999));
        // the other direction's terms, or a buy quote asked for sell terms, are refused
        let mut as_buy = terms;
        as_buy.direction = Direction::BuyXmr;
        assert!(matches!(
            q.check_terms(&as_buy),
            Err(QuoteError::TermsMismatch(_))
        ));
        assert!(q.terms_for(Amount::from_sat(1_000_000)).is_err());
        assert!(quote().terms_for_xmr(XmrAmount::from_piconero(1)).is_err());
        // a sell quote with the buy direction's (longer) timelocks does not validate
        let mut long = q;
        long.cancel_timelock = Network::Mainnet.params().cancel_timelock;
        assert!(long.validate().is_err());
        // both sides in one reply round-trip; two of one side do not
        let both = QuoteReply {
            quotes: vec![quote(), sell_quote_regtest()],
            reserve_proof: None,
        };
        assert_eq!(decode_reply(&both.encode()).unwrap(), both);
        assert_eq!(
            both.quote(Direction::SellXmr).unwrap().price,
            Price(160_000_000_000_000)
        );
        let twice = QuoteReply {
            quotes: vec![quote(), quote()],
            reserve_proof: None,
        };
        assert!(matches!(
            decode_reply(&twice.encode()),
            Err(QuoteError::Invalid(_))
        ));
        let none = QuoteReply {
            quotes: vec![],
            reserve_proof: None,
        };
        assert!(matches!(
            decode_reply(&none.encode()),
            Err(QuoteError::Invalid(_))
        ));
        // a swap's reserve proof message names the swap and the amount
        let id = SwapId([7; 32]);
        let m = ReserveProof::swap_message(
            "12D3KooW",
            Network::Mainnet,
            &id,
            XmrAmount::from_piconero(5),
        );
        assert!(m.contains(&id.to_string()) && m.ends_with(" 5"), "{m}");
        assert_ne!(
            m,
            ReserveProof::swap_message(
                "12D3KooW",
                Network::Mainnet,
                &SwapId([8; 32]),
                XmrAmount::from_piconero(5)
            )
        );
    }

    fn sell_quote_regtest() -> Quote {
        let params = Network::Regtest.params_for(Direction::SellXmr);
        Quote {
            network: Network::Regtest,
            cancel_timelock: params.cancel_timelock,
            punish_timelock: params.punish_timelock,
            ..sell_quote()
        }
    }

    #[test]
    fn replies_with_a_reserve_proof_round_trip_and_oversized_proofs_are_refused() {
        let proof = ReserveProof {
            address: "4".repeat(95),
            made_at: 1_800_000_000,
            signature: format!("ReserveProofV2{}", "a".repeat(4_000)),
        };
        let with_proof = QuoteReply {
            quotes: vec![quote()],
            reserve_proof: Some(proof.clone()),
        };
        assert_eq!(decode_reply(&with_proof.encode()).unwrap(), with_proof);
        let mut empty = with_proof.clone();
        empty.reserve_proof = Some(ReserveProof {
            signature: String::new(),
            ..proof.clone()
        });
        assert!(matches!(
            decode_reply(&empty.encode()),
            Err(QuoteError::Invalid(_))
        ));
        let mut huge = with_proof;
        huge.reserve_proof = Some(ReserveProof {
            signature: "a".repeat(MAX_QUOTE_BYTES),
            ..proof
        });
        assert!(decode_reply(&huge.encode()).is_err());
        let message = ReserveProof::message("12D3KooW", Network::Regtest, 7);
        assert_eq!(message, "confiaro reserve proof v1 Regtest 12D3KooW 7");
        assert_ne!(
            message,
            ReserveProof::message("12D3KooW", Network::Mainnet, 7)
        );
    }

    #[test]
    fn quotes_round_trip_and_bad_ones_are_refused() {
        let q = quote();
        assert_eq!(decode_quote(&reply(q).encode()).unwrap(), q);
        let request = QuoteRequest {
            network: Network::Regtest,
        };
        assert_eq!(decode_request(&request.encode()).unwrap(), request);
        assert!(matches!(
            decode_quote(&request.encode()),
            Err(QuoteError::WrongKind { .. })
        ));
        let mut bad = q;
        bad.min_btc = Amount::from_sat(200_000_000);
        assert!(matches!(
            decode_quote(&reply(bad).encode()),
            Err(QuoteError::Invalid(_))
        ));
        // finding 6: a quote whose timelocks hold the taker's BTC longer than the network's
        for (cancel, punish) in [(u16::MAX, q.punish_timelock), (q.cancel_timelock, u16::MAX)] {
            let mut hostage = q;
            hostage.cancel_timelock = cancel;
            hostage.punish_timelock = punish;
            assert!(matches!(
                decode_quote(&reply(hostage).encode()),
                Err(QuoteError::Invalid(reason)) if reason.contains("not the network's")
            ));
        }
        let mut trailing = reply(q).encode();
        trailing.push(0);
        assert!(matches!(
            decode_quote(&trailing),
            Err(QuoteError::Malformed { .. })
        ));
        assert!(matches!(
            decode_quote(b"CFRQ"),
            Err(QuoteError::TooShort { .. })
        ));
        assert!(matches!(
            decode_quote(&vec![0u8; MAX_QUOTE_BYTES + 1]),
            Err(QuoteError::TooLarge { .. })
        ));
    }
}
