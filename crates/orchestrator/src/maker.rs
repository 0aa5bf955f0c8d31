//! The maker's desk: whether the maker quotes at all (its price source can stop it, the
//! operator can pause it), the prices and the limits it quotes on each side — selling XMR
//! (the ask: the largest swap shrinks with the XMR it can still promise) and, when the
//! operator enables it, buying XMR (the bid: the largest swap shrinks with the BTC it can
//! still promise) — which recently quoted prices it still honours, and how many quote
//! requests one peer may make per minute.
//!
//! The desk is plain state, no I/O: the engine's network handler asks it for a quote, the
//! acceptance path checks a taker's terms against it, and the engine feeds it the prices
//! (from the maker's price feed, or fixed) and the free XMR and BTC (what the wallets hold
//! minus what unlocked swaps have been promised).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bitcoin::Amount;
use confiaro_p2p::PeerId;
use confiaro_protocol::messages::SwapTerms;
use confiaro_protocol::quote::{Price, Quote, QuoteError, QuoteReply, ReserveProof};
use confiaro_protocol::{Direction, Network, XmrAmount};
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
    /// The side on which the maker buys XMR (sells BTC to takers selling XMR), when it takes
    /// that side.
    pub sell: Option<SellSide>,
    /// Swaps on the side on which the maker sells XMR that are set up and can still lock its
    /// XMR, in total: each holds XMR until the taker locks or the setup times out, and peer
    /// ids are free, so this bounds what takers who never lock can tie up at once.
    pub max_open_setups: u32,
    /// Of those, per taker (by peer id).
    pub max_open_setups_per_peer: u32,
}

/// The limits of the side on which a maker buys XMR: a taker selling XMR makes the maker lock
/// its BTC before the taker has locked anything, so the maker bounds how many such swaps can
/// be open and unlocked at once, and refuses takers with a record of walking away
/// (docs/2026-12-06-sell-xmr.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SellSide {
    /// Smallest swap, in BTC.
    pub min_btc: Amount,
    /// Largest swap, in BTC (quoted lower when the free BTC does not cover it).
    pub max_btc: Amount,
    /// Swaps of this side whose taker has not locked its XMR yet, in total.
    pub max_open: u32,
    /// Of those, per taker.
    pub max_open_per_peer: u32,
    /// A taker who walked away (the maker had to take its BTC back) more often than this,
    /// beyond its completed swaps, is refused.
    pub walk_aways_forgiven: u32,
}

impl SellSide {
    /// Limits `min_btc..=max_btc`, 4 open swaps in all and 1 per taker, no walk-away
    /// forgiven beyond the taker's completed swaps.
    pub fn new(min_btc: Amount, max_btc: Amount) -> SellSide {
        SellSide {
            min_btc,
            max_btc,
            max_open: 4,
            max_open_per_peer: 1,
            walk_aways_forgiven: 0,
        }
    }

    /// The quote of this side at `price` on `network` (with that direction's timelocks),
    /// before any inventory limit.
    pub fn quote(&self, network: Network, price: Price) -> Quote {
        let params = network.params_for(Direction::SellXmr);
        Quote {
            network,
            direction: Direction::SellXmr,
            price,
            min_btc: self.min_btc,
            max_btc: self.max_btc,
            cancel_timelock: params.cancel_timelock,
            punish_timelock: params.punish_timelock,
        }
    }
}

/// How often a maker that attaches reserve proofs makes a new one.
pub const RESERVE_PROOF_REFRESH: Duration = Duration::from_secs(600);

impl MakerSettings {
    /// Limits `min_btc`..=`max_btc`, 60 quotes per peer and minute, quotes good for 60 s,
    /// 16 open setups at once and 2 per taker, selling XMR only.
    pub fn new(min_btc: Amount, max_btc: Amount) -> MakerSettings {
        MakerSettings {
            min_btc,
            max_btc,
            quotes_per_minute: 60,
            quote_validity: Duration::from_secs(60),
            reserve_proof: false,
            sell: None,
            max_open_setups: 16,
            max_open_setups_per_peer: 2,
        }
    }

