//! The maker's desk: whether the maker quotes at all (its price source can stop it, the
//! operator can pause it), the price and the limits it quotes — the largest swap shrinks with
//! the XMR it can still promise — which recently quoted prices it still honours, and how many
//! quote requests one peer may make per minute.
//!
//! The desk is plain state, no I/O: the engine's network handler asks it for a quote, the
//! acceptance path checks a taker's terms against it, and the engine feeds it the price (from
//! the maker's price feed, or fixed) and the free XMR (unlocked minus what unlocked swaps
//! have been promised).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bitcoin::Amount;
use confiaro_p2p::PeerId;
use confiaro_protocol::messages::SwapTerms;
use confiaro_protocol::quote::{Price, Quote, QuoteError, QuoteReply, ReserveProof};
use confiaro_protocol::{Network, XmrAmount};
use serde::Serialize;

/// How a maker quotes: its per-swap limits and how it treats takers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MakerSettings {
    /// Smallest swap, in BTC.
    pub min_btc: Amount,
    /// Largest swap, in BTC (quoted lower when the free XMR does not cover it).
    pub max_btc: Amount,
    /// Quote requests one peer may make per minute; more are refused until the minute ends.
    pub quotes_per_minute: u32,
    /// How long a price the maker quoted stays good for a taker's swap after the price has
    /// moved on (a taker asks for a quote, then sets the swap up at that price).
    pub quote_validity: Duration,
    /// Attach a Monero reserve proof to every quote (remade every
    /// [`RESERVE_PROOF_REFRESH`]); the largest swap quoted is then also capped by what the
    /// proof covers. A reserve proof shows the wallet's outputs' key images to whoever asks
    /// for a quote: a privacy cost, so it is off unless asked for.
    pub reserve_proof: bool,
}

/// How often a maker that attaches reserve proofs makes a new one.
pub const RESERVE_PROOF_REFRESH: Duration = Duration::from_secs(600);

impl MakerSettings {
    /// Limits `min_btc`..=`max_btc`, 60 quotes per peer and minute, quotes good for 60 s.
    pub fn new(min_btc: Amount, max_btc: Amount) -> MakerSettings {
        MakerSettings {
            min_btc,
            max_btc,
            quotes_per_minute: 60,
            quote_validity: Duration::from_secs(60),
            reserve_proof: false,
        }
    }

    /// The quote these limits give at `price` on `network` (with the network's timelocks),
    /// before any inventory limit.
    pub fn quote(&self, network: Network, price: Price) -> Quote {
        let params = network.params();
        Quote {
            network,
            price,
            min_btc: self.min_btc,
            max_btc: self.max_btc,
            cancel_timelock: params.cancel_timelock,
            punish_timelock: params.punish_timelock,
        }
    }
}

/// What the maker is doing, for the operator (CLI, admin API, metrics).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MakerStatus {
    /// Whether quote requests are answered with a quote now.
    pub quoting: bool,
    /// Why not, when not quoting.
    pub reason: Option<String>,
    /// Whether the operator paused quoting.
    pub paused: bool,
    /// The price quoted (piconero per BTC), when there is one.
    pub price_piconero_per_btc: Option<u64>,
    /// The configured smallest swap (sat).
    pub min_sat: u64,
    /// The largest swap quoted now (sat): the configured one, or less when the free XMR
    /// does not cover it.
    pub max_sat: u64,
    /// Unlocked XMR not promised to any swap (piconero), when known.
    pub free_piconero: Option<u64>,
    /// What the attached reserve proof covers (piconero) and when it was made (Unix
    /// seconds), when the maker attaches one.
    pub reserve_proof: Option<(u64, u64)>,
    /// Counters since the engine started.
    pub counters: MakerCounters,
}

/// Counters since the engine started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MakerCounters {
    /// Quote requests answered with a quote.
    pub quotes_served: u64,
    /// Quote requests refused (not quoting, paused, no inventory).
    pub quotes_refused: u64,
    /// Quote requests refused because the peer asked too often.
    pub quotes_rate_limited: u64,
    /// Swaps taken.
    pub swaps_accepted: u64,
    /// Swap setups refused.
    pub swaps_refused: u64,
}

/// Peers tracked for rate limits before the expired ones are dropped.
const MAX_TRACKED_PEERS: usize = 4096;

