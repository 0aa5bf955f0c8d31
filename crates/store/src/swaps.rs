//! Swaps: a summary row per swap, its current state and the append-only history of states.
//!
//! The stored type is [`confiaro_protocol::SwapState`] itself, serialized with serde_json
//! (its `version` field and `serde(default)` on new fields keep old rows readable) and sealed
//! by the [`Vault`], as are the row's addresses (`receive_address`, `counterparty_wallet`).
//! Everything else in a swap's row (role, peer, network, amounts, state name, phase, times)
//! is plaintext and holds no secret.
//!
//! Every saved state is appended to `swap_states` with the next sequence number (0 for the
//! state given to [`Store::insert_swap`]); the `swaps` row points at the newest entry
//! (`state_seq`) and carries a copy of its sealed blob. Blobs are sealed with associated data
//! that binds them to their place:
//!
//! - a state: `"confiaro/swap-state/v1" || swap_id (32 bytes) || seq (u64, big-endian)`;
//! - engine data: `"confiaro/swap-data/v1" || swap_id || key length (u64, big-endian) || key`;
//! - an address: `"confiaro/swap-field/v1" || swap_id || the column's name`.
//!
//! So a blob copied to another swap, sequence number or key fails with
//! [`StoreError::Decrypt`].
//!
//! Phases only move forward ([`Phase`]'s `Ord`): [`Store::save_swap_state`] refuses a state
//! whose phase is before the stored one. Role, network and amounts are fixed at insertion.

use bitcoin::Amount;
use confiaro_protocol::{Network, Phase, Role, SwapId, SwapState, XmrAmount};
use sqlx::any::AnyRow;
use sqlx::Row;
use zeroize::Zeroizing;

use crate::{now_secs, Store, StoreError, Vault};

const STATE_CONTEXT: &[u8] = b"confiaro/swap-state/v1";
const DATA_CONTEXT: &[u8] = b"confiaro/swap-data/v1";
const FIELD_CONTEXT: &[u8] = b"confiaro/swap-field/v1";

/// The sealed text columns of `swaps`.
pub(crate) const SEALED_FIELDS: [&str; 2] = ["receive_address", "counterparty_wallet"];

/// The associated data of column `field` of swap `swap_id`.
pub(crate) fn field_context(swap_id: &SwapId, field: &str) -> Vec<u8> {
    let mut context = FIELD_CONTEXT.to_vec();
    context.extend_from_slice(&swap_id.0);
    context.extend_from_slice(field.as_bytes());
    context
}

/// What the engine knows about a swap besides its machine.
#[derive(Debug, Clone, Copy)]
pub struct NewSwap<'a> {
    /// The counterparty's libp2p PeerId, as a string.
    pub peer: &'a str,
    /// Where our coins go when not to the built-in wallet: Bob's XMR (a Monero address) or a
    /// taker Alice's BTC (a Bitcoin address, shown only: her redeem output is in the state).
    pub receive_address: Option<&'a str>,
    /// On a maker's swap with a taker selling XMR: the Monero wallet (primary address) the
    /// taker's reserve proof was made for, so its record follows the wallet across peer ids.
    pub counterparty_wallet: Option<&'a str>,
}

/// One swap's summary row, its addresses opened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SwapRecord {
    /// The swap's id.
    pub swap_id: SwapId,
    /// Our role in it.
    pub role: Role,
    /// The counterparty's libp2p PeerId.
    pub peer: String,
    /// The network pair.
    pub network: Network,
    /// BTC locked by Bob.
    pub btc_amount: Amount,
    /// XMR locked by Alice.
    pub xmr_amount: XmrAmount,
    /// Where our coins go, if not to the built-in wallet (see [`NewSwap::receive_address`]).
    pub receive_address: Option<String>,
    /// The taker's proven Monero wallet (see [`NewSwap::counterparty_wallet`]).
    pub counterparty_wallet: Option<String>,
    /// The current detailed state's name.
    pub state_name: String,
    /// The current phase.
    pub phase: Phase,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

