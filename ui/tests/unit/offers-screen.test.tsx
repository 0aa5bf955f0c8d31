import { describe, expect, it, vi } from "vitest";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { OffersScreen } from "../../src/screens/Offers";
import { HistoryScreen } from "../../src/screens/History";
import { OFFERS, PEER_A, PEER_B, PEER_C, PEER_D, PEER_E, SELL_ONLY_OFFER, SOLD_SWAP, DONE_SWAP } from "../fake/fixtures";
import { renderWithFake } from "./render";

describe("offers screen", () => {
  it("lists offers best price first, filters them and hands the pick on", async () => {
    const onSwap = vi.fn();
    renderWithFake(<OffersScreen onSwap={onSwap} />, { stage: { stage: "ready" } });
    await waitFor(() => expect(screen.getAllByTestId("offer-row")).toHaveLength(4));
    expect(screen.getAllByTestId("offer-price").map((e) => e.textContent)).toEqual(["153.123456789012 XMR", "152.3 XMR", "149 XMR"]);
    fireEvent.click(screen.getByTestId("offers-proof"));
    await waitFor(() => expect(screen.getAllByTestId("offer-row")).toHaveLength(2));
    fireEvent.change(screen.getByTestId("offers-amount"), { target: { value: "0.5" } });
    await waitFor(() => expect(screen.getAllByTestId("offer-row")).toHaveLength(1));
    expect(screen.getByTestId("offers-count").textContent).toBe("1 of 4 offers shown");
    fireEvent.click(screen.getByTestId("offer-pick"));
    expect(onSwap).toHaveBeenCalledWith(expect.objectContaining({ peer: PEER_A }), "buy");
  });

  it("switches to the sell side: each maker's bid in words, makers without it say so, best price first", async () => {
    const onSwap = vi.fn();
    renderWithFake(<OffersScreen onSwap={onSwap} />, { stage: { stage: "ready" }, offers: [...OFFERS, SELL_ONLY_OFFER] });
    await waitFor(() => expect(screen.getAllByTestId("offer-row")).toHaveLength(5));
    // buying: the sell-only maker says it sells no XMR
    const rowOf = (peer: string) => screen.getAllByTestId("offer-row").find((r) => r.getAttribute("data-peer") === peer)!;
    expect(rowOf(PEER_E).textContent).toContain("This maker does not sell XMR");
    expect(screen.getAllByTestId("offer-reserve")).toHaveLength(5);
    fireEvent.click(screen.getByTestId("offers-side-sell"));
    await waitFor(() => expect(screen.getAllByTestId("offer-price").map((e) => e.textContent)).toEqual(["156.25 XMR", "158 XMR", "160 XMR"]));
    expect(screen.getAllByTestId("offer-row").map((r) => r.getAttribute("data-peer"))).toEqual([PEER_A, PEER_E, PEER_D, PEER_B, PEER_C]);
    expect(screen.getByRole("columnheader", { name: "Price (XMR you pay per BTC)" })).toBeTruthy();
    expect(screen.getAllByTestId("offer-btc-per-xmr").map((e) => e.textContent)).toEqual(["1 XMR brings 0.0064 BTC", "1 XMR brings 0.00632911 BTC", "1 XMR brings 0.00625 BTC"]);
    expect(rowOf(PEER_B).textContent).toContain("This maker does not buy XMR");
    expect(rowOf(PEER_C).textContent).toContain("No quote: unreachable");
    expect((rowOf(PEER_B).querySelector("[data-testid=offer-pick]") as HTMLButtonElement).disabled).toBe(true);
    // no reserve proofs when selling (the maker pays BTC)
    expect(screen.queryByTestId("offer-reserve")).toBeNull();
    expect(screen.queryByTestId("offers-proof")).toBeNull();
    // the amount filter takes XMR and uses the sell quotes' limits: 20 XMR brings 0.128 BTC from A (max 0.5),
    // 0.125 from D (max 0.1), 0.12658227 from E (max 0.05)
    expect(screen.getByLabelText("Amount fits (XMR)")).toBe(screen.getByTestId("offers-amount"));
    fireEvent.change(screen.getByTestId("offers-amount"), { target: { value: "0.0000000000001" } });
    expect(await screen.findByText(/At most 12 decimals/)).toBeTruthy();
    fireEvent.change(screen.getByTestId("offers-amount"), { target: { value: "20" } });
    await waitFor(() => expect(screen.getAllByTestId("offer-row")).toHaveLength(1));
    expect(screen.getByTestId("offers-count").textContent).toBe("1 of 5 offers shown");
    fireEvent.click(screen.getByRole("button", { name: /^Sell XMR to this maker/ }));
    expect(onSwap).toHaveBeenCalledWith(expect.objectContaining({ peer: PEER_A }), "sell");
  });

  it("shows a failed refresh with its next step", async () => {
    renderWithFake(<OffersScreen onSwap={() => undefined} />, {
      stage: { stage: "ready" },
      failing: { offers: { message: "No rendezvous point answered", next_step: "Check the rendezvous list in Settings." } },
    });
    expect((await screen.findByTestId("error-message")).textContent).toBe("No rendezvous point answered");
    expect(screen.getByTestId("error-next-step").textContent).toBe("Next step: Check the rendezvous list in Settings.");
  });
});

describe("history", () => {
  it("shows a failed receipt export as a notification with the next step", async () => {
    renderWithFake(<HistoryScreen onOpen={() => undefined} />, {
      stage: { stage: "ready" },
      failing: { export_receipt: { message: "Disk full", next_step: "Free some space and export again." } },
    });
    await waitFor(() => expect(screen.getAllByTestId("history-row")).toHaveLength(2));
    fireEvent.click(screen.getAllByTestId("history-receipt")[0]!);
    expect((await screen.findByTestId("notification-error")).textContent).toMatch(/Disk full.*Next step: Free some space/);
  });
});

describe("history of both sides", () => {
  it("says Bought or Sold, with what was paid and received per side", async () => {
    renderWithFake(<HistoryScreen onOpen={() => undefined} />, { stage: { stage: "ready" }, swaps: [DONE_SWAP, SOLD_SWAP] });
    await waitFor(() => expect(screen.getAllByTestId("history-row")).toHaveLength(2));
    expect(screen.getAllByTestId("history-side").map((e) => e.textContent)).toEqual(["Bought XMR", "Sold XMR"]);
    expect(screen.getAllByTestId("history-paid").map((e) => e.textContent)).toEqual(["0.01 BTC", "0.5 XMR"]);
    expect(screen.getAllByTestId("history-received").map((e) => e.textContent)).toEqual(["1.53123456789 XMR", "0.0032 BTC"]);
  });
});
