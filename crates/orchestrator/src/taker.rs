//! The taker's side: finding offers at rendezvous points, asking a maker for its quotes and
//! checking the reserve proof attached to them against our own Monero node, buying XMR
//! (opening the swap as Bob) and selling it (opening as Alice, with a setup request that
//! carries a reserve proof of our wallet bound to the swap), both through the one
//! [`open_swap`]. Each swap it opens runs on a node of its own, from the quote it is
//! opened at to its end ([`crate::net`]), so makers cannot link its swaps by peer id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bitcoin::Amount;
use confiaro_p2p::{Multiaddr, Network as P2pNetwork, PeerId};
use confiaro_protocol::messages::SetupRequest;
use confiaro_protocol::quote::{Quote, QuoteReply, ReserveProof};
use confiaro_protocol::{Direction, Input, Role, SwapId, XmrAmount};
use serde::Serialize;

use crate::chain_clock;
use crate::context::{now, random_bytes, Context};
use crate::driver::{open_swap, NewSwapPlan};
use crate::error::EngineError;
use crate::inbox::DriverMsg;
use crate::intake::{btc_lock_fee_allowance, unpromised_xmr, Intake, XMR_LOCK_FEE_ALLOWANCE};
use crate::net::namespace;

/// An offer found at a rendezvous point.
#[derive(Debug, Clone, Serialize)]
pub struct Offer {
    /// The maker.
    pub peer: String,
    /// Where to reach it (with `/p2p/<peer id>`).
    pub addresses: Vec<String>,
    /// Its quotes (one per side it takes), or why they could not be had (or cannot be
    /// trusted: an attached reserve proof that does not verify).
    pub quotes: Result<Vec<Quote>, String>,
    /// The XMR the maker's attached reserve proof proves (piconero), checked by this
    /// engine's wallet against the chain; `None` when the maker attaches no proof.
    pub reserve_piconero: Option<u64>,
}

/// [`Engine::offers`](crate::Engine::offers).
pub(crate) async fn offers(cx: &Context) -> Result<Vec<Offer>, EngineError> {
    let points = cx.config.p2p.rendezvous.clone();
    if points.is_empty() {
        return Err(EngineError::InvalidInput(
            "no rendezvous point configured: pass --rendezvous /ip4/.../tcp/.../p2p/<id>".into(),
        ));
    }
    let namespace = namespace(cx.config.network);
    let mut found: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
    let mut last_error = None;
    for address in points {
        match cx.net.discover_at(&address, &namespace).await {
            Ok(peers) => {
                for p in peers {
                    found.entry(p.peer).or_default().extend(p.addresses);
                }
            }
            Err(e) => last_error = Some(e),
        }
    }
    if found.is_empty() {
        if let Some(e) = last_error {
            return Err(e);
        }
    }
    let mut offers = Vec::new();
    for (peer, addresses) in found {
        let trusted = trusted_quote(cx, &cx.net.network, peer).await;
        let reserve_piconero = trusted
            .as_ref()
            .ok()
            .and_then(|(_, proven)| proven.map(XmrAmount::as_piconero));
        let quotes = trusted
            .map(|(reply, _)| reply.quotes)
            .map_err(|e| e.to_string());
        offers.push(Offer {
            peer: peer.to_string(),
            addresses: addresses
                .into_iter()
                .map(|a| a.with_p2p(peer).unwrap_or_else(|a| a).to_string())
                .collect(),
            quotes,
            reserve_piconero,
        });
    }
    offers.sort_by(|a, b| a.peer.cmp(&b.peer));
    Ok(offers)
}

/// [`Engine::request_quote`](crate::Engine::request_quote).
pub(crate) async fn request_quote(
    cx: &Context,
    maker: &Multiaddr,
) -> Result<(QuoteReply, Option<XmrAmount>), EngineError> {
    let peer = cx.net.dial(maker).await?;
    trusted_quote(cx, &cx.net.network, peer).await
}

/// Starts the own node of taker swap `swap_id` (its identity derived from the seed and the
/// id, see [`crate::net`]) and the intake that takes its messages. Also how a restart
/// opens it again.
pub(crate) async fn start_swap_node(
    cx: &Arc<Context>,
    swap_id: SwapId,
) -> Result<P2pNetwork, EngineError> {
    let identity = cx.keys.swap_identity(&swap_id);
    let (node, events) = cx.net.open_swap_node(swap_id, identity).await?;
    let intake = Arc::new(Intake::for_swap_node(Arc::clone(cx), swap_id));
    cx.tasks.spawn(intake.run(events));
    Ok(node)
}