/// One row of a swap's state history (readable without the vault).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StateEntry {
    /// Position in the history, from 0.
    pub seq: u64,
    /// The detailed state's name.
    pub state_name: String,
    /// Its phase.
    pub phase: Phase,
    /// When it was saved (Unix seconds).
    pub at: i64,
}

/// Every phase, in order.
const PHASES: [Phase; 8] = [
    Phase::Initialized,
    Phase::Negotiating,
    Phase::Locked,
    Phase::Executing,
    Phase::Completed,
    Phase::Refunded,
    Phase::Failed,
    Phase::Aborted,
];

/// The stored name of a phase (its variant name).
fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Initialized => "Initialized",
        Phase::Negotiating => "Negotiating",
        Phase::Locked => "Locked",
        Phase::Executing => "Executing",
        Phase::Completed => "Completed",
        Phase::Refunded => "Refunded",
        Phase::Failed => "Failed",
        Phase::Aborted => "Aborted",
    }
}

fn parse_phase(name: &str) -> Option<Phase> {
    PHASES.into_iter().find(|p| phase_name(*p) == name)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Alice => "Alice",
        Role::Bob => "Bob",
    }
}

fn parse_role(name: &str) -> Option<Role> {
    [Role::Alice, Role::Bob]
        .into_iter()
        .find(|r| role_name(*r) == name)
}

fn network_name(network: Network) -> &'static str {
    match network {
        Network::Mainnet => "Mainnet",
        Network::Testnet4 => "Testnet4",
        Network::Signet => "Signet",
        Network::Regtest => "Regtest",
    }
}

fn parse_network(name: &str) -> Option<Network> {
    Network::ALL.into_iter().find(|n| network_name(*n) == name)
}

/// Parses a swap id stored as 64 lowercase hex digits.
pub(crate) fn parse_swap_id(text: &str) -> Option<SwapId> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes).ok()?;
    Some(SwapId(bytes))
}

/// The associated data of history entry `seq` of swap `swap_id`.
fn state_context(swap_id: &SwapId, seq: u64) -> Vec<u8> {
    let mut context = STATE_CONTEXT.to_vec();
    context.extend_from_slice(&swap_id.0);
    context.extend_from_slice(&seq.to_be_bytes());
    context
}

/// The associated data of engine data `key` of swap `swap_id`.
fn data_context(swap_id: &SwapId, key: &str) -> Vec<u8> {
    let mut context = DATA_CONTEXT.to_vec();
    context.extend_from_slice(&swap_id.0);
    context.extend_from_slice(&(key.len() as u64).to_be_bytes());
    context.extend_from_slice(key.as_bytes());
    context
}

pub(crate) fn corrupt(swap_id: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        what: format!("swap {swap_id}: {what}"),
    }
}

/// Serializes a state into a buffer that is wiped when dropped (it holds the swap's keys).
fn encode_state(state: &SwapState) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    serde_json::to_vec(state)
        .map(Zeroizing::new)
        .map_err(|e| StoreError::Corrupt {
            // the error's category only: its message could quote the state
            what: format!(
                "the state of swap {} does not serialize ({:?} error)",
                state.swap_id(),
                e.classify()
            ),
        })
}

/// Opens and deserializes history entry `seq` of `swap_id`.
fn decode_state(
    vault: &Vault,
    swap_id: &SwapId,
    seq: u64,
    sealed: &[u8],
) -> Result<SwapState, StoreError> {
    let json = vault.open(&state_context(swap_id, seq), sealed)?;
    let state: SwapState = serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt {
        // position only: serde_json's message could quote secret bytes
        what: format!(
            "swap {swap_id}: state {seq} does not deserialize (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    if state.swap_id() != *swap_id {
        return Err(StoreError::Corrupt {
            what: format!("swap {swap_id}: state {seq} belongs to another swap"),
        });
    }
    Ok(state)
}

fn seq_from_db(swap_id: &SwapId, seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt {
        what: format!("swap {swap_id}: negative sequence number {seq}"),
    })
}

