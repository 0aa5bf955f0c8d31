//! The adversarial simulation: one party is an attacker, the other (the victim) an honest
//! machine, on the same fake chains and lossy network as the honest simulation.
//!
//! The attacker runs an honest machine of its role as its signing oracle and bends it: it
//! holds back, delays and rewrites what the machine sends, sends its redeem signature when it
//! likes, publishes every transaction it can sign the moment it is valid with the highest fee
//! the band allows (replacing the victim's cheaper transaction in the mempool: the ledger does
//! full RBF; a redeem with an outbidding child replaces the victim's cancel and refund),
//! holds its lock back from miners, lies in its transfer proof, pays its XMR lock
//! with an unlock time or buries it in dust, replays old messages and relabels them for
//! another swap, and may vanish for good. Attackers crash and restart like anybody.
//!
//! The invariant is the victim's: within the horizon it reaches a terminal state and ends
//! with the other coin, or its own coin back (minus fees); it never loses both, and never
//! answers a lock that stayed unconfirmed too long. See
//! `docs/2026-12-06-malicious-counterparty.md` for the findings each strategy plays.

use super::{Ev, Outcome, PoolEntry, Report, Rng, Sim};
use bitcoin::{Transaction, Txid};
use confiaro_protocol::bob::Bob;
use confiaro_protocol::crypto;
use confiaro_protocol::machine::{Action, Input, TxLabel};
use confiaro_protocol::messages::{self, Message};
use confiaro_protocol::{Role, SwapState};

/// How long after the victim's end the attacker may still act before the schedule is judged.
pub(super) const GRACE_SECONDS: u64 = 12 * 3600;

/// What the attacker tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    /// Bob sends his redeem signature late (up to past cancel) and races Alice's redeem with
    /// a maximum-fee cancel, then refunds (finding 2).
    LateRedeemSignature,
    /// Bob holds his lock back from miners for up to two days, then lets it confirm
    /// (finding 3).
    StallLock,
    /// Bob cancels and refunds the moment he can while Alice's wallet is slow to lock XMR
    /// (finding 4).
    RefundWhileXmrLockPending,
    /// Bob vanishes for good at a random moment.
    BobVanishes,
    /// Alice's transfer proof claims a height far above the real one (finding 5).
    LyingTransferHeight,
    /// Alice sends dust to the lock address on every Monero block (finding 5).
    DustOnTheLockAddress,
    /// Alice's lock carries an unlock time far in the future (finding 5).
    TimeLockedXmr,
    /// Alice vanishes for good at a random moment.
    AliceVanishes,
    /// Alice keeps Bob's redeem signature without redeeming; when Bob's refund shows up
    /// beside his unconfirmed cancel, she learns `s_b` from it and replaces both with her
    /// redeem, paid for by a child outbidding them (finding 8).
    RedeemOverRefund,
}

/// Every strategy, each played by the same share of schedules.
pub const STRATEGIES: [Strategy; 9] = [
    Strategy::LateRedeemSignature,
    Strategy::StallLock,
    Strategy::RefundWhileXmrLockPending,
    Strategy::BobVanishes,
    Strategy::LyingTransferHeight,
    Strategy::DustOnTheLockAddress,
    Strategy::TimeLockedXmr,
    Strategy::AliceVanishes,
    Strategy::RedeemOverRefund,
];

impl Strategy {
    /// Who plays it.
    pub fn attacker(self) -> Role {
        match self {
            Strategy::LateRedeemSignature
            | Strategy::StallLock
            | Strategy::RefundWhileXmrLockPending
            | Strategy::BobVanishes => Role::Bob,
            _ => Role::Alice,
        }
    }

    /// An attacking Bob proposes the highest fees Alice accepts (the band's top, or the
    /// cancel fee cap), so his cancel and refund outbid anything Alice publishes.
    pub(super) fn bob_fee_rate(self, entry: &PoolEntry) -> u64 {
        match self.attacker() {
            Role::Bob => {
                let band_top = entry.terms.network.params().fee_band.max_sat_per_vb;
                let cap = entry.terms.max_cancel_fee().to_sat();
                let vbytes = confiaro_protocol::btc::TxCancel::max_weight().to_vbytes_ceil();
                band_top.min(cap / vbytes)
            }
            Role::Alice => entry.bob_fee_rate,
        }
    }
}

