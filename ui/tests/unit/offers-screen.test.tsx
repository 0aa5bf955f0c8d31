import { describe, expect, it, vi } from "vitest";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { OffersScreen } from "../../src/screens/Offers";
import { HistoryScreen } from "../../src/screens/History";
import { PEER_A } from "../fake/fixtures";
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
    expect(onSwap).toHaveBeenCalledWith(expect.objectContaining({ peer: PEER_A }));
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
