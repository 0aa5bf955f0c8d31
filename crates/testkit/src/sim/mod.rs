//! Deterministic simulation of whole swaps: both role machines, in-memory Bitcoin and Monero
//! ledgers, a lossy network, crashes and offline periods, all driven by one seed.
//!
//! Everything here is a fake on purpose: the point is to run thousands of seeded schedules
//! per minute and check the protocol's safety properties on each. The only shortcut taken is
//! caching: key shares and the decoding of (identical) setup messages are computed once per
//! pool entry, because their DLEQ proofs cost ~0.1 s each.
//!
//! Used by `confiaro-protocol`'s `tests/simulation.rs` (10,000 schedules) and
//! `tests/stored_state.rs`, its `swap` benchmark, and the engine's receipt tests
//! ([`setup_exchange`] gives real machines after an honest setup).

mod adversary;
pub mod ledger;

pub use adversary::{run_adversarial, Strategy, STRATEGIES};

use bitcoin::hashes::Hash;
use bitcoin::psbt::Psbt;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use confiaro_protocol::alice::Alice;
use confiaro_protocol::bob::Bob;
use confiaro_protocol::keys::{PublicShare, SwapEntropy, SwapSecrets, WalletSeed};
use confiaro_protocol::machine::{Action, Command, Input, SecretScalar, TxLabel};
use confiaro_protocol::messages::{self, Message, SetupRequest, SwapTerms};
use confiaro_protocol::quote::ReserveProof;
use confiaro_protocol::{Direction, Network, Role, SwapId, SwapState, Timestamp, XmrAmount};
use ledger::{BtcLedger, XmrLedger};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

/// Number of distinct key/term sets schedules draw from.
pub const POOL_SIZE: u64 = 16;
/// Simulated time after which a swap that has not ended is a violation.
pub const HORIZON_SECONDS: u64 = 5 * 24 * 3600;

/// A splitmix64 generator: small, fast and fully determined by its seed.
pub struct Rng(u64);

impl Rng {
    /// A generator determined by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5151_c0ff_ee00_1234)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }
    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.next_u64() % 1000 < per_mille
    }
    /// 32 random bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }
}

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn p2wpkh(tag: &[u8]) -> ScriptBuf {
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let sk = bitcoin::secp256k1::SecretKey::from_slice(&hash(&[b"sim-key", tag]))
        .expect("hash is a valid key");
    let pk = bitcoin::CompressedPublicKey(sk.public_key(&secp));
    ScriptBuf::new_p2wpkh(&pk.wpubkey_hash())
}

/// One precomputed swap setup: keys, shares (with their DLEQ proofs), terms, addresses.
pub struct PoolEntry {
    /// The swap's id.
    pub swap_id: SwapId,
    /// The agreed terms.
    pub terms: SwapTerms,
    /// Alice's swap secrets.
    pub alice_secrets: SwapSecrets,
    /// Bob's swap secrets.
    pub bob_secrets: SwapSecrets,
    /// Alice's public share, with its proofs.
    pub alice_share: PublicShare,
    /// Bob's public share, with its proofs.
    pub bob_share: PublicShare,
    /// Where Alice's redeem pays.
    pub redeem: ScriptBuf,
    /// Where Alice's punish pays.
    pub punish: ScriptBuf,
    /// Where Bob's refund pays.
    pub refund: ScriptBuf,
    /// Bob's change from the lock.
    pub change: ScriptBuf,
    /// Alice's fee rate (sat/vB).
    pub alice_fee_rate: u64,
    /// Bob's fee rate (sat/vB).
    pub bob_fee_rate: u64,
}

/// The pool, built once per process.
pub fn pool() -> &'static [PoolEntry] {
    static POOL: OnceLock<Vec<PoolEntry>> = OnceLock::new();
    POOL.get_or_init(|| {
        let build = |i: u64| {
            let tag = i.to_le_bytes();
            let swap_id = SwapId(hash(&[b"swap", &tag]));
            let mut seed = [0u8; 64];
            seed[..32].copy_from_slice(&hash(&[b"alice-seed", &tag]));
            let alice_secrets = SwapSecrets::derive(
                &WalletSeed(seed),
                &swap_id,
                Role::Alice,
                &SwapEntropy([0; 32]),
            );
            seed[..32].copy_from_slice(&hash(&[b"bob-seed", &tag]));
            let bob_secrets = SwapSecrets::derive(
                &WalletSeed(seed),
                &swap_id,
                Role::Bob,
                &SwapEntropy([0; 32]),
            );
            PoolEntry {
                swap_id,
                // odd entries are a taker selling XMR: Alice asks, the maker (Bob) opens
                terms: SwapTerms::new(
                    Network::Regtest,
                    if i % 2 == 1 {
                        Direction::SellXmr
                    } else {
                        Direction::BuyXmr
                    },
                    Amount::from_sat(1_000_000 + i * 1_000),
                    XmrAmount::from_piconero(1_000_000_000_000 + i),
                ),
                alice_share: alice_secrets.public_share(),
                bob_share: bob_secrets.public_share(),
                alice_secrets,
                bob_secrets,
                redeem: p2wpkh(&[b"redeem".as_slice(), &tag].concat()),
                punish: p2wpkh(&[b"punish".as_slice(), &tag].concat()),
                refund: p2wpkh(&[b"refund".as_slice(), &tag].concat()),
                change: p2wpkh(&[b"change".as_slice(), &tag].concat()),
                alice_fee_rate: 2 + i % 5,
                bob_fee_rate: 3 + i % 7,
            }
        };
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2u64)
                .map(|t| {
                    scope.spawn(move || {
                        (0..POOL_SIZE)
                            .filter(|i| i % 2 == t)
                            .map(build)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mut parts: Vec<Vec<PoolEntry>> = handles
                .into_iter()
                .map(|h| h.join().expect("pool builder"))
                .collect();
            let (evens, odds) = (parts.remove(0), parts.remove(0));
            let mut all = Vec::new();
            let mut odds = odds.into_iter();
            for even in evens {
                all.push(even);
                if let Some(odd) = odds.next() {
                    all.push(odd);
                }
            }
            all
        })
    })
}

