//! The vault: the key that seals every secret the store keeps.
//!
//! At creation the store draws a random 32-byte **data key**. It is kept only *wrapped*:
//! encrypted under a key-encryption key derived from the user's password with **argon2id**
//! (a random 16-byte salt; the cost parameters, [`KdfParams`], are stored with it so later
//! builds can raise the defaults without locking anyone out). The wallet secret given at
//! creation (the app's BIP39 mnemonic) is sealed with the data key and stored beside it.
//! [`Store::unlock_vault`] re-derives the wrapping key and unwraps the data key; changing the
//! password re-wraps the same data key, so nothing else is re-encrypted.
//!
//! Sealing is **XChaCha20-Poly1305** with a fresh random 24-byte nonce per call. A sealed
//! value is `version (1 byte, 1) || nonce (24 bytes) || ciphertext || tag (16 bytes)`. The
//! `context` given to [`Vault::seal`] is the AEAD's associated data: a value only opens with
//! the context it was sealed with, so callers bind each blob to its place (table, swap id,
//! sequence number) and a blob copied to another row fails with [`StoreError::Decrypt`].
//!
//! Values kept in text columns (wallet changesets, a swap's addresses, audit details) are
//! stored sealed as `sealed:` followed by the sealed bytes in hex. Rows written in clear by a
//! version before these were sealed are sealed in place by the first [`Store::unlock_vault`]
//! that finds them (once: the vault row records it), except the audit log's, which is
//! append-only: its older entries stay in clear, and [`Vault::clear_audit_before`] says which.
//!
//! The unlocked [`Vault`] holds the data key and the wallet secret in zeroizing buffers; its
//! `Debug` output shows neither.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use sqlx::Row;
use zeroize::Zeroizing;

use crate::swaps::{corrupt, field_context, parse_swap_id, SEALED_FIELDS};
use crate::{now_secs, Store, StoreError};

/// The version byte that starts every sealed value.
const SEAL_VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const SALT_LEN: usize = 16;
/// The associated-data prefix of the wrapped data key (followed by the KDF parameters and
/// the salt, so none of them can be swapped without the unwrap failing).
const WRAP_CONTEXT: &[u8] = b"confiaro/vault/data-key/v1";
/// The associated data of the sealed wallet secret.
const WALLET_SECRET_CONTEXT: &[u8] = b"confiaro/vault/wallet-secret/v1";
/// What starts a sealed value kept in a text column (the sealed bytes follow, in hex).
const SEALED_TEXT_PREFIX: &str = "sealed:";

/// argon2id cost parameters; stored with the vault so later builds can change defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub memory_kib: u32,
    /// Number of passes.
    pub iterations: u32,
    /// Degree of parallelism (lanes).
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane (about 50 ms here).
    fn default() -> KdfParams {
        KdfParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// The most memory a vault may ask for (4 GiB): a larger stored value would only make
    /// unlocking abort on allocation.
    pub const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;

    /// The argon2id instance with these costs and a 32-byte output.
    fn argon2(&self) -> Result<Argon2<'static>, StoreError> {
        if self.memory_kib > Self::MAX_MEMORY_KIB {
            return Err(StoreError::Kdf {
                reason: format!(
                    "argon2id memory cost {} KiB is above the limit of {} KiB",
                    self.memory_kib,
                    Self::MAX_MEMORY_KIB
                ),
            });
        }
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(32))
            .map_err(|e| StoreError::Kdf {
                reason: format!("invalid argon2id parameters {self:?}: {e}"),
            })?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// The associated data of a data key wrapped with these parameters and `salt`.
    fn wrap_context(&self, salt: &[u8]) -> Vec<u8> {
        let mut context = WRAP_CONTEXT.to_vec();
        context.extend_from_slice(&self.memory_kib.to_be_bytes());
        context.extend_from_slice(&self.iterations.to_be_bytes());
        context.extend_from_slice(&self.parallelism.to_be_bytes());
        context.extend_from_slice(salt);
        context
    }
}

/// What an unlocked vault holds; both buffers are wiped when the last clone is dropped.
struct VaultKeys {
    data_key: Zeroizing<[u8; 32]>,
    wallet_secret: Zeroizing<Vec<u8>>,
}