/// The attacker's plan and memory in one schedule.
pub(super) struct Attack {
    pub(super) strategy: Strategy,
    /// The lock depth at which a late-signing Bob sends his redeem signature.
    target_depth: u32,
    /// How long a stalling Bob holds his lock back.
    stall_seconds: u64,
    /// How long an honest Alice's wallet takes to report a lock it made.
    xmr_lock_latency: u64,
    /// Messages the attacker's machine sent, for replays.
    sent: Vec<Message>,
    /// When the lock first entered the mempool and when it first confirmed.
    lock_arrived_at: Option<u64>,
    lock_confirmed_at: Option<u64>,
    /// When the victim reached a terminal state.
    pub(super) victim_done_at: Option<u64>,
    /// Bob's cancel and refund, completed once (signing every block is slow).
    escape: Option<Vec<Transaction>>,
    /// Bob's redeem signature, made once.
    redeem_signature: Option<Message>,
    /// The redeem an attacking Alice completed and kept back.
    kept_redeem: Option<Transaction>,
}

impl Attack {
    pub(super) fn new(strategy: Strategy, rng: &mut Rng) -> Attack {
        let cancel = u32::from(confiaro_protocol::Network::Regtest.params().cancel_timelock);
        Attack {
            strategy,
            // half the time the last block before cancel, where a redeem that misses one
            // block loses the race with cancel
            target_depth: if rng.chance(500) {
                cancel - 1
            } else {
                rng.range(1, u64::from(cancel) + 2) as u32
            },
            stall_seconds: rng.range(600, 2 * 24 * 3600),
            xmr_lock_latency: rng.range(0, 4 * 3600),
            sent: Vec::new(),
            lock_arrived_at: None,
            lock_confirmed_at: None,
            victim_done_at: None,
            escape: None,
            redeem_signature: None,
            kept_redeem: None,
        }
    }

    fn victim(&self) -> Role {
        match self.strategy.attacker() {
            Role::Alice => Role::Bob,
            Role::Bob => Role::Alice,
        }
    }
}

fn strategy(sim: &Sim) -> Option<Strategy> {
    sim.attack.as_ref().map(|a| a.strategy)
}

fn is_attacker(sim: &Sim, role: Role) -> bool {
    strategy(sim).is_some_and(|s| s.attacker() == role)
}

/// Schedules what the attacker does on its own clock: replays, and vanishing.
pub(super) fn schedule(sim: &mut Sim) {
    let Some(strategy) = strategy(sim) else {
        return;
    };
    for _ in 0..sim.rng.range(0, 6) {
        let at = sim.rng.range(0, 12 * 3600);
        sim.push(at, Ev::Hostile);
    }
    if matches!(strategy, Strategy::BobVanishes | Strategy::AliceVanishes) {
        let at = sim.rng.range(0, 6 * 3600);
        sim.push(
            at,
            Ev::Crash {
                who: strategy.attacker(),
                duration: 10 * super::HORIZON_SECONDS,
            },
        );
    }
}

/// Bends an action of the attacker's machine; `None` drops it.
pub(super) fn intercept(sim: &mut Sim, role: Role, action: Action) -> Option<Action> {
    if !is_attacker(sim, role) {
        return Some(action);
    }
    let strategy = strategy(sim).expect("an attacker has a strategy");
    let attack = sim.attack.as_mut().expect("attack");
    match action {
        Action::Send(Message::RedeemEncryptedSignature(m))
            if strategy == Strategy::LateRedeemSignature =>
        {
            // sent when Bob likes, from `on_btc_block`
            attack.sent.push(Message::RedeemEncryptedSignature(m));
            None
        }
        Action::Send(Message::TransferProof(mut m))
            if strategy == Strategy::LyingTransferHeight =>
        {
            m.height += 1_000_000;
            attack.sent.push(Message::TransferProof(m.clone()));
            Some(Action::Send(Message::TransferProof(m)))
        }
        Action::Send(m) => {
            attack.sent.push(m.clone());
            Some(Action::Send(m))
        }
        Action::PublishBtc {
            label: TxLabel::Redeem,
            tx,
        } if strategy == Strategy::RedeemOverRefund => {
            attack.kept_redeem = Some(tx);
            None
        }
        other => Some(other),
    }
}