/// The maker's quoting state; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Desk {
    settings: MakerSettings,
    price: Result<Price, String>,
    paused: bool,
    free_xmr: Option<XmrAmount>,
    /// The reserve proof attached to quotes, and the total it proves.
    reserve: Option<(ReserveProof, XmrAmount)>,
    /// Prices quoted, newest last, kept for [`MakerSettings::quote_validity`].
    recent: VecDeque<(Instant, Price)>,
    /// Per peer: the start of its current minute and the requests in it.
    windows: HashMap<PeerId, (Instant, u32)>,
    counters: MakerCounters,
}

impl Desk {
    /// A desk quoting `settings` at `price` (an `Err` says why there is no price yet).
    pub(crate) fn new(settings: MakerSettings, price: Result<Price, String>) -> Desk {
        Desk {
            settings,
            price,
            paused: false,
            free_xmr: None,
            reserve: None,
            recent: VecDeque::new(),
            windows: HashMap::new(),
            counters: MakerCounters::default(),
        }
    }

    /// Sets the price (from the feed); an `Err` stops quoting and says why.
    pub(crate) fn set_price(&mut self, price: Result<Price, String>) {
        self.price = price;
    }

    /// Pauses (`true`) or resumes (`false`) quoting.
    pub(crate) fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Sets the XMR the maker can still promise.
    pub(crate) fn set_free_xmr(&mut self, free: XmrAmount) {
        self.free_xmr = Some(free);
    }

    /// Sets the reserve proof attached to quotes and the total it proves.
    pub(crate) fn set_reserve_proof(&mut self, proof: ReserveProof, proven: XmrAmount) {
        self.reserve = Some((proof, proven));
    }

    /// The quote for now, before rate limits: its limits shrink to the free XMR (and to what
    /// the reserve proof covers, when one is attached). `Err` says why the maker does not
    /// quote.
    fn current_quote(&self, network: Network) -> Result<QuoteReply, String> {
        if self.paused {
            return Err("not quoting: paused by the operator".into());
        }
        let price = self
            .price
            .clone()
            .map_err(|reason| format!("not quoting: {reason}"))?;
        let mut free = self
            .free_xmr
            .ok_or("not quoting: the maker's XMR balance is not known yet")?;
        let reserve_proof = if self.settings.reserve_proof {
            let (proof, proven) = self
                .reserve
                .clone()
                .ok_or("not quoting: the reserve proof is not made yet")?;
            free = free.min(proven);
            Some(proof)
        } else {
            None
        };
        let (min_btc, max_btc) = confiaro_pricing::quote_limits(
            price,
            self.settings.min_btc,
            self.settings.max_btc,
            free,
        )
        .map_err(|e| format!("not quoting: {e}"))?;
        Ok(QuoteReply {
            quote: Quote {
                min_btc,
                max_btc,
                ..self.settings.quote(network, price)
            },
            reserve_proof,
        })
    }

    /// Answers a quote request from `peer` at `now`: the quote, or why not (too many
    /// requests, paused, no price, not enough free XMR). A served price is remembered for
    /// [`MakerSettings::quote_validity`].
    pub(crate) fn quote_for(
        &mut self,
        peer: PeerId,
        network: Network,
        now: Instant,
    ) -> Result<QuoteReply, String> {
        if !self.admit(peer, now) {
            self.counters.quotes_rate_limited += 1;
            return Err(format!(
                "too many quote requests: at most {} per minute; try again later",
                self.settings.quotes_per_minute
            ));
        }
        match self.current_quote(network) {
            Ok(reply) => {
                self.counters.quotes_served += 1;
                self.forget_expired(now);
                let price = reply.quote.price;
                if self.recent.back().map(|(_, p)| *p) != Some(price) {
                    self.recent.push_back((now, price));
                } else if let Some(last) = self.recent.back_mut() {
                    last.0 = now;
                }
                Ok(reply)
            }
            Err(reason) => {
                self.counters.quotes_refused += 1;
                Err(reason)
            }
        }
    }

    /// Checks a taker's `terms` against the current price or one quoted within the
    /// validity window, and the configured limits (the free XMR is checked by the caller,
    /// against the wallet), and returns the price they match. Counts the outcome.
    pub(crate) fn check_terms(
        &mut self,
        network: Network,
        terms: &SwapTerms,
        now: Instant,
    ) -> Result<Price, String> {
        let result = self.terms_match(network, terms, now);
        match &result {
            Ok(_) => self.counters.swaps_accepted += 1,
            Err(_) => self.counters.swaps_refused += 1,
        }
        result
    }

