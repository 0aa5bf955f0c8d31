//! Network parameter sets: one per network, fixing timelocks, confirmations and fee bands.
//!
//! Both parties of a swap must use the same [`Params`]; they are part of the signed
//! commitment, so a mismatch is detected during setup.

use serde::{Deserialize, Serialize};

use crate::Direction;

/// The network a swap runs on. Bitcoin and Monero networks are paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Network {
    /// Bitcoin mainnet with Monero mainnet.
    Mainnet,
    /// Bitcoin testnet4 (BIP94) with Monero stagenet: public test coins without value.
    Testnet4,
    /// Bitcoin's default signet with Monero stagenet: public test coins without value, blocks
    /// signed by a fixed set of keys (steadier than testnet4).
    Signet,
    /// Bitcoin regtest with Monero regtest (which uses mainnet address prefixes).
    Regtest,
}

/// A network name that is not one of [`Network::ALL`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a network: expected mainnet, testnet4, signet or regtest")]
pub struct UnknownNetwork {
    /// The name as given.
    pub given: String,
}

impl Network {
    /// Every network pairing, mainnet first.
    ///
    /// Bitcoin's old testnet3 is not among them: it is deprecated in favour of testnet4 and
    /// signet (docs/2026-12-07-networks-and-tls.md).
    pub const ALL: [Network; 4] = [
        Network::Mainnet,
        Network::Testnet4,
        Network::Signet,
        Network::Regtest,
    ];

    /// The pairing's name as users type it and as the rendezvous namespace, the data
    /// directory and the settings spell it: `mainnet`, `testnet4`, `signet` or `regtest`.
    pub fn name(self) -> &'static str {
        match self {
            Network::Mainnet => "mainnet",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    /// The Bitcoin network of this pairing.
    pub fn bitcoin(self) -> bitcoin::Network {
        match self {
            Network::Mainnet => bitcoin::Network::Bitcoin,
            Network::Testnet4 => bitcoin::Network::Testnet4,
            Network::Signet => bitcoin::Network::Signet,
            Network::Regtest => bitcoin::Network::Regtest,
        }
    }

    /// The Monero network whose address prefixes this pairing uses.
    pub fn monero(self) -> monero::Network {
        match self {
            Network::Mainnet | Network::Regtest => monero::Network::Mainnet,
            Network::Testnet4 | Network::Signet => monero::Network::Stagenet,
        }
    }

    /// Whether coins on this pairing have value (mainnet): the app asks for explicit choices
    /// there that it does not ask for on test networks.
    pub fn is_mainnet(self) -> bool {
        self == Network::Mainnet
    }

    /// The parameter set of this network for a taker buying XMR. What does not depend on the
    /// direction (fee band, block times, confirmations) is the same in both; for a swap's
    /// timelocks and margins use [`Network::params_for`] with its direction.
    pub fn params(self) -> Params {
        Params::for_network(self)
    }

    /// The parameter set of a swap in `direction` on this network: a taker selling XMR gets
    /// shorter timelocks ([`Params::for_swap`]).
    pub fn params_for(self, direction: Direction) -> Params {
        Params::for_swap(self, direction)
    }

    /// A stable one-byte code, used in hashes and on the wire.
    pub fn code(self) -> u8 {
        match self {
            Network::Mainnet => 0,
            // 1 was Bitcoin testnet3 with Monero stagenet, retired
            Network::Regtest => 2,
            Network::Testnet4 => 3,
            Network::Signet => 4,
        }
    }
}

/// An address of another network than the wallet's pairing: a payment to it would be lost or
/// would never arrive. Its text names both networks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{address} is a {coin} {found} address, but this wallet swaps on {network} (Bitcoin {bitcoin}, Monero {monero:?})")]
pub struct WrongNetwork {
    /// The address as given.
    pub address: String,
    /// `Bitcoin` or `Monero`.
    pub coin: &'static str,
    /// The network the address belongs to, as far as its encoding tells.
    pub found: String,
    /// The wallet's pairing.
    pub network: Network,
    /// The pairing's Bitcoin network.
    pub bitcoin: bitcoin::Network,
    /// The pairing's Monero network.
    pub monero: monero::Network,
}

impl Network {
    fn wrong_network(self, address: String, coin: &'static str, found: String) -> WrongNetwork {
        WrongNetwork {
            address,
            coin,
            found,
            network: self,
            bitcoin: self.bitcoin(),
            monero: self.monero(),
        }
    }