/// After Bob's lock reached the mempool.
pub(super) fn lock_published(sim: &mut Sim, tx: &Transaction) {
    let txid = tx.compute_txid();
    let Some(attack) = sim.attack.as_mut() else {
        return;
    };
    if attack.lock_arrived_at.is_none() {
        attack.lock_arrived_at = sim.btc.arrived_at(&txid);
    }
    if attack.strategy == Strategy::StallLock && attack.lock_confirmed_at.is_none() {
        let release = sim.now + attack.stall_seconds;
        sim.btc.stall(txid);
        sim.push(release, Ev::Release { txid });
    }
}

/// After the victim's transaction `tx` reached the mempool.
pub(super) fn victim_published(sim: &mut Sim, role: Role, tx: &Transaction) {
    if strategy(sim) != Some(Strategy::RedeemOverRefund) || is_attacker(sim, role) {
        return;
    }
    let Some(agreement) = sim.agreement().cloned() else {
        return;
    };
    let Some(redeem) = sim.attack.as_ref().and_then(|a| a.kept_redeem.clone()) else {
        return;
    };
    let cancel_waiting = sim
        .btc
        .status(&agreement.txs.cancel.txid())
        .is_some_and(|(_, confirmations)| confirmations == 0);
    let refund_waiting = sim
        .btc
        .status(&agreement.txs.refund.txid())
        .is_some_and(|(_, confirmations)| confirmations == 0);
    if tx.compute_txid() != agreement.txs.refund.txid()
        || !cancel_waiting
        || !refund_waiting
        || !sim.alice.online
    {
        return;
    }
    // Alice's machine reads `s_b` from the refund in the mempool (and sweeps the XMR back)
    let refund = tx.clone();
    sim.input_now(
        Role::Alice,
        Input::BtcTxSeen {
            tx: refund,
            confirmations: 0,
        },
    );
    // then her redeem, with a child paying whatever it takes, replaces cancel and refund
    if sim.btc.submit_outbidding(&redeem).is_ok() && !sim.alice.published.contains(&redeem) {
        sim.alice.published.push(redeem);
    }
}

/// After a party's lock transfer to `address` exists.
pub(super) fn xmr_locked(sim: &mut Sim, role: Role, address: &str) {
    if is_attacker(sim, role) && strategy(sim) == Some(Strategy::TimeLockedXmr) {
        let far = sim.xmr.height + 1_000_000;
        sim.xmr.set_unlock_time(address, far);
    }
}

/// How long the victim's wallet takes to report its XMR lock.
pub(super) fn xmr_lock_latency(sim: &Sim, role: Role) -> u64 {
    match &sim.attack {
        Some(attack)
            if attack.victim() == role
                && attack.strategy == Strategy::RefundWhileXmrLockPending =>
        {
            attack.xmr_lock_latency
        }
        _ => 0,
    }
}

/// After a machine took a step.
pub(super) fn after_step(sim: &mut Sim, role: Role) {
    let now = sim.now;
    let terminal = sim.party(role).state.phase().is_terminal();
    if let Some(attack) = sim.attack.as_mut() {
        if attack.victim() == role && terminal && attack.victim_done_at.is_none() {
            attack.victim_done_at = Some(now);
        }
    }
}

/// The attacking Bob's machine.
fn bob(sim: &Sim) -> Option<&Bob> {
    match &sim.bob.state {
        SwapState::Bob(bob) => Some(bob),
        SwapState::Alice(_) => None,
    }
}

/// Every transaction an attacking Bob can complete: cancel and refund, from his machine's
/// keys and Alice's signatures, whatever state it is in (empty before he has them).
fn bob_escape(sim: &Sim) -> Vec<Transaction> {
    let Some(bob) = bob(sim) else {
        return Vec::new();
    };
    let (Some(agreement), Some(sigs)) = (bob.agreement.as_deref(), bob.alice_sigs.as_ref()) else {
        return Vec::new();
    };
    let txs = &agreement.txs;
    let mut out = Vec::new();
    let own_cancel = crypto::sign(&bob.secrets.btc, &txs.cancel.sighash());
    if let Ok(cancel) = txs.cancel.complete(&sigs.cancel, &own_cancel) {
        out.push(cancel);
    }
    let alice_refund = crypto::decrypt_signature(&bob.secrets.spend_secp(), &sigs.refund_encrypted);
    let own_refund = crypto::sign(&bob.secrets.btc, &txs.refund.sighash());
    if let Ok(refund) = txs.refund.complete(&alice_refund, &own_refund) {
        out.push(refund);
    }
    out
}