    fn terms_match(
        &mut self,
        network: Network,
        terms: &SwapTerms,
        now: Instant,
    ) -> Result<Price, String> {
        if self.paused {
            return Err("not taking swaps: paused by the operator".into());
        }
        self.forget_expired(now);
        let current = self.price.clone().ok();
        let mut last_error: Option<QuoteError> = None;
        for price in current
            .into_iter()
            .chain(self.recent.iter().rev().map(|(_, p)| *p))
        {
            match self.settings.quote(network, price).check_terms(terms) {
                Ok(()) => return Ok(price),
                Err(e) => last_error = Some(e),
            }
        }
        Err(match last_error {
            Some(e) => format!("{e} (the price may have moved: ask for a new quote)"),
            None => match &self.price {
                Err(reason) => format!("not taking swaps: {reason}"),
                Ok(_) => "no quote to match".into(),
            },
        })
    }

    /// What the desk is doing now.
    pub(crate) fn status(&self, network: Network) -> MakerStatus {
        let quote = self.current_quote(network);
        MakerStatus {
            quoting: quote.is_ok(),
            reason: quote.as_ref().err().cloned(),
            paused: self.paused,
            price_piconero_per_btc: self.price.as_ref().ok().map(|p| p.0),
            min_sat: self.settings.min_btc.to_sat(),
            max_sat: quote
                .map_or(self.settings.max_btc, |r| r.quote.max_btc)
                .to_sat(),
            free_piconero: self.free_xmr.map(XmrAmount::as_piconero),
            reserve_proof: self
                .reserve
                .as_ref()
                .map(|(proof, proven)| (proven.as_piconero(), proof.made_at)),
            counters: self.counters,
        }
    }

    /// Counts a request of `peer` in its current minute; `false` when over the limit.
    fn admit(&mut self, peer: PeerId, now: Instant) -> bool {
        const MINUTE: Duration = Duration::from_secs(60);
        if self.windows.len() >= MAX_TRACKED_PEERS {
            self.windows
                .retain(|_, (start, _)| now.duration_since(*start) < MINUTE);
        }
        let window = self.windows.entry(peer).or_insert((now, 0));
        if now.duration_since(window.0) >= MINUTE {
            *window = (now, 0);
        }
        if window.1 >= self.settings.quotes_per_minute {
            return false;
        }
        window.1 += 1;
        true
    }

