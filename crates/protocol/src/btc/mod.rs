//! Bitcoin transaction templates of the swap: the lock and the five transactions that spend
//! a 2-of-2 output.
//!
//! Everything here is pure: it builds, checks and completes transactions; it never signs with
//! a wallet, never talks to a node and never reads a clock.
//!
//! # The transaction graph
//!
//! Bob locks BTC into a P2WSH 2-of-2 output of Alice's key `A` and Bob's key `B`
//! ([`TwoOfTwo`]). Every spend has exactly one input and one output, and its output value is
//! the spent value minus the fee; cancel alone adds two [`ANCHOR_VALUE`] outputs, one per
//! party, through which either can pay for it (CPFP) in a fee spike.
//!
//! | transaction        | spends        | pays to                        | relative timelock |
//! |--------------------|---------------|--------------------------------|-------------------|
//! | [`TxLock`]         | Bob's wallet  | the 2-of-2 (plus change)       | none              |
//! | [`TxRedeem`]       | lock output   | Alice's redeem script          | none              |
//! | [`TxCancel`]       | lock output   | a new 2-of-2 of the same keys, and an anchor per party | `cancel_timelock` |
//! | [`TxRefund`]       | cancel output | Bob's refund script            | none              |
//! | [`TxPunish`]       | cancel output | Alice's punish script          | `punish_timelock` |
//! | [`TxEarlyRefund`]  | lock output   | Bob's refund script            | none              |
//!
//! All transactions are version 2 (so BIP68 relative timelocks apply), segwit v0, and every
//! 2-of-2 signature uses `SIGHASH_ALL` over the BIP143 sighash.
//!
//! # Fees
//!
//! Fees are absolute amounts chosen by the caller. Use [`fee::fee_for_weight`] with the
//! `max_weight` of the transaction type (for example [`TxRedeem::max_weight`]) to turn a fee
//! rate into an amount that is never below that rate, and [`fee::check_fee_rate`] to check a
//! rate proposed by the counterparty.

pub mod fee;
pub mod script;
pub mod tx;

pub use fee::{bump_rate_cap, bump_target_rate, check_fee_rate, cpfp_child_fee, fee_for_weight};
pub use script::{is_standard_destination, TwoOfTwo};
pub use tx::{
    signature_from_witness, FundingInput, TxCancel, TxEarlyRefund, TxLock, TxPunish, TxRedeem,
    TxRefund,
};

use crate::Role;
use bitcoin::{Amount, OutPoint, Txid};

/// The smallest output value any template here creates: 546 sat.
///
/// This is Bitcoin Core's dust threshold (at the default `-dustrelayfee` of 3 sat/vB) for a
/// P2PKH output, the largest threshold of all the destination types accepted by
/// [`is_standard_destination`] (P2WPKH is 294 sat, P2WSH and P2TR 330 sat, P2SH 540 sat).
/// Using the single largest value keeps the rule simple and every output relayable whatever
/// its destination.
pub const DUST_LIMIT: Amount = Amount::from_sat(546);

/// The value of each keyed anchor of [`TxCancel`]: 330 sat.
///
/// Above the dust threshold of a P2WPKH output (294 sat), which is what an anchor is; the two
/// anchors (660 sat) come out of the locked amount, like cancel's fee. Small, because an
/// anchor only has to exist: the child spending it pays the fee from the party's wallet.
pub const ANCHOR_VALUE: Amount = Amount::from_sat(330);