/// On every Bitcoin block, after the watchers reported.
pub(super) fn on_btc_block(sim: &mut Sim) {
    let Some(strategy) = strategy(sim) else {
        return;
    };
    let Some(agreement) = sim.agreement().cloned() else {
        return;
    };
    let lock_txid = agreement.txs.lock.txid();
    let depth = sim.btc.status(&lock_txid).map(|(_, c)| c);
    let now = sim.now;
    if let Some(attack) = sim.attack.as_mut() {
        if depth.is_some_and(|d| d > 0) && attack.lock_confirmed_at.is_none() {
            attack.lock_confirmed_at = Some(now);
        }
    }
    if !sim.bob.online {
        return;
    }
    match strategy {
        Strategy::LateRedeemSignature => {
            let xmr_locked = sim
                .xmr
                .existing_lock(&agreement.lock_address.to_string())
                .is_some();
            let target = sim.attack.as_ref().map_or(0, |a| a.target_depth);
            let cancel = u32::from(agreement.terms.cancel_timelock);
            // from the target depth on, on every block up to just past cancel
            if xmr_locked && depth.is_some_and(|d| d >= target && d <= cancel + 2) {
                let attack = sim.attack.as_mut().expect("attack");
                if attack.redeem_signature.is_none() {
                    if let SwapState::Bob(bob) = &sim.bob.state {
                        let encsig = crypto::encrypted_sign(
                            &bob.secrets.btc,
                            &agreement.alice.spend_secp,
                            &agreement.txs.redeem.sighash(),
                        );
                        attack.redeem_signature = Some(Message::RedeemEncryptedSignature(
                            messages::RedeemEncryptedSignature {
                                swap_id: agreement.swap_id,
                                redeem_encrypted: encsig,
                            },
                        ));
                    }
                }
                if let Some(message) = attack.redeem_signature.clone() {
                    // at a moment of Bob's choosing before the next block: a redeem that
                    // reaches the mempool just before a block misses it
                    let bytes = super::encode_cached(&message);
                    let delay = sim.rng.range(0, 900);
                    sim.push(
                        sim.now + delay,
                        Ev::Deliver {
                            to: Role::Alice,
                            bytes,
                        },
                    );
                }
            }
            race(sim);
        }
        Strategy::RefundWhileXmrLockPending => race(sim),
        _ => {}
    }
}

/// Bob publishes cancel and refund with his maximum fees as soon as they are valid.
fn race(sim: &mut Sim) {
    let cached = sim.attack.as_ref().and_then(|a| a.escape.clone());
    let escape = match cached {
        Some(escape) => escape,
        None => {
            let escape = bob_escape(sim);
            if !escape.is_empty() {
                sim.attack.as_mut().expect("attack").escape = Some(escape.clone());
            }
            escape
        }
    };
    for tx in escape {
        if sim.btc.submit(&tx).is_ok() && !sim.bob.published.contains(&tx) {
            sim.bob.published.push(tx);
        }
    }
}

/// On every Monero block.
pub(super) fn on_xmr_block(sim: &mut Sim) {
    if strategy(sim) != Some(Strategy::DustOnTheLockAddress) || !sim.alice.online {
        return;
    }
    let Some(address) = sim
        .alice
        .state
        .agreement()
        .map(|a| a.lock_address.to_string())
    else {
        return;
    };
    if sim.xmr.existing_lock(&address).is_some() {
        let hash = sim.rng.bytes32();
        sim.xmr.send_extra(&address, 1_000, hash);
    }
}

fn deliver(sim: &mut Sim, to: Role, message: &Message) {
    let bytes = super::encode_cached(message);
    let delay = sim.rng.range(0, 5);
    sim.push(sim.now + delay, Ev::Deliver { to, bytes });
}

/// The attacker replays one of its messages, as it was or relabelled for another swap.
pub(super) fn replay(sim: &mut Sim) {
    let Some(attack) = sim.attack.as_ref() else {
        return;
    };
    if attack.sent.is_empty() {
        return;
    }
    let victim = attack.victim();
    let pick = sim.rng.range(0, attack.sent.len() as u64 - 1) as usize;
    let message = attack.sent[pick].clone();
    let message = if sim.rng.chance(500) {
        let other = super::pool()[(sim.rng.next_u64() % super::POOL_SIZE) as usize].swap_id;
        message.with_swap_id(other)
    } else {
        message
    };
    deliver(sim, victim, &message);
    let next = sim.now + sim.rng.range(600, 6 * 3600);
    if next < super::HORIZON_SECONDS {
        sim.push(next, Ev::Hostile);
    }
}