    /// The quote these limits give at `price` on `network` (with the network's timelocks),
    /// before any inventory limit: the side on which the maker sells XMR.
    pub fn quote(&self, network: Network, price: Price) -> Quote {
        let params = network.params_for(Direction::BuyXmr);
        Quote {
            network,
            direction: Direction::BuyXmr,
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
    /// The side on which the maker buys XMR, when it takes it.
    pub sell: Option<SellStatus>,
    /// Counters since the engine started.
    pub counters: MakerCounters,
}

/// The side on which the maker buys XMR, for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SellStatus {
    /// Whether this side is quoted now.
    pub quoting: bool,
    /// Why not, when not quoting.
    pub reason: Option<String>,
    /// The price bid (piconero asked per BTC paid), when there is one.
    pub price_piconero_per_btc: Option<u64>,
    /// The configured smallest swap (sat).
    pub min_sat: u64,
    /// The largest swap quoted now (sat).
    pub max_sat: u64,
    /// Spendable BTC not promised to any swap (sat), when known.
    pub free_sat: Option<u64>,
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
    /// Swaps taken on the side where the maker buys XMR (counted in `swaps_accepted` too).
    pub sells_accepted: u64,
    /// Setup requests refused on that side (counted in `swaps_refused` too).
    pub sells_refused: u64,
}

/// Peers tracked for rate limits before the expired ones are dropped.
const MAX_TRACKED_PEERS: usize = 4096;

/// The maker's quoting state; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct Desk {
    settings: MakerSettings,
    price: Result<Price, String>,
    paused: bool,
    /// Why this machine's clock or chain sources are out of step, while they are
    /// ([`crate::chain_clock`]): the maker then takes nothing.
    out_of_step: Option<String>,
    free_xmr: Option<XmrAmount>,
    /// The reserve proof attached to quotes, and the total it proves.
    reserve: Option<(ReserveProof, XmrAmount)>,
    /// The bid (where the maker buys XMR), when it takes that side.
    bid: Result<Price, String>,
    free_btc: Option<Amount>,
    /// Prices quoted, newest last, kept for [`MakerSettings::quote_validity`].
    recent: VecDeque<(Instant, Price)>,
    /// Bids quoted, likewise.
    recent_bids: VecDeque<(Instant, Price)>,
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
            out_of_step: None,
            free_xmr: None,
            reserve: None,
            bid: Err("no bid price yet".into()),
            free_btc: None,
            recent: VecDeque::new(),
            recent_bids: VecDeque::new(),
            windows: HashMap::new(),
            counters: MakerCounters::default(),
        }
    }

    /// Sets the price (from the feed); an `Err` stops quoting and says why.
    pub(crate) fn set_price(&mut self, price: Result<Price, String>) {
        self.price = price;
    }

    /// Sets the bid price (where the maker buys XMR); an `Err` stops that side and says why.
    pub(crate) fn set_bid(&mut self, bid: Result<Price, String>) {
        self.bid = bid;
    }

    /// Sets the BTC the maker can still promise, the next lock's fee allowance already set
    /// aside (the largest sell quoted is at most this).
    pub(crate) fn set_free_btc(&mut self, free: Amount) {
        self.free_btc = Some(free);
    }

    /// The limits of the side on which the maker buys XMR, when it takes it.
    pub(crate) fn settings(&self) -> MakerSettings {
        self.settings
    }

    pub(crate) fn sell_side(&self) -> Option<SellSide> {
        self.settings.sell
    }

    /// Pauses (`true`) or resumes (`false`) quoting.
    pub(crate) fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Sets whether the clock and chain sources are in step (`None`) or why not: while they
    /// are not, no quote is served and no setup taken.
    pub(crate) fn set_out_of_step(&mut self, reason: Option<String>) {
        self.out_of_step = reason;
    }

    /// Why the clock and chain sources are out of step, while they are.
    pub(crate) fn out_of_step(&self) -> Option<&str> {
        self.out_of_step.as_deref()
    }

    /// Why the maker takes nothing now, if so (`doing` starts the reason): a pause, or a
    /// clock or chain out of step.
    fn halted(&self, doing: &str) -> Result<(), String> {
        if self.paused {
            return Err(format!("{doing}: paused by the operator"));
        }
        match &self.out_of_step {
            Some(reason) => Err(format!("{doing}: out of step with the chain ({reason})")),
            None => Ok(()),
        }
    }

    /// Sets the XMR the maker can still promise.
    pub(crate) fn set_free_xmr(&mut self, free: XmrAmount) {
        self.free_xmr = Some(free);
    }

    /// Sets the reserve proof attached to quotes and the total it proves.
    pub(crate) fn set_reserve_proof(&mut self, proof: ReserveProof, proven: XmrAmount) {
        self.reserve = Some((proof, proven));
    }

    /// The quotes for now, before rate limits: each side the maker takes and can quote.
    /// `Err` says why the maker quotes neither.
    fn current_quote(&self, network: Network) -> Result<QuoteReply, String> {
        let ask = self.ask_quote(network);
        let bid = self.bid_quote(network);
        let mut reply = QuoteReply {
            quotes: Vec::new(),
            reserve_proof: None,
        };
        let ask_refusal = match ask {
            Ok((quote, proof)) => {
                reply.quotes.push(quote);
                reply.reserve_proof = proof;
                None
            }
            Err(reason) => Some(reason),
        };
        if let Some(Ok(quote)) = bid {
            reply.quotes.push(quote);
        }
        match ask_refusal {
            Some(reason) if reply.quotes.is_empty() => Err(reason),
            _ => Ok(reply),
        }
    }

    /// The bid side's quote for now: its largest swap shrinks to the free BTC. `None` when
    /// the maker does not take that side.
    fn bid_quote(&self, network: Network) -> Option<Result<Quote, String>> {
        let side = self.settings.sell?;
        Some((|| {
            self.halted("not quoting")?;
            let price = self
                .bid
                .clone()
                .map_err(|reason| format!("not buying XMR: {reason}"))?;
            let free = self
                .free_btc
                .ok_or("not buying XMR: the maker's BTC balance is not known yet")?;
            let (min_btc, max_btc) =
                confiaro_pricing::sell_quote_limits(side.min_btc, side.max_btc, free)
                    .map_err(|e| format!("not buying XMR: {e}"))?;
            Ok(Quote {
                min_btc,
                max_btc,
                ..side.quote(network, price)
            })
        })())
    }

    /// The ask side's quote for now: its limits shrink to the free XMR (and to what the
    /// reserve proof covers, when one is attached), with the proof.
    fn ask_quote(&self, network: Network) -> Result<(Quote, Option<ReserveProof>), String> {
        self.halted("not quoting")?;
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
        Ok((
            Quote {
                min_btc,
                max_btc,
                ..self.settings.quote(network, price)
            },
            reserve_proof,
        ))
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
                for quote in &reply.quotes {
                    let recent = match quote.direction {
                        Direction::BuyXmr => &mut self.recent,
                        Direction::SellXmr => &mut self.recent_bids,
                    };
                    if recent.back().map(|(_, p)| *p) != Some(quote.price) {
                        recent.push_back((now, quote.price));
                    } else if let Some(last) = recent.back_mut() {
                        last.0 = now;
                    }
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
        let sell = terms.direction == Direction::SellXmr;
        match &result {
            Ok(_) => {
                self.counters.swaps_accepted += 1;
                self.counters.sells_accepted += u64::from(sell);
            }
            Err(_) => self.refused(terms.direction),
        }
        result
    }

    /// Counts a setup refused after its terms matched (inventory, limits, a taker's record).
    pub(crate) fn refused(&mut self, direction: Direction) {
        self.counters.swaps_refused += 1;
        self.counters.sells_refused += u64::from(direction == Direction::SellXmr);
    }

    fn terms_match(
        &mut self,
        network: Network,
        terms: &SwapTerms,
        now: Instant,
    ) -> Result<Price, String> {
        self.halted("not taking swaps")?;
        self.forget_expired(now);
        let (current, recent) = match terms.direction {
            Direction::BuyXmr => (&self.price, &self.recent),
            Direction::SellXmr => {
                if self.settings.sell.is_none() {
                    return Err("this maker does not buy XMR".into());
                }
                (&self.bid, &self.recent_bids)
            }
        };
        let mut last_error: Option<QuoteError> = None;
        for price in current
            .clone()
            .ok()
            .into_iter()
            .chain(recent.iter().rev().map(|(_, p)| *p))
        {
            let quote = match (terms.direction, self.settings.sell) {
                (Direction::SellXmr, Some(side)) => side.quote(network, price),
                _ => self.settings.quote(network, price),
            };
            match quote.check_terms(terms) {
                Ok(()) => return Ok(price),
                Err(e) => last_error = Some(e),
            }
        }
        Err(match last_error {
            Some(e) => format!("{e} (the price may have moved: ask for a new quote)"),
            None => match current {
                Err(reason) => format!("not taking swaps: {reason}"),
                Ok(_) => "no quote to match".into(),
            },
        })
    }

    /// What the desk is doing now.
    pub(crate) fn status(&self, network: Network) -> MakerStatus {
        let quote = self.ask_quote(network);
        let sell = self.settings.sell.map(|side| {
            let bid = self.bid_quote(network).expect("the side is taken");
            SellStatus {
                quoting: bid.is_ok(),
                reason: bid.as_ref().err().cloned(),
                price_piconero_per_btc: self.bid.as_ref().ok().map(|p| p.0),
                min_sat: side.min_btc.to_sat(),
                max_sat: bid.map_or(side.max_btc, |q| q.max_btc).to_sat(),
                free_sat: self.free_btc.map(Amount::to_sat),
            }
        });
        MakerStatus {
            quoting: quote.is_ok(),
            reason: quote.as_ref().err().cloned(),
            paused: self.paused,
            price_piconero_per_btc: self.price.as_ref().ok().map(|p| p.0),
            min_sat: self.settings.min_btc.to_sat(),
            max_sat: quote
                .map_or(self.settings.max_btc, |(q, _)| q.max_btc)
                .to_sat(),
            free_piconero: self.free_xmr.map(XmrAmount::as_piconero),
            reserve_proof: self
                .reserve
                .as_ref()
                .map(|(proof, proven)| (proven.as_piconero(), proof.made_at)),
            sell,
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
        let validity = self.settings.quote_validity;
        for recent in [&mut self.recent, &mut self.recent_bids] {
            while let Some((at, _)) = recent.front() {
                if now.duration_since(*at) > validity {
                    recent.pop_front();
                } else {
                    break;
                }
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
        let quote = desk.quote_for(peer(), NET, now).expect("a quote").quotes[0];
        assert_eq!(quote.max_btc, Amount::from_sat(10_000_000));
        // 5 XMR covers 0.05 BTC exactly
        desk.set_free_xmr(XmrAmount::from_piconero(5 * 1_000_000_000_000));
        let quote = desk.quote_for(peer(), NET, now).expect("a quote").quotes[0];
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
        assert_eq!(reply.quotes[0].max_btc, Amount::from_sat(2_000_000));
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
    fn a_clock_or_chain_out_of_step_stops_quotes_and_setups_until_it_is_back() {
        let mut desk = desk();
        desk.settings.sell = Some(SellSide::new(
            Amount::from_sat(100_000),
            Amount::from_sat(1_000_000),
        ));
        desk.set_bid(Ok(PRICE));
        desk.set_free_btc(Amount::from_sat(1_500_000));
        let now = Instant::now();
        let terms = terms_at(PRICE, Amount::from_sat(1_000_000));
        desk.set_out_of_step(Some("the clock is 2 h behind".into()));
        let refused = desk.quote_for(peer(), NET, now).expect_err("out of step");
        assert_eq!(
            refused,
            "not quoting: out of step with the chain (the clock is 2 h behind)"
        );
        let status = desk.status(NET);
        assert!(!status.quoting && !status.sell.expect("the sell side").quoting);
        let refused = desk.check_terms(NET, &terms, now).expect_err("out of step");
        assert!(
            refused.starts_with("not taking swaps: out of step"),
            "{refused}"
        );
        desk.set_out_of_step(None);
        let reply = desk.quote_for(peer(), NET, now).expect("quoting again");
        assert_eq!(reply.quotes.len(), 2, "both sides quoted");
        assert_eq!(desk.check_terms(NET, &terms, now), Ok(PRICE));
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

    /// 120 XMR per BTC asked when the maker buys XMR.
    const BID: Price = Price(120 * 1_000_000_000_000);

    fn two_sided_desk() -> Desk {
        let mut desk = desk();
        desk.settings.sell = Some(SellSide::new(
            Amount::from_sat(100_000),
            Amount::from_sat(2_000_000),
        ));
        desk
    }

    #[test]
    fn both_sides_are_quoted_with_their_own_price_limits_and_inventory() {
        let mut desk = two_sided_desk();
        let now = Instant::now();
        // no bid and no BTC balance yet: only the ask is quoted, and the status says why
        let reply = desk.quote_for(peer(), NET, now).expect("the ask");
        assert_eq!(reply.quotes.len(), 1);
        let sell = desk.status(NET).sell.expect("the side is taken");
        assert!(!sell.quoting && sell.reason.unwrap().contains("no bid price"));
        desk.set_bid(Ok(BID));
        desk.set_free_btc(Amount::from_sat(1_500_000));
        let reply = desk.quote_for(peer(), NET, now).expect("both sides");
        let bid = reply.quote(Direction::SellXmr).expect("the bid");
        assert_eq!(bid.price, BID);
        // the largest sell swap shrinks to the free BTC
        assert_eq!(bid.max_btc, Amount::from_sat(1_500_000));
        assert_eq!(reply.quote(Direction::BuyXmr).unwrap().price, PRICE);
        // a taker selling 1.2 XMR at the bid gets 0.01 BTC; those terms are taken, at the bid
        let terms = bid
            .terms_for_xmr(XmrAmount::from_piconero(1_200_000_000_000))
            .expect("terms");
        assert_eq!(terms.btc_amount, Amount::from_sat(1_000_000));
        assert_eq!(desk.check_terms(NET, &terms, now), Ok(BID));
        // the same XMR at the ask's price is not what the bid quoted
        let mut at_ask = terms;
        at_ask.btc_amount = PRICE.btc_for(terms.xmr_amount).expect("fits");
        assert!(desk.check_terms(NET, &at_ask, now).is_err());
        let counters = desk.status(NET).counters;
        assert_eq!((counters.sells_accepted, counters.sells_refused), (1, 1));
        // not enough free BTC for the minimum: the bid side stops, the ask goes on
        desk.set_free_btc(Amount::from_sat(99_999));
        let reply = desk.quote_for(peer(), NET, now).expect("the ask");
        assert!(reply.quote(Direction::SellXmr).is_none());
    }

    #[test]
    fn a_maker_without_the_sell_side_refuses_sell_terms() {
        let mut desk = desk();
        let side = SellSide::new(Amount::from_sat(100_000), Amount::from_sat(2_000_000));
        let terms = side
            .quote(NET, BID)
            .terms_for_xmr(XmrAmount::from_piconero(1_200_000_000_000))
            .expect("terms");
        let refused = desk
            .check_terms(NET, &terms, Instant::now())
            .expect_err("no sell side");
        assert!(refused.contains("does not buy XMR"), "{refused}");
    }
}