/// Everything that can go wrong building, checking or completing a Bitcoin transaction.
///
/// Every variant is a rejection of an input (a parameter, a PSBT or a transaction received
/// from the counterparty or read from the chain); none is a bug of this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// A key of a 2-of-2 is not in compressed form (segwit requires compressed keys).
    #[error("the key of {party:?} is uncompressed; segwit requires compressed keys")]
    UncompressedKey {
        /// Whose key it is.
        party: Role,
    },
    /// Both keys of a 2-of-2 are the same key, which would let one party sign alone.
    #[error("both keys of the 2-of-2 are the same key")]
    IdenticalKeys,
    /// A lock transaction without inputs.
    #[error("the lock transaction has no inputs")]
    NoInputs,
    /// The same outpoint is spent twice.
    #[error("input {index} spends {outpoint}, which an earlier input already spends")]
    DuplicateInput {
        /// Index of the second input spending the outpoint.
        index: usize,
        /// The outpoint spent twice.
        outpoint: OutPoint,
    },
    /// A lock amount of zero.
    #[error("the lock amount is zero")]
    ZeroAmount,
    /// An output whose value is below [`DUST_LIMIT`]; nodes would not relay the transaction.
    #[error("an output of {value_sat} sat is below the dust limit of {dust_limit_sat} sat")]
    BelowDust {
        /// The output's value in satoshi.
        value_sat: u64,
        /// The dust limit in satoshi.
        dust_limit_sat: u64,
    },
    /// The inputs of a lock do not cover its outputs plus a positive fee.
    #[error(
        "the inputs total {inputs_sat} sat but the outputs need {outputs_sat} sat plus a positive fee"
    )]
    InsufficientFunds {
        /// Sum of the input values in satoshi.
        inputs_sat: u64,
        /// Sum of the output values in satoshi.
        outputs_sat: u64,
    },
    /// A sum of amounts exceeds the range of [`Amount`].
    #[error("a sum of amounts overflows")]
    AmountOverflow,
    /// A PSBT has no output paying the lock amount to the 2-of-2.
    #[error("no output of the lock transaction pays to the 2-of-2")]
    LockOutputMissing,
    /// A PSBT has more than one output paying to the 2-of-2.
    #[error("{count} outputs of the lock transaction pay to the 2-of-2; exactly one must")]
    MultipleLockOutputs {
        /// How many outputs pay to the 2-of-2.
        count: usize,
    },
    /// The 2-of-2 output of a lock PSBT does not hold the agreed amount.
    #[error("the 2-of-2 output holds {found_sat} sat instead of the agreed {expected_sat} sat")]
    WrongLockAmount {
        /// The agreed amount in satoshi.
        expected_sat: u64,
        /// The amount of the 2-of-2 output in satoshi.
        found_sat: u64,
    },
    /// An input of a lock PSBT lacks `witness_utxo`, so its value (and the fee) is unknown.
    #[error("input {index} of the lock transaction has no witness_utxo")]
    MissingWitnessUtxo {
        /// Index of the input.
        index: usize,
    },
    /// An input of a lock spends an output that is not native segwit (P2WPKH, P2WSH, P2TR).
    ///
    /// Non-segwit and P2SH-wrapped inputs make the lock txid differ from the unsigned one
    /// (or be malleable), which would invalidate the pre-signed cancel and refund.
    #[error("input {index} of the lock transaction does not spend a native segwit output")]
    NonSegwitInput {
        /// Index of the input.
        index: usize,
    },
    /// The PSBT's per-input or per-output maps do not match its unsigned transaction.
    #[error("the psbt has {maps} {what} maps for {tx} transaction {what}s")]
    PsbtShape {
        /// `"input"` or `"output"`.
        what: &'static str,
        /// Number of maps in the PSBT.
        maps: usize,
        /// Number of inputs or outputs in the unsigned transaction.
        tx: usize,
    },
    /// A transaction has a version other than 2.
    #[error("the transaction has version {version}; version 2 is required")]
    WrongVersion {
        /// The version found.
        version: i32,
    },
    /// A signed PSBT is not a signature of the agreed unsigned transaction.
    #[error("the signed psbt is for transaction {found}, not the agreed {expected}")]
    TxidMismatch {
        /// The txid of the agreed transaction.
        expected: Txid,
        /// The txid of the received one.
        found: Txid,
    },
    /// An input of a signed lock PSBT has no final witness, or has a final script_sig.
    #[error("input {index} of the signed lock psbt is not finalized with a witness only")]
    InputNotFinalized {
        /// Index of the input.
        index: usize,
    },
    /// A fee of zero; the transaction would never be relayed.
    #[error("the fee is zero")]
    ZeroFee,
    /// The fee is not smaller than the value being spent.
    #[error("a fee of {fee_sat} sat does not fit into the spent {spent_sat} sat")]
    FeeTooHigh {
        /// The fee in satoshi.
        fee_sat: u64,
        /// The spent value in satoshi.
        spent_sat: u64,
    },
    /// A fee rate outside of the accepted band.
    #[error(
        "a fee rate of {rate_sat_per_vb} sat/vB is outside the accepted {min_sat_per_vb}..={max_sat_per_vb} sat/vB"
    )]
    FeeRateOutOfBand {
        /// The rejected rate.
        rate_sat_per_vb: u64,
        /// Lowest accepted rate.
        min_sat_per_vb: u64,
        /// Highest accepted rate.
        max_sat_per_vb: u64,
    },
    /// A relative timelock of zero blocks, which would not lock anything.
    #[error("the relative timelock is zero blocks")]
    ZeroTimelock,
    /// A destination script that is not P2PKH, P2SH, P2WPKH, P2WSH or P2TR.
    #[error("the destination script is not a standard address type")]
    NonStandardDestination,
    /// A spend template that does not have the expected shape (after deserialization).
    #[error("malformed spend transaction: {reason}")]
    MalformedSpend {
        /// What is wrong.
        reason: &'static str,
    },
    /// A signature that does not verify against the party's key and the sighash.
    #[error("the signature of {party:?} is invalid")]
    InvalidSignature {
        /// Whose signature it is.
        party: Role,
    },
    /// A key that is neither key of the 2-of-2.
    #[error("the key is not part of the 2-of-2")]
    KeyNotInTwoOfTwo,
    /// A published transaction whose witness is not a 2-of-2 spend of the expected script.
    #[error("malformed 2-of-2 witness: {reason}")]
    MalformedWitness {
        /// What is wrong.
        reason: &'static str,
    },
    /// A PSBT that cannot be decoded (only from deserialization).
    #[error("invalid psbt: {reason}")]
    InvalidPsbt {
        /// The decoder's message.
        reason: String,
    },
}
