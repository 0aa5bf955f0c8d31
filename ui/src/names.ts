/**
 * Plain words for the engine's internal names. The backend sends a swap's detailed state as
 * the machine names it (`XmrRedeemed`, `BtcLockPublished`), its transactions by label
 * (`early_refund`) and chains by id (`bitcoin`): the UI never shows those as they are, only
 * through the functions here.
 */
import type { RoleName } from "./bindings/RoleName";

/** `XmrRedeemed`, `xmr_redeemed` and `xmr-redeemed` all become `xmrredeemed`. */
function key(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, "").toLowerCase();
}

/**
 * What each state means to the person using the app, by our role. The app is the taker: the
 * other side is always "the maker". Bob sells BTC for XMR (buy XMR), Alice sells XMR for BTC.
 */
const STATE_WORDS: Record<RoleName, Record<string, string>> = {
  bob: {
    initialized: "Starting",
    setupsent: "Exchanging keys with the maker",
    lockfunding: "Preparing your BTC lock",
    lockproposed: "Waiting for the maker's signatures",
    btclockpublished: "Your BTC lock is published",
    xmrlockproofreceived: "Checking the maker's XMR lock",
    xmrlockrejected: "The maker's XMR lock is wrong: your BTC will be refunded",
    encsigsent: "Waiting for the maker to claim the BTC",
    btcredeemed: "The maker claimed the BTC; moving your XMR to your wallet",
    xmrredeemed: "XMR received",
    btccancelled: "Cancelled; your BTC refund follows",
    btcrefunded: "BTC refunded",
    btcearlyrefunded: "BTC refunded early",
    btcpunished: "BTC lost: it was not refunded in time and the maker took it",
    aborted: "Aborted before anything was locked",
  },
  alice: {
    initialized: "Starting",
    setupanswered: "Exchanging keys with the maker",
    signaturessent: "Waiting for the maker's signatures",
    signaturesreceived: "Waiting for the maker's BTC lock to confirm",
    xmrlockpending: "Locking your XMR",
    xmrlocked: "Your XMR is locked; waiting for the maker's signature",
    btcredeempublished: "Claiming the BTC",
    btcredeemed: "BTC received",
    btccancelled: "Cancelled; waiting for the maker's refund",
    btcrefunded: "The maker took its BTC back; moving your XMR back to your wallet",
    xmrrefunded: "XMR refunded",
    btcpunishpublished: "Claiming the maker's BTC: it was not refunded in time",
    btcpunished: "BTC received: the maker did not refund in time",
    btcearlyrefundpublished: "Returning the maker's BTC early",
    btcearlyrefunded: "Ended early; the maker's BTC went back to it",
    abortsent: "Aborting",
    aborted: "Aborted before anything was locked",
  },
};

/** Any other name as words: `BtcLockPublished` / `btc_lock_published` → "BTC lock published". */
export function words(name: string): string {
  const parts = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== "")
    .map((w) => {
      const lower = w.toLowerCase();
      return lower === "btc" || lower === "xmr" ? lower.toUpperCase() : lower;
    });
  const text = parts.join(" ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A swap's detailed state in plain words, from our `role`'s side. */
export function stateText(state: string, role: RoleName): string {
  return STATE_WORDS[role][key(state)] ?? words(state);
}

/** Whether `stateText` has words of its own for `state` (not just the name split up). */
export function knownState(state: string, role: RoleName): boolean {
  return key(state) in STATE_WORDS[role];
}

const TX_WORDS: Record<string, string> = {
  lock: "Lock",
  redeem: "Redeem",
  cancel: "Cancel",
  refund: "Refund",
  punish: "Punish",
  earlyrefund: "Early refund",
};

/** A swap transaction's label (`early_refund`) as a name people read ("Early refund"). */
export function txText(label: string): string {
  return TX_WORDS[key(label)] ?? words(label);
}

/** `bitcoin` → "Bitcoin", `monero` → "Monero". */
export function chainText(chain: string): string {
  return key(chain) === "bitcoin" ? "Bitcoin" : key(chain) === "monero" ? "Monero" : words(chain);
}