/// Decodes wire bytes, caching large (setup) messages by hash: their decode verifies a DLEQ
/// proof, and identical bytes always decode to the identical message.
pub fn decode_cached(bytes: &[u8]) -> Result<Message, messages::DecodeError> {
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], Message>>> = OnceLock::new();
    if bytes.len() < 4096 {
        return messages::decode(bytes);
    }
    let key = hash(&[bytes]);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(m) = cache.lock().expect("cache lock").get(&key) {
        return Ok(m.clone());
    }
    let message = messages::decode(bytes)?;
    cache
        .lock()
        .expect("cache lock")
        .insert(key, message.clone());
    Ok(message)
}

/// Encodes a message, caching the two setup messages per swap: they are identical in every
/// schedule that uses the same pool entry, and encoding their DLEQ proofs (252 point
/// compressions per curve) dominates the simulation's run time otherwise. A cached encoding
/// is only reused for a message equal to the one it was made from.
pub fn encode_cached(message: &Message) -> Vec<u8> {
    type Encodings = HashMap<(u8, [u8; 32]), (Message, Vec<u8>)>;
    static CACHE: OnceLock<Mutex<Encodings>> = OnceLock::new();
    if !matches!(message, Message::SetupBob(_) | Message::SetupAlice(_)) {
        return message.encode();
    }
    let key = (message.kind(), message.swap_id().0);
    let cache = CACHE.get_or_init(Default::default);
    if let Some((cached, bytes)) = cache.lock().expect("cache lock").get(&key) {
        if cached == message {
            return bytes.clone();
        }
    }
    let bytes = message.encode();
    cache
        .lock()
        .expect("cache lock")
        .insert(key, (message.clone(), bytes.clone()));
    bytes
}

/// Whether `SIM_TRACE` asks for every step of a replayed schedule on stderr.
fn tracing_on() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("SIM_TRACE").is_some())
}

fn describe_input(input: &Input) -> String {
    match input {
        Input::Message(m) => format!("message {}", m.name()),
        Input::BtcTxSeen { tx, confirmations } => {
            format!(
                "seen {} at {confirmations}",
                &tx.compute_txid().to_string()[..8]
            )
        }
        Input::BtcTxAbsent { txid } => format!("absent {}", &txid.to_string()[..8]),
        other => {
            let text = format!("{other:?}");
            text.chars().take(60).collect()
        }
    }
}

fn describe_action(action: &Action) -> String {
    match action {
        Action::Send(m) => format!("send {}", m.name()),
        Action::PublishBtc { label, .. } => format!("publish {label:?}"),
        Action::WatchBtc { .. } => "watch".into(),
        Action::Emit(_) => "emit".into(),
        other => format!("{other:?}").chars().take(40).collect(),
    }
}

/// How a schedule ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Alice has the BTC, Bob the XMR.
    Swapped,
    /// Each has its own coin back.
    Refunded,
    /// Alice punished Bob: she has the BTC and her XMR is locked or back.
    Punished,
    /// Nothing was locked, or the lock was returned early.
    Aborted,
}

/// The result of one schedule.
#[derive(Debug)]
pub struct Report {
    /// The schedule's seed.
    pub seed: u64,
    /// How the swap ended (`None`: it did not).
    pub outcome: Option<Outcome>,
    /// Which path the swap took (`"cancel-refund"`, `"wrong-xmr-amount"`, ...).
    pub path: &'static str,
    /// A hash of every step taken: equal for equal seeds.
    pub trace_hash: u64,
    /// The invariants broken (empty: none).
    pub violations: Vec<String>,
    /// The simulated seconds when the schedule ended.
    pub end_time: u64,
    /// How many times a party crashed.
    pub crashes: u32,
    /// Which way the swap went (the taker buying or selling XMR).
    pub direction: Direction,
    /// How many messages the network dropped.
    pub messages_dropped: u32,
    /// How many reorganisations the chain had.
    pub reorgs: u32,
    /// The attacker's strategy, in an adversarial schedule.
    pub strategy: Option<Strategy>,
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
enum Ev {
    BtcBlock,
    XmrBlock,
    Deliver {
        to: Role,
        bytes: Vec<u8>,
    },
    Input {
        to: Role,
        epoch: u32,
        input: Input,
    },
    Tick {
        to: Role,
    },
    Crash {
        who: Role,
        duration: u64,
    },
    Restart {
        who: Role,
    },
    Command {
        who: Role,
        command: Command,
    },
    /// The attacker replays a message it sent, possibly relabelled for another swap.
    Hostile,
    /// Bob's held-back lock reaches miners.
    Release {
        txid: Txid,
    },
}

struct Party {
    state: SwapState,
    persisted: SwapState,
    online: bool,
    epoch: u32,
    watches: BTreeSet<Txid>,
    seen: BTreeSet<Txid>,
    xmr_watch: Option<[u8; 32]>,
    sweep: Option<Sweep>,
    published: Vec<Transaction>,
    tick_at: Option<u64>,
    offline: Vec<(u64, u64)>,
}

impl Party {
    fn new(state: SwapState) -> Party {
        Party {
            persisted: state.clone(),
            state,
            online: true,
            epoch: 0,
            watches: BTreeSet::new(),
            seen: BTreeSet::new(),
            xmr_watch: None,
            sweep: None,
            published: Vec::new(),
            tick_at: None,
            offline: Vec::new(),
        }
    }
}

/// A sweep asked for and not yet done.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The lock address to sweep.
    pub address: String,
    /// The wallet's restore height.
    pub restore_height: u64,
    /// The amount expected, in piconero.
    pub amount: u64,
}

