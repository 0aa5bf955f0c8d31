//! Known peers: a libp2p PeerId, the addresses it was last reachable at and when it was seen.
//!
//! Plaintext (a peer's id and addresses are public). Addresses are stored as a JSON array of
//! strings (multiaddresses); the store does not parse them.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{now_secs, Store, StoreError};

/// A known peer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerRecord {
    /// The libp2p PeerId, as a string.
    pub peer_id: String,
    /// Its addresses (multiaddresses), as last given to [`Store::upsert_peer`].
    pub addresses: Vec<String>,
    /// When it was last upserted (Unix seconds).
    pub last_seen: i64,
}

fn peer_from_row(row: &AnyRow) -> Result<PeerRecord, StoreError> {
    let peer_id: String = row.try_get("peer_id")?;
    let addresses: String = row.try_get("addresses")?;
    let addresses = serde_json::from_str(&addresses).map_err(|e| StoreError::Corrupt {
        what: format!("peer {peer_id}: addresses are not a JSON list of strings: {e}"),
    })?;
    Ok(PeerRecord {
        peer_id,
        addresses,
        last_seen: row.try_get("last_seen")?,
    })
}

impl Store {
    /// Records that `peer_id` was seen now at `addresses`: inserts the peer, or replaces its
    /// addresses and `last_seen`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`].
    pub async fn upsert_peer(&self, peer_id: &str, addresses: &[String]) -> Result<(), StoreError> {
        let addresses =
            serde_json::to_string(addresses).expect("a list of strings always serializes");
        sqlx::query(
            "INSERT INTO peers (peer_id, addresses, last_seen) VALUES ($1, $2, $3) \
             ON CONFLICT (peer_id) DO UPDATE SET addresses = excluded.addresses, \
             last_seen = excluded.last_seen",
        )
        .bind(peer_id)
        .bind(addresses)
        .bind(now_secs())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The peer `peer_id`, if known.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if its addresses do not decode; [`StoreError::Database`].
    pub async fn peer(&self, peer_id: &str) -> Result<Option<PeerRecord>, StoreError> {
        let row = sqlx::query("SELECT peer_id, addresses, last_seen FROM peers WHERE peer_id = $1")
            .bind(peer_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(peer_from_row).transpose()
    }

    /// All known peers, most recently seen first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] if a row does not decode; [`StoreError::Database`].
    pub async fn peers(&self) -> Result<Vec<PeerRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT peer_id, addresses, last_seen FROM peers ORDER BY last_seen DESC, peer_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(peer_from_row).collect()
    }
}