/// The unlocked vault: holds the random 32-byte data key (zeroized on drop, Debug redacted).
/// Cheap to clone (Arc inside).
#[derive(Clone)]
pub struct Vault {
    keys: Arc<VaultKeys>,
    /// Audit entries with a smaller id were written in clear by an older version.
    clear_audit_before: i64,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(<redacted>)")
    }
}

impl Vault {
    /// The wallet secret stored at creation (the app stores its BIP39 mnemonic phrase here).
    pub fn wallet_secret(&self) -> &[u8] {
        &self.keys.wallet_secret
    }

    /// Encrypts `plaintext` bound to `context` (AAD) with a fresh random 24-byte nonce.
    ///
    /// # Panics
    ///
    /// If the operating system's random number generator fails (there is no safe way to
    /// encrypt without a fresh nonce).
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        seal_with(&self.keys.data_key, context, plaintext)
    }

    /// The first audit id whose detail is sealed: entries before it were appended in clear
    /// by a version that did not seal them (1 for a vault created sealing everything).
    pub fn clear_audit_before(&self) -> i64 {
        self.clear_audit_before
    }

    /// [`Vault::seal`] for a text column: `sealed:` and the sealed bytes in hex.
    pub(crate) fn seal_text(&self, context: &[u8], plaintext: &str) -> String {
        let sealed = self.seal(context, plaintext.as_bytes());
        format!("{SEALED_TEXT_PREFIX}{}", hex::encode(sealed))
    }

    /// Opens what [`Vault::seal_text`] produced with the same context.
    ///
    /// # Errors
    ///
    /// [`StoreError::Decrypt`] if `stored` is not a sealed text value (text in clear
    /// included), was sealed with another key or context, or was altered.
    pub(crate) fn open_text(&self, context: &[u8], stored: &str) -> Result<String, StoreError> {
        let hex_text = stored
            .strip_prefix(SEALED_TEXT_PREFIX)
            .ok_or(StoreError::Decrypt)?;
        let sealed = hex::decode(hex_text).map_err(|_| StoreError::Decrypt)?;
        let plaintext = self.open(context, &sealed)?;
        String::from_utf8(plaintext.to_vec()).map_err(|_| StoreError::Decrypt)
    }

    /// Decrypts what `seal` produced with the same context. Error: StoreError::Decrypt (no details).
    ///
    /// # Errors
    ///
    /// [`StoreError::Decrypt`] if `sealed` was not sealed by this vault with this `context`,
    /// or was altered.
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        open_with(&self.keys.data_key, context, sealed)
    }
}

/// Seals `plaintext` under `key` with associated data `context` (see the module docs for the
/// format). The buffer is allocated once, at its final size, so no copy of the plaintext is
/// left behind in a freed reallocation.
fn seal_with(key: &[u8; 32], context: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng
        .try_fill_bytes(&mut nonce)
        .expect("the operating system's random number generator works");
    let mut sealed = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
    sealed.push(SEAL_VERSION);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(plaintext);
    let cipher = XChaCha20Poly1305::new(key.into());
    let tag = cipher
        .encrypt_in_place_detached(
            XNonce::from_slice(&nonce),
            context,
            &mut sealed[1 + NONCE_LEN..],
        )
        .expect("XChaCha20-Poly1305 encrypts messages up to 256 GiB");
    sealed.extend_from_slice(&tag);
    sealed
}

/// Opens a value sealed by [`seal_with`] under `key` with the same `context`.
fn open_with(
    key: &[u8; 32],
    context: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEAL_VERSION {
        return Err(StoreError::Decrypt);
    }
    let (nonce, rest) = sealed[1..].split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut plaintext = Zeroizing::new(ciphertext.to_vec());
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            context,
            &mut plaintext,
            Tag::from_slice(tag),
        )
        .map_err(|_| StoreError::Decrypt)?;
    Ok(plaintext)
}

/// Fills a fresh array with bytes from the operating system's RNG.
fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, StoreError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    OsRng
        .try_fill_bytes(bytes.as_mut())
        .map_err(|e| StoreError::Kdf {
            reason: format!("the operating system's random number generator failed: {e}"),
        })?;
    Ok(bytes)
}

