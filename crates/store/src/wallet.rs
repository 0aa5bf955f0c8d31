//! The Bitcoin wallet's persister: BDK's [`AsyncWalletPersister`] over the store's
//! `wallet_changesets` rows, so the wallet crate persists through BDK's own interface and
//! knows nothing of this store.

use std::future::Future;
use std::pin::Pin;

use bdk_wallet::{AsyncWalletPersister, ChangeSet};

use crate::{Store, StoreError, Vault};

/// Wallet `wallet_id` of a [`Store`], its rows sealed by a [`Vault`], as a BDK persister:
/// [`AsyncWalletPersister::initialize`]
/// loads the merge of its rows ([`Store::load_wallet_changeset`]; empty for a new wallet),
/// [`AsyncWalletPersister::persist`] appends a row ([`Store::append_wallet_changeset`];
/// an empty changeset writes nothing). Clones share the store.
#[derive(Debug, Clone)]
pub struct WalletPersister {
    store: Store,
    vault: Vault,
    wallet_id: String,
}

impl WalletPersister {
    /// The persister of wallet `wallet_id` in `store`, sealing and opening its rows with
    /// `vault` (the store's own, unlocked).
    pub fn new(store: Store, vault: Vault, wallet_id: impl Into<String>) -> WalletPersister {
        WalletPersister {
            store,
            vault,
            wallet_id: wallet_id.into(),
        }
    }

    /// The wallet's id in the store.
    pub fn wallet_id(&self) -> &str {
        &self.wallet_id
    }
}

type Persisting<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

impl AsyncWalletPersister for WalletPersister {
    type Error = StoreError;

    fn initialize<'a>(persister: &'a mut Self) -> Persisting<'a, ChangeSet>
    where
        Self: 'a,
    {
        Box::pin(async move {
            Ok(persister
                .store
                .load_wallet_changeset(&persister.vault, &persister.wallet_id)
                .await?
                .unwrap_or_default())
        })
    }

    fn persist<'a>(persister: &'a mut Self, changeset: &'a ChangeSet) -> Persisting<'a, ()>
    where
        Self: 'a,
    {
        Box::pin(async move {
            persister
                .store
                .append_wallet_changeset(&persister.vault, &persister.wallet_id, changeset)
                .await
        })
    }
}
