//! PLACEHOLDER: the Electrum chain source (being written).

use bdk_wallet::chain::BlockId;
use bitcoin::{FeeRate, Script, Transaction, Txid};

use super::{ChainSource, ChainUpdate, SourceError, TxStatus};

/// PLACEHOLDER.
#[derive(Debug)]
pub struct ElectrumSource {
    url: String,
}

impl ElectrumSource {
    /// PLACEHOLDER.
    pub fn new(url: &str) -> Self {
        ElectrumSource { url: url.to_owned() }
    }

    fn todo<T>(&self) -> Result<T, SourceError> {
        Err(SourceError::Failed { source_name: self.name(), reason: "not implemented".into() })
    }
}

impl ChainSource for ElectrumSource {
    fn name(&self) -> String {
        format!("electrum {}", self.url)
    }
    fn update(&mut self, _wallet: &bdk_wallet::Wallet) -> Result<ChainUpdate, SourceError> {
        self.todo()
    }
    fn tip(&mut self) -> Result<BlockId, SourceError> {
        self.todo()
    }
    fn tx_status(&mut self, _txid: &Txid, _spk: &Script) -> Result<TxStatus, SourceError> {
        self.todo()
    }
    fn broadcast(&mut self, _tx: &Transaction) -> Result<Txid, SourceError> {
        self.todo()
    }
    fn estimate_fee_rate(&mut self, _target: u16) -> Result<Option<FeeRate>, SourceError> {
        self.todo()
    }
}
