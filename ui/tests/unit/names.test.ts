import { describe, expect, it } from "vitest";
import { chainText, knownState, stateText, txText, words } from "../../src/names";

// Every state name the engine's machines give (crates/protocol: alice.rs and bob.rs, stage_name).
const BOB = ["Initialized", "SetupSent", "LockFunding", "LockProposed", "BtcLockPublished", "XmrLockProofReceived", "XmrLockRejected", "EncSigSent", "BtcRedeemed", "XmrRedeemed", "BtcCancelled", "BtcRefunded", "BtcEarlyRefunded", "BtcPunished", "Aborted"];
const ALICE = ["Initialized", "SetupAnswered", "SignaturesSent", "SignaturesReceived", "XmrLockPending", "XmrLocked", "BtcRedeemPublished", "BtcRedeemed", "BtcCancelled", "BtcRefunded", "XmrRefunded", "BtcPunishPublished", "BtcPunished", "BtcEarlyRefundPublished", "BtcEarlyRefunded", "AbortSent", "Aborted"];

/** What an internal name looks like: CamelCase with Btc/Xmr, or snake_case. */
const INTERNAL = /\b(Btc|Xmr)[A-Z]|[a-z]_[a-z]|[a-z][A-Z]/;

describe("plain names", () => {
  it("has words for every state of both roles, none of them internal", () => {
    for (const [role, states] of [["bob", BOB], ["alice", ALICE]] as const) {
      for (const state of states) {
        expect(knownState(state, role), `${role} ${state}`).toBe(true);
        expect(stateText(state, role), `${role} ${state}`).not.toMatch(INTERNAL);
      }
    }
  });

  it("says what a state means for our side", () => {
    expect(stateText("XmrRedeemed", "bob")).toBe("XMR received");
    expect(stateText("BtcRedeemed", "bob")).toMatch(/maker claimed the BTC/);
    expect(stateText("BtcRedeemed", "alice")).toBe("BTC received");
  });

  it("reads snake_case as well, and splits unknown names into words", () => {
    expect(stateText("xmr_redeemed", "bob")).toBe("XMR received");
    expect(stateText("btc_locked", "bob")).toBe("BTC locked");
    expect(stateText("SomethingNewXmr", "alice")).toBe("Something new XMR");
    expect(words("early_refund")).toBe("Early refund");
  });

  it("names transactions and chains", () => {
    expect(["lock", "redeem", "cancel", "refund", "punish", "early_refund"].map(txText)).toEqual(["Lock", "Redeem", "Cancel", "Refund", "Punish", "Early refund"]);
    expect(txText("EarlyRefund")).toBe("Early refund");
    expect(chainText("bitcoin")).toBe("Bitcoin");
    expect(chainText("monero")).toBe("Monero");
  });
});