fn seq_to_db(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::OutOfRange {
        what: "a history sequence number",
    })
}

const RECORD_COLUMNS: &str = "swap_id, role, peer, network, btc_sat, xmr_piconero, \
     receive_address, counterparty_wallet, state_name, phase, created_at, updated_at";

/// Opens sealed column `field` of swap `swap_id`'s row, if set.
fn open_field(
    vault: &Vault,
    row: &AnyRow,
    swap_id: &SwapId,
    field: &str,
) -> Result<Option<String>, StoreError> {
    let stored: Option<String> = row.try_get(field)?;
    stored
        .map(|stored| vault.open_text(&field_context(swap_id, field), &stored))
        .transpose()
}

fn record_from_row(vault: &Vault, row: &AnyRow) -> Result<SwapRecord, StoreError> {
    let id_text: String = row.try_get("swap_id")?;
    let swap_id =
        parse_swap_id(&id_text).ok_or_else(|| corrupt(&id_text, "the id is not 64 hex digits"))?;
    let role: String = row.try_get("role")?;
    let network: String = row.try_get("network")?;
    let phase: String = row.try_get("phase")?;
    let btc_sat: i64 = row.try_get("btc_sat")?;
    let xmr_piconero: i64 = row.try_get("xmr_piconero")?;
    Ok(SwapRecord {
        swap_id,
        role: parse_role(&role).ok_or_else(|| corrupt(&id_text, format!("role {role:?}")))?,
        peer: row.try_get("peer")?,
        network: parse_network(&network)
            .ok_or_else(|| corrupt(&id_text, format!("network {network:?}")))?,
        btc_amount: Amount::from_sat(
            u64::try_from(btc_sat)
                .map_err(|_| corrupt(&id_text, format!("btc amount {btc_sat}")))?,
        ),
        xmr_amount: XmrAmount::from_piconero(
            u64::try_from(xmr_piconero)
                .map_err(|_| corrupt(&id_text, format!("xmr amount {xmr_piconero}")))?,
        ),
        receive_address: open_field(vault, row, &swap_id, "receive_address")?,
        counterparty_wallet: open_field(vault, row, &swap_id, "counterparty_wallet")?,
        state_name: row.try_get("state_name")?,
        phase: parse_phase(&phase).ok_or_else(|| corrupt(&id_text, format!("phase {phase:?}")))?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl Store {
    /// Inserts a new swap with its first state (history seq 0), in one transaction.
    /// StoreError::SwapExists if the id is taken.
    ///
    /// Role, network and amounts are taken from `state` and fixed from then on. Durable when
    /// it returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`StoreError::SwapExists`]; [`StoreError::OutOfRange`] for an XMR amount above
    /// `i64::MAX` piconero; [`StoreError::Database`].
    pub async fn insert_swap(
        &self,
        vault: &Vault,
        new: &NewSwap<'_>,
        state: &SwapState,
    ) -> Result<SwapRecord, StoreError> {
        let swap_id = state.swap_id();
        let terms = *state.terms();
        let btc_sat =
            i64::try_from(terms.btc_amount.to_sat()).map_err(|_| StoreError::OutOfRange {
                what: "the BTC amount",
            })?;
        let xmr_piconero =
            i64::try_from(terms.xmr_amount.as_piconero()).map_err(|_| StoreError::OutOfRange {
                what: "the XMR amount",
            })?;
        let json = encode_state(state)?;
        let sealed = vault.seal(&state_context(&swap_id, 0), &json);
        let seal_field = |field: &str, value: Option<&str>| {
            value.map(|value| vault.seal_text(&field_context(&swap_id, field), value))
        };
        let receive_address = seal_field("receive_address", new.receive_address);
        let counterparty_wallet = seal_field("counterparty_wallet", new.counterparty_wallet);
        let id_text = swap_id.to_string();
        let now = now_secs();
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO swaps (swap_id, role, peer, network, btc_sat, xmr_piconero, \
             receive_address, counterparty_wallet, state_name, phase, state_seq, state, \
             created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13)",
        )
        .bind(&id_text)
        .bind(role_name(state.role()))
        .bind(new.peer)
        .bind(network_name(terms.network))
        .bind(btc_sat)
        .bind(xmr_piconero)
        .bind(receive_address)
        .bind(counterparty_wallet)
        .bind(state.state_name())
        .bind(phase_name(state.phase()))
        .bind(&sealed)
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if crate::is_unique_violation(&e) => {
                return Err(StoreError::SwapExists { swap_id })
            }
            Err(e) => return Err(e.into()),
        }
        sqlx::query(
            "INSERT INTO swap_states (swap_id, seq, state_name, phase, state, created_at) \
             VALUES ($1, 0, $2, $3, $4, $5)",
        )
        .bind(&id_text)
        .bind(state.state_name())
        .bind(phase_name(state.phase()))
        .bind(&sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SwapRecord {
            swap_id,
            role: state.role(),
            peer: new.peer.to_owned(),
            network: terms.network,
            btc_amount: terms.btc_amount,
            xmr_amount: terms.xmr_amount,
            receive_address: new.receive_address.map(str::to_owned),
            counterparty_wallet: new.counterparty_wallet.map(str::to_owned),
            state_name: state.state_name().to_owned(),
            phase: state.phase(),
            created_at: now,
            updated_at: now,
        })
    }

    /// Persists `state` as the swap's current state and appends it to its history, in one
    /// transaction; durable when it returns Ok. Returns the history seq. Refuses a phase that
    /// goes backwards (StoreError::PhaseRegression { swap_id, from, to }) — phases are monotonic,
    /// ordered as `Phase`'s derive(Ord) — and an unknown swap (StoreError::UnknownSwap).
    ///
    /// The same phase may be saved any number of times (states change within a phase).
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownSwap`]; [`StoreError::PhaseRegression`];
    /// [`StoreError::SwapMismatch`] if the state's role, network or amounts differ from the
    /// stored swap's; [`StoreError::Corrupt`] if the stored row does not decode;
    /// [`StoreError::Database`].
    pub async fn save_swap_state(
        &self,
        vault: &Vault,
        state: &SwapState,
    ) -> Result<u64, StoreError> {
        let swap_id = state.swap_id();
        let id_text = swap_id.to_string();
        let json = encode_state(state)?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM swaps WHERE swap_id = $1"
        )))
        .bind(&id_text)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::UnknownSwap { swap_id })?;
        let stored = record_from_row(vault, &row)?;
        let terms = state.terms();
        let mismatch = if stored.role != state.role() {
            Some("role")
        } else if stored.network != terms.network {
            Some("network")
        } else if stored.btc_amount != terms.btc_amount {
            Some("btc_amount")
        } else if stored.xmr_amount != terms.xmr_amount {
            Some("xmr_amount")
        } else {
            None
        };
        if let Some(field) = mismatch {
            return Err(StoreError::SwapMismatch { swap_id, field });
        }
        if state.phase() < stored.phase {
            return Err(StoreError::PhaseRegression {
                swap_id,
                from: stored.phase,
                to: state.phase(),
            });
        }
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(seq) FROM swap_states WHERE swap_id = $1")
                .bind(&id_text)
                .fetch_one(&mut *tx)
                .await?;
        let seq = match last {
            Some(last) => {
                seq_from_db(&swap_id, last)?
                    .checked_add(1)
                    .ok_or(StoreError::OutOfRange {
                        what: "a history sequence number",
                    })?
            }
            None => 0,
        };
        let seq_db = seq_to_db(seq)?;
        let sealed = vault.seal(&state_context(&swap_id, seq), &json);
        let now = now_secs();
        sqlx::query(
            "INSERT INTO swap_states (swap_id, seq, state_name, phase, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id_text)
        .bind(seq_db)
        .bind(state.state_name())
        .bind(phase_name(state.phase()))
        .bind(&sealed)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE swaps SET state_name = $1, phase = $2, state_seq = $3, state = $4, \
             updated_at = $5 WHERE swap_id = $6",
        )
        .bind(state.state_name())
        .bind(phase_name(state.phase()))
        .bind(seq_db)
        .bind(&sealed)
        .bind(now)
        .bind(&id_text)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// The summary of swap `swap_id`, if stored.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if the row does not decode; [`StoreError::Decrypt`] if its
    /// addresses do not open; [`StoreError::Database`].
    pub async fn swap(
        &self,
        vault: &Vault,
        swap_id: &SwapId,
    ) -> Result<Option<SwapRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM swaps WHERE swap_id = $1"
        )))
        .bind(swap_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|row| record_from_row(vault, row))
            .transpose()
    }

    /// The current machine, decrypted.
    ///
    /// # Errors
    ///
    /// [`StoreError::Decrypt`] if the stored blob does not open (another vault, or a blob
    /// altered or moved from another row); [`StoreError::Corrupt`] if it does not
    /// deserialize; [`StoreError::Database`].
    pub async fn swap_state(
        &self,
        vault: &Vault,
        swap_id: &SwapId,
    ) -> Result<Option<SwapState>, StoreError> {
        let row = sqlx::query("SELECT state_seq, state FROM swaps WHERE swap_id = $1")
            .bind(swap_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let seq = seq_from_db(swap_id, row.try_get("state_seq")?)?;
        let sealed: Vec<u8> = row.try_get("state")?;
        decode_state(vault, swap_id, seq, &sealed).map(Some)
    }

    /// All swaps, newest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if a row does not decode; [`StoreError::Decrypt`] if its
    /// addresses do not open; [`StoreError::Database`].
    pub async fn swaps(&self, vault: &Vault) -> Result<Vec<SwapRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM swaps ORDER BY created_at DESC, rowid DESC"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| record_from_row(vault, row)).collect()
    }

    /// Swaps whose phase is not terminal, oldest first.
    ///
    /// These are the swaps to resume after a start.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if a row does not decode; [`StoreError::Decrypt`] if its
    /// addresses do not open; [`StoreError::Database`].
    pub async fn unfinished_swaps(&self, vault: &Vault) -> Result<Vec<SwapRecord>, StoreError> {
        let open: Vec<&str> = PHASES
            .into_iter()
            .filter(|p| !p.is_terminal())
            .map(phase_name)
            .collect();
        let placeholders: Vec<String> = (1..=open.len()).map(|i| format!("${i}")).collect();
        let placeholders = placeholders.join(", ");
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM swaps WHERE phase IN ({placeholders}) \
             ORDER BY created_at ASC, rowid ASC"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for name in open {
            query = query.bind(name);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(|row| record_from_row(vault, row)).collect()
    }

    /// The state history, oldest first.
    ///
    /// Empty for an unknown swap.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if a row does not decode; [`StoreError::Database`].
    pub async fn swap_history(&self, swap_id: &SwapId) -> Result<Vec<StateEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT seq, state_name, phase, created_at FROM swap_states WHERE swap_id = $1 \
             ORDER BY seq",
        )
        .bind(swap_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let phase: String = row.try_get("phase")?;
                Ok(StateEntry {
                    seq: seq_from_db(swap_id, row.try_get("seq")?)?,
                    state_name: row.try_get("state_name")?,
                    phase: parse_phase(&phase).ok_or_else(|| {
                        corrupt(&swap_id.to_string(), format!("history phase {phase:?}"))
                    })?,
                    at: row.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Decrypts the history entry `seq` (for debugging and tests).
    ///
    /// # Errors
    ///
    /// As [`Store::swap_state`].
    pub async fn swap_state_at(
        &self,
        vault: &Vault,
        swap_id: &SwapId,
        seq: u64,
    ) -> Result<Option<SwapState>, StoreError> {
        let Ok(seq_db) = i64::try_from(seq) else {
            return Ok(None);
        };
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT state FROM swap_states WHERE swap_id = $1 AND seq = $2")
                .bind(swap_id.to_string())
                .bind(seq_db)
                .fetch_optional(&self.pool)
                .await?;
        sealed
            .map(|sealed| decode_state(vault, swap_id, seq, &sealed))
            .transpose()
    }

    /// Engine-side data of a swap (e.g. a prepared XMR transfer), encrypted, upserted.
    ///
    /// Durable when it returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`StoreError::UnknownSwap`]; [`StoreError::Database`].
    pub async fn put_swap_data(
        &self,
        vault: &Vault,
        swap_id: &SwapId,
        key: &str,
        value: &[u8],
    ) -> Result<(), StoreError> {
        let id_text = swap_id.to_string();
        let sealed = vault.seal(&data_context(swap_id, key), value);
        let mut tx = self.begin_write().await?;
        let known = sqlx::query("SELECT 1 FROM swaps WHERE swap_id = $1")
            .bind(&id_text)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::UnknownSwap { swap_id: *swap_id });
        }
        sqlx::query(
            "INSERT INTO swap_data (swap_id, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (swap_id, key) DO UPDATE SET value = excluded.value, \
             updated_at = excluded.updated_at",
        )
        .bind(&id_text)
        .bind(key)
        .bind(sealed)
        .bind(now_secs())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The engine data stored under `key` for swap `swap_id`, decrypted, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::Decrypt`] if the value does not open (another vault, or a value altered
    /// or moved from another swap or key); [`StoreError::Database`].
    pub async fn swap_data(
        &self,
        vault: &Vault,
        swap_id: &SwapId,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM swap_data WHERE swap_id = $1 AND key = $2")
                .bind(swap_id.to_string())
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        match sealed {
            Some(sealed) => {
                let value = vault.open(&data_context(swap_id, key), &sealed)?;
                Ok(Some(value.to_vec()))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_round_trip_and_match_serde() {
        for phase in PHASES {
            assert_eq!(parse_phase(phase_name(phase)), Some(phase));
            assert_eq!(
                serde_json::to_value(phase).unwrap(),
                serde_json::Value::from(phase_name(phase))
            );
        }
        assert!(PHASES.windows(2).all(|w| w[0] < w[1]));
        for role in [Role::Alice, Role::Bob] {
            assert_eq!(parse_role(role_name(role)), Some(role));
            assert_eq!(
                serde_json::to_value(role).unwrap(),
                serde_json::Value::from(role_name(role))
            );
        }
        for network in Network::ALL {
            assert_eq!(parse_network(network_name(network)), Some(network));
            assert_eq!(
                serde_json::to_value(network).unwrap(),
                serde_json::Value::from(network_name(network))
            );
        }
        assert_eq!(parse_phase("Done"), None);
    }

    #[test]
    fn swap_ids_parse_from_their_display_form_only() {
        let id = SwapId([0xa5; 32]);
        assert_eq!(parse_swap_id(&id.to_string()), Some(id));
        assert_eq!(parse_swap_id("a5"), None);
        assert_eq!(parse_swap_id(&"zz".repeat(32)), None);
    }

    #[test]
    fn contexts_differ_by_swap_seq_and_key() {
        let (a, b) = (SwapId([1; 32]), SwapId([2; 32]));
        assert_ne!(state_context(&a, 0), state_context(&b, 0));
        assert_ne!(state_context(&a, 0), state_context(&a, 1));
        assert_ne!(data_context(&a, "k"), data_context(&b, "k"));
        assert_ne!(data_context(&a, "k"), data_context(&a, "k2"));
    }
}