    /// `address` as an address of this pairing's Bitcoin network; call it on every Bitcoin
    /// address a user or a peer gives before paying to it.
    ///
    /// Testnet4 and signet addresses share their encoding (`tb1…`), so either is accepted on
    /// both: coins sent to the other network's twin address are spendable with the same key.
    ///
    /// # Errors
    /// [`WrongNetwork`] for an address of another network (a mainnet address on a test
    /// network, a test address on mainnet, a regtest `bcrt1…` address elsewhere).
    pub fn check_bitcoin_address(
        self,
        address: bitcoin::Address<bitcoin::address::NetworkUnchecked>,
    ) -> Result<bitcoin::Address, WrongNetwork> {
        if address.is_valid_for_network(self.bitcoin()) {
            return Ok(address.assume_checked());
        }
        let found = [
            (bitcoin::Network::Bitcoin, "mainnet"),
            (bitcoin::Network::Testnet4, "testnet4/signet"),
            (bitcoin::Network::Regtest, "regtest"),
        ]
        .into_iter()
        .find(|(network, _)| address.is_valid_for_network(*network))
        .map_or("other network's", |(_, name)| name);
        let text = address.assume_checked().to_string();
        Err(self.wrong_network(text, "Bitcoin", found.to_owned()))
    }

    /// Checks that a Monero address belongs to this pairing's Monero network; call it on every
    /// Monero address a user or a peer gives before paying to it or trusting it.
    ///
    /// # Errors
    /// [`WrongNetwork`] for an address of another network.
    pub fn check_monero_address(self, address: &monero::Address) -> Result<(), WrongNetwork> {
        if address.network == self.monero() {
            return Ok(());
        }
        let found = format!("{:?}", address.network).to_lowercase();
        Err(self.wrong_network(address.to_string(), "Monero", found))
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Network {
    type Err = UnknownNetwork;

    /// A network by its [`Network::name`], in any case.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        Network::ALL
            .into_iter()
            .find(|network| network.name().eq_ignore_ascii_case(text))
            .ok_or_else(|| UnknownNetwork {
                given: text.to_owned(),
            })
    }
}

/// Fee rates in satoshi per virtual byte that a party accepts from its counterparty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeBand {
    /// Lowest acceptable rate (sat/vB). Below this a transaction may never confirm.
    pub min_sat_per_vb: u64,
    /// Highest acceptable rate (sat/vB). Above this the proposer is burning the other's money.
    pub max_sat_per_vb: u64,
}

/// Everything about a swap that depends only on the network.
///
/// Timelocks count Bitcoin blocks (BIP68 relative locks); confirmations count blocks of the
/// respective chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// The network these parameters belong to.
    pub network: Network,
    /// Blocks after the lock transaction confirms before cancel may be published.
    pub cancel_timelock: u16,
    /// Blocks after the cancel transaction confirms before punish may be published.
    pub punish_timelock: u16,
    /// Bitcoin confirmations of the lock before Alice locks XMR.
    pub btc_finality: u32,
    /// Confirmations after which a spend of the lock or cancel output is treated as final
    /// (the swap's terminal state). Deeper than any reorg the network is expected to see.
    pub settle_confirmations: u32,
    /// Monero confirmations of the XMR lock before Bob sends his redeem signature.
    /// Never below 10: Monero outputs are unspendable for 10 blocks.
    pub xmr_finality: u32,
    /// Bob does not send his redeem signature once the lock has this many confirmations
    /// or more: Alice needs the remaining blocks before `cancel_timelock` to redeem.
    pub redeem_margin: u16,
    /// Alice does not lock XMR once the BTC lock has more than
    /// `cancel_timelock - xmr_lock_margin` confirmations: XMR must reach `xmr_finality`
    /// and the redeem signature must arrive before cancel becomes possible.
    pub xmr_lock_margin: u16,
    /// Fee rates accepted from the counterparty.
    pub fee_band: FeeBand,
    /// Expected seconds between Bitcoin blocks (for time estimates only).
    pub btc_block_seconds: u32,
    /// Expected seconds between Monero blocks (for time estimates only).
    pub xmr_block_seconds: u32,
    /// Seconds between retransmissions of an unanswered protocol message.
    pub resend_seconds: u32,
    /// Seconds a party waits for setup to finish before giving up (nothing is locked yet).
    pub setup_timeout_seconds: u32,
}

