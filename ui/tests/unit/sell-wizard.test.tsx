import { describe, expect, it } from "vitest";
import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import { SwapWizard } from "../../src/screens/SwapWizard";
import { EXTERNAL_BTC, OFFERS, PEER_A, PEER_D } from "../fake/fixtures";
import { renderWithFake } from "./render";

const offerA = OFFERS[1]!; // buys XMR at 156.25 XMR per BTC, 0.001 .. 0.5 BTC
const READY = { stage: { stage: "ready" } } as const;
const xmr = (unlocked: string, total = unlocked) => ({ btc_confirmed_sat: "0", btc_pending_sat: "0", xmr_total_piconero: total, xmr_unlocked_piconero: unlocked });

describe("sell wizard", () => {
  it("lists only the makers that buy XMR, best price first, and starts at their amount step", async () => {
    renderWithFake(<SwapWizard side="sell" initialOffer={null} onStarted={() => undefined} />, READY);
    expect(screen.getByRole("heading", { name: "Sell XMR" })).toBeTruthy();
    await waitFor(() => expect(screen.getAllByTestId("offer-row")).toHaveLength(2));
    expect(screen.getAllByTestId("offer-row").map((r) => r.getAttribute("data-peer"))).toEqual([PEER_A, PEER_D]);
    expect(screen.getAllByTestId("offer-price").map((e) => e.textContent)).toEqual(["156.25 XMR", "160 XMR"]);
    expect(screen.getAllByTestId("offer-btc-per-xmr")[0]!.textContent).toBe("1 XMR brings 0.0064 BTC");
    fireEvent.click(screen.getAllByTestId("offer-pick")[1]!);
    expect((await screen.findByTestId("wizard-amount")).textContent).toContain("160 XMR per BTC");
  });

  it("checks the XMR amount as typed against the BTC limits and the unlocked balance", async () => {
    renderWithFake(<SwapWizard side="sell" initialOffer={offerA} onStarted={() => undefined} />, { ...READY, balances: xmr("300000000000", "800000000000") });
    const input = await screen.findByTestId("sell-amount");
    await waitFor(() => expect(screen.getByTestId("wizard-amount").textContent).toMatch(/Your unlocked XMR: 0.3 XMR/));
    fireEvent.change(input, { target: { value: "0.0000000000001" } });
    expect(await screen.findByText(/At most 12 decimals/)).toBeTruthy();
    fireEvent.change(input, { target: { value: "0.1" } });
    expect(await screen.findByText("Below this maker's minimum of 0.001 BTC: sell at least 0.15625 XMR")).toBeTruthy();
    expect((screen.getByTestId("wizard-next") as HTMLButtonElement).disabled).toBe(true);
    fireEvent.change(input, { target: { value: "0" } });
    expect(await screen.findByText("Enter an amount above zero")).toBeTruthy();
    fireEvent.change(input, { target: { value: "0.5" } });
    expect((await screen.findByTestId("sell-btc")).textContent).toBe("0.0032 BTC");
    // 0.5 XMR + 0.01 XMR allowance - 0.3 XMR unlocked (the 0.5 XMR still locked does not count)
    expect(screen.getByTestId("sell-shortfall").textContent).toMatch(/deposit 0.21 XMR more/);
    expect(screen.queryByTestId("buy-amount")).toBeNull();
  });

  it("goes to an external BTC address through the deposit step, then sells with the right request", async () => {
    const started: string[] = [];
    const { fake } = renderWithFake(<SwapWizard side="sell" initialOffer={offerA} onStarted={(s) => started.push(s.swap_id)} />, {
      ...READY,
      balances: xmr("100000000000"),
      fundConfirmMs: 400,
      sellStepMs: null,
    });
    fireEvent.change(await screen.findByTestId("sell-amount"), { target: { value: "0.5" } });
    fireEvent.click(screen.getByTestId("wizard-next"));
    // where the BTC goes: an address is required once "another" is chosen
    expect((await screen.findByTestId("wizard-receive")).textContent).toMatch(/Where should the BTC go\?/);
    expect(screen.getByText("The built-in BTC wallet (recommended)")).toBeTruthy();
    fireEvent.click(screen.getByTestId("receive-external"));
    fireEvent.click(screen.getByTestId("wizard-next"));
    expect(await screen.findByText("Enter the Bitcoin address the BTC should go to")).toBeTruthy();
    expect(screen.queryByTestId("wizard-deposit")).toBeNull();
    fireEvent.change(screen.getByTestId("receive-address"), { target: { value: `  ${EXTERNAL_BTC} ` } });
    fireEvent.click(screen.getByTestId("wizard-next"));
    // the deposit: the XMR wallet's address, the balance with what is not unlocked yet
    expect((await screen.findByTestId("deposit-status")).textContent).toMatch(/Deposit monero first.*Send at least 0.41 XMR to your built-in Monero wallet/);
    await waitFor(() => expect(screen.getByTestId("deposit-address").textContent).toBe("4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge"));
    expect(await screen.findByTestId("deposit-qr")).toBeTruthy();
    expect(screen.getByAltText("QR code of your Monero deposit address")).toBeTruthy();
    expect((screen.getByTestId("wizard-next") as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId("devnet-fund"));
    // received, not unlocked yet: still waiting
    await waitFor(() => expect(screen.getByTestId("deposit-balance").getAttribute("data-coming")).toBe("410000000000"));
    expect(screen.getByTestId("deposit-balance").textContent).toBe("Unlocked: 0.1 XMR · not unlocked yet: 0.41 XMR");
    expect(screen.getByTestId("deposit-status").textContent).toMatch(/Enough XMR is in your wallet now: waiting for it to unlock/);
    // until it covers the swap, the status never reads as arrived (the desktop test waits for "Funds arrived")
    expect(screen.getByTestId("deposit-status").textContent).not.toMatch(/arrived/i);
    expect(screen.getByTestId("deposit-status").getAttribute("data-covered")).toBe("false");
    expect((screen.getByTestId("wizard-next") as HTMLButtonElement).disabled).toBe(true);
    await waitFor(() => expect(screen.getByTestId("deposit-status").textContent).toMatch(/Funds arrived/));
    expect(screen.getByTestId("deposit-status").getAttribute("data-covered")).toBe("true");
    expect(fake.calls.find((c) => c.command === "devnet_fund")?.request).toEqual({ btc_sat: null, xmr_piconero: "410000000000" });
    fireEvent.click(screen.getByTestId("wizard-next"));
    // what is paid and got in all, with the fee estimates
    const confirm = await screen.findByTestId("wizard-confirm");
    const cell = (id: string) => within(confirm).getByTestId(id).textContent;
    expect(cell("confirm-xmr")).toBe("0.5 XMR");
    expect(cell("confirm-fee-xmr-lock")).toBe("about 0.002 XMR");
    expect(cell("confirm-pay-total")).toBe("about 0.502 XMR");
    expect(cell("confirm-btc")).toBe("0.0032 BTC");
    expect(cell("confirm-fee-btc")).toBe("Paid by the maker, not taken from your BTC");
    expect(cell("confirm-fee-btc-redeem")).toBe("about 0.000014 BTC");
    expect(cell("confirm-get-net")).toBe("about 0.003186 BTC");
    expect(cell("confirm-receive")).toBe(EXTERNAL_BTC);
    expect(cell("confirm-maker")).toBe(PEER_A);
    expect(cell("confirm-timelock")).toMatch(/cancels on its own after 60 Bitcoin blocks.*within 120 more blocks, the app takes the maker's BTC/);
    expect(cell("confirm-fee-note")).toMatch(/estimates/);
    expect(within(confirm).queryByTestId("confirm-fee-xmr-sweep")).toBeNull();
    for (const id of ["offer", "amount", "receive", "deposit"]) expect(screen.getByTestId(`wizard-step-${id}`).hasAttribute("data-completed"), id).toBe(true);
    expect(screen.getByTestId("wizard-step-confirm").getAttribute("aria-current")).toBe("step");
    fireEvent.click(screen.getByTestId("sell-submit"));
    await waitFor(() => expect(started).toHaveLength(1));
    expect(fake.calls.find((c) => c.command === "sell_xmr")?.request).toEqual({ maker: offerA.address, xmr_piconero: "500000000000", receive_address: EXTERNAL_BTC, confirmed_above_limit: false });
    expect(fake.calls.some((c) => c.command === "buy_xmr")).toBe(false);
  });

  it("skips the deposit when the unlocked XMR covers the amount and the allowance, and shows a refusal", async () => {
    const { fake } = renderWithFake(<SwapWizard side="sell" initialOffer={offerA} onStarted={() => undefined} />, {
      ...READY,
      balances: xmr("510000000000"),
      failing: { sell_xmr: { message: "The maker did not answer", next_step: "Pick another maker or try again in a minute." } },
    });
    await waitFor(() => expect(screen.getByTestId("wizard-amount").textContent).toMatch(/Your unlocked XMR: 0.51 XMR/));
    fireEvent.change(screen.getByTestId("sell-amount"), { target: { value: "0.5" } });
    expect((await screen.findByTestId("sell-btc")).textContent).toBe("0.0032 BTC");
    expect(screen.queryByTestId("sell-shortfall")).toBeNull();
    fireEvent.click(screen.getByTestId("wizard-next"));
    fireEvent.click(await screen.findByTestId("wizard-next")); // the built-in BTC wallet
    expect((await screen.findByTestId("confirm-receive")).textContent).toBe("The built-in BTC wallet");
    expect(screen.queryByTestId("wizard-step-deposit")).toBeNull();
    fireEvent.click(screen.getByTestId("sell-submit"));
    expect((await screen.findByTestId("sell-error-message")).textContent).toBe("The maker did not answer");
    expect(screen.getByTestId("sell-error-next-step").textContent).toBe("Next step: Pick another maker or try again in a minute.");
    expect(fake.calls.find((c) => c.command === "sell_xmr")?.request).toEqual({ maker: offerA.address, xmr_piconero: "500000000000", receive_address: null, confirmed_above_limit: false });
  });
});
