//! The app's own settings file (`settings.json` in the app's directory): the network chosen
//! on the first run, the nodes to use, and whether to start the local devnet. Written
//! atomically (a temporary file renamed over the old one), readable by its owner only: it
//! may hold the Bitcoin node's RPC password.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use crate::ipc::{BitcoinSourceKind, NetworkName, Settings};

/// The settings file's name in the app's directory.
const FILE_NAME: &str = "settings.json";

/// Why the settings could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// Reading or writing the file failed (a full disk, permissions).
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid settings (edited by hand?).
    #[error("{path} is not valid settings: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// On mainnet, a swap paying more than 0.01 BTC needs a second confirmation (until the user
/// sets another limit).
const MAINNET_CONFIRM_ABOVE_SAT: &str = "1000000";
/// On mainnet, a swap selling more than 1 XMR needs a second confirmation.
const MAINNET_CONFIRM_ABOVE_PICONERO: &str = "1000000000000";

/// The defaults for a network: on regtest the local devnet (started by the app), elsewhere
/// the usual local node ports.
pub(crate) fn defaults(network: NetworkName) -> Settings {
    let (confirm_above_sat, confirm_above_piconero) = match network {
        NetworkName::Mainnet => (MAINNET_CONFIRM_ABOVE_SAT, MAINNET_CONFIRM_ABOVE_PICONERO),
        NetworkName::Testnet4 | NetworkName::Signet | NetworkName::Regtest => ("", ""),
    };
    let (bitcoin_url, monerod_url) = match network {
        NetworkName::Mainnet => ("http://127.0.0.1:8332", "http://127.0.0.1:18081"),
        NetworkName::Testnet4 => ("http://127.0.0.1:48332", "http://127.0.0.1:38081"),
        NetworkName::Signet => ("http://127.0.0.1:38332", "http://127.0.0.1:38081"),
        NetworkName::Regtest => ("", ""),
    };
    Settings {
        network,
        bitcoin_source: BitcoinSourceKind::Bitcoind,
        bitcoin_url: bitcoin_url.into(),
        bitcoin_ca_file: String::new(),
        bitcoin_rpc_user: String::new(),
        bitcoin_rpc_password: String::new(),
        monerod_url: monerod_url.into(),
        wallet_rpc_path: String::new(),
        rendezvous: Vec::new(),
        start_devnet: network == NetworkName::Regtest,
        confirm_above_sat: confirm_above_sat.into(),
        confirm_above_piconero: confirm_above_piconero.into(),
    }
}

/// The settings in `dir`, or `None` before the first run.
///
/// # Errors
/// [`SettingsError`] when the file exists but cannot be read or parsed.
pub(crate) fn load(dir: &Path) -> Result<Option<Settings>, SettingsError> {
    let path = dir.join(FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<serde_json::Value>(&bytes)
            .map(upgrade)
            .and_then(serde_json::from_value)
            .map(Some)
            .map_err(|e| SettingsError::Invalid {
                path,
                reason: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SettingsError::Io {
            what: "reading",
            path,
            source,
        }),
    }
}

/// A settings file of an earlier version, in today's shape: `bitcoin_rpc_url` (from before
/// the choice of Bitcoin source) is `bitcoin_url`. Fields added since take their defaults.
fn upgrade(mut file: serde_json::Value) -> serde_json::Value {
    if let Some(fields) = file.as_object_mut() {
        if !fields.contains_key("bitcoin_url") {
            if let Some(url) = fields.remove("bitcoin_rpc_url") {
                fields.insert("bitcoin_url".into(), url);
            }
        }
    }
    file
}

/// Writes `settings` to `dir` atomically (mode 0600).
///
/// # Errors
/// [`SettingsError::Io`].
pub(crate) fn save(dir: &Path, settings: &Settings) -> Result<(), SettingsError> {
    let path = dir.join(FILE_NAME);
    let temporary = dir.join(format!("{FILE_NAME}.tmp"));
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| SettingsError::Io { what, path, source }
    };
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let bytes = serde_json::to_vec_pretty(settings).expect("settings serialize");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(io("creating", &temporary))?;
    file.write_all(&bytes).map_err(io("writing", &temporary))?;
    file.sync_all().map_err(io("writing", &temporary))?;
    std::fs::rename(&temporary, &path).map_err(io("replacing", &path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_settings_load_back_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let mut settings = defaults(NetworkName::Signet);
        settings.bitcoin_rpc_password = "hunter2".into();
        save(dir.path(), &settings).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(settings));
        let mode = std::fs::metadata(dir.path().join(FILE_NAME)).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(mode.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_file_from_before_the_source_choice_loads_as_bitcoind_with_its_url() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE_NAME),
            br#"{"network": "signet", "bitcoin_rpc_url": "http://127.0.0.1:38332",
                "bitcoin_rpc_user": "u", "bitcoin_rpc_password": "p",
                "monerod_url": "http://127.0.0.1:38081", "rendezvous": [],
                "start_devnet": false}"#,
        )
        .unwrap();
        let settings = load(dir.path()).unwrap().expect("settings");
        assert_eq!(settings.bitcoin_source, BitcoinSourceKind::Bitcoind);
        assert_eq!(settings.bitcoin_url, "http://127.0.0.1:38332");
        assert_eq!(settings.bitcoin_rpc_password, "p");
        assert_eq!(settings.bitcoin_ca_file, "");
        assert_eq!(settings.wallet_rpc_path, "");
    }

    #[test]
    fn a_damaged_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"{\"network\": ").unwrap();
        let error = load(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("settings.json is not valid settings"),
            "{error}"
        );
    }
}
