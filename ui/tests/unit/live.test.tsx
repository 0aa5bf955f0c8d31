import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { act, cleanup, fireEvent, screen, within } from "@testing-library/react";
import { LiveSwapView } from "../../src/screens/LiveSwap";
import { DONE_SWAP, EXTERNAL_BTC, SOLD_SWAP, STUCK_SWAP } from "../fake/fixtures";
import { renderWithFake } from "./render";

describe("live swap view", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    vi.setSystemTime(new Date("2026-06-01T12:00:00Z"));
  });
  afterEach(() => vi.useRealTimers());

  it("counts the deadline down locally between events", () => {
    const at = Date.now();
    renderWithFake(<LiveSwapView swap={{ ...STUCK_SWAP, deadline: { ...STUCK_SWAP.deadline!, eta_seconds: 125, blocks: 2 } }} receivedAt={at} />, { stage: { stage: "ready" } });
    expect(screen.getByTestId("swap-countdown").textContent).toBe("In 2 Bitcoin blocks, about 2 min 05 s");
    act(() => {
      vi.advanceTimersByTime(10_000);
    });
    expect(screen.getByTestId("swap-countdown").textContent).toBe("In 2 Bitcoin blocks, about 1 min 55 s");
    expect(screen.getByTestId("swap-automatic").textContent).toMatch(/cancels and refunds by itself/);
  });

  it("enables Cancel & refund only when allowed", () => {
    const { rerender } = renderWithFake(<LiveSwapView swap={STUCK_SWAP} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
    expect((screen.getByTestId("swap-cancel-refund") as HTMLButtonElement).disabled).toBe(false);
    expect((screen.getByTestId("swap-abort") as HTMLButtonElement).disabled).toBe(true);
    rerender(<LiveSwapView swap={{ ...STUCK_SWAP, can_cancel_refund: false, can_abort: true }} receivedAt={Date.now()} />);
    expect((screen.getByTestId("swap-cancel-refund") as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId("swap-abort") as HTMLButtonElement).disabled).toBe(false);
  });

  it("offers no Cancel & refund or Abort once the swap has ended", () => {
    for (const phase of ["completed", "refunded", "failed", "aborted"] as const) {
      renderWithFake(<LiveSwapView swap={{ ...DONE_SWAP, phase }} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
      expect(screen.queryByTestId("swap-cancel-refund"), phase).toBeNull();
      expect(screen.queryByTestId("swap-abort"), phase).toBeNull();
      cleanup();
    }
  });

  it("shows the state in plain words, never the engine's name for it", () => {
    renderWithFake(<LiveSwapView swap={DONE_SWAP} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
    expect(screen.getByTestId("swap-state").textContent).toBe("Stage: XMR received");
    expect(screen.getByTestId("swap-state").getAttribute("data-state")).toBe("XmrRedeemed");
    expect(document.body.textContent).not.toContain("XmrRedeemed");
    cleanup();
    renderWithFake(<LiveSwapView swap={{ ...STUCK_SWAP, state: "btc_locked", waiting: { for: "confirmations", chain: "bitcoin", what: "BTC lock", have: 0, need: 1 } }} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
    expect(screen.getByTestId("swap-state").textContent).toBe("Stage: BTC locked");
    expect(screen.getByTestId("swap-waiting").textContent).toContain("on Bitcoin");
    expect(document.body.textContent).not.toMatch(/btc_locked|on bitcoin/);
  });

  it("shows phase, amounts and txids", () => {
    renderWithFake(<LiveSwapView swap={DONE_SWAP} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
    expect(screen.getByTestId("swap-phase").textContent).toBe("Completed");
    expect(screen.getByTestId("swap-xmr").textContent).toBe("1.53123456789 XMR");
    expect(screen.getByTestId("swap-txs").textContent).toContain("beef".repeat(16));
    expect(screen.queryByTestId("swap-deadline")).toBeNull();
  });

  it("lists a finished swap's transactions on chain with confirmations, the never published apart", () => {
    renderWithFake(<LiveSwapView swap={DONE_SWAP} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
    const onChain = screen.getByTestId("swap-txs-on-chain");
    const rows = within(onChain).getAllByTestId("swap-tx");
    expect(rows.map((r) => r.getAttribute("data-label"))).toEqual(["lock", "redeem"]);
    expect(within(onChain).getAllByTestId("swap-tx-confirmations").map((c) => c.textContent)).toEqual(["14 confirmations", "1 confirmation"]);
    cleanup();
    const redeemUnconfirmed = DONE_SWAP.txs.map((t) => (t.label === "redeem" ? { ...t, on_chain: { status: "seen" as const, confirmations: 0 } } : t));
    renderWithFake(<LiveSwapView swap={{ ...DONE_SWAP, txs: redeemUnconfirmed }} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
    expect(screen.getAllByTestId("swap-tx-confirmations")[1]!.textContent).toBe("Unconfirmed when last checked");
    cleanup();
    renderWithFake(<LiveSwapView swap={DONE_SWAP} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
    expect(screen.getByTestId("swap-txs-on-chain").textContent).not.toContain("c0c0".repeat(16));
    // the four never published are folded away, then listed on their own
    expect(screen.queryByTestId("swap-txs-unpublished")).toBeNull();
    const toggle = screen.getByTestId("swap-txs-unpublished-toggle");
    expect(toggle.textContent).toBe("Show the 4 transactions never published");
    fireEvent.click(toggle);
    const unpublished = within(screen.getByTestId("swap-txs-unpublished")).getAllByTestId("swap-tx");
    expect(unpublished.map((r) => r.querySelector("td")?.textContent)).toEqual(["Cancel", "Refund", "Punish", "Early refund"]);
    expect(screen.queryByTestId("swap-txs-agreed")).toBeNull();
  });

  it("lists a running swap's transactions as agreed, not as on chain", () => {
    renderWithFake(<LiveSwapView swap={STUCK_SWAP} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
    expect(within(screen.getByTestId("swap-txs-agreed")).getAllByTestId("swap-tx")).toHaveLength(6);
    expect(screen.queryByTestId("swap-txs-on-chain")).toBeNull();
    expect(screen.queryByTestId("swap-txs-unpublished-toggle")).toBeNull();
  });

  it("shows the error and its next step when cancelling fails", async () => {
    vi.useRealTimers();
    renderWithFake(<LiveSwapView swap={STUCK_SWAP} receivedAt={Date.now()} />, {
      stage: { stage: "ready" },
      failing: { cancel_refund: { message: "bitcoind unreachable", next_step: "Start bitcoind and try again." } },
    });
    fireEvent.click(screen.getByTestId("swap-cancel-refund"));
    expect((await screen.findByTestId("live-error-message")).textContent).toBe("bitcoind unreachable");
    expect(screen.getByTestId("live-error-next-step").textContent).toBe("Next step: Start bitcoind and try again.");
  });

  describe("selling XMR (Alice)", () => {
    const running = {
      ...SOLD_SWAP,
      phase: "locked" as const,
      state: "XmrLocked",
      step: "Your XMR is locked; waiting for the maker to send its signature",
      waiting: { for: "peer" as const },
      deadline: { what: "the app cancels the swap", blocks: 40, eta_seconds: 24000, automatic: "If the maker has not claimed the XMR by then, the app cancels on its own." },
      can_abort: false,
    };

    it("shows XMR as paid and BTC as got, and where the BTC goes", () => {
      renderWithFake(<LiveSwapView swap={running} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
      expect(screen.getByTestId("swap-side").textContent).toBe("Selling XMR");
      const [pay, get] = screen.getAllByText(/^You (pay|get)/).map((e) => e.parentElement!);
      expect(within(pay!).getByTestId("swap-xmr").textContent).toBe("0.5 XMR");
      expect(within(get!).getByTestId("swap-btc").textContent).toBe("0.0032 BTC");
      expect(screen.getByTestId("swap-receive").textContent).toBe("BTC goes to: the built-in BTC wallet");
      expect(screen.getByTestId("swap-state").textContent).toBe("Stage: Your XMR is locked; waiting for the maker's signature");
      cleanup();
      renderWithFake(<LiveSwapView swap={{ ...running, receive_address: EXTERNAL_BTC }} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
      expect(screen.getByTestId("swap-receive").textContent).toBe(`BTC goes to: ${EXTERNAL_BTC}`);
    });

    it("has no Cancel & refund but says what the app does on its own; Abort only before the lock", () => {
      const { rerender } = renderWithFake(<LiveSwapView swap={running} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
      expect(screen.queryByTestId("swap-cancel-refund")).toBeNull();
      expect(screen.queryByText(/Cancel & refund/)).toBeNull();
      expect(screen.getByTestId("swap-on-its-own").textContent).toMatch(/the app cancels on its own and gets your XMR back/);
      expect(screen.getByTestId("swap-automatic").textContent).toMatch(/cancels on its own/);
      expect((screen.getByTestId("swap-abort") as HTMLButtonElement).disabled).toBe(true);
      rerender(<LiveSwapView swap={{ ...running, phase: "negotiating", state: "SetupAnswered", can_abort: true }} receivedAt={Date.now()} />);
      expect((screen.getByTestId("swap-abort") as HTMLButtonElement).disabled).toBe(false);
      rerender(<LiveSwapView swap={SOLD_SWAP} receivedAt={Date.now()} />);
      expect(screen.queryByTestId("swap-on-its-own")).toBeNull();
      expect(screen.queryByTestId("swap-abort")).toBeNull();
      expect(screen.getByTestId("swap-state").textContent).toBe("Stage: BTC received");
    });

    it("keeps the buy side as it was: BTC paid, XMR got, Cancel & refund", () => {
      renderWithFake(<LiveSwapView swap={STUCK_SWAP} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
      expect(screen.getByTestId("swap-side").textContent).toBe("Buying XMR");
      const [pay, get] = screen.getAllByText(/^You (pay|get)/).map((e) => e.parentElement!);
      expect(within(pay!).getByTestId("swap-btc").textContent).toBe("0.025 BTC");
      expect(within(get!).getByTestId("swap-xmr").textContent).toBe("3.8075 XMR");
      expect(screen.getByTestId("swap-receive").textContent).toBe(`XMR goes to: ${STUCK_SWAP.receive_address}`);
      expect(screen.getByTestId("swap-cancel-refund")).toBeTruthy();
      expect(screen.queryByTestId("swap-on-its-own")).toBeNull();
    });
  });
});