/// Monero blocks below the lock's block height from which a sweeping wallet is restored.
pub const XMR_RESTORE_MARGIN: u64 = 10;

/// The height a sweeping wallet is restored from, for a lock at `lock_height` (a height from
/// our own wallet or node): [`XMR_RESTORE_MARGIN`] blocks below it.
pub fn sweep_restore_height(lock_height: u64) -> u64 {
    lock_height.saturating_sub(XMR_RESTORE_MARGIN)
}

/// The lowest fee rate Alice accepts for Bob's lock, in percent of the rate she pays herself.
/// A lock that pays much less than the market may sit in the mempool for days while Bob
/// watches the price (finding 3 of docs/2026-12-06-malicious-counterparty.md).
pub const LOCK_FEE_RATE_FLOOR_PERCENT: u64 = 50;

/// The largest cancel fee Alice accepts from Bob, in percent of the swap's BTC amount. The
/// cancel's fee comes out of what Alice takes by punishing; the fee band alone (up to
/// 500 sat/vB on mainnet) would let Bob burn most of a small swap's punish value.
pub const MAX_CANCEL_FEE_PERCENT: u64 = 5;

/// The most a party spends on fee-bumping children for one waiting transaction, in percent
/// of the swap's BTC amount (the package's fees together, the pre-signed fee included). A
/// refund or punish that misses its window loses the whole amount, so paying up to a fifth
/// of it to get in is rational; more would turn a fee spike into the loss it prevents.
pub const MAX_BUMP_FEE_PERCENT: u64 = 20;

/// Expected Bitcoin blocks within which Bob's lock must confirm once Alice has seen it; after
/// that Alice walks away and never locks XMR for it.
pub const LOCK_CONFIRMATION_BLOCKS: u32 = 6;

impl Params {
    /// The deepest lock depth at which Alice still publishes her redeem: half of Bob's
    /// `redeem_margin` before `cancel_timelock`, so a redeem has blocks to confirm before Bob
    /// can race it with cancel, while a view one or two blocks apart from Bob's still redeems
    /// what Bob sent in time.
    pub fn last_redeem_depth(&self) -> u32 {
        u32::from(self.cancel_timelock).saturating_sub(u32::from(self.redeem_margin / 2).max(1) + 1)
    }

    /// The deepest lock depth at which Bob still sends (or re-sends) his redeem signature.
    pub fn last_redeem_signature_depth(&self) -> u32 {
        u32::from(self.cancel_timelock).saturating_sub(u32::from(self.redeem_margin) + 1)
    }

    /// The deepest lock depth at which Alice still locks XMR.
    pub fn last_xmr_lock_depth(&self) -> u32 {
        u32::from(self.cancel_timelock).saturating_sub(u32::from(self.xmr_lock_margin))
    }

    /// Seconds Alice waits for Bob's lock to confirm once she has seen it in the mempool.
    pub fn lock_confirmation_seconds(&self) -> u64 {
        u64::from(LOCK_CONFIRMATION_BLOCKS) * u64::from(self.btc_block_seconds)
    }

    /// The parameter set of a swap in `direction` on `network`.
    ///
    /// A taker selling XMR makes the maker lock its BTC before the taker has committed
    /// anything; a taker who then walks away freezes that BTC until cancel. Those swaps
    /// therefore use half the cancel timelock, with margins scaled to match, so a walk-away
    /// freezes the maker's BTC half as long (docs/2026-12-06-sell-xmr.md). The punish
    /// timelock, which protects Bob when he is offline after a cancel, stays.
    pub fn for_swap(network: Network, direction: Direction) -> Params {
        let mut params = Params::for_network(network);
        if direction == Direction::SellXmr {
            let (cancel, xmr_lock_margin, redeem_margin) = match network {
                Network::Mainnet => (36, 24, 12),
                Network::Testnet4 | Network::Signet => (12, 8, 4),
                // regtest's windows are already a few blocks: halving them would leave no
                // room for a loaded test machine
                Network::Regtest => (
                    params.cancel_timelock,
                    params.xmr_lock_margin,
                    params.redeem_margin,
                ),
            };
            params.cancel_timelock = cancel;
            params.xmr_lock_margin = xmr_lock_margin;
            params.redeem_margin = redeem_margin;
        }
        params
    }