    fn forget_expired(&mut self, now: Instant) {
        while let Some((at, _)) = self.recent.front() {
            if now.duration_since(*at) > self.settings.quote_validity {
                self.recent.pop_front();
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use confiaro_p2p::libp2p::identity::Keypair;

    const NET: Network = Network::Regtest;
    /// 100 XMR per BTC.
    const PRICE: Price = Price(100 * 1_000_000_000_000);

    fn peer() -> PeerId {
        Keypair::generate_ed25519().public().to_peer_id()
    }

    fn desk() -> Desk {
        let mut desk = Desk::new(
            MakerSettings {
                quotes_per_minute: 3,
                ..MakerSettings::new(Amount::from_sat(100_000), Amount::from_sat(10_000_000))
            },
            Ok(PRICE),
        );
        desk.set_free_xmr(XmrAmount::from_piconero(50 * 1_000_000_000_000));
        desk
    }

    fn terms_at(price: Price, btc: Amount) -> SwapTerms {
        MakerSettings::new(Amount::from_sat(100_000), Amount::from_sat(10_000_000))
            .quote(NET, price)
            .terms_for(btc)
            .expect("terms")
    }

    #[test]
    fn the_largest_swap_shrinks_to_the_free_xmr() {
        let mut desk = desk();
        let now = Instant::now();
        // 50 XMR free at 100 XMR/BTC covers 0.5 BTC, more than the 0.1 BTC configured
        let quote = desk.quote_for(peer(), NET, now).expect("a quote").quote;
        assert_eq!(quote.max_btc, Amount::from_sat(10_000_000));
        // 5 XMR covers 0.05 BTC exactly
        desk.set_free_xmr(XmrAmount::from_piconero(5 * 1_000_000_000_000));
        let quote = desk.quote_for(peer(), NET, now).expect("a quote").quote;
        assert_eq!(quote.max_btc, Amount::from_sat(5_000_000));
        assert_eq!(quote.min_btc, Amount::from_sat(100_000));
        // less than the minimum's XMR: no quote, and the reason says so
        desk.set_free_xmr(XmrAmount::from_piconero(1_000_000_000_000 / 10 - 1));
        let refused = desk.quote_for(peer(), NET, now).expect_err("no inventory");
        assert!(refused.starts_with("not quoting: "), "{refused}");
        assert_eq!(desk.status(NET).counters.quotes_refused, 1);
        assert!(!desk.status(NET).quoting);
    }

    #[test]
    fn a_maker_that_proves_reserves_waits_for_its_proof_and_caps_to_it() {
        let mut desk = desk();
        desk.settings.reserve_proof = true;
        let now = Instant::now();
        let refused = desk.quote_for(peer(), NET, now).expect_err("no proof yet");
        assert!(refused.contains("reserve proof"), "{refused}");
        let proof = ReserveProof {
            address: "4abc".into(),
            made_at: 1,
            signature: "ReserveProofV2xyz".into(),
        };
        // the proof covers 2 XMR of the 50 free: 0.02 BTC at 100 XMR/BTC
        desk.set_reserve_proof(proof.clone(), XmrAmount::from_piconero(2_000_000_000_000));
        let reply = desk.quote_for(peer(), NET, now).expect("a quote");
        assert_eq!(reply.reserve_proof, Some(proof));
        assert_eq!(reply.quote.max_btc, Amount::from_sat(2_000_000));
    }

    #[test]
    fn no_price_or_a_pause_stops_quotes_and_setups_with_the_reason() {
        let mut desk = desk();
        let now = Instant::now();
        desk.set_price(Err("only 1 of 2 price sources usable".into()));
        let refused = desk.quote_for(peer(), NET, now).expect_err("no price");
        assert_eq!(refused, "not quoting: only 1 of 2 price sources usable");
        desk.set_price(Ok(PRICE));
        desk.set_paused(true);
        let refused = desk.quote_for(peer(), NET, now).expect_err("paused");
        assert!(refused.contains("paused by the operator"), "{refused}");
        let terms = terms_at(PRICE, Amount::from_sat(1_000_000));
        assert!(desk.check_terms(NET, &terms, now).is_err());
        desk.set_paused(false);
        assert_eq!(desk.check_terms(NET, &terms, now), Ok(PRICE));
        let status = desk.status(NET);
        assert_eq!(status.counters.swaps_accepted, 1);
        assert_eq!(status.counters.swaps_refused, 1);
    }

    #[test]
    fn a_quoted_price_is_honoured_for_its_validity_then_not() {
        let mut desk = desk();
        let start = Instant::now();
        let old = PRICE;
        desk.quote_for(peer(), NET, start).expect("quoted");
        let new = Price(PRICE.0 - 1_000_000_000_000);
        desk.set_price(Ok(new));
        let btc = Amount::from_sat(1_000_000);
        // the taker set up at the old price 30 s later: still good, at the old price
        let later = start + Duration::from_secs(30);
        assert_eq!(desk.check_terms(NET, &terms_at(old, btc), later), Ok(old));
        assert_eq!(desk.check_terms(NET, &terms_at(new, btc), later), Ok(new));
        // past the validity the old price is gone
        let expired = start + Duration::from_secs(61);
        let refused = desk
            .check_terms(NET, &terms_at(old, btc), expired)
            .expect_err("expired");
        assert!(refused.contains("ask for a new quote"), "{refused}");
        // a price never quoted is never accepted
        let other = Price(PRICE.0 + 1);
        assert!(desk.check_terms(NET, &terms_at(other, btc), later).is_err());
    }

    #[test]
    fn each_peer_gets_its_own_quota_per_minute() {
        let mut desk = desk();
        let (a, b) = (peer(), peer());
        let now = Instant::now();
        for _ in 0..3 {
            desk.quote_for(a, NET, now).expect("within the quota");
        }
        let refused = desk.quote_for(a, NET, now).expect_err("over the quota");
        assert!(refused.contains("at most 3 per minute"), "{refused}");
        desk.quote_for(b, NET, now).expect("another peer");
        desk.quote_for(a, NET, now + Duration::from_secs(60))
            .expect("a new minute");
        let counters = desk.status(NET).counters;
        assert_eq!(counters.quotes_rate_limited, 1);
        assert_eq!(counters.quotes_served, 5);
    }
}