/// Derives the 32-byte key-encryption key from `password` (argon2id), on a blocking thread:
/// at the default costs it takes tens of milliseconds of CPU.
async fn derive_wrapping_key(
    password: &str,
    salt: &[u8],
    kdf: KdfParams,
) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let argon2 = kdf.argon2()?;
    let password = Zeroizing::new(password.as_bytes().to_vec());
    let salt = salt.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut key = Zeroizing::new([0u8; 32]);
        argon2
            .hash_password_into(&password, &salt, key.as_mut())
            .map_err(|e| StoreError::Kdf {
                reason: format!("argon2id failed: {e}"),
            })?;
        Ok(key)
    })
    .await
    .map_err(|e| StoreError::Kdf {
        reason: format!("the key-derivation task did not finish: {e}"),
    })?
}

/// Reads a `u32` KDF parameter from the vault row.
fn kdf_param(row: &sqlx::any::AnyRow, column: &str) -> Result<u32, StoreError> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value).map_err(|_| StoreError::Corrupt {
        what: format!("vault: {column} is {value}"),
    })
}

impl Store {
    /// Whether a vault has been created in this database.
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] if the query fails.
    pub async fn has_vault(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM vault WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Creates the vault: random data key, wrapped with a key derived from `password`
    /// (argon2id with a random 16-byte salt), and `wallet_secret` sealed with the data key.
    /// Error StoreError::VaultExists if there is one. Empty password: StoreError::WeakPassword.
    ///
    /// Returns the unlocked vault. The vault is durable when this returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`StoreError::WeakPassword`] for an empty password; [`StoreError::Kdf`] for invalid
    /// `kdf` parameters; [`StoreError::VaultExists`] if the database has a vault;
    /// [`StoreError::Database`] if a query fails.
    pub async fn create_vault(
        &self,
        password: &str,
        wallet_secret: &[u8],
        kdf: KdfParams,
    ) -> Result<Vault, StoreError> {
        if password.is_empty() {
            return Err(StoreError::WeakPassword);
        }
        kdf.argon2()?;
        if self.has_vault().await? {
            return Err(StoreError::VaultExists);
        }
        let data_key = random_bytes::<32>()?;
        let salt = random_bytes::<SALT_LEN>()?;
        let wrapping_key = derive_wrapping_key(password, salt.as_ref(), kdf).await?;
        let wrapped = seal_with(&wrapping_key, &kdf.wrap_context(salt.as_ref()), &*data_key);
        let sealed_secret = seal_with(&data_key, WALLET_SECRET_CONTEXT, wallet_secret);
        // an audit entry appended before the vault existed could not be sealed
        let clear_audit_before = self.next_audit_id(&mut *self.pool.acquire().await?).await?;
        let now = now_secs();
        let inserted = sqlx::query(
            "INSERT INTO vault (id, kdf_memory_kib, kdf_iterations, kdf_parallelism, salt, \
             wrapped_key, wallet_secret, created_at, updated_at, sealed_since_audit_id) \
             VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(i64::from(kdf.memory_kib))
        .bind(i64::from(kdf.iterations))
        .bind(i64::from(kdf.parallelism))
        .bind(salt.as_slice())
        .bind(wrapped)
        .bind(sealed_secret)
        .bind(now)
        .bind(now)
        .bind(clear_audit_before)
        .execute(&self.pool)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if crate::is_unique_violation(&e) => return Err(StoreError::VaultExists),
            Err(e) => return Err(e.into()),
        }
        Ok(Vault {
            keys: Arc::new(VaultKeys {
                data_key,
                wallet_secret: Zeroizing::new(wallet_secret.to_vec()),
            }),
            clear_audit_before,
        })
    }

    /// Unlocks it. Wrong password: StoreError::WrongPassword (message: "wrong password").
    /// No vault: StoreError::NoVault.
    ///
    /// Runs argon2id with the parameters stored at creation (or at the last password change).
    ///
    /// # Errors
    ///
    /// [`StoreError::NoVault`]; [`StoreError::WrongPassword`] (also for a wrapped key that
    /// was altered: the two cannot be told apart); [`StoreError::Corrupt`] if the vault row
    /// is malformed or the wallet secret does not open with the unwrapped key;
    /// [`StoreError::Kdf`] if the stored parameters are invalid; [`StoreError::Database`].
    pub async fn unlock_vault(&self, password: &str) -> Result<Vault, StoreError> {
        let row = sqlx::query(
            "SELECT kdf_memory_kib, kdf_iterations, kdf_parallelism, salt, wrapped_key, \
             wallet_secret, sealed_since_audit_id FROM vault WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NoVault)?;
        let kdf = KdfParams {
            memory_kib: kdf_param(&row, "kdf_memory_kib")?,
            iterations: kdf_param(&row, "kdf_iterations")?,
            parallelism: kdf_param(&row, "kdf_parallelism")?,
        };
        let salt: Vec<u8> = row.try_get("salt")?;
        let wrapped: Vec<u8> = row.try_get("wrapped_key")?;
        let sealed_secret: Vec<u8> = row.try_get("wallet_secret")?;
        let sealed_since: Option<i64> = row.try_get("sealed_since_audit_id")?;
        if password.is_empty() {
            return Err(StoreError::WrongPassword);
        }
        let wrapping_key = derive_wrapping_key(password, &salt, kdf).await?;
        let unwrapped = open_with(&wrapping_key, &kdf.wrap_context(&salt), &wrapped)
            .map_err(|_| StoreError::WrongPassword)?;
        if unwrapped.len() != 32 {
            return Err(StoreError::Corrupt {
                what: "vault: the data key is not 32 bytes".into(),
            });
        }
        let mut data_key = Zeroizing::new([0u8; 32]);
        data_key.copy_from_slice(&unwrapped);
        let wallet_secret =
            open_with(&data_key, WALLET_SECRET_CONTEXT, &sealed_secret).map_err(|_| {
                StoreError::Corrupt {
                    what: "vault: the wallet secret does not open with the vault's key".into(),
                }
            })?;
        let mut vault = Vault {
            keys: Arc::new(VaultKeys {
                data_key,
                wallet_secret,
            }),
            clear_audit_before: sealed_since.unwrap_or(1),
        };
        if sealed_since.is_none() {
            vault.clear_audit_before = self.seal_rows_in_clear(&vault).await?;
        }
        Ok(vault)
    }

    /// Seals in place what a version before the sealing of metadata wrote in clear: wallet
    /// changesets and swap addresses. Audit entries stay as they are (append-only); returns
    /// the first audit id that will be sealed, and records it in the vault row, in the same
    /// transaction, so this runs once per database.
    async fn seal_rows_in_clear(&self, vault: &Vault) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        // another process may have done it since the vault row was read
        let done: Option<i64> =
            sqlx::query_scalar("SELECT sealed_since_audit_id FROM vault WHERE id = 1")
                .fetch_one(&mut *tx)
                .await?;
        if let Some(since) = done {
            tx.rollback().await?;
            return Ok(since);
        }
        let changesets = sqlx::query("SELECT id, wallet, changeset FROM wallet_changesets")
            .fetch_all(&mut *tx)
            .await?;
        for row in changesets {
            let id: i64 = row.try_get("id")?;
            let wallet: String = row.try_get("wallet")?;
            let text = Zeroizing::new(row.try_get::<String, _>("changeset")?);
            if text.starts_with(SEALED_TEXT_PREFIX) {
                continue;
            }
            sqlx::query("UPDATE wallet_changesets SET changeset = $1 WHERE id = $2")
                .bind(vault.seal_text(&crate::changeset_context(&wallet), &text))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for field in SEALED_FIELDS {
            let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT swap_id, {field} FROM swaps WHERE {field} IS NOT NULL"
            )))
            .fetch_all(&mut *tx)
            .await?;
            for row in rows {
                let id_text: String = row.try_get("swap_id")?;
                let value: String = row.try_get(field)?;
                if value.starts_with(SEALED_TEXT_PREFIX) {
                    continue;
                }
                let swap_id = parse_swap_id(&id_text)
                    .ok_or_else(|| corrupt(&id_text, "the id is not 64 hex digits"))?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE swaps SET {field} = $1 WHERE swap_id = $2"
                )))
                .bind(vault.seal_text(&field_context(&swap_id, field), &value))
                .bind(&id_text)
                .execute(&mut *tx)
                .await?;
            }
        }
        let since = self.next_audit_id(&mut tx).await?;
        sqlx::query("UPDATE vault SET sealed_since_audit_id = $1 WHERE id = 1")
            .bind(since)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.forget_old_pages().await?;
        Ok(since)
    }

    /// Re-wraps the data key under a new password (data stays as it is).
    ///
    /// Draws a new salt and stores `kdf` as the new cost parameters. The old password stops
    /// working when this returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`StoreError::WeakPassword`] for an empty password; [`StoreError::Kdf`] for invalid
    /// `kdf` parameters; [`StoreError::NoVault`]; [`StoreError::WrongVault`] if `vault` was
    /// not unlocked from this database; [`StoreError::Database`].
    pub async fn change_password(
        &self,
        vault: &Vault,
        new_password: &str,
        kdf: KdfParams,
    ) -> Result<(), StoreError> {
        if new_password.is_empty() {
            return Err(StoreError::WeakPassword);
        }
        kdf.argon2()?;
        let sealed_secret: Vec<u8> =
            sqlx::query_scalar("SELECT wallet_secret FROM vault WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NoVault)?;
        // only this database's data key opens its wallet secret
        vault
            .open(WALLET_SECRET_CONTEXT, &sealed_secret)
            .map_err(|_| StoreError::WrongVault)?;
        let salt = random_bytes::<SALT_LEN>()?;
        let wrapping_key = derive_wrapping_key(new_password, salt.as_ref(), kdf).await?;
        let wrapped = seal_with(
            &wrapping_key,
            &kdf.wrap_context(salt.as_ref()),
            &*vault.keys.data_key,
        );
        sqlx::query(
            "UPDATE vault SET kdf_memory_kib = $1, kdf_iterations = $2, kdf_parallelism = $3, \
             salt = $4, wrapped_key = $5, updated_at = $6 WHERE id = 1",
        )
        .bind(i64::from(kdf.memory_kib))
        .bind(i64::from(kdf.iterations))
        .bind(i64::from(kdf.parallelism))
        .bind(salt.as_slice())
        .bind(wrapped)
        .bind(now_secs())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(key: u8) -> Vault {
        Vault {
            keys: Arc::new(VaultKeys {
                data_key: Zeroizing::new([key; 32]),
                wallet_secret: Zeroizing::new(b"abandon abandon".to_vec()),
            }),
            clear_audit_before: 1,
        }
    }

    #[test]
    fn sealed_text_opens_only_sealed_with_its_context() {
        let v = vault(7);
        let stored = v.seal_text(b"ctx", "bcrt1qexample");
        assert!(stored.starts_with(SEALED_TEXT_PREFIX), "{stored}");
        assert!(!stored.contains("bcrt1qexample"));
        assert_eq!(v.open_text(b"ctx", &stored).unwrap(), "bcrt1qexample");
        assert!(matches!(
            v.open_text(b"other", &stored),
            Err(StoreError::Decrypt)
        ));
        // text in clear, or not hex after the prefix, is not a sealed value
        assert!(matches!(
            v.open_text(b"ctx", "bcrt1qexample"),
            Err(StoreError::Decrypt)
        ));
        assert!(matches!(
            v.open_text(b"ctx", "sealed:zz"),
            Err(StoreError::Decrypt)
        ));
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let v = vault(7);
        let sealed = v.seal(b"ctx", b"hello");
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 5 + TAG_LEN);
        assert_eq!(v.open(b"ctx", &sealed).unwrap().as_slice(), b"hello");
        assert!(matches!(
            v.open(b"other", &sealed),
            Err(StoreError::Decrypt)
        ));
        assert!(matches!(
            vault(8).open(b"ctx", &sealed),
            Err(StoreError::Decrypt)
        ));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(matches!(v.open(b"ctx", &bad), Err(StoreError::Decrypt)));
        }
        for len in 0..sealed.len() {
            assert!(matches!(
                v.open(b"ctx", &sealed[..len]),
                Err(StoreError::Decrypt)
            ));
        }
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let v = vault(7);
        assert_ne!(v.seal(b"c", b"same"), v.seal(b"c", b"same"));
    }

    #[test]
    fn debug_output_shows_no_key_and_no_wallet_secret() {
        let text = format!("{:?}", vault(0xab));
        assert_eq!(text, "Vault(<redacted>)");
    }

    #[test]
    fn default_kdf_params_are_owasps_and_valid() {
        let kdf = KdfParams::default();
        assert_eq!(
            (kdf.memory_kib, kdf.iterations, kdf.parallelism),
            (19456, 2, 1)
        );
        assert!(kdf.argon2().is_ok());
        let bad = KdfParams {
            memory_kib: 1,
            ..kdf
        };
        assert!(matches!(bad.argon2(), Err(StoreError::Kdf { .. })));
        let huge = KdfParams {
            memory_kib: u32::MAX,
            ..kdf
        };
        assert!(matches!(huge.argon2(), Err(StoreError::Kdf { .. })));
    }
}