/// Judges a schedule from the victim's side.
pub(super) fn judge(sim: &mut Sim) -> Option<Outcome> {
    let attack = sim.attack.as_ref().expect("an adversarial schedule");
    let victim = attack.victim();
    let strategy = attack.strategy;
    let (arrived, confirmed) = (attack.lock_arrived_at, attack.lock_confirmed_at);
    let victim_state = sim.party(victim).state.state_name();
    if !sim.is_done(victim) {
        sim.violations.push(format!(
            "{victim:?} (the victim) is not done after {}s: {victim_state}",
            super::HORIZON_SECONDS
        ));
        return None;
    }
    let Some(agreement) = sim.agreement().cloned() else {
        sim.path = "aborted-in-setup";
        return Some(Outcome::Aborted);
    };
    let txs = &agreement.txs;
    let confirmed_tx = |txid: Txid| sim.btc.is_confirmed(&txid);
    let xmr_locked = sim.xmr.locked_at(&agreement.lock_address.to_string()) > 0;
    let redeemed = confirmed_tx(txs.redeem.txid());
    let punished = confirmed_tx(txs.punish.txid());
    let refunded = confirmed_tx(txs.refund.txid()) || confirmed_tx(txs.early_refund.txid());
    let lock_confirmed = confirmed_tx(txs.lock.txid());
    let mut v = Vec::new();
    match victim {
        Role::Alice => {
            let got_btc = redeemed || punished;
            let xmr_back = !xmr_locked || sim.swept_by == Some(Role::Alice);
            if !got_btc && !xmr_back {
                v.push(format!(
                    "Alice lost: no BTC, and her XMR is {} ({victim_state})",
                    match sim.swept_by {
                        Some(Role::Bob) => "swept by Bob",
                        _ => "still locked",
                    }
                ));
            }
            if let (Some(arrived), Some(confirmed)) = (arrived, confirmed) {
                let waited = confirmed.saturating_sub(arrived);
                let limit = agreement.terms.network.params().lock_confirmation_seconds() + 1800;
                if xmr_locked
                    && waited > limit
                    && !sim.was_offline_during(victim, arrived, confirmed)
                {
                    v.push(format!(
                        "Alice locked XMR for a lock that sat unconfirmed for {waited}s"
                    ));
                }
            }
        }
        Role::Bob => {
            let got_xmr = sim.swept_by == Some(Role::Bob);
            let btc_back = refunded || !lock_confirmed;
            // a punish is judged below: Bob's own absence past the punish timelock costs him
            if !got_xmr && !btc_back && !punished {
                v.push(format!(
                    "Bob lost: no XMR, and his BTC is {} ({victim_state})",
                    if redeemed || punished {
                        "taken"
                    } else {
                        "still locked"
                    }
                ));
            }
            if punished {
                let from = sim.cancel_confirmed_at.unwrap_or(0);
                let to = sim.punish_seen_at.unwrap_or(sim.now);
                if !sim.was_offline_during(Role::Bob, from, to) {
                    v.push(format!(
                        "Bob was punished although online from cancel ({from}) to punish ({to})"
                    ));
                }
            }
        }
    }
    sim.violations.extend(v);
    sim.path = strategy_name(strategy);
    Some(if redeemed {
        Outcome::Swapped
    } else if punished {
        Outcome::Punished
    } else if refunded || xmr_locked {
        Outcome::Refunded
    } else {
        Outcome::Aborted
    })
}

/// A stable name for reports.
pub fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::LateRedeemSignature => "late-redeem-signature",
        Strategy::StallLock => "stall-lock",
        Strategy::RefundWhileXmrLockPending => "refund-while-xmr-lock-pending",
        Strategy::BobVanishes => "bob-vanishes",
        Strategy::LyingTransferHeight => "lying-transfer-height",
        Strategy::DustOnTheLockAddress => "dust-on-the-lock-address",
        Strategy::TimeLockedXmr => "time-locked-xmr",
        Strategy::AliceVanishes => "alice-vanishes",
        Strategy::RedeemOverRefund => "redeem-over-refund",
    }
}

/// Runs one adversarial schedule: the strategy is `STRATEGIES[seed % K]`.
pub fn run_adversarial(seed: u64) -> Report {
    let strategy = STRATEGIES[(seed % STRATEGIES.len() as u64) as usize];
    super::run_with(seed, Some(strategy))
}