/// Faults chosen for a schedule.
struct Faults {
    xmr_lock_fails: bool,
    xmr_wrong_amount: bool,
    drop_per_mille: u64,
    dup_per_mille: u64,
    crash_before_actions_per_mille: u64,
}

struct Sim {
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    btc: BtcLedger,
    xmr: XmrLedger,
    alice: Party,
    bob: Party,
    entry: &'static PoolEntry,
    faults: Faults,
    trace: u64,
    violations: Vec<String>,
    swept_by: Option<Role>,
    cancel_confirmed_at: Option<u64>,
    punish_seen_at: Option<u64>,
    crashes: u32,
    dropped: u32,
    reorgs: u32,
    lost_actions: u32,
    last_tick: (Role, u64),
    path: &'static str,
    /// The attacker, in an adversarial schedule.
    attack: Option<adversary::Attack>,
    /// Whether Bob's machine exists yet: a maker selling BTC makes it only when the taker's
    /// setup request arrives (until then Bob's party holds a placeholder and ignores input).
    bob_born: bool,
    /// Bob's fee rate (sat/vB), for a Bob made late.
    bob_fee_rate: u64,
}

fn fnv(acc: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(acc, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Sim {
    fn party(&mut self, role: Role) -> &mut Party {
        match role {
            Role::Alice => &mut self.alice,
            Role::Bob => &mut self.bob,
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn input_now(&mut self, to: Role, input: Input) {
        let epoch = self.party(to).epoch;
        self.push(self.now, Ev::Input { to, epoch, input });
    }

    fn handle(&mut self, role: Role, input: Input) {
        let now = self.now;
        let is_command = matches!(input, Input::Command(_));
        let party = self.party(role);
        if !party.online {
            return;
        }
        let phase_before = party.state.phase();
        let described = tracing_on().then(|| describe_input(&input));
        match party.state.handle(Timestamp(now), input) {
            Ok(actions) => {
                party.persisted = party.state.clone();
                let phase_after = party.state.phase();
                if phase_after < phase_before {
                    self.violations.push(format!(
                        "{role:?}'s phase went back from {phase_before:?} to {phase_after:?}"
                    ));
                }
                if let Some(input) = &described {
                    let lock = self
                        .agreement()
                        .and_then(|a| self.btc.status(&a.txs.lock.txid()))
                        .map(|(_, c)| c);
                    eprintln!(
                        "{now:>7} {role:?} {input} -> {} {:?} (lock depth {lock:?})",
                        self.party(role).state.state_name(),
                        actions.iter().map(describe_action).collect::<Vec<_>>()
                    );
                }
                let party = self.party(role);
                let name = party.state.state_name();
                self.trace = fnv(self.trace, &now.to_le_bytes());
                self.trace = fnv(self.trace, name.as_bytes());
                self.trace = fnv(self.trace, &(actions.len() as u64).to_le_bytes());
                let terminal = self.party(role).state.phase().is_terminal();
                if !actions.is_empty()
                    && !terminal
                    && self.lost_actions < 3
                    && self.rng.chance(self.faults.crash_before_actions_per_mille)
                {
                    // crash after persisting, before performing the actions
                    self.lost_actions += 1;
                    let duration = self.rng.range(5, 1800);
                    self.crash(role, duration);
                    return;
                }
                adversary::after_step(self, role);
                for action in actions {
                    self.execute(role, action);
                }
                self.schedule_tick(role);
            }
            Err(error) => {
                // an attacker's victim refuses hostile input by design
                if !is_command && self.attack.is_none() {
                    self.violations.push(format!(
                        "{role:?} rejected an honest input at {now}: {error}"
                    ));
                }
            }
        }
    }

    fn schedule_tick(&mut self, role: Role) {
        let now = self.now;
        let party = self.party(role);
        let deadline = party.state.next_deadline().map(|t| t.0.max(now));
        if let Some(at) = deadline.filter(|_| deadline != party.tick_at) {
            party.tick_at = deadline;
            self.push(at, Ev::Tick { to: role });
        }
    }

    fn execute(&mut self, role: Role, action: Action) {
        let Some(action) = adversary::intercept(self, role, action) else {
            return;
        };
        match action {
            Action::Send(message) => {
                let bytes = encode_cached(&message);
                let to = match role {
                    Role::Alice => Role::Bob,
                    Role::Bob => Role::Alice,
                };
                let copies = if self.rng.chance(self.faults.dup_per_mille) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    if self.rng.chance(self.faults.drop_per_mille) {
                        self.dropped += 1;
                        continue;
                    }
                    let delay = if self.rng.chance(100) {
                        self.rng.range(30, 300)
                    } else {
                        self.rng.range(0, 5)
                    };
                    self.push(
                        self.now + delay,
                        Ev::Deliver {
                            to,
                            bytes: bytes.clone(),
                        },
                    );
                }
            }
            Action::FundLock { amount, two_of_two } => {
                let script_pubkey = two_of_two.script_pubkey();
                let (outpoint, txout) = self.bob_funding();
                let change = txout.value - amount - Amount::from_sat(2_000);
                let tx = Transaction {
                    version: bitcoin::transaction::Version::TWO,
                    lock_time: bitcoin::absolute::LockTime::ZERO,
                    input: vec![TxIn {
                        previous_output: outpoint,
                        script_sig: ScriptBuf::new(),
                        sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                        witness: Witness::new(),
                    }],
                    output: vec![
                        TxOut {
                            value: amount,
                            script_pubkey,
                        },
                        TxOut {
                            value: change,
                            script_pubkey: self.entry.change.clone(),
                        },
                    ],
                };
                let mut psbt = Psbt::from_unsigned_tx(tx).expect("unsigned");
                psbt.inputs[0].witness_utxo = Some(txout);
                let delay = self.rng.range(0, 3);
                let epoch = self.bob.epoch;
                self.push(
                    self.now + delay,
                    Ev::Input {
                        to: Role::Bob,
                        epoch,
                        input: Input::LockFunded { psbt },
                    },
                );
            }
            Action::SignAndPublishLock { psbt } => {
                let mut tx = psbt.unsigned_tx.clone();
                tx.input[0].witness = Witness::from_slice(&[vec![0u8; 72], vec![2u8; 33]]);
                let _ = self.btc.submit(&tx);
                adversary::lock_published(self, &tx);
                self.party(role).published.push(tx);
            }
            Action::PublishBtc { tx, label } => {
                if label == TxLabel::Punish {
                    self.punish_seen_at.get_or_insert(self.now);
                }
                let accepted = self.btc.submit(&tx).is_ok();
                self.party(role).published.push(tx.clone());
                if accepted {
                    adversary::victim_published(self, role, &tx);
                }
            }
            Action::WatchBtc { txid, .. } => {
                self.party(role).watches.insert(txid);
                self.report_btc(role, txid);
            }
            Action::LockXmr { address, amount } => {
                let input = if self.faults.xmr_lock_fails {
                    Input::XmrLockFailed {
                        reason: "simulated: not enough unlocked balance".into(),
                    }
                } else {
                    let amount = amount.as_piconero() - u64::from(self.faults.xmr_wrong_amount);
                    let hash = self.rng.bytes32();
                    match self.xmr.lock(&address.to_string(), amount, hash) {
                        Ok((tx_hash, height)) => {
                            adversary::xmr_locked(self, role, &address.to_string());
                            let key = curve25519_dalek::Scalar::from_bytes_mod_order(hash)
                                + curve25519_dalek::Scalar::ONE;
                            Input::XmrLocked {
                                tx_hash,
                                tx_key: SecretScalar(key),
                                height,
                                amount: XmrAmount::from_piconero(amount),
                            }
                        }
                        Err(reason) => Input::XmrLockFailed {
                            reason: reason.into(),
                        },
                    }
                };
                let delay = adversary::xmr_lock_latency(self, role);
                let epoch = self.party(role).epoch;
                self.push(
                    self.now + delay,
                    Ev::Input {
                        to: role,
                        epoch,
                        input,
                    },
                );
            }
            Action::FindXmrLock { address } => {
                let input = match self.xmr.existing_lock(&address.to_string()) {
                    Some((tx_hash, height, amount)) => Input::XmrLocked {
                        tx_hash,
                        tx_key: SecretScalar(
                            curve25519_dalek::Scalar::from_bytes_mod_order(tx_hash)
                                + curve25519_dalek::Scalar::ONE,
                        ),
                        height,
                        amount: XmrAmount::from_piconero(amount),
                    },
                    None => Input::XmrLockFailed {
                        reason: "too late to lock, and no transfer exists".into(),
                    },
                };
                self.input_now(role, input);
            }
            Action::WatchXmrTransfer { tx_hash, .. } => {
                self.party(role).xmr_watch = Some(tx_hash);
                self.report_xmr(role);
            }
            Action::SweepXmr {
                address,
                spend_key,
                view_key,
                restore_height,
                amount,
            } => {
                let keys = monero::KeyPair {
                    view: monero::PrivateKey { scalar: view_key.0 },
                    spend: monero::PrivateKey {
                        scalar: spend_key.0,
                    },
                };
                if monero::Address::from_keypair(monero::Network::Mainnet, &keys) != address {
                    self.violations.push(format!(
                        "{role:?} tried to sweep with keys that do not open the lock address"
                    ));
                    return;
                }
                self.party(role).sweep = Some(Sweep {
                    address: address.to_string(),
                    restore_height,
                    amount: amount.as_piconero(),
                });
                self.report_xmr(role);
            }
            Action::Emit(_) => {}
        }
    }

    fn bob_funding(&self) -> (OutPoint, TxOut) {
        let txid = Txid::from_byte_array(hash(&[b"funding", &self.entry.swap_id.0]));
        (
            OutPoint { txid, vout: 0 },
            TxOut {
                value: self.entry.terms.btc_amount + Amount::from_sat(100_000),
                script_pubkey: self.entry.change.clone(),
            },
        )
    }

    fn report_btc(&mut self, role: Role, txid: Txid) {
        match self.btc.status(&txid) {
            Some((tx, confirmations)) => {
                self.party(role).seen.insert(txid);
                self.input_now(role, Input::BtcTxSeen { tx, confirmations });
            }
            None => {
                if self.party(role).seen.remove(&txid) {
                    self.input_now(role, Input::BtcTxAbsent { txid });
                }
            }
        }
    }

    fn report_xmr(&mut self, role: Role) {
        if let Some(hash) = self.party(role).xmr_watch {
            if let Some(seen) = self.xmr.transfer(&hash) {
                let input = Input::XmrTransferSeen {
                    tx_hash: hash,
                    amount: XmrAmount::from_piconero(seen.amount),
                    confirmations: seen.confirmations,
                    block_height: seen.block_height,
                    unlock_time: seen.unlock_time,
                };
                self.input_now(role, input);
            }
        }
        if let Some(sweep) = self.party(role).sweep.clone() {
            if let Some(amount) = self.xmr.sweep(&sweep) {
                if amount > 0 {
                    if self.swept_by.is_some() {
                        self.violations
                            .push("the lock address was swept twice".into());
                    }
                    self.swept_by = Some(role);
                    match role {
                        Role::Alice => self.xmr.alice_swept_back += amount,
                        Role::Bob => self.xmr.bob_received += amount,
                    }
                }
                self.party(role).sweep = None;
                self.input_now(
                    role,
                    Input::XmrSwept {
                        amount: XmrAmount::from_piconero(amount),
                    },
                );
            }
        }
    }

    fn crash(&mut self, role: Role, duration: u64) {
        let now = self.now;
        let party = self.party(role);
        if !party.online {
            return;
        }
        party.online = false;
        party.epoch += 1;
        party.offline.push((now, now + duration));
        party.tick_at = None;
        party.watches.clear();
        party.seen.clear();
        party.xmr_watch = None;
        party.sweep = None;
        self.crashes += 1;
        self.push(now + duration, Ev::Restart { who: role });
    }

    /// The maker selling BTC takes the taker's setup request: it makes Bob's machine for
    /// the requested terms now (its setup timeout starts now) and starts it.
    fn bear_bob(&mut self, request: &SetupRequest) {
        if request.swap_id != self.entry.swap_id {
            // a replay relabelled for another swap: the maker would open that one instead
            return;
        }
        if request.terms != self.entry.terms {
            if self.attack.is_none() {
                self.violations
                    .push("an honest setup request asked for other terms".into());
            }
            return;
        }
        let bob = SwapState::Bob(Box::new(make_bob(
            self.entry,
            self.bob_fee_rate,
            Timestamp(self.now),
        )));
        self.bob.state = bob.clone();
        self.bob.persisted = bob;
        self.bob_born = true;
        self.handle(Role::Bob, Input::Tick);
    }

    fn restart(&mut self, role: Role) {
        if role == Role::Bob && !self.bob_born {
            self.party(role).online = true;
            return;
        }
        let party = self.party(role);
        // reload exactly what was persisted, through the stored (serialized) form
        let stored = serde_json::to_vec(&party.persisted).expect("states serialize");
        party.state = serde_json::from_slice(&stored).expect("stored states deserialize");
        party.online = true;
        if party.state != party.persisted {
            self.violations.push(format!(
                "{role:?}'s state changed through a serde round trip"
            ));
        }
        self.handle(role, Input::Resume);
    }

    fn on_btc_block(&mut self) {
        for tx in self
            .alice
            .published
            .clone()
            .iter()
            .chain(self.bob.published.clone().iter())
        {
            let _ = self.btc.submit(tx);
        }
        if self.btc.tip() > 3 && self.rng.chance(30) {
            self.reorgs += 1;
            let depth = self.rng.range(1, 2) as usize;
            self.btc.reorg(depth);
        } else {
            self.btc.mine();
        }
        if let Some(agreement) = self.agreement() {
            let cancel = agreement.txs.cancel.txid();
            if self.btc.is_confirmed(&cancel) {
                self.cancel_confirmed_at.get_or_insert(self.now);
            }
        }
        for role in [Role::Alice, Role::Bob] {
            if !self.party(role).online {
                continue;
            }
            let watches: Vec<Txid> = self.party(role).watches.iter().copied().collect();
            for txid in watches {
                self.report_btc(role, txid);
            }
        }
        adversary::on_btc_block(self);
        let next = self.now + self.rng.range(300, 900);
        self.push(next, Ev::BtcBlock);
    }

    fn on_xmr_block(&mut self) {
        self.xmr.mine();
        adversary::on_xmr_block(self);
        for role in [Role::Alice, Role::Bob] {
            if self.party(role).online {
                self.report_xmr(role);
            }
        }
        let next = self.now + self.rng.range(60, 180);
        self.push(next, Ev::XmrBlock);
    }

    /// Whether the schedule is over at `at`: both machines ended or, against an attacker,
    /// the victim's ended a while ago (the attacker may keep trying).
    fn finished(&self, at: u64) -> bool {
        match &self.attack {
            None => self.both_terminal(),
            Some(attack) => attack
                .victim_done_at
                .is_some_and(|done| at > done + adversary::GRACE_SECONDS),
        }
    }

    /// The agreement, once either machine has it.
    fn agreement(&self) -> Option<&confiaro_protocol::machine::Agreement> {
        self.alice.state.agreement().or(self.bob.state.agreement())
    }

    fn both_terminal(&self) -> bool {
        self.is_done(Role::Alice) && self.is_done(Role::Bob)
    }

    /// Whether `role` is done with the swap: its machine is terminal, or (a maker selling
    /// BTC) it never took a setup request, so it has no swap at all.
    fn is_done(&self, role: Role) -> bool {
        match role {
            Role::Alice => self.alice.state.phase().is_terminal(),
            Role::Bob => !self.bob_born || self.bob.state.phase().is_terminal(),
        }
    }

    fn run(&mut self) {
        while let Some(((at, _), ev)) = self.queue.pop_first() {
            if at > HORIZON_SECONDS || self.finished(at) {
                break;
            }
            self.now = at;
            self.btc.now = at;
            match ev {
                Ev::BtcBlock => self.on_btc_block(),
                Ev::XmrBlock => self.on_xmr_block(),
                Ev::Deliver { to, bytes } => {
                    if !self.party(to).online {
                        continue;
                    }
                    match decode_cached(&bytes) {
                        Ok(Message::SetupRequest(request)) if to == Role::Bob && !self.bob_born => {
                            self.bear_bob(&request)
                        }
                        Ok(_) if to == Role::Bob && !self.bob_born => {}
                        Ok(message) => self.handle(to, Input::Message(message)),
                        Err(e) => self
                            .violations
                            .push(format!("an honest message failed to decode: {e}")),
                    }
                }
                Ev::Input { to, epoch, input } => {
                    if self.party(to).epoch == epoch {
                        self.handle(to, input);
                    }
                }
                Ev::Tick { to } => {
                    if self.party(to).tick_at != Some(at) {
                        continue;
                    }
                    if self.last_tick == (to, at) {
                        let name = self.party(to).state.state_name();
                        self.violations.push(format!(
                            "{to:?}'s next_deadline did not move past {at} in {name}"
                        ));
                        break;
                    }
                    self.last_tick = (to, at);
                    self.party(to).tick_at = None;
                    self.handle(to, Input::Tick);
                }
                Ev::Crash { who, duration } => self.crash(who, duration),
                Ev::Restart { who } => self.restart(who),
                Ev::Command { who, command } => self.handle(who, Input::Command(command)),
                Ev::Hostile => adversary::replay(self),
                Ev::Release { txid } => self.btc.release(&txid),
            }
        }
    }

    fn was_offline_during(&self, role: Role, from: u64, to: u64) -> bool {
        let party = match role {
            Role::Alice => &self.alice,
            Role::Bob => &self.bob,
        };
        party
            .offline
            .iter()
            .any(|(start, end)| *start <= to && *end >= from)
    }

    /// Classifies the end state and checks the safety properties.
    fn judge(&mut self) -> Option<Outcome> {
        if !self.both_terminal() {
            self.violations.push(format!(
                "not terminal after {HORIZON_SECONDS}s: alice {}, bob {}",
                self.alice.state.state_name(),
                self.bob.state.state_name()
            ));
            return None;
        }
        let agreement = self.agreement().cloned();
        let Some(agreement) = agreement else {
            self.path = "aborted-in-setup";
            return Some(Outcome::Aborted);
        };
        let txs = &agreement.txs;
        let confirmed = |txid: Txid| self.btc.is_confirmed(&txid);
        let xmr_locked = self.xmr.locked_at(&agreement.lock_address.to_string());
        let alice_got_btc = confirmed(txs.redeem.txid()) || confirmed(txs.punish.txid());
        let bob_got_btc_back = confirmed(txs.refund.txid()) || confirmed(txs.early_refund.txid());
        let lock_confirmed = confirmed(txs.lock.txid());
        let mut v = Vec::new();
        let outcome = if !lock_confirmed {
            if xmr_locked > 0 {
                v.push("XMR locked although the BTC lock never confirmed".to_string());
            }
            Outcome::Aborted
        } else if confirmed(txs.redeem.txid()) {
            if self.swept_by != Some(Role::Bob) {
                v.push("Alice redeemed the BTC but Bob did not get the XMR".into());
            }
            Outcome::Swapped
        } else if confirmed(txs.punish.txid()) {
            let from = self.cancel_confirmed_at.unwrap_or(0);
            let to = self.punish_seen_at.unwrap_or(self.now);
            if !self.was_offline_during(Role::Bob, from, to) {
                v.push(format!(
                    "Bob was punished although online from cancel ({from}) to punish ({to})"
                ));
            }
            Outcome::Punished
        } else if bob_got_btc_back {
            if xmr_locked > 0 && self.swept_by != Some(Role::Alice) {
                v.push("Bob got his BTC back but Alice's XMR is still locked".into());
            }
            Outcome::Refunded
        } else {
            v.push("the BTC is still locked (no redeem, refund, early refund or punish)".into());
            Outcome::Refunded
        };
        self.path = if confirmed(txs.redeem.txid()) {
            "redeem"
        } else if confirmed(txs.punish.txid()) {
            "cancel-punish"
        } else if confirmed(txs.early_refund.txid()) {
            "early-refund"
        } else if confirmed(txs.refund.txid()) && self.faults.xmr_wrong_amount && xmr_locked > 0 {
            "wrong-xmr-amount-refund"
        } else if confirmed(txs.refund.txid()) {
            "cancel-refund"
        } else {
            "aborted-before-lock"
        };
        if alice_got_btc && bob_got_btc_back {
            v.push("both redeem-side and refund-side transactions confirmed".into());
        }
        if self.swept_by == Some(Role::Bob) && !confirmed(txs.redeem.txid()) {
            v.push("Bob swept the XMR without Alice redeeming".into());
        }
        self.violations.extend(v);
        Some(outcome)
    }
}

/// Bob's machine for `entry`, made at `now`.
fn make_bob(entry: &PoolEntry, fee_rate: u64, now: Timestamp) -> Bob {
    Bob::new(
        entry.swap_id,
        entry.terms,
        entry.bob_secrets.clone(),
        entry.bob_share.clone(),
        entry.refund.clone(),
        fee_rate,
        now,
    )
}

/// Runs one schedule of two honest parties.
pub fn run(seed: u64) -> Report {
    run_with(seed, None)
}

/// Runs one schedule; with a `strategy`, one party is an attacker playing it.
fn run_with(seed: u64, strategy: Option<Strategy>) -> Report {
    let entry = &pool()[(seed % POOL_SIZE) as usize];
    let mut rng = Rng::new(seed);
    // an honest Alice's wallet pays exactly; an attacking Alice may not
    let xmr_faults_allowed = strategy.is_none_or(|s| s.attacker() == Role::Alice);
    let faults = Faults {
        xmr_lock_fails: rng.chance(50) && xmr_faults_allowed,
        xmr_wrong_amount: rng.chance(50) && xmr_faults_allowed,
        drop_per_mille: [0, 50, 200][rng.range(0, 2) as usize],
        dup_per_mille: [0, 50, 200][rng.range(0, 2) as usize],
        crash_before_actions_per_mille: [0, 20, 100][rng.range(0, 2) as usize],
    };
    let start = Timestamp(0);
    let bob_fee_rate = strategy.map_or(entry.bob_fee_rate, |s| s.bob_fee_rate(entry));
    let bob = make_bob(entry, bob_fee_rate, start);
    let mut alice = Alice::new(
        entry.swap_id,
        entry.terms,
        entry.alice_secrets.clone(),
        entry.alice_share.clone(),
        entry.redeem.clone(),
        entry.punish.clone(),
        entry.alice_fee_rate,
        start,
    );
    let selling = entry.terms.direction == Direction::SellXmr;
    if selling {
        alice = alice.requesting_setup(SetupRequest {
            swap_id: entry.swap_id,
            terms: entry.terms,
            reserve_proof: ReserveProof {
                address: "simulated".into(),
                made_at: 0,
                signature: "ReserveProofV2simulated".into(),
            },
        });
    }
    let mut sim = Sim {
        rng,
        now: 0,
        seq: 0,
        queue: BTreeMap::new(),
        btc: BtcLedger::default(),
        xmr: XmrLedger::new(entry.terms.xmr_amount.as_piconero() * 2),
        alice: Party::new(SwapState::Alice(Box::new(alice))),
        bob: Party::new(SwapState::Bob(Box::new(bob))),
        entry,
        faults,
        trace: 0xcbf2_9ce4_8422_2325,
        violations: Vec::new(),
        swept_by: None,
        cancel_confirmed_at: None,
        punish_seen_at: None,
        crashes: 0,
        dropped: 0,
        reorgs: 0,
        lost_actions: 0,
        last_tick: (Role::Alice, u64::MAX),
        path: "unfinished",
        attack: None,
        bob_born: !selling,
        bob_fee_rate,
    };
    if let Some(strategy) = strategy {
        sim.attack = Some(adversary::Attack::new(strategy, &mut sim.rng));
    }
    let (outpoint, txout) = sim.bob_funding();
    sim.btc.add_genesis_output(outpoint, txout);
    let first_block = sim.rng.range(1, 600);
    sim.push(first_block, Ev::BtcBlock);
    let first_xmr = sim.rng.range(1, 120);
    sim.push(first_xmr, Ev::XmrBlock);
    if selling {
        // the taker (Alice) opens: her request goes out on the first resume
        sim.push(
            0,
            Ev::Input {
                to: Role::Alice,
                epoch: 0,
                input: Input::Resume,
            },
        );
    } else {
        sim.push(0, Ev::Tick { to: Role::Bob });
        sim.bob.tick_at = Some(0);
        sim.schedule_tick(Role::Alice);
    }
    // crashes and offline periods, all ending well before the horizon
    for role in [Role::Alice, Role::Bob] {
        for _ in 0..sim.rng.range(0, 3) {
            let at = sim.rng.range(0, 8 * 3600);
            let duration = if sim.rng.chance(250) {
                sim.rng.range(3600, 12 * 3600)
            } else {
                sim.rng.range(1, 1800)
            };
            sim.push(
                at,
                Ev::Crash {
                    who: role,
                    duration,
                },
            );
        }
    }
    if sim.rng.chance(80) {
        let at = sim.rng.range(0, 900);
        sim.push(
            at,
            Ev::Command {
                who: Role::Bob,
                command: Command::Abort,
            },
        );
    }
    if sim.rng.chance(50) {
        let at = sim.rng.range(0, 1800);
        sim.push(
            at,
            Ev::Command {
                who: Role::Alice,
                command: Command::Abort,
            },
        );
    }
    if sim.rng.chance(100) {
        let at = sim.rng.range(0, 6 * 3600);
        sim.push(
            at,
            Ev::Command {
                who: Role::Bob,
                command: Command::CancelRefund,
            },
        );
    }
    adversary::schedule(&mut sim);
    sim.run();
    let outcome = match sim.attack.is_some() {
        true => adversary::judge(&mut sim),
        false => sim.judge(),
    };
    Report {
        seed,
        outcome,
        path: sim.path,
        trace_hash: sim.trace,
        violations: sim.violations,
        end_time: sim.now,
        crashes: sim.crashes,
        messages_dropped: sim.dropped,
        reorgs: sim.reorgs,
        strategy,
        direction: entry.terms.direction,
    }
}

/// A P2WSH output script made of `byte`: a destination nobody needs to spend.
pub fn destination(byte: u8) -> ScriptBuf {
    ScriptBuf::new_p2wsh(&bitcoin::WScriptHash::from_byte_array([byte; 32]))
}

/// Runs one honest setup between fresh machines, every message encoded and decoded (so both
/// DLEQ proofs are made and verified), until Bob is ready to publish his lock and Alice holds
/// all signatures. Returns both states and the number of messages exchanged. Deterministic:
/// the same `round` always gives the same states.
pub fn setup_exchange(round: u8) -> (SwapState, SwapState, usize) {
    let swap_id = SwapId([round; 32]);
    let terms = SwapTerms::new(
        Network::Regtest,
        Direction::BuyXmr,
        Amount::from_sat(1_000_000),
        XmrAmount::from_piconero(10u64.pow(12)),
    );
    let bob_secrets = SwapSecrets::derive(
        &WalletSeed([1; 64]),
        &swap_id,
        Role::Bob,
        &SwapEntropy([0; 32]),
    );
    let alice_secrets = SwapSecrets::derive(
        &WalletSeed([2; 64]),
        &swap_id,
        Role::Alice,
        &SwapEntropy([0; 32]),
    );
    let now = Timestamp(0);
    let bob_share = bob_secrets.public_share();
    let alice_share = alice_secrets.public_share();
    let mut bob = SwapState::Bob(Box::new(Bob::new(
        swap_id,
        terms,
        bob_secrets,
        bob_share,
        destination(3),
        5,
        now,
    )));
    let mut alice = SwapState::Alice(Box::new(Alice::new(
        swap_id,
        terms,
        alice_secrets,
        alice_share,
        destination(4),
        destination(5),
        5,
        now,
    )));
    let mut to_alice = Vec::new();
    let mut to_bob = Vec::new();
    let mut bob_inputs = vec![Input::Tick];
    let mut exchanged = 0;
    loop {
        for input in std::mem::take(&mut bob_inputs) {
            for action in bob.handle(now, input).expect("honest input") {
                match action {
                    Action::Send(m) => to_alice.push(m.encode()),
                    Action::FundLock { amount, two_of_two } => bob_inputs.push(Input::LockFunded {
                        psbt: fund(amount, two_of_two.script_pubkey()),
                    }),
                    _ => {}
                }
            }
        }
        for bytes in to_alice.drain(..) {
            exchanged += 1;
            let message = messages::decode(&bytes).expect("valid message");
            for action in alice
                .handle(now, Input::Message(message))
                .expect("honest message")
            {
                if let Action::Send(m) = action {
                    to_bob.push(m.encode());
                }
            }
        }
        for bytes in to_bob.drain(..) {
            exchanged += 1;
            bob_inputs.push(Input::Message(
                messages::decode(&bytes).expect("valid message"),
            ));
        }
        if bob_inputs.is_empty() && to_alice.is_empty() {
            break;
        }
    }
    assert_eq!(bob.state_name(), "BtcLockPublished");
    assert_eq!(alice.state_name(), "SignaturesReceived");
    (alice, bob, exchanged)
}

/// A PSBT whose one output pays `amount` to `script_pubkey` from a made-up coin.
pub fn fund(amount: Amount, script_pubkey: ScriptBuf) -> Psbt {
    let input = TxOut {
        value: amount + Amount::from_sat(50_000),
        script_pubkey: destination(9),
    };
    let tx = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: bitcoin::Txid::from_byte_array([7; 32]),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: amount,
            script_pubkey,
        }],
    };
    let mut psbt = Psbt::from_unsigned_tx(tx).expect("unsigned");
    psbt.inputs[0].witness_utxo = Some(input);
    psbt
}
