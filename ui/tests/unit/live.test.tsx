import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { act, fireEvent, screen } from "@testing-library/react";
import { LiveSwapView } from "../../src/screens/LiveSwap";
import { DONE_SWAP, STUCK_SWAP } from "../fake/fixtures";
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

  it("shows phase, amounts and txids", () => {
    renderWithFake(<LiveSwapView swap={DONE_SWAP} receivedAt={Date.now()} />, { stage: { stage: "ready" } });
    expect(screen.getByTestId("swap-phase").textContent).toBe("Completed");
    expect(screen.getByTestId("swap-xmr").textContent).toBe("1.53123456789 XMR");
    expect(screen.getByTestId("swap-txs").textContent).toContain("beef".repeat(16));
    expect(screen.queryByTestId("swap-deadline")).toBeNull();
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
});