    /// The parameter set for `network`, for a taker buying XMR.
    pub fn for_network(network: Network) -> Params {
        match network {
            Network::Mainnet => Params {
                network,
                cancel_timelock: 72,
                punish_timelock: 72,
                btc_finality: 2,
                settle_confirmations: 6,
                xmr_finality: 10,
                redeem_margin: 24,
                xmr_lock_margin: 48,
                fee_band: FeeBand {
                    min_sat_per_vb: 1,
                    max_sat_per_vb: 500,
                },
                btc_block_seconds: 600,
                xmr_block_seconds: 120,
                resend_seconds: 30,
                setup_timeout_seconds: 600,
            },
            Network::Testnet4 | Network::Signet => Params {
                network,
                cancel_timelock: 24,
                punish_timelock: 12,
                btc_finality: 1,
                settle_confirmations: 3,
                xmr_finality: 10,
                redeem_margin: 8,
                xmr_lock_margin: 16,
                fee_band: FeeBand {
                    min_sat_per_vb: 1,
                    max_sat_per_vb: 1000,
                },
                btc_block_seconds: 600,
                xmr_block_seconds: 120,
                resend_seconds: 30,
                setup_timeout_seconds: 600,
            },
            Network::Regtest => Params {
                network,
                cancel_timelock: 12,
                punish_timelock: 6,
                btc_finality: 1,
                settle_confirmations: 3,
                xmr_finality: 10,
                redeem_margin: 4,
                xmr_lock_margin: 8,
                fee_band: FeeBand {
                    min_sat_per_vb: 1,
                    max_sat_per_vb: 1000,
                },
                btc_block_seconds: 600,
                xmr_block_seconds: 120,
                resend_seconds: 5,
                setup_timeout_seconds: 120,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_network_leaves_room_to_lock_and_redeem_before_cancel() {
        for (network, direction) in Network::ALL
            .into_iter()
            .flat_map(|n| Direction::ALL.map(|d| (n, d)))
        {
            let p = network.params_for(direction);
            let network = (network, direction);
            assert!(p.xmr_lock_margin > p.redeem_margin, "{network:?}");
            assert!(p.cancel_timelock > p.xmr_lock_margin, "{network:?}");
            assert!(u32::from(p.cancel_timelock) > p.btc_finality, "{network:?}");
            assert!(p.xmr_finality >= 10, "{network:?}");
            assert!(p.fee_band.min_sat_per_vb <= p.fee_band.max_sat_per_vb);
            // Bob stops sending his signature before Alice stops redeeming with it, and
            // Alice's redeem still has blocks to confirm before cancel is valid
            assert!(
                p.last_redeem_signature_depth() < p.last_redeem_depth(),
                "{network:?}"
            );
            assert!(
                p.last_redeem_depth() + 2 <= u32::from(p.cancel_timelock),
                "{network:?}"
            );
            assert!(
                p.last_xmr_lock_depth() < p.last_redeem_signature_depth(),
                "{network:?}"
            );
            // Alice can lock XMR once the lock is final, and XMR can reach finality (in
            // Bitcoin blocks) before Bob's last redeem signature
            let xmr_in_btc_blocks =
                (p.xmr_finality * p.xmr_block_seconds).div_ceil(p.btc_block_seconds);
            assert!(p.btc_finality <= p.last_xmr_lock_depth(), "{network:?}");
            assert!(
                p.btc_finality + xmr_in_btc_blocks < p.last_redeem_signature_depth(),
                "{network:?}"
            );
        }
    }

    #[test]
    fn a_taker_selling_xmr_freezes_a_makers_btc_half_as_long_off_regtest() {
        for network in Network::ALL.into_iter().filter(|n| *n != Network::Regtest) {
            let buy = network.params_for(Direction::BuyXmr);
            let sell = network.params_for(Direction::SellXmr);
            assert_eq!(buy, network.params());
            assert_eq!(sell.cancel_timelock * 2, buy.cancel_timelock, "{network:?}");
            assert_eq!(sell.punish_timelock, buy.punish_timelock, "{network:?}");
        }
    }

    #[test]
    fn every_network_has_its_own_name_code_and_bitcoin_network() {
        use std::collections::HashSet;
        use std::str::FromStr;
        let all = Network::ALL;
        assert_eq!(
            all.map(Network::code)
                .into_iter()
                .collect::<HashSet<_>>()
                .len(),
            4
        );
        assert_eq!(
            all.map(Network::name)
                .into_iter()
                .collect::<HashSet<_>>()
                .len(),
            4
        );
        assert_eq!(
            all.map(Network::bitcoin)
                .into_iter()
                .collect::<HashSet<_>>()
                .len(),
            4
        );
        for network in all {
            assert_eq!(Network::from_str(network.name()), Ok(network));
            assert_eq!(network.name().to_uppercase().parse(), Ok(network));
        }
        assert_eq!(Network::Testnet4.bitcoin(), bitcoin::Network::Testnet4);
        assert_eq!(Network::Signet.bitcoin(), bitcoin::Network::Signet);
        for test in [Network::Testnet4, Network::Signet] {
            assert_eq!(test.monero(), monero::Network::Stagenet);
        }
        let err = "testnet".parse::<Network>().unwrap_err();
        assert!(err.to_string().contains("testnet4, signet"), "{err}");
    }

    #[test]
    fn an_address_of_another_network_is_refused_naming_both() {
        use std::str::FromStr;
        let unchecked = |text: &str| {
            bitcoin::Address::<bitcoin::address::NetworkUnchecked>::from_str(text).unwrap()
        };
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let key = bitcoin::secp256k1::SecretKey::from_slice(&[7; 32]).unwrap();
        let key = bitcoin::CompressedPublicKey(key.public_key(&secp));
        let address = |network| bitcoin::Address::p2wpkh(&key, network).to_string();
        let (main, test, reg) = (
            &address(bitcoin::Network::Bitcoin),
            &address(bitcoin::Network::Signet),
            &address(bitcoin::Network::Regtest),
        );
        assert!(test.starts_with("tb1") && reg.starts_with("bcrt1"));
        for network in [Network::Testnet4, Network::Signet] {
            assert!(network.check_bitcoin_address(unchecked(test)).is_ok());
            let err = network.check_bitcoin_address(unchecked(main)).unwrap_err();
            assert_eq!(err.found, "mainnet");
            let text = err.to_string();
            assert!(
                text.contains(main) && text.contains(network.name()),
                "{text}"
            );
            let err = network.check_bitcoin_address(unchecked(reg)).unwrap_err();
            assert_eq!(err.found, "regtest");
        }
        assert!(Network::Mainnet
            .check_bitcoin_address(unchecked(main))
            .is_ok());
        let err = Network::Mainnet
            .check_bitcoin_address(unchecked(test))
            .unwrap_err();
        assert_eq!(err.found, "testnet4/signet");
        assert!(Network::Regtest
            .check_bitcoin_address(unchecked(reg))
            .is_ok());

        let keys = monero::KeyPair {
            view: monero::PrivateKey::from_slice(&[1; 32]).unwrap(),
            spend: monero::PrivateKey::from_slice(&[2; 32]).unwrap(),
        };
        let stagenet = monero::Address::from_keypair(monero::Network::Stagenet, &keys);
        let mainnet = monero::Address::from_keypair(monero::Network::Mainnet, &keys);
        assert!(Network::Signet.check_monero_address(&stagenet).is_ok());
        assert!(Network::Testnet4.check_monero_address(&stagenet).is_ok());
        let err = Network::Signet.check_monero_address(&mainnet).unwrap_err();
        assert!(err.to_string().contains("Monero mainnet address"), "{err}");
        assert!(Network::Mainnet.check_monero_address(&stagenet).is_err());
        assert!(Network::Regtest.check_monero_address(&mainnet).is_ok());
    }
}
