import { describe, expect, it } from "vitest";
import { fireEvent, screen, waitFor } from "@testing-library/react";
import { checkBuyAmount } from "../../src/buy";
import { SwapWizard } from "../../src/screens/SwapWizard";
import { OFFERS } from "../fake/fixtures";
import { renderWithFake } from "./render";

const offerA = OFFERS[1]!; // 0.0005 .. 1 BTC at 153.123456789012
const quote = offerA.quote!;

describe("buy amount validation", () => {
  it("accepts an amount within limits and computes the XMR, floored", () => {
    const r = checkBuyAmount("0.01", quote, 5_000_000n);
    expect(r).toEqual({ ok: true, sat: 1_000_000n, piconero: 1_531_234_567_890n, shortfall: 0n });
  });
  it("reports the shortfall when the balance is too low", () => {
    const r = checkBuyAmount("0.01", quote, 400_000n);
    expect(r.ok && r.shortfall).toBe(600_000n);
  });
  it("rejects below min, above max, zero, too many decimals", () => {
    expect(checkBuyAmount("0.0004", quote, 0n)).toMatchObject({ ok: false, error: expect.stringMatching(/minimum of 0.0005 BTC/) });
    expect(checkBuyAmount("1.00000001", quote, 0n)).toMatchObject({ ok: false, error: expect.stringMatching(/maximum of 1 BTC/) });
    expect(checkBuyAmount("0", quote, 0n)).toMatchObject({ ok: false });
    expect(checkBuyAmount("0.000500001", quote, 0n)).toMatchObject({ ok: false, error: expect.stringMatching(/8 decimals/) });
  });
  it("accepts the exact limits", () => {
    expect(checkBuyAmount("0.0005", quote, 0n).ok).toBe(true);
    expect(checkBuyAmount("1", quote, 0n).ok).toBe(true);
  });
});

describe("swap wizard", () => {
  it("validates the amount as typed and shows the XMR received", async () => {
    renderWithFake(<SwapWizard initialOffer={offerA} onStarted={() => undefined} />, {
      stage: { stage: "ready" },
      balances: { btc_confirmed_sat: "100000000", btc_pending_sat: "0", xmr_total_piconero: "0", xmr_unlocked_piconero: "0" },
    });
    const input = await screen.findByTestId("buy-amount");
    fireEvent.change(input, { target: { value: "0.000000001" } });
    expect(await screen.findByText(/At most 8 decimals/)).toBeTruthy();
    fireEvent.change(input, { target: { value: "2" } });
    expect(await screen.findByText(/Above this maker's maximum of 1 BTC/)).toBeTruthy();
    fireEvent.change(input, { target: { value: "0.01" } });
    expect((await screen.findByTestId("buy-xmr")).textContent).toBe("1.53123456789 XMR");
  });

  it("walks to a deposit step when the balance is too low, then on to confirm once funded", async () => {
    const { fake } = renderWithFake(<SwapWizard initialOffer={offerA} onStarted={() => undefined} />, { stage: { stage: "ready" }, fundConfirmMs: 10 });
    fireEvent.change(await screen.findByTestId("buy-amount"), { target: { value: "0.01" } });
    expect((await screen.findByTestId("buy-shortfall")).textContent).toMatch(/deposit 0.01 BTC more/);
    fireEvent.click(screen.getByTestId("wizard-next"));
    fireEvent.click(await screen.findByTestId("wizard-next")); // receive: built-in wallet
    expect(await screen.findByTestId("wizard-deposit")).toBeTruthy();
    expect((await screen.findByTestId("deposit-address")).textContent).toContain("bcrt1q");
    expect(await screen.findByTestId("deposit-qr")).toBeTruthy();
    expect((screen.getByTestId("wizard-next") as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId("devnet-fund"));
    await waitFor(() => expect((screen.getByTestId("wizard-next") as HTMLButtonElement).disabled).toBe(false));
    expect(fake.calls.some((c) => c.command === "devnet_fund")).toBe(true);
    fireEvent.click(screen.getByTestId("wizard-next"));
    expect((await screen.findByTestId("confirm-xmr")).textContent).toBe("1.53123456789 XMR");
    // what the user pays and gets in all, network fees included (estimates, said so)
    expect(screen.getByTestId("confirm-btc").textContent).toBe("0.01 BTC");
    expect(screen.getByTestId("confirm-fee-btc").textContent).toBe("about 0.0000153 BTC");
    expect(screen.getByTestId("confirm-pay-total").textContent).toBe("about 0.0100153 BTC");
    expect(screen.getByTestId("confirm-fee-xmr-lock").textContent).toMatch(/Paid by the maker/);
    expect(screen.getByTestId("confirm-fee-xmr-sweep").textContent).toBe("about 0.002 XMR");
    expect(screen.getByTestId("confirm-get-net").textContent).toBe("about 1.52923456789 XMR");
    expect(screen.getByTestId("confirm-fee-note").textContent).toMatch(/estimates.*10 sat\/vB/);
    // every earlier step is done, and Confirm (not Deposit) is the current one
    for (const id of ["offer", "amount", "receive", "deposit"]) {
      const step = screen.getByTestId(`wizard-step-${id}`);
      expect(step.hasAttribute("data-completed"), id).toBe(true);
      expect(step.getAttribute("aria-current"), id).toBeNull();
    }
    expect(screen.getByTestId("wizard-step-confirm").getAttribute("aria-current")).toBe("step");
  });
});