/// `opened`, the outcome of opening taker swap `swap_id` on its own node: the swap id, or
/// the error once the node is stopped (nothing was stored).
async fn opened_on_own_node(
    cx: &Context,
    swap_id: SwapId,
    opened: Result<(), EngineError>,
) -> Result<SwapId, EngineError> {
    match opened {
        Ok(()) => Ok(swap_id),
        Err(e) => {
            cx.net.close_swap_node(&swap_id).await;
            Err(e)
        }
    }
}

/// [`Engine::buy_xmr`](crate::Engine::buy_xmr): checks the receive address, the maker's
/// quote and our balance, then opens the swap as Bob, on its own node.
pub(crate) async fn buy_xmr(
    cx: &Arc<Context>,
    maker: &Multiaddr,
    btc: Amount,
    receive: Option<monero::Address>,
) -> Result<SwapId, EngineError> {
    let swap_id = new_swap_id(cx)?;
    let node = start_swap_node(cx, swap_id).await?;
    let opened = buy_xmr_from(cx, &node, swap_id, maker, btc, receive).await;
    opened_on_own_node(cx, swap_id, opened).await
}

/// [`buy_xmr`] from the swap's own node `node`.
async fn buy_xmr_from(
    cx: &Arc<Context>,
    node: &P2pNetwork,
    swap_id: SwapId,
    maker: &Multiaddr,
    btc: Amount,
    receive: Option<monero::Address>,
) -> Result<(), EngineError> {
    let network = cx.config.network;
    if let Some(address) = &receive {
        network.check_monero_address(address)?;
    }
    chain_clock::check_before_swap(cx).await?;
    let peer = cx.net.dial_from(node, maker).await?;
    cx.store
        .upsert_peer(&peer.to_string(), &[maker.to_string()])
        .await?;
    let (reply, _) = trusted_quote(cx, node, peer).await?;
    let quote = side_of(&reply, peer, Direction::BuyXmr)?;
    let terms = quote.terms_for(btc)?;
    let fee_rate = cx.btc.fee_rate().await?;
    let lock_fee = btc_lock_fee_allowance(fee_rate);
    cx.btc.sync().await?;
    let balance = cx.btc.balance().await;
    let need = btc + lock_fee;
    if balance.trusted_spendable() < need {
        return Err(EngineError::InsufficientFunds {
            coin: "BTC",
            have: balance.trusted_spendable().to_string(),
            need: format!("{need} (the swap plus its lock's fee)"),
        });
    }
    let plan = NewSwapPlan {
        swap_id,
        role: Role::Bob,
        terms,
        peer,
        receive,
        btc_receive: None,
        setup_request: None,
        counterparty_wallet: None,
        fee_rate,
        audit: serde_json::json!({"maker": maker.to_string(), "price": quote.price.0}),
        own_node: true,
    };
    open_swap(cx, plan, DriverMsg::Input(Input::Tick)).await
}

/// A fresh swap id (or the one a test fault reuses).
fn new_swap_id(cx: &Context) -> Result<SwapId, EngineError> {
    Ok(match cx.faults.reuse_swap_id {
        Some(id) => SwapId(id),
        None => SwapId(random_bytes::<32>()?),
    })
}

/// The quote of `reply` for `direction`, or an error saying the maker does not take it.
fn side_of(reply: &QuoteReply, peer: PeerId, direction: Direction) -> Result<Quote, EngineError> {
    reply.quote(direction).copied().ok_or_else(|| {
        EngineError::InvalidInput(format!(
            "{peer} does not {} XMR now",
            match direction {
                Direction::BuyXmr => "sell",
                Direction::SellXmr => "buy",
            }
        ))
    })
}

/// [`Engine::sell_xmr`](crate::Engine::sell_xmr): checks the receive address, the maker's
/// sell quote and our unpromised XMR, proves our wallet's reserves for this swap (so the
/// maker can check, before it locks any BTC, that we hold the XMR), then opens the swap as
/// Alice, on its own node; her machine asks the maker to open as Bob.
pub(crate) async fn sell_xmr(
    cx: &Arc<Context>,
    maker: &Multiaddr,
    xmr: XmrAmount,
    receive: Option<bitcoin::Address<bitcoin::address::NetworkUnchecked>>,
) -> Result<SwapId, EngineError> {
    let swap_id = new_swap_id(cx)?;
    let node = start_swap_node(cx, swap_id).await?;
    let opened = sell_xmr_from(cx, &node, swap_id, maker, xmr, receive).await;
    opened_on_own_node(cx, swap_id, opened).await
}

