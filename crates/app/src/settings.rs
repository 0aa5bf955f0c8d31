//! The app's own settings file (`settings.json` in the app's directory): the network chosen
//! on the first run, the nodes to use, and whether to start the local devnet. Written
//! atomically (a temporary file renamed over the old one), readable by its owner only: it
//! may hold the Bitcoin node's RPC password.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use crate::ipc::{NetworkName, Settings};

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

/// The defaults for a network: on regtest the local devnet (started by the app), elsewhere
/// the usual local node ports.
pub(crate) fn defaults(network: NetworkName) -> Settings {
    let (bitcoin_rpc_url, monerod_url) = match network {
        NetworkName::Mainnet => ("http://127.0.0.1:8332", "http://127.0.0.1:18081"),
        NetworkName::Testnet4 => ("http://127.0.0.1:48332", "http://127.0.0.1:38081"),
        NetworkName::Signet => ("http://127.0.0.1:38332", "http://127.0.0.1:38081"),
        NetworkName::Regtest => ("", ""),
    };
    Settings {
        network,
        bitcoin_rpc_url: bitcoin_rpc_url.into(),
        bitcoin_rpc_user: String::new(),
        bitcoin_rpc_password: String::new(),
        monerod_url: monerod_url.into(),
        rendezvous: Vec::new(),
        start_devnet: network == NetworkName::Regtest,
    }
}

/// The settings in `dir`, or `None` before the first run.
///
/// # Errors
/// [`SettingsError`] when the file exists but cannot be read or parsed.
pub(crate) fn load(dir: &Path) -> Result<Option<Settings>, SettingsError> {
    let path = dir.join(FILE_NAME);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
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