/// [`sell_xmr`] from the swap's own node `node`.
async fn sell_xmr_from(
    cx: &Arc<Context>,
    node: &P2pNetwork,
    swap_id: SwapId,
    maker: &Multiaddr,
    xmr: XmrAmount,
    receive: Option<bitcoin::Address<bitcoin::address::NetworkUnchecked>>,
) -> Result<(), EngineError> {
    let network = cx.config.network;
    let receive = receive
        .map(|address| {
            network
                .check_bitcoin_address(address)
                .map_err(EngineError::from)
        })
        .transpose()?;
    chain_clock::check_before_swap(cx).await?;
    let peer = cx.net.dial_from(node, maker).await?;
    cx.store
        .upsert_peer(&peer.to_string(), &[maker.to_string()])
        .await?;
    let (reply, _) = trusted_quote(cx, node, peer).await?;
    let quote = side_of(&reply, peer, Direction::SellXmr)?;
    let terms = quote.terms_for_xmr(xmr)?;
    let (unpromised, _) = unpromised_xmr(cx).await?;
    let need = xmr
        .checked_add(XMR_LOCK_FEE_ALLOWANCE)
        .ok_or_else(|| EngineError::InvalidInput("amount too large".into()))?;
    if unpromised < need {
        return Err(EngineError::InsufficientFunds {
            coin: "XMR",
            have: unpromised.to_string(),
            need: format!(
                "{need} (the swap plus its lock's fee, unlocked and not promised to other swaps)"
            ),
        });
    }
    let fee_rate = cx.btc.fee_rate().await?;
    let message = ReserveProof::swap_message(&peer.to_string(), network, &swap_id, xmr);
    let (signature, proven) = cx.xmr.prove_reserves(&message).await?;
    if proven < xmr {
        return Err(EngineError::InsufficientFunds {
            coin: "XMR",
            have: proven.to_string(),
            need: format!("{xmr} (what the reserve proof for the maker proves)"),
        });
    }
    let setup_request = SetupRequest {
        swap_id,
        terms,
        reserve_proof: ReserveProof {
            address: cx.xmr.address().to_string(),
            made_at: now().0,
            signature,
        },
    };
    let plan = NewSwapPlan {
        swap_id,
        role: Role::Alice,
        terms,
        peer,
        receive: None,
        btc_receive: receive,
        setup_request: Some(setup_request),
        counterparty_wallet: None,
        fee_rate,
        audit: serde_json::json!({"maker": maker.to_string(), "price": quote.price.0}),
        own_node: true,
    };
    open_swap(cx, plan, DriverMsg::Input(Input::Resume)).await
}

/// How far a reserve proof's time may be from this engine's clock (past: how old it may be;
/// future: clock skew).
const RESERVE_PROOF_MAX_AGE: Duration = Duration::from_secs(2 * 3600);
const RESERVE_PROOF_MAX_SKEW: Duration = Duration::from_secs(300);

/// `peer`'s quote, asked from `node`, once its reserve proof (when it attaches one) is checked: made for this
/// maker and network within [`RESERVE_PROOF_MAX_AGE`], valid for its address against the
/// chain (by this engine's own wallet RPC), and covering the XMR of the largest swap quoted.
/// Returns the quotes and the XMR the proof proves.
pub(crate) async fn trusted_quote(
    cx: &Context,
    node: &P2pNetwork,
    peer: PeerId,
) -> Result<(QuoteReply, Option<XmrAmount>), EngineError> {
    let network = cx.config.network;
    let reply = cx.net.request_quote(node, peer, network).await?;
    let Some(proof) = reply.reserve_proof.clone() else {
        return Ok((reply, None));
    };
    let untrusted = |why: String| {
        EngineError::InvalidInput(format!(
            "{peer}'s reserve proof {why}: its offer is not trusted"
        ))
    };
    let now = now().0;
    if proof.made_at + RESERVE_PROOF_MAX_AGE.as_secs() < now {
        return Err(untrusted(format!(
            "is {} s old (at most {} s)",
            now - proof.made_at,
            RESERVE_PROOF_MAX_AGE.as_secs()
        )));
    }
    if proof.made_at > now + RESERVE_PROOF_MAX_SKEW.as_secs() {
        return Err(untrusted("is dated in the future".into()));
    }
    let address: monero::Address = proof
        .address
        .parse()
        .map_err(|_| untrusted("names no valid Monero address".into()))?;
    network
        .check_monero_address(&address)
        .map_err(|e| untrusted(format!("is for another network: {e}")))?;
    let message = ReserveProof::message(&peer.to_string(), network, proof.made_at);
    let proven = cx
        .xmr
        .check_reserves(&address, &message, &proof.signature)
        .await?
        .ok_or_else(|| untrusted("does not verify".into()))?;
    // the proof is of the XMR the maker sells: the largest swap of its buy side
    let offered = reply
        .quote(Direction::BuyXmr)
        .map_or(Some(XmrAmount::ZERO), |q| q.price.xmr_for(q.max_btc))
        .unwrap_or(XmrAmount::from_piconero(u64::MAX));
    if proven < offered {
        return Err(untrusted(format!(
            "proves {proven}, less than the {offered} of the largest swap it quotes"
        )));
    }
    Ok((reply, Some(proven)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::{bob_and_setup, loopback_peer};
    use confiaro_protocol::messages::Message;
    use confiaro_protocol::Network;
    use confiaro_store::NewSwap;

    /// A taker swap's own node speaks for that swap alone, and the main node for none of the
    /// swaps that have one: a maker that sends a swap's message to another of the taker's
    /// identities learns nothing ("unknown swap", as from a stranger), so it cannot link them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_taker_swaps_own_node_speaks_for_that_swap_alone() {
        use crate::test_utils::test_context;
        use confiaro_p2p::{SendError, SwapProtocol};
        use confiaro_protocol::quote::QuoteRequest;

        let dir = tempfile::tempdir().expect("a temp dir");
        let (cx, events) = test_context(dir.path(), XmrAmount::ZERO).await;
        cx.tasks
            .spawn(Arc::new(Intake::new(Arc::clone(&cx))).run(events));
        let (maker, _maker_events) = loopback_peer(4).await;
        let maker_id = maker.local_peer_id();
        let maker_address = maker.listen_addresses().await[0]
            .clone()
            .with_p2p(maker_id)
            .unwrap();
        // two swaps with the maker: one on its own node, one on the main node
        let (own, own_setup) = bob_and_setup(SwapId([21; 32]));
        let (main, main_setup) = bob_and_setup(SwapId([22; 32]));
        for state in [&own, &main] {
            let new = NewSwap {
                peer: &maker_id.to_string(),
                receive_address: None,
                counterparty_wallet: None,
            };
            cx.store
                .insert_swap(&cx.vault, &new, state)
                .await
                .expect("stored");
        }
        cx.store
            .put_swap_data(&cx.vault, &own.swap_id(), crate::driver::OWN_NODE_KEY, &[])
            .await
            .expect("marked");
        let node = start_swap_node(&cx, own.swap_id()).await.expect("its node");
        // its identity: the swap's, derived again after a restart, not the main node's
        assert_eq!(
            node.local_peer_id(),
            cx.keys.swap_identity(&own.swap_id()).peer_id().unwrap()
        );
        assert_ne!(node.local_peer_id(), cx.net.network.local_peer_id());
        assert!(
            node.listen_addresses().await.is_empty(),
            "it listens nowhere"
        );
        cx.net
            .dial_from(&node, &maker_address)
            .await
            .expect("the node reaches the maker");
        let main_node = cx.net.network.local_peer_id();
        let main_address = cx.net.network.listen_addresses().await[0]
            .clone()
            .with_p2p(main_node)
            .unwrap();
        maker
            .dial(main_address)
            .await
            .expect("the maker reaches the main node");
        let send = |to: PeerId, message: &Message| {
            let (maker, bytes) = (maker.clone(), message.encode());
            async move { maker.send(to, SwapProtocol::SwapSetup, bytes).await }
        };
        let unknown = |result: Result<Option<Vec<u8>>, SendError>, id: SwapId| match result {
            Err(SendError::Refused { reason, .. }) => {
                assert_eq!(reason, format!("unknown swap {id}"))
            }
            other => panic!("expected unknown swap {id}, got {other:?}"),
        };
        let known = |result: Result<Option<Vec<u8>>, SendError>| match result {
            // stored and not running here: the answer of a swap that is resuming
            Err(SendError::Busy { reason, .. }) => assert!(reason.contains("resuming"), "{reason}"),
            other => panic!("expected the swap to be known, got {other:?}"),
        };
        known(send(node.local_peer_id(), &own_setup).await);
        unknown(
            send(node.local_peer_id(), &main_setup).await,
            main.swap_id(),
        );
        known(send(main_node, &main_setup).await);
        unknown(send(main_node, &own_setup).await, own.swap_id());
        // the own node answers no quotes
        let quote = QuoteRequest {
            network: Network::Regtest,
        }
        .encode();
        assert!(matches!(
            maker
                .send(node.local_peer_id(), SwapProtocol::Quote, quote)
                .await,
            Err(SendError::Refused { .. })
        ));
        // once the swap is over and its node stopped, the main node still does not speak
        // for it
        cx.net.close_swap_node(&own.swap_id()).await;
        unknown(send(main_node, &own_setup).await, own.swap_id());
        maker.shutdown().await;
        cx.net.shutdown().await;
    }
}
